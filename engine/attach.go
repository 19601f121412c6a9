package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/hullproject/hull/monitor"
	"golang.org/x/sys/unix"
)

// A container's monitor serves attach on <state>/containers/<id>/attach, a
// SOCK_SEQPACKET unix socket speaking the protocol of monitor/attach.go. The path is
// reached through /proc/self/fd/N of the directory, as conmon does: a long --state
// would push it past the 108 bytes of sun_path.
func (e *Engine) attachSocket(id string) string { return filepath.Join(e.stateDir(id), "attach") }

// inDir runs fn with a short path standing for dir/name.
func inDir(dir, name string, fn func(path string) error) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn("/proc/self/fd/" + strconv.Itoa(fd) + "/" + name)
}

// listenAttach makes the container's attach socket (the monitor's).
func (e *Engine) listenAttach(id string) (*net.UnixListener, error) {
	if err := os.MkdirAll(e.stateDir(id), 0o711); err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	os.Remove(e.attachSocket(id)) // left by a monitor that was killed
	var l *net.UnixListener
	err := inDir(e.stateDir(id), "attach", func(path string) (err error) {
		l, err = net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	// Go would unlink the /proc/self/fd path on Close, by then another file.
	l.SetUnlinkOnClose(false)
	os.Chmod(e.attachSocket(id), 0o600)
	return l, nil
}

// Session is a client of a container's monitor: `hull attach`, or the command that
// started the container in the foreground (a Handle).
type Session struct {
	conn *net.UnixConn
	buf  []byte
}

// Attach connects to a running container's monitor. Its output flows from the
// moment of the call; nothing of the past is replayed (see `hull logs`).
func (e *Engine) Attach(ref string) (*Session, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	switch c.State.Status {
	case StatusRunning, StatusPaused:
	case StatusRestarting:
		return nil, fmt.Errorf("cannot attach to container %s: it is restarting, wait until it runs", c.Name)
	default:
		return nil, fmt.Errorf("cannot attach to container %s: it is not running, start it first", c.Name)
	}
	var conn *net.UnixConn
	err = inDir(e.stateDir(c.ID), "attach", func(path string) (err error) {
		conn, err = net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot attach to container %s: its monitor does not answer: %w", c.Name, err)
	}
	return &Session{conn: conn}, nil
}

func (s *Session) send(typ byte, p []byte) error { return monitor.Send(s.conn, typ, p) }

// Write sends input to the container (its stdin or its terminal).
func (s *Session) Write(p []byte) (int, error) {
	for n := 0; n < len(p); {
		chunk := p[n:min(len(p), n+monitor.MaxMsg)]
		if err := s.send(monitor.MsgStdin, chunk); err != nil {
			return n, err
		}
		n += len(chunk)
	}
	return len(p), nil
}

// CloseInput tells that the input ended; for the starter of a container created
// with -i, the container's stdin closes.
func (s *Session) CloseInput() error { return s.send(monitor.MsgCloseStdin, nil) }

// Resize sets the window size of the container's terminal.
func (s *Session) Resize(rows, cols uint16) error {
	p := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, rows), cols)
	return s.send(monitor.MsgResize, p)
}

// Signal sends sig to the container's init.
func (s *Session) Signal(sig unix.Signal) error {
	return s.send(monitor.MsgSignal, []byte{byte(sig)})
}

// Close leaves the container (detach): it runs on.
func (s *Session) Close() error { return s.conn.Close() }

// errMonitorGone: the connection ended without an exit message.
var errMonitorGone = errors.New("the container's monitor died before the container ended")

// next copies output until a control message, which it returns.
func (s *Session) next(stdout, stderr io.Writer) (monitor.Control, error) {
	if s.buf == nil {
		s.buf = make([]byte, monitor.MaxMsg+1)
	}
	for {
		n, err := s.conn.Read(s.buf)
		if err != nil || n == 0 {
			return monitor.Control{}, errMonitorGone
		}
		p := s.buf[1:n]
		switch s.buf[0] {
		case monitor.MsgStdout:
			if stdout != nil {
				stdout.Write(p)
			}
		case monitor.MsgStderr:
			if stderr != nil {
				stderr.Write(p)
			}
		case monitor.MsgControl:
			var m monitor.Control
			if err := json.Unmarshal(p, &m); err != nil {
				return m, fmt.Errorf("message from the monitor: %w", err)
			}
			return m, nil
		}
	}
}

// Wait copies the container's output to stdout and stderr (with a terminal all of
// it goes to stdout) until it ends, and returns its exit code.
func (s *Session) Wait(stdout, stderr io.Writer) (int, error) {
	for {
		m, err := s.next(stdout, stderr)
		if err != nil {
			return -1, err
		}
		switch {
		case m.Exit != nil:
			return *m.Exit, nil
		case m.Error != "":
			return -1, &StartError{Code: m.Code, Msg: m.Error}
		}
	}
}

// DefaultDetachKeys are docker's: ctrl-p, ctrl-q.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ParseDetachKeys parses docker's detach keys (--detach-keys; the Docker API's
// detachKeys and ExecConfig.DetachKeys): comma-separated keys, each a character
// or ctrl-X (X a letter or one of @[\]^_); "" is DefaultDetachKeys.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		s = DefaultDetachKeys
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				keys = append(keys, c-'A'+1)
			case strings.IndexByte("@[\\]^_", c) >= 0:
				keys = append(keys, c-'@')
			default:
				return nil, fmt.Errorf("invalid detach key %q", k)
			}
		default:
			return nil, fmt.Errorf("invalid detach key %q: want a character or ctrl-X", k)
		}
	}
	return keys, nil
}

// An attach that comes before the start: docker's run and start -a ask the Docker
// API to attach to the container, then to start it, and must see its output from
// the first byte (and, with -i, close its stdin at the end of their input), as the
// starter of a foreground start does. AttachNext makes such a client the starter of
// the container's next Start without an Attach of its own (the API's start): that
// start forks the monitor attached, with the client's Attach, and hands the Handle
// to it. Clients wait in this process: the start must be asked of the same one (the
// service's engine).
var pendingAttach sync.Map // state directory of the container → *PendingAttach

// PendingAttach is a client waiting for a container's next start.
type PendingAttach struct {
	key string
	a   *Attach
	ch  chan *Handle // the start's Handle; nil if the start failed
}

// AttachNext registers a as the starter of container ref's next start. One
// client waits at a time: the last one. One that came before is told its wait
// ended (a nil Handle): it may have gone unseen (a client that left before the
// start), and must not keep the next from attaching.
func (e *Engine) AttachNext(ref string, a *Attach) (*PendingAttach, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	p := &PendingAttach{key: e.stateDir(c.ID), a: a, ch: make(chan *Handle, 1)}
	if old, loaded := pendingAttach.Swap(p.key, p); loaded {
		select {
		case old.(*PendingAttach).ch <- nil:
		default:
		}
	}
	return p, nil
}

// Started is ready with the Handle of the start (its Session the starter's
// connection, Wait the container's output until its exit), or nil if the start
// failed or another client took the wait over.
func (p *PendingAttach) Started() <-chan *Handle { return p.ch }

// Cancel withdraws the client; a start that has happened meanwhile is detached
// from (the container runs on).
func (p *PendingAttach) Cancel() {
	pendingAttach.CompareAndDelete(p.key, p)
	select {
	case h := <-p.ch:
		if h != nil {
			h.Close()
		}
	default:
	}
}

// takePending is the client waiting for container id's start, if any.
func (e *Engine) takePending(id string) *PendingAttach {
	if v, ok := pendingAttach.LoadAndDelete(e.stateDir(id)); ok {
		return v.(*PendingAttach)
	}
	return nil
}
