package cgroups

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExpandSlice: slice names nest by their dashes, as systemd places them.
func TestExpandSlice(t *testing.T) {
	for in, want := range map[string]string{
		"system.slice":                     "/system.slice",
		"-.slice":                          "/",
		"a-b-c.slice":                      "/a.slice/a-b.slice/a-b-c.slice",
		"kubepods-besteffort-pod1_2.slice": "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1_2.slice",
	} {
		if got, err := ExpandSlice(in); err != nil || got != want {
			t.Errorf("ExpandSlice(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ".slice", "system", "a/b.slice", "a--b.slice", "-a.slice", "a-.slice", "a b.slice"} {
		if got, err := ExpandSlice(bad); err == nil {
			t.Errorf("ExpandSlice(%q) = %q, want an error", bad, got)
		}
	}
}

// TestNewSystemdPath: "slice:prefix:name" names the scope and its cgroup as runc
// does; NewSystemd needs no systemd for that, and Path/Load keep the unit.
func TestNewSystemdPath(t *testing.T) {
	for _, c := range []struct{ path, unit, cg string }{
		{"system.slice:docker:abc", "docker-abc.scope", "/system.slice/docker-abc.scope"},
		{":cri-containerd:abc", "cri-containerd-abc.scope", "/system.slice/cri-containerd-abc.scope"},
		{"", "hullrt-id1.scope", "/system.slice/hullrt-id1.scope"},
		{"kubepods-burstable.slice:cri-containerd:x", "cri-containerd-x.scope", "/kubepods.slice/kubepods-burstable.slice/cri-containerd-x.scope"},
		{"machine.slice::x", "x.scope", "/machine.slice/x.scope"},
		{"a.slice::a-b.slice", "a-b.slice", "/a.slice/a-b.slice"},
	} {
		m, err := NewSystemd(c.path, "id1", nil, nil)
		if err != nil {
			t.Errorf("%q: %v", c.path, err)
			continue
		}
		if m.Unit() != c.unit {
			t.Errorf("%q: unit %q, want %q", c.path, m.Unit(), c.unit)
		}
		for _, h := range m.hs {
			if h.path != c.cg {
				t.Errorf("%q: hierarchy %q: cgroup %q, want %q", c.path, h.key, h.path, c.cg)
			}
		}
		l, err := Load(m.Path())
		if err != nil || l.Unit() != c.unit || l.Path() != m.Path() {
			t.Errorf("%q: Load(%s) = unit %q, %v", c.path, m.Path(), l.Unit(), err)
		}
	}
	for _, bad := range []string{"a:b", "a:b:c:d", "/abs/path", "system.slice:x:", "system.slice:a b:c", "b.slice::a-c.slice"} {
		if _, err := NewSystemd(bad, "id1", nil, nil); err == nil {
			t.Errorf("NewSystemd(%q): no error", bad)
		}
	}
}

// TestSystemdDeviceProps: an allow-list becomes DevicePolicy=strict with one
// DeviceAllow per exception; rules systemd cannot hold leave it open ("auto"),
// never narrower than the rules.
func TestSystemdDeviceProps(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	show := func(rules []specs.LinuxDeviceCgroup) string {
		var b strings.Builder
		for _, p := range deviceProps(rules) {
			fmt.Fprintf(&b, "%s=%v ", p.Name, p.Value.Value())
		}
		return strings.TrimSpace(b.String())
	}
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	got := show([]specs.LinuxDeviceCgroup{denyAll,
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(4), Access: "rw"},
		{Allow: true, Type: "b", Access: "m"}})
	for _, want := range []string{"DevicePolicy=strict", "{/dev/char/1:3 rwm}", "{char-tty rw}", "{block-* m}"} {
		if !strings.Contains(got, want) {
			t.Errorf("allow-list: %s, lacks %s", got, want)
		}
	}
	if got := show([]specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, {Allow: false, Type: "c", Major: i(1), Minor: i(3), Access: "w"}}); got != "DevicePolicy=auto DeviceAllow=[]" {
		t.Errorf("deny-list: %s, want it open", got)
	}
}

// TestAnnotationProperties: "org.systemd.property.<Name>" annotations become unit
// properties as runc reads them; a *Sec name takes seconds and is the *USec
// property.
func TestAnnotationProperties(t *testing.T) {
	props, err := AnnotationProperties(map[string]string{
		"org.systemd.property.TimeoutStopSec": "uint64 5",
		"org.systemd.property.CollectMode":    "'inactive-or-failed'",
		"org.systemd.property.RuntimeMaxUSec": "uint64 7000000",
		"org.other":                           "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, p := range props {
		got[p.Name] = p.Value.Value()
	}
	want := map[string]any{"TimeoutStopUSec": uint64(5000000), "CollectMode": "inactive-or-failed", "RuntimeMaxUSec": uint64(7000000)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []map[string]string{
		{"org.systemd.property.collectMode": "'x'"},
		{"org.systemd.property.Collect_Mode": "'x'"},
		{"org.systemd.property.CollectMode": "inactive"},
		{"org.systemd.property.TimeoutStopSec": "'5'"},
	} {
		if _, err := AnnotationProperties(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestUnifiedProps: the unified keys systemd has a property for become it (the
// files are written as given in any case).
func TestUnifiedProps(t *testing.T) {
	props, err := unifiedProps(map[string]string{
		"memory.high": "50331648", "memory.min": "max", "pids.max": "42", "cpu.weight": "300",
		"cpu.max": "25000 50000", "cpuset.cpus": "0-1", "io.max": "8:0 rbps=100", "memory.oom.group": "1",
	}, func() int { return 252 })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range props {
		got = append(got, fmt.Sprintf("%s=%v", p.Name, p.Value.Value()))
	}
	want := "CPUQuotaPeriodUSec=50000 CPUQuotaPerSecUSec=500000 CPUWeight=300 AllowedCPUs=[3] MemoryHigh=50331648 MemoryMin=18446744073709551615 TasksMax=42"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	for _, bad := range []map[string]string{{"memory.high": "lots"}, {"cpu.weight": "0"}, {"cpu.max": "1 2 3"}, {"cpu.max": "-5 100"}} {
		if _, err := unifiedProps(bad, func() int { return 252 }); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestCPUMask(t *testing.T) {
	for in, want := range map[string][]byte{"0": {1}, "0-2,4": {0x17}, "9": {0, 2}, "1,8-9": {2, 3}} {
		if got, err := cpuMask(in); err != nil || !bytes.Equal(got, want) {
			t.Errorf("cpuMask(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	if _, err := cpuMask("3-1"); err == nil {
		t.Error("cpuMask(3-1): no error")
	}
}

// TestSystemdManager: the Manager under a real systemd: Apply starts the scope with
// the process in it and the resources as properties, Set changes both, Destroy
// stops the unit and its cgroup goes. Needs systemd as init (make test-systemd).
func TestSystemdManager(t *testing.T) {
	if os.Geteuid() != 0 || !Booted() || HostMode() != Unified {
		t.Skip("needs root and systemd as init on a cgroup v2 host: make test-systemd runs this in a VM")
	}
	// systemd makes the slice the scope names, and keeps it until stopped.
	defer exec.Command("systemctl", "stop", "hulltest.slice").Run()
	sleep := exec.Command("sleep", "100")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	limit, pids := int64(50<<20), int64(30)
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}, Pids: &specs.LinuxPids{Limit: &pids}}
	name := fmt.Sprintf("mgr%d", os.Getpid())
	m, err := NewSystemd("hulltest.slice:hull:"+name, name, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	defer m.Destroy()
	cg := "/hulltest.slice/hull-" + name + ".scope"
	show := func(p string) string {
		out, err := exec.Command("systemctl", "show", "--value", "-p", p, m.Unit()).Output()
		if err != nil {
			t.Fatalf("systemctl show %s: %v", p, err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := show("ControlGroup"); got != cg {
		t.Errorf("ControlGroup %q, want %q", got, cg)
	}
	if show("MemoryMax") != "52428800" || show("TasksMax") != "30" || show("Delegate") != "yes" {
		t.Errorf("unit: MemoryMax=%s TasksMax=%s Delegate=%s", show("MemoryMax"), show("TasksMax"), show("Delegate"))
	}
	own, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", sleep.Process.Pid))
	if string(own) != "0::"+cg+"\n" {
		t.Errorf("process cgroup %q, want %q", own, cg)
	}
	if err := m.Set(r); err != nil { // the start resources: files only
		t.Fatal(err)
	}
	limit = 60 << 20
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFile("/sys/fs/cgroup"+cg, "memory.max"); show("MemoryMax") != "62914560" || got != "62914560" {
		t.Errorf("after Set: unit MemoryMax %s, memory.max %s; want 62914560", show("MemoryMax"), got)
	}
	if err := m.Kill(9); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, err := os.Stat("/sys/fs/cgroup" + cg); err == nil && time.Now().Before(deadline); _, err = os.Stat("/sys/fs/cgroup" + cg) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat("/sys/fs/cgroup" + cg); !os.IsNotExist(err) {
		t.Errorf("cgroup after Destroy: %v", err)
	}
	if st := show("ActiveState"); st != "inactive" {
		t.Errorf("unit after Destroy: %s", st)
	}
}

// TestSystemdDestroyWithoutSystemd: where systemd does not run (any more), a
// systemd container's cgroup is still deleted: there is no unit to stop.
func TestSystemdDestroyWithoutSystemd(t *testing.T) {
	if Booted() {
		t.Skip("systemd is init here")
	}
	name := fmt.Sprintf("nosd%d", os.Getpid())
	m, err := NewSystemd("hulltest.slice:hull:"+name, name, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(m.Path())
	if err != nil || l.Unit() != "hull-"+name+".scope" {
		t.Fatalf("Load(%s): unit %q, %v", m.Path(), l.Unit(), err)
	}
	if err := l.Destroy(); err != nil {
		t.Errorf("Destroy: %v", err)
	}
}
