package engine

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Top and Stats look into a running container through its runtime, which reads
// the container's cgroup: the engine itself touches no cgroup.

// Top lists the host pids of the container's processes.
func (e *Engine) Top(ref string) ([]int, error) {
	c, err := e.running(ref)
	if err != nil {
		return nil, err
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return nil, err
	}
	pids, err := rt.Pids(c.ID)
	if err != nil {
		return nil, fmt.Errorf("container %s: list processes: %w", c.Name, err)
	}
	return pids, nil
}

// Stats is one sample of a container's resource use, as `hull stats` shows it.
// CPU percentages need two samples: see CPUPercent.
type Stats struct {
	ID, Name string
	Read     time.Time // when the sample was taken
	CPUTotal uint64    // CPU time used since the container started, ns
	MemUsage uint64    // bytes, without the inactive page cache (as docker)
	MemLimit uint64    // bytes; the host's memory when the container has no limit
	NetRx    uint64    // bytes received on the container's interfaces but lo
	NetTx    uint64
	BlkRead  uint64 // bytes read from and written to block devices
	BlkWrite uint64
	Pids     uint64
}

// MemPercent is the memory used in percent of the limit.
func (s *Stats) MemPercent() float64 {
	if s.MemLimit == 0 {
		return 0
	}
	return float64(s.MemUsage) / float64(s.MemLimit) * 100
}

// CPUPercent is the CPU used between two samples of one container, in percent of
// one CPU (a container busy on two CPUs shows 200%). It is docker's figure: the
// container's CPU time over the host's (wall time × CPUs), times the CPUs.
func CPUPercent(prev, cur *Stats) float64 {
	if prev == nil || cur == nil || cur.CPUTotal < prev.CPUTotal {
		return 0
	}
	wall := cur.Read.Sub(prev.Read)
	if wall <= 0 {
		return 0
	}
	return float64(cur.CPUTotal-prev.CPUTotal) / float64(wall.Nanoseconds()) * 100
}

// Stats takes one sample of a running container's resource use.
func (e *Engine) Stats(ref string) (*Stats, error) {
	c, err := e.running(ref)
	if err != nil {
		return nil, err
	}
	rt, err := e.Runtime(c)
	if err != nil {
		return nil, err
	}
	rs, err := rt.Stats(c.ID)
	if err != nil {
		return nil, fmt.Errorf("container %s: stats: %w", c.Name, err)
	}
	s := &Stats{ID: c.ID, Name: c.Name, Read: time.Now(), CPUTotal: rs.CPU.Usage.Total, Pids: rs.Pids.Current}
	m := rs.Memory
	s.MemUsage = m.Usage.Usage
	// The page cache the kernel may drop at will is not counted (docker's rule):
	// total_inactive_file on cgroup v1, inactive_file on v2.
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := m.Raw[k]; ok {
			if v < s.MemUsage {
				s.MemUsage -= v
			}
			break
		}
	}
	s.MemLimit = m.Usage.Limit
	// "No limit" is MaxUint64, or on v1 the largest page-aligned int64.
	if host := hostMemory(); host > 0 && (s.MemLimit == 0 || s.MemLimit > host) {
		s.MemLimit = host
	}
	for _, b := range rs.Blkio.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			s.BlkRead += b.Value
		case "write":
			s.BlkWrite += b.Value
		}
	}
	// With the host's network the host's counters are not the container's (docker
	// shows none either).
	if c.State.Pid > 0 && c.HostConfig.NetworkMode != "host" {
		s.NetRx, s.NetTx = netIO(c.State.Pid)
	}
	return s, nil
}

// running finds a container and refuses one that does not run.
func (e *Engine) running(ref string) (*Container, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running() {
		return nil, fmt.Errorf("container %s is not running", c.Name)
	}
	return c, nil
}

func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// netIO sums the bytes received and sent on every interface but lo of the network
// namespace pid lives in (/proc/<pid>/net/dev is that namespace's). A container
// without a network has only lo: 0 and 0.
func netIO(pid int) (rx, tx uint64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue // the two header lines have no colon
		}
		// receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes ...
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx += r
		tx += t
	}
	return rx, tx
}
