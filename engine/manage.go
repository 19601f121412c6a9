package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The verbs that change a container without starting or stopping it for good:
// pause, unpause, restart, rename, update, and prune. Each changes the record under
// the container's lock (Engine.update), and rename also under the names lock, as
// create does.

// Pause freezes every process of a running container.
func (e *Engine) Pause(ref string) error {
	return e.freeze(ref, "pause", StatusRunning, StatusPaused)
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ref string) error {
	return e.freeze(ref, "unpause", StatusPaused, StatusRunning)
}

// freeze pauses or unpauses (verb) a container that is from, which is then to.
func (e *Engine) freeze(ref, verb, from, to string) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	c, err := e.update(id, func(c *Container) error {
		e.refresh(c)
		switch {
		case c.State.Status == StatusPaused && verb == "pause":
			return fmt.Errorf("container %s is already paused", c.Name)
		case c.State.Status != from:
			return fmt.Errorf("container %s is not %s", c.Name, from)
		}
		rt, err := e.Runtime(c)
		if err != nil {
			return err
		}
		freeze := rt.Resume
		if verb == "pause" {
			freeze = rt.Pause
		}
		if err := freeze(c.ID); err != nil {
			return fmt.Errorf("%s container %s: %w", verb, c.Name, err)
		}
		c.State.Status = to
		return nil
	})
	if err != nil {
		return err
	}
	e.event(c, verb)
	return nil
}

// thawFor resumes a paused container after stop, kill or rm sent it sig, as docker
// does for its stop signal and SIGKILL: a frozen process (cgroup v1) takes no
// signal, not even SIGKILL, until it is thawed.
func (e *Engine) thawFor(c *Container, rt ociruntime.Runtime, sig unix.Signal) {
	if c.State.Status != StatusPaused {
		return
	}
	if stop, err := stopSignal(c); sig != unix.SIGKILL && (err != nil || sig != stop) {
		return
	}
	e.update(c.ID, func(c *Container) error {
		if c.State.Status == StatusPaused && rt.Resume(c.ID) == nil {
			c.State.Status = StatusRunning
		}
		return nil
	})
}

// stopSignal is the container's stop signal (SIGTERM unless --stop-signal or the
// image says otherwise).
func stopSignal(c *Container) (unix.Signal, error) {
	if c.Config.StopSignal == "" {
		return unix.SIGTERM, nil
	}
	return runtime.ParseSignal(c.Config.StopSignal)
}

// Restart stops a container (as Stop, with its timeout) and starts it again; a
// container that is not running is just started. It stays the same container: ID,
// name, rootfs and log.
func (e *Engine) Restart(ref string, timeout *int) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	// A --rm container survives its restart, as docker's does: its monitor reads
	// the flag from the record when the container ends, so it is off meanwhile.
	var autoRemove bool
	if _, err := e.update(id, func(c *Container) error {
		autoRemove, c.HostConfig.AutoRemove = c.HostConfig.AutoRemove, false
		return nil
	}); err != nil {
		return err
	}
	restore := func() {
		if autoRemove {
			e.update(id, func(c *Container) error { c.HostConfig.AutoRemove = true; return nil })
		}
	}
	// Stop returns once the monitor recorded the end (and, stopped by the user,
	// does not apply the restart policy).
	if err := e.Stop(id, timeout); err != nil {
		restore()
		return err
	}
	_, err = e.Start(id, nil)
	restore()
	if err != nil {
		return err
	}
	if c, err := e.load(id); err == nil {
		e.event(c, "restart")
	}
	return nil
}

// Rename gives a container a new name, unique as create's are.
func (e *Engine) Rename(ref, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	unlock, err := flock(filepath.Join(e.Root, "containers.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	if taken, _ := e.Resolve(name); taken != "" {
		if other, err := e.load(taken); err == nil && other.Name == name {
			if taken == id {
				return fmt.Errorf("container %s is already named %s", ref, name)
			}
			return fmt.Errorf("the container name %q is already in use by container %s", name, taken)
		}
	}
	old := ""
	c, err := e.update(id, func(c *Container) error {
		old, c.Name = c.Name, name
		return nil
	})
	if err != nil {
		return err
	}
	// Its addresses on user networks answer to the new name at once.
	if c.netAttached() {
		m, err := e.Networks()
		if err == nil {
			err = m.Rename(id, name)
		}
		if err != nil {
			return fmt.Errorf("rename %s on its networks: %w", old, err)
		}
	}
	e.event(c, "rename", "oldName", "/"+old)
	return nil
}

// Resources are the limits of create and update; a zero value is "not set" (for
// update: unchanged). MemorySwap and PidsLimit take -1 for unlimited.
type Resources struct {
	Memory, MemorySwap, NanoCPUs, CPUShares, PidsLimit int64
	CpusetCpus                                         string
}

// check refuses what docker refuses; mem is the memory limit in force with r.
func (r *Resources) check(mem int64) error {
	switch {
	case r.Memory < 0:
		return errors.New("invalid memory limit: it must be positive")
	case r.Memory > 0 && r.Memory < 6<<20:
		return errors.New("minimum memory limit allowed is 6MB")
	case r.MemorySwap > 0 && mem == 0:
		return errors.New("you should always set the memory limit when using a memory-swap limit")
	case r.MemorySwap > 0 && r.MemorySwap < mem:
		return errors.New("minimum memory-swap limit should be larger than the memory limit, see usage")
	case r.MemorySwap < -1:
		return errors.New("invalid memory-swap limit: want bytes or -1")
	case r.CPUShares < 0:
		return errors.New("invalid cpu-shares: it must be positive")
	case r.NanoCPUs < 0:
		return errors.New("invalid cpus: it must be positive")
	}
	return checkCpuset(r.CpusetCpus)
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

// checkLimits checks create's limits and devices before anything is made.
func (o *CreateOptions) checkLimits() ([]DeviceMapping, error) {
	r := o.resources()
	if err := r.check(o.Memory); err != nil {
		return nil, err
	}
	var devs []DeviceMapping
	for _, s := range o.Devices {
		d, err := ParseDevice(s)
		if err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// UpdateOptions are the options of `hull update`.
type UpdateOptions struct {
	Resources
	// Restart is a new restart policy (--restart), "" to keep it; the monitor
	// reads it from the record when the container ends.
	Restart string
}

// Update changes a container's limits: at once through the runtime when it runs,
// and in its record and bundle, so that its next start has them too.
func (e *Engine) Update(ref string, o UpdateOptions) error {
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
		if err := o.Resources.check(mem); err != nil {
			return err
		}
		if o.Restart != "" {
			p, err := ParseRestartPolicy(o.Restart)
			if err != nil {
				return err
			}
			if p.Name != RestartNo && hc.AutoRemove {
				return errors.New("restart policy cannot be updated because autoremove is enabled for the container")
			}
			hc.RestartPolicy = p
		}
		if o.Memory > 0 && o.MemorySwap == 0 && hc.MemorySwap > 0 && o.Memory > hc.MemorySwap {
			return errors.New("memory limit should be smaller than the memory-swap limit in force: update --memory-swap too")
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
		// Not m: mknod of any device is allowed anyway (defaultDeviceRules), and
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

// PruneFilter is `container prune --filter`: until= (a time or a duration ago),
// label=KEY[=VALUE] and label!=KEY[=VALUE].
type PruneFilter struct {
	Until    time.Time
	Label    []string
	NotLabel []string
}

// HasLabel tells whether labels match a filter's KEY or KEY=VALUE.
func HasLabel(labels map[string]string, l string) bool {
	k, v, withValue := strings.Cut(l, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == v)
}

// PruneContainers removes every container that is not running (created or exited)
// and passes f; it returns their IDs and the bytes their writable layers held.
func (e *Engine) PruneContainers(f PruneFilter) ([]string, uint64, error) {
	list, err := e.List()
	if err != nil {
		return nil, 0, err
	}
	var gone []string
	var space uint64
	var errs []error
	for _, c := range list {
		if c.State.Running() || proc.Alive(c.State.MonitorPid, c.State.MonitorStart) {
			continue
		}
		if !f.Until.IsZero() && !c.Created.Before(f.Until) {
			continue
		}
		match := true
		for _, l := range f.Label {
			match = match && HasLabel(c.Config.Labels, l)
		}
		for _, l := range f.NotLabel {
			match = match && !HasLabel(c.Config.Labels, l)
		}
		if !match {
			continue
		}
		size := e.ContainerSize(c.ID)
		// Not forced: one started meanwhile stays.
		if err := e.Remove(c.ID, false); err != nil {
			if !errors.Is(err, ErrNoSuchContainer) {
				errs = append(errs, err)
			}
			continue
		}
		gone = append(gone, c.ID)
		space += size
	}
	return gone, space, errors.Join(errs...)
}

// ContainerSize is the size of what the container wrote to its root filesystem (its
// snapshot's changes, measured as a layer tar).
func (e *Engine) ContainerSize(id string) uint64 {
	var n countWriter
	e.Images.Snapshotter().Diff(id, &n)
	return uint64(n)
}

type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) {
	*w += countWriter(len(p))
	return len(p), nil
}

// privilegedExec gives an exec'd process every capability hull itself may hand out
// (exec --privileged): those of its bounding set, as podman's, since asking for
// more fails (a sandbox may lack some). The container's seccomp filter, which the
// kernel never lifts, still applies.
func privilegedExec(p *specs.Process, privileged bool) error {
	if !privileged {
		return nil
	}
	_, all := runtime.Capabilities()
	p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	return nil
}
