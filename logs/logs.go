// Package logs is a container's log file in Docker's json-file format: one JSON object
// per line,
//
//	{"log":"hello\n","stream":"stdout","time":"2026-11-28T16:40:00.123456789Z"}
//
// with rotation by size (max-size, max-file: <name>, <name>.1, ... <name>.N-1, oldest
// last) and readers that tail, filter by time and follow across rotations.
//
// A Writer is used by one process (the container's monitor); readers are other
// processes and never lock: they see whole lines because every entry is written
// with a single write(2) to a file opened O_APPEND.
package logs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxLine is the longest piece of a line kept in one entry; a longer line is split
// into several entries, only the last of which ends in "\n" (Docker splits at 16 KiB
// too). It bounds the memory a copy needs whatever the container writes.
const MaxLine = 16 * 1024

// Entry is one line of the log.
type Entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// Options are the json-file driver's options.
type Options struct {
	MaxSize int64 // rotate when the file would grow past this many bytes; 0: never
	MaxFile int   // files kept, the current one included (at least 1)
}

// ParseOptions reads Docker's --log-opt values: max-size=10m (k, m, g suffixes) and
// max-file=3.
func ParseOptions(opts []string) (Options, error) {
	o := Options{MaxFile: 1}
	for _, kv := range opts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("log option %q: want key=value", kv)
		}
		switch k {
		case "max-size":
			n, err := ParseSize(v)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("log option max-size=%s: want a positive size like 10m", v)
			}
			o.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, fmt.Errorf("log option max-file=%s: want a positive number", v)
			}
			o.MaxFile = n
		default:
			return o, fmt.Errorf("unknown log option %q", k)
		}
	}
	return o, nil
}

// ParseSize parses 512, 10k, 10kb, 64m, 1g (binary units, as Docker's go-units RAMInBytes).
func ParseSize(s string) (int64, error) {
	num := strings.ToLower(strings.TrimSpace(s))
	if len(num) > 2 && strings.HasSuffix(num, "b") && strings.ContainsAny(num[len(num)-2:len(num)-1], "kmg") {
		num = num[:len(num)-1]
	}
	mult := int64(1)
	switch {
	case strings.HasSuffix(num, "k"):
		mult = 1 << 10
	case strings.HasSuffix(num, "m"):
		mult = 1 << 20
	case strings.HasSuffix(num, "g"):
		mult = 1 << 30
	case strings.HasSuffix(num, "b"):
	}
	num = strings.TrimRight(num, "kmgb")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(n * float64(mult)), nil
}

// Writer appends entries to a log file and rotates it.
type Writer struct {
	mu   sync.Mutex
	path string
	opt  Options
	f    *os.File
	size int64
	buf  []byte // the entry being written
}

// Create opens (creating) the log file at path for appending.
func Create(path string, o Options) (*Writer, error) {
	if o.MaxFile < 1 {
		o.MaxFile = 1
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{path: path, opt: o, f: f, size: st.Size()}, nil
}

// Write appends one entry.
func (w *Writer) Write(e Entry) error {
	return w.write(e.Stream, []byte(e.Log), e.Time)
}

// write appends one entry, encoded into the writer's own buffer: a monitor logs
// every line of its container, and that must not make garbage per line.
func (w *Writer) write(stream string, log []byte, t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return errors.New("log closed")
	}
	w.buf = appendEntry(w.buf[:0], stream, log, t)
	if w.opt.MaxSize > 0 && w.size > 0 && w.size+int64(len(w.buf)) > w.opt.MaxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if cap(w.buf) > 4*MaxLine {
		w.buf = nil // one odd entry does not keep a big buffer
	}
	return err
}

// appendEntry appends e's line in the json-file format: the JSON encoding/json
// gives Entry, and a newline.
func appendEntry(b []byte, stream string, log []byte, t time.Time) []byte {
	b = append(b, `{"log":`...)
	b = appendString(b, log)
	b = append(b, `,"stream":`...)
	b = appendString(b, []byte(stream))
	b = append(b, `,"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n"...)
}

// appendString appends s as a JSON string, escaped as encoding/json escapes it
// (HTML-safe, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD).
func appendString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// rotate shifts name.N-2 → name.N-1 ... name → name.1 and starts name afresh; with
// max-file 1 the file is truncated instead.
func (w *Writer) rotate() error {
	if w.opt.MaxFile == 1 {
		if err := w.f.Truncate(0); err != nil {
			return fmt.Errorf("truncate log: %w", err)
		}
		w.size = 0
		return nil
	}
	w.f.Close()
	w.f = nil
	os.Remove(w.path + "." + strconv.Itoa(w.opt.MaxFile-1))
	for i := w.opt.MaxFile - 2; i >= 1; i-- {
		os.Rename(w.path+"."+strconv.Itoa(i), w.path+"."+strconv.Itoa(i+1))
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	w.f, w.size = f, 0
	return nil
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// Copy reads r to EOF and logs every line as stream ("stdout" or "stderr"); a last
// line without newline is logged as it is. Each chunk read is also written to tee
// if tee is not nil (a write error there stops the tee, not the log). Memory is
// bounded by MaxLine whatever r sends.
func (w *Writer) Copy(stream string, r io.Reader, tee io.Writer) error {
	_, err := w.CopyFrom(stream, r, tee, nil)
	return err
}

// CopyFrom is Copy for output whose start, pending, was read before but not
// logged yet (no newline came). Read deadlines end it early without logging the
// line in progress: it returns that line's bytes as rest, for whoever reads on,
// so a line is never split by a change of reader (a monitor handing over).
func (w *Writer) CopyFrom(stream string, r io.Reader, tee io.Writer, pending []byte) (rest []byte, werr error) {
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(pending), r), MaxLine)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return append([]byte(nil), line...), werr
		}
		if len(line) > 0 {
			if tee != nil {
				if _, terr := tee.Write(line); terr != nil {
					tee = nil
				}
			}
			if e := w.write(stream, line, time.Now().UTC()); e != nil && werr == nil {
				werr = e
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			// io.EOF; EIO from a pty whose other side closed is its EOF
			return nil, werr
		}
	}
}
