package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Group is one of a process's cgroups as the kernel reports it: a line of
// /proc/PID/cgroup, where that cgroup is on this host, and the limits and usage
// its controllers' files hold now.
type Group struct {
	// Hierarchy names it as /proc/PID/cgroup does: its v1 controllers
	// ("cpu,cpuacct", "name=systemd"), or "" for the cgroup2 hierarchy.
	Hierarchy string `json:"hierarchy"`
	Path      string `json:"path"` // from the hierarchy's root
	Dir       string `json:"dir"`  // the cgroup's directory on this host
	// Files are the limit and usage files of its controllers that exist, by name
	// (memory.limit_in_bytes, memory.max, pids.max, pids.current, cpu.max ...),
	// with their contents.
	Files map[string]string `json:"files,omitempty"`
}

// viewFiles are the files Of reads: what a person asks of a container's limits.
var viewFiles = []string{
	"memory.limit_in_bytes", "memory.usage_in_bytes", "memory.memsw.limit_in_bytes", "memory.max", "memory.current", "memory.swap.max",
	"pids.max", "pids.current",
	"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares", "cpu.max", "cpu.weight",
	"cpuset.cpus", "cpuset.mems", "blkio.weight", "io.weight",
	"cgroup.controllers",
}

// Of reads the cgroups of process pid from /proc/PID/cgroup (as this host's
// mounts see them) and the limits and usage in their files. A process in a
// cgroup namespace of its own still reads here as the host sees it: the file is
// read from this process's side.
func Of(pid int) ([]Group, error) {
	hs, err := hierarchiesOf("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return nil, err
	}
	var out []Group
	for _, h := range hs {
		g := Group{Hierarchy: h.key, Path: h.own, Dir: filepath.Join(h.mount, h.own), Files: map[string]string{}}
		for _, f := range viewFiles {
			if data, err := os.ReadFile(filepath.Join(g.Dir, f)); err == nil {
				g.Files[f] = strings.TrimSpace(string(data))
			}
		}
		out = append(out, g)
	}
	return out, nil
}
