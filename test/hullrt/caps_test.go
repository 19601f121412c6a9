package hullrt_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hullproject/hull/runtime/caps"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// capStatus is the program that prints a process's capability sets.
var capStatus = []string{"grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"}

// peerSpec writes, in a new bundle, the config.json that `BIN spec` writes (the
// binary's own output, unchanged but for the rootfs, the program and the terminal),
// and returns the bundle. edit, if not nil, changes it further.
func peerSpec(t *testing.T, bin string, args []string, edit func(map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s spec: %v: %s", bin, err, out)
	}
	p := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	spec["root"].(map[string]any)["path"] = sharedRootfs
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = args
	if edit != nil {
		edit(spec)
	}
	if data, err = json.MarshalIndent(spec, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runcOut runs bundle b under runc, the reference, in the foreground and returns
// its stdout; "" when runc is not installed.
func runcOut(t *testing.T, b, id string) string {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		return ""
	}
	out, err := exec.Command(runc, "--root", t.TempDir(), "run", "--bundle", b, id).Output()
	if err != nil {
		t.Fatalf("runc run: %v: %s", err, stderrOf(err))
	}
	return string(out)
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// logWarnings returns the messages of the warnings in a --log file of format.
func logWarnings(t *testing.T, log, format string) []string {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lines(string(data)) {
		if format == "json" {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q: %v", l, err)
			}
			if m["level"] == "warning" {
				out = append(out, m["msg"].(string))
			}
			continue
		}
		if _, msg, ok := strings.Cut(l, " level=warning msg="); ok {
			if s, err := strconv.Unquote(msg); err == nil {
				msg = s
			}
			out = append(out, msg)
		}
	}
	return out
}

// capLines is the output of capStatus for the given sets and no_new_privs 1.
func capLines(inh, prm, eff, bnd, amb uint64) string {
	return fmt.Sprintf("CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\nNoNewPrivs:\t1\n", inh, prm, eff, bnd, amb)
}

// TestPeerSpecsRun: the configs `runc spec`, `crun spec` and `hullrt spec` write on
// this machine run under hullrt, in the foreground, with the capability sets runc
// gives the same config. runc's and crun's ask for ambient capabilities without an
// inheritable set: the kernel cannot raise them, and hullrt says so in its log, in
// either format, instead of failing.
func TestPeerSpecsRun(t *testing.T) {
	e := newEnv(t)
	k := capBits(t, "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
	for _, peer := range []string{"runc", "crun", "hullrt"} {
		bin := hullrtBin
		if peer != "hullrt" {
			var err error
			if bin, err = exec.LookPath(peer); err != nil {
				t.Logf("%s is not installed; its spec is not tried", peer)
				continue
			}
		}
		for _, format := range []string{"text", "json"} {
			t.Run(peer+"/"+format, func(t *testing.T) {
				b := peerSpec(t, bin, capStatus, nil)
				id := cid("ps-" + peer + "-" + format)
				log := filepath.Join(t.TempDir(), "log")
				out, stderr, code := e.run("--log", log, "--log-format", format, "run", "--bundle", b, id)
				if code != 0 {
					t.Fatalf("hullrt run: exit %d: %s", code, stderr)
				}
				if want := capLines(0, k, k, k, 0); out != want {
					t.Errorf("capabilities\n%s\nwant\n%s", out, want)
				}
				if ref := runcOut(t, b, id); ref != "" && ref != out {
					t.Errorf("hullrt gives\n%s\nrunc gives\n%s", out, ref)
				}
				w := logWarnings(t, log, format)
				if peer == "hullrt" {
					if len(w) != 0 {
						t.Errorf("hullrt's own spec gave warnings: %q", w)
					}
					return
				}
				want := "process.capabilities.ambient: CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE not in both the permitted and inheritable sets; left out"
				if len(w) != 1 || w[0] != want {
					t.Errorf("log warnings %q, want [%q]", w, want)
				}
				if stderr != "" {
					t.Errorf("with --log, stderr holds %q", stderr)
				}
			})
		}
	}
}

// TestAmbientRaised: where the inheritable set allows it, an ambient capability is
// raised, and a user other than root keeps it across execve; the ambient ones it
// does not allow are left out with a warning (on stderr, without --log). runc gives
// the same sets.
func TestAmbientRaised(t *testing.T) {
	e := newEnv(t)
	b := peerSpec(t, hullrtBin, capStatus, func(s map[string]any) {
		p := s["process"].(map[string]any)
		p["user"] = map[string]any{"uid": 1000, "gid": 1000}
		k := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
		p["capabilities"] = map[string]any{
			"bounding": k, "effective": k, "permitted": k, "ambient": k,
			"inheritable": []string{"CAP_NET_BIND_SERVICE"},
		}
	})
	out, stderr, code := e.run("run", "--bundle", b, cid("amb"))
	if code != 0 {
		t.Fatalf("hullrt run: exit %d: %s", code, stderr)
	}
	nbs := capBits(t, "CAP_NET_BIND_SERVICE")
	if want := capLines(nbs, nbs, nbs, capBits(t, "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"), nbs); out != want {
		t.Errorf("capabilities\n%s\nwant\n%s", out, want)
	}
	if ref := runcOut(t, b, cid("amb")); ref != "" && ref != out {
		t.Errorf("hullrt gives\n%s\nrunc gives\n%s", out, ref)
	}
	if l := lines(stderr); len(l) != 1 || !strings.Contains(l[0], "level=warning") ||
		!strings.Contains(l[0], "process.capabilities.ambient: CAP_KILL, CAP_AUDIT_WRITE not in both") {
		t.Errorf("stderr %q, want one warning for CAP_KILL and CAP_AUDIT_WRITE", stderr)
	}
}

// missingCap names a capability the kernel supports and this process's bounding set
// lacks ("" if it holds them all): one the runtime cannot grant.
func missingCap(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var bnd uint64
	for _, l := range lines(string(data)) {
		if v, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
			bnd, _ = strconv.ParseUint(v, 16, 64)
		}
	}
	for c, n := range caps.Names() {
		if c <= caps.Last() && bnd&(1<<c) == 0 {
			return n
		}
	}
	return ""
}

// TestCapabilitiesNotGranted: each kind of capability that cannot be granted is
// left out with a warning naming it, and the container runs with the rest: a name
// no kernel knows, one the runtime does not hold (this machine's root may lack
// CAP_SYS_RESOURCE in its bounding set), effective beyond permitted, inheritable
// beyond bounding (which would let a root program escape the bounding set), and
// ambient beyond inheritable. runc 1.1 fails on all but the first and the last.
func TestCapabilitiesNotGranted(t *testing.T) {
	e := newEnv(t)
	missing := missingCap(t)
	if missing == "" {
		t.Log("this process holds every capability; the not-held case is not tried")
	}
	bnd := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_NOPE"}
	prm := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
	if missing != "" {
		bnd = append(bnd, missing)
		prm = append(prm, missing)
	}
	b := e.bundle(capStatus, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding:    bnd,
			Permitted:   prm,
			Effective:   []string{"CAP_KILL", "CAP_CHOWN"},
			Inheritable: []string{"CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"},
			Ambient:     []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
		}
	})
	log := filepath.Join(t.TempDir(), "log")
	out, stderr, code := e.run("--log", log, "run", "--bundle", b, cid("ng"))
	if code != 0 {
		t.Fatalf("hullrt run: exit %d: %s", code, stderr)
	}
	nbs := capBits(t, "CAP_NET_BIND_SERVICE")
	if want := capLines(nbs, nbs, nbs, capBits(t, "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"), nbs); out != want {
		t.Errorf("capabilities\n%s\nwant\n%s", out, want)
	}
	want := []string{
		"process.capabilities: CAP_NOPE not a known capability; left out",
		"process.capabilities.effective: CAP_CHOWN not in the permitted set; left out",
		"process.capabilities.inheritable: CAP_SYS_ADMIN not in the bounding set; left out",
		"process.capabilities.ambient: CAP_KILL not in both the permitted and inheritable sets; left out",
	}
	if missing != "" {
		want = append(want[:1], append([]string{"process.capabilities: " + missing + " not held by the runtime (outside its bounding set); left out"}, want[1:]...)...)
	}
	if w := logWarnings(t, log, "text"); strings.Join(w, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(w, "\n"), strings.Join(want, "\n"))
	}
}

// TestExecCapabilities: hullrt exec grants what it can the same way, for a process
// of --process and for --cap (whose capabilities become ambient where the spec has
// an inheritable set, as with runc); an unknown --cap is a warning, not a failure.
func TestExecCapabilities(t *testing.T) {
	e := newEnv(t)
	b := peerSpec(t, hullrtBin, []string{"sleep", "1000"}, func(s map[string]any) {
		c := s["process"].(map[string]any)["capabilities"].(map[string]any)
		c["inheritable"] = []string{"CAP_NET_ADMIN"}
	})
	id := cid("xc")
	e.must("run", "-d", "--bundle", b, id)
	k := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	kb := capBits(t, k...)

	// --process with `runc spec`'s capabilities: ambient without inheritable.
	proc := specs.Process{Cwd: "/", Args: capStatus, NoNewPrivileges: true, Env: []string{"PATH=/bin"},
		Capabilities: &specs.LinuxCapabilities{Bounding: k, Effective: k, Permitted: k, Ambient: k}}
	pf := filepath.Join(t.TempDir(), "process.json")
	data, _ := json.Marshal(proc)
	os.WriteFile(pf, data, 0o644)
	log := filepath.Join(t.TempDir(), "log.json")
	out, stderr, code := e.run("--log", log, "--log-format", "json", "exec", "--process", pf, id)
	if code != 0 {
		t.Fatalf("exec --process: exit %d: %s", code, stderr)
	}
	if want := capLines(0, kb, kb, kb, 0); out != want {
		t.Errorf("exec --process: capabilities\n%s\nwant\n%s", out, want)
	}
	if w := logWarnings(t, log, "json"); len(w) != 1 || !strings.HasPrefix(w[0], "process.capabilities.ambient: CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE not in both") {
		t.Errorf("exec --process: warnings %q", w)
	}

	// --cap for a user other than root: ambient, from the spec's inheritable set.
	out, stderr, code = e.run(append([]string{"exec", "--user", "1000:1000", "--cap", "CAP_NET_ADMIN", id}, capStatus...)...)
	if code != 0 {
		t.Fatalf("exec --cap: exit %d: %s", code, stderr)
	}
	na := capBits(t, "CAP_NET_ADMIN")
	if want := capLines(na, na, na, kb|na, na); out != want {
		t.Errorf("exec --cap: capabilities\n%s\nwant\n%s", out, want)
	}
	if stderr != "" {
		t.Errorf("exec --cap: stderr %q", stderr)
	}

	// An unknown --cap: a warning on stderr, and the process runs.
	out, stderr, code = e.run(append([]string{"exec", "--cap", "CAP_NOPE", id}, capStatus...)...)
	if code != 0 || !strings.Contains(out, "CapBnd:") || !strings.Contains(stderr, "CAP_NOPE not a known capability") {
		t.Errorf("exec --cap CAP_NOPE: exit %d, %q, %q", code, out, stderr)
	}
	e.must("delete", "--force", id)
}
