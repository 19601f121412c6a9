package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/volume"
	"golang.org/x/sys/unix"
)

// infoEngine is an engine on temporary roots with busybox imported and two
// bare records: "web" running (this process stands in for its monitor) and
// "db" created, using busybox and the volume "data" (4096 bytes in one file).
func infoEngine(t *testing.T) (*Engine, *image.Image) {
	t.Helper()
	if _, err := os.Stat(testutil.Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	e, err := New(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img, err := image.BusyboxImage(context.Background(), e.Images, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := e.Volumes()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vs.Create("data", volume.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	start, err := proc.StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	web := &Container{ID: "aaaa" + strings.Repeat("0", 60), Name: "web", Created: time.Now()}
	web.State = ContainerState{Status: StatusRunning, MonitorPid: os.Getpid(), MonitorStart: start}
	db := &Container{ID: "bbbb" + strings.Repeat("0", 60), Name: "db", Created: time.Now(), Image: img.ID().String()}
	db.State.Status = StatusCreated
	db.Mounts = []MountRecord{{Mount: volume.Mount{Type: volume.TypeVolume, Source: "data", Destination: "/data"}}}
	for _, c := range []*Container{web, db} {
		os.MkdirAll(e.dir(c.ID), 0o700)
		if err := e.save(c); err != nil {
			t.Fatal(err)
		}
	}
	return e, img
}

func TestInfo(t *testing.T) {
	testutil.RequireRoot(t)
	e, _ := infoEngine(t)
	in, err := e.Info()
	if err != nil {
		t.Fatal(err)
	}
	if in.Containers != 2 || in.Running != 1 || in.Paused != 0 || in.Stopped != 1 || in.Images != 1 {
		t.Errorf("counts: %+v", in)
	}
	var u unix.Utsname
	unix.Uname(&u)
	if in.KernelVersion != unix.ByteSliceToString(u.Release[:]) || in.Architecture != unix.ByteSliceToString(u.Machine[:]) {
		t.Errorf("kernel %q arch %q", in.KernelVersion, in.Architecture)
	}
	// The cgroup version as the mounts say it: cgroup2 at /sys/fs/cgroup is v2.
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	want := "1"
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		want = "2"
	}
	if in.CgroupVersion != want || in.CgroupDriver != "cgroupfs" {
		t.Errorf("cgroup version %q driver %q, want %s and cgroupfs", in.CgroupVersion, in.CgroupDriver, want)
	}
	if in.Root != e.Root || in.StateDir != e.StateDir || in.Driver != "overlay" || in.NCPU < 1 || in.MemTotal < 1<<20 || in.OSType != "linux" {
		t.Errorf("info: %+v", in)
	}
	if in.Runtimes[0] != "hull" || in.DefaultRuntime != "hull" {
		t.Errorf("runtimes %v default %q", in.Runtimes, in.DefaultRuntime)
	}
	if _, err := exec.LookPath("runc"); err == nil && !slices.Contains(in.Runtimes, "runc") {
		t.Errorf("runc is on $PATH, runtimes: %v", in.Runtimes)
	}
	// The ID is the engine's: stable for one root, another for another.
	again, _ := e.Info()
	other, err := New(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	oin, err := other.Info()
	if err != nil {
		t.Fatal(err)
	}
	if in.ID == "" || again.ID != in.ID || oin.ID == in.ID {
		t.Errorf("IDs: %q, again %q, another root %q", in.ID, again.ID, oin.ID)
	}
}

func TestDiskUsage(t *testing.T) {
	testutil.RequireRoot(t)
	e, img := infoEngine(t)
	du, err := e.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	if len(du.Images) != 1 || du.Images[0].Image.ID() != img.ID() || du.Images[0].Containers != 1 || du.Images[0].Size != e.Images.Size(img) || du.Images[0].Size <= 0 {
		t.Errorf("images: %+v", du.Images)
	}
	if len(du.Containers) != 2 {
		t.Errorf("containers: %+v", du.Containers)
	}
	if len(du.Volumes) != 1 || du.Volumes[0].Volume.Name != "data" || du.Volumes[0].Size != 4096 || du.Volumes[0].RefCount != 1 {
		t.Errorf("volumes: %+v", du.Volumes)
	}
}
