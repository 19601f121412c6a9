// Package rootfs builds a container's filesystem view: the mounts of an OCI spec, the
// default devices, masked and read-only paths, and the switch into the new root.
//
// The container's tree is controlled by whoever made the image, so no path into it is
// ever joined as a string and handed to the kernel: every lookup is openat2(2) with
// RESOLVE_IN_ROOT from a file descriptor of the root, every mount lands on a file
// descriptor (through /proc/self/fd/N or move_mount(2)), and a symlink that would
// lead a mount onto the host is followed only as far as the root allows, or refused.
package rootfs

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Root is an open directory that every lookup below is confined to.
type Root struct {
	fd   int
	Path string
}

// OpenRoot opens dir as a root. The path itself is the host's (the bundle's rootfs),
// so it is resolved normally; what lies below it never is.
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	return &Root{fd: fd, Path: dir}, nil
}

// Fd is the root's descriptor.
func (r *Root) Fd() int { return r.fd }

// Close releases the root's descriptor.
func (r *Root) Close() error { return unix.Close(r.fd) }

// resolveFlags confine a lookup to the root: ".." stops at it, absolute symlinks start
// from it, and /proc's magic links (which jump anywhere) are refused.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// Open resolves p inside the root and opens it with flags (O_CLOEXEC is added).
func (r *Root) Open(p string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
	for {
		fd, err := unix.Openat2(r.fd, clean(p), &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			// EAGAIN: a rename raced the lookup; the kernel asks us to retry.
			continue
		}
		return fd, err
	}
}

// OpenPath is Open with O_PATH: a handle to mount on or check, not to read.
func (r *Root) OpenPath(p string) (int, error) { return r.Open(p, unix.O_PATH) }

// Lstat tells the type of p itself (a final symlink is not followed).
func (r *Root) Lstat(p string) (uint32, error) {
	fd, err := r.Open(p, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Mode & unix.S_IFMT, nil
}

// MkdirAll makes the directory p and its parents inside the root, and returns an
// O_PATH descriptor of it. Each component is looked up from the root again, so a
// symlink met on the way is resolved inside the root; a dangling one has its target
// made, inside the root, as runc does; a component that exists and is not a
// directory is an error.
func (r *Root) MkdirAll(p string, mode uint32) (int, error) {
	return r.mkdirAll(clean(p), mode, 0)
}

func (r *Root) mkdirAll(p string, mode uint32, links int) (int, error) {
	if fd, err := r.Open(p, unix.O_PATH|unix.O_DIRECTORY); err == nil {
		return fd, nil
	}
	parent, err := unix.Dup(r.fd)
	if err != nil {
		return -1, err
	}
	comps := strings.Split(p, "/")
	sofar := ""
	for i, comp := range comps {
		if comp == "" || comp == "." {
			continue
		}
		sofar = path.Join(sofar, comp)
		fd, err := r.Open(sofar, unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			// The parent descriptor is the resolved parent, so mkdirat cannot be
			// redirected by a symlink in the path.
			err = unix.Mkdirat(parent, comp, mode)
			if err == unix.EEXIST {
				if target, lerr := readlinkat(parent, comp); lerr == nil {
					unix.Close(parent)
					if links >= 40 {
						return -1, fmt.Errorf("mkdir %s: %w", sofar, unix.ELOOP)
					}
					if !path.IsAbs(target) {
						target = path.Join("/", path.Dir(sofar), target)
					}
					return r.mkdirAll(clean(path.Join(target, strings.Join(comps[i+1:], "/"))), mode, links+1)
				}
			}
			if err != nil && err != unix.EEXIST {
				unix.Close(parent)
				return -1, fmt.Errorf("mkdir %s: %w", sofar, err)
			}
			fd, err = r.Open(sofar, unix.O_PATH|unix.O_DIRECTORY)
		}
		unix.Close(parent)
		if err != nil {
			return -1, fmt.Errorf("mkdir %s: %w", sofar, err)
		}
		parent = fd
	}
	return parent, nil
}

// readlinkat reads the symlink name in the directory dirfd.
func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// MkfileAll makes an empty file at p (a mount point for a file bind) unless something
// is there, making its parent directories, and returns an O_PATH descriptor of it.
func (r *Root) MkfileAll(p string, mode uint32) (int, error) {
	return r.mkfileAll(clean(p), mode, 0)
}

func (r *Root) mkfileAll(p string, mode uint32, links int) (int, error) {
	if fd, err := r.OpenPath(p); err == nil {
		return fd, nil
	}
	dir, base := path.Split(p)
	if base == "" || base == "." || base == ".." {
		return -1, fmt.Errorf("make file %s: not a file name", p)
	}
	parent, err := r.MkdirAll(dir, 0o755)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	fd, err := unix.Openat(parent, base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, mode)
	if err == unix.EEXIST && links < 40 {
		// A dangling symlink: make its target, inside the root.
		if target, lerr := readlinkat(parent, base); lerr == nil {
			if !path.IsAbs(target) {
				target = path.Join("/", dir, target)
			}
			return r.mkfileAll(clean(target), mode, links+1)
		}
	}
	if err != nil && err != unix.EEXIST {
		return -1, fmt.Errorf("make file %s: %w", p, err)
	}
	if err == nil {
		unix.Close(fd)
	}
	return r.OpenPath(p)
}

// clean makes p relative to the root; openat2 would treat an absolute path as
// starting from the root anyway under RESOLVE_IN_ROOT, but "" must become ".".
func clean(p string) string {
	p = strings.TrimLeft(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// procFd is the name by which mount(2) reaches the object behind fd: the kernel
// follows the magic link to that exact object, never re-walking a path.
func procFd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// fileType reads the type bits of what fd refers to.
func fileType(fd int) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Mode & unix.S_IFMT, nil
}
