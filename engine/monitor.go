package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/monitor"
	"github.com/hullproject/hull/monitor/resident"
	"github.com/hullproject/hull/ociruntime"
	"golang.org/x/sys/unix"
)

// errStoppedMeanwhile: the user stopped the container while its monitor restarted it.
var errStoppedMeanwhile = errors.New("stopped while restarting")

// ResidentIdle is how long a container runs with nobody attached before its
// monitor hands it to hull-monitor, the resident form of itself (see
// monitor/resident): a short-lived container (`run --rm ... true`) never pays for
// the handover, a long-lived one keeps a monitor of conmon's size. Zero turns
// handing over off.
var ResidentIdle = time.Second

// ResidentPath is hull-monitor, found beside the engine's binary; "" if it is not
// there (the monitor then stays whole).
func (e *Engine) ResidentPath() string {
	if p := os.Getenv("HULL_MONITOR"); p != "" {
		return p
	}
	p := filepath.Join(filepath.Dir(e.Exe), "hull-monitor")
	if unix.Access(p, unix.X_OK) != nil {
		return ""
	}
	return p
}

// monitorState is what the engine's monitor carries across its resident form, in
// resident.Handover.Engine.
type monitorState struct {
	Run       int           `json:"run"`
	StartedAt time.Time     `json:"startedAt"`
	Backoff   time.Duration `json:"backoff"`
	PrevCode  int           `json:"prevCode"`
	// StdinR and StdinW are the container's stdin pipe (-1: none): the read end
	// given to it, the write end fed by attached clients.
	StdinR int `json:"stdinR"`
	StdinW int `json:"stdinW"`
}

// monitorRun is one monitor process's supervision of a container.
type monitorRun struct {
	e        *Engine
	id       string
	c        *Container
	rt       ociruntime.Runtime
	hub      *monitor.Hub
	lw       *logs.Writer
	logOpts  []string
	l        *net.UnixListener
	accepted chan struct{} // closed when the accepting goroutine returns
	starter  *net.UnixConn
	attached bool
	wake     chan os.Signal
	myStart  uint64
	bo       backoff
	prevCode int
}

// RunMonitor is the body of `hull monitor ID`: it supervises the container until it
// ends for good, through the restarts of its policy, serving attach and running its
// health check. sync is the socket to the starting command; attached says that
// command stays as a client (a foreground start).
func (e *Engine) RunMonitor(id string, sync *os.File, attached bool) error {
	m := &monitorRun{e: e, id: id, hub: &monitor.Hub{}}
	if fc, err := net.FileConn(sync); err == nil {
		m.starter, _ = fc.(*net.UnixConn)
	}
	sync.Close()
	if id == "-" {
		// Started before its container existed (SpawnMonitor): the first message
		// names it; the socket's end says there is none.
		if m.starter == nil {
			return errors.New("no container to monitor")
		}
		buf := make([]byte, 128)
		n, err := m.starter.Read(buf)
		if err != nil || n < 2 || buf[0] != monitor.MsgContainer || !idRE.Match(buf[1:n]) {
			return errors.New("no container to monitor")
		}
		id = string(buf[1:n])
		m.id = id
	}
	if m.starter == nil {
		attached = false
	} else if attached {
		m.hub.Add(m.starter, true)
	}
	m.attached = attached
	if err := monitor.BecomeSubreaper(); err != nil {
		return m.fail(err)
	}
	if err := m.setup(nil); err != nil {
		return m.fail(err)
	}
	defer m.close()
	return m.loop(nil)
}

// ResumeMonitor is the body of `hull monitor --resume ID`: the engine's monitor
// taking the container back from its resident form (s, from the environment).
func (e *Engine) ResumeMonitor(s *resident.Handover) error {
	m := &monitorRun{e: e, id: s.ID, hub: &monitor.Hub{}}
	var ms monitorState
	if err := json.Unmarshal(s.Engine, &ms); err != nil {
		return fmt.Errorf("monitor state: %w", err)
	}
	if err := m.setup(s); err != nil {
		return err
	}
	defer m.close()
	return m.loop(&resumed{s: s, ms: ms})
}

// resumed is where a resumed monitor's first round starts.
type resumed struct {
	s  *resident.Handover
	ms monitorState
}

// send tells the starter how the start went; the first run's only.
func (m *monitorRun) send(msg monitor.Control) {
	if m.attached {
		m.hub.Control(msg)
	} else if m.starter != nil {
		monitor.SendControl(m.starter, msg)
		m.starter.Close()
		m.starter = nil
	}
}

func (m *monitorRun) fail(err error) error {
	m.send(monitor.Control{Error: err.Error(), Code: 125})
	return err
}

// setup loads the container and opens its log and attach socket; from s (a
// resumption) the socket is the one handed over.
func (m *monitorRun) setup(s *resident.Handover) error {
	// Before any record says "restarting" (markStopped sends it then).
	m.wake = make(chan os.Signal, 1)
	signal.Notify(m.wake, wakeSignal)
	var err error
	if m.c, err = m.e.load(m.id); err != nil {
		return err
	}
	if m.rt, err = m.e.Runtime(m.c); err != nil {
		return err
	}
	for k, v := range m.c.HostConfig.LogConfig.Config {
		m.logOpts = append(m.logOpts, k+"="+v)
	}
	opts, err := logs.ParseOptions(m.logOpts)
	if err != nil {
		return err
	}
	if m.lw, err = logs.Create(m.e.LogPath(m.id), opts); err != nil {
		return err
	}
	if s != nil && s.Listener >= 0 {
		f := resident.File(s.Listener, "attach")
		fl, ferr := net.FileListener(f)
		f.Close()
		if ferr != nil {
			return fmt.Errorf("attach socket: %w", ferr)
		}
		m.l = fl.(*net.UnixListener)
		m.l.SetUnlinkOnClose(false)
	} else if m.l, err = m.e.listenAttach(m.id); err != nil {
		return err
	}
	m.accept()
	m.myStart, _, _ = procStat(os.Getpid())
	return nil
}

func (m *monitorRun) accept() {
	m.l.SetDeadline(time.Time{})
	m.accepted = make(chan struct{})
	go func() { defer close(m.accepted); m.hub.Accept(m.l) }()
}

func (m *monitorRun) close() {
	m.l.Close()
	os.Remove(m.e.attachSocket(m.id))
	m.lw.Close()
}

// loop runs the container, and again as its restart policy says, until it ends
// for good. r, if set, is a resumption: its first round picks the run up.
func (m *monitorRun) loop(r *resumed) error {
	e, id, c, rt, hub := m.e, m.id, m.c, m.rt, m.hub
	// A client's signal (--sig-proxy); not on the hub's goroutine, which may run
	// while the container is created, with the children's lock held.
	kill := func(sig unix.Signal) { go monitor.OwnChildren(func() { rt.Kill(id, sig, false) }) }
	run := 0
	if r != nil {
		run, m.bo.d, m.prevCode = r.ms.Run, r.ms.Backoff, r.ms.PrevCode
	}
	for ; ; run++ {
		cfg := monitor.Config{
			Runtime: rt, ID: id, Bundle: e.bundle(id), Log: m.lw,
			Tty: c.Config.Tty, TeeStdout: hub.Stdout(), TeeStderr: hub.Stderr(),
		}
		var master, stdin *os.File
		cfg.Console = func(f *os.File) { master = f }
		var stopHealth func()
		var startedAt time.Time // zero: it did not start
		var ex monitor.Exit
		var susp *monitor.Running
		var err error
		if r != nil {
			// The resident form had it: it ended, or a client came.
			s := r.s
			startedAt = r.ms.StartedAt
			if r.ms.StdinR >= 0 {
				cfg.Stdin, stdin = os.NewFile(uintptr(r.ms.StdinR), "stdin"), resident.File(r.ms.StdinW, "stdin")
			}
			if s.Reason == resident.ReasonExited {
				hub.Begin(nil, nil, nil)
				ex, err = monitor.Finish(cfg, monitor.Exit{Code: s.Code, At: s.At})
			} else {
				susp = &monitor.Running{Pid: s.Pid, Out: resident.File(s.Out, "stdout"), Pending: s.Pending}
				if s.Err >= 0 {
					susp.Err = resident.File(s.Err, "stderr")
				}
				in := stdin
				if c.Config.Tty {
					master, in = susp.Out, susp.Out
				}
				hub.Begin(in, master, kill)
				for _, fd := range s.Clients {
					f := os.NewFile(uintptr(fd), "client")
					fc, ferr := net.FileConn(f)
					f.Close()
					if conn, ok := fc.(*net.UnixConn); ferr == nil && ok {
						hub.Add(conn, false)
						hub.Serve(conn)
					}
				}
				cfg.Suspend = m.idle(c)
				ex, susp, err = monitor.Resume(cfg, susp)
			}
			r = nil
		} else {
			if c.Config.OpenStdin && !c.Config.Tty {
				// A pipe of the monitor's: input comes from the attached clients.
				if cfg.Stdin, stdin, err = os.Pipe(); err != nil {
					return m.fail(err)
				}
			}
			cfg.Created = func(pid int) error {
				if err := e.networkUp(id, pid); err != nil {
					return err
				}
				in := stdin
				if master != nil {
					in = master
				}
				hub.Begin(in, master, kill)
				if run == 0 && m.attached {
					hub.Serve(m.starter)
				}
				return nil
			}
			cfg.Started = func(pid int) error {
				now := time.Now().UTC()
				rec, err := e.update(id, func(c *Container) error {
					if run > 0 && c.HasBeenManuallyStopped {
						return errStoppedMeanwhile
					}
					c.State = ContainerState{Status: StatusRunning, Pid: pid, StartedAt: now, MonitorPid: os.Getpid(), MonitorStart: m.myStart}
					if args, _ := c.Config.Healthcheck.args(); args != nil {
						c.State.Health = &Health{Status: HealthStarting, Log: []HealthResult{}}
					}
					return nil
				})
				if err != nil {
					return err
				}
				startedAt = now
				if run == 0 {
					m.send(monitor.Control{Pid: pid})
				}
				e.event(rec, "start")
				stopHealth = e.startHealth(rec)
				return nil
			}
			cfg.Suspend = m.idle(c)
			// The rootfs is in use from before the runtime creates the container
			// (the start that mounted it may be gone, and a restart has none)
			// until its run ends: nobody unmounts it meanwhile (engine/image.go).
			var release func()
			if _, release, err = e.Rootfs(id); err == nil {
				ex, susp, err = monitor.Run(cfg)
				release()
			}
		}
		for susp != nil {
			// Idle: the resident form takes over, in this process's place.
			serr := m.handOver(cfg, susp, stdin, run, startedAt)
			fmt.Fprintln(os.Stderr, "hull monitor: hand over to the resident monitor:", serr)
			m.accept()
			ex, susp, err = monitor.Resume(cfg, susp)
		}
		if stopHealth != nil {
			stopHealth()
		}
		if stdin != nil {
			cfg.Stdin.Close()
			stdin.Close()
		}
		e.networkDown(id)
		code := ex.Code
		if startedAt.IsZero() {
			if err == nil {
				err = errors.New("container did not start")
			}
			code = ExitCodeOf(err)
			if run == 0 {
				e.update(id, func(c *Container) error {
					c.State.ExitCode, c.State.Error = code, err.Error()
					return nil
				})
				if c.HostConfig.AutoRemove {
					e.removeFiles(id, rt)
				} else {
					e.unmountIdle(id)
				}
				m.send(monitor.Control{Error: err.Error(), Code: code})
				return err
			}
			// A restart that could not start counts as an exit with its code.
			ex.At = time.Now().UTC()
			if err == errStoppedMeanwhile {
				code, err = m.prevCode, nil
			}
		}
		m.prevCode = code
		ran := time.Duration(0)
		if !startedAt.IsZero() {
			ran = ex.At.Sub(startedAt)
		}
		// The record decides what now: the user may have stopped it meanwhile.
		restart := false
		var delay time.Duration
		rec, uerr := e.update(id, func(c *Container) error {
			restart = c.HostConfig.RestartPolicy.shouldRestart(code, c.RestartCount, c.HasBeenManuallyStopped)
			c.State.ExitCode, c.State.OOMKilled, c.State.FinishedAt, c.State.Pid = code, ex.OOMKilled, ex.At, 0
			c.State.Stopping, c.State.Error = 0, ""
			if err != nil {
				c.State.Error = err.Error()
			}
			if restart {
				c.State.Status = StatusRestarting
				c.RestartCount++
				delay = m.bo.next(ran)
			} else {
				c.State.Status = StatusExited
				c.State.MonitorPid, c.State.MonitorStart = 0, 0
			}
			return nil
		})
		if uerr == nil {
			e.exited(rec, code, ex.OOMKilled)
		}
		// The record's flag, not the one loaded at start: `hull restart` of a --rm
		// container suspends it while it stops the container.
		autoRemove := c.HostConfig.AutoRemove
		if uerr == nil {
			autoRemove = rec.HostConfig.AutoRemove
		}
		if !restart && autoRemove {
			e.removeFiles(id, rt)
		} else if !restart {
			e.unmountIdle(id) // it ended for good: no mount for a stopped container
		}
		hub.End(code)
		if !restart {
			return err
		}
		if !e.backoffWait(id, delay, m.wake) {
			e.update(id, func(c *Container) error {
				if c.State.Status == StatusRestarting {
					c.State.Status = StatusExited
					c.State.MonitorPid, c.State.MonitorStart = 0, 0
				}
				return nil
			})
			e.unmountIdle(id)
			return nil
		}
	}
}

// idle returns the channel that asks a run's supervision to suspend, once the
// container has run ResidentIdle with nobody attached, for the resident form to
// take over; nil if it never will: a health check runs in this process, and
// hull-monitor may not be there.
func (m *monitorRun) idle(c *Container) chan struct{} {
	if ResidentIdle <= 0 || m.e.ResidentPath() == "" {
		return nil
	}
	if args, _ := c.Config.Healthcheck.args(); args != nil {
		return nil
	}
	ch := make(chan struct{}, 1)
	go func() {
		for {
			time.Sleep(ResidentIdle)
			// Nobody may join while the clients are counted: stop accepting.
			m.l.SetDeadline(time.Now())
			<-m.accepted
			if m.hub.Clients() == 0 {
				ch <- struct{}{}
				return
			}
			m.accept()
		}
	}()
	return ch
}

// handOver execs hull-monitor in this process's place with the running container
// r. It returns only if that failed, with the attach socket no longer accepted
// on (see accept).
func (m *monitorRun) handOver(cfg monitor.Config, r *monitor.Running, stdin *os.File, run int, startedAt time.Time) error {
	lf, err := m.l.File()
	if err != nil {
		return err
	}
	defer lf.Close()
	ms := monitorState{Run: run, StartedAt: startedAt, Backoff: m.bo.d, PrevCode: m.prevCode, StdinR: -1, StdinW: -1}
	var keep []int
	if stdin != nil {
		ms.StdinR, ms.StdinW = resident.Fd(cfg.Stdin), resident.Fd(stdin)
		keep = []int{ms.StdinR, ms.StdinW}
	}
	engine, err := json.Marshal(ms)
	if err != nil {
		return err
	}
	s := &resident.Handover{
		Exe:  m.e.Exe,
		Args: []string{m.e.Exe, "--root", m.e.Root, "--state", m.e.StateDir, "monitor", "--resume", m.id},
		ID:   m.id, Pid: r.Pid,
		Out: resident.Fd(r.Out), Err: -1, Listener: resident.Fd(lf), Keep: keep,
		LogPath: m.e.LogPath(m.id), LogOpts: m.logOpts, Pending: r.Pending, Engine: engine,
		Environ: os.Environ(),
	}
	if r.Err != nil {
		s.Err = resident.Fd(r.Err)
	}
	// The arguments are for ps: hull-monitor runs by the state alone.
	exe := m.e.ResidentPath()
	// No transparent huge pages for the resident (the setting outlives execve):
	// where THP is "always" (Debian's kernels) its heap's first touch takes a 2 MB
	// page, and it would sit at 2.2 MB instead of 0.65 MB. `monitor --resume` turns
	// it back on before it starts anything.
	unix.Prctl(unix.PR_SET_THP_DISABLE, 1, 0, 0, 0)
	err = resident.Exec(exe, []string{exe, "--root", m.e.Root, "--state", m.e.StateDir, m.id}, s, resident.ResidentEnv...)
	unix.Prctl(unix.PR_SET_THP_DISABLE, 0, 0, 0, 0)
	return err
}
