// Package monitor is the per-container supervisor that replaces a daemon (conmon's
// job): one monitor process per running container, the engine's binary run again
// (its command line: Args, args.go). It owns the container's stdio (pipes), writes
// them to the log, reaps the container's init, reads the exit status and whether
// the OOM killer struck, deletes the container from the runtime and records the
// exit; it restarts the container as its restart policy says (restart.go, Docker's
// policies and backoff) and runs its health check (health.go); then it exits.
//
// The monitor's life (supervisor.go): Main starts it; each run of the container is
// a round, begun by run (create and start through the runtime) or, in a monitor
// that took the container back from its resident form, by resume; afterExit ends
// it: the exit recorded, the restart decided, --rm applied, the clients told.
// While the container runs with nobody attached, the monitor execs hull-monitor in
// its own place (monitor/resident), which execs it back when there is work.
//
// The monitor keeps no record of its own: what it reads and writes of the
// container's record, network, rootfs and files it asks of the engine through the
// Engine interface (engine.go), which the engine implements. The engine imports
// this package, never the other way round.
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
// attached clients.
package monitor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/monitor/resident"
	"github.com/hullproject/hull/ociruntime"
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
	// Created (may be nil) is called once the container exists and before its
	// program starts, with init's host pid: the engine wires its network then.
	Created func(pid int) error
	// Started is called once the user's program runs, with init's host pid.
	// Both run under the children's lock: they must not call OwnChildren.
	Started func(pid int) error
	// Suspend, when it delivers, asks the supervision to stop where it stands
	// and return the container as Running, for another program to supervise
	// (monitor/resident). It is ignored while init is not this process's child.
	Suspend <-chan struct{}
}

// Running is a container under supervision: its init, a child of this process,
// and the ends of its output the monitor reads.
type Running struct {
	Pid int
	Out *os.File // stdout, or the pty master
	Err *os.File // stderr; nil with a terminal
	// Pending is output read but not logged yet ("stdout", "stderr").
	Pending map[string][]byte
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
// turns it into 125/126/127); after that Run returns the Exit, or, if c.Suspend
// asked for it, the Running container (see Resume).
func Run(c Config) (Exit, *Running, error) {
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
	r := &Running{}
	var err error
	if c.Tty {
		var master *os.File
		r.Pid, err = c.Runtime.Create(c.ID, c.Bundle, ociruntime.IO{Console: func(m *os.File) { master = m }})
		if err != nil {
			return Exit{}, nil, err
		}
		if master == nil {
			c.Runtime.Delete(c.ID, true)
			reapLocked(r.Pid)
			return Exit{}, nil, errors.New("the runtime made no terminal")
		}
		// Read through Go's poller, so a suspension can stop the read.
		if r.Out, err = pollable(master); err != nil {
			c.Runtime.Delete(c.ID, true)
			reapLocked(r.Pid)
			return Exit{}, nil, err
		}
		if c.Console != nil {
			c.Console(r.Out)
		}
	} else {
		var outW, errW *os.File
		if r.Out, outW, err = os.Pipe(); err != nil {
			return Exit{}, nil, err
		}
		if r.Err, errW, err = os.Pipe(); err != nil {
			r.Out.Close()
			outW.Close()
			return Exit{}, nil, err
		}
		r.Pid, err = c.Runtime.Create(c.ID, c.Bundle, ociruntime.IO{Stdin: c.Stdin, Stdout: outW, Stderr: errW})
		// The container holds the write ends now; ours would keep the reads from EOF.
		outW.Close()
		errW.Close()
		if err != nil {
			r.Out.Close()
			r.Err.Close()
			return Exit{}, nil, err
		}
	}
	p := startPumps(c, r)
	fail := func(err error) (Exit, *Running, error) {
		c.Runtime.Delete(c.ID, true)
		reapLocked(r.Pid)
		p.closeAll()
		p.wg.Wait()
		return Exit{}, nil, err
	}
	if c.Created != nil {
		if err := c.Created(r.Pid); err != nil {
			return fail(err)
		}
	}
	if err := c.Runtime.Start(c.ID); err != nil {
		return fail(err)
	}
	if c.Started != nil {
		if err := c.Started(r.Pid); err != nil {
			return fail(err)
		}
	}
	unlock()
	return supervise(c, p, sigs)
}

// Resume supervises a running container from where a suspension (of this
// process, or of the program it handed the container to) left it.
func Resume(c Config, r *Running) (Exit, *Running, error) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	defer signal.Stop(sigs)
	return supervise(c, startPumps(c, r), sigs)
}

// Finish is the end of a supervision: it reads whether the OOM killer struck (in
// the cgroup the bundle names, before the runtime removes it) and deletes the
// container from the runtime.
func Finish(c Config, ex Exit) (Exit, error) {
	ex.OOMKilled, _ = ociruntime.OOMKilled(c.Bundle)
	var err error
	OwnChildren(func() { err = c.Runtime.Delete(c.ID, true) })
	if err != nil {
		return ex, fmt.Errorf("delete from runtime: %w", err)
	}
	return ex, nil
}

// pumps copy a container's output to its log (and the tees).
type pumps struct {
	r  *Running
	wg sync.WaitGroup
	mu sync.Mutex
	// rest: what each stream read but did not log when it was stopped
	rest map[string][]byte
}

func startPumps(c Config, r *Running) *pumps {
	p := &pumps{r: r, rest: map[string][]byte{}}
	// tee gives a copy of each chunk as read, before the log splits it into lines:
	// a prompt without a newline must reach an attached terminal at once.
	tee := func(rd io.Reader, w io.Writer) io.Reader {
		if w == nil {
			return rd
		}
		return io.TeeReader(rd, w)
	}
	run := func(stream string, f *os.File, w io.Writer) {
		f.SetReadDeadline(time.Time{}) // a suspension's
		pending := r.Pending[stream]
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			// Reading a pty master fails with EIO once the last slave closed:
			// that is its EOF, which the copy takes as the end.
			rest, _ := c.Log.CopyFrom(stream, tee(f, w), nil, pending)
			p.mu.Lock()
			p.rest[stream] = rest
			p.mu.Unlock()
		}()
	}
	run("stdout", r.Out, c.TeeStdout)
	if r.Err != nil {
		run("stderr", r.Err, c.TeeStderr)
	}
	r.Pending = nil
	return p
}

func (p *pumps) closeAll() {
	p.r.Out.Close()
	if p.r.Err != nil {
		p.r.Err.Close()
	}
}

// stop ends the copies where the output stands and keeps what they read but did
// not log.
func (p *pumps) stop() {
	for _, f := range []*os.File{p.r.Out, p.r.Err} {
		if f != nil {
			f.SetReadDeadline(time.Now())
		}
	}
	p.wg.Wait()
	p.r.Pending = map[string][]byte{}
	for k, v := range p.rest {
		if len(v) > 0 {
			p.r.Pending[k] = v
		}
	}
}

// supervise waits for the container's end (or a suspension), reaping every child
// meanwhile, and finishes it.
func supervise(c Config, p *pumps, sigs <-chan os.Signal) (Exit, *Running, error) {
	pid := p.r.Pid
	suspend := c.Suspend
	var code int
wait:
	for {
		waitMu.Lock()
		got, done, orphan := sweep(pid)
		waitMu.Unlock()
		if done {
			code = got
			break
		}
		if orphan {
			// init is not ours to reap (never re-parented to us): no SIGCHLD
			// will tell, its pidfd will.
			waitExit(pid)
			code = -1
			break
		}
		select {
		case <-sigs:
		case <-suspend:
			if !isChild(pid) {
				suspend = nil
				continue
			}
			p.stop()
			waitMu.Lock()
			got, done, _ = sweep(pid)
			waitMu.Unlock()
			if !done {
				return Exit{}, p.r, nil
			}
			// It ended as the copies stopped: it is ours to finish.
			code = got
			p = startPumps(c, p.r)
			break wait
		}
	}
	ex := Exit{Code: code, At: time.Now().UTC()}
	// Every process of the container died with init (it was pid 1 of its pid
	// namespace), so the pipes reach EOF soon; a process that escaped the
	// namespace but kept the pipe must not hold the monitor forever.
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(resident.DrainTimeout):
		p.closeAll()
		<-done
	}
	p.closeAll()
	ex, err := Finish(c, ex)
	return ex, nil, err
}

// pollable returns f as a file read through Go's poller (deadlines work), and
// closes f.
func pollable(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	rc.Control(func(fd uintptr) { nfd, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) })
	f.Close()
	if err != nil {
		return nil, err
	}
	return resident.File(nfd, f.Name()), nil
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

// waitExit waits until pid is gone (a process that is not our child: its pidfd
// polls readable when it exits, whoever its parent is).
func waitExit(pid int) {
	start, err := proc.StartTime(pid)
	if err != nil {
		return
	}
	for !proc.WaitGone(pid, start, time.Hour) {
	}
}

// isChild says whether pid's parent is this process.
func isChild(pid int) bool {
	st, err := proc.ReadStat(pid)
	return err == nil && st.PPid == os.Getpid()
}

func alive(pid int) bool {
	st, err := proc.ReadStat(pid)
	return err == nil && st.State != 'Z'
}
