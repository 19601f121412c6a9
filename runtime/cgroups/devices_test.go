package cgroups

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rule builds a device rule; major or minor -1 is any, typ "" is every type.
func rule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major != -1 {
		r.Major = ptr(major)
	}
	if minor != -1 {
		r.Minor = ptr(minor)
	}
	return r
}

var denyAll = rule(false, "a", -1, -1, "rwm")

// deviceLists are rule lists whose last rule for /dev/null (c 1:3) differs from
// an earlier one: the cases the v1 controller cannot take as written.
var deviceLists = []struct {
	name  string
	rules []specs.LinuxDeviceCgroup
	allow bool     // the v1 form: allow by default
	list  []string // its exceptions
	err   bool     // v1 cannot hold the rules
	// what a process gets on /dev/null and /dev/zero (c 1:5)
	nullRead, nullWrite, nullReadWrite, zeroWrite bool
}{
	{"narrow deny after allow", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", 1, 3, "rwm"), rule(false, "c", 1, 3, "w")},
		false, []string{"c 1:3 rm"}, false, true, false, false, false},
	{"narrow deny after wildcard allow", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", -1, -1, "rwm"), rule(false, "c", 1, 3, "w")},
		true, []string{"b *:* rwm", "c 1:3 w"}, false, true, false, false, true},
	{"wildcard deny after narrow allow", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", 1, 3, "rwm"), rule(true, "c", 1, 5, "rwm"), rule(false, "c", -1, -1, "w")},
		false, []string{"c 1:3 rm", "c 1:5 rm"}, false, true, false, false, false},
	{"read and write allowed apart", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", 1, 3, "r"), rule(true, "c", 1, 3, "w")},
		false, []string{"c 1:3 rw"}, false, true, true, true, false},
	{"hole in a major", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", 1, -1, "rwm"), rule(false, "c", 1, 3, "w")},
		false, nil, true, true, false, false, true},
	{"deny-list", []specs.LinuxDeviceCgroup{rule(false, "c", 1, 3, "rw"), rule(true, "c", 1, 3, "r")},
		true, []string{"c 1:3 w"}, false, true, false, false, true},
}

func TestV1Devices(t *testing.T) {
	for _, c := range deviceLists {
		st, err := v1Devices(c.rules)
		if c.err {
			if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.devices: ") {
				t.Errorf("%s: %+v, %v; want an error", c.name, st, err)
			}
			continue
		}
		var got []string
		for _, e := range st.exceptions {
			got = append(got, e.String())
		}
		slices.Sort(got)
		if err != nil || st.allow != c.allow || !slices.Equal(got, c.list) {
			t.Errorf("%s: allow %v %q (%v), want allow %v %q", c.name, st.allow, got, err, c.allow, c.list)
		}
	}
	// Everything allowed is the plain allow-all state.
	if st, err := v1Devices([]specs.LinuxDeviceCgroup{rule(true, "", -1, -1, "rwm")}); err != nil || !st.allow || len(st.exceptions) != 0 {
		t.Errorf("allow all: %+v, %v", st, err)
	}
}

// kernelAllows is the v1 controller's check of an access to a device against a
// state (security/device_cgroup.c): against a default deny, one exception must
// cover the device and the whole access; against a default allow, no exception
// may cover the device and any of the access.
func kernelAllows(st v1State, typ int32, major, minor int64, access int32) bool {
	for _, e := range st.exceptions {
		if e.typ != typ || !e.covers(major, minor) {
			continue
		}
		if !st.allow && access&^e.access == 0 {
			return true
		}
		if st.allow && access&e.access != 0 {
			return false
		}
	}
	return st.allow
}

// TestV1DevicesMeaning: for random rule lists, whenever v1Devices gives a state,
// the kernel's check of that state allows exactly what the rules do, for every
// device class and every access.
func TestV1DevicesMeaning(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	nums := []int64{-1, 1, 2}
	types := []string{"", "b", "c", "c"}
	accesses := []string{"r", "w", "m", "rw", "rm", "wm", "rwm", "rwm"}
	refused := 0
	for round := 0; round < 5000; round++ {
		var rules []specs.LinuxDeviceCgroup
		if rnd.Intn(2) == 0 {
			rules = append(rules, denyAll)
		}
		for n := rnd.Intn(5); n >= 0; n-- {
			rules = append(rules, rule(rnd.Intn(2) == 0, types[rnd.Intn(len(types))], nums[rnd.Intn(3)], nums[rnd.Intn(3)], accesses[rnd.Intn(len(accesses))]))
		}
		st, err := v1Devices(rules)
		if err != nil {
			refused++
			continue
		}
		rs := devRules(rules)
		for _, typ := range []int32{devBlock, devChar} {
			for _, major := range []int64{1, 2, 7} {
				for _, minor := range []int64{1, 2, 9} {
					want := allowedAccess(rs, typ, major, minor)
					for acc := int32(1); acc <= accAll; acc++ {
						if got := kernelAllows(st, typ, major, minor, acc); got != (acc&^want == 0) {
							t.Fatalf("rules %+v\nstate %+v\ndevice %d %d:%d access %s: kernel allows %v, the rules allow %s",
								rules, st, typ, major, minor, accessString(acc), got, accessString(want))
						}
					}
				}
			}
		}
	}
	if refused == 0 || refused > 2500 {
		t.Errorf("%d of 5000 lists refused", refused)
	}
	t.Logf("%d of 5000 random lists need a hole v1 cannot hold", refused)
}

// deviceProbe tries /dev/null for reading, writing and both, and /dev/zero for
// writing.
const deviceProbe = `for t in "null-r:cat /dev/null" "null-w:echo x >/dev/null" "null-rw:exec 3<>/dev/null" "zero-w:echo x >/dev/zero"; do
  if (eval "${t#*:}") 2>&-; then echo "${t%%:*} ok"; else echo "${t%%:*} denied"; fi
done`

func checkProbe(t *testing.T, name, out string, nullRead, nullWrite, nullReadWrite, zeroWrite bool) {
	t.Helper()
	word := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "denied"
	}
	want := "null-r " + word(nullRead) + "\nnull-w " + word(nullWrite) + "\nnull-rw " + word(nullReadWrite) + "\nzero-w " + word(zeroWrite) + "\n"
	if out != want {
		t.Errorf("%s: got\n%swant\n%s", name, out, want)
	}
}

// TestDeviceOrder: on the v1 controller, each list ends as the state that means
// what the rules say (devices.list shows it), a process in the cgroup gets what
// the last rules for /dev/null and /dev/zero say, and a list v1 cannot hold is
// refused. An update from one list to the next lands on the same state.
func TestDeviceOrder(t *testing.T) {
	probe := newManager(t)
	h := probe.find("devices")
	if h == nil || h.v2() {
		t.Skip("no v1 devices controller")
	}
	var updated *Manager
	for _, c := range deviceLists {
		m := newManager(t)
		err := m.Set(&specs.LinuxResources{Devices: c.rules})
		if c.err {
			if err == nil {
				t.Errorf("%s: v1 took a list it cannot hold", c.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkV1List(t, c.name, m, c.allow, c.list)
		cmd, run, out := gated(t, m, deviceProbe)
		run()
		waitExit(t, cmd, 5*time.Second)
		checkProbe(t, c.name, out.String(), c.nullRead, c.nullWrite, c.nullReadWrite, c.zeroWrite)
		// The same lists, one after the other, on one cgroup.
		if updated == nil {
			updated = m
			continue
		}
		if err := updated.Set(&specs.LinuxResources{Devices: c.rules}); err != nil {
			t.Fatalf("%s: update: %v", c.name, err)
		}
		checkV1List(t, c.name+" (update)", updated, c.allow, c.list)
	}
}

func checkV1List(t *testing.T, name string, m *Manager, allow bool, want []string) {
	t.Helper()
	got := strings.Split(read(t, m.find("devices").dir(), "devices.list"), "\n")
	if allow {
		want = []string{"a *:* rwm"}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: devices.list %q, want %q", name, got, want)
	}
}

// TestDeviceOrderBPF: the cgroup2 device program gives the same access as v1 for
// the same lists, the one v1 cannot hold included.
func TestDeviceOrderBPF(t *testing.T) {
	for _, c := range deviceLists {
		m := newManager(t)
		u := m.unified()
		if u == nil {
			t.Skip("no cgroup2 hierarchy")
		}
		if err := attachDeviceFilter(u.dir(), c.rules); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		cmd, run, out := gated(t, m, deviceProbe)
		run()
		waitExit(t, cmd, 5*time.Second)
		checkProbe(t, c.name, out.String(), c.nullRead, c.nullWrite, c.nullReadWrite, c.zeroWrite)
	}
}
