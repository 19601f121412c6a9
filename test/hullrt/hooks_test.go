package hullrt_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestHooks runs a hook of every kind; each writes the state it got on stdin, and
// its mount namespace, to a file. The runtime-spec says which namespaces each runs
// in: prestart, createRuntime, poststart and poststop in the runtime's,
// createContainer and startContainer in the container's.
func TestHooks(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	os.Chmod(out, 0o777)
	hook := func(kind, dir string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + dir + "/" + kind + ".json; readlink /proc/self/ns/mnt > " + dir + "/" + kind + ".ns"}}
	}
	b := e.bundle([]string{"sh", "-c", "echo ran > /out/program-ran; sleep 100"}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount(out, "/out"))
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart", out)},
			CreateRuntime:   []specs.Hook{hook("createRuntime", out)},
			CreateContainer: []specs.Hook{hook("createContainer", out)},
			// runs after pivot_root: paths are the container's
			StartContainer: []specs.Hook{hook("startContainer", "/out")},
			Poststart:      []specs.Hook{hook("poststart", out)},
			Poststop:       []specs.Hook{hook("poststop", out)},
		}
	})
	e.must("create", "--bundle", b, cid("h1"))
	pid := e.state(cid("h1")).Pid
	hostMnt := nsLink(t, strconv.Itoa(os.Getpid()), "mnt")
	ctrMnt := nsLink(t, strconv.Itoa(pid), "mnt")
	check := func(kind, status, mnt string) {
		t.Helper()
		data := waitFile(t, filepath.Join(out, kind+".json"))
		var st specs.State
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			t.Errorf("%s hook got %q: %v", kind, data, err)
			return
		}
		if st.ID != cid("h1") || st.Pid != pid || string(st.Status) != status || st.Bundle != b || st.Version == "" {
			t.Errorf("%s hook got %+v, want id h1, pid %d, status %s, bundle %s", kind, st, pid, status, b)
		}
		ns, _ := os.ReadFile(filepath.Join(out, kind+".ns"))
		if got := strings.TrimSpace(string(ns)); got != mnt {
			t.Errorf("%s hook ran in mount namespace %s, want %s", kind, got, mnt)
		}
	}
	check("prestart", "creating", hostMnt)
	check("createRuntime", "creating", hostMnt)
	check("createContainer", "creating", ctrMnt)
	for _, k := range []string{"startContainer", "poststart", "program-ran"} {
		if _, err := os.Stat(filepath.Join(out, k+".json")); err == nil {
			t.Errorf("%s ran before start", k)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "program-ran")); err == nil {
		t.Errorf("the program ran before start")
	}
	e.must("start", cid("h1"))
	check("startContainer", "created", ctrMnt)
	check("poststart", "running", hostMnt)
	waitFile(t, filepath.Join(out, "program-ran"))
	if _, err := os.Stat(filepath.Join(out, "poststop.json")); err == nil {
		t.Errorf("poststop ran before delete")
	}
	e.must("delete", "--force", cid("h1"))
	check("poststop", "stopped", hostMnt)
}

// TestHookTimeout: a hook that outlives its timeout fails create, promptly, and
// leaves nothing behind.
func TestHookTimeout(t *testing.T) {
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			one := 1
			b := e.bundle([]string{"true"}, func(s *specs.Spec) {
				h := []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &one}}
				s.Hooks = &specs.Hooks{}
				switch kind {
				case "prestart":
					s.Hooks.Prestart = h
				case "createRuntime":
					s.Hooks.CreateRuntime = h
				case "createContainer":
					s.Hooks.CreateContainer = h
				}
			})
			start := time.Now()
			_, stderr, code := e.run("create", "--bundle", b, cid("ht"))
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("create took %v with a 1 s hook timeout", d)
			}
			if code != 1 || len(lines(stderr)) != 1 || !strings.Contains(stderr, "timed out") {
				t.Errorf("create: exit %d, stderr %q", code, stderr)
			}
			e.checkNothingLeft(cid("ht"))
		})
	}
}

// TestPoststartAfterExec: poststart hooks run once the program runs -- after the
// startContainer hooks and execve, not when init passes the exec fifo. A slow
// startContainer hook holds init between the two; the poststart hook reads what
// the state's pid runs, and gets status running.
func TestPoststartAfterExec(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	b := e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			StartContainer: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "1"}}},
			Poststart: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
				"cat > " + out + "/state.json; pid=$(grep -o '\"pid\":[0-9]*' " + out + "/state.json | cut -d: -f2); " +
					// cmdline reads empty for a moment in execve, after the exec
					// fifo's write end closed and before the new arguments are set.
					"for i in 1 2 3 4 5; do tr '\\0' ' ' < /proc/$pid/cmdline > " + out + "/cmdline; " +
					"[ -s " + out + "/cmdline ] && break; sleep 0.1; done"}}},
		}
	})
	id := cid("post-exec")
	e.must("create", "--bundle", b, id)
	pid := e.state(id).Pid
	e.must("start", id)
	var st specs.State
	if err := json.Unmarshal([]byte(waitFile(t, filepath.Join(out, "state.json"))), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != specs.StateRunning || st.Pid != pid {
		t.Errorf("poststart hook got status %q pid %d, want running and %d", st.Status, st.Pid, pid)
	}
	if got := waitFile(t, filepath.Join(out, "cmdline")); got != "sleep 100 " {
		t.Errorf("when the poststart hook ran, the container's pid ran %q, not the program", got)
	}
}

// TestPoststartFailure: a failing poststart hook is a warning in the log; the hooks
// after it run, start exits 0, and the container keeps running.
func TestPoststartFailure(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	b := e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{
			{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook broke >&2; exit 3"}},
			{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran > " + out + "/second"}},
		}}
	})
	id := cid("post-fail")
	e.must("create", "--bundle", b, id)
	log := filepath.Join(t.TempDir(), "log.json")
	if _, stderr, code := e.run("--log", log, "--log-format", "json", "start", id); code != 0 {
		t.Fatalf("start: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "second")); err != nil {
		t.Errorf("the poststart hook after the failing one did not run: %v", err)
	}
	if st := e.state(id); st.Status != "running" {
		t.Errorf("after a failing poststart hook the container is %s", st.Status)
	}
	data, _ := os.ReadFile(log)
	found := false
	for _, l := range lines(string(data)) {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["level"] == "warning" {
			msg, _ := m["msg"].(string)
			found = found || strings.Contains(msg, "poststart hook #0 (/bin/sh): exit status 3: hook broke")
		}
	}
	if !found {
		t.Errorf("no warning for the failing hook in the log:\n%s", data)
	}
}

// TestPoststopFailure: a failing poststop hook is a warning (on stderr, without
// --log); the hooks after it run, and delete succeeds and leaves nothing.
func TestPoststopFailure(t *testing.T) {
	e := newEnv(t)
	out := t.TempDir()
	b := e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{
			{Path: "/bin/false"},
			{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran > " + out + "/second"}},
		}}
	})
	id := cid("stop-fail")
	e.startDetached(b, id)
	_, stderr, code := e.run("delete", "--force", id)
	if code != 0 || !strings.Contains(stderr, "level=warning") || !strings.Contains(stderr, "poststop hook #0 (/bin/false): exit status 1") {
		t.Errorf("delete: exit %d, stderr %q; want 0 and a warning", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "second")); err != nil {
		t.Errorf("the poststop hook after the failing one did not run: %v", err)
	}
	e.checkNothingLeft(id)
}
