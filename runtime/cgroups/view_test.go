package cgroups

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hullproject/hull/internal/testutil"
)

// TestOf: a process's cgroups as Of reads them are the lines of its
// /proc/PID/cgroup that have a mount, each with a directory that holds the
// process, and the limit files of a cgroup made here with Set.
func TestOf(t *testing.T) {
	testutil.RequireRoot(t)
	m, err := New("", "of-"+strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(0); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		m.Destroy()
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); m.Destroy() })
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(42))}}); err != nil {
		t.Fatal(err)
	}
	gs, err := Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if len(gs) == 0 || len(gs) > len(strings.Split(strings.TrimSpace(string(data)), "\n")) {
		t.Fatalf("%d groups for %q", len(gs), data)
	}
	pids := ""
	for _, g := range gs {
		procs, err := os.ReadFile(filepath.Join(g.Dir, "cgroup.procs"))
		if err != nil || !strings.Contains("\n"+string(procs), "\n"+strconv.Itoa(cmd.Process.Pid)+"\n") {
			t.Errorf("%s (%q): does not hold the process: %v %q", g.Dir, g.Hierarchy, err, procs)
		}
		if v, ok := g.Files["pids.max"]; ok {
			pids = v
		}
	}
	if pids != "42" {
		t.Errorf("pids.max %q, want 42: %+v", pids, gs)
	}
}
