package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
)

// TestManyConcurrentRuns: 200 `run -d` at once all succeed, each with its own
// name, monitor and cgroup; one `rm -f` naming the 200 removes them all, prints
// every name in argument order, and leaves no container, monitor, cgroup, mount
// or file of theirs; and one `rm` naming stopped containers and a name that does
// not exist removes the others, reports that one, and fails (docker's).
func TestManyConcurrentRuns(t *testing.T) {
	h := newHullEnv(t, "hull")
	const n = 200
	names := make([]string, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		names[i] = "many-" + strconv.Itoa(i)
		wg.Go(func() {
			out, stderr, code := h.run("run", "-d", "--network", "none", "--name", names[i], "busybox", "sleep", "1000")
			if code != 0 {
				t.Errorf("run %d: exit %d: %s", i, code, stderr)
			}
			ids[i] = strings.TrimSpace(out)
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if out := h.ok("ps", "-q"); len(strings.Fields(out)) != n {
		t.Errorf("ps -q lists %d running, want %d", len(strings.Fields(out)), n)
	}
	for i, id := range ids {
		if got := h.inspect(id, "{{.Name}} {{.State.Status}}"); got != "/"+names[i]+" running" {
			t.Errorf("%s: %q", names[i], got)
		}
		if dirs, _ := filepath.Glob("/sys/fs/cgroup/pids/hull-" + id); len(dirs) != 1 {
			t.Errorf("%s: no pids cgroup", names[i])
		}
	}
	// A monitor handing over to its resident form is mid-execve, when its
	// cmdline reads empty for a moment: count again until the handovers settle.
	mons := allMonitors(h.root)
	for deadline := time.Now().Add(5 * time.Second); len(mons) != n && time.Now().Before(deadline); mons = allMonitors(h.root) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(mons) != n {
		t.Errorf("%d monitors for %d containers", len(mons), n)
	}

	// Half stopped, then one rm of them with a name that does not exist among
	// them: the others go, that one is reported, exit 1.
	half := names[:n/2]
	h.ok(append([]string{"kill"}, half...)...)
	h.ok(append([]string{"wait"}, half...)...)
	args := append(append([]string{"rm"}, half[:10]...), "many-none")
	args = append(args, half[10:]...)
	out, stderr, code := h.run(args...)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "many-none") {
		t.Errorf("rm with a missing name: exit %d, stderr %q", code, stderr)
	}
	if want := strings.Join(half, "\n") + "\n"; out != want {
		t.Errorf("rm printed %q, want the names in order", out)
	}
	out = h.ok(append([]string{"rm", "-f"}, names[n/2:]...)...)
	if want := strings.Join(names[n/2:], "\n") + "\n"; out != want {
		t.Errorf("rm -f printed %q, want the names in order", out)
	}
	if out := h.ok("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("ps -aq after rm: %q", out)
	}
	var left []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		if mons := allMonitors(h.root); len(mons) > 0 {
			left = append(left, strconv.Itoa(len(mons))+" monitors")
		}
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		for _, id := range ids {
			if strings.Contains(string(mounts), id) {
				left = append(left, "mount of "+id[:12])
			}
			if dirs, _ := filepath.Glob("/sys/fs/cgroup/*/hull-" + id); len(dirs) > 0 {
				left = append(left, "cgroups of "+id[:12])
			}
			for _, d := range []string{filepath.Join(h.root, "containers", id), filepath.Join(h.root, "snapshots", id), filepath.Join(h.state, "containers", id)} {
				if _, err := os.Stat(d); err == nil {
					left = append(left, d)
				}
			}
		}
		if len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("left after rm: %v", left)
	}
}

// allMonitors lists root's monitors: `hull ... monitor` and, once they idle,
// their resident form `hull-monitor ...`.
func allMonitors(root string) []int {
	var pids []int
	for _, p := range testutil.Processes() {
		cmd := p.Cmdline() + " "
		if strings.Contains(cmd, root+" ") && (strings.Contains(cmd, " monitor ") || filepath.Base(p.Argv[0]) == "hull-monitor") {
			pids = append(pids, p.Pid)
		}
	}
	return pids
}
