package cgroups

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	systemd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The systemd driver (hullrt --systemd-cgroup), as runc's: the container's cgroup
// is a transient scope unit that systemd makes, places and removes, started over
// systemd's D-Bus API with the container's init in it, delegated to the runtime
// (Delegate=yes: systemd leaves what is below the scope alone), and with the
// resources as unit properties, so that systemd's own later writes of the cgroup
// files (at a daemon-reload, or when another unit in the slice changes) keep the
// container's limits rather than reset them. Everything systemd has no property
// for (hugetlb, swappiness, rdma, per-device IO, the unified map) is written to the
// cgroup files afterwards, as the cgroupfs driver does; the files systemd wrote are
// written again with the same values, which changes nothing.
//
// Once the unit runs, the Manager is the cgroupfs one on the scope's cgroup
// directory: Pids, Kill, Freeze, Thaw and Stats read and write its files.

// unitKey is the key under which Path's JSON form records the unit's name. It is
// no /proc/self/cgroup hierarchy key: those are v1 controller names,
// "name=<name>", or "" for cgroup2.
const unitKey = "systemd-unit"

// systemdUnit is the transient unit a systemd-driven Manager stands for.
type systemdUnit struct {
	name  string // "hullrt-<id>.scope", or a slice's name
	slice string // the slice the scope is placed in ("" for a slice unit)
	desc  string
	// start is the resources the unit starts with (its properties); Set skips
	// setting the properties of exactly these once more.
	start *specs.LinuxResources
	// extra is the properties the spec's annotations name
	// ("org.systemd.property.<Name>"), set at start.
	extra []systemd.Property
}

// DefaultSystemdPrefix is the scope prefix of a container without
// linux.cgroupsPath under --systemd-cgroup: its unit is hullrt-<id>.scope in
// system.slice (runc's is runc-<id>.scope).
const DefaultSystemdPrefix = "hullrt"

// NewSystemd resolves linux.cgroupsPath for the systemd driver: "slice:prefix:name"
// names the scope unit prefix-name.scope in slice (system.slice when empty), whose
// cgroup is at the slice's path as systemd expands it (a-b.slice is
// /a.slice/a-b.slice) — or, when name ends in ".slice", that slice itself as the
// container's unit. An empty cgroupsPath is "system.slice:hullrt:<id>". r is the
// resources the unit starts with (nil: none); annotations may add unit
// properties (AnnotationProperties). NewSystemd talks to no one: Apply starts the
// unit.
func NewSystemd(cgroupsPath, id string, r *specs.LinuxResources, annotations map[string]string) (*Manager, error) {
	if cgroupsPath == "" {
		if err := checkUnitPart("container id", id); err != nil {
			return nil, err
		}
		cgroupsPath = "system.slice:" + DefaultSystemdPrefix + ":" + id
	}
	parts := strings.Split(cgroupsPath, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("linux.cgroupsPath %q: the systemd cgroup driver takes \"slice:prefix:name\"", cgroupsPath)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	parent, err := ExpandSlice(slice)
	if err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	if err := checkUnitPart("name", name); err != nil {
		return nil, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	if prefix != "" {
		if err := checkUnitPart("prefix", prefix); err != nil {
			return nil, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
		}
	}
	extra, err := AnnotationProperties(annotations)
	if err != nil {
		return nil, err
	}
	u := &systemdUnit{desc: "hullrt container " + id, start: r, extra: extra}
	var path string
	if strings.HasSuffix(name, ".slice") {
		// A slice unit is placed by its name alone; its parent must be the
		// slice the path names, or systemd would put it elsewhere.
		if path, err = ExpandSlice(name); err != nil {
			return nil, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
		}
		if filepath.Dir(path) != parent {
			return nil, fmt.Errorf("linux.cgroupsPath %q: slice %s is not a child of %s", cgroupsPath, name, slice)
		}
		u.name = name
	} else {
		u.name, u.slice = name+".scope", slice
		if prefix != "" {
			u.name = prefix + "-" + u.name
		}
		path = filepath.Join(parent, u.name)
	}
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	for i := range hs {
		hs[i].path = path
	}
	return &Manager{hs: hs, unit: u}, nil
}

// checkUnitPart refuses what cannot be part of a unit name: systemd allows
// ASCII letters, digits and ":-_.\@" (the colon is the path's separator here).
func checkUnitPart(what, s string) error {
	if s == "" {
		return fmt.Errorf("the %s is empty", what)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.\\@", c)) {
			return fmt.Errorf("%s %q: %q cannot be part of a systemd unit name", what, s, c)
		}
	}
	return nil
}

// ExpandSlice turns a slice unit's name into its cgroup path, the way systemd
// nests slices by the dashes in their names: "a-b-c.slice" is
// /a.slice/a-b.slice/a-b-c.slice, "-.slice" is the root.
func ExpandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok || base == "" || strings.Contains(slice, "/") {
		return "", fmt.Errorf("slice %q: not a slice unit name (like system.slice or machine-a.slice)", slice)
	}
	if base == "-" {
		return "/", nil
	}
	path, prefix := "", ""
	for _, part := range strings.Split(base, "-") {
		if part == "" {
			return "", fmt.Errorf("slice %q: an empty part between dashes", slice)
		}
		if err := checkUnitPart("slice", part); err != nil {
			return "", err
		}
		path += "/" + prefix + part + ".slice"
		prefix += part + "-"
	}
	return path, nil
}

// Systemd tells whether systemd manages the cgroup (the manager of a container
// made with --systemd-cgroup): Apply then needs the pid of a process that runs,
// and the cgroup does not exist before.
func (m *Manager) Systemd() bool { return m.unit != nil }

// Unit names the systemd unit of the cgroup, "" for a cgroupfs one.
func (m *Manager) Unit() string {
	if m.unit == nil {
		return ""
	}
	return m.unit.name
}

// dbusTimeout bounds each conversation with systemd, a job's wait included.
const dbusTimeout = 30 * time.Second

// connect opens a connection to systemd: its private socket (root only, no
// dbus-daemon in between), else the system bus.
func connect(ctx context.Context) (*systemd.Conn, error) {
	conn, err := systemd.NewSystemdConnectionContext(ctx)
	if err == nil {
		return conn, nil
	}
	conn, err2 := systemd.NewWithContext(ctx)
	if err2 != nil {
		if !Booted() {
			return nil, errors.New("systemd cgroup driver: systemd is not running as init here (no /run/systemd/system)")
		}
		return nil, fmt.Errorf("systemd cgroup driver: connect to systemd: %w", errors.Join(err, err2))
	}
	return conn, nil
}

// Booted tells whether systemd is this system's init (sd_booted's test).
func Booted() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// startUnit starts the transient unit with pid in it, and waits for systemd to
// finish the job.
func (m *Manager) startUnit(pid int) error {
	u := m.unit
	ctx, cancel := context.WithTimeout(context.Background(), dbusTimeout)
	defer cancel()
	conn, err := connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	props := []systemd.Property{
		systemd.PropDescription(u.desc),
		prop("Delegate", true),
		prop("DefaultDependencies", false),
		prop("MemoryAccounting", true),
		prop("CPUAccounting", true),
		prop("TasksAccounting", true),
	}
	if HostMode() == Unified {
		props = append(props, prop("IOAccounting", true))
	} else {
		props = append(props, prop("BlockIOAccounting", true))
	}
	if u.slice != "" {
		props = append(props, systemd.PropSlice(u.slice))
	} else {
		props = append(props, systemd.PropWants(filepath.Base(filepath.Dir(m.hs[0].path))))
	}
	// A scope is made of the processes it is given; a slice holds none itself.
	if strings.HasSuffix(u.name, ".scope") {
		props = append(props, systemd.PropPids(uint32(pid)))
	}
	rp, err := resourceProps(ctx, conn, u.start)
	if err != nil {
		return err
	}
	props = append(props, rp...)
	props = append(props, u.extra...)
	for attempt := 0; ; attempt++ {
		err = runJob(ctx, u.name, "start", func(ch chan<- string) error {
			_, err := conn.StartTransientUnitContext(ctx, u.name, "replace", props, ch)
			return err
		})
		var de godbus.Error
		if attempt == 0 && errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.UnitExists" {
			// A unit of that name that failed stays loaded until reset; one that
			// runs belongs to someone else.
			if st, _ := conn.GetUnitPropertyContext(ctx, u.name, "ActiveState"); st != nil && st.Value.Value() == "failed" {
				_ = conn.ResetFailedUnitContext(ctx, u.name)
				continue
			}
			return fmt.Errorf("systemd unit %s already exists", u.name)
		}
		if err != nil {
			_ = conn.ResetFailedUnitContext(ctx, u.name)
			return err
		}
		return nil
	}
}

// runJob runs one systemd job and waits for its JobRemoved signal.
func runJob(ctx context.Context, unit, what string, call func(ch chan<- string) error) error {
	ch := make(chan string, 1)
	if err := call(ch); err != nil {
		return fmt.Errorf("%s systemd unit %s: %w", what, unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%s systemd unit %s: the job ended %q", what, unit, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s systemd unit %s: no answer from systemd within %s", what, unit, dbusTimeout)
	}
}

// stopUnit stops the unit (systemd kills what is left in it and removes its
// cgroup) and forgets it if it failed. A unit systemd does not know is stopped,
// and so is any where systemd no longer runs: a container made under systemd
// can still be deleted once it is gone.
func (m *Manager) stopUnit() error {
	ctx, cancel := context.WithTimeout(context.Background(), dbusTimeout)
	defer cancel()
	conn, err := connect(ctx)
	if err != nil && !Booted() {
		return nil // no systemd (any more): no unit to stop; the directories go below
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	err = runJob(ctx, m.unit.name, "stop", func(ch chan<- string) error {
		_, err := conn.StopUnitContext(ctx, m.unit.name, "replace", ch)
		return err
	})
	var de godbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoSuchUnit" {
		err = nil
	}
	_ = conn.ResetFailedUnitContext(ctx, m.unit.name)
	return err
}

// setUnitProperties sets r as the unit's properties (runtime ones, gone at
// reboot as the unit is).
func (m *Manager) setUnitProperties(r *specs.LinuxResources) error {
	ctx, cancel := context.WithTimeout(context.Background(), dbusTimeout)
	defer cancel()
	conn, err := connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	props, err := resourceProps(ctx, conn, r)
	if err != nil || len(props) == 0 {
		return err
	}
	if err := conn.SetUnitPropertiesContext(ctx, m.unit.name, true, props...); err != nil {
		return fmt.Errorf("set properties of systemd unit %s: %w", m.unit.name, err)
	}
	return nil
}

func prop(name string, v any) systemd.Property {
	return systemd.Property{Name: name, Value: godbus.MakeVariant(v)}
}

// propertyPrefix starts the annotations that set a unit property, as runc reads
// them: "org.systemd.property.TimeoutStopUSec": "uint64 5000000".
const propertyPrefix = "org.systemd.property."

// AnnotationProperties turns the spec's "org.systemd.property.<Name>" annotations
// into unit properties, as runc does: the value is in D-Bus's GVariant text form
// ("'inactive-or-failed'", "uint64 5000000", "true"), and a name ending in "Sec"
// after a lower-case letter (TimeoutStopSec) is the "USec" property, its value
// in seconds turned into microseconds.
func AnnotationProperties(annotations map[string]string) ([]systemd.Property, error) {
	var out []systemd.Property
	for k, v := range annotations {
		name, ok := strings.CutPrefix(k, propertyPrefix)
		if !ok {
			continue
		}
		if name == "" || name[0] < 'A' || name[0] > 'Z' || strings.IndexFunc(name, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
		}) >= 0 {
			return nil, fmt.Errorf("annotation %s: %q is not a systemd property name", k, name)
		}
		value, err := godbus.ParseVariant(v, godbus.Signature{})
		if err != nil {
			return nil, fmt.Errorf("annotation %s: value %q: %w", k, v, err)
		}
		if base, ok := strings.CutSuffix(name, "Sec"); ok && base != "" && base[len(base)-1] >= 'a' && base[len(base)-1] <= 'z' {
			var usec uint64
			switch n := value.Value().(type) {
			case uint64:
				usec = n * 1000000
			case uint32:
				usec = uint64(n) * 1000000
			case int64:
				if n < 0 {
					return nil, fmt.Errorf("annotation %s: negative seconds %d", k, n)
				}
				usec = uint64(n) * 1000000
			case int32:
				if n < 0 {
					return nil, fmt.Errorf("annotation %s: negative seconds %d", k, n)
				}
				usec = uint64(n) * 1000000
			case float64:
				if n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
					return nil, fmt.Errorf("annotation %s: not a number of seconds: %v", k, n)
				}
				usec = uint64(math.Round(n * 1000000))
			default:
				return nil, fmt.Errorf("annotation %s: seconds must be a number, not %s", k, value.Signature())
			}
			name, value = base+"USec", godbus.MakeVariant(usec)
		}
		out = append(out, systemd.Property{Name: name, Value: value})
	}
	return out, nil
}

// systemdVersion is the version systemd reports ("252.38-1~deb12u1" is 252), 0
// if it cannot be read.
func systemdVersion(conn *systemd.Conn) int {
	v, err := conn.GetManagerProperty("Version")
	if err != nil {
		return 0
	}
	v = strings.Trim(v, "\"")
	v = strings.TrimPrefix(v, "v")
	end := strings.IndexFunc(v, func(c rune) bool { return c < '0' || c > '9' })
	if end >= 0 {
		v = v[:end]
	}
	n, _ := strconv.Atoi(v)
	return n
}

// resourceProps turns r into systemd unit properties, with runc's conversions: on
// cgroup v2 MemoryMax, MemoryLow, MemorySwapMax (the v2 swap: swap less memory),
// CPUWeight (from shares), CPUQuotaPerSecUSec and CPUQuotaPeriodUSec, AllowedCPUs
// and AllowedMemoryNodes, TasksMax, IOWeight; on v1 MemoryLimit, CPUShares,
// CPUQuotaPerSecUSec, BlockIOWeight, TasksMax. Devices become DevicePolicy and
// DeviceAllow. What systemd has no property for is left to the cgroup files.
func resourceProps(ctx context.Context, conn *systemd.Conn, r *specs.LinuxResources) ([]systemd.Property, error) {
	if r == nil {
		return nil, nil
	}
	v2 := HostMode() == Unified
	var props []systemd.Property
	max := func(v int64) uint64 {
		if v < 0 {
			return math.MaxUint64 // "infinity"
		}
		return uint64(v)
	}
	if mem := r.Memory; mem != nil {
		if v2 {
			if set(mem.Limit) {
				props = append(props, prop("MemoryMax", max(*mem.Limit)))
			}
			if set(mem.Reservation) {
				props = append(props, prop("MemoryLow", max(*mem.Reservation)))
			}
			s, ok, err := swapV2(mem.Swap, mem.Limit)
			if err != nil {
				return nil, err
			}
			if ok {
				v := uint64(math.MaxUint64)
				if s != "max" {
					v, _ = strconv.ParseUint(s, 10, 64)
				}
				props = append(props, prop("MemorySwapMax", v))
			}
		} else if set(mem.Limit) {
			props = append(props, prop("MemoryLimit", max(*mem.Limit)))
		}
	}
	var version int
	ver := func() int {
		if version == 0 {
			version = systemdVersion(conn)
		}
		return version
	}
	if c := r.CPU; c != nil {
		if set(c.Shares) {
			if v2 {
				props = append(props, prop("CPUWeight", sharesToWeight(*c.Shares)))
			} else {
				props = append(props, prop("CPUShares", *c.Shares))
			}
		}
		if set(c.Quota) || set(c.Period) {
			period := uint64(100000)
			if set(c.Period) {
				period = *c.Period
				if ver() >= 242 {
					props = append(props, prop("CPUQuotaPeriodUSec", period))
				}
			}
			quota := int64(-1)
			if c.Quota != nil {
				quota = *c.Quota
			}
			props = append(props, prop("CPUQuotaPerSecUSec", quotaPerSec(quota, period)))
		}
		if (c.Cpus != "" || c.Mems != "") && ver() >= 244 {
			for _, p := range []struct{ name, list string }{{"AllowedCPUs", c.Cpus}, {"AllowedMemoryNodes", c.Mems}} {
				if p.list == "" {
					continue
				}
				mask, err := cpuMask(p.list)
				if err != nil {
					return nil, fmt.Errorf("linux.resources.cpu: %w", err)
				}
				props = append(props, prop(p.name, mask))
			}
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit != 0 {
		props = append(props, prop("TasksMax", max(*r.Pids.Limit)))
	}
	if b := r.BlockIO; b != nil && set(b.Weight) {
		if v2 {
			props = append(props, prop("IOWeight", 1+(uint64(*b.Weight)-10)*9999/990))
		} else {
			props = append(props, prop("BlockIOWeight", uint64(*b.Weight)))
		}
	}
	if len(r.Devices) > 0 {
		props = append(props, deviceProps(r.Devices)...)
	}
	if v2 && len(r.Unified) > 0 {
		up, err := unifiedProps(r.Unified, ver)
		if err != nil {
			return nil, err
		}
		props = append(props, up...) // after the fields: the file is written after them too
	}
	return props, nil
}

// quotaPerSec is a CPU quota (microseconds per period, <= 0 for none) as systemd
// keeps it: per second, in steps of 10ms, rounded up as runc does so that the
// container gets no less than asked; "infinity" for none.
func quotaPerSec(quota int64, period uint64) uint64 {
	if quota <= 0 || period == 0 {
		return math.MaxUint64
	}
	perSec := uint64(quota) * 1000000 / period
	if perSec%10000 != 0 {
		perSec = (perSec/10000 + 1) * 10000
	}
	return perSec
}

// unifiedProps turns the keys of linux.resources.unified that systemd has a
// property for into that property (runc's unifiedResToSystemdProps): Kubernetes
// sets memory.high and memory.min there (MemoryQoS), and without the property
// systemd would write its own value over the file at its next reload. The files
// are written as given anyway; keys systemd has no property for are left to them.
func unifiedProps(unified map[string]string, ver func() int) ([]systemd.Property, error) {
	keys := make([]string, 0, len(unified))
	for k := range unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var props []systemd.Property
	for _, k := range keys {
		v := strings.TrimSpace(unified[k])
		bad := func(what string) error { return fieldErr("unified."+k, "%q is not %s", v, what) }
		switch k {
		case "memory.high", "memory.low", "memory.min", "memory.max", "memory.swap.max", "pids.max":
			n := uint64(math.MaxUint64)
			if v != "max" {
				var err error
				if n, err = strconv.ParseUint(v, 10, 64); err != nil {
					return nil, bad("a number or max")
				}
			}
			name := map[string]string{"memory.high": "MemoryHigh", "memory.low": "MemoryLow", "memory.min": "MemoryMin",
				"memory.max": "MemoryMax", "memory.swap.max": "MemorySwapMax", "pids.max": "TasksMax"}[k]
			props = append(props, prop(name, n))
		case "cpu.weight":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n < 1 || n > 10000 {
				return nil, bad("a weight from 1 to 10000")
			}
			props = append(props, prop("CPUWeight", n))
		case "cpu.max":
			// "QUOTA [PERIOD]", QUOTA "max" for none
			f := strings.Fields(v)
			if len(f) < 1 || len(f) > 2 {
				return nil, bad("\"QUOTA [PERIOD]\"")
			}
			quota, period := int64(-1), uint64(100000)
			if len(f) == 2 {
				p, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil || p == 0 {
					return nil, bad("\"QUOTA [PERIOD]\"")
				}
				period = p
				if ver() >= 242 {
					props = append(props, prop("CPUQuotaPeriodUSec", period))
				}
			}
			if f[0] != "max" {
				q, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil || q <= 0 {
					return nil, bad("\"QUOTA [PERIOD]\"")
				}
				quota = q
			}
			props = append(props, prop("CPUQuotaPerSecUSec", quotaPerSec(quota, period)))
		case "cpuset.cpus", "cpuset.mems":
			if ver() < 244 {
				continue
			}
			mask, err := cpuMask(v)
			if err != nil {
				return nil, fieldErr("unified."+k, "%v", err)
			}
			name := map[string]string{"cpuset.cpus": "AllowedCPUs", "cpuset.mems": "AllowedMemoryNodes"}[k]
			props = append(props, prop(name, mask))
		}
	}
	return props, nil
}

// cpuMask turns a cpuset list ("0-2,4") into systemd's byte mask, lowest CPU in
// the lowest bit of the first byte.
func cpuMask(list string) ([]byte, error) {
	var bits big.Int
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("cpu list %q: bad range %q", list, part)
			}
		}
		for i := a; i <= b; i++ {
			bits.SetBit(&bits, int(i), 1)
		}
	}
	be := bits.Bytes() // big-endian
	out := make([]byte, len(be))
	for i, c := range be {
		out[len(be)-1-i] = c
	}
	return out, nil
}

// deviceProps turns the device rules into DevicePolicy and DeviceAllow. systemd
// holds an allow-list only: rules that deny by default with allow exceptions
// become "strict" with each exception ("/dev/char/1:3 rwm" for one device,
// "char-pts rw" for a major by its /proc/devices name, "char-*" for any); any
// other rules leave systemd's policy open ("auto" with no list). Either way the
// runtime's own device program (or the v1 device files) applies the rules as
// written after the unit starts: the kernel allows only what both allow, so
// systemd's list may be broader than the rules, never narrower.
func deviceProps(rules []specs.LinuxDeviceCgroup) []systemd.Property {
	open := []systemd.Property{prop("DevicePolicy", "auto"), prop("DeviceAllow", []deviceAllow{})}
	st, err := v1Devices(rules)
	if err != nil || st.allow {
		return open
	}
	allow := []deviceAllow{}
	for _, e := range st.exceptions {
		kind := "char"
		if e.typ == devBlock {
			kind = "block"
		}
		var path string
		switch {
		case e.major == anyNumber:
			path = kind + "-*"
		case e.minor == anyNumber:
			name := majorName(kind, e.major)
			if name == "" {
				path = kind + "-*" // broader, never narrower
			} else {
				path = kind + "-" + name
			}
		default:
			path = fmt.Sprintf("/dev/%s/%d:%d", kind, e.major, e.minor)
		}
		allow = append(allow, deviceAllow{Path: path, Access: accessString(e.access)})
	}
	return []systemd.Property{prop("DevicePolicy", "strict"), prop("DeviceAllow", allow)}
}

// deviceAllow is one DeviceAllow entry, D-Bus type (ss).
type deviceAllow struct {
	Path   string
	Access string
}

// majorName finds a major's driver name in /proc/devices ("136 pts"), "" if none.
// systemd's "char-<name>" allows every major of that name.
func majorName(kind string, major int64) string {
	data, err := os.ReadFile("/proc/devices")
	if err != nil {
		return ""
	}
	section := "Character devices:"
	if kind == "block" {
		section = "Block devices:"
	}
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasSuffix(line, "devices:") {
			in = line == section
			continue
		}
		// A major may have several names ("4 /dev/vc/0", "4 tty"): a path is no
		// unit-file word.
		if f := strings.Fields(line); in && len(f) == 2 && f[0] == strconv.FormatInt(major, 10) && !strings.Contains(f[1], "/") {
			return f[1]
		}
	}
	return ""
}
