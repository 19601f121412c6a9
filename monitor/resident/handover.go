package resident

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// The Handover's text in $HULL_MONITOR_STATE: one field a line, its name, a
// space and its value; a list is its field repeated, in order:
//
//	exe "/usr/bin/hull"
//	arg "/usr/bin/hull"
//	arg "--root"
//	pid 4242
//	out 5
//	pending stdout "half a li"
//	engine "{\"run\":1}"
//	at 1765090800123456789
//
// Numbers are decimal (at: nanoseconds since the epoch), everything else is a Go
// string literal (strconv.Quote), so any bytes (output that is not UTF-8, a NUL)
// travel through the environment unchanged. Not JSON: encoding/json's
// reflection touched a dozen more of the heap's size classes in hull-monitor,
// which does little else, and kept 58 KiB more for as long as the container ran
// (docs/benchmarks.md, "Idle monitor memory").

// Encode is h's text.
func (h *Handover) Encode() []byte {
	b := make([]byte, 0, 1024)
	str := func(name, v string) {
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendQuote(b, v)
		b = append(b, '\n')
	}
	num := func(name string, v int64) {
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, v, 10)
		b = append(b, '\n')
	}
	str("exe", h.Exe)
	for _, a := range h.Args {
		str("arg", a)
	}
	str("id", h.ID)
	num("pid", int64(h.Pid))
	num("out", int64(h.Out))
	num("err", int64(h.Err))
	num("listener", int64(h.Listener))
	for _, fd := range h.Keep {
		num("keep", int64(fd))
	}
	for _, fd := range h.Clients {
		num("client", int64(fd))
	}
	str("logPath", h.LogPath)
	for _, o := range h.LogOpts {
		str("logOpt", o)
	}
	for _, stream := range []string{"stdout", "stderr"} {
		if p, ok := h.Pending[stream]; ok {
			str("pending "+stream, string(p))
		}
	}
	for _, kv := range h.Environ {
		str("env", kv)
	}
	if h.Engine != nil {
		str("engine", string(h.Engine))
	}
	if h.Reason != "" {
		str("reason", h.Reason)
	}
	if h.Code != 0 {
		num("code", int64(h.Code))
	}
	if !h.At.IsZero() {
		num("at", h.At.UnixNano())
	}
	return b
}

// LegacyJSON, when set, reads the JSON form of the Handover that hull wrote
// before the text form: a resident started by an older hull wakes the engine's
// monitor of the newer one after an upgrade, with its container's end in that
// form. The engine's monitor sets it (it has encoding/json anyway); hull-monitor
// leaves it nil, so the resident keeps no JSON code in its pages.
var LegacyJSON func(text string) (*Handover, error)

// ParseHandover reads a Handover's text (Encode's), or its older JSON form
// where LegacyJSON is set.
func ParseHandover(text string) (*Handover, error) {
	if strings.HasPrefix(text, "{") {
		if LegacyJSON == nil {
			return nil, errors.New("state in the JSON form of an older hull, which this program does not read")
		}
		return LegacyJSON(text)
	}
	h := &Handover{Out: -1, Err: -1, Listener: -1}
	for n := 1; text != ""; n++ {
		line, rest, ok := strings.Cut(text, "\n")
		if !ok {
			return nil, errors.New("line " + strconv.Itoa(n) + ": no newline at the end")
		}
		text = rest
		if err := h.parseField(line); err != nil {
			return nil, errors.New("line " + strconv.Itoa(n) + ": " + err.Error())
		}
	}
	return h, nil
}

func (h *Handover) parseField(line string) error {
	name, v, _ := strings.Cut(line, " ")
	str := func() (string, error) {
		s, err := strconv.Unquote(v)
		if err != nil {
			return "", errors.New(name + ": want a quoted string")
		}
		return s, nil
	}
	num := func() (int64, error) {
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, errors.New(name + ": want a number")
		}
		return i, nil
	}
	var err error
	var s string
	var i int64
	switch name {
	case "exe", "arg", "id", "logPath", "logOpt", "env", "engine", "reason":
		if s, err = str(); err != nil {
			return err
		}
	case "pid", "out", "err", "listener", "keep", "client", "code", "at":
		if i, err = num(); err != nil {
			return err
		}
	case "pending":
		stream, q, _ := strings.Cut(v, " ")
		if stream != "stdout" && stream != "stderr" {
			return errors.New("pending: unknown stream " + strconv.Quote(stream))
		}
		if v = q; v == "" {
			return errors.New("pending: want a stream and a quoted string")
		}
		if s, err = str(); err != nil {
			return err
		}
		if h.Pending == nil {
			h.Pending = map[string][]byte{}
		}
		h.Pending[stream] = []byte(s)
		return nil
	default:
		return errors.New("unknown field " + strconv.Quote(name))
	}
	switch name {
	case "exe":
		h.Exe = s
	case "arg":
		h.Args = append(h.Args, s)
	case "id":
		h.ID = s
	case "logPath":
		h.LogPath = s
	case "logOpt":
		h.LogOpts = append(h.LogOpts, s)
	case "env":
		h.Environ = append(h.Environ, s)
	case "engine":
		h.Engine = []byte(s)
	case "reason":
		h.Reason = s
	case "pid":
		h.Pid = int(i)
	case "out":
		h.Out = int(i)
	case "err":
		h.Err = int(i)
	case "listener":
		h.Listener = int(i)
	case "keep":
		h.Keep = append(h.Keep, int(i))
	case "client":
		h.Clients = append(h.Clients, int(i))
	case "code":
		h.Code = int(i)
	case "at":
		h.At = time.Unix(0, i).UTC()
	}
	return nil
}
