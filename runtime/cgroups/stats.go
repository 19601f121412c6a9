package cgroups

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Stats is a snapshot of the cgroup's usage. A controller the host lacks leaves
// its part zero. Limits read as math.MaxUint64 when unlimited.
type Stats struct {
	Memory  MemoryStats
	CPU     CPUStats
	Pids    PidsStats
	BlkIO   BlkIOStats
	Hugetlb map[string]HugetlbStats // by page size ("2MB")
}

// HugetlbStats is one page size's use in bytes.
type HugetlbStats struct{ Usage, MaxUsage, Failcnt uint64 }

// MemoryStats is memory use in bytes, and how often the limit was hit.
type MemoryStats struct {
	Usage, MaxUsage, Limit uint64
	SwapUsage, SwapLimit   uint64 // v1: memory plus swap (memsw); v2: swap alone
	Failcnt                uint64 // times the limit was hit (v2: memory.events max)
	OOMKills               uint64
	// V2 is set when the numbers come from cgroup v2 files, where swap counts
	// swap alone and there is no separate kernel memory accounting.
	V2                                       bool
	SwapMaxUsage, SwapFailcnt                uint64 // v1 memsw only
	KernelUsage, KernelMaxUsage, KernelLimit uint64 // v1 kmem only
	KernelFailcnt                            uint64
	Cache                                    uint64            // page cache: v1 "cache", v2 "file" of memory.stat
	Raw                                      map[string]uint64 // memory.stat as the kernel names it
}

// CPUStats is CPU time in nanoseconds and CFS throttling.
type CPUStats struct {
	Total, User, System       uint64
	Periods, ThrottledPeriods uint64
	ThrottledTime             uint64   // nanoseconds
	PerCPU                    []uint64 // nanoseconds per cpu; v1 cpuacct only
}

// PidsStats is the number of tasks and their limit.
type PidsStats struct{ Current, Limit uint64 }

// BlkIOStats adds up the bytes and operations of every device, and lists them
// per device and operation as well.
type BlkIOStats struct {
	ReadBytes, WriteBytes, ReadOps, WriteOps uint64
	ServiceBytes, Serviced                   []BlkIOEntry
}

// BlkIOEntry is one device's count for one operation ("Read", "Write", ...).
type BlkIOEntry struct {
	Major, Minor uint64
	Op           string
	Value        uint64
}

// Stats reads the cgroup's usage counters.
func (m *Manager) Stats() (*Stats, error) {
	if !m.Exists() {
		return nil, fmt.Errorf("stats: the cgroup does not exist")
	}
	s := &Stats{}
	if h := m.find("memory"); h != nil {
		s.Memory = memoryStats(h)
	}
	if h := m.find("cpu"); h != nil {
		s.CPU = cpuStats(h, m.find("cpuacct"))
	}
	if h := m.find("pids"); h != nil {
		s.Pids.Current = readUint(h, "pids.current")
		s.Pids.Limit = readUint(h, "pids.max")
	}
	if h := m.find("blkio"); h != nil && !h.v2() {
		s.BlkIO = blkioStatsV1(h)
	} else if h := m.find("io"); h != nil {
		s.BlkIO = ioStatsV2(h)
	}
	if h := m.find("hugetlb"); h != nil {
		s.Hugetlb = hugetlbStats(h)
	}
	return s, nil
}

// hugetlbStats reads every page size the kernel offers. v2 has no max usage
// file, and counts limit hits as "max" in hugetlb.<size>.events.
func hugetlbStats(h *hierarchy) map[string]HugetlbStats {
	out := map[string]HugetlbStats{}
	ents, _ := os.ReadDir(h.dir())
	for _, e := range ents {
		size, ok := strings.CutPrefix(e.Name(), "hugetlb.")
		if !ok {
			continue
		}
		if h.v2() {
			if size, ok = strings.CutSuffix(size, ".current"); ok && !strings.Contains(size, ".") {
				ev, _ := readKeyed(h.dir(), "hugetlb."+size+".events")
				out[size] = HugetlbStats{Usage: readUint(h, e.Name()), Failcnt: ev["max"]}
			}
			continue
		}
		if size, ok = strings.CutSuffix(size, ".usage_in_bytes"); ok && !strings.Contains(size, ".") {
			p := "hugetlb." + size
			out[size] = HugetlbStats{Usage: readUint(h, e.Name()), MaxUsage: readUint(h, p+".max_usage_in_bytes"), Failcnt: readUint(h, p+".failcnt")}
		}
	}
	return out
}

// readUint reads a one-number file; "max" and the v1 "unlimited" page-rounded
// LONG_MAX both read as MaxUint64, and a missing file as 0.
func readUint(h *hierarchy, file string) uint64 {
	s, err := readFile(h.dir(), file)
	if err != nil {
		return 0
	}
	if s == "max" {
		return math.MaxUint64
	}
	v, _ := strconv.ParseUint(s, 10, 64)
	if v >= math.MaxInt64-1<<16 {
		return math.MaxUint64
	}
	return v
}

func memoryStats(h *hierarchy) MemoryStats {
	raw, _ := readKeyed(h.dir(), "memory.stat")
	if h.v2() {
		ev, _ := readKeyed(h.dir(), "memory.events")
		return MemoryStats{
			Usage: readUint(h, "memory.current"), MaxUsage: readUint(h, "memory.peak"), Limit: readUint(h, "memory.max"),
			SwapUsage: readUint(h, "memory.swap.current"), SwapLimit: readUint(h, "memory.swap.max"),
			Failcnt: ev["max"], OOMKills: ev["oom_kill"], V2: true, Cache: raw["file"], Raw: raw,
		}
	}
	oc, _ := readKeyed(h.dir(), "memory.oom_control")
	return MemoryStats{
		Usage: readUint(h, "memory.usage_in_bytes"), MaxUsage: readUint(h, "memory.max_usage_in_bytes"), Limit: readUint(h, "memory.limit_in_bytes"),
		SwapUsage: readUint(h, "memory.memsw.usage_in_bytes"), SwapLimit: readUint(h, "memory.memsw.limit_in_bytes"),
		SwapMaxUsage: readUint(h, "memory.memsw.max_usage_in_bytes"), SwapFailcnt: readUint(h, "memory.memsw.failcnt"),
		KernelUsage: readUint(h, "memory.kmem.usage_in_bytes"), KernelMaxUsage: readUint(h, "memory.kmem.max_usage_in_bytes"),
		KernelLimit: readUint(h, "memory.kmem.limit_in_bytes"), KernelFailcnt: readUint(h, "memory.kmem.failcnt"),
		Failcnt: readUint(h, "memory.failcnt"), OOMKills: oc["oom_kill"], Cache: raw["cache"], Raw: raw,
	}
}

// userHZ is the unit of cpuacct.stat: USER_HZ is 100 on every architecture
// Linux exports it on.
const userHZ = 100

func cpuStats(cpu, cpuacct *hierarchy) CPUStats {
	st, _ := readKeyed(cpu.dir(), "cpu.stat")
	if cpu.v2() {
		const us = 1000
		return CPUStats{
			Total: st["usage_usec"] * us, User: st["user_usec"] * us, System: st["system_usec"] * us,
			Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"], ThrottledTime: st["throttled_usec"] * us,
		}
	}
	s := CPUStats{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"], ThrottledTime: st["throttled_time"]}
	if cpuacct != nil {
		s.Total = readUint(cpuacct, "cpuacct.usage")
		ticks, _ := readKeyed(cpuacct.dir(), "cpuacct.stat")
		s.User, s.System = ticks["user"]*1e9/userHZ, ticks["system"]*1e9/userHZ
		per, _ := readFile(cpuacct.dir(), "cpuacct.usage_percpu")
		for _, f := range strings.Fields(per) {
			v, _ := strconv.ParseUint(f, 10, 64)
			s.PerCPU = append(s.PerCPU, v)
		}
	}
	return s
}

// blkioStatsV1 sums the throttle layer's counters, which count every I/O whatever
// the scheduler (the CFQ/BFQ ones exist only with that scheduler in use).
func blkioStatsV1(h *hierarchy) BlkIOStats {
	var s BlkIOStats
	for file, into := range map[string][2]*uint64{
		"blkio.throttle.io_service_bytes_recursive": {&s.ReadBytes, &s.WriteBytes},
		"blkio.throttle.io_serviced_recursive":      {&s.ReadOps, &s.WriteOps},
	} {
		list := &s.ServiceBytes
		if strings.HasSuffix(file, "serviced_recursive") {
			list = &s.Serviced
		}
		data, _ := os.ReadFile(h.dir() + "/" + file)
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line) // "8:0 Read 4096"
			if len(f) != 3 {
				continue
			}
			v, _ := strconv.ParseUint(f[2], 10, 64)
			if major, minor, ok := devNumbers(f[0]); ok {
				*list = append(*list, BlkIOEntry{Major: major, Minor: minor, Op: f[1], Value: v})
			}
			switch f[1] {
			case "Read":
				*into[0] += v
			case "Write":
				*into[1] += v
			}
		}
	}
	return s
}

func ioStatsV2(h *hierarchy) BlkIOStats {
	var s BlkIOStats
	data, _ := os.ReadFile(h.dir() + "/io.stat")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line) // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..."
		if len(f) == 0 {
			continue
		}
		major, minor, okDev := devNumbers(f[0])
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, _ := strconv.ParseUint(v, 10, 64)
			add := func(list *[]BlkIOEntry, op string) {
				if okDev {
					*list = append(*list, BlkIOEntry{Major: major, Minor: minor, Op: op, Value: n})
				}
			}
			switch k {
			case "rbytes":
				s.ReadBytes += n
				add(&s.ServiceBytes, "Read")
			case "wbytes":
				s.WriteBytes += n
				add(&s.ServiceBytes, "Write")
			case "rios":
				s.ReadOps += n
				add(&s.Serviced, "Read")
			case "wios":
				s.WriteOps += n
				add(&s.Serviced, "Write")
			}
		}
	}
	return s
}

// devNumbers parses "8:0".
func devNumbers(s string) (uint64, uint64, bool) {
	a, b, ok := strings.Cut(s, ":")
	major, err1 := strconv.ParseUint(a, 10, 64)
	minor, err2 := strconv.ParseUint(b, 10, 64)
	return major, minor, ok && err1 == nil && err2 == nil
}

// OOMEvents counts the processes the OOM killer killed in the cgroup so far
// (v2 memory.events oom_kill, v1 memory.oom_control oom_kill).
func (m *Manager) OOMEvents() (uint64, error) {
	h, err := m.ctrl("memory", "memory")
	if err != nil {
		return 0, err
	}
	file := "memory.oom_control"
	if h.v2() {
		file = "memory.events"
	}
	kv, err := readKeyed(h.dir(), file)
	if err != nil {
		return 0, fmt.Errorf("oom events: %w", err)
	}
	return kv["oom_kill"], nil
}
