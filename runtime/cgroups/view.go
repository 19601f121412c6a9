package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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
	"devices.list", "cgroup.controllers",
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

// Differs lists where the cgroups a process is in (from Of) differ from the CPU
// and device limits of r, one sentence each: the CFS quota and period (cpu.max,
// or cpu.cfs_quota_us and cpu.cfs_period_us), the shares (cpu.shares, or the
// cpu.weight runc's curve maps them to), the cpuset (as sets: the kernel writes
// "0,1" as "0-1"), and the device rules where the kernel shows them (v1's
// devices.list; cgroup v2's are an eBPF program, not readable as rules). What r
// does not set is not compared: it is whatever the parent gives.
func Differs(groups []Group, r *specs.LinuxResources) []string {
	out := []string{}
	if r == nil {
		return out
	}
	file := func(name string) (string, bool) {
		for _, g := range groups {
			if v, ok := g.Files[name]; ok {
				return v, true
			}
		}
		return "", false
	}
	differ := func(what, want, got string) {
		out = append(out, fmt.Sprintf("%s: the spec has %s, the kernel %s", what, want, got))
	}
	if c := r.CPU; c != nil {
		if v, ok := file("cpu.max"); ok {
			// "$QUOTA $PERIOD", the quota "max" when there is none
			quota, period, _ := strings.Cut(v, " ")
			if set(c.Quota) {
				want := strconv.FormatInt(*c.Quota, 10)
				if *c.Quota < 0 {
					want = "max"
				}
				if quota != want {
					differ("cpu quota (cpu.max)", want, quota)
				}
			}
			if set(c.Period) && period != strconv.FormatUint(*c.Period, 10) {
				differ("cpu period (cpu.max)", strconv.FormatUint(*c.Period, 10), period)
			}
		} else {
			if v, ok := file("cpu.cfs_quota_us"); ok && set(c.Quota) && v != strconv.FormatInt(*c.Quota, 10) {
				differ("cpu quota (cpu.cfs_quota_us)", strconv.FormatInt(*c.Quota, 10), v)
			}
			if v, ok := file("cpu.cfs_period_us"); ok && set(c.Period) && v != strconv.FormatUint(*c.Period, 10) {
				differ("cpu period (cpu.cfs_period_us)", strconv.FormatUint(*c.Period, 10), v)
			}
		}
		if set(c.Shares) {
			if v, ok := file("cpu.shares"); ok {
				if v != strconv.FormatUint(*c.Shares, 10) {
					differ("cpu shares (cpu.shares)", strconv.FormatUint(*c.Shares, 10), v)
				}
			} else if v, ok := file("cpu.weight"); ok {
				if want := strconv.FormatUint(sharesToWeight(*c.Shares), 10); v != want {
					differ(fmt.Sprintf("cpu weight (cpu.weight, from shares %d)", *c.Shares), want, v)
				}
			}
		}
		for _, f := range []struct{ name, want string }{{"cpuset.cpus", c.Cpus}, {"cpuset.mems", c.Mems}} {
			if f.want == "" {
				continue
			}
			if v, ok := file(f.name); ok {
				want, err1 := parseCPUList(f.want)
				got, err2 := parseCPUList(v)
				if err1 != nil || err2 != nil || !slices.Equal(want, got) {
					differ(f.name, f.want, v)
				}
			}
		}
	}
	if v, ok := file("devices.list"); ok && len(r.Devices) > 0 {
		if want, err := v1Devices(r.Devices); err == nil {
			got, deny, err := parseV1Devices(v)
			switch {
			case err != nil:
			case want.allow != !deny:
				differ("devices (devices.list)", defaultName(want.allow), defaultName(!deny))
			case deny:
				// only the lines that differ: the list is long
				w, g := exceptionStrings(want.exceptions), exceptionStrings(got)
				onlyW := slices.DeleteFunc(slices.Clone(w), func(l string) bool { return slices.Contains(g, l) })
				onlyG := slices.DeleteFunc(slices.Clone(g), func(l string) bool { return slices.Contains(w, l) })
				if len(onlyW)+len(onlyG) > 0 {
					differ("devices allowed (devices.list)", "["+strings.Join(onlyW, ", ")+"]", "["+strings.Join(onlyG, ", ")+"] instead")
				}
			}
		}
	}
	return out
}

func defaultName(allow bool) string {
	if allow {
		return "allow by default"
	}
	return "deny by default"
}

// exceptionStrings are the exceptions as devices.list lines, sorted.
func exceptionStrings(exs []v1Exception) []string {
	out := []string{}
	for _, e := range exs {
		out = append(out, e.String())
	}
	sort.Strings(out)
	return out
}

// parseCPUList parses a cpuset list ("0-2,4") into its sorted numbers.
func parseCPUList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				return nil, err
			}
		}
		if b < a || b-a > 1<<16 {
			return nil, fmt.Errorf("cpu list %q: bad range %s", s, part)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return slices.Compact(out), nil
}
