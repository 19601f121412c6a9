package runtime

import (
	"fmt"
	"math"
	"time"

	"github.com/hullproject/hull/runtime/cgroups"
)

// Event is one line that `hullrt events` prints, in runc's shape (runc's
// types.Event): Type "stats" with a *Stats as Data, or "oom" without data.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Stats is a container's resource use in the JSON shape of runc's types.Stats, so
// that whatever reads `runc events` (containerd's shim, the engine's `hull stats`)
// reads hullrt's too. Bytes, nanoseconds and counts, as the kernel reports them.
type Stats struct {
	CPU     CPU                `json:"cpu"`
	Memory  Memory             `json:"memory"`
	Pids    Pids               `json:"pids"`
	Blkio   Blkio              `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb"`
}

// CPU is CPU time and CFS throttling.
type CPU struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
}

// CPUUsage is CPU time in nanoseconds. Percpu is only known on cgroup v1.
type CPUUsage struct {
	Total  uint64   `json:"total,omitempty"`
	Percpu []uint64 `json:"percpu,omitempty"`
	Kernel uint64   `json:"kernel"`
	User   uint64   `json:"user"`
}

// Throttling counts CFS periods and the time the cgroup was throttled (ns).
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// Memory is memory use. Swap counts memory plus swap, as cgroup v1's memsw does,
// on v2 too (runc's convention, so readers need not know the host).
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
}

// MemoryEntry is one memory counter: its limit (math.MaxUint64 when unlimited),
// current and peak usage, and how often the limit was hit.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Pids is the number of tasks and their limit (0 when unlimited).
type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// Blkio lists block I/O per device and operation.
type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
}

// BlkioEntry is one device's count for one operation ("Read", "Write", ...).
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Hugetlb is one huge page size's use in bytes.
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Stats reads the container's resource use from its cgroup. It needs no lock:
// it only reads, and a container stopped meanwhile gives an error, not a wrong
// answer.
func (c *Container) Stats() (*Stats, error) {
	if c.Status() == StatusStopped {
		return nil, ErrNotRunning
	}
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	s, err := cg.Stats()
	if err != nil {
		return nil, err
	}
	return convertStats(s), nil
}

func convertStats(s *cgroups.Stats) *Stats {
	m := s.Memory
	out := &Stats{
		CPU: CPU{
			Usage:      CPUUsage{Total: s.CPU.Total, Percpu: s.CPU.PerCPU, Kernel: s.CPU.System, User: s.CPU.User},
			Throttling: Throttling{Periods: s.CPU.Periods, ThrottledPeriods: s.CPU.ThrottledPeriods, ThrottledTime: s.CPU.ThrottledTime},
		},
		Memory: Memory{
			Cache:  m.Cache,
			Usage:  MemoryEntry{Limit: m.Limit, Usage: m.Usage, Max: m.MaxUsage, Failcnt: m.Failcnt},
			Swap:   MemoryEntry{Limit: m.SwapLimit, Usage: m.SwapUsage, Max: m.SwapMaxUsage, Failcnt: m.SwapFailcnt},
			Kernel: MemoryEntry{Limit: m.KernelLimit, Usage: m.KernelUsage, Max: m.KernelMaxUsage, Failcnt: m.KernelFailcnt},
			Raw:    m.Raw,
		},
		Pids: Pids{Current: s.Pids.Current, Limit: s.Pids.Limit},
	}
	if m.V2 {
		// v2's memory.swap.* count swap alone; report memory plus swap like v1.
		out.Memory.Swap.Usage += m.Usage
		if m.SwapLimit != math.MaxUint64 && m.Limit != math.MaxUint64 {
			out.Memory.Swap.Limit += m.Limit
		} else {
			out.Memory.Swap.Limit = math.MaxUint64
		}
	}
	if out.Pids.Limit == math.MaxUint64 {
		out.Pids.Limit = 0 // runc's "no limit"
	}
	for _, e := range s.BlkIO.ServiceBytes {
		out.Blkio.IoServiceBytesRecursive = append(out.Blkio.IoServiceBytesRecursive, BlkioEntry(e))
	}
	for _, e := range s.BlkIO.Serviced {
		out.Blkio.IoServicedRecursive = append(out.Blkio.IoServicedRecursive, BlkioEntry(e))
	}
	out.Hugetlb = map[string]Hugetlb{}
	for size, h := range s.Hugetlb {
		out.Hugetlb[size] = Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return out
}

// Events reports the container's stats every interval, and an "oom" event each
// time the kernel's OOM killer struck in its cgroup, until the container stops
// or emit returns an error. With interval 0 it reports the stats once. OOM kills
// are looked for more often than stats are taken (every 100ms), and once more
// after the container stopped, so one that ended the container is not missed.
func (c *Container) Events(interval time.Duration, emit func(Event) error) error {
	if interval <= 0 {
		s, err := c.Stats()
		if err != nil {
			return err
		}
		return emit(Event{Type: "stats", ID: c.ID, Data: s})
	}
	if c.Status() == StatusStopped {
		return ErrNotRunning
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	ooms, _ := cg.OOMEvents()
	checkOOM := func() error {
		n, err := cg.OOMEvents()
		if err != nil || n <= ooms {
			return nil // a cgroup removed meanwhile has nothing more to say
		}
		ooms = n
		return emit(Event{Type: "oom", ID: c.ID})
	}
	const oomTick = 100 * time.Millisecond
	next := time.Now()
	for {
		if err := checkOOM(); err != nil {
			return err
		}
		if c.Status() == StatusStopped {
			return nil
		}
		if !time.Now().Before(next) {
			s, err := cg.Stats()
			if err != nil {
				if !cg.Exists() {
					return nil
				}
				return fmt.Errorf("stats: %w", err)
			}
			if err := emit(Event{Type: "stats", ID: c.ID, Data: convertStats(s)}); err != nil {
				return err
			}
			next = next.Add(interval)
			if now := time.Now(); next.Before(now) {
				next = now.Add(interval) // a slow reader: skip, do not burst
			}
		}
		time.Sleep(min(oomTick, time.Until(next)))
	}
}
