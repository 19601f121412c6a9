package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/hullproject/hull/internal/proc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// PrepareHost sets the propagation of every mount the new mount namespace inherited,
// so that nothing the container mounts travels back to the host (rslave by default).
func PrepareHost(propagation uintptr) error {
	if propagation == 0 {
		propagation = unix.MS_SLAVE | unix.MS_REC
	}
	if err := unix.Mount("", "/", "", propagation, ""); err != nil {
		return fmt.Errorf("set propagation of /: %w", err)
	}
	return nil
}

// BindSelf bind-mounts dir onto itself: pivot_root(2) needs the new root to be a
// mount point, and the bind also gives the root its own mount to make read-only.
//
// pivot_root refuses a new root whose parent mount is shared, and a bind out of an
// unbindable mount fails: with rootfsPropagation shared or unbindable, the mount that
// holds dir is made private first (as runc does); the container's "/" gets the asked
// propagation after pivot_root.
func BindSelf(dir string, propagation uintptr) error {
	// Only a shared or unbindable "/" (asked for by rootfsPropagation) can make the
	// parent mount shared or unbindable: the default rslave cannot, and reading
	// mountinfo on every create is not free on a host with many mounts.
	if propagation&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 {
		if err := parentMountPrivate(dir); err != nil {
			return err
		}
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", dir, err)
	}
	return nil
}

// parentMountPrivate makes the mount that holds dir private if it is shared or
// unbindable. It is found in /proc/self/mountinfo as the longest mount point that is
// a prefix of dir (dir is the host's own path, resolved by the caller).
func parentMountPrivate(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	best, opt := "", ""
	for _, l := range strings.Split(string(data), "\n") {
		pre, _, ok := strings.Cut(l, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 6 {
			continue
		}
		mp := proc.Unescape(f[4])
		if (mp == "/" || dir == mp || strings.HasPrefix(dir, mp+"/")) && len(mp) >= len(best) {
			best, opt = mp, strings.Join(f[6:], " ")
		}
	}
	if best == "" || !(strings.Contains(opt, "shared:") || strings.Contains(opt, "unbindable")) {
		return nil
	}
	if err := unix.Mount("", best, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", best, err)
	}
	return nil
}

// Mount makes one OCI mount inside the root. Bind sources are host paths (absolute).
func (r *Root) Mount(m specs.Mount) error {
	o, err := ParseOptions(m.Options)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	if m.Type == "bind" {
		o.Bind = true
	}
	if o.IDMap {
		// The runtime makes those on the host (IDMapTree) for Attach.
		return fmt.Errorf("mount %s: id-mapped mount not prepared", m.Destination)
	}
	switch {
	case o.Flags&unix.MS_REMOUNT != 0:
		err = r.remount(m, o)
		if err == nil {
			err = r.setRecursive(m.Destination, o)
		}
	case o.Bind:
		err = r.bind(m, o)
	default:
		err = r.mountFS(m, o)
		if err == nil {
			err = r.setRecursive(m.Destination, o)
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	return nil
}

// remount changes the flags of the mount already at the destination (not of the
// mounts below it), e.g. to make a tmpfs read-only once its content is in place.
func (r *Root) remount(m specs.Mount, o Options) error {
	fd, err := r.OpenPath(m.Destination)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: attrs(o.Flags), Attr_clr: attrs(o.Clear)}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("remount: %w", err)
	}
	return nil
}

// setRecursive sets the recursive options ("rro", "rnosuid", ...) on the mount now at
// dest and every mount below it. A bind has them already: cloneTree set them on the
// detached copy.
func (r *Root) setRecursive(dest string, o Options) error {
	if o.RecSet == 0 && o.RecClear == 0 {
		return nil
	}
	fd, err := r.OpenPath(dest)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return setAttrs(fd, Options{RecSet: o.RecSet, RecClear: o.RecClear})
}

// mountFS mounts a new filesystem instance (proc, sysfs, tmpfs, devpts, mqueue, ...).
func (r *Root) mountFS(m specs.Mount, o Options) error {
	// A filesystem lands on a real directory. A symlink in its place -- a rootfs whose
	// /proc points at a host directory, say -- is refused rather than followed.
	if t, err := r.Lstat(m.Destination); err == nil && t == unix.S_IFLNK {
		return fmt.Errorf("destination is a symlink")
	}
	dfd, err := r.MkdirAll(m.Destination, 0o755)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	src := m.Source
	if src == "" {
		src = m.Type
	}
	if err := unix.Mount(src, procFd(dfd), m.Type, o.Flags, o.Data); err != nil {
		// A user namespace may mount sysfs only with a network namespace of its
		// own; without one it gets the host's /sys, read-only, as runc does.
		if m.Type == "sysfs" && errors.Is(err, unix.EPERM) {
			o.Bind, o.Recursive = true, true
			o.Flags |= unix.MS_RDONLY
			o.RecSet |= unix.MOUNT_ATTR_RDONLY // and what is mounted below it
			return r.bind(specs.Mount{Destination: m.Destination, Source: "/sys", Type: "bind"}, o)
		}
		return fmt.Errorf("mount %s (%s): %w", src, m.Type, err)
	}
	return r.propagate(m.Destination, o.Propagation)
}

// bind clones the source tree with open_tree(2), sets its flags on the detached copy
// with mount_setattr(2) -- so it is never visible writable, even for an instant -- and
// attaches it onto the destination's descriptor with move_mount(2).
func (r *Root) bind(m specs.Mount, o Options) error {
	if !path.IsAbs(m.Source) {
		return fmt.Errorf("bind source %q is not an absolute path", m.Source)
	}
	if _, err := os.Stat(m.Source); err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	tree, err := cloneTree(m.Source, o)
	if err != nil {
		return err
	}
	defer unix.Close(tree)
	return r.attach(m.Destination, tree, o.Propagation)
}

// cloneTree makes a detached copy of the mount at src (with the mounts below it when
// o.Recursive) and sets o's flags on it.
func cloneTree(src string, o Options) (int, error) {
	treeFlags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if o.Recursive {
		treeFlags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, src, uint(treeFlags))
	if err != nil {
		return -1, fmt.Errorf("clone %s: %w", src, err)
	}
	if err := setAttrs(tree, o); err != nil {
		unix.Close(tree)
		return -1, fmt.Errorf("%s: %w", src, err)
	}
	return tree, nil
}

// setAttrs sets o's flags on the mount fd is: the plain ones ("ro", "nosuid") on
// that mount alone, as runc's remount of a bind does, so that an "rbind,ro" leaves
// the mounts below it as they were; then the recursive ones ("rro", ...) on it and
// on every mount below, in that order (runc's too: "ro,rrw" ends read-write).
func setAttrs(fd int, o Options) error {
	attr := unix.MountAttr{Attr_set: attrs(o.Flags), Attr_clr: attrs(o.Clear)}
	if a, ok := atime(o.Flags); ok {
		attr.Attr_set |= a
		attr.Attr_clr |= unix.MOUNT_ATTR__ATIME
	}
	if attr.Attr_set != 0 || attr.Attr_clr != 0 {
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
			return fmt.Errorf("set flags: %w", err)
		}
	}
	if o.RecSet != 0 || o.RecClear != 0 {
		rec := unix.MountAttr{Attr_set: o.RecSet, Attr_clr: o.RecClear}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &rec); err != nil {
			return fmt.Errorf("set recursive flags: %w", err)
		}
	}
	return nil
}

// BindTree clones the source of a bind mount on the caller's side, with m's
// flags, as a detached mount for Attach; it returns -1 for a mount that is not a
// bind (or is a remount, or id-mapped: IDMapTree makes those). The runtime calls
// it on the host for a container in a user namespace, whose root may not reach
// the source (a directory only the host's root may enter) -- as runc does.
func BindTree(m specs.Mount) (int, error) {
	o, err := ParseOptions(m.Options)
	if err != nil {
		return -1, fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	if (m.Type != "bind" && !o.Bind) || o.IDMap || o.Flags&unix.MS_REMOUNT != 0 {
		return -1, nil
	}
	if !path.IsAbs(m.Source) {
		return -1, fmt.Errorf("mount %s: bind source %q is not an absolute path", m.Destination, m.Source)
	}
	if _, err := os.Stat(m.Source); err != nil {
		return -1, fmt.Errorf("mount %s: bind source: %w", m.Destination, err)
	}
	tree, err := cloneTree(m.Source, o)
	if err != nil {
		return -1, fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	return tree, nil
}

// IDMapTree clones the source of a bind mount with "idmap" or "ridmap" as a detached
// mount, with m's flags, whose ids are mapped through the user namespace userns (an
// open /proc/PID/ns/user): a file the filesystem stores as owned by id N shows as
// owned by whatever userns maps N to, and writes map back the same way. It returns
// the mount's descriptor, for Attach to put in place.
//
// The runtime calls it on the host, not init in the container: id-mapping a mount
// needs CAP_SYS_ADMIN over the filesystem's own user namespace, the host's.
func IDMapTree(m specs.Mount, userns int) (int, error) {
	o, err := ParseOptions(m.Options)
	if err != nil {
		return -1, err
	}
	tree, err := cloneTree(m.Source, o)
	if err != nil {
		return -1, err
	}
	flags := unix.AT_EMPTY_PATH
	if o.RecursiveIDMap {
		flags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns)}
	if err := unix.MountSetattr(tree, "", uint(flags), &attr); err != nil {
		unix.Close(tree)
		// EINVAL: the filesystem does not support id-mapped mounts (or has them
		// turned off), or the mapping is the filesystem's own.
		if errors.Is(err, unix.EINVAL) {
			return -1, fmt.Errorf("id-map %s: its filesystem cannot be id-mapped", m.Source)
		}
		return -1, fmt.Errorf("id-map %s: %w", m.Source, err)
	}
	return tree, nil
}

// Attach puts the detached mount tree (from IDMapTree or BindTree) at m's destination.
func (r *Root) Attach(m specs.Mount, tree int) error {
	o, err := ParseOptions(m.Options)
	if err == nil {
		err = r.attach(m.Destination, tree, o.Propagation)
	}
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	return nil
}

// attach moves a detached mount onto dest, made first as a directory or an empty
// file, whichever the mount's root is.
func (r *Root) attach(dest string, tree int, props []uintptr) error {
	t, err := fileType(tree)
	if err != nil {
		return err
	}
	var dfd int
	if t == unix.S_IFDIR {
		dfd, err = r.MkdirAll(dest, 0o755)
	} else {
		dfd, err = r.MkfileAll(dest, 0o644)
	}
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := unix.MoveMount(tree, "", dfd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	return r.propagate(dest, props)
}

// propagate sets propagation on the mount now at dest. The destination is looked up
// again: the descriptor used to mount still names the directory underneath.
func (r *Root) propagate(dest string, props []uintptr) error {
	if len(props) == 0 {
		return nil
	}
	fd, err := r.OpenPath(dest)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, p := range props {
		if err := unix.Mount("", procFd(fd), "", p, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

// Device is a device node to make under the root.
type Device = specs.LinuxDevice

// DefaultDevices are the nodes every container gets (runtime-spec "Default Devices").
var DefaultDevices = []Device{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// NodeMode is d's mode for mknod: its file type (c and u: character, b: block,
// p: fifo) and its permissions, 0666 where the spec gives none. ok is false for
// any other type.
func NodeMode(d Device) (mode uint32, ok bool) {
	switch d.Type {
	case "c", "u":
		mode = unix.S_IFCHR
	case "b":
		mode = unix.S_IFBLK
	case "p":
		mode = unix.S_IFIFO
	default:
		return 0, false
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(*d.FileMode) & 0o7777
	}
	return mode | perm, true
}

// MakeDevice creates a device node inside the root. With bind (a user namespace,
// where mknod of a real device is not allowed) it bind-mounts the host's node of the
// same path onto an empty file instead.
func (r *Root) MakeDevice(d Device, bind bool) error {
	dir, base := path.Split(path.Clean("/" + d.Path))
	if base == "" {
		return fmt.Errorf("device path %q has no name", d.Path)
	}
	if bind {
		return r.bind(specs.Mount{Destination: d.Path, Source: d.Path, Type: "bind"},
			Options{Bind: true, Flags: unix.MS_NOSUID | unix.MS_NOEXEC})
	}
	mode, ok := NodeMode(d)
	if !ok {
		return fmt.Errorf("device %s: unknown type %q", d.Path, d.Type)
	}
	parent, err := r.MkdirAll(dir, 0o755)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	// The parent is an O_PATH descriptor; mknodat and fchownat take it as a directory.
	if t, err := r.Lstat(d.Path); err == nil {
		if t == unix.S_IFLNK || t == unix.S_IFDIR {
			return fmt.Errorf("device %s: a %s is in the way", d.Path, typeName(t))
		}
		if err := unix.Unlinkat(parent, base, 0); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	dev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	if err := unix.Mknodat(parent, base, mode, int(dev)); err != nil {
		return fmt.Errorf("mknod %s: %w", d.Path, err)
	}
	// mknod is subject to the umask; the node gets exactly the mode asked for.
	if err := unix.Fchmodat(parent, base, mode&0o7777, 0); err != nil {
		return fmt.Errorf("chmod %s: %w", d.Path, err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(parent, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", d.Path, err)
	}
	return nil
}

func typeName(t uint32) string {
	switch t {
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFDIR:
		return "directory"
	}
	return "file"
}

// Symlink makes a symlink at p inside the root unless p exists.
func (r *Root) Symlink(target, p string) error {
	dir, base := path.Split(path.Clean("/" + p))
	parent, err := r.MkdirAll(dir, 0o755)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	if err := unix.Symlinkat(target, parent, base); err != nil && err != unix.EEXIST {
		return fmt.Errorf("symlink %s: %w", p, err)
	}
	return nil
}

// DevLinks are the /dev links every container has, as {target, link}: /dev/core
// only where the host has /proc/kcore. The Go init (DevSymlinks) and the C init's
// compiler both make these.
func DevLinks() [][2]string {
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	return links
}

// DevSymlinks makes the /dev links every container has (DevLinks). /dev/ptmx points
// into the container's devpts when it has one, so ptys it opens are its own.
func (r *Root) DevSymlinks(devpts bool) error {
	for _, l := range DevLinks() {
		if err := r.Symlink(l[0], l[1]); err != nil {
			return err
		}
	}
	if devpts {
		parent, err := r.OpenPath("/dev")
		if err != nil {
			return err
		}
		defer unix.Close(parent)
		if err := unix.Unlinkat(parent, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("replace /dev/ptmx: %w", err)
		}
		if err := unix.Symlinkat("pts/ptmx", parent, "ptmx"); err != nil {
			return fmt.Errorf("symlink /dev/ptmx: %w", err)
		}
	}
	return nil
}

// BindFd bind-mounts the object behind fd (a pty slave for /dev/console) onto p.
func (r *Root) BindFd(fd int, p string) error {
	dfd, err := r.MkfileAll(p, 0o600)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := unix.Mount(procFd(fd), procFd(dfd), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind onto %s: %w", p, err)
	}
	return nil
}

// OpenNull opens the host's /dev/null for masking, and checks it is the real one.
func OpenNull() (int, error) {
	fd, err := unix.Open("/dev/null", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		unix.Close(fd)
		return -1, fmt.Errorf("/dev/null is not the null device")
	}
	return fd, nil
}

// Mask hides each path: a directory under an empty read-only tmpfs, anything else
// under the host's /dev/null. A path that does not exist needs no mask; a path that
// is a symlink is refused, since masking its target could mask anything.
func (r *Root) Mask(paths []string, null int) error {
	for _, p := range paths {
		fd, err := r.Open(p, unix.O_PATH|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
		t, err := fileType(fd)
		switch {
		case err != nil:
		case t == unix.S_IFLNK:
			err = fmt.Errorf("is a symlink")
		case t == unix.S_IFDIR:
			err = unix.Mount("tmpfs", procFd(fd), "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=555")
		default:
			err = unix.Mount(procFd(null), procFd(fd), "", unix.MS_BIND, "")
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

// Readonly makes each path a read-only bind of itself (with everything mounted below
// it), the attribute set on the detached clone before it is attached.
func (r *Root) Readonly(paths []string) error {
	for _, p := range paths {
		fd, err := r.Open(p, unix.O_PATH|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read-only %s: %w", p, err)
		}
		err = readonly(fd)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("read-only %s: %w", p, err)
		}
	}
	return nil
}

func readonly(fd int) error {
	if t, err := fileType(fd); err != nil || t == unix.S_IFLNK {
		return fmt.Errorf("is a symlink")
	}
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
	if err != nil {
		return err
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return err
	}
	return unix.MoveMount(tree, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// Pivot makes the root the process's "/" with pivot_root(2) and drops the old root.
// pivot_root(".", ".") stacks the old root on top of the new one at the same place,
// so a single lazy unmount of "." removes it -- no directory for it inside the
// container is needed. The old root is made a slave first, so the unmount does not
// propagate to the host's mounts.
//
// The old root is reached through a descriptor opened before the switch: after it,
// "." names the new root (only umount follows the stack up to the old one), and a
// recursive MS_SLAVE there would turn every shared mount of the container private.
func (r *Root) Pivot() error {
	old, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(old)
	if err := unix.Fchdir(r.Fd()); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(old); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root a slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	return unix.Chdir("/")
}

// MoveRoot is the --no-pivot switch: move the root's mount onto "/" and chroot into
// it. The old root stays reachable to anyone who can escape a chroot, which is why
// pivot_root is the default.
func (r *Root) MoveRoot() error {
	if err := unix.Fchdir(r.Fd()); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs onto /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

// ReadonlyRoot makes the (new) root mount read-only, after everything was mounted on it.
func ReadonlyRoot() error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, "/", 0, &attr); err != nil {
		return fmt.Errorf("make / read-only: %w", err)
	}
	return nil
}
