package hullrt_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCreateWaitsForStart: after create the program has not run (it would leave a
// file in a host directory), its init is the pid file's process, and start runs it.
func TestCreateWaitsForStart(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	b := e.bundle([]string{"sh", "-c", "echo ran > /out/ran; exec sleep 100"}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount(out, "/out"))
	})
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("create", "--bundle", b, "--pid-file", pidFile, cid("w1"))
	st := e.state(cid("w1"))
	data, _ := os.ReadFile(pidFile)
	if strconv.Itoa(st.Pid) != string(data) || !pidAlive(st.Pid) {
		t.Fatalf("pid file %q, state pid %d", data, st.Pid)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(out, "ran")); err == nil {
		t.Fatal("the program ran before start")
	}
	if st.Status != "created" {
		t.Errorf("status %s after create", st.Status)
	}
	e.must("start", cid("w1"))
	if got := waitFile(t, filepath.Join(out, "ran")); got != "ran\n" {
		t.Errorf("program output %q", got)
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cmdline")
	if string(cmdline) != "sleep\x00100\x00" {
		t.Errorf("the pid file's process runs %q, not the program", cmdline)
	}
}

// TestStatusSurvivesPidReuse: a recorded start time that does not match the live
// process's means the init is gone, whatever runs under its pid now.
func TestStatusSurvivesPidReuse(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	pid := e.startDetached(b, cid("r1"))
	if st := e.state(cid("r1")); st.Status != "running" {
		t.Fatalf("status %s", st.Status)
	}
	p := filepath.Join(e.root, cid("r1"), "state.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	raw["init_process_start"] = 12345
	data, _ = json.Marshal(raw)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if st := e.state(cid("r1")); st.Status != "stopped" || st.Pid != 0 {
		t.Errorf("with a wrong start time: %+v", st)
	}
	if _, _, code := e.run("kill", cid("r1"), "KILL"); code == 0 {
		t.Errorf("kill reached a process whose start time does not match")
	}
	if !pidAlive(pid) {
		t.Errorf("the real process (pid %d) was killed", pid)
	}
	// delete --force still removes the cgroup and everything in it
	e.must("delete", "--force", cid("r1"))
	hostCgroupGone(t, cid("r1"))
	for i := 0; i < 100 && pidAlive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if pidAlive(pid) {
		t.Errorf("pid %d survived delete --force", pid)
	}
}

// TestConcurrentCreate: ten creates of one ID at once, exactly one wins.
func TestConcurrentCreate(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	var wg sync.WaitGroup
	codes := make([]int, 10)
	stderrs := make([]string, 10)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd, _, errb := e.cmd("create", "--bundle", b, cid("same"))
			err := cmd.Run()
			codes[i] = cmd.ProcessState.ExitCode()
			if err != nil && cmd.ProcessState == nil {
				codes[i] = -1
			}
			stderrs[i] = errb()
		}(i)
	}
	wg.Wait()
	ok := 0
	for i, c := range codes {
		if c == 0 {
			ok++
		} else if c != 1 || len(lines(stderrs[i])) != 1 {
			t.Errorf("a losing create: exit %d, %q", c, stderrs[i])
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want 1 (%v)", ok, stderrs)
	}
	if st := e.state(cid("same")); st.Status != "created" || !pidAlive(st.Pid) {
		t.Errorf("the winner: %+v", st)
	}
	var pids []int
	json.Unmarshal([]byte(e.must("ps", "--format", "json", cid("same"))), &pids)
	if len(pids) != 1 {
		t.Errorf("the cgroup holds %v, want the one init", pids)
	}
}

// TestDamagedState: a truncated state.json shows in list and goes with delete --force,
// with its process and cgroup.
func TestDamagedState(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	pid := e.startDetached(b, cid("dmg"))
	e.startDetached(b, cid("good"))
	p := filepath.Join(e.root, cid("dmg"), "state.json")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, data[:len(data)/2], 0o600)
	out := e.must("list")
	if !strings.Contains(out, cid("dmg")) || !strings.Contains(out, cid("good")) {
		t.Errorf("list:\n%s", out)
	}
	if _, stderr, code := e.run("state", cid("dmg")); code != 1 || len(lines(stderr)) != 1 {
		t.Errorf("state of a damaged record: exit %d, %q", code, stderr)
	}
	os.WriteFile(p, []byte("not json at all"), 0o600)
	if _, stderr, code := e.run("list", "--format", "json"); code != 0 {
		t.Errorf("list --format json: %s", stderr)
	}
	e.must("delete", "--force", cid("dmg"))
	if _, err := os.Stat(filepath.Join(e.root, cid("dmg"))); err == nil {
		t.Errorf("delete --force left the record")
	}
	hostCgroupGone(t, cid("dmg"))
	for i := 0; i < 100 && pidAlive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if pidAlive(pid) {
		t.Errorf("the damaged container's process %d survived delete --force", pid)
	}
	if st := e.state(cid("good")); st.Status != "running" {
		t.Errorf("the other container: %s", st.Status)
	}
}

// TestList checks list's table and JSON.
func TestList(t *testing.T) {
	e := newEnv(t)
	if out := e.must("list", "--format", "json"); strings.TrimSpace(out) != "[]" && strings.TrimSpace(out) != "null" {
		t.Errorf("empty list json %q", out)
	}
	b := e.bundle([]string{"sleep", "100"}, nil)
	e.must("create", "--bundle", b, cid("l1"))
	pid2 := e.startDetached(b, cid("l2"))
	var states []runtime.OCIState
	if err := json.Unmarshal([]byte(e.must("list", "--format", "json")), &states); err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].ID != cid("l1") || states[0].Status != "created" || states[1].ID != cid("l2") ||
		states[1].Status != "running" || states[1].Pid != pid2 || states[1].Bundle != b {
		t.Errorf("list json: %+v", states)
	}
	l := lines(e.must("list"))
	if len(l) != 3 || strings.Join(strings.Fields(l[0]), " ") != "ID PID STATUS BUNDLE CREATED OWNER" {
		t.Fatalf("list table:\n%s", strings.Join(l, "\n"))
	}
	f := strings.Fields(l[2])
	if f[0] != cid("l2") || f[1] != strconv.Itoa(pid2) || f[2] != "running" || f[3] != b {
		t.Errorf("list row %q", l[2])
	}
	if q := e.must("list", "-q"); q != cid("l1")+"\n"+cid("l2")+"\n" {
		t.Errorf("list -q %q", q)
	}
}

// TestKillSignals sends SIGTERM by number and by name; the program's trap shows
// which signal arrived.
func TestKillSignals(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	for i, sig := range []string{"15", "TERM", "SIGTERM", "sigterm", "10", "USR1"} {
		id := cid("k" + strconv.Itoa(i))
		b := e.bundle([]string{"sh", "-c", "trap 'echo TERM > /out/" + id + "; exit 0' TERM; trap 'echo USR1 > /out/" + id + "; exit 0' USR1; echo > /out/" + id + ".up; while :; do sleep 0.05; done"}, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, bindMount(out, "/out"))
		})
		e.startDetached(b, id)
		for j := 0; j < 200; j++ {
			if _, err := os.Stat(filepath.Join(out, id+".up")); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		e.must("kill", id, sig)
		want := "TERM\n"
		if sig == "10" || sig == "USR1" {
			want = "USR1\n"
		}
		if got := waitFile(t, filepath.Join(out, id)); got != want {
			t.Errorf("kill %s: the program got %q", sig, got)
		}
		e.waitStatus(id, "stopped")
	}
	if _, stderr, code := e.run("kill", cid("k0"), "NOSUCHSIG"); code != 1 || len(lines(stderr)) != 1 {
		t.Errorf("a bad signal name: exit %d, %q", code, stderr)
	}
}

// TestKillAll: in a container that shares the host's pid namespace, killing init
// leaves its children; kill --all reaches every process of the cgroup.
func TestKillAll(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", "sleep 100 & sleep 100 & wait"}, func(s *specs.Spec) {
		dropNamespace(s, specs.PIDNamespace)
	})
	pid := e.startDetached(b, cid("ka"))
	var pids []int
	for i := 0; i < 100; i++ {
		pids = nil
		json.Unmarshal([]byte(e.must("ps", "--format", "json", cid("ka"))), &pids)
		if len(pids) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(pids) != 3 {
		t.Fatalf("ps: %v, want init and two sleeps", pids)
	}
	found := false
	for _, p := range pids {
		found = found || p == pid
	}
	if !found {
		t.Errorf("ps %v lacks init %d", pids, pid)
	}
	e.must("kill", cid("ka"), "KILL")
	e.waitStatus(cid("ka"), "stopped")
	var left []int
	for _, p := range pids {
		if p != pid && pidAlive(p) {
			left = append(left, p)
		}
	}
	if len(left) != 2 {
		t.Fatalf("after killing init alone, %v still run (want the two sleeps)", left)
	}
	e.must("kill", "--all", cid("ka"), "KILL")
	for i := 0; i < 100; i++ {
		if !pidAlive(left[0]) && !pidAlive(left[1]) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range left {
		if pidAlive(p) {
			t.Errorf("pid %d survived kill --all", p)
		}
	}
	e.must("delete", cid("ka"))
	hostCgroupGone(t, cid("ka"))
	if _, err := os.Stat(filepath.Join(e.root, cid("ka"))); err == nil {
		t.Errorf("delete left the state directory")
	}
}

// TestDamagedStateCgroupsPath: a container with its own linux.cgroupsPath (as
// podman, containerd and hull's engine give one), whose state.json is truncated or
// overwritten with garbage, is listed, and delete --force removes every process of
// it (init and its children alike: no pid namespace here), its cgroup on every
// hierarchy and its state, as for a healthy one.
func TestDamagedStateCgroupsPath(t *testing.T) {
	for _, damage := range []struct {
		name string
		do   func(data []byte) []byte
	}{
		{"truncated", func(data []byte) []byte { return data[:len(data)/2] }},
		{"garbage", func([]byte) []byte { return []byte("\x00\x01 not a state record {{{") }},
		{"empty", func([]byte) []byte { return nil }},
		{"removed", nil}, // as when create was killed before it wrote the record
	} {
		t.Run(damage.name, func(t *testing.T) {
			e := newEnv(t)
			id := cid("dcp-" + damage.name)
			cgName := "hulldmg-" + id
			b := e.bundle([]string{"sh", "-c", "sleep 1000 & sleep 1000 & wait"}, func(s *specs.Spec) {
				dropNamespace(s, specs.PIDNamespace)
				s.Linux.CgroupsPath = "/" + cgName
			})
			// Whatever a failed delete leaves goes when the test ends.
			t.Cleanup(func() {
				for _, d := range cgroupDirsNamed(t, cgName) {
					data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
					for _, f := range strings.Fields(string(data)) {
						if pid, err := strconv.Atoi(f); err == nil {
							syscall.Kill(pid, syscall.SIGKILL)
						}
					}
				}
				for _, d := range cgroupDirsNamed(t, cgName) {
					for i := 0; i < 100 && os.Remove(d) != nil; i++ {
						time.Sleep(20 * time.Millisecond)
					}
				}
			})
			e.startDetached(b, id)
			var pids []int
			for i := 0; i < 200 && len(pids) < 3; i++ {
				pids = nil
				json.Unmarshal([]byte(e.must("ps", "--format", "json", id)), &pids)
				time.Sleep(10 * time.Millisecond)
			}
			if len(pids) != 3 {
				t.Fatalf("ps %v: want init and two sleeps", pids)
			}
			if dirs := cgroupDirsNamed(t, cgName); len(dirs) == 0 {
				t.Fatalf("no cgroup named %s", cgName)
			}
			p := filepath.Join(e.root, id, "state.json")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if damage.do == nil {
				err = os.Remove(p)
			} else {
				err = os.WriteFile(p, damage.do(data), 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}

			out, stderr, code := e.run("list")
			if code != 0 || !strings.Contains(out, id) || !strings.Contains(stderr, "container "+id+": state is damaged") {
				t.Errorf("list: exit %d, %q, %q", code, out, stderr)
			}
			if _, stderr, code := e.run("state", id); code != 1 || len(lines(stderr)) != 1 || !strings.Contains(stderr, "damaged") {
				t.Errorf("state: exit %d, %q", code, stderr)
			}
			if _, stderr, code := e.run("delete", id); code != 1 || !strings.Contains(stderr, "not stopped: running") {
				t.Errorf("delete without --force of a running container: exit %d, %q", code, stderr)
			}
			if _, stderr, code := e.run("delete", "--force", id); code != 0 {
				t.Fatalf("delete --force: exit %d: %s", code, stderr)
			}
			for i := 0; i < 100; i++ {
				alive := false
				for _, pid := range pids {
					alive = alive || pidAlive(pid)
				}
				if !alive {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, pid := range pids {
				if pidAlive(pid) {
					t.Errorf("process %d survived delete --force", pid)
				}
			}
			if dirs := cgroupDirsNamed(t, cgName); len(dirs) > 0 {
				t.Errorf("cgroups left: %v", dirs)
			}
			if ents, _ := os.ReadDir(e.root); len(ents) > 0 {
				t.Errorf("state root holds %v", ents)
			}
			mi, _ := os.ReadFile("/proc/self/mountinfo")
			for _, l := range lines(string(mi)) {
				if strings.Contains(l, e.root) || strings.Contains(l, b) || strings.Contains(l, cgName) {
					t.Errorf("mount left: %s", l)
				}
			}
		})
	}
}

// cgroupDirsNamed lists the cgroup directories named name on every hierarchy.
func cgroupDirsNamed(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == name {
			out = append(out, p)
			return filepath.SkipDir
		}
		// The containers' cgroups sit right below a hierarchy's root here.
		if strings.Count(strings.TrimPrefix(p, "/sys/fs/cgroup"), "/") >= 2 {
			return filepath.SkipDir
		}
		return nil
	})
	return out
}
