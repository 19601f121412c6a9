package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
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

	// The detail behind those figures, for docker's stats answer: CPU time in
	// kernel and user mode and per CPU (cgroup v1 only), CFS throttling; the
	// host's CPU time (ns, /proc/stat) and online CPUs, which docker relates
	// the container's CPU time to; memory's peak, failures and memory.stat as
	// the kernel names it (docker's clients subtract its inactive_file or
	// total_inactive_file); the pids limit (0: none); each interface's
	// counters but lo's; block I/O per device and operation.
	CPUKernel, CPUUser, SystemCPU                    uint64
	PerCPU                                           []uint64
	OnlineCPUs                                       uint32
	ThrottlePeriods, ThrottledPeriods, ThrottledTime uint64
	MemMax, MemFailcnt, PidsLimit                    uint64
	MemStat                                          map[string]uint64
	Networks                                         map[string]NetStats
	BlkioBytes, BlkioOps                             []BlkioEntry
}

// NetStats are one interface's counters, from /proc/net/dev.
type NetStats struct {
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

// BlkioEntry is one device's count for one operation (Read, Write ...).
type BlkioEntry struct {
	Major, Minor uint64
	Op           string
	Value        uint64
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
	s.CPUKernel, s.CPUUser, s.PerCPU = rs.CPU.Usage.Kernel, rs.CPU.Usage.User, rs.CPU.Usage.Percpu
	th := rs.CPU.Throttling
	s.ThrottlePeriods, s.ThrottledPeriods, s.ThrottledTime = th.Periods, th.ThrottledPeriods, th.ThrottledTime
	s.SystemCPU, s.OnlineCPUs = hostCPU()
	m := rs.Memory
	s.MemMax, s.MemFailcnt, s.MemStat, s.PidsLimit = m.Usage.Max, m.Usage.Failcnt, m.Raw, rs.Pids.Limit
	for _, b := range rs.Blkio.IoServiceBytesRecursive {
		s.BlkioBytes = append(s.BlkioBytes, BlkioEntry{b.Major, b.Minor, b.Op, b.Value})
	}
	for _, b := range rs.Blkio.IoServicedRecursive {
		s.BlkioOps = append(s.BlkioOps, BlkioEntry{b.Major, b.Minor, b.Op, b.Value})
	}
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
		s.Networks = netIO(c.State.Pid)
		for _, n := range s.Networks {
			s.NetRx += n.RxBytes
			s.NetTx += n.TxBytes
		}
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
		return nil, conflictf("container %s is not running", c.Name)
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

// netIO reads the counters of every interface but lo of the network namespace
// pid lives in (/proc/<pid>/net/dev is that namespace's). A container without a
// network has only lo: none.
func netIO(pid int) map[string]NetStats {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]NetStats{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if name = strings.TrimSpace(name); !ok || name == "lo" {
			continue // the two header lines have no colon
		}
		// receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs drop ...
		f := strings.Fields(rest)
		if len(f) < 12 {
			continue
		}
		n := make([]uint64, 12)
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i], 10, 64)
		}
		out[name] = NetStats{RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11]}
	}
	return out
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture hull builds for.
const clockTicks = 100

// hostCPU is the host's CPU time (ns) as docker counts it, the sum of
// /proc/stat's first seven columns (user nice system idle iowait irq softirq),
// and the number of online CPUs (its cpuN lines).
func hostCPU() (total uint64, cpus uint32) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 8 && f[0] == "cpu":
			var ticks uint64
			for _, v := range f[1:8] {
				n, _ := strconv.ParseUint(v, 10, 64)
				ticks += n
			}
			total = ticks * (1e9 / clockTicks)
		case len(f) > 0 && strings.HasPrefix(f[0], "cpu"):
			cpus++
		}
	}
	return total, cpus
}

// PsTable is the output of the host's ps, for top: a container's processes are
// the lines whose PID column names one of its host pids (Top).
type PsTable struct {
	Header string
	Lines  []string
	pidCol int
}

// Ps runs the host's ps with opts (-ef when none).
func Ps(opts []string) (*PsTable, error) {
	if len(opts) == 0 {
		opts = []string{"-ef"}
	}
	var errb bytes.Buffer
	cmd := exec.Command("ps", opts...)
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ps %s: %v: %s", strings.Join(opts, " "), err, strings.TrimSpace(errb.String()))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := slices.Index(strings.Fields(lines[0]), "PID")
	if col < 0 {
		return nil, fmt.Errorf("ps %s: no PID column in its output", strings.Join(opts, " "))
	}
	return &PsTable{Header: lines[0], Lines: lines[1:], pidCol: col}, nil
}

// Of is the lines of the processes pids.
func (t *PsTable) Of(pids []int) []string {
	var out []string
	for _, l := range t.Lines {
		f := strings.Fields(l)
		if len(f) <= t.pidCol {
			continue
		}
		if pid, err := strconv.Atoi(f[t.pidCol]); err == nil && slices.Contains(pids, pid) {
			out = append(out, l)
		}
	}
	return out
}

// Titles are the header's columns.
func (t *PsTable) Titles() []string { return strings.Fields(t.Header) }

// Fields splits a line into the header's columns, the last one keeping the
// rest of the line (a command's arguments), as docker's top does.
func (t *PsTable) Fields(line string) []string {
	f, n := strings.Fields(line), len(t.Titles())
	if n > 0 && len(f) > n {
		f = append(f[:n-1:n-1], strings.Join(f[n-1:], " "))
	}
	return f
}
