package engine

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Create's cgroup and kernel options beyond the limits update changes too
// (resources.go): judged in parseResources with the others (options.go), dropped
// with a warning where the host cannot apply them (dropUnsupported, as docker
// drops them), recorded in HostConfig (ResourceHostConfig) and written into the
// spec (applyResourceOptions).

// ResourceOptions are create's cgroup and kernel options. Each names docker's flag
// and the HostConfig field the Docker API carries it in.
type ResourceOptions struct {
	// CgroupLimits are the limits update can change too (resources.go):
	// --cpu-period, --cpu-quota, --cpu-rt-period, --cpu-rt-runtime, --cpuset-mems,
	// --memory-reservation, --blkio-weight.
	CgroupLimits
	// CgroupParent is the cgroup the container's own is made in (--cgroup-parent;
	// HostConfig.CgroupParent): /PARENT/hull-<id> instead of /hull-<id> on every
	// hierarchy. A missing parent is made, and left when the container goes, as
	// docker leaves it. Relative paths are taken from the hierarchy's root.
	CgroupParent string
	// MemorySwappiness is the memory cgroup's swappiness, 0-100
	// (--memory-swappiness; HostConfig.MemorySwappiness); nil or -1: the
	// kernel's. cgroup v1 only: dropped with a warning on v2, as docker does.
	MemorySwappiness *int64
	// OomKillDisable turns the OOM killer off for the container's cgroup
	// (--oom-kill-disable; HostConfig.OomKillDisable): memory.oom_control.
	// cgroup v1 only: dropped with a warning on v2, as docker does.
	OomKillDisable bool
	// OomScoreAdj is the oom_score_adj of the container's processes,
	// -1000..1000 (--oom-score-adj; HostConfig.OomScoreAdj).
	OomScoreAdj int
	// ShmSize is the size of the container's /dev/shm in bytes (--shm-size;
	// HostConfig.ShmSize); 0: 64 MiB.
	ShmSize int64
	// KernelMemory (--kernel-memory; HostConfig.KernelMemory) is accepted and
	// ignored, with a warning: docker 28 ignores it from API 1.42 on, Linux 5.4
	// deprecated the kernel memory limit and cgroup v2 has none.
	KernelMemory int64
	// BlkioWeightDevice are block IO weights of single devices, 10-1000
	// (--blkio-weight-device DEVICE:WEIGHT; HostConfig.BlkioWeightDevice).
	// Dropped with a warning where BlkioWeight would be.
	BlkioWeightDevice []WeightDevice
	// BlkioDeviceReadBps and the three others limit a device's reads or writes,
	// in bytes or IOs a second (--device-read-bps DEVICE:RATE[kmg],
	// --device-write-bps, --device-read-iops DEVICE:N, --device-write-iops;
	// HostConfig.BlkioDeviceReadBps, BlkioDeviceWriteBps, BlkioDeviceReadIOps,
	// BlkioDeviceWriteIOps): blkio.throttle.* on v1, io.max on v2.
	BlkioDeviceReadBps, BlkioDeviceWriteBps   []ThrottleDevice
	BlkioDeviceReadIOps, BlkioDeviceWriteIOps []ThrottleDevice
	// DeviceCgroupRules are device cgroup rules put after the default ones
	// (--device-cgroup-rule 'c 1:3 rwm', 'b 8:* r', 'a *:* m';
	// HostConfig.DeviceCgroupRules): access to device nodes the container
	// makes itself (mknod) or gets from a volume.
	DeviceCgroupRules []string
	// Sysctls are kernel parameters set in the container's own namespaces
	// (--sysctl KEY=VALUE; HostConfig.Sysctls): the ipc ones (kernel.msgmax,
	// msgmnb, msgmni, sem, shmall, shmmax, shmmni, shm_rmid_forced,
	// fs.mqueue.*) unless --ipc joins another's, net.* unless --network does,
	// kernel.domainname and kernel.hostname unless --uts does.
	Sysctls map[string]string
}

// WeightDevice is one --blkio-weight-device, as docker's HostConfig has it.
type WeightDevice struct {
	Path   string `json:"Path"`
	Weight uint16 `json:"Weight"`
}

// ThrottleDevice is one --device-read-bps (and -write-bps, -read-iops,
// -write-iops), as docker's HostConfig has it.
type ThrottleDevice struct {
	Path string `json:"Path"`
	Rate uint64 `json:"Rate"`
}

// ResourceHostConfig is the record's part of HostConfig for the limits beyond
// memory, CPUs, pids and devices, in Docker's shape: docker inspect shows them
// there.
type ResourceHostConfig struct {
	CgroupParent         string            `json:"CgroupParent"`
	BlkioWeight          uint16            `json:"BlkioWeight"`
	BlkioWeightDevice    []WeightDevice    `json:"BlkioWeightDevice"`
	BlkioDeviceReadBps   []ThrottleDevice  `json:"BlkioDeviceReadBps"`
	BlkioDeviceWriteBps  []ThrottleDevice  `json:"BlkioDeviceWriteBps"`
	BlkioDeviceReadIOps  []ThrottleDevice  `json:"BlkioDeviceReadIOps"`
	BlkioDeviceWriteIOps []ThrottleDevice  `json:"BlkioDeviceWriteIOps"`
	CpuPeriod            int64             `json:"CpuPeriod"`
	CpuQuota             int64             `json:"CpuQuota"`
	CpuRealtimePeriod    int64             `json:"CpuRealtimePeriod"`
	CpuRealtimeRuntime   int64             `json:"CpuRealtimeRuntime"`
	CpusetMems           string            `json:"CpusetMems"`
	DeviceCgroupRules    []string          `json:"DeviceCgroupRules"`
	MemoryReservation    int64             `json:"MemoryReservation"`
	MemorySwappiness     *int64            `json:"MemorySwappiness"`
	OomKillDisable       bool              `json:"OomKillDisable"`
	OomScoreAdj          int               `json:"OomScoreAdj"`
	ShmSize              int64             `json:"ShmSize"`
	Sysctls              map[string]string `json:"Sysctls,omitempty"`
}

// defaultShmSize is /dev/shm's size without --shm-size: docker's 64 MiB.
const defaultShmSize = 64 << 20

// ParseWeightDevice reads docker's --blkio-weight-device DEVICE:WEIGHT.
func ParseWeightDevice(s string) (WeightDevice, error) {
	p, w, ok := strings.Cut(s, ":")
	if !ok || p == "" || strings.Contains(w, ":") {
		return WeightDevice{}, fmt.Errorf("invalid --blkio-weight-device %q: want DEVICE:WEIGHT", s)
	}
	if !strings.HasPrefix(p, "/dev/") {
		return WeightDevice{}, fmt.Errorf("invalid --blkio-weight-device %q: the device must be a path under /dev/", s)
	}
	n, err := strconv.ParseUint(w, 10, 16)
	if err != nil {
		return WeightDevice{}, fmt.Errorf("invalid --blkio-weight-device %q: the weight must be a number from 10 to 1000", s)
	}
	return WeightDevice{Path: p, Weight: uint16(n)}, nil
}

// ParseThrottleDevice reads docker's DEVICE:RATE of --device-read-bps and the
// others (flag names which); bytes takes a size with k, m or g (--device-*-bps),
// else a number of IOs (--device-*-iops).
func ParseThrottleDevice(flag, s string, bytes bool) (ThrottleDevice, error) {
	p, v, ok := strings.Cut(s, ":")
	if !ok || p == "" || strings.Contains(v, ":") {
		return ThrottleDevice{}, fmt.Errorf("invalid --%s %q: want DEVICE:RATE", flag, s)
	}
	if !strings.HasPrefix(p, "/dev/") {
		return ThrottleDevice{}, fmt.Errorf("invalid --%s %q: the device must be a path under /dev/", flag, s)
	}
	var n uint64
	var err error
	if bytes {
		var b int64
		if b, err = logs.ParseSize(v); err == nil && b >= 0 {
			n = uint64(b)
		} else if err == nil {
			err = errors.New("negative")
		}
	} else {
		n, err = strconv.ParseUint(v, 10, 64)
	}
	if err != nil {
		unit := ""
		if bytes {
			unit = "[kb|mb|gb]"
		}
		return ThrottleDevice{}, fmt.Errorf("invalid --%s %q: want DEVICE:NUMBER%s, a positive number", flag, s, unit)
	}
	return ThrottleDevice{Path: p, Rate: n}, nil
}

// deviceCgroupRuleRE is docker's grammar of --device-cgroup-rule.
var deviceCgroupRuleRE = regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`)

// parseDeviceCgroupRule reads one --device-cgroup-rule: TYPE MAJOR:MINOR ACCESS.
func parseDeviceCgroupRule(s string) (specs.LinuxDeviceCgroup, error) {
	m := deviceCgroupRuleRE.FindStringSubmatch(s)
	if m == nil {
		return specs.LinuxDeviceCgroup{}, fmt.Errorf("invalid --device-cgroup-rule %q: want TYPE MAJOR:MINOR ACCESS, e.g. 'c 1:3 rwm'", s)
	}
	num := func(v string) *int64 {
		if v == "*" {
			return nil
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return &n
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Major: num(m[2]), Minor: num(m[3]), Access: m[4]}, nil
}

// blockDevice is the major and minor of the block device at p.
func blockDevice(flag, p string) (major, minor int64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, 0, fmt.Errorf("--%s %s: %w", flag, p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, fmt.Errorf("--%s %s: not a block device", flag, p)
	}
	return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
}

// resourceSettings are ResourceOptions as the spec takes them, parsed once by
// their judgement.
type resourceSettings struct {
	weightDevices []specs.LinuxWeightDevice
	// throttles: read bps, write bps, read iops, write iops
	throttles   [4][]specs.LinuxThrottleDevice
	deviceRules []specs.LinuxDeviceCgroup
	cgroupPath  string // the spec's linux.cgroupsPath, but for the container's ID
}

// parseResources judges ResourceOptions (the limits they share with update are
// Resources.validate's).
func (o *CreateOptions) parseResources(s *createSettings, r *refusals) {
	if p := o.CgroupParent; p != "" {
		clean := path.Clean("/" + p)
		if strings.Contains(p, "..") || strings.ContainsAny(p, ":\x00\n") || clean == "/" {
			r.add("CgroupParent", fmt.Errorf("invalid --cgroup-parent %q: want a cgroup path such as /batch or batch.slice", p))
		}
		s.cgroupPath = clean
	}
	if v := o.MemorySwappiness; v != nil && (*v < -1 || *v > 100) {
		r.add("MemorySwappiness", fmt.Errorf("invalid --memory-swappiness %d: valid memory swappiness range is 0-100", *v))
	}
	if o.OomScoreAdj < -1000 || o.OomScoreAdj > 1000 {
		r.add("OomScoreAdj", fmt.Errorf("invalid --oom-score-adj %d: range for oom score adj is [-1000, 1000]", o.OomScoreAdj))
	}
	if o.ShmSize < 0 {
		r.add("ShmSize", errors.New("invalid --shm-size: SHM size can not be less than 0"))
	}
	if o.KernelMemory < 0 {
		r.add("KernelMemory", errors.New("invalid --kernel-memory: it must be positive"))
	}
	for _, d := range o.BlkioWeightDevice {
		if d.Weight != 0 && (d.Weight < 10 || d.Weight > 1000) {
			r.add("BlkioWeightDevice", fmt.Errorf("invalid --blkio-weight-device %s:%d: the weight must be from 10 to 1000", d.Path, d.Weight))
			continue
		}
		major, minor, err := blockDevice("blkio-weight-device", d.Path)
		if err != nil {
			r.add("BlkioWeightDevice", err)
			continue
		}
		w := d.Weight
		s.weightDevices = append(s.weightDevices, specs.LinuxWeightDevice{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Weight: &w})
	}
	for i, t := range []struct {
		field, flag string
		list        []ThrottleDevice
	}{
		{"BlkioDeviceReadBps", "device-read-bps", o.BlkioDeviceReadBps},
		{"BlkioDeviceWriteBps", "device-write-bps", o.BlkioDeviceWriteBps},
		{"BlkioDeviceReadIOps", "device-read-iops", o.BlkioDeviceReadIOps},
		{"BlkioDeviceWriteIOps", "device-write-iops", o.BlkioDeviceWriteIOps},
	} {
		for _, d := range t.list {
			major, minor, err := blockDevice(t.flag, d.Path)
			if err != nil {
				r.add(t.field, err)
				continue
			}
			s.throttles[i] = append(s.throttles[i], specs.LinuxThrottleDevice{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: major, Minor: minor}, Rate: d.Rate})
		}
	}
	for _, rule := range o.DeviceCgroupRules {
		d, err := parseDeviceCgroupRule(rule)
		if err != nil {
			r.add("DeviceCgroupRules", err)
			continue
		}
		s.deviceRules = append(s.deviceRules, d)
	}
	for k, v := range o.Sysctls {
		r.add("Sysctls", o.checkSysctl(k, v))
	}
}

// checkSysctl judges one --sysctl: a parameter of a namespace the container has
// its own of, as the runtime will (runtime/validate.go), said in the flags' words.
func (o *CreateOptions) checkSysctl(k, v string) error {
	if k == "" || strings.ContainsAny(k, "/\x00 ") || strings.Contains(k, "..") || strings.ContainsAny(v, "\n\r\x00") {
		return fmt.Errorf("invalid --sysctl %q", k+"="+v)
	}
	shared := func(mode string) bool {
		return mode == "host" || strings.HasPrefix(mode, "container:") || strings.HasPrefix(mode, "pod:")
	}
	switch runtime.SysctlNamespace(k) {
	case specs.IPCNamespace:
		if shared(o.IPC) {
			return fmt.Errorf("--sysctl %s is not allowed with --ipc %s: it is the ipc namespace's", k, o.IPC)
		}
	case specs.NetworkNamespace:
		if o.Network == "host" || shared(o.Network) {
			return fmt.Errorf("--sysctl %s is not allowed with --network %s: it is the network namespace's", k, o.Network)
		}
	case specs.UTSNamespace:
		if shared(o.UTS) {
			return fmt.Errorf("--sysctl %s is not allowed with --uts %s: it is the uts namespace's", k, o.UTS)
		}
	default:
		return fmt.Errorf("--sysctl %s is not allowed: only ipc (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*), net.* and uts sysctls are namespaced", k)
	}
	return nil
}

// checkCpusetMems checks a memory node list (0-3,5) against the nodes this host
// has online.
func checkCpusetMems(s string) error {
	if s == "" {
		return nil
	}
	online := map[int]bool{0: true} // a kernel without NUMA has node 0 only
	if data, err := os.ReadFile("/sys/devices/system/node/online"); err == nil {
		online = map[int]bool{}
		for _, n := range cpuList(strings.TrimSpace(string(data))) {
			online[n] = true
		}
	}
	nodes := cpuList(s)
	if nodes == nil {
		return fmt.Errorf("invalid --cpuset-mems %q: want a list like 0-3,5", s)
	}
	for _, n := range nodes {
		if !online[n] {
			return fmt.Errorf("requested memory nodes are not available: %s", s)
		}
	}
	return nil
}

// cpuList reads a kernel list (0-3,5); nil if it is not one.
func cpuList(s string) []int {
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 0 || b < a || b-a > 1<<16 {
			return nil
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out
}

// dropUnsupported drops, with a warning each, the options this host's cgroups
// cannot apply although they have the controller, as docker does: swappiness
// and --oom-kill-disable on cgroup v2, block IO weights on cgroup v1 without the
// CFQ or BFQ scheduler; and --kernel-memory everywhere.
func (o *CreateOptions) dropUnsupported(s *createSettings) {
	warn := o.Warn
	r := o.resources()
	r.dropUnsupported(warn)
	o.BlkioWeight = r.BlkioWeight
	if o.MemorySwappiness != nil && *o.MemorySwappiness != -1 && !runtime.CgroupSupports("memory.swappiness") {
		note(warn, "this host's memory cgroup has no swappiness (cgroup v2): --memory-swappiness discarded")
		o.MemorySwappiness = nil
	}
	if o.OomKillDisable && !runtime.CgroupSupports("memory.disableOOMKiller") {
		note(warn, "this host's memory cgroup cannot disable the OOM killer (cgroup v2): --oom-kill-disable discarded")
		o.OomKillDisable = false
	}
	if len(o.BlkioWeightDevice) > 0 && !runtime.CgroupSupports("blockIO.weightDevice") {
		note(warn, "this host's cgroups have no block IO weight (cgroup v1 without the CFQ or BFQ scheduler): --blkio-weight-device discarded")
		o.BlkioWeightDevice, s.weightDevices = nil, nil
	}
	if o.KernelMemory != 0 {
		note(warn, "kernel memory limits are deprecated (Linux 5.4) and not in cgroup v2: --kernel-memory ignored")
		o.KernelMemory = 0
	}
}

// resourceHostConfig is the record's ResourceHostConfig of judged options.
func (o *CreateOptions) resourceHostConfig() ResourceHostConfig {
	shm := o.ShmSize
	if shm == 0 {
		shm = defaultShmSize
	}
	orEmpty := func(l []ThrottleDevice) []ThrottleDevice {
		if l == nil {
			return []ThrottleDevice{}
		}
		return l
	}
	h := ResourceHostConfig{
		CgroupParent: o.CgroupParent, BlkioWeight: o.BlkioWeight, BlkioWeightDevice: o.BlkioWeightDevice,
		BlkioDeviceReadBps: orEmpty(o.BlkioDeviceReadBps), BlkioDeviceWriteBps: orEmpty(o.BlkioDeviceWriteBps),
		BlkioDeviceReadIOps: orEmpty(o.BlkioDeviceReadIOps), BlkioDeviceWriteIOps: orEmpty(o.BlkioDeviceWriteIOps),
		CpuPeriod: o.CPUPeriod, CpuQuota: o.CPUQuota, CpuRealtimePeriod: o.CPURealtimePeriod, CpuRealtimeRuntime: o.CPURealtimeRuntime,
		CpusetMems: o.CpusetMems, DeviceCgroupRules: o.DeviceCgroupRules, MemoryReservation: o.MemoryReservation,
		OomKillDisable: o.OomKillDisable, OomScoreAdj: o.OomScoreAdj, ShmSize: shm, Sysctls: o.Sysctls,
	}
	if h.BlkioWeightDevice == nil {
		h.BlkioWeightDevice = []WeightDevice{}
	}
	if v := o.MemorySwappiness; v != nil && *v != -1 {
		sw := *v
		h.MemorySwappiness = &sw
	}
	return h
}

// applyResourceOptions puts the options of ResourceOptions into the spec (the
// limits update shares are Resources.limit's).
func applyResourceOptions(s *specs.Spec, id string, o *CreateOptions, set *resourceSettings) {
	if set.cgroupPath != "" {
		s.Linux.CgroupsPath = path.Join(set.cgroupPath, "hull-"+id)
	}
	r := s.Linux.Resources
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	if v := o.MemorySwappiness; v != nil && *v != -1 {
		sw := uint64(*v)
		mem().Swappiness = &sw
	}
	if o.OomKillDisable {
		t := true
		mem().DisableOOMKiller = &t
	}
	if o.OomScoreAdj != 0 {
		adj := o.OomScoreAdj
		s.Process.OOMScoreAdj = &adj
	}
	if o.ShmSize > 0 {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev/shm" {
				for j, opt := range s.Mounts[i].Options {
					if strings.HasPrefix(opt, "size=") {
						s.Mounts[i].Options[j] = "size=" + strconv.FormatInt(o.ShmSize, 10)
					}
				}
			}
		}
	}
	if len(set.weightDevices)+len(set.throttles[0])+len(set.throttles[1])+len(set.throttles[2])+len(set.throttles[3]) > 0 {
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		b := r.BlockIO
		b.WeightDevice = set.weightDevices
		b.ThrottleReadBpsDevice, b.ThrottleWriteBpsDevice = set.throttles[0], set.throttles[1]
		b.ThrottleReadIOPSDevice, b.ThrottleWriteIOPSDevice = set.throttles[2], set.throttles[3]
	}
	if !o.Privileged {
		r.Devices = append(r.Devices, set.deviceRules...)
	}
	if len(o.Sysctls) > 0 {
		s.Linux.Sysctl = map[string]string{}
		for k, v := range o.Sysctls {
			s.Linux.Sysctl[k] = v
		}
	}
}
