package hullrt_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestRunDeleteAfterInit: `hullrt run` deletes its container once it has reaped
// init. With a pid namespace of its own nothing the container started can be
// left (the kernel lets a namespace's init finish exiting only after the rest),
// so the delete kills nobody and does not freeze the empty cgroup for that (the
// trace says which); a process put into the container's cgroup from outside,
// and one left by a container that shares the host's pid namespace, are still
// killed, and the cgroup goes.
func TestRunDeleteAfterInit(t *testing.T) {
	e := newEnv(t)

	tf := filepath.Join(t.TempDir(), "trace.jsonl")
	e.must("--trace", tf, "run", "--bundle", e.bundle([]string{"true"}, nil), cid("da"))
	kills := 0
	for _, r := range readTrace(t, tf) {
		if r.Proc == "delete" && r.Op == "kill" {
			kills++
			if d := fmt.Sprint(r.Args["detail"]); !strings.HasPrefix(d, "none: ") {
				t.Errorf("delete of an empty container after init was reaped: kill step %q, want none", d)
			}
		}
	}
	if kills != 1 {
		t.Errorf("%d kill steps in the delete, want 1", kills)
	}

	// The host's pid namespace: a background child outlives init.
	b := e.bundle([]string{"sh", "-c", "sleep 100 & echo $!"}, func(s *specs.Spec) { dropNamespace(s, specs.PIDNamespace) })
	out := e.must("run", "--bundle", b, cid("db"))
	if pid, err := strconv.Atoi(strings.TrimSpace(out)); err != nil {
		t.Errorf("the container printed %q, want the sleep's pid", out)
	} else if waitGone(pid) {
		t.Errorf("sleep %d of a container without a pid namespace survived run's delete", pid)
	}

	// A host process moved into the cgroup of a container with its own pid
	// namespace while it runs; the container exits when its stdin closes.
	id := cid("dc")
	cmd := exec.Command(hullrtBin, "--root", e.root, "run", "--bundle", e.bundle([]string{"sh", "-c", "read x; exit 0"}, nil), id)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var st struct {
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	for i := 0; i < 500 && st.Status != "running"; i++ {
		time.Sleep(10 * time.Millisecond)
		if out, _, code := e.run("state", id); code == 0 {
			json.Unmarshal([]byte(out), &st)
		}
	}
	if st.Status != "running" {
		t.Fatalf("container %s never ran: %+v", id, st)
	}
	host := exec.Command("sleep", "100")
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, l := range lines(string(data)) {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		dir := strings.TrimPrefix(f[1], "name=")
		if dir == "" {
			if _, err := os.Stat("/sys/fs/cgroup/unified"); err == nil {
				dir = "unified"
			}
		}
		p := filepath.Join("/sys/fs/cgroup", dir, f[2], "cgroup.procs")
		if err := os.WriteFile(p, []byte(strconv.Itoa(host.Process.Pid)), 0); err == nil {
			moved++
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("move the host's sleep into %s: %v", p, err)
		}
	}
	if moved == 0 {
		t.Fatalf("the host's sleep went into none of init's cgroups:\n%s", data)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hullrt run: %v", err)
	}
	host.Wait()
	if ws, ok := host.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the host's sleep in the container's cgroup: %v, want killed by SIGKILL", host.ProcessState)
	}
	for _, l := range lines(string(data)) {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && strings.Contains(f[2], id) {
			dir := strings.TrimPrefix(f[1], "name=")
			if dir == "" {
				dir = "unified"
			}
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", dir, f[2])); err == nil {
				t.Errorf("cgroup %s:%s left", f[1], f[2])
			}
		}
	}
}

// waitGone waits up to 2 s for pid to be gone; it reports whether it still runs.
func waitGone(pid int) bool {
	for i := 0; i < 200 && pidAlive(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return pidAlive(pid)
}
