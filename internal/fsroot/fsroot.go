// Package fsroot opens and makes files below a directory as if it were "/": the
// lookups into a tree that someone else controls (an image's layers, a container's
// rootfs, a volume's source, a build's context and its target snapshot).
//
// Whoever made the tree chose every name in it, so no path into it is ever joined
// as a string and handed to the kernel: every lookup is openat2(2) with
// RESOLVE_IN_ROOT from a file descriptor of the root. ".." stops at the root, an
// absolute symlink starts from it, and /proc's magic links (RESOLVE_NO_MAGICLINKS),
// which jump anywhere, are refused, so a symlink planted in the tree, even by a
// process racing the lookup, resolves inside the tree or not at all. What is made
// is made relative to the descriptor of its resolved parent (mkdirat, openat with
// O_EXCL|O_NOFOLLOW), so a symlink cannot redirect it either.
//
// There is no fallback for kernels without openat2 (before 5.6): there a lookup
// fails (ENOSYS), it never falls back to resolving a path string.
package fsroot

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Root is an open directory that every lookup below is confined to.
type Root struct {
	fd   int
	Path string
}

// Open opens dir as a root. The path itself is the caller's (a bundle's rootfs, a
// snapshot's mount), so it is resolved normally; what lies below it never is.
func Open(dir string) (*Root, error) {
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

// OpenIn resolves p below the directory dirfd as if dirfd were "/" and opens it
// with flags (O_CLOEXEC is added). resolve adds RESOLVE_* flags to the confinement,
// which is always there: RESOLVE_NO_XDEV, say, not to cross a mount point. The
// error is openat2's own (errors.Is works on it: ENOENT, ELOOP, EXDEV, ...).
func OpenIn(dirfd int, p string, flags int, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags | resolve}
	p = Clean(p)
	for {
		fd, err := unix.Openat2(dirfd, p, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			// EAGAIN: a rename or a mount raced the lookup, which the kernel
			// cannot then prove stayed inside the root; it asks us to retry.
			continue
		}
		return fd, err
	}
}

// Open resolves p inside the root and opens it with flags (O_CLOEXEC is added).
func (r *Root) Open(p string, flags int) (int, error) { return OpenIn(r.fd, p, flags, 0) }

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

// maxLinks bounds the dangling symlinks MkdirAll and MkfileAll follow, as the
// kernel bounds a lookup's (40, ELOOP).
const maxLinks = 40

// MkdirAll makes the directory p and its parents inside the root, and returns an
// O_PATH descriptor of it. Each component is looked up from the root again, so a
// symlink met on the way is resolved inside the root; a dangling one has its target
// made, inside the root, as runc does; a component that exists and is not a
// directory is an error.
func (r *Root) MkdirAll(p string, mode uint32) (int, error) {
	return r.mkdirAll(Clean(p), mode, 0)
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
				if target, lerr := Readlink(parent, comp); lerr == nil {
					unix.Close(parent)
					if links >= maxLinks {
						return -1, fmt.Errorf("mkdir %s: %w", sofar, unix.ELOOP)
					}
					if !path.IsAbs(target) {
						target = path.Join("/", path.Dir(sofar), target)
					}
					return r.mkdirAll(Clean(path.Join(target, strings.Join(comps[i+1:], "/"))), mode, links+1)
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

// MkfileAll makes an empty file at p (a mount point for a file bind) unless something
// is there, making its parent directories, and returns an O_PATH descriptor of it.
func (r *Root) MkfileAll(p string, mode uint32) (int, error) {
	return r.mkfileAll(Clean(p), mode, 0)
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
	if err == unix.EEXIST && links < maxLinks {
		// A dangling symlink: make its target, inside the root.
		if target, lerr := Readlink(parent, base); lerr == nil {
			if !path.IsAbs(target) {
				target = path.Join("/", dir, target)
			}
			return r.mkfileAll(Clean(target), mode, links+1)
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

// Readlink reads the symlink name in the directory dirfd (with name "", the
// symlink dirfd itself, an O_PATH|O_NOFOLLOW descriptor of it).
func Readlink(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// Clean makes p relative to the root: openat2 would treat an absolute path as
// starting from the root anyway under RESOLVE_IN_ROOT, but "" must become ".".
// A ".." in p stops at the root, as the kernel's would.
func Clean(p string) string {
	p = strings.TrimLeft(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}
