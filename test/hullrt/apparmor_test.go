package hullrt_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// appArmorEnabled reads the module parameter AppArmor's own tools read.
func appArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(b) > 0 && b[0] == 'Y'
}

// needAppArmor skips unless the host enforces AppArmor and can load profiles
// (test/vm: VM_APPARMOR=1 make test-cgroupv2). It returns apparmor_parser's path.
func needAppArmor(t *testing.T) string {
	t.Helper()
	if !appArmorEnabled() {
		t.Skip("AppArmor is not enabled on this host")
	}
	for _, p := range []string{"apparmor_parser", "/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("no apparmor_parser")
	return ""
}

// loadProfile loads a profile called name that allows everything but the
// rules given, and unloads it when the test ends.
func loadProfile(t *testing.T, parser, name, rules string) {
	t.Helper()
	// attach_disconnected: the container's paths are reached from its own
	// mount namespace, whose root is not the host's.
	text := "profile " + name + " flags=(attach_disconnected,mediate_deleted) {\n" +
		"  file,\n  capability,\n  network,\n  signal,\n  unix,\n  ptrace,\n" + rules + "}\n"
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// -K: no cache written anywhere on the host
	if out, err := exec.Command(parser, "-r", "-K", f).CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser -r %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(parser, "-R", "-K", f).CombinedOutput(); err != nil {
			t.Errorf("apparmor_parser -R %s: %v: %s", name, err, out)
		}
	})
}

// appArmorBundle is a bundle running args with tmpfs at /tmp and /data, the
// container's process confined by profile; edit (if not nil) changes the spec.
func (e *env) appArmorBundle(args []string, profile string, edit func(*specs.Spec)) string {
	return e.bundle(args, func(s *specs.Spec) {
		s.Process.ApparmorProfile = profile
		for _, d := range []string{"/tmp", "/data"} {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: d, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}})
		}
		if edit != nil {
			edit(s)
		}
	})
}

// confinedScript prints the process's AppArmor label, then whether writes to
// /data and /tmp work.
const confinedScript = `tr -d '\0\n' </proc/self/attr/current; echo
for d in /data /tmp; do if echo x >$d/f 2>/dev/null; then echo $d ok; else echo $d denied; fi; done`

// TestAppArmorProfile runs a container under a profile that denies writes to
// /tmp: its program is in that profile from its start, the write to /tmp is
// refused and the one to /data is not.
func TestAppArmorProfile(t *testing.T) {
	parser := needAppArmor(t)
	e := newEnv(t)
	name := "hull-test-deny-tmp" + idSuffix
	loadProfile(t, parser, name, "  deny /tmp/** w,\n")
	b := e.appArmorBundle([]string{"sh", "-c", confinedScript}, name, nil)
	out := e.runOut(b, cid("aa1"))
	want := name + " (enforce)\n/data ok\n/tmp denied\n"
	if out != want {
		t.Errorf("container printed %q, want %q", out, want)
	}
	// The same in a user namespace (a pod's, from containerd), as a user other
	// than root with no_new_privs (docker's --security-opt no-new-privileges):
	// the profile is asked for while init is still root in its namespace.
	b = e.appArmorBundle([]string{"sh", "-c", confinedScript}, name, func(s *specs.Spec) {
		userNS(t, s)
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.NoNewPrivileges = true
	})
	if out := e.runOut(b, cid("aa1u")); out != want {
		t.Errorf("container in a user namespace, uid 1000, no_new_privs printed %q, want %q", out, want)
	}
}

// TestAppArmorProfileNotLoaded: a profile the kernel does not have fails the
// create with one line naming it, and nothing is left behind.
func TestAppArmorProfileNotLoaded(t *testing.T) {
	needAppArmor(t)
	e := newEnv(t)
	name := "hull-test-not-loaded" + idSuffix
	b := e.appArmorBundle([]string{"true"}, name, nil)
	id := cid("aa2")
	_, stderr, code := e.runIn(b, nil, "create", id)
	checkOneError(t, code, stderr)
	if !strings.Contains(stderr, `process.apparmorProfile "`+name+`"`) || !strings.Contains(stderr, "not loaded") {
		t.Errorf("stderr %q: want the profile named and \"not loaded\"", stderr)
	}
	e.checkNothingLeft(id)
	checkNoMountsOf(t, b, e.root)
}

// checkNoMountsOf fails if a mount of the host's names one of dirs.
func checkNoMountsOf(t *testing.T, dirs ...string) {
	t.Helper()
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range lines(string(mi)) {
		for _, d := range dirs {
			if strings.Contains(l, d) {
				t.Errorf("mount left: %s", l)
			}
		}
	}
}

// TestAppArmorDisabled: where AppArmor is not enabled, a profile is refused (as
// runc refuses it: its write to /proc/self/attr/exec fails with EINVAL), at
// create and at exec, with one line naming the profile and the reason, and
// nothing left. The profile is containerd's default, what its CRI sets when it
// sees AppArmor (and no spec that asks for confinement runs without it). hullrt
// features says AppArmor is supported, as runc's does: the field tells what the
// runtime can do, not what the host enables.
func TestAppArmorDisabled(t *testing.T) {
	e := newEnv(t)
	out := e.must("features")
	var f struct {
		Linux struct {
			Apparmor struct{ Enabled *bool } `json:"apparmor"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	if en := f.Linux.Apparmor.Enabled; en == nil || !*en {
		t.Errorf("features: linux.apparmor.enabled is %v, want true", en != nil && *en)
	}
	if appArmorEnabled() {
		t.Skip("AppArmor is enabled on this host")
	}
	const name = "cri-containerd.apparmor.d"
	wantErr := func(stderr string) {
		t.Helper()
		if !strings.Contains(stderr, `process.apparmorProfile "`+name+`": AppArmor is not enabled on this host`) {
			t.Errorf("stderr %q: want the profile named and \"AppArmor is not enabled on this host\"", stderr)
		}
	}
	b := e.appArmorBundle([]string{"true"}, name, nil)
	id := cid("aa3")
	_, stderr, code := e.runIn(b, nil, "create", id)
	checkOneError(t, code, stderr)
	wantErr(stderr)
	e.checkNothingLeft(id)
	checkNoMountsOf(t, b, e.root)

	b = e.bundle([]string{"sleep", "100"}, nil)
	id = cid("aa3x")
	e.startDetached(b, id)
	_, stderr, code = e.run("exec", "--apparmor", name, id, "true")
	checkOneError(t, code, stderr)
	wantErr(stderr)
	if st := e.state(id); st.Status != "running" {
		t.Errorf("container %s after the refused exec: %s", id, st.Status)
	}
}

// TestAppArmorExec: an exec'd process takes the container's profile when it
// names none (as runc exec does), another one with --apparmor or
// process.apparmorProfile, and one not loaded fails the exec alone.
func TestAppArmorExec(t *testing.T) {
	parser := needAppArmor(t)
	e := newEnv(t)
	tmp, data := "hull-test-deny-tmp"+idSuffix, "hull-test-deny-data"+idSuffix
	loadProfile(t, parser, tmp, "  deny /tmp/** w,\n")
	loadProfile(t, parser, data, "  deny /data/** w,\n")
	b := e.appArmorBundle([]string{"sleep", "100"}, tmp, nil)
	id := cid("aa4")
	e.startDetached(b, id)

	if out, want := e.must("exec", id, "sh", "-c", confinedScript), tmp+" (enforce)\n/data ok\n/tmp denied\n"; out != want {
		t.Errorf("exec without a profile printed %q, want the container's: %q", out, want)
	}
	want := data + " (enforce)\n/data denied\n/tmp ok\n"
	if out := e.must("exec", "--apparmor", data, id, "sh", "-c", confinedScript); out != want {
		t.Errorf("exec --apparmor printed %q, want %q", out, want)
	}
	p := specs.Process{Args: []string{"sh", "-c", confinedScript}, Cwd: "/", Env: []string{"PATH=/bin"}, ApparmorProfile: data}
	pj, _ := json.Marshal(p)
	pf := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(pf, pj, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := e.must("exec", "--process", pf, id); out != want {
		t.Errorf("exec --process with apparmorProfile printed %q, want %q", out, want)
	}

	missing := "hull-test-not-loaded" + idSuffix
	_, stderr, code := e.run("exec", "--apparmor", missing, id, "true")
	checkOneError(t, code, stderr)
	if !strings.Contains(stderr, `process.apparmorProfile "`+missing+`"`) || !strings.Contains(stderr, "not loaded") {
		t.Errorf("stderr %q: want the profile named and \"not loaded\"", stderr)
	}
	if st := e.state(id); st.Status != "running" {
		t.Errorf("container %s after the failed exec: %s", id, st.Status)
	}
}
