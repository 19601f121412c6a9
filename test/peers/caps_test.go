package peers_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// capStatus prints a process's capability sets.
var capStatus = []string{"grep", "-E", "^Cap", "/proc/self/status"}

// sameCaps fails unless every runtime printed the same sets; with ambient, unless
// an ambient capability was raised.
func sameCaps(t *testing.T, got map[string]string, ambient bool) {
	t.Helper()
	if got["runc"] == "" || got["hullrt"] == "" {
		return // a subtest failed and said why
	}
	if got["hullrt"] != got["runc"] {
		t.Errorf("hullrt gives\n%s\nrunc gives\n%s", got["hullrt"], got["runc"])
	}
	if raised := !strings.Contains(got["runc"], "CapAmb:\t0000000000000000"); !strings.Contains(got["runc"], "CapAmb:") || raised != ambient {
		t.Errorf("ambient capabilities raised: %v, want %v:\n%s", raised, ambient, got["runc"])
	}
}

// TestPodmanAmbientCapabilities: podman gives a user other than root its --cap-add
// capabilities as ambient ones (with an inheritable set that allows them); under
// hullrt the process gets the sets it gets under runc. (Podman leaves out itself
// what its own bounding set lacks, so it never asks for what cannot be granted.)
func TestPodmanAmbientCapabilities(t *testing.T) {
	needBinaries(t, "podman", "conmon")
	got := map[string]string{}
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			p := newPodman(t, rt)
			p.must("load", "-i", imageArchive)
			args := append([]string{"create", "--name", "amb", "--user", "1000:1000", "--cap-add", "CAP_NET_BIND_SERVICE"}, p.runFlags()...)
			id := strings.TrimSpace(p.must(append(append(args, imageRef), capStatus...)...))
			// init has the runtime create the container; the config podman
			// handed it asks for an ambient capability.
			p.must("init", "amb")
			var spec specs.Spec
			data, err := os.ReadFile(filepath.Join(p.global[1], "overlay-containers", id, "userdata", "config.json"))
			if err != nil || json.Unmarshal(data, &spec) != nil || spec.Process.Capabilities == nil || len(spec.Process.Capabilities.Ambient) == 0 {
				t.Fatalf("podman's config has no ambient capabilities (%v): %s", err, data)
			}
			got[rt.name] = p.must("start", "--attach", "amb")
			p.must("rm", "amb")
		})
	}
	sameCaps(t, got, true)
}

// TestContainerdRuncSpec: `runc spec`'s own config (ambient capabilities without an
// inheritable set, so none can be raised), and the same for a user other than root
// with an inheritable set (so one is), given to containerd with ctr run --config,
// run under hullrt as under runc.
func TestContainerdRuncSpec(t *testing.T) {
	needBinaries(t, "containerd", "ctr", "containerd-shim-runc-v2")
	rts := runtimes(t)
	specs := map[string]string{
		"runc-spec": runcSpec(t, nil),
		"inheritable": runcSpec(t, func(proc map[string]any) {
			proc["user"] = map[string]any{"uid": 1000, "gid": 1000}
			proc["capabilities"].(map[string]any)["inheritable"] = []string{"CAP_NET_BIND_SERVICE"}
		}),
	}
	got := map[string]map[string]string{"runc-spec": {}, "inheritable": {}}
	for _, rt := range rts {
		t.Run(rt.name, func(t *testing.T) {
			dir := workDir(t)
			ns := "hullpeers-" + filepath.Base(dir)
			t.Cleanup(func() { removeCgroup(t, ns) })
			rtPath := wrapRuntime(t, dir, rt)
			sock := startContainerd(t, dir)
			ctr := func(args ...string) cmdResult {
				t.Helper()
				return run(t, nil, 60*time.Second, "ctr", append([]string{"-a", sock, "-n", ns}, args...)...)
			}
			t.Cleanup(func() {
				for _, id := range strings.Fields(ctr("task", "list", "-q").out) {
					ctr("task", "kill", "-a", "-s", "KILL", id)
					ctr("task", "delete", "-f", id)
				}
				for _, id := range strings.Fields(ctr("container", "list", "-q").out) {
					ctr("container", "delete", id)
				}
			})
			for name, spec := range specs {
				r := ctr("run", "--rm", "--config", spec, "--runc-binary", rtPath, "--runc-root", filepath.Join(dir, "runc-root"), name)
				if r.err != nil {
					t.Fatalf("%s", r)
				}
				got[name][rt.name] = r.out
			}
		})
	}
	sameCaps(t, got["runc-spec"], false)
	sameCaps(t, got["inheritable"], true)
}

// runcSpec writes `runc spec`'s config, with a busybox rootfs and capStatus as the
// program, edit's changes to its process if edit is not nil, and returns its path.
func runcSpec(t *testing.T, edit func(proc map[string]any)) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("runc", "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := testutil.MakeBusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	s["root"].(map[string]any)["path"] = rootfs
	proc := s["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = capStatus
	if edit != nil {
		edit(proc)
	}
	if data, err = json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
