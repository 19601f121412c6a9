package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// blockDevice finds a real disk's "major:minor" for the throttle rules.
func blockDevice() (int64, int64, bool) {
	ents, _ := os.ReadDir("/sys/block")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "loop") || strings.HasPrefix(e.Name(), "zram") || strings.HasPrefix(e.Name(), "ram") {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/sys/block", e.Name(), "dev"))
		if err != nil {
			continue
		}
		maj, min, _ := strings.Cut(strings.TrimSpace(string(data)), ":")
		a, _ := strconv.ParseInt(maj, 10, 64)
		b, _ := strconv.ParseInt(min, 10, 64)
		return a, b, true
	}
	return 0, 0, false
}

func TestSetWritesFiles(t *testing.T) {
	m := newManager(t)
	maj, min, disk := blockDevice()
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(100 << 20)), Reservation: ptr(int64(50 << 20))},
		CPU: &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(20000)), Period: ptr(uint64(100000)),
			Burst: ptr(uint64(1000)), Cpus: "0", Mems: "0", Idle: ptr(int64(0))},
		Pids:           &specs.LinuxPids{Limit: ptr(int64(100))},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 8 << 20}},
	}
	mem := m.find("memory")
	swap := exists(mem, map[bool]string{false: "memory.memsw.limit_in_bytes", true: "memory.swap.max"}[mem.v2()])
	if swap {
		r.Memory.Swap = ptr(int64(300 << 20))
	}
	if !mem.v2() {
		r.Memory.Swappiness = ptr(uint64(30))
		r.Memory.DisableOOMKiller = ptr(false)
	}
	io := m.find("blkio")
	if io == nil || io.v2() {
		io = m.find("io")
	}
	if !disk {
		io = nil
	}
	if io != nil {
		r.BlockIO = &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: maj, Minor: min}, Rate: 1 << 20}}}
	}
	hugetlb := m.find("hugetlb")
	if hugetlb == nil || !exists(hugetlb, map[bool]string{false: "hugetlb.2MB.limit_in_bytes", true: "hugetlb.2MB.max"}[hugetlb.v2()]) {
		r.HugepageLimits, hugetlb = nil, nil
	}
	if u := m.unified(); u != nil && u.has("hugetlb") && exists(u, "hugetlb.1GB.max") {
		r.Unified = map[string]string{"hugetlb.1GB.max": "1073741824"}
	} else if u != nil && u.has("memory") {
		r.Unified = map[string]string{"memory.high": "209715200"}
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}

	type want struct {
		h          *hierarchy
		file, want string
	}
	dev := strconv.FormatInt(maj, 10) + ":" + strconv.FormatInt(min, 10)
	cpu, cpuset, pids := m.find("cpu"), m.find("cpuset"), m.find("pids")
	var wants []want
	if !mem.v2() {
		wants = append(wants, want{mem, "memory.limit_in_bytes", "104857600"}, want{mem, "memory.soft_limit_in_bytes", "52428800"},
			want{mem, "memory.swappiness", "30"})
		if swap {
			wants = append(wants, want{mem, "memory.memsw.limit_in_bytes", "314572800"})
		}
	} else {
		wants = append(wants, want{mem, "memory.max", "104857600"}, want{mem, "memory.low", "52428800"})
		if swap {
			wants = append(wants, want{mem, "memory.swap.max", "209715200"}) // swap alone
		}
	}
	if !cpu.v2() {
		wants = append(wants, want{cpu, "cpu.shares", "512"}, want{cpu, "cpu.cfs_quota_us", "20000"},
			want{cpu, "cpu.cfs_period_us", "100000"}, want{cpu, "cpu.cfs_burst_us", "1000"}, want{cpu, "cpu.idle", "0"})
	} else {
		wants = append(wants, want{cpu, "cpu.weight", strconv.FormatUint(sharesToWeight(512), 10)},
			want{cpu, "cpu.max", "20000 100000"}, want{cpu, "cpu.max.burst", "1000"}, want{cpu, "cpu.idle", "0"})
	}
	wants = append(wants, want{cpuset, "cpuset.cpus", "0"}, want{cpuset, "cpuset.mems", "0"}, want{pids, "pids.max", "100"})
	if io != nil && !io.v2() {
		wants = append(wants, want{io, "blkio.throttle.read_bps_device", dev + " 1048576"})
	} else if io != nil {
		wants = append(wants, want{io, "io.max", dev + " rbps=1048576 wbps=max riops=max wiops=max"})
	}
	if hugetlb != nil {
		wants = append(wants, want{hugetlb, map[bool]string{false: "hugetlb.2MB.limit_in_bytes", true: "hugetlb.2MB.max"}[hugetlb.v2()], "8388608"})
	}
	for k, v := range r.Unified {
		wants = append(wants, want{m.unified(), k, v})
	}
	for _, w := range wants {
		if got := read(t, w.h.dir(), w.file); got != w.want {
			t.Errorf("%s = %q, want %q", filepath.Join(w.h.dir(), w.file), got, w.want)
		}
	}
	for _, w := range wants {
		t.Logf("checked %s = %s", filepath.Join(w.h.dir(), w.file), w.want)
	}
}

// TestSetRefuses checks that fields this host cannot honour are errors that name
// them, never dropped.
func TestSetRefuses(t *testing.T) {
	m := newManager(t)
	type tc struct {
		r     *specs.LinuxResources
		field string
	}
	cases := []tc{
		{&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1}}}, "hugepageLimits"},
		{&specs.LinuxResources{Unified: map[string]string{"nosuch.file": "1"}}, "unified.nosuch.file"},
	}
	if HostMode() != Unified {
		cases = append(cases, tc{&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, "unified.memory.high"})
	} else {
		cases = append(cases,
			tc{&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr(uint64(10))}}, "memory.swappiness"},
			tc{&specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr(int64(10))}}, "cpu.realtimeRuntime"})
	}
	if m.find("net_cls") == nil {
		cases = append(cases, tc{&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr(uint32(1))}}, "network.classID"})
	}
	if m.find("rdma") == nil {
		cases = append(cases, tc{&specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx4_0": {HcaHandles: ptr(uint32(1))}}}, "rdma"})
	}
	if h := m.find("blkio"); h != nil && !h.v2() && !exists(h, "blkio.weight") && !exists(h, "blkio.bfq.weight") {
		cases = append(cases, tc{&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(100))}}, "blockIO.weight"})
	}
	for _, c := range cases {
		err := m.Set(c.r)
		if err == nil || !strings.HasPrefix(err.Error(), "linux.resources."+c.field+":") {
			t.Errorf("Set for %s: %v", c.field, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		r     specs.LinuxResources
		field string
	}{
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(-5))}}, "memory.limit: must be positive or -1"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(100)), Swap: ptr(int64(50))}}, "memory.swap"},
		{specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr(uint64(101))}}, "memory.swappiness"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "abc"}}, "cpu.cpus"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "3-1"}}, "cpu.mems"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(-2))}}, "cpu.quota"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr(int64(2))}}, "cpu.idle"},
		{specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(5000))}}, "blockIO.weight"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x"}}}, "devices[0].type"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "c", Access: "rwx"}}}, "devices[0].access"},
		{specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M"}}}, "hugepageLimits.pageSize"},
		{specs.LinuxResources{Unified: map[string]string{"../x": "1"}}, "unified"},
		{specs.LinuxResources{Unified: map[string]string{"memoryhigh": "1"}}, "unified"},
		{specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, "unified"},
	} {
		err := Validate(&c.r)
		if err == nil || !strings.HasPrefix(err.Error(), "linux.resources."+c.field) {
			t.Errorf("Validate(%+v) = %v, want an error for %s", c.r, err, c.field)
		}
	}
	good := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(-1)), Swap: ptr(int64(-1))},
		CPU:     &specs.LinuxCPU{Cpus: "0-3,5", Mems: "0", Quota: ptr(int64(-1))},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(-1))},
		Unified: map[string]string{"memory.high": "max", "hugetlb.2MB.max": "0", "io.bfq.weight": "100"},
	}
	if err := Validate(good); err != nil {
		t.Fatal(err)
	}
}

func TestConversions(t *testing.T) {
	for shares, weight := range map[uint64]uint64{2: 1, 1024: 100, 262144: 10000} {
		if got := sharesToWeight(shares); got != weight {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, weight)
		}
	}
	for _, c := range []struct {
		swap, limit *int64
		want        string
		ok          bool
	}{
		{ptr(int64(300)), ptr(int64(100)), "200", true},
		{ptr(int64(-1)), ptr(int64(100)), "max", true},
		{nil, ptr(int64(-1)), "max", true},
		{nil, ptr(int64(100)), "", false},
		{ptr(int64(100)), ptr(int64(100)), "0", true},
	} {
		got, ok, err := swapV2(c.swap, c.limit)
		if err != nil || got != c.want || ok != c.ok {
			t.Errorf("swapV2(%v, %v) = %q, %v, %v", c.swap, c.limit, got, ok, err)
		}
	}
	if _, _, err := swapV2(ptr(int64(300)), nil); err == nil || !strings.Contains(err.Error(), "memory.swap") {
		t.Errorf("swap without limit: %v", err)
	}
}

// TestMemoryUpdateOrder moves the memory and swap limits up past each other and
// back down: on v1 the kernel refuses memsw below the memory limit at any moment,
// so the order of the two writes has to follow the direction of the change.
func TestMemoryUpdateOrder(t *testing.T) {
	m := newManager(t)
	mem := m.find("memory")
	limitFile, swapFile := "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
	if mem.v2() {
		limitFile, swapFile = "memory.max", "memory.swap.max"
	}
	if !exists(mem, swapFile) {
		t.Skip("no swap accounting")
	}
	for _, step := range [][2]int64{{100 << 20, 200 << 20}, {400 << 20, 500 << 20}, {50 << 20, 60 << 20}, {-1, -1}} {
		err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(step[0]), Swap: ptr(step[1])}})
		if err != nil {
			t.Fatalf("limit %d swap %d: %v", step[0], step[1], err)
		}
		wantLimit, wantSwap := strconv.FormatInt(step[0], 10), strconv.FormatInt(step[1], 10)
		if mem.v2() {
			wantLimit, wantSwap = v2max(step[0]), strconv.FormatInt(step[1]-step[0], 10)
			if step[1] == -1 {
				wantSwap = "max"
			}
		} else if step[0] == -1 {
			wantLimit, wantSwap = read(t, filepath.Dir(mem.dir()), limitFile), read(t, filepath.Dir(mem.dir()), swapFile)
		}
		if got := read(t, mem.dir(), limitFile); got != wantLimit {
			t.Errorf("%s = %s, want %s", limitFile, got, wantLimit)
		}
		if got := read(t, mem.dir(), swapFile); got != wantSwap {
			t.Errorf("%s = %s, want %s", swapFile, got, wantSwap)
		}
	}
}
