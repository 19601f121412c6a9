package cgroups

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setDevices applies the device rules: through the v1 devices controller where
// the host has one, else as an eBPF program on the cgroup2 directory.
//
// Both give the rules one meaning (allowedAccess): for each access (read, write,
// mknod) to a device, the last rule that names the device and that access decides,
// and an access no rule decides is allowed (a new cgroup allows everything its
// parent allows). So a list starting with a deny-all rule is an allow-list, and a
// later rule for a device always wins over an earlier one, however broad.
func (m *Manager) setDevices(r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	if h := m.find("devices"); h != nil && !h.v2() {
		return setDevicesV1(h, r.Devices)
	}
	u := m.unified()
	if u == nil {
		return fieldErr("devices", "the devices controller is not available on this host")
	}
	if err := attachDeviceFilter(u.dir(), r.Devices); err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	return nil
}

// Values the kernel passes a BPF_PROG_TYPE_CGROUP_DEVICE program in struct
// bpf_cgroup_dev_ctx: access_type holds the type in its low 16 bits and the access
// in its high 16 bits; major and minor follow as u32s. The v1 controller uses the
// same type and access values internally.
const (
	devBlock  = 1 // BPF_DEVCG_DEV_BLOCK
	devChar   = 2 // BPF_DEVCG_DEV_CHAR
	accMknod  = 1 // BPF_DEVCG_ACC_MKNOD
	accRead   = 2 // BPF_DEVCG_ACC_READ
	accWrite  = 4 // BPF_DEVCG_ACC_WRITE
	accAll    = accMknod | accRead | accWrite
	anyNumber = -1 // a rule's major or minor that matches every number
)

func accessBits(s string) int32 {
	if s == "" {
		s = "rwm"
	}
	var bits int32
	for _, c := range s {
		bits |= map[rune]int32{'m': accMknod, 'r': accRead, 'w': accWrite}[c]
	}
	return bits
}

func accessString(bits int32) string {
	s := ""
	for _, a := range []struct {
		bit int32
		c   string
	}{{accRead, "r"}, {accWrite, "w"}, {accMknod, "m"}} {
		if bits&a.bit != 0 {
			s += a.c
		}
	}
	return s
}

// devRule is one rule for one device type.
type devRule struct {
	allow        bool
	typ          int32 // devBlock or devChar
	major, minor int64 // anyNumber for any
	access       int32
}

// devRules turns the spec's rules into rules of one type each: a rule of type "a"
// (or none) is the same rule for block and for char devices.
func devRules(rules []specs.LinuxDeviceCgroup) []devRule {
	num := func(n *int64) int64 {
		if n == nil {
			return anyNumber
		}
		return *n
	}
	var out []devRule
	for _, r := range rules {
		d := devRule{allow: r.Allow, major: num(r.Major), minor: num(r.Minor), access: accessBits(r.Access)}
		switch r.Type {
		case "b":
			d.typ = devBlock
			out = append(out, d)
		case "c":
			d.typ = devChar
			out = append(out, d)
		default:
			b, c := d, d
			b.typ, c.typ = devBlock, devChar
			out = append(out, b, c)
		}
	}
	return out
}

func (r devRule) names(typ int32, major, minor int64) bool {
	return r.typ == typ && (r.major == anyNumber || r.major == major) && (r.minor == anyNumber || r.minor == minor)
}

// allowedAccess is what the rules allow on one device: for each access, the last
// rule that names the device and the access decides; past all of them it is
// allowed.
func allowedAccess(rules []devRule, typ int32, major, minor int64) int32 {
	undecided, allowed := int32(accAll), int32(0)
	for i := len(rules) - 1; i >= 0 && undecided != 0; i-- {
		if r := rules[i]; r.names(typ, major, minor) {
			if r.allow {
				allowed |= undecided & r.access
			}
			undecided &^= r.access
		}
	}
	return allowed | undecided
}

// v1Exception is one line of devices.allow or devices.deny: a device pattern and
// access.
type v1Exception struct {
	typ          int32
	major, minor int64
	access       int32
}

func (e v1Exception) String() string {
	n := func(v int64) string {
		if v == anyNumber {
			return "*"
		}
		return itoa(v)
	}
	t := "c"
	if e.typ == devBlock {
		t = "b"
	}
	return t + " " + n(e.major) + ":" + n(e.minor) + " " + accessString(e.access)
}

func (e v1Exception) covers(major, minor int64) bool {
	return (e.major == anyNumber || e.major == major) && (e.minor == anyNumber || e.minor == minor)
}

// v1State is what the devices controller of cgroup v1 holds: a default (allow
// everything, or deny everything) and exceptions to it. The kernel cannot hold any
// list of rules as written: writing a rule only adds an exception, or takes access
// away from the exception of exactly the same pattern, so a deny of c 1:3 after an
// allow of c *:* changes nothing (runc refuses such lists; crun writes them and
// leaves /dev/null writable). So the rules' meaning (allowedAccess) is worked out
// first and then put in the form the kernel holds:
//
//   - deny by default, with allow exceptions (devices.list then reads as the
//     allow-list): an access is allowed when one exception that covers the device
//     holds all of it;
//   - allow by default, with deny exceptions (devices.list reads "a *:* rwm"
//     whatever they are): an access is denied when an exception that covers the
//     device holds any of it.
//
// Devices fall into classes that every rule treats alike: per type, each major a
// rule names or any other, times each minor a rule names or any other. Each
// pattern a rule could name (*:*, M:*, *:m, M:m) gets as exception the access its
// every class has; the form holds the rules when, for every class, the patterns
// that cover it add up to what the class must have. If neither form does, the
// list needs an exception with a hole in it, which v1 cannot hold: an error.
type v1State struct {
	allow      bool
	exceptions []v1Exception
}

func v1Devices(rules []specs.LinuxDeviceCgroup) (v1State, error) {
	rs := devRules(rules)
	// Rules that allow everything are the plain allow-all state, not an
	// allow-list of b *:* and c *:*.
	if st, ok := v1Form(rs, true); ok && len(st.exceptions) == 0 {
		return st, nil
	}
	for _, allow := range []bool{false, true} {
		if st, ok := v1Form(rs, allow); ok {
			return st, nil
		}
	}
	return v1State{}, fieldErr("devices", "the v1 devices cgroup cannot hold these rules (a later rule takes access from part of what an earlier, broader one gives, or gives part of what it takes); cgroup v2 can")
}

// v1Form puts the rules in the form with the given default, if it can hold them.
func v1Form(rs []devRule, allow bool) (v1State, bool) {
	st := v1State{allow: allow}
	for _, typ := range []int32{devBlock, devChar} {
		// Class numbers: those the rules name, and -2 for every other.
		majors, minors := []int64{-2}, []int64{-2}
		for _, r := range rs {
			if r.typ != typ {
				continue
			}
			if r.major != anyNumber && !slices.Contains(majors, r.major) {
				majors = append(majors, r.major)
			}
			if r.minor != anyNumber && !slices.Contains(minors, r.minor) {
				minors = append(minors, r.minor)
			}
		}
		// want is what the exceptions must give each class: the allowed access
		// against a default deny, the denied access against a default allow.
		want := make([][]int32, len(majors))
		for i, M := range majors {
			want[i] = make([]int32, len(minors))
			for j, m := range minors {
				a := allowedAccess(rs, typ, M, m)
				if allow {
					a = accAll &^ a
				}
				want[i][j] = a
			}
		}
		// The patterns: any number, or one that a rule names (not -2).
		pattern := func(l []int64) []int64 { return append([]int64{anyNumber}, l[1:]...) }
		var exs []v1Exception
		for _, pM := range pattern(majors) {
			for _, pm := range pattern(minors) {
				acc := int32(accAll)
				for i, M := range majors {
					for j, m := range minors {
						if (v1Exception{major: pM, minor: pm}).covers(M, m) {
							acc &= want[i][j]
						}
					}
				}
				if acc != 0 {
					exs = append(exs, v1Exception{typ, pM, pm, acc})
				}
			}
		}
		for i, M := range majors {
			for j, m := range minors {
				var got int32
				for _, e := range exs {
					if e.covers(M, m) {
						got |= e.access
					}
				}
				if got != want[i][j] {
					return v1State{}, false
				}
			}
		}
		// An exception no broader than another of the same access adds nothing.
		// (Against a default deny the narrowest pattern that covers a device
		// holds all its access by construction, as the kernel needs one
		// exception to cover the whole of an access.)
		for _, e := range exs {
			redundant := false
			for _, o := range exs {
				if o != e && o.access == e.access && (o.major == anyNumber || o.major == e.major) && (o.minor == anyNumber || o.minor == e.minor) {
					redundant = true
				}
			}
			if !redundant {
				st.exceptions = append(st.exceptions, e)
			}
		}
	}
	return st, true
}

// setDevicesV1 moves the controller to the state that holds the rules (v1State).
// From a deny-by-default state it only adds access and then takes away what the
// new state lacks, so that an update never cuts off what both the old and the new
// rules allow, nor allows what neither does. Other moves start with a reset ("a"
// written to devices.deny or devices.allow), which a running container may notice
// for a moment during an update.
func setDevicesV1(h *hierarchy, rules []specs.LinuxDeviceCgroup) error {
	st, err := v1Devices(rules)
	if err != nil {
		return err
	}
	if st.allow {
		if err := put("devices", h, "devices.allow", "a"); err != nil {
			return err
		}
		for _, e := range st.exceptions {
			if err := put("devices", h, "devices.deny", e.String()); err != nil {
				return err
			}
		}
		return nil
	}
	cur, deny, err := readV1Devices(h)
	if err != nil {
		return err
	}
	if !deny {
		if err := put("devices", h, "devices.deny", "a"); err != nil {
			return err
		}
		cur = nil
	}
	key := func(e v1Exception) v1Exception { e.access = 0; return e }
	have := map[v1Exception]int32{}
	for _, e := range cur {
		have[key(e)] = e.access
	}
	for _, e := range st.exceptions {
		if more := e.access &^ have[key(e)]; more != 0 {
			e.access = more
			if err := put("devices", h, "devices.allow", e.String()); err != nil {
				return err
			}
		}
	}
	// Against a default deny, a write to devices.deny takes access from the
	// exception of exactly that pattern.
	target := map[v1Exception]int32{}
	for _, e := range st.exceptions {
		target[key(e)] = e.access
	}
	for _, e := range cur {
		if extra := e.access &^ target[key(e)]; extra != 0 {
			e.access = extra
			if err := put("devices", h, "devices.deny", e.String()); err != nil {
				return err
			}
		}
	}
	return nil
}

// readV1Devices reads devices.list: the allow exceptions of a deny-by-default
// state (deny true), or deny false for an allow-by-default one, whose (deny)
// exceptions the kernel does not show.
func readV1Devices(h *hierarchy) ([]v1Exception, bool, error) {
	data, err := readFile(h.dir(), "devices.list")
	if err != nil {
		return nil, false, fmt.Errorf("linux.resources.devices: %w", err)
	}
	return parseV1Devices(data)
}

// parseV1Devices parses devices.list's contents as readV1Devices returns them.
func parseV1Devices(data string) ([]v1Exception, bool, error) {
	var err error
	var out []v1Exception
	for _, l := range strings.Split(strings.TrimSpace(data), "\n") {
		if l == "" {
			continue
		}
		var t, nums, acc string
		if _, err := fmt.Sscan(l, &t, &nums, &acc); err != nil {
			return nil, false, fmt.Errorf("linux.resources.devices: devices.list line %q: %w", l, err)
		}
		if t == "a" {
			return nil, false, nil
		}
		ma, mi, _ := strings.Cut(nums, ":")
		e := v1Exception{typ: devChar, access: accessBits(acc)}
		if t == "b" {
			e.typ = devBlock
		}
		for _, f := range []struct {
			s   string
			dst *int64
		}{{ma, &e.major}, {mi, &e.minor}} {
			*f.dst = anyNumber
			if f.s != "*" {
				if *f.dst, err = strconv.ParseInt(f.s, 10, 64); err != nil {
					return nil, false, fmt.Errorf("linux.resources.devices: devices.list line %q: %w", l, err)
				}
			}
		}
		out = append(out, e)
	}
	return out, true, nil
}
