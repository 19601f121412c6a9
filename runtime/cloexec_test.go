package runtime

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMarkCloexecProc: the /proc/self/fd walk, markCloexec's way when close_range
// is refused, sets close-on-exec on the descriptors from the given number on, and
// on no other.
func TestMarkCloexecProc(t *testing.T) {
	var fds []int
	for range 3 {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0) // not close-on-exec
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		fds = append(fds, fd)
	}
	slices.Sort(fds)
	if err := markCloexecProc(fds[1]); err != nil {
		t.Fatal(err)
	}
	for i, fd := range fds {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := flags&unix.FD_CLOEXEC != 0, i > 0; got != want {
			t.Errorf("descriptor %d: close-on-exec %v, want %v", fd, got, want)
		}
	}
}
