package runtime

// The C init. A container's init is hull's own binary, re-executed in the new
// namespaces; the Go init (init.go) starts a second Go runtime there (~0.8 ms to
// main, the JSON of the bootstrap, its threads) for work that is a fixed list of
// system calls once the spec is read. For the configurations below, the parent
// makes every decision itself and compiles init's work into a flat list of
// operations (compileInit), sent instead of the bootstrap; nsenter's constructor
// (runtime/nsenter/cinit.c) checks the whole list, runs it, and execs the
// program before any Go code runs. One implementation of the decisions (here, in
// Go), one small executor (C).
//
// The wire format (one SOCK_SEQPACKET packet, native byte order, the host's):
// magic "HOP1", version, count (u32 each); then count operations, each a code
// (u32), a string count (u32), four u64 arguments, and its strings (u32 length,
// bytes). Every string an operation reports its failure with comes first: the
// executor sends {"type":"error","error":TEXT,"errno":N,"kind":K}, and the
// receiver rebuilds TEXT: errno as Go's errors do (message.err), so the texts and
// kinds are the Go init's.
//
// What keeps the Go init (goInitReason, a single predicate): HULLRT_GO_INIT set
// (the escape hatch for debugging), a trace (init writes records), a terminal
// (the pty is made inside the container and sent back), an AppArmor profile
// (written to init's procfs before ready, apparmor.go), hooks that run in or
// wait for init (prestart, createRuntime, createContainer, startContainer), any
// user namespace (id maps, host-side binds, id-mapped mounts, setgroups deny), a
// joined mount namespace, a fork in the constructor (a joined pid namespace),
// --no-pivot, a new time namespace, a shared or unbindable rootfsPropagation
// (the parent mount is read from mountinfo), a seccomp profile with a NOTIFY
// action (its listener), a spec the compiler does not take as is (the Go init
// reports the error in its own words), and a kernel without openat2(2) (fail
// closed: never a path that is not confined to the root) or CLOSE_RANGE_CLOEXEC.

import (
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/hullproject/hull/runtime/caps"
	"github.com/hullproject/hull/runtime/nsenter"
	"github.com/hullproject/hull/runtime/rootfs"
	"github.com/hullproject/hull/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// GoInitEnv forces the Go init for every container (for debugging, and for the
// tests that run both paths).
const GoInitEnv = "HULLRT_GO_INIT"

// The operations, in cinit.h's order.
const (
	opUnshare uint32 = iota + 1
	opWrite
	opHostname
	opMount
	opOpenRoot
	opOpenNull
	opMountFS
	opSetattr
	opBind
	opPropagate
	opMknod
	opSymlink
	opMask
	opReadonly
	opPivot
	opRootRdonly
	opLookPath
	opCwd
	opReady
	opFifo
	opRlimit
	opKeyring
	opCloexec
	opPrctl
	opBounding
	opSeccomp
	opSetUser
	opCapset
	opChdir
	opUmask
	opExec
	opMax
)

// goInitReason says why this container's init must be the Go one, or "" when
// the C init can do all of its work.
func goInitReason(spec *specs.Spec, b *bootstrap, s *spawnSpec, o CreateOpts) string {
	if os.Getenv(GoInitEnv) != "" {
		return GoInitEnv
	}
	if o.Trace.On() {
		return "trace"
	}
	if spec.Process.Terminal {
		return "terminal"
	}
	if spec.Process.ApparmorProfile != "" {
		// Init writes the profile to its procfs before ready (apparmor.go);
		// the C init has no such operation, and must not run a program
		// without the confinement asked for.
		return "apparmorProfile"
	}
	if h := spec.Hooks; h != nil && len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer) > 0 {
		return "hooks"
	}
	if b.UserNS || s.fork || s.unshare != 0 || b.NoPivot || b.NewTimeNS {
		return "user namespace, fork, --no-pivot or time namespace"
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.UserNamespace || (ns.Type == specs.MountNamespace && ns.Path != "") {
			return "user namespace or joined mount namespace"
		}
	}
	if p := spec.Linux.RootfsPropagation; p != "" {
		prop, err := rootfs.Propagation(p)
		if err != nil || prop&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 {
			return "rootfsPropagation"
		}
	}
	if !kernelHasCinit() {
		return "no openat2 or close_range(CLOSE_RANGE_CLOEXEC)"
	}
	return ""
}

// kernelHasCinit tells whether the kernel has what the C init relies on without
// a fallback: lookups confined to a root (openat2, Linux 5.6), and the
// close-on-exec sweep in one call (CLOSE_RANGE_CLOEXEC, 5.11), which the Go init
// can do through /proc/self/fd instead.
func kernelHasCinit() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return false
	}
	unix.Close(fd)
	// a range with no descriptor in it: only the flag is checked
	return unix.CloseRange(1<<31-2, 1<<31-1, unix.CLOSE_RANGE_CLOEXEC) == nil
}

// opList builds the wire format.
type opList struct {
	buf   []byte
	count uint32
	err   error // the first thing the C init cannot do as the Go init would
}

func (l *opList) add(code uint32, a, b, c, d uint64, strs ...string) {
	e := binary.NativeEndian
	l.buf = e.AppendUint32(l.buf, code)
	l.buf = e.AppendUint32(l.buf, uint32(len(strs)))
	for _, v := range []uint64{a, b, c, d} {
		l.buf = e.AppendUint64(l.buf, v)
	}
	for _, s := range strs {
		l.buf = e.AppendUint32(l.buf, uint32(len(s)))
		l.buf = append(l.buf, s...)
	}
	l.count++
}

func (l *opList) unsupported(format string, args ...any) {
	if l.err == nil {
		l.err = fmt.Errorf(format, args...)
	}
}

func (l *opList) bytes() []byte {
	e := binary.NativeEndian
	h := e.AppendUint32(nil, nsenter.OpsMagic)
	h = e.AppendUint32(h, nsenter.OpsVersion)
	h = e.AppendUint32(h, l.count)
	return append(h, l.buf...)
}

// compileInit compiles init's work (initContainer, setupRootfs, finish) for the
// C init, or says why it cannot.
func compileInit(b *bootstrap) ([]byte, error) {
	spec := b.Spec
	p := &b.Process
	l := &opList{}
	filter := b.filter
	if spec.Linux.Seccomp != nil && filter == nil {
		var err error
		if filter, err = seccomp.Compile(spec.Linux.Seccomp); err != nil {
			return nil, err
		}
	}
	if filter != nil {
		if filter.NeedsListener {
			return nil, fmt.Errorf("seccomp listener")
		}
	}
	if b.NewCgroupNS {
		l.add(opUnshare, unix.CLONE_NEWCGROUP, 0, 0, 0, "new cgroup namespace")
	}
	for key, value := range spec.Linux.Sysctl {
		l.add(opWrite, 0, 0, 0, 0, fmt.Sprintf("linux.sysctl %q", key), "/proc/sys/"+strings.ReplaceAll(key, ".", "/"), value)
	}
	if spec.Hostname != "" {
		l.add(opHostname, 0, 0, 0, 0, "hostname", spec.Hostname)
	}
	if spec.Domainname != "" {
		l.add(opHostname, 1, 0, 0, 0, "domainname", spec.Domainname)
	}
	compileRootfs(l, b)
	if p.Cwd == "" || len(p.Args) == 0 {
		l.unsupported("no cwd or args")
	}
	l.add(opCwd, 0, 0, 0, 0, "process.cwd", p.Cwd)
	compileLookPath(l, p.Args, p.Env)
	l.add(opReady, 0, 0, 0, 0)
	l.add(opFifo, uint64(b.FifoFd), 0, 0, 0)
	compileFinish(l, b, filter)
	if l.err != nil {
		return nil, l.err
	}
	return l.bytes(), nil
}

// compileRootfs is setupRootfs's work, without a terminal or hooks.
func compileRootfs(l *opList, b *bootstrap) {
	spec := b.Spec
	var prop uintptr
	if spec.Linux.RootfsPropagation != "" {
		prop, _ = rootfs.Propagation(spec.Linux.RootfsPropagation)
	}
	hostProp := prop
	if hostProp == 0 {
		hostProp = unix.MS_SLAVE | unix.MS_REC
	}
	l.add(opMount, uint64(hostProp), 0, 0, 0, "set propagation of /", "", "/")
	l.add(opMount, unix.MS_BIND|unix.MS_REC, 0, 0, 0, fmt.Sprintf("bind rootfs %s onto itself", b.Rootfs), b.Rootfs, b.Rootfs)
	l.add(opOpenRoot, 0, 0, 0, 0, "open root "+b.Rootfs, b.Rootfs)
	devpts := false
	for _, m := range b.Mounts {
		compileMount(l, m)
		devpts = devpts || (m.Type == "devpts" && path.Clean(m.Destination) == "/dev/pts")
	}
	for _, d := range containerDevices(spec.Linux.Devices) {
		compileDevice(l, d)
	}
	for _, ln := range rootfs.DevLinks() {
		l.add(opSymlink, 0, 0, 0, 0, "symlink "+ln[1], ln[0], ln[1])
	}
	if devpts {
		l.add(opSymlink, 1, 0, 0, 0, "symlink /dev/ptmx", "pts/ptmx", "/dev/ptmx")
	}
	l.add(opOpenNull, 0, 0, 0, 0)
	for _, p := range spec.Linux.MaskedPaths {
		l.add(opMask, 0, 0, 0, 0, "mask "+p, p)
	}
	for _, p := range spec.Linux.ReadonlyPaths {
		l.add(opReadonly, 0, 0, 0, 0, "read-only "+p, p)
	}
	l.add(opPivot, 0, 0, 0, 0)
	if spec.Root.Readonly {
		l.add(opRootRdonly, 0, 0, 0, 0)
	}
	if spec.Linux.RootfsPropagation != "" {
		l.add(opMount, uint64(prop), 0, 0, 0, "linux.rootfsPropagation", "", "/")
	}
}

// compileMount is rootfs's Root.Mount.
func compileMount(l *opList, m specs.Mount) {
	o, err := rootfs.ParseOptions(m.Options)
	if err != nil || o.IDMap {
		l.unsupported("mount %s: options", m.Destination)
		return
	}
	if m.Type == "bind" {
		o.Bind = true
	}
	pre := "mount " + m.Destination
	rec := func() {
		if o.RecSet != 0 || o.RecClear != 0 {
			l.add(opSetattr, 0, 0, o.RecSet, o.RecClear, pre, m.Destination, "")
		}
	}
	props := func() {
		for _, p := range o.Propagation {
			l.add(opPropagate, uint64(p), 0, 0, 0, pre, m.Destination)
		}
	}
	switch {
	case o.Flags&unix.MS_REMOUNT != 0:
		set, clr := o.RemountAttrs()
		l.add(opSetattr, set, clr, 0, 0, pre, m.Destination, "remount")
		rec()
	case o.Bind:
		if !path.IsAbs(m.Source) {
			l.unsupported("mount %s: relative bind source", m.Destination)
			return
		}
		var tree uint64
		if o.Recursive {
			tree = unix.AT_RECURSIVE
		}
		set, clr := o.BindAttrs()
		if o.RecSet>>32 != 0 || o.RecClear>>32 != 0 {
			l.unsupported("mount %s: attributes", m.Destination)
			return
		}
		l.add(opBind, tree, set, clr, o.RecSet|o.RecClear<<32, pre, m.Destination, m.Source)
		props()
	default:
		src := m.Source
		if src == "" {
			src = m.Type
		}
		l.add(opMountFS, uint64(o.Flags), 0, 0, 0, pre, m.Destination, src, m.Type, o.Data)
		props()
		rec()
	}
}

// compileDevice is rootfs's Root.MakeDevice, outside a user namespace.
func compileDevice(l *opList, d specs.LinuxDevice) {
	_, base := path.Split(path.Clean("/" + d.Path))
	mode, ok := rootfs.NodeMode(d)
	if base == "" || !ok {
		l.unsupported("device %s", d.Path)
		return
	}
	var uid, gid uint64
	if d.UID != nil {
		uid = uint64(*d.UID)
	}
	if d.GID != nil {
		gid = uint64(*d.GID)
	}
	l.add(opMknod, uint64(mode), unix.Mkdev(uint32(d.Major), uint32(d.Minor)), uid, gid,
		"device "+d.Path, d.Path, "mknod "+d.Path, "chmod "+d.Path, "chown "+d.Path)
}

// compileLookPath is lookPath: the C init checks the candidates in the root.
func compileLookPath(l *opList, args, env []string) {
	if len(args) == 0 {
		return
	}
	name := args[0]
	pre := fmt.Sprintf("exec %q", name)
	if strings.Contains(name, "/") {
		l.add(opLookPath, 1, 0, 0, 0, pre, name)
		return
	}
	l.add(opLookPath, 0, 0, 0, 0, append([]string{pre}, pathCandidates(name, env)...)...)
}

// seccompError is the prefix of the Go init's error for a filter that fails to
// load (finish wraps Filter.Load's error, which says it too).
const seccompError = "load seccomp filter: load seccomp filter"

// compileFinish is finish's work (no terminal: a terminal keeps the Go init).
func compileFinish(l *opList, b *bootstrap, filter *seccomp.Filter) {
	p := &b.Process
	for _, r := range p.Rlimits {
		t, ok := rlimitTypes[r.Type]
		if !ok {
			l.unsupported("rlimit %s", r.Type)
			return
		}
		l.add(opRlimit, uint64(t), r.Soft, r.Hard, 0, "process.rlimits "+r.Type)
	}
	if !b.NoNewKeyring {
		l.add(opKeyring, 0, 0, 0, 0, "join session keyring", b.ID)
	}
	l.add(opCloexec, uint64(3+b.PreserveFds), 0, 0, 0, "close descriptors")
	set, _ := caps.Parse(p.Capabilities)
	l.add(opPrctl, unix.PR_SET_KEEPCAPS, 1, 0, 0, "keep capabilities")
	l.add(opBounding, set.Bounding, uint64(caps.Last()), 0, 0)
	var prog []byte
	if filter != nil {
		if len(filter.Prog) == 0 || len(filter.Prog) > 4096 {
			l.unsupported("seccomp program of %d instructions", len(filter.Prog))
			return
		}
		for _, ins := range filter.Prog {
			prog = binary.NativeEndian.AppendUint16(prog, ins.Code)
			prog = append(prog, ins.Jt, ins.Jf)
			prog = binary.NativeEndian.AppendUint32(prog, ins.K)
		}
	}
	if filter != nil && !p.NoNewPrivileges {
		l.add(opSeccomp, uint64(filter.Flags), 0, 0, 0, seccompError, string(prog))
	}
	var groups []byte
	for _, g := range p.User.AdditionalGids {
		groups = binary.NativeEndian.AppendUint32(groups, g)
	}
	l.add(opSetUser, uint64(p.User.UID), uint64(p.User.GID), 0, 0, "process.user.additionalGids",
		fmt.Sprintf("process.user.gid %d", p.User.GID), fmt.Sprintf("process.user.uid %d", p.User.UID), string(groups))
	l.add(opPrctl, unix.PR_SET_KEEPCAPS, 0, 0, 0, "keep capabilities")
	l.add(opCapset, set.Effective, set.Permitted, set.Inheritable, set.Ambient)
	l.add(opChdir, 0, 0, 0, 0, "process.cwd "+p.Cwd, p.Cwd)
	if p.User.Umask != nil {
		l.add(opUmask, uint64(*p.User.Umask), 0, 0, 0)
	}
	if p.NoNewPrivileges {
		l.add(opPrctl, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, "no_new_privs")
	}
	if filter != nil && p.NoNewPrivileges {
		l.add(opSeccomp, uint64(filter.Flags), 0, 0, 0, seccompError, string(prog))
	}
	strs := append([]string{"exec " + p.Args[0]}, p.Args...)
	strs = append(strs, p.Env...)
	l.add(opExec, uint64(len(p.Args)), 0, 0, 0, strs...)
}
