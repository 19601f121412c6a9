package hullrt_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// raw runs hullrt without the test's --root.
func raw(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(hullrtBin, args...)
	cmd.Dir = dir
	// files, not pipes: a created container keeps hullrt's stdio open
	outf, errf := tempFile(t), tempFile(t)
	cmd.Stdout, cmd.Stderr = outf, errf
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(outf.Name())
	errb, _ := os.ReadFile(errf.Name())
	return string(out), string(errb), code
}

// TestFlagForms: -flag and --flag, --flag=v and --flag v, before and after the
// command name, as runc takes them.
func TestFlagForms(t *testing.T) {
	testRoot := t.TempDir()
	e := &env{t: t, root: testRoot}
	t.Cleanup(func() {
		for _, id := range strings.Fields(e.must("list", "-q")) {
			e.run("delete", "--force", id)
		}
	})
	b := e.bundle([]string{"sleep", "100"}, nil)
	forms := [][]string{
		{"-root", testRoot, "create", "-bundle", b, cid("f1")},
		{"--root", testRoot, "create", "--bundle", b, cid("f2")},
		{"--root=" + testRoot, "create", "--bundle=" + b, cid("f3")},
		{"-root=" + testRoot, "create", "-b", b, cid("f4")},
	}
	for _, f := range forms {
		if _, stderr, code := raw(t, "", f...); code != 0 {
			t.Errorf("hullrt %v: exit %d: %s", f, code, stderr)
		}
	}
	out, _, _ := raw(t, "", "--root", testRoot, "list", "-q")
	if want := cid("f1") + "\n" + cid("f2") + "\n" + cid("f3") + "\n" + cid("f4") + "\n"; out != want {
		t.Errorf("list: %q, want %q", out, want)
	}
	for _, f := range [][]string{{"--root", testRoot, "delete", "--force", cid("f1")}, {"-root=" + testRoot, "delete", "-force", cid("f2")},
		{"--root=" + testRoot, "delete", "--force=true", cid("f3")}, {"-root", testRoot, "delete", "-f", cid("f4")}} {
		if _, stderr, code := raw(t, "", f...); code != 0 {
			t.Errorf("hullrt %v: exit %d: %s", f, code, stderr)
		}
	}
	if _, stderr, code := raw(t, "", "--no-such-flag", "list"); code != 1 || len(lines(stderr)) != 1 {
		t.Errorf("unknown flag: exit %d, %q", code, stderr)
	}
	if _, stderr, code := raw(t, "", "--root", testRoot, "list", "--no-such-flag"); code != 1 || len(lines(stderr)) != 1 || !strings.HasPrefix(stderr, "hullrt: ") {
		t.Errorf("unknown command flag: exit %d, %q", code, stderr)
	}
}

// TestVersion prints three lines like runc's.
func TestVersion(t *testing.T) {
	for _, f := range []string{"--version", "-v", "-version"} {
		out, _, code := raw(t, "", f)
		l := lines(out)
		if code != 0 || len(l) != 3 || !strings.HasPrefix(l[0], "hullrt version ") || !strings.HasPrefix(l[1], "commit: ") || l[2] != "spec: "+specs.Version {
			t.Errorf("%s: exit %d, %q", f, code, out)
		}
	}
}

// TestInitAllocations: no initialiser of hull's own packages allocates 8 KiB or
// more at start-up (GODEBUG=inittrace=1 prints each package's bytes, a count the
// runtime makes exactly). Every hullrt process, `hullrt run` included, pays for
// what they build: the seccomp syscall tables (57 KB), regexps of validation
// code (10-15 KB each package) were built at init and are now built on first use.
func TestInitAllocations(t *testing.T) {
	cmd := exec.Command(hullrtBin, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hullrt --version: %v: %s", err, out)
	}
	seen := 0
	for _, l := range lines(string(out)) {
		// init github.com/hullproject/hull/runtime/seccomp @0.47 ms, 0.001 ms clock, 416 bytes, 6 allocs
		f := strings.Fields(l)
		if len(f) < 10 || f[0] != "init" || (f[1] != "main" && !strings.HasPrefix(f[1], "github.com/hullproject/")) {
			continue
		}
		seen++
		if n, err := strconv.Atoi(f[7]); err != nil || f[8] != "bytes," {
			t.Errorf("unexpected inittrace line %q", l)
		} else if n >= 8<<10 {
			t.Errorf("%s allocates %d bytes at init: build it on first use", f[1], n)
		}
	}
	if seen < 3 {
		t.Fatalf("inittrace lists %d of hull's packages:\n%s", seen, out)
	}
}

// TestLogJSON: --log with --log-format json writes JSON lines; a failure is logged
// with "level":"error" in lower case.
func TestLogJSON(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log.json")
	_, _, code := raw(t, "", "--root", t.TempDir(), "--log", log, "--log-format", "json", "state", "nonexistent")
	if code != 1 {
		t.Fatalf("state of a missing container: exit %d", code)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range lines(string(data)) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("log line %q: %v", l, err)
			continue
		}
		if m["level"] == "error" && strings.Contains(m["msg"].(string), "nonexistent") && m["time"] != nil {
			found = true
		}
	}
	if !found || !strings.Contains(string(data), `"level":"error"`) {
		t.Errorf("no error line in the log:\n%s", data)
	}
}

// TestFeatures prints the runtime-spec features document.
func TestFeatures(t *testing.T) {
	out, stderr, code := raw(t, "", "features")
	var f features.Features
	if code != 0 || json.Unmarshal([]byte(out), &f) != nil {
		t.Fatalf("features: exit %d, %q %s", code, out, stderr)
	}
	if f.OCIVersionMin == "" || f.OCIVersionMax != specs.Version || f.Linux == nil || len(f.Linux.Namespaces) != 8 || len(f.Hooks) != 6 {
		t.Errorf("features: %+v", f)
	}
	if !strings.Contains(out, `"ociVersionMin"`) || !strings.Contains(out, `"ociVersionMax"`) {
		t.Errorf("features lacks the version fields: %s", out)
	}
	// hullrt compiles seccomp profiles itself; runc's features say the same of
	// its libseccomp, and callers read the lists as what a profile may use.
	if s := f.Linux.Seccomp; s == nil || s.Enabled == nil || !*s.Enabled || !slices.Contains(s.Actions, "SCMP_ACT_ERRNO") ||
		!slices.Contains(s.Operators, "SCMP_CMP_MASKED_EQ") || !slices.Contains(s.Archs, "SCMP_ARCH_X86_64") {
		t.Errorf("features.linux.seccomp: %+v", s)
	}
	// The systemd cgroup driver (--systemd-cgroup), as runc reports its own; not
	// systemd's user instance (rootless).
	if c := f.Linux.Cgroup; c == nil || c.Systemd == nil || !*c.Systemd || c.SystemdUser == nil || *c.SystemdUser {
		t.Errorf("features.linux.cgroup: %+v", c)
	}
}

// TestSpecCommand: spec writes a valid config.json, refuses to overwrite it, and
// --rootless gives a user namespace mapping the caller.
func TestSpecCommand(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := raw(t, dir, "spec"); code != 0 {
		t.Fatalf("spec: %s", stderr)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil || s.Version != specs.Version || s.Process == nil || s.Root.Path != "rootfs" || s.Linux == nil {
		t.Fatalf("config.json: %v\n%s", err, data)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("mine"), 0o644)
	if _, stderr, code := raw(t, dir, "spec"); code != 1 || len(lines(stderr)) != 1 {
		t.Errorf("spec over an existing config.json: exit %d, %q", code, stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(data) != "mine" {
		t.Errorf("spec overwrote config.json")
	}
	other := t.TempDir()
	if _, stderr, code := raw(t, "", "spec", "--rootless", "--bundle", other); code != 0 {
		t.Fatalf("spec --rootless: %s", stderr)
	}
	data, _ = os.ReadFile(filepath.Join(other, "config.json"))
	s = specs.Spec{}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	user := false
	for _, ns := range s.Linux.Namespaces {
		user = user || ns.Type == specs.UserNamespace
	}
	if !user || len(s.Linux.UIDMappings) != 1 || s.Linux.UIDMappings[0].HostID != uint32(os.Geteuid()) || s.Linux.UIDMappings[0].Size != 1 || len(s.Linux.GIDMappings) != 1 {
		t.Errorf("spec --rootless: %s", data)
	}
}
