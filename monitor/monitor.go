// Package monitor is the per-container supervisor that replaces a daemon (conmon's
// job): one monitor process per running container. It owns the container's stdio
// (pipes), writes them to the log, reaps the container's init, reads the exit status
// and whether the OOM killer struck, deletes the container from the runtime and
// reports the exit; then it exits.
//
// The monitor is a child subreaper (PR_SET_CHILD_SUBREAPER): with hull's own runtime
// the container's init is its child; with an external runtime `runc create` starts
// init and exits, and init is re-parented to the nearest subreaper, the monitor. Either
// way the monitor can wait4 for it. Reaping takes every exited child (wait4(-1):
// orphans of the container land here too), so it must not steal the child of code
// that waits for its own (a runtime command, a health probe's exec): such code runs
// inside OwnChildren, and the reaping loop only sweeps, on SIGCHLD, while nobody does.
//
// A Hub (attach.go) serves the container's output and takes its input for the
// attached clients; the engine drives restarts and health checks around Run.
package monitor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hullproject/hull/engine/ociruntime"
	"github.com/hullproject/hull/logs"
	"golang.org/x/sys/unix"
)

// Config says what to supervise.
type Config struct {
	Runtime ociruntime.Runtime
	ID      string
	Bundle  string
	Log     *logs.Writer
	// Stdin is the container's stdin (nil: /dev/null). TeeStdout and TeeStderr
	// receive a copy of its stdout and stderr as read (for the attached clients);
	// nil entries get none. A tee that blocks holds the container's output back.
	Stdin     *os.File
	TeeStdout io.Writer
	TeeStderr io.Writer
	// Tty: the container has a terminal; its output is the pty master's, logged as
	// stdout. Console (may be nil) gets the master once the container is created
	// (for the attached clients' input and window sizes).
	Tty     bool
	Console func(master *os.File)
	// Cgroup names the container's cgroup, relative to each hierarchy's root, for
	// reading OOM kills.
	Cgroup string
	// Created (may be nil) is called once the container exists and before its
	// program starts, with init's host pid: the engine wires its network then.
	Created func(pid int) error
	// Started is called once the user's program runs, with init's host pid.
	// Both run under the children's lock: they must not call OwnChildren.
	Started func(pid int) error
}

// Exit is how the container ended.
type Exit struct {
	Code      int // shell style: 128+signal when killed
	OOMKilled bool
	At        time.Time
}

// BecomeSubreaper makes the calling process the reaper of its orphaned descendants.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become subreaper: %w", err)
	}
	return nil
}

// waitMu is held by whoever may take a child's exit: the reaping sweep, or code that
// waits for a child of its own (OwnChildren). wait4(-1) is process-wide, so is the lock.
var waitMu sync.Mutex

// OwnChildren runs fn, which may start child processes and wait for them itself:
// meanwhile the reaping loop takes no exit.
func OwnChildren(fn func()) {
	waitMu.Lock()
	defer waitMu.Unlock()
	fn()
}

// Run creates and starts the container, supervises it to its end and deletes it
// from the runtime. An error before the program runs is returned as is (the caller
// turns it into 125/126/127); after that Run returns the Exit.
func Run(c Config) (Exit, error) {
	// SIGCHLD wakes the reaping loop; registered before any child can exit.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	defer signal.Stop(sigs)
	waitMu.Lock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			waitMu.Unlock()
		}
	}
	defer unlock()
	var outR, errR *os.File
	var copies sync.WaitGroup
	var pid int
	// tee gives a copy of each chunk as read, before the log splits it into lines:
	// a prompt without a newline must reach an attached terminal at once.
	tee := func(r io.Reader, w io.Writer) io.Reader {
		if w == nil {
			return r
		}
		return io.TeeReader(r, w)
	}
	if c.Tty {
		var master *os.File
		var err error
		pid, err = c.Runtime.Create(c.ID, c.Bundle, ociruntime.IO{Console: func(m *os.File) { master = m }})
		if err != nil {
			return Exit{}, err
		}
		if master == nil {
			c.Runtime.Delete(c.ID, true)
			reapLocked(pid)
			return Exit{}, errors.New("the runtime made no terminal")
		}
		if c.Console != nil {
			c.Console(master)
		}
		// Reading a pty master fails with EIO once the last slave closed: that is
		// its EOF, which Copy takes as the end.
		outR = master
		copies.Add(1)
		go func() { defer copies.Done(); c.Log.Copy("stdout", tee(master, c.TeeStdout), nil) }()
	} else {
		var outW, errW *os.File
		var err error
		if outR, outW, err = os.Pipe(); err != nil {
			return Exit{}, err
		}
		if errR, errW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			return Exit{}, err
		}
		pid, err = c.Runtime.Create(c.ID, c.Bundle, ociruntime.IO{Stdin: c.Stdin, Stdout: outW, Stderr: errW})
		// The container holds the write ends now; ours would keep the reads from EOF.
		outW.Close()
		errW.Close()
		if err != nil {
			outR.Close()
			errR.Close()
			return Exit{}, err
		}
		copies.Add(2)
		go func() { defer copies.Done(); c.Log.Copy("stdout", tee(outR, c.TeeStdout), nil) }()
		go func() { defer copies.Done(); c.Log.Copy("stderr", tee(errR, c.TeeStderr), nil) }()
	}
	closeAll := func() {
		outR.Close()
		if errR != nil {
			errR.Close()
		}
	}
	fail := func(err error) (Exit, error) {
		c.Runtime.Delete(c.ID, true)
		reapLocked(pid)
		closeAll()
		copies.Wait()
		return Exit{}, err
	}
	if c.Created != nil {
		if err := c.Created(pid); err != nil {
			return fail(err)
		}
	}
	if err := c.Runtime.Start(c.ID); err != nil {
		return fail(err)
	}
	if c.Started != nil {
		if err := c.Started(pid); err != nil {
			return fail(err)
		}
	}
	unlock()
	code := reap(pid, sigs)
	ex := Exit{Code: code, At: time.Now().UTC()}
	// Every process of the container died with init (it was pid 1 of its pid
	// namespace), so the pipes reach EOF soon; a process that escaped the
	// namespace but kept the pipe must not hold the monitor forever.
	done := make(chan struct{})
	go func() { copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		closeAll()
		<-done
	}
	closeAll()
	ex.OOMKilled = oomKilled(c.Cgroup)
	var err error
	OwnChildren(func() { err = c.Runtime.Delete(c.ID, true) })
	if err != nil {
		return ex, fmt.Errorf("delete from runtime: %w", err)
	}
	return ex, nil
}

// reap waits for pid, sweeping up every other child that exits meanwhile, and
// returns pid's exit code (128+signal when killed), or -1 if pid is not a child.
// sigs receives SIGCHLD.
func reap(pid int, sigs <-chan os.Signal) int {
	for {
		waitMu.Lock()
		code, done, orphan := sweep(pid)
		waitMu.Unlock()
		if done {
			return code
		}
		if orphan {
			// init is not ours to reap (never re-parented to us): no SIGCHLD
			// will tell, its pidfd will.
			waitExit(pid)
			return -1
		}
		<-sigs
	}
}

// reapLocked is reap for a caller that holds waitMu (init never started its
// program: it dies at once).
func reapLocked(pid int) {
	for {
		_, done, orphan := sweep(pid)
		if done || orphan {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Sweep reaps every child that has exited (an orphan of the container, a resolver
// the monitor started) while the container is not running.
func Sweep() {
	waitMu.Lock()
	defer waitMu.Unlock()
	sweep(0)
}

// sweep reaps exited children without blocking until pid is among them (done, with
// its exit code) or none is left; orphan says pid is not a child at all.
func sweep(pid int) (code int, done, orphan bool) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil { // ECHILD: no child at all
			return -1, false, pid > 0
		}
		if got == 0 {
			// A multi-threaded init shows as a zombie once its leader thread
			// exits, before its other threads are gone and wait4 can collect it:
			// a zombie that is still our child is not an orphan.
			return 0, false, pid > 0 && !alive(pid) && !isChild(pid)
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), true, false
		}
		return ws.ExitStatus(), true, false
	}
}

// waitExit waits until pid is gone: its pidfd polls readable when it exits,
// whoever its parent is.
func waitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	for alive(pid) {
		unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 1000)
	}
}

// isChild says whether pid's parent is this process.
func isChild(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(s[i+1:]) // state, ppid, ...
	return len(f) > 1 && f[1] == strconv.Itoa(os.Getpid())
}

func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// oomKilled reads the OOM kill counter of the container's memory cgroup: memory.events
// on cgroup v2, memory.oom_control on v1 (oom_kill, kernel 4.13+).
func oomKilled(cgroup string) bool {
	if cgroup == "" {
		return false
	}
	for _, f := range []string{
		"/sys/fs/cgroup" + cgroup + "/memory.events",
		"/sys/fs/cgroup/memory" + cgroup + "/memory.oom_control",
	} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if n, ok := strings.CutPrefix(l, "oom_kill "); ok && strings.TrimSpace(n) != "0" {
				return true
			}
		}
	}
	return false
}
