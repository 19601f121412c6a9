package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A container's limits (memory, CPU, pids) and devices: checked at create and
// update, put into its spec, changed by update at once through the runtime and in
// its record and bundle.

// Resources are the limits of create and update; a zero value is "not set" (for
// update: unchanged). MemorySwap and PidsLimit take -1 for unlimited.
type Resources struct {
	Memory, MemorySwap, NanoCPUs, CPUShares, PidsLimit int64
	CpusetCpus                                         string
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
}

// resources are the limits of create's options (the pids limit is makeSpec's).
func (o *CreateOptions) resources() Resources {
	return Resources{Memory: o.Memory, MemorySwap: o.MemorySwap, NanoCPUs: o.NanoCPUs, CPUShares: o.CPUShares, CpusetCpus: o.CpusetCpus}
}

// UpdateOptions are the options of `hull update`.
type UpdateOptions struct {
	Resources
	// Restart is a new restart policy (--restart), "" to keep it; the monitor
	// reads it from the record when the container ends.
	Restart string
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
		if o.CpusetCpus != "" {
			hc.CpusetCpus = o.CpusetCpus
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
