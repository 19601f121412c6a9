package runtime

// The parent (hullrt create/run/exec) and the child it starts talk over one
// SOCK_SEQPACKET socket pair, one JSON message per packet, so a message never arrives
// split or glued to the next. The child finds its end at the fd number given in the
// _HULL_INIT variable. The exchange for a new container:
//
//	parent                                  child (init)
//	  start child with Cloneflags for the new namespaces
//	                                          (rootless: waits in nsenter until
//	  write its id maps, release it ──────►    its id maps are written)
//	  join the cgroup, set oom_score_adj
//	  ── msgMount{index} + mount fd ──────►  (each id-mapped mount, made here)
//	  ── msgBootstrap{bootstrap} ─────────►
//	                                          unshare cgroup ns; mounts, devices,
//	                                          sysctls, console (pty inside the rootfs)
//	  ◄──────────── msgConsole + pty master ── (only with a terminal)
//	  ◄──────────────────────── msgHooks ──── (only when hooks must run here)
//	  run prestart, createRuntime hooks
//	  ── msgHooksDone ────────────────────►
//	                                          createContainer hooks (container's
//	                                          namespaces, runtime's paths)
//	                                          masks, read-only paths, pivot_root,
//	                                          hostname, look up the program
//	  ◄──────────── msgSeccomp + notify fd ── (only with a NOTIFY action: the
//	  hand it to linux.seccomp.listenerPath     filter is loaded here, before ready)
//	  ◄──────────────────────── msgReady ────
//	  ◄───────────────────────────── EOF ────  close the channel
//	  write state, exit                       block opening exec.fifo for writing
//
// `hullrt start` (a later process) and init then meet at exec.fifo, a byte stream:
//
//	start                                   init
//	  open exec.fifo for reading,
//	  without blocking ───────────────────►  its open returns; write "0" and keep
//	  read the "0" (up to 10 s, or init         the write end, close-on-exec
//	  died); remove exec.fifo: running
//	                                          startContainer hooks, descriptors
//	                                          marked close-on-exec, user, caps,
//	                                          no_new_privs, seccomp, execve
//	  read to EOF ◄──────────────── EOF ────  execve (or death) closes the write end
//	              ◄─ msgError{error,kind} ──  or, on failure: the error, then exit 1
//	  EOF alone: the program runs; run the    (one JSON message, as on the socket)
//	  poststart hooks. msgError: wait until
//	  init is gone (stopped), fail with it.
//
// Nothing bounds the second wait but init itself: it lasts as long as the
// startContainer hooks (each with its own timeout, if the spec gives one). If start
// is gone by then, init's write fails (EPIPE: Go raises no SIGPIPE for such a
// descriptor) and the error goes to the container's stderr; the exit status of
// init tells the rest. The error is cut to fifoErrorMax bytes, so that it fits
// the pipe's buffer and the write never blocks on a reader that stopped reading.
//
// For exec the child has already joined the container's namespaces in nsenter's
// constructor (rootless, where a pid namespace is joined, its intermediate sends
// msgPid{pid} first and exits, and that pid goes on as the exec'd process); it gets msgBootstrap, may send msgConsole, and sends msgReady just
// before execve (the socket is close-on-exec, so the parent sees EOF next).
// Any failure in the child is sent as msgError{Error, Kind} and the child exits; the
// parent reports that error as its own. EOF before msgReady means the child died.
//
// An error's kind (errkind.go) says whether the process's program (or its working
// directory) was not found or cannot be executed; it is left out for any other
// failure. The parent's error has init's text exactly, and errors.Is finds the kind's
// sentinel (ErrNotFound, ErrNotExecutable) in it: no caller reads a kind from text.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/runtime/seccomp"
)

type msgType string

const (
	msgBootstrap msgType = "bootstrap"
	msgConsole   msgType = "console"
	msgHooks     msgType = "hooks"
	msgHooksDone msgType = "hooks-done"
	msgSeccomp   msgType = "seccomp"
	msgMount     msgType = "mount"
	msgPid       msgType = "pid"
	msgReady     msgType = "ready"
	msgError     msgType = "error"
)

type message struct {
	Type  msgType   `json:"type"`
	Error string    `json:"error,omitempty"`
	Kind  errorKind `json:"kind,omitempty"` // msgError: what the error means to the caller (errkind.go)
	// Errno (msgError, from the C init: cinit.go) is the failed call's errno:
	// the error is Error, ": ", and the errno's text, as Go's %w would write it.
	Errno     int        `json:"errno,omitempty"`
	Bootstrap *bootstrap `json:"bootstrap,omitempty"`
	Index     int        `json:"index,omitempty"` // msgMount: the mount's index in bootstrap.Mounts
	Pid       int        `json:"pid,omitempty"`   // msgPid: the process that goes on after nsenter forked
	// SentAt (Unix ns) is when init sent msgReady, when it traces: the parent's
	// record of its wait for the message starts there.
	SentAt int64 `json:"sentAt,omitempty"`
}

// bootstrap is everything the child needs that is not in its namespaces already.
type bootstrap struct {
	Exec         bool          `json:"exec,omitempty"` // an exec'd process, not init
	ID           string        `json:"id"`
	Spec         *specs.Spec   `json:"spec"`
	Process      specs.Process `json:"process"`
	Rootfs       string        `json:"rootfs"`
	Bundle       string        `json:"bundle"`
	Pid          int           `json:"pid"` // the child's pid as the host sees it
	NoPivot      bool          `json:"noPivot,omitempty"`
	NoNewKeyring bool          `json:"noNewKeyring,omitempty"`
	PreserveFds  int           `json:"preserveFds,omitempty"`
	FifoFd       int           `json:"fifoFd,omitempty"`
	NewCgroupNS  bool          `json:"newCgroupNS,omitempty"`
	NewTimeNS    bool          `json:"newTimeNS,omitempty"`
	UserNS       bool          `json:"userNS,omitempty"` // in a user namespace: devices are bind-mounted
	Hooks        bool          `json:"hooks,omitempty"`  // stop for msgHooks before pivot_root
	Mounts       []specs.Mount `json:"mounts"`           // the spec's mounts, expanded (cgroup) and with absolute sources
	// trees are the id-mapped mounts (by index in Mounts) the parent made, received
	// as msgMount before the bootstrap.
	trees map[int]int

	// When tracing (internal/trace): the trace's descriptor, and when the parent
	// sent this message (Unix ns), which starts init's first record.
	TraceFd int   `json:"traceFd,omitempty"`
	SentAt  int64 `json:"sentAt,omitempty"`
	// tr traces the child's steps into TraceFd (nil: off).
	tr *trace.Tracer
	// filter is Spec's seccomp program, compiled by validate (nil: compile it).
	filter *seccomp.Filter
}

// channel is one end of the socket pair.
type channel struct{ f *os.File }

func newChannelPair() (parent, child *channel, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return &channel{os.NewFile(uintptr(fds[0]), "sync-parent")}, &channel{os.NewFile(uintptr(fds[1]), "sync-child")}, nil
}

func (c *channel) send(m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = c.f.Write(b)
	return err
}

// sendFd sends a message with one file descriptor attached.
func (c *channel) sendFd(m message, fd int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return unix.Sendmsg(int(c.f.Fd()), b, unix.UnixRights(fd), nil, 0)
}

var errEOF = errors.New("the other side closed the channel")

// recv reads one message, and the file descriptor attached to it if any (-1 if none).
func (c *channel) recv() (message, int, error) {
	var m message
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(c.f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return m, -1, err
		}
		if n == 0 && oobn == 0 {
			return m, -1, errEOF
		}
		fd := -1
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err == nil && len(msgs) > 0 {
				if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) > 0 {
					fd = fds[0]
				}
			}
		}
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			return m, fd, fmt.Errorf("bad message from the other side: %w", err)
		}
		return m, fd, nil
	}
}

func (c *channel) close() { c.f.Close() }

// errorMessage is the msgError that reports err, with its kind.
func errorMessage(err error) message {
	return message{Type: msgError, Error: err.Error(), Kind: kindOf(err)}
}

// err is the error a msgError reports: its text, and its kind for errors.Is.
func (m message) err() error {
	if m.Errno > 0 {
		return withKind(fmt.Errorf("%s: %w", m.Error, unix.Errno(m.Errno)), m.Kind)
	}
	return withKind(errors.New(m.Error), m.Kind)
}

// fifoErrorMax bounds the error init writes into exec.fifo: one page, far below a
// pipe's buffer (64 KiB; at least one page even when the pipe-user-pages limits
// shrink it), so the write completes without a reader's help.
const fifoErrorMax = 4000

// encodeFifoError is what init writes into exec.fifo when it fails after start.
func encodeFifoError(err error) []byte {
	m := errorMessage(err)
	if len(m.Error) > fifoErrorMax {
		m.Error = m.Error[:fifoErrorMax]
	}
	b, _ := json.Marshal(m)
	return b
}

// parseFifo reads what init wrote into exec.fifo after its "0": nothing when it
// exec'd the program, or its error.
func parseFifo(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var m message
	if err := json.Unmarshal(data, &m); err != nil || m.Type != msgError {
		return fmt.Errorf("bad message from init in exec fifo: %q", data)
	}
	return m.err()
}
