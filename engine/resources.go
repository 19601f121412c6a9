package engine

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A container's limits (memory, CPU, pids) and devices: checked at create and
// update, put into its spec, changed by update at once through the runtime and in
// its record and bundle.

// Resources are the limits of create and update; a zero value is "not set" (for
// update: unchanged). MemorySwap, PidsLimit and CPUQuota take -1 for unlimited.
// Each is docker's flag of the same name and HostConfig field (HostConfig.Memory,
// MemorySwap, NanoCpus, CpuShares, PidsLimit, CpusetCpus; CgroupLimits' below).
type Resources struct {
	Memory, MemorySwap, NanoCPUs, CPUShares, PidsLimit int64
	CpusetCpus                                         string
	CgroupLimits
}

// CgroupLimits are the limits create and update share beyond memory, CPUs and
// pids: CreateOptions has them through ResourceOptions, UpdateOptions through
// Resources.
type CgroupLimits struct {
	// CPUPeriod and CPUQuota are the CFS period and quota in microseconds
	// (--cpu-period 1000-1000000, --cpu-quota at least 1000, or -1 for none;
	// HostConfig.CpuPeriod, CpuQuota). They conflict with NanoCPUs, which sets
	// both.
	CPUPeriod, CPUQuota int64
	// CPURealtimePeriod and CPURealtimeRuntime are the real-time budget in
	// microseconds (--cpu-rt-period, --cpu-rt-runtime; HostConfig.CpuRealtimePeriod,
	// CpuRealtimeRuntime): cgroup v1 only, refused elsewhere as docker does.
	CPURealtimePeriod, CPURealtimeRuntime int64
	// CpusetMems are the memory nodes allowed (--cpuset-mems 0-3,5;
	// HostConfig.CpusetMems).
	CpusetMems string
	// MemoryReservation is the soft limit in bytes (--memory-reservation;
	// HostConfig.MemoryReservation): memory.soft_limit_in_bytes on cgroup v1,
	// memory.low on v2.
	MemoryReservation int64
	// BlkioWeight is the relative block IO weight, 10-1000 (--blkio-weight;
	// HostConfig.BlkioWeight): blkio.(bfq.)weight on v1, io.(bfq.)weight on
	// v2. A host without one (cgroup v1 without the CFQ or BFQ scheduler)
	// drops it with a warning, as docker does.
	BlkioWeight uint16
}

// validate judges the limits by themselves, as docker does; a refusal names its
// field as CreateOptions and UpdateOptions do.
func (r *Resources) validate(rs *refusals) {
	switch {
	case r.Memory < 0:
		rs.add("Memory", errors.New("invalid memory limit: it must be positive"))
	case r.Memory > 0 && r.Memory < 6<<20:
		rs.add("Memory", errors.New("minimum memory limit allowed is 6MB"))
	}
	if r.MemorySwap < -1 {
		rs.add("MemorySwap", errors.New("invalid memory-swap limit: want bytes or -1"))
	}
	if r.CPUShares < 0 {
		rs.add("CPUShares", errors.New("invalid cpu-shares: it must be positive"))
	}
	if r.NanoCPUs < 0 {
		rs.add("NanoCPUs", errors.New("invalid --cpus: it must be positive"))
	}
	rs.add("CpusetCpus", checkCpuset(r.CpusetCpus))
	switch {
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		rs.add("CPUPeriod", errors.New("invalid --cpu-period: CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"))
	case r.CPUPeriod != 0 && r.NanoCPUs > 0:
		rs.add("CPUPeriod", errors.New("conflicting options: --cpus and --cpu-period cannot both be set"))
	}
	switch {
	case r.CPUQuota < -1 || (r.CPUQuota > 0 && r.CPUQuota < 1000):
		rs.add("CPUQuota", errors.New("invalid --cpu-quota: CPU cfs quota can not be less than 1ms (i.e. 1000), or -1 for none"))
	case r.CPUQuota != 0 && r.NanoCPUs > 0:
		rs.add("CPUQuota", errors.New("conflicting options: --cpus and --cpu-quota cannot both be set"))
	}
	if r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0 {
		switch {
		case r.CPURealtimePeriod < 0:
			rs.add("CPURealtimePeriod", errors.New("invalid --cpu-rt-period: it must be positive"))
		case r.CPURealtimeRuntime < -1:
			rs.add("CPURealtimeRuntime", errors.New("invalid --cpu-rt-runtime: it must be positive, or -1 for none"))
		case r.CPURealtimePeriod > 0 && r.CPURealtimeRuntime > r.CPURealtimePeriod:
			rs.add("CPURealtimeRuntime", errors.New("invalid --cpu-rt-runtime: it cannot be higher than --cpu-rt-period"))
		case !runtime.CgroupSupports("cpu.realtimeRuntime"):
			field := "CPURealtimeRuntime"
			if r.CPURealtimeRuntime == 0 {
				field = "CPURealtimePeriod"
			}
			rs.add(field, errors.New("--cpu-rt-period and --cpu-rt-runtime need the real-time cgroup scheduler of cgroup v1, which this host has not"))
		}
	}
	rs.add("CpusetMems", checkCpusetMems(r.CpusetMems))
	switch {
	case r.MemoryReservation < 0:
		rs.add("MemoryReservation", errors.New("invalid --memory-reservation: it must be positive"))
	case r.MemoryReservation > 0 && r.MemoryReservation < 6<<20:
		rs.add("MemoryReservation", errors.New("minimum memory reservation allowed is 6MB"))
	}
	if r.BlkioWeight != 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000) {
		rs.add("BlkioWeight", errors.New("invalid --blkio-weight: range of blkio weight is from 10 to 1000"))
	}
}

// checkReservation judges the memory reservation in force with r against mem,
// the memory limit in force with r.
func (r *Resources) checkReservation(reservation, mem int64) error {
	if mem > 0 && reservation > 0 && mem < reservation {
		return errors.New("minimum memory limit can not be less than memory reservation limit, see usage")
	}
	return nil
}

// dropUnsupported drops, with a warning to warn (if not nil), what this host's
// cgroups cannot apply although they have its controller, as docker does: the
// block IO weight on a cgroup v1 host without the CFQ or BFQ scheduler.
func (r *Resources) dropUnsupported(warn func(string)) {
	if r.BlkioWeight != 0 && !runtime.CgroupSupports("blockIO.weight") {
		note(warn, "this host's cgroups have no block IO weight (cgroup v1 without the CFQ or BFQ scheduler): --blkio-weight discarded")
		r.BlkioWeight = 0
	}
}

// note passes a warning to warn, if there is one.
func note(warn func(string), s string) {
	if warn != nil {
		warn(s)
	}
}

// checkSwap judges the swap limit against mem, the memory limit in force with r.
func (r *Resources) checkSwap(mem int64) error {
	switch {
	case r.MemorySwap > 0 && mem == 0:
		return errors.New("you should always set the memory limit when using a memory-swap limit")
	case r.MemorySwap > 0 && r.MemorySwap < mem:
		return errors.New("minimum memory-swap limit should be larger than the memory limit, see usage")
	}
	return nil
}

// checkCpuset checks a cpu list (0-3,5) against the CPUs this host has.
func checkCpuset(s string) error {
	if s == "" {
		return nil
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return err
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return fmt.Errorf("invalid cpuset %q: want a list like 0-3,5", s)
		}
		for i := a; i <= b; i++ {
			if !set.IsSet(i) {
				return fmt.Errorf("requested CPUs are not available: %s", s)
			}
		}
	}
	return nil
}

// limit puts the limits r sets into rs. The CPU quota is per 100 ms period, as
// docker's --cpus; memory swap is the OCI (and docker) total of memory and swap.
func (r *Resources) limit(rs *specs.LinuxResources) {
	mem := func() *specs.LinuxMemory {
		if rs.Memory == nil {
			rs.Memory = &specs.LinuxMemory{}
		}
		return rs.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if rs.CPU == nil {
			rs.CPU = &specs.LinuxCPU{}
		}
		return rs.CPU
	}
	if r.Memory > 0 {
		m := r.Memory
		mem().Limit = &m
	}
	if r.MemorySwap != 0 {
		s := r.MemorySwap
		mem().Swap = &s
	}
	if r.NanoCPUs > 0 {
		period := uint64(100000)
		quota := r.NanoCPUs * int64(period) / 1e9
		cpu().Period, cpu().Quota = &period, &quota
	}
	if r.CPUShares > 0 {
		s := uint64(r.CPUShares)
		cpu().Shares = &s
	}
	if r.CpusetCpus != "" {
		cpu().Cpus = r.CpusetCpus
	}
	if r.PidsLimit != 0 {
		p := r.PidsLimit
		rs.Pids = &specs.LinuxPids{Limit: &p}
	}
	// Docker's order: an explicit period or quota is written over the pair
	// --cpus implies (the options refuse both at once; an update may set one
	// over a container's --cpus only as Update judges).
	if r.CPUPeriod != 0 {
		p := uint64(r.CPUPeriod)
		cpu().Period = &p
	}
	if r.CPUQuota != 0 {
		q := r.CPUQuota
		cpu().Quota = &q
	}
	if r.CPURealtimePeriod != 0 {
		p := uint64(r.CPURealtimePeriod)
		cpu().RealtimePeriod = &p
	}
	if r.CPURealtimeRuntime != 0 {
		rt := r.CPURealtimeRuntime
		cpu().RealtimeRuntime = &rt
	}
	if r.CpusetMems != "" {
		cpu().Mems = r.CpusetMems
	}
	if r.MemoryReservation != 0 {
		m := r.MemoryReservation
		mem().Reservation = &m
	}
	if r.BlkioWeight != 0 {
		w := r.BlkioWeight
		if rs.BlockIO == nil {
			rs.BlockIO = &specs.LinuxBlockIO{}
		}
		rs.BlockIO.Weight = &w
	}
}

// resources are the limits of create's options (the pids limit is makeSpec's).
func (o *CreateOptions) resources() Resources {
	return Resources{Memory: o.Memory, MemorySwap: o.MemorySwap, NanoCPUs: o.NanoCPUs, CPUShares: o.CPUShares, CpusetCpus: o.CpusetCpus,
		CgroupLimits: o.CgroupLimits}
}

// UpdateOptions are the options of `hull update`.
type UpdateOptions struct {
	Resources
	// Restart is a new restart policy (--restart), "" to keep it; the monitor
	// reads it from the record when the container ends.
	Restart string
	// Warn, if set, receives a note for the user: a limit this host's cgroups
	// cannot apply, dropped (as create drops it).
	Warn func(string)
}

// Update changes a container's limits: at once through the runtime when it runs,
// and in its record and bundle, so that its next start has them too. It judges the
// options (Validate), then what depends on the container.
func (e *Engine) Update(ref string, o UpdateOptions) error {
	policy, err := o.parse()
	if err != nil {
		return err
	}
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	_, err = e.update(id, func(c *Container) error {
		e.refresh(c)
		hc := &c.HostConfig
		mem := hc.Memory
		if o.Memory > 0 {
			mem = o.Memory
		}
		var r refusals
		r.add("MemorySwap", o.Resources.checkSwap(mem))
		r.add("MemoryReservation", o.Resources.checkReservation(cmp.Or(o.MemoryReservation, hc.MemoryReservation), mem))
		// docker's: --cpus and an explicit period or quota do not mix, in
		// the update or with what the container has.
		switch {
		case o.NanoCPUs > 0 && o.CPUPeriod == 0 && o.CPUQuota == 0 && (hc.CpuPeriod != 0 || hc.CpuQuota != 0):
			r.add("NanoCPUs", errors.New("conflicting options: --cpus cannot be updated as the CPU period or quota has been set"))
		case o.NanoCPUs == 0 && (o.CPUPeriod != 0 || o.CPUQuota != 0) && hc.NanoCPUs > 0:
			field := "CPUQuota"
			if o.CPUQuota == 0 {
				field = "CPUPeriod"
			}
			r.add(field, errors.New("conflicting options: the CPU period or quota cannot be updated as --cpus has been set"))
		}
		if o.Restart != "" {
			if policy.Name != RestartNo && hc.AutoRemove {
				r.add("Restart", errors.New("restart policy cannot be updated because autoremove is enabled for the container"))
			}
			hc.RestartPolicy = policy
		}
		if o.Memory > 0 && o.MemorySwap == 0 && hc.MemorySwap > 0 && o.Memory > hc.MemorySwap {
			r.add("Memory", errors.New("memory limit should be smaller than the memory-swap limit in force: update --memory-swap too"))
		}
		if err := r.err(); err != nil {
			return err
		}
		o.Resources.dropUnsupported(o.Warn)
		if o.Resources == (Resources{}) {
			return nil // only the restart policy
		}
		var delta specs.LinuxResources
		o.Resources.limit(&delta)
		if c.State.Running() {
			rt, err := e.Runtime(c)
			if err != nil {
				return err
			}
			if err := rt.Update(c.ID, &delta); err != nil {
				return fmt.Errorf("update container %s: %w", c.Name, err)
			}
		}
		s, file, err := e.readSpec(c.ID)
		if err != nil {
			return err
		}
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		o.Resources.limit(s.Linux.Resources)
		if err := writeJSON(file, s); err != nil {
			return err
		}
		set := func(dst *int64, v int64) {
			if v != 0 {
				*dst = v
			}
		}
		set(&hc.Memory, o.Memory)
		set(&hc.MemorySwap, o.MemorySwap)
		set(&hc.NanoCPUs, o.NanoCPUs)
		set(&hc.CpuShares, o.CPUShares)
		set(&hc.PidsLimit, o.PidsLimit)
		set(&hc.CpuPeriod, o.CPUPeriod)
		set(&hc.CpuQuota, o.CPUQuota)
		set(&hc.CpuRealtimePeriod, o.CPURealtimePeriod)
		set(&hc.CpuRealtimeRuntime, o.CPURealtimeRuntime)
		set(&hc.MemoryReservation, o.MemoryReservation)
		if o.CpusetCpus != "" {
			hc.CpusetCpus = o.CpusetCpus
		}
		if o.CpusetMems != "" {
			hc.CpusetMems = o.CpusetMems
		}
		if o.BlkioWeight != 0 {
			hc.BlkioWeight = o.BlkioWeight
		}
		return nil
	})
	return err
}

// DeviceMapping is a --device, as docker's inspect shows it.
type DeviceMapping struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

// ParseDevice reads docker's --device HOST[:CONTAINER][:PERMISSIONS].
func ParseDevice(s string) (DeviceMapping, error) {
	d := DeviceMapping{CgroupPermissions: "rwm"}
	parts := strings.Split(s, ":")
	validPerms := func(p string) bool {
		if p == "" || len(p) > 3 {
			return false
		}
		for _, ch := range p {
			if !strings.ContainsRune("rwm", ch) || strings.Count(p, string(ch)) > 1 {
				return false
			}
		}
		return true
	}
	switch len(parts) {
	case 3:
		if !validPerms(parts[2]) {
			return d, fmt.Errorf("invalid device %q: bad permissions %q (want some of rwm)", s, parts[2])
		}
		d.CgroupPermissions = parts[2]
		fallthrough
	case 2:
		if len(parts) == 2 && validPerms(parts[1]) {
			d.CgroupPermissions = parts[1]
		} else {
			d.PathInContainer = parts[1]
		}
		fallthrough
	case 1:
		d.PathOnHost = parts[0]
	default:
		return d, fmt.Errorf("invalid device %q", s)
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !filepath.IsAbs(d.PathOnHost) || !filepath.IsAbs(d.PathInContainer) {
		return d, fmt.Errorf("invalid device %q: paths must be absolute", s)
	}
	if filepath.Clean(d.PathInContainer) == "/" {
		return d, fmt.Errorf("invalid device %q: not a device path in the container", s)
	}
	var st unix.Stat_t
	if err := unix.Stat(d.PathOnHost, &st); err != nil {
		return d, fmt.Errorf("device %s: %w", d.PathOnHost, err)
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFCHR && t != unix.S_IFBLK {
		return d, fmt.Errorf("device %s: not a device node", d.PathOnHost)
	}
	return d, nil
}

// addDevices puts the --device nodes into the spec with cgroup rules that allow
// their permissions: hull's runtime allows every linux.devices entry fully (runc
// does not), so a read or write not granted is denied after it.
func addDevices(s *specs.Spec, devs []DeviceMapping) error {
	for _, d := range devs {
		var st unix.Stat_t
		if err := unix.Stat(d.PathOnHost, &st); err != nil {
			return fmt.Errorf("device %s: %w", d.PathOnHost, err)
		}
		typ := "c"
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			typ = "b"
		}
		major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{
			Path: filepath.Clean(d.PathInContainer), Type: typ, Major: major, Minor: minor, FileMode: &mode, UID: &uid, GID: &gid,
		})
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: d.CgroupPermissions})
		// Not m: mknod of any device is allowed anyway (spec.DefaultDeviceRules), and
		// cgroup v1 cannot take it back from one device under that wildcard.
		deny := ""
		for _, p := range "rw" {
			if !strings.ContainsRune(d.CgroupPermissions, p) {
				deny += string(p)
			}
		}
		if deny != "" {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
				specs.LinuxDeviceCgroup{Allow: false, Type: typ, Major: &major, Minor: &minor, Access: deny})
		}
	}
	return nil
}
