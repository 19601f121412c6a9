package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/hullproject/hull/internal/testutil"
	"golang.org/x/sys/unix"
)

// needStatmount skips where the kernel has no statmount(2) (before 6.8): there
// hierarchies always scans mountinfo.
func needStatmount(t *testing.T) {
	t.Helper()
	if _, _, e := unix.Syscall6(unix.SYS_STATMOUNT, 0, 0, 0, 0, 0, 0); e == unix.ENOSYS {
		t.Skip("no statmount(2)")
	}
}

// The hierarchies found at their usual mount points are the ones the mountinfo
// scan finds, mount point and controllers alike.
func TestConventionalHierarchiesMatchMountinfo(t *testing.T) {
	needStatmount(t)
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	fast, ok := conventionalHierarchies(lines)
	if !ok {
		t.Fatalf("no hierarchy found at /sys/fs/cgroup without mountinfo on this host (%q)", lines)
	}
	scanned, err := scannedHierarchies(lines)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, scanned) {
		t.Fatalf("statmount: %+v\nmountinfo: %+v", fast, scanned)
	}
}

func TestStatmountPathNotAMount(t *testing.T) {
	needStatmount(t)
	if m, ok := statmountPath(t.TempDir()); ok {
		t.Fatalf("a plain directory taken for a mount: %+v", m)
	}
	m, ok := statmountPath("/proc")
	if !ok || m.fstype != "proc" || m.point != "/proc" || m.root != "/" {
		t.Fatalf("statmountPath(/proc) = %+v, %v", m, ok)
	}
}

// A sub-cgroup bound over a hierarchy's usual mount point (as a container runtime
// without a cgroup namespace does) is not that hierarchy's root: the lookup must
// not take it, and fall back to the scan, which makes the paths relative to it.
func TestConventionalMountSkipsSubCgroupBind(t *testing.T) {
	testutil.RequireRoot(t)
	needStatmount(t)
	hs, err := hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	var h *hierarchy
	for i := range hs {
		if !hs[i].v2() {
			h = &hs[i]
			break
		}
	}
	if h == nil {
		t.Skip("no v1 hierarchy to bind a sub-cgroup over")
	}
	sub := filepath.Join(h.mount, fmt.Sprintf("hull-test-bind-%d", os.Getpid()))
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(sub)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HULL_CGROUPS_HELPER=bindsub", "HULL_BIND_SUB="+sub, "HULL_BIND_ON="+h.mount, "HULL_BIND_KEY="+h.key)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "fallback" {
		t.Fatalf("helper: %s", got)
	}
}

// bindSubHelper runs in a new mount namespace: it binds a sub-cgroup over the
// hierarchy's mount point and says whether the lookup took it.
func bindSubHelper() int {
	sub, on := os.Getenv("HULL_BIND_SUB"), os.Getenv("HULL_BIND_ON")
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if err := unix.Mount(sub, on, "", unix.MS_BIND, ""); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if point, ok := conventionalMount(&hierarchy{key: os.Getenv("HULL_BIND_KEY")}); ok {
		fmt.Println("taken:", point)
		return 1
	}
	fmt.Println("fallback")
	return 0
}
