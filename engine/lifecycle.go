package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hullproject/hull/runtime"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hullproject/hull/engine/ociruntime"
	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/monitor"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/atomicfile"
)

// The monitor tells the command that started it how things went, one JSON object a
// message on the SOCK_SEQPACKET socket that is its fd 3:
//
//	monitor → hull                 when
//	{"pid":N} [+ pty master fd]     the user's program runs (init's host pid N); with
//	                                a terminal the master rides along (SCM_RIGHTS)
//	                                for the caller's input and window size
//	{"error":"...","code":127}      it could not be started (125, 126 or 127)
//	{"exit":N}                      it ended with exit code N; the record says so
//	                                and, with --rm, is gone
//
// The starting command may go away at any time; the monitor ignores a broken pipe.
type monitorMsg struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
	Exit  *int   `json:"exit,omitempty"`
}

// Attach is the stdio of a foreground start: the container's output is copied to
// Stdout and Stderr (as well as the log), and Stdin is its stdin when the container
// was created interactive.
type Attach struct {
	Stdin, Stdout, Stderr *os.File
}

// Handle is a started container's monitor, for a foreground start.
type Handle struct {
	ID  string
	Pid int
	// Console is the container's pty master when it has a terminal: write input
	// to it, set its window size. Its output comes through Attach.Stdout.
	Console *os.File
	cmd     *exec.Cmd
	sync    int
}

// recvMsg reads one message from the monitor, with the fd it carries (or -1).
func recvMsg(fd int) (monitorMsg, int, error) {
	var m monitorMsg
	buf := make([]byte, 64*1024)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return m, -1, err
		}
		if n == 0 {
			return m, -1, errors.New("the container's monitor is gone")
		}
		got := -1
		if oobn > 0 {
			if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cmsgs) > 0 {
				if fds, err := unix.ParseUnixRights(&cmsgs[0]); err == nil && len(fds) > 0 {
					got = fds[0]
				}
			}
		}
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			if got >= 0 {
				unix.Close(got)
			}
			return m, -1, err
		}
		return m, got, nil
	}
}

// Wait waits for the container to end and returns its exit code.
func (h *Handle) Wait() (int, error) {
	defer unix.Close(h.sync)
	m, fd, err := recvMsg(h.sync)
	if fd >= 0 {
		unix.Close(fd)
	}
	h.cmd.Wait()
	if err != nil || m.Exit == nil {
		return -1, errors.New("the container's monitor died before the container ended")
	}
	return *m.Exit, nil
}

// Start starts a created or exited container: it forks the container's monitor, which
// creates and starts the container through the runtime, and returns once the user's
// program runs. With a nil Attach the monitor is left on its own.
func (e *Engine) Start(ref string, a *Attach) (*Handle, error) {
	id, err := e.Resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := e.update(id, func(c *Container) error {
		e.refresh(c)
		if c.State.Running() || alive(c.State.MonitorPid, c.State.MonitorStart) {
			return fmt.Errorf("container %s is already running", c.Name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c.State.Status == StatusExited {
		// Left by a monitor that died: the runtime may still know the container.
		if rt, err := e.Runtime(c); err == nil {
			rt.Delete(id, true)
		}
	}
	// The namespaces it joins (--pid container:, --pod ...) are found now.
	if err := e.prepareStart(c); err != nil {
		return nil, err
	}
	// SOCK_SEQPACKET: one message per read, and a pty master can ride along.
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("monitor socket: %w", err)
	}
	r := pair[0]
	w := os.NewFile(uintptr(pair[1]), "monitor-sync")
	defer w.Close()
	cmd := exec.Command(e.Exe, "--root", e.Root, "--state", e.State, "monitor", id)
	cmd.ExtraFiles = []*os.File{w}
	if a != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, a.Stdout, a.Stderr)
		// With a terminal the caller writes input to the pty master itself.
		if c.Config.OpenStdin && !c.Config.Tty {
			cmd.Stdin = a.Stdin
		}
	}
	// A session of its own: the monitor outlives the command and its terminal
	// (no SIGHUP when the terminal closes, no signals from its process group).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// Not the caller's directory: the monitor would keep it busy (unmountable).
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		unix.Close(r)
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	w.Close()
	m, fd, err := recvMsg(r)
	if err != nil {
		unix.Close(r)
		cmd.Wait()
		return nil, errors.New("the container's monitor failed to start it")
	}
	if m.Error != "" {
		unix.Close(r)
		cmd.Wait()
		return nil, &StartError{Code: m.Code, Msg: m.Error}
	}
	h := &Handle{ID: id, Pid: m.Pid, cmd: cmd, sync: r}
	if fd >= 0 {
		h.Console = os.NewFile(uintptr(fd), "pty-master")
	}
	if a == nil {
		if h.Console != nil {
			h.Console.Close()
			h.Console = nil
		}
		unix.Close(r)
		// Reaped here if this process lives on; otherwise re-parented to init.
		go cmd.Wait()
		return h, nil
	}
	return h, nil
}

// RunMonitor is the body of `hull monitor ID`: it supervises the container until it
// ends. sync is the pipe to the starting command; teeOut and teeErr (may be nil)
// receive the container's output.
func (e *Engine) RunMonitor(id string, sync *os.File, teeOut, teeErr *os.File) error {
	var master *os.File
	send := func(m monitorMsg) {
		if sync == nil {
			return
		}
		data, _ := json.Marshal(m)
		var oob []byte
		if m.Pid != 0 && master != nil {
			oob = unix.UnixRights(int(master.Fd()))
		}
		// The starting command may be gone: nothing to do about an error.
		unix.Sendmsg(int(sync.Fd()), data, oob, nil, 0)
	}
	fail := func(err error) error {
		send(monitorMsg{Error: err.Error(), Code: 125})
		return err
	}
	if err := monitor.BecomeSubreaper(); err != nil {
		return fail(err)
	}
	c, err := e.load(id)
	if err != nil {
		return fail(err)
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return fail(err)
	}
	var lo []string
	for k, v := range c.HostConfig.LogConfig.Config {
		lo = append(lo, k+"="+v)
	}
	opts, err := logs.ParseOptions(lo)
	if err != nil {
		return fail(err)
	}
	lw, err := logs.Create(e.LogPath(id), opts)
	if err != nil {
		return fail(err)
	}
	defer lw.Close()
	myStart, _, _ := procStat(os.Getpid())
	cfg := monitor.Config{
		Runtime: rt, ID: id, Bundle: e.bundle(id), Log: lw, Cgroup: "/hull-" + id,
		Tty: c.Config.Tty, Console: func(m *os.File) { master = m },
		Created: func(pid int) error { return e.networkUp(id, pid) },
		Started: func(pid int) error {
			_, err := e.update(id, func(c *Container) error {
				c.State = State{Status: StatusRunning, Pid: pid, StartedAt: time.Now().UTC(), MonitorPid: os.Getpid(), MonitorStart: myStart}
				return nil
			})
			if err == nil {
				send(monitorMsg{Pid: pid})
			}
			return err
		},
	}
	if c.Config.OpenStdin {
		cfg.Stdin = os.Stdin
	}
	if teeOut != nil {
		cfg.TeeStdout = teeOut
	}
	if teeErr != nil {
		cfg.TeeStderr = teeErr
	}
	started := false
	inner := cfg.Started
	cfg.Started = func(pid int) error { started = true; return inner(pid) }
	ex, err := monitor.Run(cfg)
	if teeOut != nil {
		teeOut.Close()
	}
	if teeErr != nil {
		teeErr.Close()
	}
	if !started {
		if err == nil {
			err = errors.New("container did not start")
		}
		code := ExitCodeOf(err)
		e.networkDown(id)
		e.update(id, func(c *Container) error {
			c.State.ExitCode, c.State.Error = code, err.Error()
			return nil
		})
		if c.HostConfig.AutoRemove {
			e.removeFiles(id, rt)
		}
		send(monitorMsg{Error: err.Error(), Code: code})
		return err
	}
	e.networkDown(id)
	e.update(id, func(c *Container) error {
		c.State.Status, c.State.ExitCode, c.State.OOMKilled = StatusExited, ex.Code, ex.OOMKilled
		c.State.FinishedAt, c.State.Pid, c.State.MonitorPid, c.State.MonitorStart = ex.At, 0, 0, 0
		c.State.Stopping = 0
		if err != nil {
			c.State.Error = err.Error()
		}
		return nil
	})
	if c.HostConfig.AutoRemove {
		e.removeFiles(id, rt)
	}
	code := ex.Code
	send(monitorMsg{Exit: &code})
	return err
}

// refresh makes a running record truthful when its monitor is gone (killed): the
// runtime tells whether the container still runs. It changes c, not the record.
func (e *Engine) refresh(c *Container) {
	if !c.State.Running() || alive(c.State.MonitorPid, c.State.MonitorStart) {
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
		if !c.State.Running() || alive(c.State.MonitorPid, c.State.MonitorStart) {
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
}

// waitStopped waits up to d for the container to end and its end to be recorded.
func (e *Engine) waitStopped(c *Container, d time.Duration) bool {
	deadline := time.Now().Add(d)
	if alive(c.State.MonitorPid, c.State.MonitorStart) {
		if waitGone(c.State.MonitorPid, c.State.MonitorStart, d) {
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
func (e *Engine) Stop(ref string, timeout *int) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return nil
	}
	sig := unix.SIGTERM
	if c.Config.StopSignal != "" {
		if sig, err = runtime.ParseSignal(c.Config.StopSignal); err != nil {
			return err
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
	e.update(c.ID, func(c *Container) error { c.State.Stopping = int(sig); return nil })
	if t > 0 {
		rt.Kill(c.ID, sig, false)
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
		return fmt.Errorf("container %s is not running", c.Name)
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return err
	}
	e.update(c.ID, func(c *Container) error { c.State.Stopping = int(sig); return nil })
	if err := rt.Kill(c.ID, sig, false); err != nil {
		return fmt.Errorf("kill container %s: %w", c.Name, err)
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
			return fmt.Errorf("cannot remove container %s: it is running: stop it first, or use force", c.Name)
		}
		e.update(c.ID, func(c *Container) error { c.State.Stopping = int(unix.SIGKILL); return nil })
		rt.Kill(c.ID, unix.SIGKILL, true)
		e.waitStopped(c, 10*time.Second)
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
	if err := e.Images.RemoveSnapshot(id); err != nil {
		return err
	}
	if err := os.RemoveAll(e.stateDir(id)); err != nil {
		return err
	}
	c, _ := e.load(id)
	if err := os.RemoveAll(e.dir(id)); err != nil {
		return err
	}
	if c != nil && c.HostConfig.AutoRemove {
		return e.removeAnonymous(c) // --rm takes them along, as docker's
	}
	return nil
}

// Wait waits until the container is not running and returns its exit code.
func (e *Engine) Wait(ref string) (int, error) {
	id, err := e.Resolve(ref)
	if err != nil {
		return -1, err
	}
	for {
		c, err := e.Get(id)
		if err != nil {
			return -1, err
		}
		if c.State.Status == StatusExited {
			if !alive(c.State.MonitorPid, c.State.MonitorStart) {
				e.finalize(id)
			}
			return c.State.ExitCode, nil
		}
		if c.State.Running() && alive(c.State.MonitorPid, c.State.MonitorStart) {
			waitGone(c.State.MonitorPid, c.State.MonitorStart, time.Hour)
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ExecOptions are the options of `hull exec`.
type ExecOptions struct {
	Args       []string
	Env        []string
	User       string
	WorkingDir string
	Detach     bool
	Tty        bool
	// ConsoleSize is the terminal's initial size (with Tty).
	ConsoleSize *specs.Box
}

// Exec runs a process in a running container; without Detach the returned function
// waits for it and gives its exit code.
func (e *Engine) Exec(ref string, o ExecOptions, io ociruntime.IO) (func() (int, error), error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Status != StatusRunning {
		return nil, fmt.Errorf("container %s is not running", c.Name)
	}
	if len(o.Args) == 0 {
		return nil, errors.New("exec needs a command")
	}
	var spec specs.Spec
	data, err := os.ReadFile(filepath.Join(e.bundle(c.ID), "config.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, err
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
		if p.User, err = resolveUser(c.Rootfs, o.User); err != nil {
			return nil, err
		}
	}
	if o.WorkingDir != "" {
		p.Cwd = o.WorkingDir
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return nil, err
	}
	return rt.Exec(c.ID, &p, io, o.Detach)
}

func writeJSON(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(name, data, 0o600)
}
