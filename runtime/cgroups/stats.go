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
	Memory MemoryStats
	CPU    CPUStats
	Pids   PidsStats
	BlkIO  BlkIOStats
}

// MemoryStats is memory use in bytes, and how often the limit was hit.
type MemoryStats struct {
	Usage, MaxUsage, Limit uint64
	SwapUsage, SwapLimit   uint64 // v1: memory plus swap (memsw); v2: swap alone
	Failcnt                uint64 // times the limit was hit (v2: memory.events max)
	OOMKills               uint64
}

// CPUStats is CPU time in nanoseconds and CFS throttling.
type CPUStats struct {
	Total, User, System       uint64
	Periods, ThrottledPeriods uint64
	ThrottledTime             uint64 // nanoseconds
}

// PidsStats is the number of tasks and their limit.
type PidsStats struct{ Current, Limit uint64 }

// BlkIOStats adds up the bytes and operations of every device.
type BlkIOStats struct{ ReadBytes, WriteBytes, ReadOps, WriteOps uint64 }

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
	return s, nil
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
	if h.v2() {
		ev, _ := readKeyed(h.dir(), "memory.events")
		return MemoryStats{
			Usage: readUint(h, "memory.current"), MaxUsage: readUint(h, "memory.peak"), Limit: readUint(h, "memory.max"),
			SwapUsage: readUint(h, "memory.swap.current"), SwapLimit: readUint(h, "memory.swap.max"),
			Failcnt: ev["max"], OOMKills: ev["oom_kill"],
		}
	}
	oc, _ := readKeyed(h.dir(), "memory.oom_control")
	return MemoryStats{
		Usage: readUint(h, "memory.usage_in_bytes"), MaxUsage: readUint(h, "memory.max_usage_in_bytes"), Limit: readUint(h, "memory.limit_in_bytes"),
		SwapUsage: readUint(h, "memory.memsw.usage_in_bytes"), SwapLimit: readUint(h, "memory.memsw.limit_in_bytes"),
		Failcnt: readUint(h, "memory.failcnt"), OOMKills: oc["oom_kill"],
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
		data, _ := os.ReadFile(h.dir() + "/" + file)
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line) // "8:0 Read 4096"
			if len(f) != 3 {
				continue
			}
			v, _ := strconv.ParseUint(f[2], 10, 64)
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
		for _, kv := range strings.Fields(line) { // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..."
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, _ := strconv.ParseUint(v, 10, 64)
			switch k {
			case "rbytes":
				s.ReadBytes += n
			case "wbytes":
				s.WriteBytes += n
			case "rios":
				s.ReadOps += n
			case "wios":
				s.WriteOps += n
			}
		}
	}
	return s
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
