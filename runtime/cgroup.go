package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hullproject/hull/runtime/cgroups"
	"golang.org/x/sys/unix"
)

// A container's cgroup is named by its spec (linux.cgroupsPath), and it outlives
// what a runtime knows of the container: it still counts the OOM kills after the
// container stopped, and it still holds an init that a runtime lost (its creator
// killed before it recorded the container). These two reach it by that path,
// absolute from each hierarchy's root, whichever runtime made it.

// CgroupOOMKills counts the processes the kernel's OOM killer killed in the cgroup
// at path so far; an error if the cgroup or its memory controller is not there.
func CgroupOOMKills(path string) (uint64, error) {
	m, err := cgroups.Load(path)
	if err != nil {
		return 0, err
	}
	return m.OOMEvents()
}

// KillCgroup kills every process in the cgroup at path and removes it, with the
// cgroups below it. A cgroup that is not there has nothing to kill.
func KillCgroup(path string) error {
	m, err := cgroups.Load(path)
	if err != nil {
		return err
	}
	if err := m.Kill(unix.SIGKILL); err != nil {
		return err
	}
	return m.Destroy()
}

// KernelCgroup is one of a process's cgroups as the kernel reports it, with its
// limits and usage (runtime/cgroups.Group).
type KernelCgroup = cgroups.Group

// CgroupsOf reads the cgroups of process pid, and their limits and usage, from
// /proc and /sys.
func CgroupsOf(pid int) ([]KernelCgroup, error) { return cgroups.Of(pid) }

// CgroupsDiffer lists where a process's cgroups (from CgroupsOf) differ from the
// CPU limits and device rules of r (cgroups.Differs).
func CgroupsDiffer(groups []KernelCgroup, r *specs.LinuxResources) []string {
	return cgroups.Differs(groups, r)
}
