// Package resident is what a container's monitor keeps of itself while the
// container runs and nobody is attached: the monitor (the engine's binary, with
// everything it needs to create, start, restart, health-check and tear down a
// container) execs hull-monitor in its own place. Same process, same pid and
// start time (so the records stay true), still the container's subreaper and its
// parent, holding the same descriptors; but a few dozen KiB instead of a few MB,
// less than conmon.
//
// hull-monitor is a static C program, c/hull-monitor.c under this package (the
// Makefile builds it): a Go program that does nothing but wait in Go's poller
// keeps more memory than conmon's whole (docs/benchmarks.md, "The resident
// monitor in C"). This package is the contract between the two: the Handover and
// Exec, which the engine's monitor uses to hand over and to take back.
//
// The resident logs the container's output (as logs.Writer, byte for byte),
// reaps its init and every orphan, and accepts attach clients. It execs the
// engine's monitor again when there is work only that can do: the container
// ended (Reason "exited", with its code and At), or a client attached (Reason
// "attach", with the client's connection in Clients). It passes every field it
// does not change back as it came, and the engine monitor's environment is
// Environ (its own, if that is empty).
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
	"syscall"
	"time"

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
// nothing else (hull-monitor reads nothing else, and an environment stays in a
// process's memory for as long as it runs).
// It returns only on failure, and then every descriptor is as it was.
func Exec(exe string, args []string, s *Handover, env []string) error {
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
	env = append(slices.Clip(env), Env+"="+string(data))
	// Go threads may be in the middle of anything: execve takes them all down.
	return syscall.Exec(exe, args, env)
}

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
// hold the monitor forever. (hull-monitor.c's DRAIN_MS is the same.)
const DrainTimeout = 2 * time.Second

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
