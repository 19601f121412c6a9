package cgroups

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Validate checks linux.resources without touching the host: values out of range
// and malformed strings are refused with the field's name. Whether the host can
// honour a valid value is Set's business.
func Validate(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	for _, check := range []func(*specs.LinuxResources) error{validateMemory, validateCPU, validateBlockIO, validateDevices, validateMisc} {
		if err := check(r); err != nil {
			return err
		}
	}
	return nil
}

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("linux.resources.%s: %s", field, fmt.Sprintf(format, args...))
}

// limit checks a byte or count limit where -1 means unlimited and 0 means unset.
func limit(field string, v *int64) error {
	if v != nil && *v < -1 {
		return fieldErr(field, "must be positive or -1")
	}
	return nil
}

func validateMemory(r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	for field, v := range map[string]*int64{"limit": m.Limit, "reservation": m.Reservation, "swap": m.Swap, "kernel": m.Kernel, "kernelTCP": m.KernelTCP} {
		if err := limit("memory."+field, v); err != nil {
			return err
		}
	}
	if m.Swap != nil && *m.Swap > 0 && m.Limit != nil && *m.Limit > 0 && *m.Swap < *m.Limit {
		return fieldErr("memory.swap", "%d is below memory.limit %d (swap counts memory plus swap)", *m.Swap, *m.Limit)
	}
	if m.Swappiness != nil && *m.Swappiness > 100 {
		return fieldErr("memory.swappiness", "%d is not in 0-100", *m.Swappiness)
	}
	return nil
}

func validateCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if err := limit("cpu.quota", c.Quota); err != nil {
		return err
	}
	if err := limit("cpu.realtimeRuntime", c.RealtimeRuntime); err != nil {
		return err
	}
	if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
		return fieldErr("cpu.idle", "must be 0 or 1")
	}
	if err := cpuList("cpu.cpus", c.Cpus); err != nil {
		return err
	}
	return cpuList("cpu.mems", c.Mems)
}

// cpuList checks the kernel's list syntax: "0-3,5,7-8".
func cpuList(field, s string) error {
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(lo, 10, 32)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 32)
		}
		if err1 != nil || err2 != nil || b < a {
			return fieldErr(field, "%q is not a list like \"0-3,5\"", s)
		}
	}
	return nil
}

func weight(field string, w *uint16) error {
	if w != nil && *w != 0 && (*w < 10 || *w > 1000) {
		return fieldErr(field, "%d is not in 10-1000", *w)
	}
	return nil
}

func validateBlockIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	if err := weight("blockIO.weight", b.Weight); err != nil {
		return err
	}
	if err := weight("blockIO.leafWeight", b.LeafWeight); err != nil {
		return err
	}
	for _, d := range b.WeightDevice {
		if err := weight("blockIO.weightDevice.weight", d.Weight); err != nil {
			return err
		}
		if err := weight("blockIO.weightDevice.leafWeight", d.LeafWeight); err != nil {
			return err
		}
		if d.Major < 0 || d.Minor < 0 {
			return fieldErr("blockIO.weightDevice", "device %d:%d is not valid", d.Major, d.Minor)
		}
	}
	for field, list := range throttles(b) {
		for _, d := range list {
			if d.Major < 0 || d.Minor < 0 {
				return fieldErr("blockIO."+field, "device %d:%d is not valid", d.Major, d.Minor)
			}
		}
	}
	return nil
}

func throttles(b *specs.LinuxBlockIO) map[string][]specs.LinuxThrottleDevice {
	return map[string][]specs.LinuxThrottleDevice{
		"throttleReadBpsDevice":   b.ThrottleReadBpsDevice,
		"throttleWriteBpsDevice":  b.ThrottleWriteBpsDevice,
		"throttleReadIOPSDevice":  b.ThrottleReadIOPSDevice,
		"throttleWriteIOPSDevice": b.ThrottleWriteIOPSDevice,
	}
}

func validateDevices(r *specs.LinuxResources) error {
	for i, d := range r.Devices {
		field := fmt.Sprintf("devices[%d]", i)
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return fieldErr(field+".type", "%q is not one of a, b, c", d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fieldErr(field+".access", "%q is not made of r, w, m", d.Access)
		}
		if (d.Major != nil && *d.Major < -1) || (d.Minor != nil && *d.Minor < -1) {
			return fieldErr(field, "major and minor must be positive or -1 (any)")
		}
	}
	return nil
}

// The regexps are compiled on first use: as package-level values every process
// that links this package (hullrt, hull) compiled them at start-up, for specs
// that mostly have none of these fields.
var (
	pageSizeRe    = lazyRegexp(`^[0-9]+[KMG]B$`)
	unifiedKeyRe  = lazyRegexp(`^[a-z_]+\.[A-Za-z0-9_.]+$`)
	rdmaDeviceRe  = lazyRegexp(`^[^\s/]+$`)
	forbiddenKeys = map[string]bool{"cgroup.procs": true, "cgroup.threads": true, "cgroup.subtree_control": true, "cgroup.kill": true, "cgroup.freeze": true, "cgroup.type": true}
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

func validateMisc(r *specs.LinuxResources) error {
	for _, h := range r.HugepageLimits {
		if !pageSizeRe().MatchString(h.Pagesize) {
			return fieldErr("hugepageLimits.pageSize", "%q is not a size like \"2MB\"", h.Pagesize)
		}
	}
	for dev := range r.Rdma {
		if !rdmaDeviceRe().MatchString(dev) {
			return fieldErr("rdma", "%q is not a device name", dev)
		}
	}
	for k, v := range r.Unified {
		if !unifiedKeyRe().MatchString(k) || strings.Contains(k, "..") {
			return fieldErr("unified", "key %q is not a cgroup2 file name like \"memory.high\"", k)
		}
		if forbiddenKeys[k] {
			return fieldErr("unified", "key %q is managed by the runtime", k)
		}
		if strings.ContainsAny(v, "\n") {
			return fieldErr("unified."+k, "value must be one line")
		}
	}
	return nil
}
