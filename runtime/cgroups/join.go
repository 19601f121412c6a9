package cgroups

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// JoinFiles lets a child join the cgroup as it is born, instead of being moved
// into it with Apply(pid) afterwards. Call it after Apply(0) made the cgroup.
//
// Moving another process (writing its pid to cgroup.procs) takes the kernel's
// global cgroup_threadgroup_rwsem for writing, and the first writer after a quiet
// spell waits for an RCU grace period: 8-20 ms on a small VM, the largest single
// cost of starting a container on a v1 or hybrid host. Two ways in skip that lock:
//
//   - v1: a thread that writes "0" to a hierarchy's "tasks" file moves only itself,
//     which the kernel does without the global lock. The child does that from
//     nsenter's constructor, while it is still single-threaded, so the whole
//     process moves and every thread the Go runtime makes later inherits the
//     cgroup. tasks holds one open "tasks" file per v1 hierarchy; the kernel checks
//     permission against the credentials of the opener (this process), so the
//     child may already be in a user namespace when it writes.
//   - v2: clone3 with CLONE_INTO_CGROUP starts the child in the cgroup. dir is the
//     cgroup directory of the v2 hierarchy, or nil when the host has none.
//
// The caller closes the files once the child is started.
func (m *Manager) JoinFiles() (tasks []*os.File, dir *os.File, err error) {
	defer func() {
		if err != nil {
			for _, f := range tasks {
				f.Close()
			}
			if dir != nil {
				dir.Close()
			}
			tasks, dir = nil, nil
		}
	}()
	for _, h := range m.hs {
		if h.v2() {
			fd, err := unix.Open(h.dir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return tasks, dir, fmt.Errorf("open cgroup %s: %w", h.dir(), err)
			}
			dir = os.NewFile(uintptr(fd), h.dir())
			continue
		}
		// os.NewFile, not os.OpenFile: the child only inherits it, and an opened
		// *os.File would be tried on the poller and set non-blocking and back.
		p := filepath.Join(h.dir(), "tasks")
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return tasks, dir, fmt.Errorf("open cgroup %s: %w", h.dir(), &os.PathError{Op: "open", Path: p, Err: err})
		}
		tasks = append(tasks, os.NewFile(uintptr(fd), p))
	}
	return tasks, dir, nil
}
