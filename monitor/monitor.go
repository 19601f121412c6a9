// Package monitor is the per-container supervisor that replaces a daemon (conmon's
// job): one monitor process per running container. It owns the container's stdio
// (pipes), writes them to the log, reaps the container's init, reads the exit status
// and whether the OOM killer struck, deletes the container from the runtime and
// reports the exit; then it exits.
//
// The monitor is a child subreaper (PR_SET_CHILD_SUBREAPER): with hull's own runtime
// the container's init is its child; with an external runtime `runc create` starts
// init and exits, and init is re-parented to the nearest subreaper, the monitor. Either
// way the monitor can wait4 for it, and only it: nothing else of the monitor starts
// processes while it reaps (the runtime commands run before and after), so its wait4(-1)
// loop never steals another waiter's child.
package monitor

import (
	"errors"
	"fmt"
	"io"
	"os"
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
	// Stdin is the container's stdin (nil: /dev/null). Tee receives a copy of the
	// container's stdout and stderr (a foreground `hull run`); nil entries get none.
	Stdin     *os.File
	TeeStdout io.Writer
	TeeStderr io.Writer
	// Tty: the container has a terminal; its output is the pty master's, logged as
	// stdout. Console (may be nil) gets the master once the container is created
	// (to hand to a foreground `hull run -t`, for input and resizing).
	Tty     bool
	Console func(master *os.File)
	// Cgroup names the container's cgroup, relative to each hierarchy's root, for
	// reading OOM kills.
	Cgroup string
	// Created (may be nil) is called once the container exists and before its
	// program starts, with init's host pid: the engine wires its network then.
	Created func(pid int) error
	// Started is called once the user's program runs, with init's host pid.
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

// Run creates and starts the container, supervises it to its end and deletes it
// from the runtime. An error before the program runs is returned as is (the caller
// turns it into 125/126/127); after that Run returns the Exit.
func Run(c Config) (Exit, error) {
	var outR, errR *os.File
	var copies sync.WaitGroup
	var pid int
	if c.Tty {
		var master *os.File
		var err error
		pid, err = c.Runtime.Create(c.ID, c.Bundle, ociruntime.IO{Console: func(m *os.File) { master = m }})
		if err != nil {
			return Exit{}, err
		}
		if master == nil {
			c.Runtime.Delete(c.ID, true)
			reap(pid)
			return Exit{}, errors.New("the runtime made no terminal")
		}
		if c.Console != nil {
			c.Console(master)
		}
		// Reading a pty master fails with EIO once the last slave closed: that is
		// its EOF, which Copy takes as the end.
		outR = master
		copies.Add(1)
		go func() { defer copies.Done(); c.Log.Copy("stdout", master, c.TeeStdout) }()
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
		go func() { defer copies.Done(); c.Log.Copy("stdout", outR, c.TeeStdout) }()
		go func() { defer copies.Done(); c.Log.Copy("stderr", errR, c.TeeStderr) }()
	}
	closeAll := func() {
		outR.Close()
		if errR != nil {
			errR.Close()
		}
	}
	fail := func(err error) (Exit, error) {
		c.Runtime.Delete(c.ID, true)
		reap(pid)
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
	code := reap(pid)
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
	if err := c.Runtime.Delete(c.ID, true); err != nil {
		return ex, fmt.Errorf("delete from runtime: %w", err)
	}
	return ex, nil
}

// reap waits for pid and reaps every other child that exits meanwhile; it returns
// pid's exit code (128+signal when killed), or -1 if pid is not a child.
func reap(pid int) int {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// ECHILD: init is not ours to reap (it was never re-parented to us).
			// Wait for it to disappear instead.
			for alive(pid) {
				time.Sleep(20 * time.Millisecond)
			}
			return -1
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
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
