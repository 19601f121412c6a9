package hullrt_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestBadInput: every bad bundle or flag makes create exit 1 with one line on
// stderr starting "hullrt: ", no panic, and nothing left: no state, no cgroup, no
// mount, no process (the package's leak check covers the last two).
func TestBadInput(t *testing.T) {
	edit := func(f func(*specs.Spec)) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			s := defaultTestSpec()
			f(s)
			writeSpec(t, dir, s)
		}
	}
	raw := func(f func(string) string) func(*testing.T, string) {
		return func(t *testing.T, dir string) {
			data, _ := json.Marshal(defaultTestSpec())
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(f(string(data))), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	sock, _ := consoleSocket(t)
	cases := []struct {
		name  string
		id    string
		flags []string
		setup func(*testing.T, string)
	}{
		{"malformed json", "", nil, raw(func(string) string { return "{not json" })},
		{"truncated json", "", nil, raw(func(s string) string { return s[:len(s)/2] })},
		{"empty config", "", nil, raw(func(string) string { return "" })},
		{"args empty", "", nil, edit(func(s *specs.Spec) { s.Process.Args = nil })},
		{"relative mount destination", "", nil, edit(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "mnt", Type: "tmpfs", Source: "tmpfs"})
		})},
		{"non-namespaced sysctl", "", nil, edit(func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "10"} })},
		{"sysctl value with newline", "", nil, edit(func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1\nkernel.panic=1"} })},
		{"uid 4294967295", "", nil, edit(func(s *specs.Spec) { s.Process.User.UID = 4294967295 })},
		{"uid -1", "", nil, raw(func(s string) string { return strings.Replace(s, `"uid":0`, `"uid":-1`, 1) })},
		{"duplicate namespace", "", nil, edit(func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		})},
		{"missing rootfs", "", nil, edit(func(s *specs.Spec) { s.Root.Path = "/nonexistent/rootfs" })},
		{"unknown rlimit", "", nil, edit(func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOPE", Soft: 1, Hard: 1}} })},
		{"console socket without terminal", "", []string{"--console-socket", sock}, edit(func(s *specs.Spec) {})},
		{"terminal without console socket", "", nil, edit(func(s *specs.Spec) { s.Process.Terminal = true })},
		{"id with slash", "a/b", nil, edit(func(s *specs.Spec) {})},
		{"id dotdot", "..", nil, edit(func(s *specs.Spec) {})},
		{"id empty", "-", nil, edit(func(s *specs.Spec) {})},
		// failures found late, inside init: everything made so far must go
		{"program not found", "", nil, edit(func(s *specs.Spec) { s.Process.Args = []string{"/no/such/program"} })},
		{"cwd missing", "", nil, edit(func(s *specs.Spec) { s.Process.Cwd = "/no/such/dir" })},
		{"bind source missing", "", nil, edit(func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount("/no/such/source", "/mnt")) })},
		{"hook fails", "", nil, edit(func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo one; echo two; exit 3"}}}}
		})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			dir := t.TempDir()
			c.setup(t, dir)
			id := c.id
			switch id {
			case "":
				id = cid("bad")
			case "-":
				id = ""
			}
			args := append([]string{"create", "--bundle", dir}, c.flags...)
			_, stderr, code := e.run(append(args, id)...)
			checkOneError(t, code, stderr)
			e.checkNothingLeft(id)
		})
	}
	t.Run("duplicate id", func(t *testing.T) {
		e := newEnv(t)
		dir := t.TempDir()
		writeSpec(t, dir, defaultTestSpec())
		id := cid("dup")
		e.must("create", "--bundle", dir, id)
		pid := e.state(id).Pid
		_, stderr, code := e.run("create", "--bundle", dir, id)
		checkOneError(t, code, stderr)
		if st := e.state(id); st.Status != "created" || st.Pid != pid {
			t.Errorf("the first container changed: %+v", st)
		}
		e.must("delete", id)
		e.checkNothingLeft(id)
	})
}

// defaultTestSpec is the spec of e.bundle, running true.
func defaultTestSpec() *specs.Spec {
	s := runtimeDefaultSpec()
	s.Root.Path = sharedRootfs
	s.Process.Terminal = false
	s.Process.Args = []string{"true"}
	return s
}

// checkOneError fails unless hullrt exited 1 with exactly one "hullrt: " line.
func checkOneError(t *testing.T, code int, stderr string) {
	t.Helper()
	l := lines(stderr)
	if code != 1 || len(l) != 1 || !strings.HasPrefix(l[0], "hullrt: ") || strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
		t.Errorf("exit %d, stderr %q: want exit 1 and one line \"hullrt: ...\"", code, stderr)
	}
}
