package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNotRunning is returned when a command needs a live container.
var ErrNotRunning = errors.New("container not running")

var errNoCgroup = errors.New("the container has no cgroup (rootless, and no delegated cgroup was writable)")

func (c *Container) cgroup() (*cgroups.Manager, error) {
	if c.Record.Cgroup == "" {
		return nil, errNoCgroup
	}
	return cgroups.Load(c.Record.Cgroup)
}

// nsPids lists the processes of init's pid namespace: for a container without a
// cgroup (rootless) the kernel groups them by nothing else.
func (c *Container) nsPids() ([]int, error) {
	ns, err := os.Readlink("/proc/" + strconv.Itoa(c.Record.Pid) + "/ns/pid")
	if err != nil || !c.initAlive() {
		return nil, nil
	}
	if self, _ := os.Readlink("/proc/self/ns/pid"); self == ns {
		return nil, errNoCgroup
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && l == ns {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func (c *Container) frozen() bool {
	cg, err := c.cgroup()
	if err != nil {
		return false
	}
	f, err := cg.Frozen()
	return err == nil && f
}

// Start lets a created container's init exec the user's program, waits until it
// has, then runs the poststart hooks. If init fails on its way (a startContainer
// hook, the user, execve), the container is stopped and Start returns init's error.
func (c *Container) Start() error {
	t0 := c.Trace.Now()
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if st := c.Status(); st != StatusCreated {
		return fmt.Errorf("cannot start a container that is %s", st)
	}
	fifo := filepath.Join(c.dir, "exec.fifo")
	// Non-blocking open of the read end always succeeds and wakes the init that is
	// blocked opening the write end; then wait for its byte, or for it to die.
	f, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	c.Trace.Step(t0, trace.Process, "flock+open", err, trace.Args{File: "exec.fifo", Detail: "the container locked, its status read; the fifo's open wakes init"})
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer f.Close()
	if err := waitFifo(f, c); err != nil {
		return err
	}
	if err := os.Remove(fifo); err != nil {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	if err := waitExec(f, c); err != nil {
		// init exits (status 1) once it reported; whatever is left of it is
		// killed. The container is stopped before start returns, as the
		// runtime-spec wants after a failed startContainer hook.
		c.awaitInitExit(5 * time.Second)
		c.waitInitGone()
		return err
	}
	if h := c.Record.Config.Hooks; h != nil {
		t0 := c.Trace.Now()
		c.runHooksWarn("poststart", h.Poststart, c.specState(StatusRunning))
		traceHooks(c.Trace, t0, "poststart", h.Poststart, nil)
	}
	return nil
}

// waitExec reads exec.fifo after init's "0" until EOF, which comes when init execs
// the program or dies, and returns the error init wrote before it died (sync.go).
func waitExec(f *os.File, c *Container) error {
	var out []byte
	buf := make([]byte, 4096)
	gone := false
	for {
		n, err := unix.Read(int(f.Fd()), buf)
		switch {
		case err == nil && n > 0:
			out = append(out, buf[:n]...)
			continue
		case err == nil:
			return parseFifo(out)
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return fmt.Errorf("read exec fifo: %w", err)
		case gone:
			// Only init holds the write end, and its exit closed it: EOF must
			// have come. Should anything else hold it, no wait for it.
			return parseFifo(out)
		}
		// One more read once init is seen gone: what it wrote is all there is.
		gone = !c.initAlive()
		pfd := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 100); err != nil && err != unix.EINTR {
			return fmt.Errorf("wait for init: %w", err)
		}
	}
}

// awaitInitExit waits up to d for init to exit on its own.
func (c *Container) awaitInitExit(d time.Duration) {
	proc.WaitGone(c.Record.Pid, c.Record.PidStart, d)
}

// waitFifo waits until init wrote its byte into the fifo.
func waitFifo(f *os.File, c *Container) error {
	buf := make([]byte, 1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		pfd := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 100); err != nil && err != unix.EINTR {
			return fmt.Errorf("wait for init: %w", err)
		}
		n, err := unix.Read(int(f.Fd()), buf)
		if n == 1 {
			return nil
		}
		if err != nil && err != unix.EAGAIN {
			return fmt.Errorf("read exec fifo: %w", err)
		}
		if !c.initAlive() {
			return errors.New("container init exited before start")
		}
	}
	return errors.New("container init did not answer start")
}

// Kill sends sig to the init process, or with all to every process in the cgroup.
func (c *Container) Kill(sig unix.Signal, all bool) error {
	st := c.Status()
	if st == StatusStopped && !(all && c.cgroupHasProcs()) {
		return ErrNotRunning
	}
	return c.signal(sig, all)
}

func (c *Container) signal(sig unix.Signal, all bool) error {
	if all && c.Record.Cgroup == "" {
		pids, err := c.nsPids()
		for _, pid := range pids {
			if e := unix.Kill(pid, sig); e != nil && !errors.Is(e, unix.ESRCH) {
				err = errors.Join(err, fmt.Errorf("signal pid %d: %w", pid, e))
			}
		}
		return err
	}
	if all {
		cg, err := c.cgroup()
		if err != nil {
			return err
		}
		return cg.Kill(sig)
	}
	// A pidfd pins the process: once it is open and the start time still matches,
	// the signal cannot reach a recycled pid.
	pidfd, err := proc.Open(c.Record.Pid, c.Record.PidStart)
	if err != nil {
		return ErrNotRunning
	}
	defer pidfd.Close()
	if err := pidfd.Signal(sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("signal init: %w", err)
	}
	return nil
}

func (c *Container) cgroupHasProcs() bool {
	cg, err := c.cgroup()
	if err != nil {
		return false
	}
	pids, err := cg.Pids()
	return err == nil && len(pids) > 0
}

// Delete removes a stopped container (or a created one, whose init is killed). With
// force a running container is killed first. The poststop hooks run last; a failing
// one is logged as a warning (runtime-spec), the container is gone regardless.
func (c *Container) Delete(force bool) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	// A damaged record's init may still run: without force, it stays.
	st := c.status()
	switch {
	case st == StatusCreated, st == StatusStopped:
	case force:
	default:
		return fmt.Errorf("cannot delete container %s that is not stopped: %s", c.ID, st)
	}
	cg, cgErr := c.cgroup()
	if c.Record.Damaged && c.Record.Pid == 0 {
		// Neither state.json nor init.json can be read (a record older than
		// init.json): a container made without linux.cgroupsPath has its
		// processes in the default cgroup, and they go with the record
		// rather than run on unseen.
		cg, cgErr = cgroups.Load(cgroups.DefaultParent + "/" + c.ID)
	}
	if cgErr == nil {
		if cg.Exists() {
			if f, _ := cg.Frozen(); f {
				cg.Thaw()
			}
			if c.pidNSGone() && cg.Empty() {
				// `hullrt run` after its container's init was reaped: nothing of
				// the container is left to kill, and a v1 freeze and thaw for
				// nothing costs ~0.1 ms of CPU (the freezer's static key is
				// switched on and off: kernel text patched on every CPU).
				c.Trace.Step(c.Trace.Now(), trace.Cgroups, "kill", nil, trace.Args{Detail: "none: init reaped, its pid namespace and the cgroup empty"})
			} else {
				t0 := c.Trace.Now()
				err := cg.Kill(unix.SIGKILL)
				c.Trace.Step(t0, trace.Cgroups, "kill", err, trace.Args{Detail: "SIGKILL to every process of the cgroup (cgroup.kill where there is one)"})
				if err != nil {
					return fmt.Errorf("kill container processes: %w", err)
				}
			}
		}
		t0 := c.Trace.Now()
		err := cg.Destroy()
		if c.Trace.On() {
			c.Trace.Step(t0, trace.Cgroups, "rmdir", err, trace.Args{Target: cg.Path()})
		}
		if err != nil {
			return err
		}
	}
	t0 := c.Trace.Now()
	c.waitInitGone()
	c.Trace.Step(t0, trace.Process, "pidfd_send_signal", nil, trace.Args{Value: "SIGKILL", Detail: "init, then wait until it is gone"})
	if cfg := c.Record.Config; cfg != nil && cfg.Hooks != nil && !c.Record.Damaged {
		t0 := c.Trace.Now()
		c.runHooksWarn("poststop", cfg.Hooks.Poststop, c.specState(StatusStopped))
		traceHooks(c.Trace, t0, "poststop", cfg.Hooks.Poststop, nil)
	}
	t0 = c.Trace.Now()
	err = os.RemoveAll(c.dir)
	c.Trace.Step(t0, trace.Process, "unlinkat", err, trace.Args{Target: c.dir, Detail: "the state directory"})
	if err != nil {
		return fmt.Errorf("remove state: %w", err)
	}
	return nil
}

// pidNSGone tells whether the container's pid namespace is known to be empty:
// this process reaped init, and init had a pid namespace of its own. The kernel
// lets the init of a pid namespace finish exiting only once every other process
// of it is gone and reaped (zap_pid_ns_processes), so no process the container
// started (or an exec joined to it) can be left; only one put into the cgroup
// from outside, which the caller checks for.
func (c *Container) pidNSGone() bool {
	if !c.initReaped || c.Record.Config == nil || c.Record.Config.Linux == nil {
		return false
	}
	for _, ns := range c.Record.Config.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace {
			return ns.Path == ""
		}
	}
	return false
}

// waitInitGone kills init (it may be outside the cgroup if it never joined it) and
// waits up to a few seconds for it to be gone.
func (c *Container) waitInitGone() {
	pidfd, err := proc.Open(c.Record.Pid, c.Record.PidStart)
	if err != nil {
		return
	}
	defer pidfd.Close()
	pidfd.Signal(unix.SIGKILL)
	// It may stay a zombie of its parent, which counts as gone.
	pidfd.Wait(5 * time.Second)
}

// Pids lists the host pids of every process in the container's cgroup.
func (c *Container) Pids() ([]int, error) {
	if c.Record.Cgroup == "" {
		return c.nsPids()
	}
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}

// Wait waits for the init process of a container this process created, and returns
// its exit status as a shell reports it (128+signal when killed).
func (c *Container) Wait() (int, error) {
	if c.init == nil {
		return -1, errors.New("not the parent of this container's init")
	}
	st, err := c.init.Wait()
	if err != nil {
		return -1, err
	}
	c.initReaped = true
	return ExitCode(st), nil
}

// ExitCode turns a process state into a shell-style exit code.
func ExitCode(st *os.ProcessState) int {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// Pause freezes every process of the container.
func (c *Container) Pause() error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if st := c.Status(); st != StatusRunning && st != StatusCreated {
		return fmt.Errorf("cannot pause a container that is %s", st)
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if st := c.Status(); st != StatusPaused {
		return fmt.Errorf("cannot resume a container that is %s", st)
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	return cg.Thaw()
}

// ParseSignal reads a signal as a number or a name, with or without SIG, in any
// case (9, KILL, SIGKILL, kill), as runc and docker accept it.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}
