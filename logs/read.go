package logs

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"time"
)

// ReadOptions select what Read hands out.
type ReadOptions struct {
	Tail  int       // only the last Tail entries; < 0 for all
	Since time.Time // only entries at or after Since; zero for all
	// Follow keeps reading as the file grows (and across rotations) until Done
	// reports true and the file has been read to its end.
	Follow bool
	Done   func() bool
}

// Read calls fn for each entry of the log at path (and its rotated files, oldest
// first). A damaged line is skipped. Memory is bounded by Tail entries.
func Read(path string, o ReadOptions, fn func(Entry) error) error {
	files := rotated(path)
	keep := func(e Entry) bool { return o.Since.IsZero() || !e.Time.Before(o.Since) }
	var cur *os.File
	var br *reader
	if o.Tail >= 0 {
		// A ring of the last Tail entries over every file.
		ring := make([]Entry, 0, min(o.Tail, 1024))
		for i, name := range files {
			f, err := os.Open(name)
			if err != nil {
				continue
			}
			r := newReader(f)
			for {
				e, err := r.next()
				if err != nil {
					break
				}
				if !keep(e) || o.Tail == 0 {
					continue
				}
				if len(ring) == o.Tail {
					copy(ring, ring[1:])
					ring = ring[:len(ring)-1]
				}
				ring = append(ring, e)
			}
			if i == len(files)-1 {
				cur, br = f, r
			} else {
				f.Close()
			}
		}
		for _, e := range ring {
			if err := fn(e); err != nil {
				if cur != nil {
					cur.Close()
				}
				return err
			}
		}
	} else {
		for i, name := range files {
			f, err := os.Open(name)
			if err != nil {
				continue
			}
			r := newReader(f)
			if err := each(r, keep, fn); err != nil {
				f.Close()
				return err
			}
			if i == len(files)-1 {
				cur, br = f, r
			} else {
				f.Close()
			}
		}
	}
	if !o.Follow {
		if cur != nil {
			cur.Close()
		}
		return nil
	}
	return follow(path, cur, br, o, keep, fn)
}

// follow polls the file: cheap, and needs no inotify instance per reader. A rename
// (rotation) is noticed as a different inode at path; the rest of the old file is
// read first.
func follow(path string, cur *os.File, br *reader, o ReadOptions, keep func(Entry) bool, fn func(Entry) error) error {
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	for {
		done := o.Done == nil || o.Done()
		if cur == nil {
			f, err := os.Open(path)
			if err == nil {
				cur, br = f, newReader(f)
			}
		}
		if cur != nil {
			if err := each(br, keep, fn); err != nil {
				return err
			}
			// Rotated: finish the old file, then go on with the new one.
			if st, err := os.Stat(path); err == nil {
				if old, err := cur.Stat(); err == nil && !os.SameFile(st, old) {
					if err := each(br, keep, fn); err != nil {
						return err
					}
					cur.Close()
					cur = nil
					continue
				}
			}
		}
		if done {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// each hands out every whole line r holds now; a partial last line is left for the
// next call.
func each(r *reader, keep func(Entry) bool, fn func(Entry) error) error {
	for {
		e, err := r.next()
		if err != nil {
			return nil
		}
		if keep(e) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}

// reader reads entries from a file that may be growing: a partial last line is
// read again, whole, on a later call.
type reader struct {
	f   *os.File
	r   *bufio.Reader
	off int64 // offset of the first byte r has not handed out as a whole line
}

func newReader(f *os.File) *reader { return &reader{f: f, r: bufio.NewReaderSize(f, 64*1024)} }

// next returns the next whole entry, io.EOF at the end (or a partial line).
func (rd *reader) next() (Entry, error) {
	for {
		line, err := rd.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Longer than any entry hull writes: skip it.
			n := int64(len(line))
			for err == bufio.ErrBufferFull {
				line, err = rd.r.ReadSlice('\n')
				n += int64(len(line))
			}
			if err != nil {
				rd.rewind()
				return Entry{}, io.EOF
			}
			rd.off += n
			continue
		}
		if err != nil {
			if len(line) > 0 {
				rd.rewind()
			}
			return Entry{}, io.EOF
		}
		rd.off += int64(len(line))
		var e Entry
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		return e, nil
	}
}

// rewind moves back to the start of a partial line so it is read whole later.
func (rd *reader) rewind() {
	rd.f.Seek(rd.off, io.SeekStart)
	rd.r.Reset(rd.f)
}

// rotated lists path's files, oldest first: path.N ... path.1, path.
func rotated(path string) []string {
	var out []string
	for i := 1; ; i++ {
		if _, err := os.Stat(path + "." + strconv.Itoa(i)); err != nil {
			break
		}
		out = append([]string{path + "." + strconv.Itoa(i)}, out...)
	}
	return append(out, path)
}
