package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/runtime/caps"
	"github.com/hullproject/hull/runtime/console"
	"github.com/hullproject/hull/runtime/nsenter"
	"github.com/hullproject/hull/runtime/rootfs"
	"github.com/hullproject/hull/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// IsInit tells whether this process was started as a container's init or exec'd
// process; cmd/hullrt then calls Init instead of parsing flags.
func IsInit() bool { return os.Getenv(nsenter.InitEnv) != "" }

// LockInitThread pins the main goroutine to the main thread for Init. Call it from an
// init function: namespaces, credentials and capabilities set below belong to one
// thread, and execve runs the container's program from that same thread.
func LockInitThread() {
	if IsInit() {
		goruntime.LockOSThread()
	}
}

// Init is the child's side of the protocol in sync.go. It never returns: it execs the
// container's program or exits 1 after telling the parent what went wrong.
func Init() {
	fd, err := strconv.Atoi(os.Getenv(nsenter.InitEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "hullrt init: no sync channel")
		os.Exit(1)
	}
	ch := &channel{os.NewFile(uintptr(fd), "sync")}
	err = initMain(ch)
	var late *afterStart
	switch {
	case err == nil:
	case errors.As(err, &late):
		if _, werr := late.fifo.Write(encodeFifoError(late.err)); werr != nil {
			// `hullrt start` is gone: stderr is all there is.
			fmt.Fprintln(os.Stderr, "hullrt init:", late.err)
		}
	case errors.Is(err, errEOF):
		// EOF or EPIPE: the parent gave up on us (it reports why) and closed the
		// channel before killing us; a second message here would be noise.
	default:
		if serr := ch.send(errorMessage(err)); serr != nil && !errors.Is(serr, unix.EPIPE) {
			fmt.Fprintln(os.Stderr, "hullrt init:", err)
		}
	}
	os.Exit(1)
}

// afterStart is a failure of init after it answered `hullrt start`: the sync
// channel is closed by then, and the error goes to start through exec.fifo (see
// sync.go).
type afterStart struct {
	fifo *os.File // the write end of exec.fifo
	err  error
}

func (e *afterStart) Error() string { return e.err.Error() }
func (e *afterStart) Unwrap() error { return e.err }

func initMain(ch *channel) error {
	os.Unsetenv(nsenter.InitEnv)
	os.Unsetenv(nsenter.Env)
	os.Unsetenv(nsenter.CgroupEnv)
	os.Unsetenv(nsenter.UsermapEnv)
	os.Unsetenv(nsenter.TraceEnv)
	trees := map[int]int{}
	var m message
	for {
		var fd int
		var err error
		m, fd, err = ch.recv()
		if err != nil {
			return fmt.Errorf("read bootstrap: %w", err)
		}
		if m.Type != msgMount || fd < 0 {
			break
		}
		trees[m.Index] = fd
	}
	if m.Type != msgBootstrap || m.Bootstrap == nil {
		return fmt.Errorf("expected bootstrap, got %q", m.Type)
	}
	b := m.Bootstrap
	b.trees = trees
	b.tr = childTracer(b)
	if b.Exec {
		return execProcess(ch, b)
	}
	return initContainer(ch, b)
}

// initContainer prepares the container around init and execs its program after start.
func initContainer(ch *channel, b *bootstrap) error {
	spec := b.Spec
	tr := b.tr
	if err := checkJoinedIDMaps(spec); err != nil {
		return err
	}
	if b.NewCgroupNS {
		// Now that the parent put us in the container's cgroup, a new cgroup
		// namespace is rooted there.
		t0 := tr.Now()
		err := unix.Unshare(unix.CLONE_NEWCGROUP)
		tr.Step(t0, trace.Namespaces, "unshare", err, trace.Args{Flags: unix.CLONE_NEWCGROUP, FlagSet: trace.CloneFlags})
		if err != nil {
			return fmt.Errorf("new cgroup namespace: %w", err)
		}
	}
	for key, value := range spec.Linux.Sysctl {
		t0 := tr.Now()
		err := writeSysctl(key, value)
		tr.Step(t0, trace.Sysctl, "write", err, trace.Args{File: key, Value: value})
		if err != nil {
			return err
		}
	}
	if spec.Hostname != "" {
		t0 := tr.Now()
		err := unix.Sethostname([]byte(spec.Hostname))
		tr.Step(t0, trace.Namespaces, "sethostname", err, trace.Args{Value: spec.Hostname})
		if err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("domainname: %w", err)
		}
	}
	joinedMnt := false
	for _, ns := range spec.Linux.Namespaces {
		joinedMnt = joinedMnt || (ns.Type == specs.MountNamespace && ns.Path != "")
	}
	var ttySlave *os.File
	if !joinedMnt {
		var err error
		if ttySlave, err = setupRootfs(ch, b); err != nil {
			return err
		}
	} else if err := waitHooks(ch, b); err != nil {
		return err
	} else if spec.Process.Terminal {
		master, slave, err := console.OpenPty("/dev/ptmx")
		if err != nil {
			return err
		}
		if err := ch.sendFd(message{Type: msgConsole}, int(master.Fd())); err != nil {
			return err
		}
		master.Close()
		ttySlave = slave
	}
	p := &b.Process
	// A missing cwd is made, as runc does, now while errors still reach create
	// (on a read-only root this fails, and create with it).
	if _, err := os.Stat(p.Cwd); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(p.Cwd, 0o755); err != nil {
			return programError(fmt.Errorf("process.cwd: %w", err))
		}
	}
	t0 := tr.Now()
	exe, err := lookPath(p.Args[0], p.Env)
	tr.Step(t0, trace.Process, "stat", err, trace.Args{Target: p.Args[0], Detail: "look up the program in the container's PATH"})
	if err != nil {
		return err
	}
	filter, err := loadNotifyFilter(ch, b)
	if err != nil {
		return err
	}
	if err := applyAppArmor(p.ApparmorProfile); err != nil {
		return err
	}
	ready := message{Type: msgReady}
	if tr.On() {
		ready.SentAt = time.Now().UnixNano()
	}
	if err := ch.send(ready); err != nil {
		return err
	}
	ch.close()

	// Wait for `hullrt start`: opening the fifo for writing blocks until a reader
	// opens it. The fifo was passed as an O_PATH descriptor; reopening it through
	// /proc gives a real one. The write end stays open, close-on-exec: start reads
	// until EOF, which comes with execve, or with this process's death, after it
	// wrote its error there.
	fifo, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(b.FifoFd), os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	// Not traced: init waits here for as long as the caller waits to start it.
	t0 = tr.Now()
	_, err = fifo.Write([]byte("0"))
	tr.Step(t0, trace.Process, "write", err, trace.Args{File: "exec.fifo", Detail: "started: tell start"})
	if err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	unix.Close(b.FifoFd)
	if err := startProgram(spec, p, exe, ttySlave, b, filter); err != nil {
		return &afterStart{fifo: fifo, err: err}
	}
	return nil
}

// checkJoinedIDMaps: a joined user namespace has its id maps already, and
// containerd and CRI-O give them in the spec all the same for a pod's user
// namespace. As runc (1.2 on) does, they are taken when they are the namespace's
// own and refused when not, since the container would not get what its spec says.
// init runs in the namespace by now (nsenter's constructor joined it), so its own
// uid_map and gid_map are the namespace's, in the host's ids.
func checkJoinedIDMaps(spec *specs.Spec) error {
	joined := false
	for _, ns := range spec.Linux.Namespaces {
		joined = joined || (ns.Type == specs.UserNamespace && ns.Path != "")
	}
	if !joined {
		return nil
	}
	for _, m := range []struct {
		field, file string
		want        []specs.LinuxIDMapping
	}{
		{"linux.uidMappings", "/proc/self/uid_map", spec.Linux.UIDMappings},
		{"linux.gidMappings", "/proc/self/gid_map", spec.Linux.GIDMappings},
	} {
		if len(m.want) == 0 {
			continue
		}
		have := readIDMap(m.file)
		if !sameIDMaps(have, m.want) {
			return fmt.Errorf("%s %v: not the maps of the joined user namespace, %v", m.field, m.want, have)
		}
	}
	return nil
}

// sameIDMaps tells whether two id maps are the same ranges, in any order.
func sameIDMaps(a, b []specs.LinuxIDMapping) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[specs.LinuxIDMapping]int{}
	for _, m := range a {
		seen[m]++
	}
	for _, m := range b {
		if seen[m] == 0 {
			return false
		}
		seen[m]--
	}
	return true
}

// startProgram is what init does once started: the startContainer hooks, then
// finish.
func startProgram(spec *specs.Spec, p *specs.Process, exe string, tty *os.File, b *bootstrap, filter *seccomp.Filter) error {
	if spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0 {
		st := specs.State{Version: specs.Version, ID: b.ID, Status: StatusCreated, Pid: b.Pid, Bundle: b.Bundle, Annotations: spec.Annotations}
		t0 := b.tr.Now()
		err := runHooks("startContainer", spec.Hooks.StartContainer, st)
		traceHooks(b.tr, t0, "startContainer", spec.Hooks.StartContainer, err)
		if err != nil {
			return err
		}
	}
	if b.NewTimeNS {
		t0 := b.tr.Now()
		err := newTimeNS(spec.Linux.TimeOffsets)
		b.tr.Step(t0, trace.Namespaces, "unshare", err, trace.Args{Flags: unix.CLONE_NEWTIME, FlagSet: trace.CloneFlags})
		if err != nil {
			return err
		}
	}
	return finish(p, exe, tty, b, filter)
}

// loadNotifyFilter compiles the container's seccomp filter. One with a NOTIFY action
// is loaded right away, while the parent still listens, so that its listener fd can
// be handed to the agent at linux.seccomp.listenerPath; the program then runs under
// it, which a profile must allow for (runc behaves the same). Other filters are
// returned unloaded, for finish to load as late as possible.
func loadNotifyFilter(ch *channel, b *bootstrap) (*seccomp.Filter, error) {
	if b.Spec == nil || b.Spec.Linux == nil || b.Spec.Linux.Seccomp == nil {
		return nil, nil
	}
	t0 := b.tr.Now()
	filter, err := seccomp.Compile(b.Spec.Linux.Seccomp)
	if b.tr.On() {
		a := trace.Args{Detail: "compile the profile to classic BPF", Value: string(b.Spec.Linux.Seccomp.DefaultAction)}
		if filter != nil {
			a.Count = len(filter.Prog)
		}
		b.tr.Step(t0, trace.Seccomp, "compile", err, a)
	}
	if err != nil {
		return nil, err
	}
	if !filter.NeedsListener {
		return filter, nil
	}
	t0 = b.tr.Now()
	fd, err := filter.Load()
	b.tr.Step(t0, trace.Seccomp, "seccomp", err, trace.Args{Count: len(filter.Prog), Flags: uint64(filter.Flags), FlagSet: trace.FlagsCount, Detail: "SECCOMP_SET_MODE_FILTER, with a listener"})
	if err != nil {
		return nil, fmt.Errorf("load seccomp filter: %w", err)
	}
	defer unix.Close(fd)
	if err := ch.sendFd(message{Type: msgSeccomp}, fd); err != nil {
		return nil, err
	}
	return nil, nil
}

// setupRootfs builds the container's filesystem and switches into it. It returns the
// terminal's slave when the process has a terminal.
func setupRootfs(ch *channel, b *bootstrap) (*os.File, error) {
	spec, tr := b.Spec, b.tr
	var prop uintptr
	if spec.Linux.RootfsPropagation != "" {
		prop, _ = rootfs.Propagation(spec.Linux.RootfsPropagation)
	}
	t0 := tr.Now()
	err := rootfs.PrepareHost(prop)
	tr.Step(t0, trace.Rootfs, "mount", err, trace.Args{Target: "/", Flags: uint64(prop | unix.MS_SLAVE | unix.MS_REC), FlagSet: trace.MountFlags,
		Detail: "no mount event of the container reaches the host"})
	if err != nil {
		return nil, err
	}
	t0 = tr.Now()
	err = rootfs.BindSelf(b.Rootfs, prop)
	tr.Step(t0, trace.Rootfs, "mount", err, trace.Args{Source: b.Rootfs, Target: b.Rootfs, Flags: unix.MS_BIND | unix.MS_REC, FlagSet: trace.MountFlags,
		Detail: "the rootfs becomes a mount point, for pivot_root"})
	if err != nil {
		return nil, err
	}
	t0 = tr.Now()
	root, err := rootfs.OpenRoot(b.Rootfs)
	tr.Step(t0, trace.Rootfs, "open", err, trace.Args{Target: b.Rootfs, Detail: "O_PATH: every path below resolves in it (openat2 RESOLVE_IN_ROOT)"})
	if err != nil {
		return nil, err
	}
	defer root.Close()
	devpts := false
	for i, m := range b.Mounts {
		t0 := tr.Now()
		tree, idmapped := b.trees[i]
		if idmapped {
			err = root.Attach(m, tree)
			unix.Close(tree)
		} else {
			err = root.Mount(m)
		}
		if tr.On() {
			traceMount(tr, t0, m, idmapped, err)
		}
		if err != nil {
			return nil, err
		}
		devpts = devpts || (m.Type == "devpts" && path.Clean(m.Destination) == "/dev/pts")
	}
	if err := makeDevices(root, spec.Linux.Devices, b.UserNS, tr); err != nil {
		return nil, err
	}
	t0 = tr.Now()
	err = root.DevSymlinks(devpts)
	tr.Step(t0, trace.Mounts, "symlinkat", err, trace.Args{Target: "/dev", Detail: "fd, stdin, stdout, stderr, ptmx, core"})
	if err != nil {
		return nil, err
	}
	var slave *os.File
	if spec.Process.Terminal {
		// The pty comes from the container's own devpts (through its /dev/ptmx,
		// resolved inside the root), so the container owns its terminal. It is
		// resolved with O_PATH: every real open of ptmx allocates a pty, and a
		// first, thrown-away one would make the console /dev/pts/1 (runc's is 0).
		ptmx, err := root.OpenPath("/dev/ptmx")
		if err != nil {
			return nil, fmt.Errorf("open the container's /dev/ptmx: %w", err)
		}
		master, s, err := console.OpenPty("/proc/self/fd/" + strconv.Itoa(ptmx))
		unix.Close(ptmx)
		if err != nil {
			return nil, err
		}
		slave = s
		if err := root.BindFd(int(slave.Fd()), "/dev/console"); err != nil {
			return nil, err
		}
		if err := ch.sendFd(message{Type: msgConsole}, int(master.Fd())); err != nil {
			return nil, err
		}
		master.Close()
	}
	if err := waitHooks(ch, b); err != nil {
		return nil, err
	}
	null, err := rootfs.OpenNull()
	if err != nil {
		return nil, err
	}
	defer unix.Close(null)
	t0 = tr.Now()
	err = root.Mask(spec.Linux.MaskedPaths, null)
	tr.Step(t0, trace.Mounts, "mount", err, trace.Args{Count: len(spec.Linux.MaskedPaths), Flags: unix.MS_BIND, FlagSet: trace.MountFlags,
		Detail: "masked paths: /dev/null on files, an empty read-only tmpfs on directories"})
	if err != nil {
		return nil, err
	}
	t0 = tr.Now()
	err = root.Readonly(spec.Linux.ReadonlyPaths)
	tr.Step(t0, trace.Mounts, "open_tree+mount_setattr+move_mount", err, trace.Args{Count: len(spec.Linux.ReadonlyPaths),
		Flags: unix.MOUNT_ATTR_RDONLY, FlagSet: trace.MountAttr, Detail: "read-only paths"})
	if err != nil {
		return nil, err
	}
	t0 = tr.Now()
	if b.NoPivot {
		err = root.MoveRoot()
		tr.Step(t0, trace.Rootfs, "mount", err, trace.Args{Source: b.Rootfs, Target: "/", Flags: unix.MS_MOVE, FlagSet: trace.MountFlags, Detail: "--no-pivot: move, then chroot"})
	} else {
		err = root.Pivot()
		tr.Step(t0, trace.Rootfs, "pivot_root", err, trace.Args{Source: b.Rootfs, Target: "/", Detail: "pivot_root(\".\", \".\"), then the old root detached"})
	}
	if err != nil {
		return nil, err
	}
	if spec.Root.Readonly {
		t0 = tr.Now()
		err := rootfs.ReadonlyRoot()
		tr.Step(t0, trace.Rootfs, "mount_setattr", err, trace.Args{Target: "/", Flags: unix.MOUNT_ATTR_RDONLY, FlagSet: trace.MountAttr})
		if err != nil {
			return nil, err
		}
	}
	if spec.Linux.RootfsPropagation != "" {
		if err := unix.Mount("", "/", "", prop, ""); err != nil {
			return nil, fmt.Errorf("linux.rootfsPropagation: %w", err)
		}
	}
	return slave, nil
}

// waitHooks lets the parent run the prestart and createRuntime hooks, then runs the
// createContainer hooks here, in the container's namespaces (runtime-spec), before
// pivot_root, so that their paths still resolve in the runtime's filesystem, as
// runc runs them.
func waitHooks(ch *channel, b *bootstrap) error {
	if !b.Hooks {
		return nil
	}
	if err := ch.send(message{Type: msgHooks}); err != nil {
		return err
	}
	// The parent's hooks run meanwhile; it records them.
	m, _, err := ch.recv()
	if err != nil {
		return fmt.Errorf("wait for hooks: %w", err)
	}
	if m.Type != msgHooksDone {
		return fmt.Errorf("expected hooks-done, got %q", m.Type)
	}
	spec := b.Spec
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		st := specs.State{Version: specs.Version, ID: b.ID, Status: StatusCreating, Pid: b.Pid, Bundle: b.Bundle, Annotations: spec.Annotations}
		t0 := b.tr.Now()
		err := runHooks("createContainer", spec.Hooks.CreateContainer, st)
		traceHooks(b.tr, t0, "createContainer", spec.Hooks.CreateContainer, err)
		if err != nil {
			return err
		}
	}
	return nil
}

// containerDevices are the devices a container gets: the spec's, then the
// default ones the spec does not name a path of itself.
func containerDevices(devices []specs.LinuxDevice) []specs.LinuxDevice {
	named := map[string]bool{}
	for _, d := range devices {
		named[path.Clean(d.Path)] = true
	}
	all := append([]specs.LinuxDevice{}, devices...)
	for _, d := range rootfs.DefaultDevices {
		if !named[d.Path] {
			all = append(all, d)
		}
	}
	return all
}

// makeDevices creates the default devices and the spec's, unless the spec names the
// same path itself.
func makeDevices(root *rootfs.Root, devices []specs.LinuxDevice, userNS bool, tr *trace.Tracer) error {
	op := "mknodat"
	if userNS {
		op = "mount"
	}
	for _, d := range containerDevices(devices) {
		t0 := tr.Now()
		err := root.MakeDevice(d, userNS)
		tr.Step(t0, trace.Mounts, op, err, trace.Args{Target: d.Path, Type: d.Type})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeSysctl sets one namespaced sysctl. It is written through the host's /proc
// before pivot_root: /proc/sys shows the namespaces of the task that opens it, and
// this task is already in the container's network, ipc and uts namespaces.
func writeSysctl(key, value string) error {
	p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	f, err := os.OpenFile(p, os.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linux.sysctl %q: %w", key, err)
	}
	defer f.Close()
	if _, err := f.WriteString(value); err != nil {
		return fmt.Errorf("linux.sysctl %q: %w", key, err)
	}
	return nil
}

// newTimeNS makes the container's time namespace and sets its offsets, which can be
// written only until a task has entered it. unshare moves this process's future
// children into it, and execve the process itself (from Linux 6.3 on; Validate
// refuses a new time namespace on older kernels, where the program would stay out).
func newTimeNS(offsets map[string]specs.LinuxTimeOffset) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("new time namespace: %w", err)
	}
	var lines []string
	for clock, off := range offsets {
		lines = append(lines, fmt.Sprintf("%s %d %d", clock, off.Secs, off.Nanosecs))
	}
	if len(lines) == 0 {
		return nil
	}
	if err := os.WriteFile("/proc/self/timens_offsets", []byte(strings.Join(lines, "\n")), 0); err != nil {
		return fmt.Errorf("linux.timeOffsets: %w", err)
	}
	return nil
}

var rlimitTypes = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}

// finish turns this process into the container's program: terminal, rlimits,
// keyring, user and groups, capabilities, cwd, no_new_privs, and execve. The order
// matters: the bounding set is dropped while we still have CAP_SETPCAP; the user is
// changed with PR_SET_KEEPCAPS so the permitted set survives; capsets come last.
//
// The seccomp filter (if not loaded already) comes last, right before execve, when
// no_new_privs allows loading it unprivileged; without no_new_privs loading needs
// CAP_SYS_ADMIN, so it is loaded before the user and capabilities change, and the
// profile must allow the few calls that remain. Descriptors are marked
// close-on-exec before either: a profile older than close_range(2) refuses it.
func finish(p *specs.Process, exe string, tty *os.File, b *bootstrap, filter *seccomp.Filter) error {
	if tty != nil {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("setsid: %w", err)
		}
		if err := unix.IoctlSetInt(int(tty.Fd()), unix.TIOCSCTTY, 0); err != nil {
			return fmt.Errorf("set controlling terminal: %w", err)
		}
		for i := 0; i < 3; i++ {
			if err := unix.Dup3(int(tty.Fd()), i, 0); err != nil {
				return fmt.Errorf("terminal as stdio: %w", err)
			}
		}
		tty.Close()
	}
	tr := b.tr
	for _, r := range p.Rlimits {
		t0 := tr.Now()
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		err := unix.Setrlimit(rlimitTypes[r.Type], &lim)
		if tr.On() {
			tr.Step(t0, trace.Rlimits, "setrlimit", err, trace.Args{Type: r.Type, Value: fmt.Sprintf("%d:%d", r.Soft, r.Hard)})
		}
		if err != nil {
			return fmt.Errorf("process.rlimits %s: %w", r.Type, err)
		}
	}
	if !b.Exec && !b.NoNewKeyring {
		// A session keyring of the container's own, so that it cannot read the
		// host's keys through the one it would otherwise inherit.
		t0 := tr.Now()
		_, err := unix.KeyctlJoinSessionKeyring(b.ID)
		tr.Step(t0, trace.Process, "keyctl", err, trace.Args{Detail: "KEYCTL_JOIN_SESSION_KEYRING"})
		if err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	// Nothing but stdio and the preserved descriptors may cross into the program;
	// nothing below opens one that is not close-on-exec. The trace's descriptor
	// is among them: the records below are written before execve closes it.
	t0 := tr.Now()
	err := markCloexec(3 + b.PreserveFds)
	tr.Step(t0, trace.Process, "close_range", err, trace.Args{Flags: 3 + uint64(b.PreserveFds), FlagSet: trace.FlagsCount, Detail: "CLOSE_RANGE_CLOEXEC from this descriptor up"})
	if err != nil {
		return fmt.Errorf("close descriptors: %w", err)
	}
	// The parent left in p only what can be granted (grantCaps).
	set, _ := caps.Parse(p.Capabilities)
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	t0 = tr.Now()
	err = set.DropBounding()
	if tr.On() {
		tr.Step(t0, trace.Capabilities, "prctl", err, trace.Args{Type: "bounding", Value: strings.Join(caps.List(set.Bounding), ","),
			Count: caps.Last() + 1 - bitCount(set.Bounding), Detail: "PR_CAPBSET_DROP of each capability not kept (count: dropped)"})
	}
	if err != nil {
		return err
	}
	if filter != nil && !p.NoNewPrivileges {
		t0 := tr.Now()
		_, err := filter.Load()
		tr.Step(t0, trace.Seccomp, "seccomp", err, trace.Args{Count: len(filter.Prog), Flags: uint64(filter.Flags), FlagSet: trace.FlagsCount, Detail: "SECCOMP_SET_MODE_FILTER (before the user changes: no no_new_privs)"})
		if err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
		filter = nil
	}
	t0 = tr.Now()
	err = setUser(p.User)
	if tr.On() {
		tr.Step(t0, trace.Process, "setresuid", err, trace.Args{Value: fmt.Sprintf("uid=%d gid=%d groups=%v", p.User.UID, p.User.GID, p.User.AdditionalGids), Detail: "setgroups, setresgid, setresuid"})
	}
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	t0 = tr.Now()
	err = set.Apply()
	if tr.On() {
		tr.Step(t0, trace.Capabilities, "capset", err, trace.Args{Value: fmt.Sprintf("effective=%s permitted=%s inheritable=%s ambient=%s",
			strings.Join(caps.List(set.Effective), ","), strings.Join(caps.List(set.Permitted), ","),
			strings.Join(caps.List(set.Inheritable), ","), strings.Join(caps.List(set.Ambient), ",")),
			Count: bitCount(set.Effective), Detail: "capset, then PR_CAP_AMBIENT_RAISE for each ambient"})
	}
	if err != nil {
		return err
	}
	if err := unix.Chdir(p.Cwd); err != nil {
		return programError(fmt.Errorf("process.cwd %s: %w", p.Cwd, err))
	}
	// The cwd must be inside the container: a directory reached through a leaked
	// host descriptor would show as unreachable (CVE-2024-21626).
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("process.cwd %s: outside the container", p.Cwd)
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	}
	if p.NoNewPrivileges {
		t0 := tr.Now()
		err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
		tr.Step(t0, trace.Capabilities, "prctl", err, trace.Args{Type: "no_new_privs", Value: "1", Detail: "PR_SET_NO_NEW_PRIVS"})
		if err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	if filter != nil {
		t0 := tr.Now()
		_, err := filter.Load()
		tr.Step(t0, trace.Seccomp, "seccomp", err, trace.Args{Count: len(filter.Prog), Flags: uint64(filter.Flags), FlagSet: trace.FlagsCount, Detail: "SECCOMP_SET_MODE_FILTER"})
		if err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
	}
	// A successful execve leaves nobody to write its record: it is written
	// before the call (dur 0), and a failure reaches the caller as an error.
	tr.Step(tr.Now(), trace.Process, "execve", nil, trace.Args{Source: exe})
	if err := unix.Exec(exe, p.Args, p.Env); err != nil {
		return programError(fmt.Errorf("exec %s: %w", p.Args[0], err))
	}
	return nil
}

// setUser changes the thread's groups, gid and uid. These are raw, single-thread
// system calls on purpose: the thread that calls execve is the one whose
// credentials the program gets.
func setUser(u specs.User) error {
	groups := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		groups[i] = int(g)
	}
	if err := unix.Setgroups(groups); err != nil {
		// A user namespace whose setgroups is "deny" allows no change at all;
		// then an empty list is already what the process has.
		if !(errors.Is(err, unix.EPERM) && len(groups) == 0 && setgroupsDenied()) {
			return fmt.Errorf("process.user.additionalGids: %w", err)
		}
	}
	// Not unix.Setresgid and unix.Setresuid: those are the syscall package's,
	// which change every thread of the process (with cgo, glibc signals each
	// thread and waits for it to make the call).
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, e)
	}
	return nil
}

func setgroupsDenied() bool {
	data, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(data)) == "deny"
}

// lookPath finds the program as execve will: a name with a slash is used as is,
// anything else is searched in the container's PATH. Its errors have their kind
// (errkind.go).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExec(name); err != nil {
			return "", programError(fmt.Errorf("exec %q: %w", name, err))
		}
		return name, nil
	}
	for _, p := range pathCandidates(name, env) {
		if checkExec(p) == nil {
			return p, nil
		}
	}
	return "", withKind(fmt.Errorf("exec %q: executable file not found in $PATH", name), kindNotFound)
}

// pathCandidates are the paths a name without a slash is looked for at, in
// order: in each directory of the container's PATH (the last PATH= of env, a
// default without one; an empty entry is the working directory).
func pathCandidates(name string, env []string) []string {
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	var out []string
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		out = append(out, path.Join(dir, name))
	}
	return out
}

// checkExec tells, with execve's errno, why p could not be executed.
func checkExec(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EISDIR
	}
	if st.Mode&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}
