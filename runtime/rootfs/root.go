// Package rootfs builds a container's filesystem view: the mounts of an OCI spec, the
// default devices, masked and read-only paths, and the switch into the new root.
//
// The container's tree is controlled by whoever made the image, so no path into it is
// ever joined as a string and handed to the kernel: every lookup is openat2(2) with
// RESOLVE_IN_ROOT from a file descriptor of the root (internal/fsroot), every mount
// lands on a file descriptor (through /proc/self/fd/N or move_mount(2)), and a
// symlink that would lead a mount onto the host is followed only as far as the root
// allows, or refused.
package rootfs

import (
	"strconv"

	"github.com/hullproject/hull/internal/fsroot"
	"golang.org/x/sys/unix"
)

// Root is an open directory that every lookup below is confined to (fsroot.Root),
// with the runtime's mount operations on it.
type Root struct {
	*fsroot.Root
}

// OpenRoot opens dir as a root. The path itself is the host's (the bundle's rootfs),
// so it is resolved normally; what lies below it never is.
func OpenRoot(dir string) (*Root, error) {
	r, err := fsroot.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Root{r}, nil
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
