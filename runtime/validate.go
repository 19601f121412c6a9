package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hullproject/hull/runtime/cgroups"
	"github.com/hullproject/hull/runtime/rootfs"
	"github.com/hullproject/hull/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Validate checks a spec before anything is made, so that bad input fails with one
// line naming the field and leaves nothing behind. A field hullrt cannot honour is
// refused here, never ignored.
func Validate(spec *specs.Spec, bundle string) error { return validate(spec, bundle, nil) }

// validate is Validate that keeps, in *filter if filter is not nil, the seccomp
// program it compiled to check the profile: Create hands it to the C init's
// compiler, which would otherwise compile the same profile again (0.4 ms).
func validate(spec *specs.Spec, bundle string, filter **seccomp.Filter) error {
	if spec.Process == nil {
		return errors.New("process: missing")
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return errors.New("root.path: missing")
	}
	if spec.Linux == nil {
		return errors.New("linux: missing")
	}
	rootfsPath := spec.Root.Path
	if !filepath.IsAbs(rootfsPath) {
		rootfsPath = filepath.Join(bundle, rootfsPath)
	}
	if fi, err := os.Stat(rootfsPath); err != nil || !fi.IsDir() {
		return fmt.Errorf("root.path %s: not a directory", rootfsPath)
	}
	if err := validateProcess(spec.Process); err != nil {
		return err
	}
	ns, err := validateNamespaces(spec)
	if err != nil {
		return err
	}
	if spec.Hostname != "" && !ns.isNew(specs.UTSNamespace) {
		return errors.New("hostname: needs a new uts namespace")
	}
	if spec.Domainname != "" && !ns.isNew(specs.UTSNamespace) {
		return errors.New("domainname: needs a new uts namespace")
	}
	for i, m := range spec.Mounts {
		if !path.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d].destination %q: not an absolute path", i, m.Destination)
		}
		o, err := rootfs.ParseOptions(m.Options)
		if err != nil {
			return fmt.Errorf("mounts[%d]: %w", i, err)
		}
		if err := validateIDMap(m, o, ns); err != nil {
			return fmt.Errorf("mounts[%d]: %w", i, err)
		}
	}
	for key, value := range spec.Linux.Sysctl {
		if err := validateSysctl(key, value, ns); err != nil {
			return err
		}
	}
	for i, d := range spec.Linux.Devices {
		if !path.IsAbs(d.Path) {
			return fmt.Errorf("linux.devices[%d].path %q: not an absolute path", i, d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return fmt.Errorf("linux.devices[%d].type %q: not one of c, b, u, p", i, d.Type)
		}
	}
	if spec.Linux.RootfsPropagation != "" {
		if _, err := rootfs.Propagation(spec.Linux.RootfsPropagation); err != nil {
			return fmt.Errorf("linux.rootfsPropagation: %w", err)
		}
	}
	if err := cgroups.Validate(spec.Linux.Resources); err != nil {
		return err
	}
	if spec.Linux.Seccomp != nil {
		f, err := seccomp.Compile(spec.Linux.Seccomp) // seccomp.Validate, keeping the program
		if err != nil {
			return err
		}
		if filter != nil {
			*filter = f
		}
	}
	if err := validateUnsupported(spec); err != nil {
		return err
	}
	return validateHooks(spec.Hooks)
}

// validateIDMap checks an id-mapped mount: a bind, mapped through its own
// uidMappings and gidMappings (both) or the container's user namespace. A mount's
// own mappings without "idmap" or "ridmap" ask for "idmap" (expandMounts adds it):
// runtime-spec wants the option but does not require it, containerd 2.x gives
// none for a pod's id-mapped volumes, and runc takes them so.
func validateIDMap(m specs.Mount, o rootfs.Options, ns namespaces) error {
	own := len(m.UIDMappings)+len(m.GIDMappings) > 0
	_, user := ns[specs.UserNamespace]
	switch {
	case !o.IDMap && !own:
		return nil
	case !o.Bind && m.Type != "bind":
		return errors.New("only a bind mount can be id-mapped")
	case own && (len(m.UIDMappings) == 0 || len(m.GIDMappings) == 0):
		return errors.New("an id-mapped mount needs both uidMappings and gidMappings")
	case !own && !user:
		return errors.New("idmap without the mount's own uidMappings needs a user namespace")
	}
	return nil
}

func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 && p.CommandLine == "" {
		return errors.New("process.args: must not be empty")
	}
	if p.CommandLine != "" {
		return errors.New("process.commandLine: is for Windows")
	}
	if p.Cwd == "" || !path.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd %q: not an absolute path", p.Cwd)
	}
	// (uid_t)-1 means "no change" to setresuid(2); it can never be a real user.
	if p.User.UID == ^uint32(0) {
		return errors.New("process.user.uid: out of range")
	}
	if p.User.GID == ^uint32(0) {
		return errors.New("process.user.gid: out of range")
	}
	for i, g := range p.User.AdditionalGids {
		if g == ^uint32(0) {
			return fmt.Errorf("process.user.additionalGids[%d]: out of range", i)
		}
	}
	if p.User.Username != "" {
		return errors.New("process.user.username: is for Windows")
	}
	seen := map[string]bool{}
	for i, r := range p.Rlimits {
		if _, ok := rlimitTypes[r.Type]; !ok {
			return fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, r.Type)
		}
		if seen[r.Type] {
			return fmt.Errorf("process.rlimits[%d]: %s given twice", i, r.Type)
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			return fmt.Errorf("process.rlimits[%d]: soft limit above hard limit", i)
		}
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") || strings.HasPrefix(e, "=") {
			return fmt.Errorf("process.env[%d] %q: not NAME=VALUE", i, e)
		}
		if strings.ContainsRune(e, 0) {
			return fmt.Errorf("process.env[%d]: holds a NUL byte", i)
		}
	}
	if err := validateAppArmor(p); err != nil {
		return err
	}
	if p.SelinuxLabel != "" {
		return errors.New("process.selinuxLabel: SELinux is not supported")
	}
	if p.IOPriority != nil {
		return errors.New("process.ioPriority: not supported yet")
	}
	if p.Scheduler != nil {
		return errors.New("process.scheduler: not supported yet")
	}
	if p.ExecCPUAffinity != nil {
		return errors.New("process.execCPUAffinity: not supported yet")
	}
	return nil
}

// namespaces indexes the spec's namespaces by type.
type namespaces map[specs.LinuxNamespaceType]specs.LinuxNamespace

func (n namespaces) isNew(t specs.LinuxNamespaceType) bool {
	ns, ok := n[t]
	return ok && ns.Path == ""
}

func validateNamespaces(spec *specs.Spec) (namespaces, error) {
	n := namespaces{}
	for i, ns := range spec.Linux.Namespaces {
		if _, ok := cloneNames[string(ns.Type)]; !ok {
			return nil, fmt.Errorf("linux.namespaces[%d].type: unknown namespace %q", i, ns.Type)
		}
		if _, dup := n[ns.Type]; dup {
			return nil, fmt.Errorf("linux.namespaces[%d]: %s namespace given twice", i, ns.Type)
		}
		if ns.Path != "" {
			if !filepath.IsAbs(ns.Path) {
				return nil, fmt.Errorf("linux.namespaces[%d].path %q: not an absolute path", i, ns.Path)
			}
			if _, err := os.Stat(ns.Path); err != nil {
				return nil, fmt.Errorf("linux.namespaces[%d].path: %w", i, err)
			}
		}
		n[ns.Type] = ns
	}
	if _, ok := n[specs.MountNamespace]; !ok {
		return nil, errors.New("linux.namespaces: a mount namespace is required")
	}
	_, user := n[specs.UserNamespace]
	switch {
	case n.isNew(specs.UserNamespace):
		if len(spec.Linux.UIDMappings) == 0 || len(spec.Linux.GIDMappings) == 0 {
			return nil, errors.New("linux.uidMappings and gidMappings: needed for a new user namespace")
		}
	case user:
		// A joined user namespace has its maps already. containerd and CRI-O give
		// them all the same for a pod's user namespace (runc 1.2 takes them when
		// they are the namespace's own): init checks that they are
		// (checkJoinedIDMaps), once it is in the namespace.
	case len(spec.Linux.UIDMappings)+len(spec.Linux.GIDMappings) > 0:
		return nil, errors.New("linux.uidMappings: given without a user namespace")
	}
	if n.isNew(specs.TimeNamespace) {
		if _, err := os.Stat("/proc/self/ns/time"); err != nil {
			return nil, errors.New("linux.namespaces: this kernel has no time namespaces")
		}
		if !kernelAtLeast(6, 3) {
			return nil, errors.New("linux.namespaces: a new time namespace needs Linux 6.3 or later (before it, execve does not enter it)")
		}
	} else if len(spec.Linux.TimeOffsets) > 0 {
		return nil, errors.New("linux.timeOffsets: given without a new time namespace")
	}
	return n, nil
}

// validateSysctl allows only sysctls that belong to a namespace the container has
// its own of, and values that cannot smuggle a second setting.
func validateSysctl(key, value string, ns namespaces) error {
	if strings.ContainsAny(value, "\n\r\x00") {
		return fmt.Errorf("linux.sysctl %q: value holds a line break or NUL", key)
	}
	if key == "" || strings.ContainsAny(key, "/\x00 ") || strings.Contains(key, "..") {
		return fmt.Errorf("linux.sysctl %q: not a sysctl name", key)
	}
	need := SysctlNamespace(key)
	if need == "" {
		return fmt.Errorf("linux.sysctl %q: not in a namespace of the container's own", key)
	}
	if _, ok := ns[need]; !ok {
		return fmt.Errorf("linux.sysctl %q: needs a %s namespace of the container's own", key, need)
	}
	return nil
}

// SysctlNamespace is the namespace type a sysctl belongs to (ipc, net or uts),
// or "" for one of no namespace: only those a container may set in its own.
func SysctlNamespace(key string) specs.LinuxNamespaceType {
	switch {
	case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
		return specs.IPCNamespace
	case strings.HasPrefix(key, "net."):
		return specs.NetworkNamespace
	case key == "kernel.hostname" || key == "kernel.domainname":
		return specs.UTSNamespace
	}
	return ""
}

var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

func validateUnsupported(spec *specs.Spec) error {
	l := spec.Linux
	switch {
	case l.IntelRdt != nil:
		return errors.New("linux.intelRdt: not supported")
	case l.MountLabel != "":
		return errors.New("linux.mountLabel: SELinux is not supported")
	case l.Personality != nil:
		return errors.New("linux.personality: not supported yet")
	case len(l.NetDevices) > 0:
		return errors.New("linux.netDevices: not supported yet")
	case l.MemoryPolicy != nil:
		return errors.New("linux.memoryPolicy: not supported yet")
	}
	return nil
}

func validateHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	for kind, list := range map[string][]specs.Hook{
		"prestart": h.Prestart, "createRuntime": h.CreateRuntime, "createContainer": h.CreateContainer,
		"startContainer": h.StartContainer, "poststart": h.Poststart, "poststop": h.Poststop,
	} {
		for i, hook := range list {
			if !path.IsAbs(hook.Path) {
				return fmt.Errorf("hooks.%s[%d].path %q: not an absolute path", kind, i, hook.Path)
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fmt.Errorf("hooks.%s[%d].timeout: must be positive", kind, i)
			}
		}
	}
	return nil
}

// kernelAtLeast tells whether the running kernel is at least major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi)
	return ma > major || ma == major && mi >= minor
}
