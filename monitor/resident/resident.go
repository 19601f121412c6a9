// Package resident is what a container's monitor keeps of itself while the
// container runs and nobody is attached: the monitor (the engine's binary, with
// everything it needs to create, start, restart, health-check and tear down a
// container) execs hull-monitor, a small program built from this package, in its
// own place. Same process, same pid and start time (so the records stay true),
// still the container's subreaper and its parent, holding the same descriptors;
// but a few hundred KB instead of a few MB, conmon's size.
//
// The resident logs the container's output, reaps its init and every orphan, and
// accepts attach clients. It execs the engine's monitor again (Wake) when there is
// work only that can do: the container ended (Reason "exited", with its code), or
// a client attached (Reason "attach", with the client's connection).
//
// What crosses each exec is a Handover, as text in the environment, and the
// descriptors it names, inherited (their close-on-exec flag cleared). Output read
// but not logged yet (a line without its newline) travels in Pending, so the log
// never splits a line because its reader changed.
package resident

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/logs"
	"golang.org/x/sys/unix"
)

// Env is the environment variable a Handover travels in.
const Env = "HULL_MONITOR_STATE"

// Reasons for waking the engine's monitor.
const (
	ReasonExited = "exited"
	ReasonAttach = "attach"
)

// Handover is what the two forms of the monitor hand each other (its text:
// Encode, ParseHandover).
type Handover struct {
	// Exe and Args are the engine's monitor: the command Wake execs, with the
	// Handover in Env.
	Exe  string
	Args []string
	ID   string
	Pid  int // the container's init, a child of this process
	// Out and Err are the container's stdout and stderr (a pty master: Out, and
	// Err is -1). Listener is the attach socket. Keep are descriptors the
	// resident only holds for the engine (the container's stdin pipe).
	Out      int
	Err      int
	Listener int
	Keep     []int
	// Clients are attach connections the resident accepted (Reason "attach").
	Clients []int
	LogPath string
	LogOpts []string
	// Pending is output read but not logged: "stdout" and "stderr".
	Pending map[string][]byte
	// Environ is the engine monitor's environment, given back to it on waking.
	Environ []string
	// Engine is the engine monitor's own state, passed through untouched.
	Engine []byte
	Reason string
	Code   int       // init's exit code (Reason "exited")
	At     time.Time // when it exited
}

// Exec replaces the calling process with exe (args[0] first), handing s over.
// Only the descriptors s names stay open. The environment is env and the state,
// nothing else, when env is given (hull-monitor: it reads nothing else, and an
// environment stays in a process's memory for as long as it runs); without env,
// it is s.Environ (or this process's, if that is empty).
// It returns only on failure, and then every descriptor is as it was.
func Exec(exe string, args []string, s *Handover, env ...string) error {
	data := s.Encode()
	fds := append([]int{s.Out, s.Err, s.Listener}, s.Keep...)
	fds = append(fds, s.Clients...)
	var cleared []int
	defer func() {
		for _, fd := range cleared {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}()
	for _, fd := range fds {
		if fd < 0 {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("hand over fd %d: %w", fd, err)
		}
		cleared = append(cleared, fd)
	}
	state := Env + "=" + string(data)
	if len(env) > 0 {
		env = append(slices.Clip(env), state)
	} else {
		base := s.Environ
		if len(base) == 0 {
			base = os.Environ()
		}
		env = []string{state}
		for _, kv := range base {
			if !strings.HasPrefix(kv, Env+"=") {
				env = append(env, kv)
			}
		}
	}
	// Go threads may be in the middle of anything: execve takes them all down.
	return syscall.Exec(exe, args, env)
}

// ResidentEnv is the environment hull-monitor is started with (and its state):
// one P from the start (every P keeps a cache of heap spans and wants
// a thread); GOMAXPROCS not derived from the cgroup's CPU limit, which would
// hold two cgroup files open for good and re-read them; no profiler's stack
// buffers (profstackdepth=0: two 1 KiB buffers for each of its three threads,
// for profiles nobody takes); and, for a chatty container, a GC once the heap
// reaches 2 MB rather than Go's floor of 4 MB.
var ResidentEnv = []string{"GOMAXPROCS=1", "GODEBUG=containermaxprocs=0,updatemaxprocs=0,profstackdepth=0", "GOGC=50"}

// Load reads the Handover handed over to this process, and removes it from the
// environment so children do not inherit it.
func Load() (*Handover, error) {
	data, ok := os.LookupEnv(Env)
	if !ok {
		return nil, errors.New("no monitor state in $" + Env)
	}
	os.Unsetenv(Env)
	s, err := ParseHandover(data)
	if err != nil {
		return nil, fmt.Errorf("monitor state: %w", err)
	}
	for _, fd := range append(append([]int{s.Out, s.Err, s.Listener}, s.Keep...), s.Clients...) {
		if fd >= 0 {
			// Ours now; nothing we start inherits them.
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
	return s, nil
}

// DrainTimeout bounds the wait for the container's output to end after its init
// exited: a process that escaped its pid namespace but kept the pipe must not
// hold the monitor forever.
const DrainTimeout = 2 * time.Second

// Serve is the resident monitor: it runs until the engine's monitor must take
// over, and then execs it (it returns only if that fails).
func Serve(s *Handover) error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	// init's pidfd polls readable when it exits: no signal handling (which
	// costs Go a thread of its own). SIGUSR1, the engine's "read your record
	// again", means nothing while the container runs, and Go ignores it.
	pidfd, err := unix.PidfdOpen(s.Pid, 0)
	if err != nil {
		return fmt.Errorf("watch the container's init: %w", err)
	}
	ended := make(chan struct{})
	go waitReadable(File(pidfd, "pidfd"), ended)
	lw, err := logs.Create(s.LogPath, mustOptions(s.LogOpts))
	if err != nil {
		return err
	}
	type pump struct {
		stream string
		f      *os.File
		rest   []byte
		done   chan struct{}
	}
	pumps := map[string]*pump{}
	for stream, fd := range map[string]int{"stdout": s.Out, "stderr": s.Err} {
		if fd < 0 {
			continue
		}
		p := &pump{stream: stream, f: File(fd, stream), done: make(chan struct{})}
		pumps[stream] = p
		pending := s.Pending[stream]
		go func() {
			defer close(p.done)
			p.rest, _ = lw.CopyFrom(stream, p.f, nil, pending)
		}()
	}
	s.Pending = nil
	clients := make(chan int, 1)
	if s.Listener >= 0 {
		go accept(File(s.Listener, "attach"), clients)
	}
	select {
	case <-ended:
	case fd := <-clients:
		// Stop reading where the output stands; the engine reads on.
		s.Pending = map[string][]byte{}
		for stream, p := range pumps {
			p.f.SetReadDeadline(time.Now())
			<-p.done
			if len(p.rest) > 0 {
				s.Pending[stream] = p.rest
			}
		}
		lw.Close()
		s.Clients, s.Reason = []int{fd}, ReasonAttach
		return Exec(s.Exe, s.Args, s)
	}
	code := reap(s.Pid)
	s.Reason, s.Code, s.At = ReasonExited, code, time.Now().UTC()
	deadline := time.After(DrainTimeout)
	for _, p := range pumps {
		select {
		case <-p.done:
		case <-deadline:
			p.f.SetReadDeadline(time.Now())
			<-p.done
			if len(p.rest) > 0 {
				lw.Write(logs.Entry{Log: string(p.rest), Stream: p.stream, Time: time.Now().UTC()})
			}
		}
	}
	for _, p := range pumps {
		p.f.Close()
	}
	s.Out, s.Err = -1, -1
	lw.Close()
	return Exec(s.Exe, s.Args, s)
}

// File makes a handed-over descriptor an *os.File that waits in Go's poller, so
// reads can be given deadlines.
func File(fd int, name string) *os.File {
	unix.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), name)
}

// Fd is f's descriptor, left in the mode it is in (os.File.Fd makes it blocking).
func Fd(f *os.File) int {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}

func mustOptions(opts []string) logs.Options {
	o, err := logs.ParseOptions(opts)
	if err != nil {
		return logs.Options{MaxFile: 1} // the engine checked them before the container ran
	}
	return o
}

// accept sends each connection made to the attach socket l, one at a time: the
// first one ends the resident's watch.
func accept(l *os.File, out chan<- int) {
	rc, err := l.SyscallConn()
	if err != nil {
		return
	}
	for {
		fd := -1
		err := rc.Read(func(lfd uintptr) bool {
			nfd, _, err := unix.Accept4(int(lfd), unix.SOCK_CLOEXEC)
			if err == unix.EAGAIN {
				return false
			}
			if err == nil {
				fd = nfd
			}
			return true
		})
		if err != nil {
			return
		}
		if fd >= 0 {
			out <- fd
			return
		}
		time.Sleep(10 * time.Millisecond) // out of fds, say: no busy loop
	}
}

// waitReadable closes done once f polls readable.
func waitReadable(f *os.File, done chan<- struct{}) {
	defer close(done)
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Read(func(fd uintptr) bool {
		n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		return n != 0
	})
}

// reap collects pid, which has exited, and every other child that has: the
// container's processes that outlived its init are re-parented here as they
// die. It returns pid's exit code (128+signal when killed), -1 if it was not
// this process's to collect.
func reap(pid int) int {
	code := -1
	var ws syscall.WaitStatus
	for {
		got, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err == nil && got == pid {
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
		break
	}
	for {
		got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err != syscall.EINTR && (err != nil || got <= 0) {
			return code
		}
	}
}
