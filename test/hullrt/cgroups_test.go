package hullrt_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/runtime"
	"github.com/hullproject/hull/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// These tests put resource limits on containers through hullrt and check them
// from the host's cgroup files and from inside. Container ids carry the test
// binary's pid: other suites on the host make containers too, and without
// linux.cgroupsPath a container's cgroup is /hullrt/<id> on every hierarchy.

func cgID(t *testing.T) string {
	return fmt.Sprintf("cg%d-%s", os.Getpid(), strings.ToLower(strings.TrimPrefix(t.Name(), "TestCgroup")))
}

// cgV2 tells whether the host has cgroup v2 alone (the test VM).
func cgV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// cgSlow stretches a time limit in the test VM, where qemu emulates every
// instruction (HULL_VM=1).
func cgSlow(d time.Duration) time.Duration {
	if os.Getenv("HULL_VM") == "1" {
		return 4 * d
	}
	return d
}

// cgDir is the container's cgroup directory for a v1 controller, or the one
// cgroup2 directory on a v2 host.
func cgDir(id, controller string) string {
	if cgV2() {
		return filepath.Join("/sys/fs/cgroup", cgroups.DefaultParent, id)
	}
	return filepath.Join("/sys/fs/cgroup", controller, cgroups.DefaultParent, id)
}

// cgRead reads a cgroup file of the container: v1file in the controller's
// hierarchy, or v2file on a v2 host.
func cgRead(t *testing.T, id, controller, v1file, v2file string) string {
	t.Helper()
	file := filepath.Join(cgDir(id, controller), v1file)
	if cgV2() {
		file = filepath.Join(cgDir(id, controller), v2file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// cgCPU is the container's CPU time so far, in nanoseconds.
func cgCPU(t *testing.T, id string) uint64 {
	t.Helper()
	if cgV2() {
		for _, l := range strings.Split(cgRead(t, id, "", "", "cpu.stat"), "\n") {
			if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				return n * 1000
			}
		}
		t.Fatal("no usage_usec in cpu.stat")
	}
	n, err := strconv.ParseUint(cgRead(t, id, "cpuacct", "cpuacct.usage", ""), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func cgProcs(t *testing.T, id string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Fields(cgRead(t, id, "pids", "cgroup.procs", "cgroup.procs")) {
		n, _ := strconv.Atoi(f)
		pids = append(pids, n)
	}
	sort.Ints(pids)
	return pids
}

// cgGone fails the test if the container's cgroup is still there anywhere.
func cgGone(t *testing.T, id string) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", cgroups.DefaultParent, id))
	if d, err := os.Stat(filepath.Join("/sys/fs/cgroup", cgroups.DefaultParent, id)); err == nil && d.IsDir() {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", cgroups.DefaultParent, id))
	}
	if len(dirs) > 0 {
		t.Errorf("cgroup left behind: %v", dirs)
	}
}

// withMemory limits the container to limit bytes and forbids swap where the host
// accounts it, so the limit bites rather than pushing pages out.
func withMemory(s *specs.Spec, limit int64) {
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil || cgV2() {
		s.Linux.Resources.Memory.Swap = &limit
	}
}

// background starts hullrt without waiting for it; stdout goes to the returned
// builder once the command exits (read it after wait).
func (e *env) background(args ...string) (*exec.Cmd, *os.File) {
	e.t.Helper()
	cmd := exec.Command(hullrtBin, append([]string{"--root", e.root}, args...)...)
	out := tempFile(e.t)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, out
}

func ptrTo[T any](v T) *T { return &v }

func waitCmd(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not exit within %v", cmd.Args[3:], d)
		return -1
	}
}

func TestCgroupMemoryOOM(t *testing.T) {
	e := newEnv(t)
	id := cgID(t)
	// A process outside the container that must survive its OOM.
	bystander := exec.Command("/bin/busybox", "sleep", "600")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bystander.Process.Kill(); bystander.Wait() })
	// dd reads 200MB from /dev/zero into one buffer, so the pages are faulted
	// in as fast as the kernel can clear them; the pause lets events start.
	b := e.bundle([]string{"sh", "-c", "sleep 1; exec dd if=/dev/zero of=/dev/null bs=200000000 count=1"}, func(s *specs.Spec) {
		withMemory(s, 64<<20)
	})
	run, _ := e.background("run", "--keep", "--bundle", b, id)
	for i := 0; ; i++ {
		if _, _, code := e.run("state", id); code == 0 {
			break
		}
		if i > 200 {
			t.Fatal("the container never appeared")
		}
		time.Sleep(10 * time.Millisecond)
	}
	events, evOut := e.background("events", "--interval", "200ms", id)
	if code := waitCmd(t, run, cgSlow(30*time.Second)); code != 137 {
		t.Fatalf("memory bomb exited %d, want 137 (SIGKILL)", code)
	}
	if code := waitCmd(t, events, cgSlow(10*time.Second)); code != 0 {
		data, _ := os.ReadFile(evOut.Name())
		t.Fatalf("events exited %d: %s", code, data)
	}
	data, _ := os.ReadFile(evOut.Name())
	var types []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Type, ID string
			Data     *runtime.Stats
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.ID != id {
			t.Fatalf("events line %q: %v", sc.Text(), err)
		}
		types = append(types, ev.Type)
		if ev.Type == "stats" && ev.Data.Memory.Usage.Limit != 64<<20 {
			t.Errorf("stats memory limit %d, want %d", ev.Data.Memory.Usage.Limit, 64<<20)
		}
	}
	if !strings.Contains(strings.Join(types, " "), "oom") {
		t.Fatalf("no oom event; events: %v\n%s", types, data)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", bystander.Process.Pid)); err != nil {
		t.Fatal("a process outside the container died")
	}
	e.must("delete", id)
	cgGone(t, id)
}

func TestCgroupForkBomb(t *testing.T) {
	e := newEnv(t)
	id := cgID(t)
	const limit = 64
	b := e.bundle([]string{"sh", "-c", "f() { f | f & }; f; exec sleep 1000"}, func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptrTo(int64(limit))}
	})
	e.must("run", "-d", "--bundle", b, id)
	deadline := time.Now().Add(cgSlow(10 * time.Second))
	for {
		n, _ := strconv.Atoi(cgRead(t, id, "pids", "pids.current", "pids.current"))
		if n > limit {
			t.Fatalf("pids.current %d above pids.max %d", n, limit)
		}
		if n >= limit-4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fork bomb only reached %d tasks", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if n, _ := strconv.Atoi(cgRead(t, id, "pids", "pids.current", "pids.current")); n > limit {
		t.Fatalf("pids.current %d above pids.max %d", n, limit)
	}
	// The host can still fork.
	if out, err := exec.Command("/bin/busybox", "echo", "host-ok").Output(); err != nil || string(out) != "host-ok\n" {
		t.Fatalf("host fork: %q, %v", out, err)
	}
	start := time.Now()
	e.must("delete", "--force", id)
	if d := time.Since(start); d > cgSlow(5*time.Second) {
		t.Errorf("delete --force of a fork bomb took %v", d)
	} else {
		t.Logf("delete --force took %v", d)
	}
	cgGone(t, id)
	if out := e.must("list", "-q"); out != "" {
		t.Errorf("left: %q", out)
	}
}

func TestCgroupCPUQuota(t *testing.T) {
	e := newEnv(t)
	id := cgID(t)
	quota, period := int64(50000), uint64(100000)
	b := e.bundle([]string{"sh", "-c", "while :; do :; done"}, func(s *specs.Spec) {
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	})
	e.must("run", "-d", "--bundle", b, id)
	time.Sleep(300 * time.Millisecond)
	var share float64
	// A loaded host gives the loop less than its quota, and an unlimited loop
	// beside it shows how much less: the floor follows that, the ceiling does not.
	// Half of it: the container's cgroup competes with the host's tasks as one
	// entity, and under contention it got 0.55 of what the free loop got.
	free := testutil.SpinnerShare(t, func() {
		u1, t1 := cgCPU(t, id), time.Now()
		time.Sleep(2 * time.Second)
		u2, t2 := cgCPU(t, id), time.Now()
		share = float64(u2-u1) / float64(t2.Sub(t1).Nanoseconds())
	})
	floor := min(0.45, 0.5*free)
	t.Logf("cpu share %.3f under a 50%% quota; an unlimited loop beside it: %.3f", share, free)
	if share > 0.55 || share < floor {
		t.Fatalf("cpu share %.3f, want %.2f to 0.55 (an unlimited loop got %.3f)", share, floor, free)
	}
}

func TestCgroupDevices(t *testing.T) {
	e := newEnv(t)
	dev := func(allow bool, major, minor int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: access}
	}
	script := `head -c 3 /dev/zero | wc -c
echo x >/dev/null && echo null-ok
mknod /dev/full2 c 1 7 && { echo x >/dev/full2; echo full-opened; }
mknod /dev/kmsg2 c 1 11 || echo kmsg-denied
echo x >/dev/zero || echo zero-write-denied
true`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		// After the default spec's deny-all: /dev/null (1:3) denied, /dev/full
		// (1:7, not a default device) allowed, writes to /dev/zero (1:5) denied.
		// /dev/null is denied "rw", not "m": the runtime makes the node itself.
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			dev(false, 1, 3, "rw"), dev(true, 1, 7, "rwm"), dev(false, 1, 5, "w"))
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_MKNOD")
		s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_MKNOD")
		s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_MKNOD")
	})
	out, stderr, code := e.runIn(b, nil, "run", cgID(t))
	t.Logf("exit %d\nstdout:\n%sstderr:\n%s", code, out, stderr)
	if !strings.HasPrefix(out, "3\n") {
		t.Errorf("/dev/zero was not readable")
	}
	if strings.Contains(out, "null-ok") || !strings.Contains(stderr, "/dev/null: Operation not permitted") {
		t.Errorf("writing /dev/null was not refused with EPERM")
	}
	if !strings.Contains(out, "full-opened") || !strings.Contains(stderr, "No space left on device") {
		t.Errorf("the allowed /dev/full could not be made and opened")
	}
	if !strings.Contains(out, "kmsg-denied") {
		t.Errorf("mknod of a device no rule allows worked")
	}
	if !strings.Contains(out, "zero-write-denied") {
		t.Errorf("a deny of w on /dev/zero did not apply")
	}
}

func TestCgroupPauseResume(t *testing.T) {
	e := newEnv(t)
	id := cgID(t)
	b := e.bundle([]string{"sh", "-c", "while :; do :; done"}, nil)
	e.must("run", "-d", "--bundle", b, id)
	time.Sleep(200 * time.Millisecond)
	e.must("pause", id)
	if st := e.state(id).Status; st != "paused" {
		t.Fatalf("after pause: %s", st)
	}
	u1 := cgCPU(t, id)
	time.Sleep(500 * time.Millisecond)
	if u2 := cgCPU(t, id); u2 != u1 {
		t.Fatalf("a paused container used %v of CPU", time.Duration(u2-u1))
	}
	e.must("resume", id)
	if st := e.state(id).Status; st != "running" {
		t.Fatalf("after resume: %s", st)
	}
	time.Sleep(500 * time.Millisecond)
	if u3 := cgCPU(t, id); u3-u1 < uint64(100*time.Millisecond) {
		t.Fatalf("a resumed container used only %v of CPU in 500ms", time.Duration(u3-u1))
	}
}

func TestCgroupUpdate(t *testing.T) {
	e := newEnv(t)
	id := cgID(t)
	// dd fills a 48MiB buffer, then blocks writing it into a pipe sleep never
	// reads, holding the memory.
	b := e.bundle([]string{"sh", "-c", "dd if=/dev/zero bs=50331648 count=1 | sleep 1000"}, func(s *specs.Spec) {
		withMemory(s, 64<<20)
	})
	e.must("run", "-d", "--bundle", b, id)
	limit := func() string { return cgRead(t, id, "memory", "memory.limit_in_bytes", "memory.max") }
	if got := limit(); got != strconv.Itoa(64<<20) {
		t.Fatalf("memory limit %s at create", got)
	}
	e.must("update", "--memory", "128m", id)
	if got := limit(); got != strconv.Itoa(128<<20) {
		t.Fatalf("memory limit %s after update --memory 128m", got)
	}
	saved := func() *specs.LinuxResources {
		data, err := os.ReadFile(filepath.Join(e.root, id, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Config specs.Spec }
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatal(err)
		}
		return st.Config.Linux.Resources
	}
	if r := saved(); r.Memory == nil || *r.Memory.Limit != 128<<20 || len(r.Devices) == 0 {
		t.Fatalf("saved resources after update: %+v", r)
	}

	// Below the current usage: refused, the old limit stays.
	deadline := time.Now().Add(cgSlow(10 * time.Second))
	for {
		n, _ := strconv.Atoi(cgRead(t, id, "memory", "memory.usage_in_bytes", "memory.current"))
		if n >= 40<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage %d never reached 40MiB", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, stderr, code := e.run("update", "--memory", "16m", id); code == 0 || !strings.Contains(stderr, "memory.limit") {
		t.Fatalf("update below usage: exit %d, %q", code, stderr)
	}
	if got := limit(); got != strconv.Itoa(128<<20) {
		t.Fatalf("memory limit %s after a refused update", got)
	}
	if r := saved(); *r.Memory.Limit != 128<<20 {
		t.Fatalf("a refused update was saved: %d", *r.Memory.Limit)
	}

	e.must("update", "--pids-limit", "50", "--cpu-quota", "20000", "--cpu-period", "100000", "--cpu-shares", "512", id)
	if got := cgRead(t, id, "pids", "pids.max", "pids.max"); got != "50" {
		t.Errorf("pids.max %s", got)
	}
	if cgV2() {
		if got := cgRead(t, id, "", "", "cpu.max"); got != "20000 100000" {
			t.Errorf("cpu.max %q", got)
		}
	} else if got := cgRead(t, id, "cpu", "cpu.cfs_quota_us", ""); got != "20000" {
		t.Errorf("cpu.cfs_quota_us %q", got)
	}
	if _, stderr, code := e.runIn("", []byte(`{"pids":{"limit":30}}`), "update", "--resources", "-", id); code != 0 {
		t.Fatalf("update --resources -: %s", stderr)
	}
	if got := cgRead(t, id, "pids", "pids.max", "pids.max"); got != "30" {
		t.Errorf("pids.max %s after --resources", got)
	}
	if r := saved(); *r.Pids.Limit != 30 || *r.CPU.Quota != 20000 || *r.Memory.Limit != 128<<20 {
		t.Errorf("saved resources: pids %d, quota %d, memory %d", *r.Pids.Limit, *r.CPU.Quota, *r.Memory.Limit)
	}
	for _, bad := range [][]string{
		{"--kernel-memory", "1m"}, {"--memory", "-5"}, {"--memory", "lots"}, {"--cpuset-cpus", "abc"},
		{"--l3-cache-schema", "L3:0=f"}, {"--pids-limit", "x"},
	} {
		_, stderr, code := e.run(append(append([]string{"update"}, bad...), id)...)
		if code == 0 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("update %v: exit %d, %q", bad, code, stderr)
		}
	}
	// Stats come from the same cgroup.
	var ev struct {
		Type string
		Data runtime.Stats
	}
	if err := json.Unmarshal([]byte(e.must("events", "--stats", id)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "stats" || ev.Data.Memory.Usage.Limit != 128<<20 || ev.Data.Memory.Usage.Usage < 40<<20 || ev.Data.Pids.Limit != 30 || ev.Data.Pids.Current < 2 {
		t.Errorf("events --stats: %+v", ev)
	}
}

func TestCgroupBadValues(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, field string
		edit        func(r *specs.LinuxResources)
	}{
		{"negative-memory", "linux.resources.memory.limit", func(r *specs.LinuxResources) {
			v := int64(-5)
			r.Memory = &specs.LinuxMemory{Limit: &v}
		}},
		{"cpuset", "linux.resources.cpu.cpus", func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Cpus: "abc"} }},
		{"device-type", "linux.resources.devices[1].type", func(r *specs.LinuxResources) {
			r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Type: "x", Access: "rwm"})
		}},
		{"unified-key", "linux.resources.unified.memory.bogus", func(r *specs.LinuxResources) {
			r.Unified = map[string]string{"memory.bogus": "1"}
		}},
	} {
		id := cgID(t) + "-" + tc.name
		b := e.bundle([]string{"true"}, func(s *specs.Spec) { tc.edit(s.Linux.Resources) })
		_, stderr, code := e.run("create", "--bundle", b, id)
		if code == 0 || !strings.Contains(stderr, tc.field) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: create exit %d, stderr %q; want one line naming %s", tc.name, code, stderr, tc.field)
		}
		if out := e.must("list", "-q"); out != "" {
			t.Errorf("%s: left %q", tc.name, out)
		}
		cgGone(t, id)
	}
}

func TestCgroupReadOnlyOwnView(t *testing.T) {
	e := newEnv(t)
	id := cgID(t)
	dir, file := "/sys/fs/cgroup/memory", "memory.limit_in_bytes"
	if cgV2() {
		dir, file = "/sys/fs/cgroup", "memory.max"
	}
	script := fmt.Sprintf(`cat /proc/self/cgroup
echo limit=$(cat %[1]s/%[2]s)
ls %[1]s | grep -qx %[2]s && echo listed
echo subdirs=$(find /sys/fs/cgroup -mindepth 1 -type d | grep -v '^/sys/fs/cgroup/[^/]*$' | wc -l)
echo own=$(find %[1]s -mindepth 1 -type d | wc -l)
mkdir %[1]s/x 2>/dev/null && echo mkdir-ok
echo 1 >%[1]s/cgroup.procs 2>/dev/null && echo write-ok
echo 10000000 >%[1]s/%[2]s 2>/dev/null && echo limit-write-ok
true`, dir, file)
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) { withMemory(s, 64<<20) })
	out, stderr, code := e.runIn(b, nil, "run", id)
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	t.Logf("inside:\n%s", out)
	for _, want := range []string{fmt.Sprintf("limit=%d\n", 64<<20), "listed\n", "own=0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if cgV2() && !strings.Contains(out, "subdirs=0\n") {
		t.Errorf("the container sees cgroups below its own")
	}
	for _, bad := range []string{"mkdir-ok", "write-ok", "limit-write-ok"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s: the container's /sys/fs/cgroup is writable", bad)
		}
	}
	// With a private cgroup namespace every hierarchy shows the container's
	// cgroup as its root.
	lines := regexp.MustCompile(`(?m)^[0-9]+:[^:]*:(.*)$`).FindAllStringSubmatch(out, -1)
	if len(lines) == 0 {
		t.Fatalf("no /proc/self/cgroup lines in %q", out)
	}
	for _, l := range lines {
		if l[1] != "/" {
			t.Errorf("/proc/self/cgroup inside: %q, want path /", l[0])
		}
	}
}

func TestCgroupPsKillAll(t *testing.T) {
	e := newEnv(t)
	id := cgID(t)
	b := e.bundle([]string{"sh", "-c", "sleep 1000 & sleep 1000 & exec sleep 1000"}, nil)
	e.must("run", "-d", "--bundle", b, id)
	deadline := time.Now().Add(cgSlow(5 * time.Second))
	// Three processes, and each of them sleep already: until the shell has
	// exec'd, its own command line ("sh -c sleep 1000 & ...") is in ps's table.
	allSleep := func() bool {
		procs := cgProcs(t, id)
		for _, pid := range procs {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(comm) != "sleep\n" {
				return false
			}
		}
		return len(procs) == 3
	}
	for !allSleep() {
		if time.Now().After(deadline) {
			t.Fatalf("cgroup.procs: %v", cgProcs(t, id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	var pids []int
	if err := json.Unmarshal([]byte(e.must("ps", "--format", "json", id)), &pids); err != nil {
		t.Fatal(err)
	}
	sort.Ints(pids)
	if want := cgProcs(t, id); fmt.Sprint(pids) != fmt.Sprint(want) {
		t.Fatalf("ps: %v, cgroup.procs %v", pids, want)
	}
	if _, err := exec.LookPath("ps"); err == nil {
		table := e.must("ps", id)
		if n := strings.Count(table, "sleep"); n != 3 {
			t.Errorf("ps table shows %d sleeps:\n%s", n, table)
		}
	}
	e.must("kill", "--all", id, "KILL")
	e.waitStatus(id, "stopped")
	if got := cgProcs(t, id); len(got) != 0 {
		t.Fatalf("processes left after kill --all: %v", got)
	}
	e.must("delete", id)
	cgGone(t, id)
}

// TestCgroupDeviceOrder: the last device rule for a device wins, as runtime-spec
// reads the list, even where the v1 controller cannot take the rules as written
// (a deny of part of what an earlier, broader rule allows); devices.list shows the
// allow-list the rules mean. The rules every container needs come right after the
// deny-all rule, so the spec's own rules after them decide.
func TestCgroupDeviceOrder(t *testing.T) {
	e := newEnv(t)
	dev := func(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
		if major != -1 {
			r.Major = &major
		}
		if minor != -1 {
			r.Minor = &minor
		}
		return r
	}
	script := `cat /sys/fs/cgroup/devices/devices.list 2>&- | sort
for t in "null-r:cat /dev/null" "null-w:echo x >/dev/null" "zero-w:echo x >/dev/zero"; do
  if (eval "${t#*:}") 2>&-; then echo "${t%%:*} ok"; else echo "${t%%:*} denied"; fi
done`
	defaults := []string{"c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm"}
	for i, c := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		list  []string // devices.list on a v1 host
		probe string
	}{{
		"deny after allow",
		[]specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rwm"), dev(false, "c", 1, 3, "w")},
		append([]string{"c 1:3 rm"}, defaults...),
		"null-r ok\nnull-w denied\nzero-w ok\n",
	}, {
		// v1 holds this only as allow-by-default with deny exceptions, which
		// devices.list does not show.
		"deny inside a wildcard allow",
		[]specs.LinuxDeviceCgroup{dev(true, "c", -1, -1, "rwm"), dev(false, "c", 1, 3, "w")},
		[]string{"a *:* rwm"},
		"null-r ok\nnull-w denied\nzero-w ok\n",
	}, {
		"wildcard deny after allows",
		[]specs.LinuxDeviceCgroup{dev(true, "c", -1, -1, "m"), dev(true, "b", -1, -1, "m"), dev(false, "c", -1, -1, "w")},
		[]string{"b *:* m", "c *:* m", "c 1:3 rm", "c 1:5 rm", "c 1:7 rm", "c 1:8 rm", "c 1:9 rm", "c 136:* rm", "c 5:0 rm", "c 5:1 rm", "c 5:2 rm"},
		"null-r ok\nnull-w denied\nzero-w denied\n",
	}} {
		b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, c.rules...)
		})
		out, stderr, code := e.runIn(b, nil, "run", cgID(t)+strconv.Itoa(i))
		if code != 0 {
			t.Errorf("%s: exit %d: %s", c.name, code, stderr)
			continue
		}
		want := c.probe
		if !cgV2() {
			sort.Strings(c.list) // as sort(1) does in the C locale
			want = strings.Join(c.list, "\n") + "\n" + want
		}
		if out != want {
			t.Errorf("%s: got\n%swant\n%s", c.name, out, want)
		}
	}
}
