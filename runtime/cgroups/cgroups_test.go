package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if os.Getenv("HULL_CGROUPS_HELPER") == "relative" {
		os.Exit(relativeHelper())
	}
	if os.Getenv("HULL_CGROUPS_HELPER") == "bindsub" {
		os.Exit(bindSubHelper())
	}
	os.Exit(testutil.Main(m))
}

// relativeHelper runs in a child test binary that the test has put in a cgroup:
// once told to go on, it makes a cgroup from a relative path and joins it.
func relativeHelper() int {
	bufio.NewReader(os.Stdin).ReadString('\n')
	// Unique: on a hybrid host's cgroup2 hierarchy it lands at the root.
	m, err := New(fmt.Sprintf("hull-test-child-%d", os.Getpid()), "x")
	if err == nil {
		err = m.Apply(os.Getpid())
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println(m.Path())
	io.Copy(io.Discard, os.Stdin) // stay until the test closes stdin
	return 0
}

func ptr[T any](v T) *T { return &v }

var seq int

// newManager makes a manager for a fresh "/hull-test-..." cgroup, created (no
// process in it), removed again when the test ends.
func newManager(t *testing.T) *Manager {
	t.Helper()
	testutil.RequireRoot(t)
	seq++
	name := fmt.Sprintf("/hull-test-%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "-"), os.Getpid(), seq)
	m, err := New(name, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Kill(unix.SIGKILL); err != nil {
			t.Error(err)
		}
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// gated starts `sh -c script` behind a `read` so the test can move it into the
// cgroup before the script runs. It returns the command, a go function that lets
// the script run, and its output (read after Wait).
func gated(t *testing.T, m *Manager, script string) (*exec.Cmd, func(), *strings.Builder) {
	t.Helper()
	cmd := exec.Command(testutil.Busybox, "sh", "-c", "read x; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	cmd.WaitDelay = 100 * time.Millisecond // children may hold the output pipe
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Children hold the output pipe open, and Wait waits for it.
		if m != nil {
			m.Kill(unix.SIGKILL)
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	if m != nil {
		if err := m.Apply(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	return cmd, func() { in.Write([]byte("\n")) }, out
}

// slow stretches a timeout in the test VM, where qemu emulates every
// instruction (test/vm, HULL_VM=1) and a busy loop runs many times slower.
func slow(d time.Duration) time.Duration {
	if os.Getenv("HULL_VM") == "1" {
		return 6 * d
	}
	return d
}

func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	d = slow(d)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%v did not exit within %v", cmd.Args, d)
		return nil
	}
}

func read(t *testing.T, dir, file string) string {
	t.Helper()
	s, err := readFile(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHostMode(t *testing.T) {
	hs, err := hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	var v1, v2 bool
	for _, h := range hs {
		v1, v2 = v1 || !h.v2(), v2 || h.v2()
	}
	want := map[[2]bool]Mode{{true, false}: Legacy, {true, true}: Hybrid, {false, true}: Unified}[[2]bool{v1, v2}]
	if HostMode() != want {
		t.Fatalf("HostMode() = %v, the mounts say %v", HostMode(), want)
	}
	t.Logf("host mode %v", HostMode())
}

func TestNewPaths(t *testing.T) {
	for _, tc := range []struct{ path, id, err string }{
		{"../escape", "abc", `must not leave its parent with ".."`},
		{"a/../../b", "abc", `".."`},
		{"/", "abc", "not the root"},
		{"", "", "not usable as a cgroup name"},
		{"", "a/b", "not usable as a cgroup name"},
	} {
		if _, err := New(tc.path, tc.id); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("New(%q, %q) = %v, want an error with %q", tc.path, tc.id, err, tc.err)
		}
	}
	m, err := New("", "abc")
	if err != nil || m.Path() != "/hullrt/abc" || !m.parentOwned {
		t.Fatalf("New default = %v, %v", m.Path(), err)
	}
	m, err = New("/a/../hull-test-x", "abc")
	if err != nil || m.Path() != "/hull-test-x" {
		t.Fatalf("New absolute = %v, %v", m.Path(), err)
	}
	// A relative path hangs below our own cgroup on each v1 hierarchy, below its
	// parent on a v2-only host, and below the root of a hybrid host's cgroup2
	// hierarchy (runc's rules). The systemd driver's
	// "slice:prefix:name" is one such relative name, as runc's cgroupfs driver
	// reads it.
	self, _ := os.ReadFile("/proc/self/cgroup")
	for _, rel := range []string{"hull-test-rel/c", "test.slice:cri-containerd:abc"} {
		m, err = New(rel, "abc")
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range m.hs {
			want := filepath.Join(h.own, rel)
			if h.v2() && HostMode() == Hybrid {
				want = "/" + rel
			} else if h.v2() {
				want = filepath.Join(filepath.Dir(h.own), rel)
			}
			if !strings.Contains(string(self), h.key+":"+h.own+"\n") || h.path != want {
				t.Errorf("New(%q): hierarchy %q: own %q, path %q, want %q; /proc/self/cgroup:\n%s", rel, h.key, h.own, h.path, want, self)
			}
		}
	}
	l, err := Load(m.Path())
	if err != nil || l.Path() != m.Path() || len(l.hs) != len(m.hs) {
		t.Fatalf("Load(%q) = %v, %v", m.Path(), l, err)
	}
	// Different paths per hierarchy round-trip through JSON.
	if len(m.hs) > 1 {
		m.hs[0].path = "/other/place"
		if p := m.Path(); !strings.HasPrefix(p, "{") {
			t.Fatalf("Path with differing hierarchies = %q, want JSON", p)
		}
		l, err = Load(m.Path())
		if err != nil || l.Path() != m.Path() || l.hs[0].path != "/other/place" {
			t.Fatalf("Load(%q) = %v, %v", m.Path(), l.Path(), err)
		}
	} else {
		// One hierarchy (cgroup v2 only): paths cannot differ, so Path never
		// writes JSON, but Load still reads the JSON form another host wrote.
		l, err = Load(`{"":"/other/place","memory":"/elsewhere"}`)
		if err != nil || l.Path() != "/other/place" || len(l.hs) != 1 {
			t.Fatalf("Load of a JSON path = %v, %v", l, err)
		}
	}
	if _, err := Load("relative/x"); err == nil {
		t.Error("Load of a relative path worked")
	}
}

// cgroupOf reads /proc/pid/cgroup as hierarchy key → path.
func cgroupOf(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		p := strings.SplitN(l, ":", 3)
		out[p[1]] = p[2]
	}
	return out
}

func TestApplyPidsDestroy(t *testing.T) {
	m := newManager(t)
	cmd, _, _ := gated(t, m, "")
	for key, path := range cgroupOf(t, cmd.Process.Pid) {
		for _, h := range m.hs {
			if h.key == key && path != h.path {
				t.Errorf("hierarchy %q: pid in %q, want %q", key, path, h.path)
			}
		}
	}
	pids, err := m.Pids()
	if err != nil || len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("Pids() = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	if err := m.Destroy(); err == nil {
		t.Fatal("Destroy of a cgroup with a live process worked")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Fatal("cgroup exists after Destroy")
	}
	for _, d := range m.Dirs() {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v after Destroy", d, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
}

func TestDefaultParentRemoved(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids", DefaultParent)); err == nil {
		t.Skip(DefaultParent + " exists already")
	}
	m, err := New("", fmt.Sprintf("hull-test-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Destroy() })
	if err := m.Apply(0); err != nil {
		t.Fatal(err)
	}
	l, err := Load(m.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range l.Dirs() {
		if _, err := os.Stat(filepath.Dir(d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there", filepath.Dir(d))
		}
	}
}

func TestRelativePath(t *testing.T) {
	m := newManager(t)
	// The helper runs in m/inner: its relative path lands in m/inner/ on v1
	// and in m/ (the parent of its own) on a v2-only host, below m either way;
	// on a hybrid host's cgroup2 hierarchy at /hull-test-child-PID.
	inner, err := New(m.hs[0].path+"/inner", "")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), "HULL_CGROUPS_HELPER=relative")
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := inner.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("go\n"))
	line, err := bufio.NewReader(outp).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	wantV1, wantV2 := fmt.Sprintf("%s/inner/hull-test-child-%d", m.hs[0].path, cmd.Process.Pid), fmt.Sprintf("%s/hull-test-child-%d", m.hs[0].path, cmd.Process.Pid)
	if HostMode() == Hybrid {
		wantV2 = fmt.Sprintf("/hull-test-child-%d", cmd.Process.Pid)
	}
	for key, path := range cgroupOf(t, cmd.Process.Pid) {
		want, managed := wantV1, m.find(strings.Split(key, ",")[0]) != nil
		if key == "" {
			want, managed = wantV2, m.unified() != nil
		}
		if managed && path != want {
			t.Errorf("hierarchy %q: helper in %q, want %q (it printed %s)", key, path, want, line)
		}
	}
	// Pids reads the tree below the cgroup too.
	pids, err := m.Pids()
	if err != nil || len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("Pids() = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
	// Destroy after Kill removes the child cgroup first.
	if err := m.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if h := m.unified(); h != nil && HostMode() == Hybrid {
		if err := removeTree(filepath.Join(h.mount, wantV2), time.Now().Add(2*time.Second)); err != nil {
			t.Error(err)
		}
	}
}

func TestKillForkers(t *testing.T) {
	m := newManager(t)
	_, run, _ := gated(t, m, "while :; do "+testutil.Busybox+" sleep 100 & done")
	run()
	time.Sleep(300 * time.Millisecond)
	pids, _ := m.Pids()
	if len(pids) < 10 {
		t.Fatalf("only %d processes forked", len(pids))
	}
	if err := m.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if pids, _ := m.Pids(); len(pids) != 0 {
		t.Fatalf("%d processes left after Kill", len(pids))
	}
}

func TestKillSignal(t *testing.T) {
	m := newManager(t)
	cmd, run, out := gated(t, m, "trap 'echo got-term; exit 0' TERM; while :; do sleep 0.05; done")
	run()
	time.Sleep(100 * time.Millisecond)
	if err := m.Kill(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, cmd, 5*time.Second); err != nil || !strings.Contains(out.String(), "got-term") {
		t.Fatalf("after SIGTERM: %v, output %q", err, out)
	}
}

// cpuTicks is the user plus system time of pid, in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

func TestFreezeThaw(t *testing.T) {
	m := newManager(t)
	cmd, run, _ := gated(t, m, "while :; do :; done")
	run()
	time.Sleep(100 * time.Millisecond)
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() = %v, %v after Freeze", frozen, err)
	}
	before := cpuTicks(t, cmd.Process.Pid)
	time.Sleep(300 * time.Millisecond)
	if after := cpuTicks(t, cmd.Process.Pid); after != before {
		t.Fatalf("frozen process ran: %d → %d ticks", before, after)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() = %v, %v after Thaw", frozen, err)
	}
	// Thawed, it runs again: 10 ticks (100 ms of CPU) come within 300 ms on an
	// idle machine, but a loaded one gives a busy loop a small share of a CPU,
	// so wait for them rather than for a time.
	deadline := time.Now().Add(10 * time.Second)
	for after := cpuTicks(t, cmd.Process.Pid); after <= before+10; after = cpuTicks(t, cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("thawed process did not run: %d → %d ticks in 10 s", before, after)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMemoryOOM(t *testing.T) {
	m := newManager(t)
	mem := &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}
	if h := m.find("memory"); !h.v2() && exists(h, "memory.memsw.limit_in_bytes") || h.v2() && exists(h, "memory.swap.max") {
		mem.Swap = mem.Limit // no swap: the limit must bite, not push pages out
	}
	if err := m.Set(&specs.LinuxResources{Memory: mem}); err != nil {
		t.Fatal(err)
	}
	// dd reads 200MB from /dev/zero into one buffer: the kernel faults the
	// buffer's pages in as it fills them, so the process outgrows the limit
	// in a fraction of a second even under emulation.
	cmd, run, _ := gated(t, m, `exec dd if=/dev/zero of=/dev/null bs=200000000 count=1; echo survived`)
	run()
	err := waitExit(t, cmd, 20*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Fatalf("allocating past the limit ended with %v, want SIGKILL", err)
	}
	n, err := m.OOMEvents()
	if err != nil || n < 1 {
		t.Fatalf("OOMEvents() = %d, %v", n, err)
	}
	st, err := m.Stats()
	if err != nil || st.Memory.OOMKills < 1 || st.Memory.Limit != 64<<20 || st.Memory.MaxUsage < 32<<20 {
		t.Fatalf("Stats() = %+v, %v", st, err)
	}
}

func TestMemoryLimitBelowUsage(t *testing.T) {
	m := newManager(t)
	// dd fills a 48MiB buffer from /dev/zero, then blocks writing it to a pipe
	// that sleep never reads, holding the memory until the cgroup is killed.
	_, run, _ := gated(t, m, `dd if=/dev/zero bs=50331648 count=1 | sleep 1000`)
	h := m.find("memory")
	run()
	deadline := time.Now().Add(slow(10 * time.Second))
	for st, _ := m.Stats(); st.Memory.Usage < 40<<20; st, _ = m.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("usage %d never reached 40MB", st.Memory.Usage)
		}
		time.Sleep(20 * time.Millisecond)
	}
	old := read(t, h.dir(), map[bool]string{false: "memory.limit_in_bytes", true: "memory.max"}[h.v2()])
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(10 << 20)), CheckBeforeUpdate: ptr(true)}})
	if err == nil || !strings.Contains(err.Error(), "linux.resources.memory.limit") {
		t.Fatalf("Set below usage with checkBeforeUpdate = %v", err)
	}
	if now := read(t, h.dir(), map[bool]string{false: "memory.limit_in_bytes", true: "memory.max"}[h.v2()]); now != old {
		t.Fatalf("limit changed from %s to %s", old, now)
	}
	swaps, _ := os.ReadFile("/proc/swaps")
	if !h.v2() && strings.Count(string(swaps), "\n") <= 1 {
		// v1 without swap: the kernel cannot reclaim anonymous memory and
		// refuses the limit with EBUSY, keeping the old one.
		err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(10 << 20))}})
		if err == nil || !strings.Contains(err.Error(), "linux.resources.memory.limit") {
			t.Fatalf("Set below usage = %v", err)
		}
		if now := read(t, h.dir(), "memory.limit_in_bytes"); now != old {
			t.Fatalf("limit changed from %s to %s", old, now)
		}
	}
}

func TestPidsLimit(t *testing.T) {
	m := newManager(t)
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(64))}}); err != nil {
		t.Fatal(err)
	}
	// A bounded fork bomb: it asks for 300 processes; the shell gives up (exits)
	// when a fork is refused.
	cmd, run, out := gated(t, m, "i=0; while [ $i -lt 300 ]; do "+testutil.Busybox+" sleep 30 & i=$((i+1)); done; echo all-forked")
	run()
	waitExit(t, cmd, 15*time.Second)
	if strings.Contains(out.String(), "all-forked") {
		t.Fatalf("300 forks worked under pids.max 64")
	}
	pids, _ := m.Pids()
	st, err := m.Stats()
	if err != nil || len(pids) > 64 || len(pids) < 32 || st.Pids.Current > 64 || st.Pids.Limit != 64 {
		t.Fatalf("%d pids, stats %+v, %v; want at most 64", len(pids), st.Pids, err)
	}
}

func TestCPUQuota(t *testing.T) {
	m := newManager(t)
	err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(50000)), Period: ptr(uint64(100000))}})
	if err != nil {
		t.Fatal(err)
	}
	_, run, _ := gated(t, m, "while :; do :; done")
	run()
	time.Sleep(200 * time.Millisecond)
	var share float64
	var s2 *Stats
	// Throttling holds the share at or under 50%; a busy machine can only push
	// it lower, by about as much as it holds back an unlimited loop beside it
	// (half of that: the cgroup competes with the host's tasks as one entity).
	free := testutil.SpinnerShare(t, func() {
		s1, _ := m.Stats()
		start := time.Now()
		time.Sleep(2 * time.Second)
		s2, _ = m.Stats()
		share = float64(s2.CPU.Total-s1.CPU.Total) / float64(time.Since(start).Nanoseconds())
	})
	if share < min(0.40, 0.5*free) || share > 0.55 {
		t.Fatalf("cpu share %.2f under a 50%% quota (an unlimited loop got %.2f)", share, free)
	}
	if s2.CPU.ThrottledPeriods == 0 {
		t.Errorf("no throttled periods: %+v", s2.CPU)
	}
	t.Logf("cpu share %.3f, %+v", share, s2.CPU)
}

// deviceRules deny every device but /dev/zero (c 1:5).
var deviceRules = []specs.LinuxDeviceCgroup{
	{Allow: false, Access: "rwm"},
	{Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(5)), Access: "rwm"},
}

const deviceScript = "head -c 3 /dev/zero | wc -c; if echo x >/dev/null; then echo null-ok; else echo null-denied; fi"

func checkDevices(t *testing.T, out string) {
	t.Helper()
	if !strings.Contains(out, "3\n") || !strings.Contains(out, "null-denied") || strings.Contains(out, "null-ok") {
		t.Fatalf("/dev/zero should open and /dev/null not; output:\n%s", out)
	}
}

func TestDevices(t *testing.T) {
	m := newManager(t)
	if err := m.Set(&specs.LinuxResources{Devices: deviceRules}); err != nil {
		t.Fatal(err)
	}
	if h := m.find("devices"); h != nil && !h.v2() {
		if got := read(t, h.dir(), "devices.list"); got != "c 1:5 rwm" {
			t.Fatalf("devices.list = %q", got)
		}
	}
	cmd, run, out := gated(t, m, deviceScript)
	run()
	waitExit(t, cmd, 5*time.Second)
	checkDevices(t, out.String())
}

// TestDeviceFilterBPF runs the cgroup2 device program wherever there is a cgroup2
// hierarchy, hybrid hosts included, so the eBPF path is proven here too.
func TestDeviceFilterBPF(t *testing.T) {
	m := newManager(t)
	u := m.unified()
	if u == nil {
		t.Skip("no cgroup2 hierarchy")
	}
	// The first program allows everything; the update must replace, not add.
	if err := attachDeviceFilter(u.dir(), []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}); err != nil {
		t.Fatal(err)
	}
	if err := attachDeviceFilter(u.dir(), append(deviceRules,
		specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(5)), Access: "w"})); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(u.dir(), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd, run, out := gated(t, m, deviceScript+"; if echo x >/dev/zero; then echo zero-write-ok; else echo zero-write-denied; fi")
	run()
	waitExit(t, cmd, 5*time.Second)
	checkDevices(t, out.String())
	if !strings.Contains(out.String(), "zero-write-denied") {
		t.Fatalf("a later deny of w on /dev/zero did not apply:\n%s", out)
	}
}

// TestKillWhileRemoved races Kill against another process's kill and removal of
// the same cgroup, as hull's rm -f meets a runtime deleting the container: a
// cgroup that vanishes under Kill had nothing left to kill, and is no error.
func TestKillWhileRemoved(t *testing.T) {
	for round := 0; round < 40; round++ {
		m := newManager(t)
		for i := 0; i < 3; i++ {
			_, run, _ := gated(t, m, "exec "+testutil.Busybox+" sleep 100")
			run()
		}
		other, err := Load(m.Path())
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		go func() {
			err := other.Kill(unix.SIGKILL)
			errs <- errors.Join(err, other.Destroy())
		}()
		go func() { errs <- m.Kill(unix.SIGKILL) }()
		for i := 0; i < 2; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
