package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hullproject/hull/internal/trace"
)

// Set applies linux.resources to the cgroup, which Apply must have created. A nil
// r changes nothing. Each field goes to the hierarchy that holds its controller,
// in that hierarchy's file format (v1 or v2, with runc's conversions between
// them). A field the host cannot honour is an error naming it; nothing is dropped.
// Fields are applied in order and Set stops at the first error, so an error can
// leave earlier fields applied.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := Validate(r); err != nil {
		return err
	}
	if !m.Exists() {
		return errors.New("set resources: the cgroup does not exist (Apply creates it)")
	}
	for _, set := range []func(*specs.LinuxResources) error{
		m.setCPU, m.setMemory, m.setPids, m.setBlockIO, m.setHugetlb,
		m.setNetwork, m.setRdma, m.setDevices, m.setUnified,
	} {
		if err := set(r); err != nil {
			return err
		}
	}
	// Under systemd the limits are the unit's properties too (those it started
	// with are already), or systemd would write its own values back over the
	// files at its next reload. After the files: what they refuse (a memory limit
	// below the usage) must not reach systemd, which would force it.
	if m.unit != nil {
		if r == m.unit.start {
			m.unit.start = nil
		} else if err := m.setUnitProperties(r); err != nil {
			return err
		}
	}
	return nil
}

// ctrl finds the hierarchy of controller for field, or says the host lacks it.
func (m *Manager) ctrl(field, controller string) (*hierarchy, error) {
	if h := m.find(controller); h != nil {
		return h, nil
	}
	return nil, fieldErr(field, "the %s controller is not available on this host", controller)
}

// put writes one resource value, naming the field in any error. A missing file
// means the kernel lacks the feature (or the controller was not delegated).
func put(field string, h *hierarchy, file, val string) error {
	start := h.tr.Now()
	err := writeFile(h.dir(), file, val)
	h.tr.Step(start, trace.Cgroups, "write", err, trace.Args{File: file, Value: val})
	if errors.Is(err, os.ErrNotExist) {
		return fieldErr(field, "not supported by this host (no %s)", filepath.Join(h.dir(), file))
	}
	if err != nil {
		return fmt.Errorf("linux.resources.%s: %w", field, err)
	}
	return nil
}

func unsupportedV2(field string) error {
	return fieldErr(field, "not supported on cgroup v2")
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// v2max is the v2 spelling of a limit: "max" for -1 (unlimited).
func v2max(v int64) string {
	if v == -1 {
		return "max"
	}
	return itoa(v)
}

func set[T comparable](p *T) bool {
	var zero T
	return p != nil && *p != zero
}

func readInt(dir, file string) (int64, error) {
	s, err := readFile(dir, file)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return math.MaxInt64, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func (m *Manager) setMemory(r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil || *mem == (specs.LinuxMemory{}) {
		return nil
	}
	h, err := m.ctrl("memory", "memory")
	if err != nil {
		return err
	}
	if set(mem.CheckBeforeUpdate) && set(mem.Limit) && *mem.Limit > 0 {
		usageFile := "memory.usage_in_bytes"
		if h.v2() {
			usageFile = "memory.current"
		}
		usage, err := readInt(h.dir(), usageFile)
		if err != nil {
			return fmt.Errorf("linux.resources.memory.checkBeforeUpdate: %w", err)
		}
		if usage > *mem.Limit {
			return fieldErr("memory.limit", "%d is below the current usage %d (checkBeforeUpdate); the old limit stays", *mem.Limit, usage)
		}
	}
	if h.v2() {
		return setMemoryV2(h, mem)
	}
	return setMemoryV1(h, mem)
}

func setMemoryV1(h *hierarchy, mem *specs.LinuxMemory) error {
	if err := setMemoryLimitsV1(h, mem); err != nil {
		return err
	}
	for _, f := range []struct {
		field, file string
		val         *int64
	}{
		{"memory.reservation", "memory.soft_limit_in_bytes", mem.Reservation},
		{"memory.kernel", "memory.kmem.limit_in_bytes", mem.Kernel},
		{"memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes", mem.KernelTCP},
	} {
		if set(f.val) {
			if err := put(f.field, h, f.file, itoa(*f.val)); err != nil {
				return err
			}
		}
	}
	if mem.Swappiness != nil {
		if err := put("memory.swappiness", h, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil {
		if err := put("memory.disableOOMKiller", h, "memory.oom_control", boolStr(*mem.DisableOOMKiller)); err != nil {
			return err
		}
	}
	if mem.UseHierarchy != nil {
		return put("memory.useHierarchy", h, "memory.use_hierarchy", boolStr(*mem.UseHierarchy))
	}
	return nil
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// setMemoryLimitsV1 writes memory.limit_in_bytes and memory.memsw.limit_in_bytes
// (OCI swap is memory plus swap, as memsw is). The kernel refuses any state with
// memsw below the memory limit, so memsw goes first when it grows past the current
// limit and last otherwise. If the second write fails (a limit below what the
// kernel can reclaim gives EBUSY) the first is undone, so a failed update leaves
// the old limits in place.
func setMemoryLimitsV1(h *hierarchy, mem *specs.LinuxMemory) error {
	type write struct{ field, file, val, old string }
	var writes []write
	if set(mem.Limit) {
		writes = append(writes, write{field: "memory.limit", file: "memory.limit_in_bytes", val: itoa(*mem.Limit)})
	}
	swap, explicit := mem.Swap, set(mem.Swap)
	if !explicit && set(mem.Limit) && *mem.Limit == -1 {
		// runc's rule: an unlimited memory with swap unset means both unlimited.
		minus1 := int64(-1)
		swap = &minus1
	}
	if set(swap) {
		if _, err := os.Stat(filepath.Join(h.dir(), "memory.memsw.limit_in_bytes")); err != nil {
			if explicit {
				return fieldErr("memory.swap", "not supported by this host (no swap accounting: %v)", err)
			}
		} else {
			w := write{field: "memory.swap", file: "memory.memsw.limit_in_bytes", val: itoa(*swap)}
			cur, err := readInt(h.dir(), "memory.limit_in_bytes")
			if err != nil {
				return fmt.Errorf("linux.resources.memory.swap: %w", err)
			}
			if *swap == -1 || *swap >= cur {
				writes = append([]write{w}, writes...)
			} else {
				writes = append(writes, w)
			}
		}
	}
	for i := range writes {
		writes[i].old, _ = readFile(h.dir(), writes[i].file)
		if err := put(writes[i].field, h, writes[i].file, writes[i].val); err != nil {
			for j := i - 1; j >= 0; j-- {
				_ = writeFile(h.dir(), writes[j].file, writes[j].old)
			}
			return err
		}
	}
	return nil
}

// swapV2 turns OCI swap (memory plus swap, the v1 memsw meaning) into v2's
// memory.swap.max, which counts swap alone.
func swapV2(swap, limit *int64) (string, bool, error) {
	switch {
	case !set(swap) && set(limit) && *limit == -1:
		return "max", true, nil // both unlimited, as on v1
	case !set(swap):
		return "", false, nil
	case *swap == -1:
		return "max", true, nil
	case !set(limit) || *limit == -1:
		return "", false, fieldErr("memory.swap", "a swap limit needs a memory limit on cgroup v2")
	}
	return itoa(*swap - *limit), true, nil
}

func setMemoryV2(h *hierarchy, mem *specs.LinuxMemory) error {
	swap, ok, err := swapV2(mem.Swap, mem.Limit)
	if err != nil {
		return err
	}
	if ok {
		err := put("memory.swap", h, "memory.swap.max", swap)
		// Without swap accounting there is no memory.swap.max; refusing all swap
		// (swap == limit) or the implied "max" is then already the truth.
		if err != nil && (swap == "0" || !set(mem.Swap) || *mem.Swap == -1) {
			if _, serr := os.Stat(filepath.Join(h.dir(), "memory.swap.max")); serr != nil {
				err = nil
			}
		}
		if err != nil {
			return err
		}
	}
	if set(mem.Limit) {
		if err := put("memory.limit", h, "memory.max", v2max(*mem.Limit)); err != nil {
			return err
		}
	}
	if set(mem.Reservation) {
		if err := put("memory.reservation", h, "memory.low", v2max(*mem.Reservation)); err != nil {
			return err
		}
	}
	switch {
	case mem.Swappiness != nil:
		return unsupportedV2("memory.swappiness")
	case set(mem.DisableOOMKiller):
		return unsupportedV2("memory.disableOOMKiller")
	case set(mem.Kernel):
		return unsupportedV2("memory.kernel")
	case set(mem.KernelTCP):
		return unsupportedV2("memory.kernelTCP")
	case mem.UseHierarchy != nil && !*mem.UseHierarchy:
		return unsupportedV2("memory.useHierarchy")
	}
	return nil
}

func (m *Manager) setCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if c.Cpus != "" || c.Mems != "" {
		h, err := m.ctrl("cpu.cpus", "cpuset")
		if err != nil {
			return err
		}
		if c.Cpus != "" {
			if err := put("cpu.cpus", h, "cpuset.cpus", c.Cpus); err != nil {
				return err
			}
		}
		if c.Mems != "" {
			if err := put("cpu.mems", h, "cpuset.mems", c.Mems); err != nil {
				return err
			}
		}
	}
	if !set(c.Shares) && !set(c.Quota) && !set(c.Period) && !set(c.Burst) && c.Idle == nil && !set(c.RealtimeRuntime) && !set(c.RealtimePeriod) {
		return nil
	}
	h, err := m.ctrl("cpu", "cpu")
	if err != nil {
		return err
	}
	if h.v2() {
		return setCPUV2(h, c)
	}
	return setCPUV1(h, c)
}

func setCPUV1(h *hierarchy, c *specs.LinuxCPU) error {
	if set(c.Shares) {
		if err := put("cpu.shares", h, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
			return err
		}
	}
	if err := pair(h, "cpu.period", "cpu.cfs_period_us", c.Period, "cpu.quota", "cpu.cfs_quota_us", c.Quota); err != nil {
		return err
	}
	if set(c.Burst) {
		if err := put("cpu.burst", h, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if err := pair(h, "cpu.realtimePeriod", "cpu.rt_period_us", c.RealtimePeriod, "cpu.realtimeRuntime", "cpu.rt_runtime_us", c.RealtimeRuntime); err != nil {
		return err
	}
	if c.Idle != nil {
		return put("cpu.idle", h, "cpu.idle", itoa(*c.Idle))
	}
	return nil
}

// pair writes a period and the budget within it. The kernel checks each write
// against the other's current value (and the parent's budget), so either order can
// be refused on its own: try period first, then the other way round.
func pair(h *hierarchy, pField, pFile string, period *uint64, bField, bFile string, budget *int64) error {
	var writes [][2]string
	fields := map[string]string{pFile: pField, bFile: bField}
	if set(period) {
		writes = append(writes, [2]string{pFile, strconv.FormatUint(*period, 10)})
	}
	if set(budget) {
		writes = append(writes, [2]string{bFile, itoa(*budget)})
	}
	var first error
	for attempt := 0; attempt < 2; attempt++ {
		first = nil
		for _, w := range writes {
			if err := put(fields[w[0]], h, w[0], w[1]); err != nil && first == nil {
				first = err
			}
		}
		if first == nil {
			return nil
		}
		writes[0], writes[len(writes)-1] = writes[len(writes)-1], writes[0]
	}
	return first
}

// sharesToWeight maps v1 cpu.shares [2, 262144] onto v2 cpu.weight [1, 10000]
// with the curve runc and crun use, which sends the default 1024 to the default
// 100 (the older linear formula sent it to 39).
func sharesToWeight(shares uint64) uint64 {
	if shares <= 2 {
		return 1
	}
	if shares >= 262144 {
		return 10000
	}
	l := math.Log2(float64(shares))
	exp := (l*l+125*l)/612.0 - 7.0/34.0
	return uint64(math.Ceil(math.Pow(10, exp)))
}

func setCPUV2(h *hierarchy, c *specs.LinuxCPU) error {
	if set(c.RealtimeRuntime) || set(c.RealtimePeriod) {
		return unsupportedV2("cpu.realtimeRuntime")
	}
	if set(c.Shares) {
		if err := put("cpu.shares", h, "cpu.weight", strconv.FormatUint(sharesToWeight(*c.Shares), 10)); err != nil {
			return err
		}
	}
	if set(c.Quota) || set(c.Period) {
		// cpu.max is "$QUOTA $PERIOD"; keep the current quota when only the period changes.
		quota := ""
		if set(c.Quota) {
			quota = v2max(*c.Quota)
		} else {
			cur, err := readFile(h.dir(), "cpu.max")
			if err != nil {
				return fmt.Errorf("linux.resources.cpu.period: %w", err)
			}
			quota, _, _ = strings.Cut(cur, " ")
		}
		if set(c.Period) {
			quota += " " + strconv.FormatUint(*c.Period, 10)
		}
		if err := put("cpu.quota", h, "cpu.max", quota); err != nil {
			return err
		}
	}
	if set(c.Burst) {
		if err := put("cpu.burst", h, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		return put("cpu.idle", h, "cpu.idle", itoa(*c.Idle))
	}
	return nil
}

func (m *Manager) setPids(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	h, err := m.ctrl("pids.limit", "pids")
	if err != nil {
		return err
	}
	val := "max" // the spec: 0 or -1 mean no limit
	if *r.Pids.Limit > 0 {
		val = itoa(*r.Pids.Limit)
	}
	return put("pids.limit", h, "pids.max", val)
}

func (m *Manager) setBlockIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil || (!set(b.Weight) && !set(b.LeafWeight) && len(b.WeightDevice) == 0 && len(b.ThrottleReadBpsDevice)+len(b.ThrottleWriteBpsDevice)+len(b.ThrottleReadIOPSDevice)+len(b.ThrottleWriteIOPSDevice) == 0) {
		return nil
	}
	if h := m.find("blkio"); h != nil && !h.v2() {
		return setBlkioV1(h, b)
	}
	h, err := m.ctrl("blockIO", "io")
	if err != nil {
		return err
	}
	return setIOV2(h, b)
}

func exists(h *hierarchy, file string) bool {
	_, err := os.Stat(filepath.Join(h.dir(), file))
	return err == nil
}

func dev(major, minor int64) string { return fmt.Sprintf("%d:%d", major, minor) }

// setBlkioV1 writes blkio weights and throttles. Since Linux 5.0 removed CFQ, the
// proportional weights exist only as the BFQ scheduler's blkio.bfq.* files.
func setBlkioV1(h *hierarchy, b *specs.LinuxBlockIO) error {
	weightFile := "blkio.weight"
	if !exists(h, weightFile) {
		weightFile = "blkio.bfq.weight"
	}
	if set(b.Weight) {
		if err := put("blockIO.weight", h, weightFile, strconv.Itoa(int(*b.Weight))); err != nil {
			return err
		}
	}
	if set(b.LeafWeight) {
		if err := put("blockIO.leafWeight", h, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight))); err != nil {
			return err
		}
	}
	for _, d := range b.WeightDevice {
		if set(d.Weight) {
			if err := put("blockIO.weightDevice", h, weightFile+"_device", fmt.Sprintf("%s %d", dev(d.Major, d.Minor), *d.Weight)); err != nil {
				return err
			}
		}
		if set(d.LeafWeight) {
			if err := put("blockIO.weightDevice.leafWeight", h, "blkio.leaf_weight_device", fmt.Sprintf("%s %d", dev(d.Major, d.Minor), *d.LeafWeight)); err != nil {
				return err
			}
		}
	}
	files := map[string]string{
		"throttleReadBpsDevice": "blkio.throttle.read_bps_device", "throttleWriteBpsDevice": "blkio.throttle.write_bps_device",
		"throttleReadIOPSDevice": "blkio.throttle.read_iops_device", "throttleWriteIOPSDevice": "blkio.throttle.write_iops_device",
	}
	for field, list := range throttles(b) {
		for _, d := range list {
			if err := put("blockIO."+field, h, files[field], fmt.Sprintf("%s %d", dev(d.Major, d.Minor), d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setIOV2 writes io weights and io.max. BFQ's io.bfq.weight takes the v1 range
// (1-1000) as is; io.weight (1-10000) gets runc's linear conversion.
func setIOV2(h *hierarchy, b *specs.LinuxBlockIO) error {
	if set(b.LeafWeight) {
		return unsupportedV2("blockIO.leafWeight")
	}
	file, conv := "io.bfq.weight", func(w uint16) uint64 { return uint64(w) }
	if !exists(h, file) {
		file, conv = "io.weight", func(w uint16) uint64 { return 1 + (uint64(w)-10)*9999/990 }
	}
	if set(b.Weight) {
		if err := put("blockIO.weight", h, file, fmt.Sprintf("default %d", conv(*b.Weight))); err != nil {
			return err
		}
	}
	for _, d := range b.WeightDevice {
		if set(d.LeafWeight) {
			return unsupportedV2("blockIO.weightDevice.leafWeight")
		}
		if set(d.Weight) {
			if err := put("blockIO.weightDevice", h, file, fmt.Sprintf("%s %d", dev(d.Major, d.Minor), conv(*d.Weight))); err != nil {
				return err
			}
		}
	}
	keys := map[string]string{"throttleReadBpsDevice": "rbps", "throttleWriteBpsDevice": "wbps", "throttleReadIOPSDevice": "riops", "throttleWriteIOPSDevice": "wiops"}
	for field, list := range throttles(b) {
		for _, d := range list {
			rate := "max" // 0 removes the limit, as on v1
			if d.Rate > 0 {
				rate = strconv.FormatUint(d.Rate, 10)
			}
			if err := put("blockIO."+field, h, "io.max", fmt.Sprintf("%s %s=%s", dev(d.Major, d.Minor), keys[field], rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setHugetlb writes hugetlb limits, and the reservation limits beside them where
// the kernel has them (5.7+), so a mapping cannot reserve past the limit either.
func (m *Manager) setHugetlb(r *specs.LinuxResources) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	h, err := m.ctrl("hugepageLimits", "hugetlb")
	if err != nil {
		return err
	}
	for _, l := range r.HugepageLimits {
		file, rsvd := "hugetlb."+l.Pagesize+".limit_in_bytes", "hugetlb."+l.Pagesize+".rsvd.limit_in_bytes"
		if h.v2() {
			file, rsvd = "hugetlb."+l.Pagesize+".max", "hugetlb."+l.Pagesize+".rsvd.max"
		}
		if !exists(h, file) {
			return fieldErr("hugepageLimits", "page size %s is not supported by this host", l.Pagesize)
		}
		val := strconv.FormatUint(l.Limit, 10)
		if err := put("hugepageLimits", h, file, val); err != nil {
			return err
		}
		if exists(h, rsvd) {
			if err := put("hugepageLimits", h, rsvd, val); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Manager) setNetwork(r *specs.LinuxResources) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		h, err := m.ctrl("network.classID", "net_cls")
		if err != nil {
			return err
		}
		if err := put("network.classID", h, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	for _, p := range n.Priorities {
		h, err := m.ctrl("network.priorities", "net_prio")
		if err != nil {
			return err
		}
		if err := put("network.priorities", h, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) setRdma(r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	h, err := m.ctrl("rdma", "rdma")
	if err != nil {
		return err
	}
	for name, l := range r.Rdma {
		handles, objects := "max", "max"
		if l.HcaHandles != nil {
			handles = strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			objects = strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if err := put("rdma."+name, h, "rdma.max", fmt.Sprintf("%s hca_handle=%s hca_object=%s", name, handles, objects)); err != nil {
			return err
		}
	}
	return nil
}

// setUnified writes raw cgroup2 keys. On a hybrid host only controllers that live
// on the unified hierarchy (often just hugetlb) can be reached this way.
func (m *Manager) setUnified(r *specs.LinuxResources) error {
	if len(r.Unified) == 0 {
		return nil
	}
	u := m.unified()
	if u == nil {
		return fieldErr("unified", "this host has no cgroup v2 hierarchy")
	}
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		controller, _, _ := strings.Cut(k, ".")
		if controller != "cgroup" && !u.has(controller) {
			return fieldErr("unified."+k, "the %s controller is not on this %s host's cgroup v2 hierarchy", controller, HostMode())
		}
		if err := put("unified."+k, u, k, r.Unified[k]); err != nil {
			return err
		}
	}
	return nil
}
