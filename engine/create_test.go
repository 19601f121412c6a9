package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/testutil"
)

// A Create whose process died half-way (a record written, the rootfs mounted, no
// bundle yet: what `hull system service` killed with -9 mid-create leaves) is
// removed by the next listing, its name free again; a Create still running (its
// marker locked) is kept; a complete container never carries the marker, and a
// marker back beside a complete record (a power loss undid its removal) is only
// removed. Before the marker, the half-made container was listed as "created"
// and failed every start (no bundle/config.json).
func TestHalfMadeContainerReaped(t *testing.T) {
	testutil.RequireRoot(t)
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
	whole, err := e.Create(CreateOptions{Image: "busybox", Cmd: []string{"true"}, Network: "none", Name: "whole"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(e.creatingFile(whole.ID)); !os.IsNotExist(err) {
		t.Fatalf("a complete container keeps its creating marker: %v", err)
	}
	// What Create has made when its process dies after the first record and the
	// rootfs's mount: the marker is left, and nobody holds its lock.
	half := func(name string) string {
		id := newID()
		os.MkdirAll(e.dir(id), 0o711)
		unlock, err := atomicfile.Lock(e.creatingFile(id), atomicfile.Exclusive)
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		if err := e.save(&Container{ID: id, Name: name, Created: time.Now(), State: ContainerState{Status: StatusCreated}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Images.Prepare(id, img.ID().String()); err != nil {
			t.Fatal(err)
		}
		return id
	}
	dead := half("dead")
	running := half("running")
	unlockRunning, err := atomicfile.Lock(e.creatingFile(running), atomicfile.Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	list := func() string {
		cs, err := e.List()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		return strings.Join(names, " ")
	}
	if got := list(); got != "running whole" && got != "whole running" {
		t.Errorf("listed %q, want the complete container and the one being created", got)
	}
	if _, err := os.Stat(e.dir(dead)); !os.IsNotExist(err) {
		t.Errorf("the half-made container's directory is left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.Root, "snapshots", dead)); !os.IsNotExist(err) {
		t.Errorf("the half-made container's snapshot is left: %v", err)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), dead) {
		t.Errorf("the half-made container's rootfs is still mounted")
	}
	if _, err := e.Create(CreateOptions{Image: "busybox", Cmd: []string{"true"}, Network: "none", Name: "dead"}); err != nil {
		t.Errorf("the half-made container's name is not free: %v", err)
	}
	// Its creator gone, the second goes too.
	unlockRunning()
	if got := list(); strings.Contains(got, "running") {
		t.Errorf("listed %q after the second creator died", got)
	}
	// A marker beside a complete record is removed, the container kept.
	if err := os.WriteFile(e.creatingFile(whole.ID), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := list(); !strings.Contains(got, "whole") {
		t.Errorf("a complete container with a stale marker was removed: %q", got)
	}
	if _, err := os.Lstat(e.creatingFile(whole.ID)); !os.IsNotExist(err) {
		t.Errorf("the stale marker is left: %v", err)
	}
	for _, c := range []string{"whole", "dead"} {
		if err := e.Remove(c, true); err != nil {
			t.Error(err)
		}
	}
}
