package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/hullproject/hull/runtime/caps"
	"github.com/hullproject/hull/runtime/cgroups"
	"github.com/hullproject/hull/runtime/nsenter"
	"github.com/hullproject/hull/runtime/rootfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A runtime that is not root (rootless, as runc calls it) differs from root's in
// three places, all here:
//   - id maps: the kernel lets an unprivileged process write a map of its own id
//     only; any other goes through newuidmap/newgidmap, which check /etc/subuid and
//     /etc/subgid. Either is done once the child runs (mapLater, writeIDMaps).
//   - cgroups: only a delegated cgroup2 subtree is writable; without one the
//     container runs in the caller's cgroup, and a limit is refused
//     (rootlessCgroup).
//   - what needs the host's root is refused: id-mapped mounts.
// Mounting sysfs and making device nodes fail in any user namespace without a
// network namespace of its own; rootfs binds the host's instead.

// unprivileged tells whether this process works without the host's root.
func unprivileged() bool { return os.Geteuid() != 0 }

// mapLater makes the child wait, in nsenter's constructor, for its id maps to be
// written after it started, and returns the pipe to release it with (see
// writeIDMaps). Go writes the maps before execve only when it may write them
// itself, and a child exec'd with its ids unmapped would lose every capability: so
// it keeps those of its new user namespace as ambient ones.
func (s *spawnSpec) mapLater() (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.cmd.Env = append(s.cmd.Env, nsenter.UsermapEnv+"="+strconv.Itoa(3+len(s.cmd.ExtraFiles)))
	s.cmd.ExtraFiles = append(s.cmd.ExtraFiles, r)
	s.parentOnly = append(s.parentOnly, r)
	for c := 0; c <= caps.Last(); c++ {
		s.cmd.SysProcAttr.AmbientCaps = append(s.cmd.SysProcAttr.AmbientCaps, uintptr(c))
	}
	return w, nil
}

// writeIDMaps writes the maps of the new user namespace of pid, from outside it,
// and releases the child waiting on release.
func writeIDMaps(pid int, spec *specs.Spec, release *os.File) error {
	defer release.Close()
	if err := writeIDMap(pid, "uid", spec.Linux.UIDMappings, os.Geteuid()); err != nil {
		return fmt.Errorf("linux.uidMappings: %w", err)
	}
	if err := writeIDMap(pid, "gid", spec.Linux.GIDMappings, os.Getegid()); err != nil {
		return fmt.Errorf("linux.gidMappings: %w", err)
	}
	if _, err := release.Write([]byte{1}); err != nil {
		return fmt.Errorf("release init: %w", err)
	}
	return nil
}

// writeIDMap writes one map. A map of the caller's own id alone is written
// directly; for gid_map the kernel wants setgroups denied first, or the
// unprivileged writer could drop a group it was denied by (CVE-2014-8989).
func writeIDMap(pid int, kind string, maps []specs.LinuxIDMapping, own int) error {
	proc := "/proc/" + strconv.Itoa(pid) + "/"
	if len(maps) == 1 && maps[0].HostID == uint32(own) && maps[0].Size == 1 {
		if kind == "gid" {
			if err := writeProc(proc+"setgroups", "deny"); err != nil {
				return err
			}
		}
		return writeProc(proc+kind+"_map", fmt.Sprintf("%d %d 1\n", maps[0].ContainerID, own))
	}
	helper := "new" + kind + "map"
	bin, err := exec.LookPath(helper)
	if err != nil {
		return fmt.Errorf("ids other than the caller's own need %s (package uidmap): %w", helper, err)
	}
	args := []string{strconv.Itoa(pid)}
	for _, m := range maps {
		args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10), strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return errors.New(strings.ReplaceAll(msg, "\n", "; "))
		}
		return fmt.Errorf("%s: %w", helper, err)
	}
	return nil
}

// writeProc writes a /proc file the way its kernel handler wants: one write.
func writeProc(p, data string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// rootlessCgroup picks the cgroup of a rootless container: its own in a delegated
// subtree, or none. runc's rootless mode ignores the errors of a cgroup it cannot
// make and so silently drops limits; hull refuses a limit it could not apply.
// Device rules are not limits: in a user namespace device nodes are the host's
// own, bound in, and the host's permissions on them apply.
func rootlessCgroup(spec *specs.Spec, id string) (*cgroups.Manager, error) {
	cg, err := cgroups.Delegated(spec.Linux.CgroupsPath, id)
	if err != nil || cg != nil {
		return cg, err
	}
	if f := resourceLimit(spec.Linux.Resources); f != "" {
		return nil, fmt.Errorf("linux.resources.%s: a rootless container can have no limits here: no delegated cgroup2 subtree is writable by the caller", f)
	}
	return nil, nil
}

// resourceLimit names the first limit r sets, or "".
func resourceLimit(r *specs.LinuxResources) string {
	if r == nil {
		return ""
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"memory", r.Memory != nil}, {"cpu", r.CPU != nil}, {"pids", r.Pids != nil},
		{"blockIO", r.BlockIO != nil}, {"hugepageLimits", len(r.HugepageLimits) > 0},
		{"network", r.Network != nil}, {"rdma", len(r.Rdma) > 0}, {"unified", len(r.Unified) > 0},
	} {
		if f.set {
			return f.name
		}
	}
	return ""
}

// idmappedMounts makes, for each mount with "idmap" or "ridmap", its id-mapped
// detached tree (rootfs.IDMapTree), mapped through the mount's own uidMappings and
// gidMappings when it has them, or else through the container's user namespace,
// that of init (pid). The trees are keyed by their index in mounts.
func idmappedMounts(mounts []specs.Mount, pid int) (map[int]int, error) {
	trees := map[int]int{}
	fail := func(err error) (map[int]int, error) {
		for _, fd := range trees {
			unix.Close(fd)
		}
		return nil, err
	}
	for i, m := range mounts {
		o, err := rootfs.ParseOptions(m.Options)
		if err != nil || !o.IDMap {
			continue
		}
		var ns *os.File
		if len(m.UIDMappings) > 0 {
			ns, err = mappedUserNS(m.UIDMappings, m.GIDMappings)
		} else {
			ns, err = os.Open("/proc/" + strconv.Itoa(pid) + "/ns/user")
		}
		if err != nil {
			return fail(fmt.Errorf("mount %s: user namespace to id-map with: %w", m.Destination, err))
		}
		tree, err := rootfs.IDMapTree(m, int(ns.Fd()))
		ns.Close()
		if err != nil {
			return fail(fmt.Errorf("mount %s: %w", m.Destination, err))
		}
		trees[i] = tree
	}
	return trees, nil
}

// mappedUserNS makes a user namespace with the given maps, held by nothing but the
// returned file: a child is made in it, as runc does, only until the namespace is
// open. The child is hullrt itself, told by nsenter's _HULL_USERMAP to wait on a
// pipe, which is closed to end it (it never runs any Go code).
func mappedUserNS(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	attr := &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}
	for _, m := range uids {
		attr.UidMappings = append(attr.UidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	for _, m := range gids {
		attr.GidMappings = append(attr.GidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	s := &spawnSpec{
		cmd:        &exec.Cmd{Args: []string{"hullrt"}, Env: []string{nsenter.UsermapEnv + "=3"}, ExtraFiles: []*os.File{r}, SysProcAttr: attr},
		parentOnly: []*os.File{r},
	}
	err = s.start()
	s.release()
	if err != nil {
		return nil, err
	}
	ns, err := os.Open("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/ns/user")
	w.Close()
	s.cmd.Wait()
	return ns, err
}

// checkRootless refuses early what a runtime that is not root cannot do.
func checkRootless(spec *specs.Spec) error {
	if !unprivileged() {
		return nil
	}
	user := false
	for _, ns := range spec.Linux.Namespaces {
		user = user || ns.Type == specs.UserNamespace
	}
	if !user {
		return errors.New("linux.namespaces: a runtime that is not root needs a user namespace")
	}
	// The exec fifo is the caller's, and only its owner may open it: it cannot be
	// given to a container root that is someone else (runc has the same rule).
	if uid, ok := hostID(spec.Linux.UIDMappings); ok && uid != os.Geteuid() {
		return fmt.Errorf("linux.uidMappings: the container's root must be the caller (uid %d) when the runtime is not root, not uid %d", os.Geteuid(), uid)
	}
	for i, m := range spec.Mounts {
		if o, _ := rootfs.ParseOptions(m.Options); o.IDMap || len(m.UIDMappings) > 0 {
			return fmt.Errorf("mounts[%d]: id-mapped mounts need a runtime running as root", i)
		}
	}
	return nil
}

// sendTrees hands init the id-mapped mounts it attaches instead of binding,
// and, when hostBinds (init is in a user namespace and a mount namespace of its
// own) and this runtime is root, every other bind mount too, cloned here on the
// host: the namespace's root is a stranger to the host, and a source below a
// directory only the host's root may enter (containerd's state directory, where
// a pod's /dev/shm, hosts and resolv.conf live) would be out of its reach (runc
// 1.2 on does the same).
func sendTrees(ch *channel, mounts []specs.Mount, pid int, hostBinds bool) error {
	trees, err := idmappedMounts(mounts, pid)
	if err != nil {
		return err
	}
	defer func() {
		for _, fd := range trees {
			unix.Close(fd)
		}
	}()
	if hostBinds && !unprivileged() {
		for i, m := range mounts {
			if _, ok := trees[i]; ok {
				continue
			}
			tree, err := rootfs.BindTree(m)
			if err != nil {
				return err
			}
			if tree >= 0 {
				trees[i] = tree
			}
		}
	}
	for i, fd := range trees {
		if err := ch.sendFd(message{Type: msgMount, Index: i}, fd); err != nil {
			return fmt.Errorf("send mount %s: %w", mounts[i].Destination, err)
		}
	}
	return nil
}

// InUserNS tells whether this process runs in a user namespace other than the
// host's, where even uid 0 is not the host's root (runc's rootless "auto" counts
// that as rootless too).
func InUserNS() bool {
	m := readIDMap("/proc/self/uid_map")
	return !(len(m) == 1 && m[0].ContainerID == 0 && m[0].HostID == 0 && m[0].Size == ^uint32(0))
}
