package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/runtime/cgroups"
	"github.com/hullproject/hull/runtime/console"
	"github.com/hullproject/hull/runtime/nsenter"
	"github.com/hullproject/hull/runtime/rootfs"
	"github.com/hullproject/hull/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/internal/trace"
)

// CreateOpts are the options of `hullrt create` (and of `run`, which creates first).
type CreateOpts struct {
	Root          string // the state root (--root)
	ID            string
	Bundle        string
	PidFile       string
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFds   int
	// Rootless is runc's rootless mode (--rootless): the container gets a cgroup
	// only in a subtree delegated to the caller, and no limits without one.
	Rootless bool
	// SystemdCgroup is --systemd-cgroup: the container's cgroup is a transient
	// systemd scope unit named by linux.cgroupsPath "slice:prefix:name"
	// (cgroups.NewSystemd).
	SystemdCgroup bool
	// Stdin, Stdout, Stderr are the container's stdio when it has no terminal.
	Stdin, Stdout, Stderr *os.File
	// Console receives the pty master instead of a console socket (`run` in the
	// foreground with a terminal). Nil means --console-socket, or no terminal.
	Console func(master *os.File)
	// Log receives warnings: what the spec asks for and cannot be had, such as a
	// capability the runtime does not hold. Nil drops them.
	Log *slog.Logger
	// Trace records the kernel steps of the create, init's among them (init
	// writes to the same file, through a descriptor it never lets reach the
	// program). Nil: no trace.
	Trace *trace.Tracer
}

// Create makes a container from a bundle and leaves its init waiting for Start. On
// any error nothing is left: no state, no cgroup, no process.
func Create(o CreateOpts) (c *Container, err error) {
	if err := CheckID(o.ID); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	t0 := o.Trace.Now()
	spec, err := LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	var filter *seccomp.Filter
	err = validate(spec, bundle, &filter)
	o.Trace.Step(t0, trace.Process, "read", err, trace.Args{File: "config.json", Detail: "load and validate the spec"})
	if err != nil {
		return nil, err
	}
	if err := checkRootless(spec); err != nil {
		return nil, err
	}
	if spec.Process.Terminal && o.ConsoleSocket == "" && o.Console == nil {
		return nil, errors.New("a terminal needs --console-socket when the container is detached")
	}
	if !spec.Process.Terminal && o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket needs process.terminal to be true")
	}
	if err := os.MkdirAll(o.Root, 0o711); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	dir := filepath.Join(o.Root, o.ID)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container with id %s already exists", o.ID)
		}
		return nil, fmt.Errorf("state directory: %w", err)
	}
	c = &Container{ID: o.ID, dir: dir, Log: o.Log, Trace: o.Trace}
	unlock, err := c.lock()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer unlock()

	var cg *cgroups.Manager
	var child *exec.Cmd
	var initProc *os.Process // child's, or its child's when nsenter forks (a new pid namespace in a joined user one)
	defer func() {
		if err == nil {
			return
		}
		if initProc != nil && child != nil && initProc != child.Process {
			initProc.Kill()
			initProc.Wait()
		}
		if child != nil && child.Process != nil {
			child.Process.Kill()
			child.Wait()
		}
		if cg != nil {
			if cg.Exists() {
				cg.Kill(unix.SIGKILL)
			}
			cg.Destroy()
		}
		os.RemoveAll(dir)
	}()

	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if rootfs, err = filepath.EvalSymlinks(rootfs); err != nil {
		return nil, fmt.Errorf("root.path: %w", err)
	}
	resources := withDefaultDevices(spec)
	switch {
	case o.Rootless && o.SystemdCgroup:
		err = errors.New("--systemd-cgroup: not supported in rootless mode (systemd's user instance is not used)")
	case o.Rootless:
		cg, err = rootlessCgroup(spec, o.ID)
	case o.SystemdCgroup:
		cg, err = cgroups.NewSystemd(spec.Linux.CgroupsPath, o.ID, resources, spec.Annotations)
	default:
		cg, err = cgroups.New(spec.Linux.CgroupsPath, o.ID)
	}
	if err != nil {
		return nil, err
	}
	c.Record = Record{
		OCIVersion: spec.Version, ID: o.ID, Bundle: bundle, Rootfs: rootfs,
		Created: time.Now().UTC(), Annotations: spec.Annotations, Config: spec,
	}
	if cg != nil {
		c.Record.Cgroup = cg.Path()
		cg.Trace(o.Trace)
	}
	fifo := filepath.Join(dir, "exec.fifo")
	t0 = o.Trace.Now()
	err = unix.Mkfifo(fifo, 0o600)
	o.Trace.Step(t0, trace.Process, "mkfifo", err, trace.Args{Target: "exec.fifo"})
	if err != nil {
		return nil, fmt.Errorf("make exec fifo: %w", err)
	}
	// In a user namespace init is the namespace's root, a stranger to the host's
	// uid 0: the fifo must be its own for it to open it for writing (as runc does).
	// A rootless runtime can give it to no one else, and needs not: its
	// container's root is the caller itself (checkRootless).
	if uid, gid, ok := containerRootIDs(spec); ok && !unprivileged() {
		if err := os.Chown(fifo, uid, gid); err != nil {
			return nil, fmt.Errorf("exec fifo: %w", err)
		}
	}
	t0 = o.Trace.Now()
	fifoFile, err := os.OpenFile(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifoFile.Close()

	b := &bootstrap{
		ID: o.ID, Spec: spec, Process: *spec.Process, Rootfs: rootfs, Bundle: bundle,
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring, PreserveFds: o.PreserveFds, filter: filter,
		Hooks: spec.Hooks != nil && (len(spec.Hooks.Prestart)+len(spec.Hooks.CreateRuntime)+len(spec.Hooks.CreateContainer) > 0),
	}
	s, parentEnd, err := c.initCommand(spec, b, o, fifoFile)
	if err != nil {
		return nil, err
	}
	grantCaps(&b.Process, s.joinsUserNS(), logger(o.Log))
	defer parentEnd.close()
	if s.mapRelease != nil {
		defer s.mapRelease.Close()
	}
	b.Mounts = expandMounts(spec, bundle, cg)
	// The C init does the work when it can (cinit.go): no second Go runtime.
	var ops []byte
	if goInitReason(spec, b, s, o) == "" {
		if ops, err = compileInit(b); err == nil {
			s.cmd.Env = append(s.cmd.Env, nsenter.OpsEnv+"=1")
		} else {
			ops, err = nil, nil
		}
	}
	o.Trace.Step(t0, trace.Process, "fsopen+socketpair+open", nil, trace.Args{
		Detail: "init's command: this binary sealed (a read-only overlay mounted nowhere, or a sealed memfd), the sync socket pair, the namespaces to join opened; the capabilities this runtime can grant"})
	// The child joins the cgroup as it starts, before it runs any of hull's Go code
	// (cgroups.JoinFiles: far cheaper than moving it by pid), so that its cgroup
	// namespace (made later) is rooted at the container's cgroup, and every process
	// it starts is accounted and limited from the first instruction.
	// systemd starts a scope with a process in it: init joins it once started
	// (below), before it is sent what to do, so before it makes its cgroup
	// namespace.
	if cg != nil && !cg.Systemd() {
		if err := cg.Apply(0); err != nil {
			s.release()
			return nil, err
		}
		if err := joinCgroupAtStart(s, cg); err != nil {
			s.release()
			return nil, err
		}
	}
	if s.fork {
		// init is the grandchild; when the constructor's intermediate exits, it
		// is reparented to us, so that `run` can wait for it.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			s.release()
			return nil, fmt.Errorf("become subreaper: %w", err)
		}
	}
	child = s.cmd
	s.tr = o.Trace
	err = s.start()
	s.release()
	if err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	initProc = child.Process
	if s.fork {
		if initProc, err = forkedProcess(parentEnd, child); err != nil {
			return nil, fmt.Errorf("start init: %w", err)
		}
	}
	c.Record.Pid = initProc.Pid
	if cg != nil && cg.Systemd() {
		if err := cg.Apply(c.Record.Pid); err != nil {
			return nil, err
		}
	}
	if s.mapRelease != nil {
		t0 = o.Trace.Now()
		err := writeIDMaps(c.Record.Pid, spec, s.mapRelease)
		o.Trace.Step(t0, trace.Namespaces, "write", err, trace.Args{File: "uid_map, gid_map", Detail: "through newuidmap/newgidmap"})
		if err != nil {
			return nil, err
		}
	}
	if c.Record.PidStart, err = proc.StartTime(c.Record.Pid); err != nil {
		return nil, fmt.Errorf("init exited at once: %w", err)
	}
	t0 = o.Trace.Now()
	err = c.saveInitRecord()
	o.Trace.Step(t0, trace.Process, "write", err, trace.Args{File: "init.json", Detail: "init's pid and start time"})
	if err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	if cg != nil {
		if err := cg.Set(resources); err != nil {
			return nil, err
		}
	}
	if spec.Process.OOMScoreAdj != nil {
		t0 = o.Trace.Now()
		adj := []byte(strconv.Itoa(*spec.Process.OOMScoreAdj))
		err := os.WriteFile("/proc/"+strconv.Itoa(c.Record.Pid)+"/oom_score_adj", adj, 0)
		o.Trace.Step(t0, trace.Process, "write", err, trace.Args{File: "oom_score_adj", Value: string(adj)})
		if err != nil {
			return nil, fmt.Errorf("process.oomScoreAdj: %w", err)
		}
	}
	b.Pid = c.Record.Pid
	if o.Trace.On() {
		// init's first record is its wait for this message: from here to its
		// arrival (its own start, if that is slower than this side's work).
		b.SentAt = time.Now().UnixNano()
	}
	// Bind sources are cloned on the host for a container in a user namespace,
	// unless it joins a mount namespace, where init finds them as before.
	hostBinds := b.UserNS
	for _, ns := range spec.Linux.Namespaces {
		hostBinds = hostBinds && !(ns.Type == specs.MountNamespace && ns.Path != "")
	}
	if ops != nil {
		if _, err := parentEnd.f.Write(ops); err != nil {
			return nil, fmt.Errorf("send bootstrap: %w", err)
		}
	} else {
		if err := sendTrees(parentEnd, b.Mounts, c.Record.Pid, hostBinds); err != nil {
			return nil, err
		}
		if err := parentEnd.send(message{Type: msgBootstrap, Bootstrap: b}); err != nil {
			return nil, fmt.Errorf("send bootstrap: %w", err)
		}
	}
	if err := c.serveInit(parentEnd, spec, o); err != nil {
		return nil, err
	}
	t0 = o.Trace.Now()
	err = c.save()
	o.Trace.Step(t0, trace.Process, "write", err, trace.Args{File: "state.json"})
	if err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, c.Record.Pid); err != nil {
			return nil, err
		}
	}
	// `create` does not wait for the child: it outlives this process, and its parent
	// becomes the caller's subreaper (conmon, containerd's shim) or pid 1. `run`
	// waits for it through Wait.
	c.init = initProc
	return c, nil
}

// joinCgroupAtStart makes the child start in the cgroup: the v1 "tasks" files go to
// nsenter's constructor, which writes "0" to each, and the v2 directory to clone3
// (CLONE_INTO_CGROUP). The files are closed by s.release.
func joinCgroupAtStart(s *spawnSpec, cg *cgroups.Manager) error {
	tasks, dir, err := cg.JoinFiles()
	if err != nil {
		return err
	}
	var fds []string
	for _, f := range tasks {
		fds = append(fds, strconv.Itoa(3+len(s.cmd.ExtraFiles)))
		s.cmd.ExtraFiles = append(s.cmd.ExtraFiles, f)
		s.parentOnly = append(s.parentOnly, f)
	}
	if len(fds) > 0 {
		s.cmd.Env = append(s.cmd.Env, nsenter.CgroupEnv+"="+strings.Join(fds, ","))
	}
	if dir != nil {
		s.parentOnly = append(s.parentOnly, dir)
		s.cmd.SysProcAttr.UseCgroupFD = true
		s.cmd.SysProcAttr.CgroupFD = int(dir.Fd())
	}
	return nil
}

// initCommand prepares the child that becomes the container's init.
func (c *Container) initCommand(spec *specs.Spec, b *bootstrap, o CreateOpts, fifo *os.File) (*spawnSpec, *channel, error) {
	exe, err := selfExe()
	if err != nil {
		return nil, nil, err
	}
	parentEnd, childEnd, err := newChannelPair()
	if err != nil {
		return nil, nil, err
	}
	cmd := &exec.Cmd{
		Path:   "/proc/self/fd/" + strconv.Itoa(int(exe.Fd())),
		Args:   []string{"hullrt", "init"},
		Stdin:  o.Stdin,
		Stdout: o.Stdout,
		Stderr: o.Stderr,
	}
	if spec.Process.Terminal {
		// With a terminal the program's stdio is the pty, and init must not hold
		// the caller's: containerd's shim reads `create`'s stdout and stderr
		// to EOF before it calls start, so a pipe kept open by the waiting init
		// deadlocks (runc gives it /dev/null too).
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	}
	for i := 0; i < o.PreserveFds; i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved"))
	}
	syncFd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, childEnd.f)
	b.FifoFd = 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, fifo)
	if f := o.Trace.File(); f != nil {
		// init traces into the same file; the descriptor is above stdio and
		// the preserved ones, so finish marks it close-on-exec with the rest.
		b.TraceFd = 3 + len(cmd.ExtraFiles)
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	cmd.Env = []string{nsenter.InitEnv + "=" + strconv.Itoa(syncFd)}
	s := &spawnSpec{cmd: cmd, parentOnly: []*os.File{childEnd.f}}
	attr := &syscall.SysProcAttr{}
	cmd.SysProcAttr = attr
	joinsUser := false
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.UserNamespace && ns.Path != "" {
			joinsUser = true
		}
	}
	for _, ns := range spec.Linux.Namespaces {
		typ := string(ns.Type)
		if ns.Path == "" {
			switch {
			case ns.Type == specs.CgroupNamespace:
				// made by init once it is in the container's cgroup
				b.NewCgroupNS = true
			case ns.Type == specs.TimeNamespace:
				// made by init just before execve (see newTimeNS)
				b.NewTimeNS = true
			case joinsUser:
				// owned by the joined user namespace, so made after joining it
				s.unshare |= cloneNames[typ]
				// unshare(CLONE_NEWPID) puts only the caller's children in the
				// new pid namespace: the constructor forks, and its child is init
				// (pid 1 there).
				s.fork = s.fork || ns.Type == specs.PIDNamespace
			default:
				attr.Cloneflags |= cloneNames[typ]
			}
			continue
		}
		f, err := os.Open(ns.Path)
		if err != nil {
			s.release()
			parentEnd.close()
			return nil, nil, fmt.Errorf("linux.namespaces: %w", err)
		}
		if sameNamespace(f, procNames[typ]) {
			f.Close()
			continue
		}
		j := nsJoin{typ: typ, file: f}
		switch ns.Type {
		// cgroup too: a parent thread in another cgroup namespace could not clone
		// into the container's cgroup (CLONE_INTO_CGROUP checks the target is
		// below the caller's namespace root, and fails with ENOENT).
		case specs.UserNamespace, specs.MountNamespace, specs.TimeNamespace, specs.CgroupNamespace:
			s.childJoins = append(s.childJoins, j)
		default:
			s.parentJoins = append(s.parentJoins, j)
		}
	}
	// The user namespace goes first, so the joins after it are checked against
	// the capabilities it gives.
	for i, j := range s.childJoins {
		if j.typ == "user" {
			s.childJoins[0], s.childJoins[i] = s.childJoins[i], s.childJoins[0]
		}
	}
	if attr.Cloneflags&unix.CLONE_NEWUSER != 0 && unprivileged() {
		b.UserNS = true
		if s.mapRelease, err = s.mapLater(); err != nil {
			s.release()
			parentEnd.close()
			return nil, nil, err
		}
	} else if attr.Cloneflags&unix.CLONE_NEWUSER != 0 {
		b.UserNS = true
		for _, m := range spec.Linux.UIDMappings {
			attr.UidMappings = append(attr.UidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		for _, m := range spec.Linux.GIDMappings {
			attr.GidMappings = append(attr.GidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		attr.GidMappingsEnableSetgroups = true
		// The child keeps the host's uid 0, which the new namespace does not map:
		// execve would then drop every capability. Becoming the namespace's root
		// once the maps are written (Go does this after they are) keeps them.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if joinsUser {
		b.UserNS = true
	}
	return s, parentEnd, nil
}

// serveInit answers the child until it is ready: hooks, the console, errors.
func (c *Container) serveInit(ch *channel, spec *specs.Spec, o CreateOpts) error {
	for {
		m, fd, err := ch.recv()
		if err != nil {
			if errors.Is(err, errEOF) {
				return errors.New("container init exited before it was ready")
			}
			return fmt.Errorf("read from init: %w", err)
		}
		switch m.Type {
		case msgError:
			if fd >= 0 {
				unix.Close(fd)
			}
			return m.err()
		case msgConsole:
			if fd < 0 {
				return errors.New("init sent no terminal")
			}
			master := os.NewFile(uintptr(fd), "pty-master")
			if err := handOverConsole(master, spec, o); err != nil {
				return err
			}
		case msgHooks:
			st := c.specState(StatusCreating)
			t0 := o.Trace.Now()
			err := runHooks("prestart", spec.Hooks.Prestart, st)
			traceHooks(o.Trace, t0, "prestart", spec.Hooks.Prestart, err)
			if err != nil {
				return err
			}
			t0 = o.Trace.Now()
			err = runHooks("createRuntime", spec.Hooks.CreateRuntime, st)
			traceHooks(o.Trace, t0, "createRuntime", spec.Hooks.CreateRuntime, err)
			if err != nil {
				return err
			}
			if err := ch.send(message{Type: msgHooksDone}); err != nil {
				return fmt.Errorf("resume init: %w", err)
			}
		case msgSeccomp:
			if err := c.sendSeccompListener(fd, c.Record.Pid); err != nil {
				return err
			}
		case msgReady:
			if m.SentAt > 0 {
				o.Trace.Span(time.Unix(0, m.SentAt), time.Now(), trace.Process, "wait", nil, trace.Args{Detail: "init's ready message, until this side runs"})
			}
			// init closes its end right after; create returns only once it
			// has, so that a created container's init holds no descriptor of
			// ours (TestInitDescriptors lists them as soon as create returns).
			m, fd, err := ch.recv()
			switch {
			case errors.Is(err, errEOF):
				return nil
			case err != nil:
				return fmt.Errorf("read from init: %w", err)
			}
			if fd >= 0 {
				unix.Close(fd)
			}
			return fmt.Errorf("unexpected message %q from init after ready", m.Type)
		default:
			return fmt.Errorf("unexpected message %q from init", m.Type)
		}
	}
}

// handOverConsole gives the pty master to whoever asked for it: the console socket
// of --console-socket, or the foreground `run`.
func handOverConsole(master *os.File, spec *specs.Spec, o CreateOpts) error {
	if spec.Process.ConsoleSize != nil {
		_ = console.SetSize(master, uint16(spec.Process.ConsoleSize.Height), uint16(spec.Process.ConsoleSize.Width))
	}
	if o.Console != nil {
		o.Console(master)
		return nil
	}
	defer master.Close()
	sock, err := console.DialSocket(o.ConsoleSocket)
	if err != nil {
		return err
	}
	defer sock.Close()
	return console.SendFd(sock, master.Name(), int(master.Fd()))
}

// containerRootIDs returns the host uid and gid that the container's root maps to
// when it has a user namespace: from the spec's mappings for a new one, and for a
// joined one that comes with its mappings (containerd's pinned pod namespace; init
// checks they are the namespace's, checkJoinedIDMaps); from /proc/PID/{uid,gid}_map
// for one joined through /proc/PID/ns/user. ok is false without a user namespace,
// or when the mapping cannot be known.
func containerRootIDs(spec *specs.Spec) (uid, gid int, ok bool) {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type != specs.UserNamespace {
			continue
		}
		if ns.Path == "" || (len(spec.Linux.UIDMappings) > 0 && len(spec.Linux.GIDMappings) > 0) {
			u, uok := hostID(spec.Linux.UIDMappings)
			g, gok := hostID(spec.Linux.GIDMappings)
			return u, g, uok && gok
		}
		dir, file := filepath.Split(filepath.Clean(ns.Path))
		if file != "user" || filepath.Base(dir) != "ns" {
			return 0, 0, false
		}
		pidDir := filepath.Dir(filepath.Dir(dir))
		u, uok := hostID(readIDMap(filepath.Join(pidDir, "uid_map")))
		g, gok := hostID(readIDMap(filepath.Join(pidDir, "gid_map")))
		return u, g, uok && gok
	}
	return 0, 0, false
}

func hostID(maps []specs.LinuxIDMapping) (int, bool) {
	for _, m := range maps {
		if m.ContainerID == 0 && m.Size > 0 {
			return int(m.HostID), true
		}
	}
	return 0, false
}

func readIDMap(p string) []specs.LinuxIDMapping {
	data, err := atomicfile.ReadFile(p)
	if err != nil {
		return nil
	}
	var out []specs.LinuxIDMapping
	for _, l := range strings.Split(string(data), "\n") {
		var m specs.LinuxIDMapping
		if n, _ := fmt.Sscan(l, &m.ContainerID, &m.HostID, &m.Size); n == 3 {
			out = append(out, m)
		}
	}
	return out
}

// writePidFile writes pid atomically, as runc does (a reader never sees it empty).
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := atomicfile.Replace(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// LoadSpec reads and parses <bundle>/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	data, err := atomicfile.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read config.json: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("parse config.json: %w", err)
	}
	return &spec, nil
}

// withDefaultDevices returns the spec's resources with the device cgroup rules every
// container needs: access to the default devices, ptys, and the devices listed in
// linux.devices, as the runtime-spec requires. They go right after the spec's last
// deny-all rule (which would cancel them), so the spec's narrower rules after it
// still decide: a "deny c 1:3" there denies /dev/null.
func withDefaultDevices(spec *specs.Spec) *specs.LinuxResources {
	r := spec.Linux.Resources
	if r == nil || len(r.Devices) == 0 {
		return r
	}
	out := *r
	cut := afterLastDenyAll(r.Devices)
	out.Devices = append([]specs.LinuxDeviceCgroup{}, r.Devices[:cut]...)
	allow := func(typ string, major, minor int64, access string) {
		out.Devices = append(out.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: access})
	}
	for _, d := range rootfs.DefaultDevices {
		allow("c", d.Major, d.Minor, "rwm")
	}
	allow("c", 5, 1, "rwm")    // /dev/console
	allow("c", 5, 2, "rwm")    // /dev/ptmx
	allow("c", 136, -1, "rwm") // /dev/pts/*
	for _, d := range spec.Linux.Devices {
		t := d.Type
		if t == "u" {
			t = "c"
		}
		if t != "p" {
			allow(t, d.Major, d.Minor, "rwm")
		}
	}
	out.Devices = append(out.Devices, r.Devices[cut:]...)
	return &out
}

// sendSeccompListener hands a seccomp notify fd to the agent at the profile's
// listenerPath, with the container's state as the message.
func (c *Container) sendSeccompListener(fd, pid int) error {
	if fd < 0 {
		return errors.New("no seccomp notify fd")
	}
	defer unix.Close(fd)
	sc := c.Record.Config.Linux.Seccomp
	payload, err := seccomp.ListenerPayload(sc, c.specState(StatusCreating), pid)
	if err != nil {
		return err
	}
	if err := seccomp.SendListener(sc.ListenerPath, payload, fd); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	return nil
}
