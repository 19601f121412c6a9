package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/fsroot"
)

// CopyUp fills the volume v with the content of dir in the container's rootfs, the
// first time v is mounted, as docker does when a new volume is mounted over a
// directory of the image. It does nothing if the volume was copied up before or
// has data; otherwise it copies (or finds nothing at dir) and records CopiedUp in
// volume.json, so it never happens again, even after the volume is emptied.
// The engine skips it for a NoCopy mount, and calls it before the container starts.
//
// What is copied: regular files, directories, symlinks (as symlinks: their targets
// are never followed), fifos and device nodes, hardlinks within dir as hardlinks,
// and every entry's owner, mode (setuid, setgid, sticky included), extended
// attributes, and access and modification times. The volume's top directory takes
// dir's owner, mode, xattrs and times. Sockets are skipped (tar skips them too).
// An xattr the volume's filesystem cannot hold (EOPNOTSUPP), and a security.* or
// trusted.* one it refuses (EPERM, EACCES: an LSM's label, say), is dropped; any
// other failure fails the copy and leaves the volume empty, to be tried again at
// the next mount.
//
// The rootfs is the image's, so whoever made the image controls every name in it.
// dir is resolved with openat2(2) RESOLVE_IN_ROOT from a descriptor of rootfs: a
// symlink at or on the way to dir is followed inside the rootfs only (to the same
// directory the runtime will mount the volume on), never to the host. Below dir the
// walk is by descriptor, one name at a time, and follows no symlink.
//
// The copy is built in <volume>/.copyup, then its entries are renamed into _data.
// _data itself is never replaced: a running container that has the volume mounted
// (a nocopy mount) holds that very directory, and would not see a new one. A crash
// between the renames is finished by the next CopyUp (volume.json says CopyingUp,
// so the entries already moved are not taken for the user's data).
func CopyUp(v *Volume, rootfs, dir string) error {
	if v.dir == "" {
		return fmt.Errorf("copy up into volume %s: not a volume of a store", v.Name)
	}
	if v.Options["type"] != "" {
		return nil // its data is the device's, mounted by each container (ToOCI)
	}
	unlock, err := atomicfile.Lock(filepath.Join(v.dir, ".lock"), atomicfile.Exclusive)
	if err != nil {
		return fmt.Errorf("copy up into volume %s: %w", v.Name, err)
	}
	defer unlock()
	// Read again under the lock: another container may have copied meanwhile.
	cur, err := readVolume(v.dir)
	if err != nil {
		return err
	}
	if !cur.CopiedUp {
		if err := copyUp(cur, rootfs, dir); err != nil {
			return fmt.Errorf("copy %s up into volume %s: %w", dir, v.Name, err)
		}
	}
	v.CopiedUp, v.CopyingUp = true, false
	return nil
}

// copyUp does CopyUp's work under the volume's lock, and records it in v.
func copyUp(v *Volume, rootfs, dir string) error {
	save := func() error { return writeJSON(filepath.Join(v.dir, "volume.json"), v) }
	empty, err := isEmpty(v.Mountpoint)
	if err != nil {
		return err
	}
	if !empty && !v.CopyingUp {
		// The user's data (or a nocopy container's): the volume is not new.
		v.CopiedUp = true
		return save()
	}

	root, err := fsroot.Open(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	// As the container will see it: ".." stops at rootfs, absolute symlinks start
	// from it, /proc's magic links are refused.
	src, err := root.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		// Nothing in the image there: the volume stays empty, and this mount was
		// its first all the same.
		v.CopiedUp, v.CopyingUp = true, false
		return save()
	}
	if err != nil {
		return fmt.Errorf("open %s in rootfs: %w", fsroot.Clean(dir), err)
	}
	defer unix.Close(src)

	tmp := filepath.Join(v.dir, ".copyup")
	if err := os.RemoveAll(tmp); err != nil { // a crashed copy-up's
		return err
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // empty after the moves, unless they failed
	from, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(from)
	c := &copier{top: from, links: map[[2]uint64]string{}}
	if err := c.copyDir(src, from, ""); err != nil {
		return err
	}

	v.CopyingUp = true
	if err := save(); err != nil {
		return err
	}
	to, err := unix.Open(v.Mountpoint, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(to)
	names, err := readNames(from)
	if err != nil {
		return err
	}
	for _, n := range names {
		// NOREPLACE: what is there already (moved before a crash, or written by a
		// running container meanwhile) stays.
		err := unix.Renameat2(from, n, to, n, unix.RENAME_NOREPLACE)
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("move %s into the volume: %w", n, err)
		}
	}

	// The top directory is the image directory's: owner, mode, xattrs, times (last,
	// as the moves changed them).
	parent, err := unix.Open(v.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	if err := meta(src, "", parent, "_data", &st); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	v.CopiedUp, v.CopyingUp = true, false
	return save()
}

// isEmpty tells whether the directory dir has no entries.
func isEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// copier copies one tree into another by descriptors.
type copier struct {
	top int // the copy's top directory
	// links maps a hardlinked source inode (dev, ino) to its first copy, by its
	// path below top.
	links map[[2]uint64]string
}

// copyDir copies the entries of the directory src into the directory dst; rel is
// src's path below the copy's top, for errors and hardlinks.
func (c *copier) copyDir(src, dst int, rel string) error {
	names, err := readNames(src)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	for _, name := range names {
		if err := c.copyEntry(src, dst, name, path.Join(rel, name)); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies the entry name of the directory src into dst. Every call takes
// a single name relative to a directory descriptor, so no symlink is followed.
func (c *copier) copyEntry(src, dst int, name, rel string) error {
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("%s: %w", rel, err)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return wrap(err)
	}
	typ := st.Mode & unix.S_IFMT
	key := [2]uint64{st.Dev, st.Ino}
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			return wrap(c.link(first, dst, name))
		}
	}
	if typ == unix.S_IFDIR {
		if err := c.copySubdir(src, dst, name, rel); err != nil {
			return err
		}
		return wrap(meta(src, name, dst, name, &st))
	}
	var err error
	switch typ {
	case unix.S_IFREG:
		err = copyFile(src, dst, name, &st)
	case unix.S_IFLNK:
		var target string
		if target, err = fsroot.Readlink(src, name); err == nil {
			err = unix.Symlinkat(target, dst, name)
		}
	case unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK:
		err = unix.Mknodat(dst, name, st.Mode, int(st.Rdev))
	default:
		// A socket is a live endpoint of some process; a copy of it means nothing.
		return nil
	}
	if err != nil {
		return wrap(err)
	}
	if st.Nlink > 1 {
		c.links[key] = rel
	}
	return wrap(meta(src, name, dst, name, &st))
}

// copySubdir makes the directory name in dst and copies src's name into it (its
// metadata comes after its entries, whose making would change its times). Errors
// name the entry.
func (c *copier) copySubdir(src, dst int, name, rel string) error {
	if err := unix.Mkdirat(dst, name, 0o700); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	s, err := unix.Openat(src, name, flags, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	defer unix.Close(s)
	d, err := unix.Openat(dst, name, flags, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	defer unix.Close(d)
	return c.copyDir(s, d, rel)
}

// link makes name in dst another link to the first copy of its inode.
func (c *copier) link(first string, dst int, name string) error {
	// Our own tree, but resolved without symlinks all the same: fail closed.
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	}
	parent, err := unix.Openat2(c.top, path.Dir(first), &how)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	return unix.Linkat(parent, path.Base(first), dst, name, 0)
}

// copyFile copies the regular file name of src into dst.
func copyFile(src, dst int, name string, st *unix.Stat_t) error {
	// O_NONBLOCK: were the file swapped for a fifo since the stat, open must not hang.
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	sf := os.NewFile(uintptr(s), name)
	defer sf.Close()
	var now unix.Stat_t
	if err := unix.Fstat(s, &now); err != nil {
		return err
	}
	if now.Mode&unix.S_IFMT != unix.S_IFREG || now.Ino != st.Ino || now.Dev != st.Dev {
		return errors.New("changed during the copy")
	}
	d, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	df := os.NewFile(uintptr(d), name)
	if _, err := io.Copy(df, sf); err != nil {
		df.Close()
		return err
	}
	return df.Close()
}

// meta gives the entry dname of dst the owner, mode, xattrs and times of the
// entry sname of src (of src itself when sname is ""), whose stat is st. The order
// matters: chown clears setuid, setgid and security.capability, so mode and
// xattrs come after it; times come last, as every other change touches them.
func meta(src int, sname string, dst int, dname string, st *unix.Stat_t) error {
	if err := unix.Fchownat(dst, dname, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK { // a symlink's mode means nothing
		// dname is not a symlink (we just made it), so following it is moot.
		if err := unix.Fchmodat(dst, dname, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := copyXattrs(src, sname, dst, dname); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dst, dname, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// xattrPath names the entry name of the directory dirfd for the l*xattr calls,
// which have no *at form: the kernel follows the magic link to that exact
// directory, then looks name up in it without following name itself.
func xattrPath(dirfd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
}

// copyXattrs copies the extended attributes of src's sname (src itself if "") to
// dst's dname, dropping those the destination cannot or will not hold (see CopyUp).
func copyXattrs(src int, sname string, dst int, dname string) error {
	list := func(buf []byte) (int, error) {
		if sname == "" {
			return unix.Flistxattr(src, buf)
		}
		return unix.Llistxattr(xattrPath(src, sname), buf)
	}
	get := func(attr string, buf []byte) (int, error) {
		if sname == "" {
			return unix.Fgetxattr(src, attr, buf)
		}
		return unix.Lgetxattr(xattrPath(src, sname), attr, buf)
	}
	names, err := sized(list)
	if err == unix.EOPNOTSUPP {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list xattrs: %w", err)
	}
	for _, attr := range strings.Split(strings.TrimRight(string(names), "\x00"), "\x00") {
		if attr == "" {
			continue
		}
		val, err := sized(func(buf []byte) (int, error) { return get(attr, buf) })
		if err == unix.ENODATA {
			continue // removed since the listing
		}
		if err != nil {
			return fmt.Errorf("read xattr %s: %w", attr, err)
		}
		err = unix.Lsetxattr(xattrPath(dst, dname), attr, val, 0)
		if err == unix.EOPNOTSUPP {
			continue
		}
		if (err == unix.EPERM || err == unix.EACCES) &&
			(strings.HasPrefix(attr, "security.") || strings.HasPrefix(attr, "trusted.")) {
			continue
		}
		if err != nil {
			return fmt.Errorf("set xattr %s: %w", attr, err)
		}
	}
	return nil
}

// sized calls an xattr call that fills buf, first asking the size, again if the
// value grew meanwhile (ERANGE).
func sized(call func(buf []byte) (int, error)) ([]byte, error) {
	for {
		n, err := call(nil)
		if err != nil || n == 0 {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = call(buf)
		if err == unix.ERANGE {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// readNames lists the directory fd, sorted (so hardlinks are met in a fixed order).
func readNames(fd int) ([]string, error) {
	// A duplicate, since os.File closes what it holds.
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(d), "")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}
