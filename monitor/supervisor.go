package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"time"

	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/monitor/resident"
	"github.com/hullproject/hull/ociruntime"
	"golang.org/x/sys/unix"
)

// Main is a monitor process, from its command line (ParseArgs) to the container's
// end for good: it opens the engine with open (the engine's root and state
// directories) and supervises the container through the restarts of its policy,
// serving attach and running its health check. A fresh monitor tells the starting
// command how the start went (fd 3); the error Main returns is for the process's
// own stderr.
//
// The monitor stays beside a running container, one per container, so its idle
// memory is what a host full of containers pays: Main tunes the process for that
// (and cmd/hull calls it before building its command tree, which would stay on
// the heap). It takes the process's descriptors and its GC settings over, and
// returns only when the monitor is done.
func Main(a Args, open func(root, state string) (Engine, error)) error {
	// The monitor outlives its caller: descriptors the caller leaked to it (a
	// shell's, a test's) must not live on in it, nor pass to what it starts or
	// execs. Its own sync socket is fd 3.
	unix.CloseRange(4, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	// One P: the monitor waits on a few descriptors, and every P keeps a cache of
	// heap spans and wants a thread.
	goruntime.GOMAXPROCS(1)
	if a.Resume {
		return mainResume(a, open)
	}
	// Creating and starting the container (spec, seccomp filter, mounts) leaves a
	// few MB of garbage that the first GC, due at a 4 MB heap, would leave for a
	// long time in an idle monitor: collect it and give it back to the kernel once
	// the container runs (under load the start may take a few seconds). From then
	// on the heap is about 1.5 MB, and log lines would let garbage grow to 4 MB
	// before each GC: a GC at +25 % keeps a chatty container's monitor ~2 MB
	// smaller, for a GC every few hundred KB of output.
	//
	// Until then no GC at all: the start allocates past the first GC's 4 MB
	// mostly in buffers it hardly touches (a 1 MB one per message from init), and
	// with one P that GC ran inline on the start's critical path (perf: 6.5 % of
	// the monitor's samples in gcAssistAlloc, ~0.5 ms of a run --rm's). The
	// memory limit bounds a start that allocates far more than that.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(startMemoryLimit)
	go func() {
		for _, d := range []time.Duration{time.Second, 10 * time.Second} {
			time.Sleep(d)
			debug.SetMemoryLimit(math.MaxInt64)
			debug.SetGCPercent(25)
			debug.FreeOSMemory()
		}
	}()
	e, err := open(a.Root, a.State)
	if err != nil {
		return err
	}
	return mainFresh(e, a, os.NewFile(3, "sync"))
}

// startMemoryLimit is the Go heap (and the runtime's other memory) a monitor's
// start may reach before it collects garbage: the start runs without GC, and a
// start's garbage is a few MB.
const startMemoryLimit = 64 << 20

// mainFresh is a fresh monitor: sync is its socket to the starting command.
func mainFresh(e Engine, a Args, sync *os.File) error {
	s := &supervisor{e: e, a: a, id: a.ID, hub: &Hub{}}
	if fc, err := net.FileConn(sync); err == nil {
		s.starter, _ = fc.(*net.UnixConn)
	}
	sync.Close()
	if s.id == NamedLater {
		// Started before its container existed: the first message names it; the
		// socket's end says there is none.
		if s.starter == nil {
			return errors.New("no container to monitor")
		}
		buf := make([]byte, 128)
		n, err := s.starter.Read(buf)
		if err != nil || n < 2 || buf[0] != MsgContainer {
			return errors.New("no container to monitor")
		}
		s.id = string(buf[1:n])
	}
	if s.starter != nil && a.Attached {
		s.attached = true
		s.hub.Add(s.starter, true)
	}
	if err := BecomeSubreaper(); err != nil {
		return s.fail(err)
	}
	if err := s.setup(nil); err != nil {
		return s.fail(err)
	}
	defer s.close()
	r, err := s.run(0)
	if err != nil {
		return s.fail(err)
	}
	return s.loop(r)
}

// mainResume is the monitor taking its container back from hull-monitor, its
// resident form, which exec'd it with the container's state in the environment
// (monitor/resident): the container ended, or a client attached.
func mainResume(a Args, open func(root, state string) (Engine, error)) error {
	// The resident ran without transparent huge pages (handOver); a container
	// this monitor starts again must not inherit that.
	unix.Prctl(unix.PR_SET_THP_DISABLE, 0, 0, 0, 0)
	h, err := resident.Load()
	if err != nil {
		return err
	}
	e, err := open(a.Root, a.State)
	if err != nil {
		return err
	}
	if err := BecomeSubreaper(); err != nil {
		return err
	}
	s := &supervisor{e: e, a: a, id: h.ID, hub: &Hub{}}
	var st handoverState
	if err := json.Unmarshal(h.Engine, &st); err != nil {
		return fmt.Errorf("monitor state: %w", err)
	}
	if err := s.setup(h); err != nil {
		return err
	}
	defer s.close()
	return s.loop(s.resume(h, st))
}

// ResidentIdle is how long a container runs with nobody attached before its
// monitor hands it to hull-monitor, the resident form of itself (see
// monitor/resident): a short-lived container (`run --rm ... true`) never pays for
// the handover, a long-lived one keeps a monitor of conmon's size. Zero turns
// handing over off.
var ResidentIdle = time.Second

// residentPath is hull-monitor, found beside exe, the engine's binary ($HULL_MONITOR
// names another); "" if it is not there (the monitor then stays whole).
func residentPath(exe string) string {
	if p := os.Getenv("HULL_MONITOR"); p != "" {
		return p
	}
	p := filepath.Join(filepath.Dir(exe), "hull-monitor")
	if unix.Access(p, unix.X_OK) != nil {
		return ""
	}
	return p
}

// handoverState is what the monitor carries across its resident form, in
// resident.Handover.Engine.
type handoverState struct {
	Run       int           `json:"run"`
	StartedAt time.Time     `json:"startedAt"`
	Backoff   time.Duration `json:"backoff"`
	PrevCode  int           `json:"prevCode"`
	// StdinR and StdinW are the container's stdin pipe (-1: none): the read end
	// given to it, the write end fed by attached clients.
	StdinR int `json:"stdinR"`
	StdinW int `json:"stdinW"`
}

// supervisor is one monitor process's supervision of a container.
type supervisor struct {
	e        Engine
	a        Args
	id       string
	exe      string // the engine's binary: this process's
	c        *Container
	rt       ociruntime.Runtime
	hub      *Hub
	lw       *logs.Writer
	l        *net.UnixListener
	accepted chan struct{} // closed when the accepting goroutine returns
	starter  *net.UnixConn
	attached bool
	wake     chan os.Signal
	bo       backoff
	prevCode int
	finish   []func() error // left by remove for after the end is reported
}

// round is one run of the container under this monitor.
type round struct {
	// n counts the runs before it since the user's start: 0 is the start's own,
	// whose starter hears how it went.
	n   int
	cfg Config
	// stdin is the write end of the container's stdin pipe, fed by the attached
	// clients (cfg.Stdin the read end); nil: none.
	stdin      *os.File
	startedAt  time.Time // zero: it did not start
	stopHealth func()
	ex         Exit
	susp       *Running // the container, if its supervision was suspended (idle)
	err        error
}

// send tells the starter how the start went; the first run's only.
func (s *supervisor) send(msg Control) {
	if s.attached {
		s.hub.Control(msg)
	} else if s.starter != nil {
		SendControl(s.starter, msg)
		s.starter.Close()
		s.starter = nil
	}
}

func (s *supervisor) fail(err error) error {
	s.send(Control{Error: err.Error(), Code: 125})
	return err
}

// setup loads the container and opens its log and attach socket; from h (a
// resumption) the socket is the one handed over.
func (s *supervisor) setup(h *resident.Handover) error {
	// Before any record says "restarting" (the engine sends it then).
	s.wake = make(chan os.Signal, 1)
	signal.Notify(s.wake, WakeSignal)
	var err error
	if s.c, err = s.e.Container(s.id); err != nil {
		return err
	}
	s.rt = s.c.Runtime
	opts, err := logs.ParseOptions(s.c.LogOpts)
	if err != nil {
		return err
	}
	if s.lw, err = logs.Create(s.c.LogPath, opts); err != nil {
		return err
	}
	if h != nil && h.Listener >= 0 {
		f := resident.File(h.Listener, "attach")
		fl, ferr := net.FileListener(f)
		f.Close()
		if ferr != nil {
			return fmt.Errorf("attach socket: %w", ferr)
		}
		s.l = fl.(*net.UnixListener)
		s.l.SetUnlinkOnClose(false)
	} else if s.l, err = s.e.ListenAttach(s.id); err != nil {
		return err
	}
	s.accept()
	s.exe, _ = os.Executable()
	return nil
}

func (s *supervisor) accept() {
	s.l.SetDeadline(time.Time{})
	s.accepted = make(chan struct{})
	go func() { defer close(s.accepted); s.hub.Accept(s.l) }()
}

func (s *supervisor) close() {
	s.l.Close()
	os.Remove(s.c.AttachSocket)
	s.lw.Close()
}

// config is what Run and Resume supervise, for a round.
func (s *supervisor) config() Config {
	return Config{
		Runtime: s.rt, ID: s.id, Bundle: s.c.Bundle, Log: s.lw,
		Tty: s.c.Tty, TeeStdout: s.hub.Stdout(), TeeStderr: s.hub.Stderr(),
	}
}

// kill sends a client's signal (--sig-proxy) to the container; not on the hub's
// goroutine, which may run while the container is created, with the children's
// lock held.
func (s *supervisor) kill(sig unix.Signal) {
	go OwnChildren(func() { s.rt.Kill(s.id, sig, false) })
}

// loop supervises the container from round r on until it ends for good: after
// each run it records the end, and runs the container again as its restart
// policy says. While a run goes on with nobody attached, the resident form
// supervises it in this process's place (handOver).
func (s *supervisor) loop(r *round) error {
	for {
		for r.susp != nil {
			// Idle: the resident form takes over, in this process's place.
			err := s.handOver(r)
			fmt.Fprintln(os.Stderr, "hull monitor: hand over to the resident monitor:", err)
			s.accept()
			r.ex, r.susp, r.err = Resume(r.cfg, r.susp)
		}
		restart, delay, err := s.afterExit(r)
		if !restart {
			return err
		}
		if !s.waitRestart(delay) {
			s.e.RestartAbandoned(s.id)
			s.e.UnmountIdle(s.id)
			return nil
		}
		if r, err = s.run(r.n + 1); err != nil {
			return s.fail(err)
		}
	}
}

// run is run n of the container: it creates and starts it through the runtime
// and supervises it until it ends (or is suspended). An error is one of the
// monitor's own, before the container was created.
func (s *supervisor) run(n int) (*round, error) {
	r := &round{n: n, cfg: s.config()}
	var master *os.File
	r.cfg.Console = func(f *os.File) { master = f }
	if s.c.OpenStdin && !s.c.Tty {
		// A pipe of the monitor's: input comes from the attached clients.
		var err error
		if r.cfg.Stdin, r.stdin, err = os.Pipe(); err != nil {
			return nil, err
		}
	}
	r.cfg.Created = func(pid int) error {
		if err := s.e.NetworkUp(s.id, pid); err != nil {
			return err
		}
		in := r.stdin
		if master != nil {
			in = master
		}
		s.hub.Begin(in, master, s.kill)
		if n == 0 && s.attached {
			s.hub.Serve(s.starter)
		}
		return nil
	}
	r.cfg.Started = func(pid int) error {
		now := time.Now().UTC()
		if err := s.e.Started(s.id, Start{Pid: pid, At: now, Restart: n > 0, Health: newHealth(s.c.Healthcheck)}); err != nil {
			return err
		}
		r.startedAt = now
		if n == 0 {
			s.send(Control{Pid: pid})
		}
		r.stopHealth = s.startHealth(pid)
		return nil
	}
	r.cfg.Suspend = s.idle()
	// The rootfs is in use from before the runtime creates the container (the
	// start that mounted it may be gone, and a restart has none) until its run
	// ends: nobody unmounts it meanwhile (engine/image.go).
	release, err := s.e.UseRootfs(s.id)
	if err != nil {
		r.err = err
		return r, nil
	}
	r.ex, r.susp, r.err = Run(r.cfg)
	release()
	return r, nil
}

// resume is the round a resumed monitor picks up from the resident form h: the
// container ended (it only finishes it), or a client came (it supervises it on).
func (s *supervisor) resume(h *resident.Handover, st handoverState) *round {
	r := &round{n: st.Run, cfg: s.config(), startedAt: st.StartedAt}
	s.bo.d, s.prevCode = st.Backoff, st.PrevCode
	if st.StdinR >= 0 {
		r.cfg.Stdin, r.stdin = os.NewFile(uintptr(st.StdinR), "stdin"), resident.File(st.StdinW, "stdin")
	}
	if h.Reason == resident.ReasonExited {
		s.hub.Begin(nil, nil, nil)
		r.ex, r.err = Finish(r.cfg, Exit{Code: h.Code, At: h.At})
		return r
	}
	r.susp = &Running{Pid: h.Pid, Out: resident.File(h.Out, "stdout"), Pending: h.Pending}
	if h.Err >= 0 {
		r.susp.Err = resident.File(h.Err, "stderr")
	}
	in, master := r.stdin, (*os.File)(nil)
	if s.c.Tty {
		master, in = r.susp.Out, r.susp.Out
	}
	s.hub.Begin(in, master, s.kill)
	for _, fd := range h.Clients {
		f := os.NewFile(uintptr(fd), "client")
		fc, ferr := net.FileConn(f)
		f.Close()
		if conn, ok := fc.(*net.UnixConn); ferr == nil && ok {
			s.hub.Add(conn, false)
			s.hub.Serve(conn)
		}
	}
	r.cfg.Suspend = s.idle()
	r.ex, r.susp, r.err = Resume(r.cfg, r.susp)
	return r
}

// afterExit is the end of round r: it records how the container ended and
// decides with the restart policy whether it runs again, and after what backoff.
// A container that ended for good is removed (--rm) or its rootfs unmounted; then
// the attached clients hear its end. err is why the round could not start, if it
// did not.
func (s *supervisor) afterExit(r *round) (restart bool, delay time.Duration, err error) {
	if r.stopHealth != nil {
		r.stopHealth()
	}
	if r.stdin != nil {
		r.cfg.Stdin.Close()
		r.stdin.Close()
	}
	// The veths' deletion (10-40 ms of the kernel's) and a --rm container's
	// snapshot and files after the end is reported: the start's client, `run
	// --rm`, waits for that report.
	netDone := s.e.NetworkDown(s.id)
	defer func() {
		netDone()
		for _, f := range s.finish {
			f()
		}
		s.finish = nil
	}()
	code, err := r.ex.Code, r.err
	if r.startedAt.IsZero() {
		if err == nil {
			err = errors.New("container did not start")
		}
		code = s.e.ExitCode(err)
		if r.n == 0 {
			s.e.StartFailed(s.id, code, err)
			if s.c.AutoRemove {
				s.remove()
			} else {
				s.e.UnmountIdle(s.id)
			}
			s.send(Control{Error: err.Error(), Code: code})
			return false, 0, err
		}
		// A restart that could not start counts as an exit with its code.
		r.ex.At = time.Now().UTC()
		if errors.Is(err, ErrStopped) {
			code, err = s.prevCode, nil
		}
	}
	s.prevCode = code
	ran := time.Duration(0)
	if !r.startedAt.IsZero() {
		ran = r.ex.At.Sub(r.startedAt)
	}
	// The record decides what now: the user may have stopped it meanwhile.
	ex := Exit{Code: code, OOMKilled: r.ex.OOMKilled, At: r.ex.At}
	autoRemove, rerr := s.e.Exited(s.id, ex, err, func(p RestartPolicy, restarts int, stopped bool) bool {
		restart = p.ShouldRestart(code, restarts, stopped)
		return restart
	})
	if restart {
		delay = s.bo.next(ran)
	}
	// The record's flag, not the one loaded at start: `hull restart` of a --rm
	// container suspends it while it stops the container.
	if rerr != nil {
		autoRemove = s.c.AutoRemove
	}
	if !restart && autoRemove {
		s.remove()
	} else if !restart {
		s.e.UnmountIdle(s.id) // it ended for good: no mount for a stopped container
	}
	s.hub.End(code)
	return restart, delay, err
}

// remove removes the container for good (--rm); what nobody waits for (its
// snapshot, whose overlay's unmount syncs and waits for an RCU grace period, and
// its files) is left for after the end is reported (s.finish, run by afterExit).
func (s *supervisor) remove() {
	if finish, err := s.e.Remove(s.id, s.rt); err == nil {
		s.finish = append(s.finish, finish)
	}
}

// idle returns the channel that asks a run's supervision to suspend, once the
// container has run ResidentIdle with nobody attached, for the resident form to
// take over; nil if it never will: a health check runs in this process, and
// hull-monitor may not be there.
func (s *supervisor) idle() chan struct{} {
	if ResidentIdle <= 0 || residentPath(s.exe) == "" {
		return nil
	}
	if args, _ := s.c.Healthcheck.Args(); args != nil {
		return nil
	}
	ch := make(chan struct{}, 1)
	go func() {
		for {
			time.Sleep(ResidentIdle)
			// Nobody may join while the clients are counted: stop accepting.
			s.l.SetDeadline(time.Now())
			<-s.accepted
			if s.hub.Clients() == 0 {
				ch <- struct{}{}
				return
			}
			s.accept()
		}
	}()
	return ch
}

// handOver execs hull-monitor in this process's place with the running container
// of round r. It returns only if that failed, with the attach socket no longer
// accepted on (see accept).
func (s *supervisor) handOver(r *round) error {
	lf, err := s.l.File()
	if err != nil {
		return err
	}
	defer lf.Close()
	st := handoverState{Run: r.n, StartedAt: r.startedAt, Backoff: s.bo.d, PrevCode: s.prevCode, StdinR: -1, StdinW: -1}
	var keep []int
	if r.stdin != nil {
		st.StdinR, st.StdinW = resident.Fd(r.cfg.Stdin), resident.Fd(r.stdin)
		keep = []int{st.StdinR, st.StdinW}
	}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	back := Args{Root: s.a.Root, State: s.a.State, ID: s.id, Resume: true}
	h := &resident.Handover{
		Exe:  s.exe,
		Args: append([]string{s.exe}, back.Encode()...),
		ID:   s.id, Pid: r.susp.Pid,
		Out: resident.Fd(r.susp.Out), Err: -1, Listener: resident.Fd(lf), Keep: keep,
		LogPath: s.c.LogPath, LogOpts: s.c.LogOpts, Pending: r.susp.Pending, Engine: state,
		Environ: os.Environ(),
	}
	if r.susp.Err != nil {
		h.Err = resident.Fd(r.susp.Err)
	}
	// The arguments are for ps: hull-monitor runs by the state alone.
	exe := residentPath(s.exe)
	// No transparent huge pages for the resident (the setting outlives execve):
	// where THP is "always" (Debian's kernels) its heap's first touch takes a 2 MB
	// page, and it would sit at 2.2 MB instead of 0.65 MB. A resumed monitor
	// turns it back on before it starts anything.
	unix.Prctl(unix.PR_SET_THP_DISABLE, 1, 0, 0, 0)
	err = resident.Exec(exe, append([]string{exe}, back.ResidentArgs()...), h, nil)
	unix.Prctl(unix.PR_SET_THP_DISABLE, 0, 0, 0, 0)
	return err
}
