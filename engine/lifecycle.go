package engine

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hullproject/hull/runtime"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hullproject/hull/monitor"
	"github.com/hullproject/hull/ociruntime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/internal/trace"
)

// The command that starts a container forks its monitor with one end of a
// SOCK_SEQPACKET socket pair as fd 3 and speaks monitor/attach.go's protocol on it.
// The monitor answers the start with a control message: {"pid":N} once the user's
// program runs (init's host pid N), or {"error":"...","code":127} if it could not
// be started (125, 126 or 127). A detached start (`run -d`) stops there. A
// foreground one (`hull monitor --attached`) is an attached client from before the
// container exists, so it sees the first byte of output; its last message is
// {"exit":N}, sent once the record says so and, with --rm, is gone.
//
// The starting command may go away at any time; the monitor ignores a broken pipe.

// Attach is where a foreground start copies the container's output (with a
// terminal all of it goes to Stdout). Rows and Cols, when set, are the caller's
// terminal size, applied before the program starts.
type Attach struct {
	Stdout, Stderr io.Writer
	Rows, Cols     uint16
}

// Handle is a started container's monitor, for a foreground start: send input and
// window sizes through its Session, and Wait.
type Handle struct {
	*Session
	ID  string
	Pid int
	a   *Attach
}

// Wait copies the container's output until it ends and returns its exit code.
// Closing the Session instead detaches: the container runs on.
func (h *Handle) Wait() (int, error) {
	if h.a == nil {
		return -1, errors.New("a detached start has nothing to wait for")
	}
	defer h.Close()
	return h.Session.Wait(h.a.Stdout, h.a.Stderr)
}

// Start starts a created or exited container: it forks the container's monitor, which
// creates and starts the container through the runtime, and returns once the user's
// program runs. With a nil Attach the monitor is left on its own.
func (e *Engine) Start(ref string, a *Attach) (*Handle, error) {
	return e.StartWith(ref, a, nil)
}

// SpawnedMonitor is a container's monitor started before its container exists,
// waiting to be told which it is: `run` starts it first, so the program's start
// overlaps the container's creation.
type SpawnedMonitor struct {
	s   *Session
	cmd *exec.Cmd
}

// SpawnMonitor starts a monitor that waits for StartWith to name its container;
// attached as for Start with an Attach. Abort ends it if no container comes.
func (e *Engine) SpawnMonitor(attached bool) (*SpawnedMonitor, error) {
	s, cmd, err := e.spawnMonitor(attached, monitor.NamedLater)
	if err != nil {
		return nil, err
	}
	return &SpawnedMonitor{s: s, cmd: cmd}, nil
}

// Abort ends a monitor that was given no container: it exits at the end of its
// socket, having done nothing.
func (m *SpawnedMonitor) Abort() {
	if m == nil {
		return
	}
	m.s.Close()
	done := make(chan struct{})
	go func() { m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		m.cmd.Process.Kill()
	}
}

// spawnMonitor forks the container's monitor (monitor.Args) with one end of a
// socket pair; id monitor.NamedLater makes it wait for its container's ID as the
// first message.
func (e *Engine) spawnMonitor(attached bool, id string) (*Session, *exec.Cmd, error) {
	// SOCK_SEQPACKET: one message per read (monitor/attach.go).
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("monitor socket: %w", err)
	}
	w := os.NewFile(uintptr(pair[1]), "monitor-sync")
	defer w.Close()
	r := os.NewFile(uintptr(pair[0]), "monitor")
	fc, err := net.FileConn(r)
	r.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("monitor socket: %w", err)
	}
	s := &Session{conn: fc.(*net.UnixConn)}
	args := monitor.Args{Root: e.Root, State: e.StateDir, ID: id, Attached: attached}
	cmd := exec.Command(e.Exe, args.Encode()...)
	cmd.ExtraFiles = []*os.File{w}
	if f := e.Trace.File(); f != nil {
		// The monitor traces into the same file (trace.Inherit), on fd 4.
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		cmd.Env = append(os.Environ(), trace.FdEnv+"=4")
	}
	// A session of its own: the monitor outlives the command and its terminal
	// (no SIGHUP when the terminal closes, no signals from its process group).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// Not the caller's directory: the monitor would keep it busy (unmountable).
	cmd.Dir = "/"
	t0 := e.Trace.Now()
	err = cmd.Start()
	e.Trace.Step(t0, trace.Process, "clone3+execve", err, trace.Args{Source: e.Exe, Detail: "the container's monitor (hull monitor), in a session of its own"})
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("start monitor: %w", err)
	}
	return s, cmd, nil
}

// StartWith is Start with a monitor spawned before (nil: Start's own). It takes
// m over: on an error, m is aborted.
func (e *Engine) StartWith(ref string, a *Attach, m *SpawnedMonitor) (h *Handle, err error) {
	defer func() {
		if err != nil {
			m.Abort()
		}
	}()
	t0 := e.Trace.Now()
	id, err := e.Resolve(ref)
	if err != nil {
		return nil, err
	}
	// One start of a container at a time, until its monitor has answered (the
	// record says running by then): a second start finds it running, where it
	// would have started a monitor of its own on the same ID, which the runtime
	// refuses ("already exists") and whose cleanup ended the first's container.
	unlockStart, err := flock(filepath.Join(e.dir(id), "start.lock"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, id)
		}
		return nil, err
	}
	defer unlockStart()
	c, err := e.update(id, func(c *Container) error {
		e.refresh(c)
		if c.State.Running() || proc.Alive(c.State.MonitorPid, c.State.MonitorStart) {
			return notModifiedf("container %s is already running", c.Name)
		}
		// A start by the user begins the restart policy afresh, as Docker's.
		c.HasBeenManuallyStopped, c.RestartCount = false, 0
		return nil
	})
	e.Trace.Step(t0, trace.Process, "write", err, trace.Args{File: "container.json", Detail: "the record, under its lock"})
	if err != nil {
		return nil, err
	}
	if a == nil && m == nil {
		// A client attached before the start (AttachNext) is its starter.
		if p := e.takePending(id); p != nil {
			a = p.a
			defer func() {
				if err != nil {
					p.ch <- nil
					return
				}
				p.ch <- h
				h = &Handle{ID: h.ID, Pid: h.Pid}
			}()
		}
	}
	if c.State.Status == StatusExited {
		// Left by a monitor that died: the runtime may still know the container,
		// the network its addresses.
		if rt, err := e.Runtime(c); err == nil {
			rt.Delete(id, true)
		}
		if c.netAttached() {
			e.networkDown(id)()
		}
	}
	// A container that does not run has its rootfs unmounted (engine/image.go):
	// the bundle's root.path would be an empty directory. It stays in use until
	// the monitor has the container running (or failed).
	t0 = e.Trace.Now()
	rootfs, release, err := e.Rootfs(id)
	e.Trace.Step(t0, trace.Rootfs, "mount", err, trace.Args{Type: "overlay", Target: rootfs, Detail: "the image's layers and the container's own, held in use"})
	if err != nil {
		return nil, err
	}
	defer release()
	// The namespaces it joins (--pid container:, --pod ...) are found now.
	t0 = e.Trace.Now()
	err = e.prepareStart(c)
	e.Trace.Step(t0, trace.Namespaces, "open", err, trace.Args{Detail: "the namespaces it joins (pod, container:), written into the spec"})
	if err != nil {
		return nil, err
	}
	var s *Session
	var cmd *exec.Cmd
	if m != nil {
		s, cmd = m.s, m.cmd
		if err := monitor.Send(s.conn, monitor.MsgContainer, []byte(id)); err != nil {
			return nil, errors.New("the container's monitor failed to start it")
		}
		m = nil // its own now: a failure from here on is the monitor's
	} else if s, cmd, err = e.spawnMonitor(a != nil, id); err != nil {
		return nil, err
	}
	if a != nil && a.Rows > 0 && a.Cols > 0 {
		s.Resize(a.Rows, a.Cols) // queued: the monitor applies it before the start
	}
	// Reaped here if this process lives on; otherwise re-parented to init. Not
	// waited for: with a restart policy the monitor outlives the first exit.
	go cmd.Wait()
	var out, errw io.Writer
	if a != nil {
		out, errw = a.Stdout, a.Stderr
	}
	msg, err := s.next(out, errw)
	if err != nil {
		s.Close()
		return nil, errors.New("the container's monitor failed to start it")
	}
	if msg.Error != "" {
		s.Close()
		return nil, &StartError{Code: msg.Code, Msg: msg.Error}
	}
	h = &Handle{Session: s, ID: id, Pid: msg.Pid, a: a}
	if a == nil {
		s.Close()
	}
	return h, nil
}

// refresh makes a running record truthful when its monitor is gone (killed): the
// runtime tells whether the container still runs. It changes c, not the record.
func (e *Engine) refresh(c *Container) {
	if !c.State.Running() || proc.Alive(c.State.MonitorPid, c.State.MonitorStart) {
		return
	}
	if c.State.Status == StatusRestarting {
		// Its monitor died waiting to restart it: it ended, with the code recorded.
		c.State.Status = StatusExited
		return
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return
	}
	st, err := rt.State(c.ID)
	switch {
	case err == nil && st.Status == "running":
		c.State.Status = StatusRunning
	case err == nil && st.Status == "paused":
		c.State.Status = StatusPaused
	default:
		c.State.Status = StatusExited
		c.State.Pid = 0
		c.State.ExitCode = -1
		if c.State.Stopping != 0 {
			c.State.ExitCode = 128 + c.State.Stopping
		}
		c.State.Error = "the container's monitor died: exit code unknown"
		if c.State.Stopping != 0 {
			c.State.Error = ""
		}
	}
}

// finalize records the end of a container whose monitor is gone and deletes it from
// the runtime, as the monitor would have.
func (e *Engine) finalize(id string) {
	var rt ociruntime.Runtime
	e.update(id, func(c *Container) error {
		if !c.State.Running() || proc.Alive(c.State.MonitorPid, c.State.MonitorStart) {
			return nil
		}
		e.refresh(c)
		if c.State.Running() {
			return nil
		}
		c.State.FinishedAt = time.Now().UTC()
		c.State.MonitorPid, c.State.MonitorStart, c.State.Stopping = 0, 0, 0
		rt, _ = e.Runtime(c)
		return nil
	})
	if rt != nil {
		rt.Delete(id, true)
	}
	e.unmountIdle(id)
}

// waitStopped waits up to d for the container to end and its end to be recorded.
func (e *Engine) waitStopped(c *Container, d time.Duration) bool {
	deadline := time.Now().Add(d)
	if proc.Alive(c.State.MonitorPid, c.State.MonitorStart) {
		if proc.WaitGone(c.State.MonitorPid, c.State.MonitorStart, d) {
			return true
		}
		// The monitor may be alive yet the container gone: it is finishing.
		return false
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return false
	}
	for {
		st, err := rt.State(c.ID)
		if err != nil || st.Status == "stopped" {
			e.finalize(c.ID)
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends the container its stop signal and, if it still runs after timeout
// seconds (nil: its --stop-timeout, else 10), SIGKILL to all its processes.
func (e *Engine) Stop(ref string, timeout *int) error { return e.StopWith(ref, timeout, 0) }

// StopWith is Stop with sig instead of the container's stop signal (0: its
// own), as docker stop --signal.
func (e *Engine) StopWith(ref string, timeout *int, sig unix.Signal) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return nil
	}
	if sig == 0 {
		sig = unix.SIGTERM
		if c.Config.StopSignal != "" {
			if sig, err = runtime.ParseSignal(c.Config.StopSignal); err != nil {
				return err
			}
		}
	}
	t := 10
	if c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return err
	}
	e.markStopped(c.ID, sig)
	defer e.event(c, "stop")
	if t > 0 {
		rt.Kill(c.ID, sig, false)
		e.thawFor(c, rt, sig)
		if e.waitStopped(c, time.Duration(t)*time.Second) {
			return nil
		}
	}
	e.update(c.ID, func(c *Container) error { c.State.Stopping = int(unix.SIGKILL); return nil })
	if err := rt.Kill(c.ID, unix.SIGKILL, true); err != nil {
		if st, serr := rt.State(c.ID); serr == nil && st.Status != "stopped" {
			return fmt.Errorf("kill container %s: %w", c.Name, err)
		}
	}
	e.thawFor(c, rt, unix.SIGKILL)
	if !e.waitStopped(c, 10*time.Second) {
		return fmt.Errorf("container %s did not stop", c.Name)
	}
	return nil
}

// Kill sends sig to the container's init.
func (e *Engine) Kill(ref string, sig unix.Signal) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return conflictf("container %s is not running", c.Name)
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return err
	}
	// A signal that ends it ends its restarts too (a HUP to reload does not).
	if stop, _ := runtime.ParseSignal(cmp.Or(c.Config.StopSignal, "TERM")); sig == unix.SIGKILL || sig == stop {
		e.markStopped(c.ID, sig)
		if c.State.Status == StatusRestarting {
			return nil // nothing runs: its monitor gives up
		}
	} else {
		e.update(c.ID, func(c *Container) error { c.State.Stopping = int(sig); return nil })
	}
	if err := rt.Kill(c.ID, sig, false); err != nil {
		return fmt.Errorf("kill container %s: %w", c.Name, err)
	}
	e.event(c, "kill", "signal", fmt.Sprint(int(sig)))
	e.thawFor(c, rt, sig)
	return nil
}

// Restart stops a container (as Stop, with its timeout) and starts it again; a
// container that is not running is just started. It stays the same container: ID,
// name, rootfs and log.
func (e *Engine) Restart(ref string, timeout *int) error { return e.RestartWith(ref, timeout, 0) }

// RestartWith is Restart stopping with sig (0: the container's stop signal).
func (e *Engine) RestartWith(ref string, timeout *int, sig unix.Signal) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	// A --rm container survives its restart, as docker's does: its monitor reads
	// the flag from the record when the container ends, so it is off meanwhile.
	var autoRemove bool
	if _, err := e.update(id, func(c *Container) error {
		autoRemove, c.HostConfig.AutoRemove = c.HostConfig.AutoRemove, false
		return nil
	}); err != nil {
		return err
	}
	restore := func() {
		if autoRemove {
			e.update(id, func(c *Container) error { c.HostConfig.AutoRemove = true; return nil })
		}
	}
	// Stop returns once the monitor recorded the end (and, stopped by the user,
	// does not apply the restart policy).
	if err := e.StopWith(id, timeout, sig); err != nil {
		restore()
		return err
	}
	_, err = e.Start(id, nil)
	restore()
	if err != nil {
		return err
	}
	if c, err := e.load(id); err == nil {
		e.event(c, "restart")
	}
	return nil
}

// Remove deletes a container: record, log, snapshot, bundle. A running one is refused
// unless force, which kills it first.
func (e *Engine) Remove(ref string, force bool) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return err
	}
	if c.State.Running() {
		if !force {
			return conflictf("cannot remove container %s: it is running: stop it first, or use force", c.Name)
		}
		e.markStopped(c.ID, unix.SIGKILL)
		rt.Kill(c.ID, unix.SIGKILL, true)
		e.thawFor(c, rt, unix.SIGKILL)
		e.waitStopped(c, 10*time.Second)
	}
	// Only a user's rm can meet a container its runtime lost; a monitor removing
	// its own (--rm) has just seen the runtime delete it.
	if err := ociruntime.KillCgroup(e.bundle(c.ID)); err != nil {
		return fmt.Errorf("kill what is left of container %s: %w", c.ID, err)
	}
	if err := e.removeFiles(c.ID, rt); err != nil {
		return err
	}
	// leases of containers whose monitor was killed, or of this one if its
	// record was gone already
	return e.reconcileNetworks()
}

func (e *Engine) removeFiles(id string, rt ociruntime.Runtime) error {
	unlock, err := e.lock(id)
	if err != nil {
		if errors.Is(err, ErrNoSuchContainer) {
			return nil // removed by its monitor (--rm) meanwhile
		}
		return err
	}
	defer unlock()
	if err := rt.Delete(id, true); err != nil {
		return err
	}
	if c, err := e.load(id); err == nil && c.netAttached() {
		if err := e.detachNetworks(c); err != nil {
			return err
		}
	}
	c, _ := e.load(id)
	if !e.DeferRemoval || !e.trash(id) {
		if err := e.removeLeft(id); err != nil {
			return err
		}
	}
	e.destroyed(c)
	e.unindexJoins(c)
	e.forgetName(c)
	if c != nil && c.HostConfig.AutoRemove {
		return e.removeAnonymous(c) // --rm takes them along, as docker's
	}
	return nil
}

// removeRecord is removeFiles for a monitor's --rm, in another order: it removes
// the container as far as anyone can see (the runtime's container, its networks,
// its record, so that its name is free, its anonymous volumes) and returns what
// is left, its snapshot (an overlay's unmount waits for an RCU grace period and
// syncs) and its directories, which the monitor removes after it has reported
// the end. A directory without a record is what sweep removes, snapshot and all,
// so a monitor that dies before it finishes leaves nothing for good.
func (e *Engine) removeRecord(id string, rt ociruntime.Runtime) (finish func() error, err error) {
	finish = func() error { return nil }
	unlock, err := e.lock(id)
	if err != nil {
		if errors.Is(err, ErrNoSuchContainer) {
			return finish, nil // removed by its monitor (--rm) meanwhile
		}
		return nil, err
	}
	defer unlock()
	if err := rt.Delete(id, true); err != nil {
		return nil, err
	}
	if c, err := e.load(id); err == nil && c.netAttached() {
		if err := e.detachNetworks(c); err != nil {
			return nil, err
		}
	}
	c, _ := e.load(id)
	// The record first: whoever takes the lock from now on finds none.
	if err := os.Remove(filepath.Join(e.dir(id), "config.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	e.destroyed(c)
	e.unindexJoins(c)
	e.forgetName(c)
	var volErr error
	if c != nil && c.HostConfig.AutoRemove {
		volErr = e.removeAnonymous(c) // --rm takes them along, as docker's
	}
	return func() error {
		if err := e.removeLeft(id); err != nil {
			return err
		}
		return volErr
	}, nil
}

// removeLeft removes a container's files: its snapshot, its state, its record if
// it is still there (removeFiles; removeRecord and sweep removed it before) and,
// last, its directory (kept if the snapshot could not go, for a later sweep).
// The record goes first: whoever takes the lock from now on finds none. Taking it
// creates the lock file again (O_CREAT), which can fail a removal of the
// directory with ENOTEMPTY: hence the retries.
func (e *Engine) removeLeft(id string) error {
	if err := e.Images.RemoveSnapshot(id); err != nil {
		return err
	}
	if err := os.RemoveAll(e.stateDir(id)); err != nil {
		return err
	}
	os.Remove(filepath.Join(e.dir(id), "config.json"))
	var err error
	for i := 0; ; i++ {
		if err = os.RemoveAll(e.dir(id)); err == nil || i == 5 {
			break
		}
	}
	return err
}

// ExecOptions are the options of `hull exec`.
type ExecOptions struct {
	Args       []string
	Env        []string
	User       string
	WorkingDir string
	Detach     bool
	Privileged bool // every capability (privilegedExec)
	Tty        bool
	// ConsoleSize is the terminal's initial size (with Tty).
	ConsoleSize *specs.Box
	// DetachKeys end the user's attachment to an exec with a terminal, leaving
	// it running (--detach-keys; ExecConfig.DetachKeys): ParseDetachKeys' grammar,
	// "" for docker's ctrl-p,ctrl-q. The front door watches the input for them;
	// Validate judges them.
	DetachKeys string
}

// Exec runs a process in a running container; without Detach the returned function
// waits for it and gives its exit code.
func (e *Engine) Exec(ref string, o ExecOptions, io ociruntime.IO) (func() (int, error), error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	if err := runnable(c); err != nil {
		return nil, err
	}
	spec, _, err := e.readSpec(c.ID)
	if err != nil {
		return nil, e.execErr(c, err)
	}
	p := *spec.Process
	p.Terminal = o.Tty
	p.Args = o.Args
	if o.Tty {
		p.Env = mergeEnv(p.Env, []string{"TERM=xterm"})
		p.ConsoleSize = o.ConsoleSize
	}
	p.Env = mergeEnv(p.Env, o.Env)
	if o.User != "" {
		if p.User, err = resolveUser(c.Rootfs, o.User, c.HostConfig.GroupAdd); err != nil {
			return nil, err
		}
	}
	if o.WorkingDir != "" {
		p.Cwd = o.WorkingDir
	}
	if err := privilegedExec(&p, o.Privileged); err != nil {
		return nil, err
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return nil, err
	}
	wait, err := rt.Exec(c.ID, &p, io, o.Detach)
	if err != nil {
		return nil, e.execErr(c, err)
	}
	return func() (int, error) {
		code, err := wait()
		if err != nil {
			err = e.execErr(c, err)
		}
		return code, err
	}, nil
}

// privilegedExec gives an exec'd process every capability hull itself may hand out
// (exec --privileged): those of its bounding set, as podman's, since asking for
// more fails (a sandbox may lack some). The container's seccomp filter, which the
// kernel never lifts, still applies.
func privilegedExec(p *specs.Process, privileged bool) error {
	if !privileged {
		return nil
	}
	_, all := runtime.Capabilities()
	p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	return nil
}

// execErr is the error of an exec into c that failed: if c stopped or went
// meanwhile (a stop or rm racing the exec), that, rather than what the runtime
// tripped over (an init's vanished /proc/PID/ns file: "no such file or directory",
// which would read as a missing program).
func (e *Engine) execErr(c *Container, err error) error {
	if rt, rerr := e.Runtime(c); rerr == nil {
		// An init on its way out has lost its namespaces before it stops
		// running.
		if st, serr := rt.State(c.ID); serr == nil && st.Status == "running" && nsAlive(st.Pid) {
			return err
		}
	}
	return fmt.Errorf("container %s is not running", c.Name)
}

func nsAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	return err == nil
}

func writeJSON(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(name, data, 0o600)
}
