package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/image/snapshot"
	"github.com/hullproject/hull/internal/testutil"
)

// slowStateRuntime is a runc-compatible runtime for records only: its first
// `state` answers "running" once dir/answer exists, later ones "stopped".
const slowStateRuntime = `#!/bin/sh
case " $* " in
*" state "*)
	if mkdir "$DIR/asked" 2>/dev/null; then
		while [ ! -e "$DIR/answer" ]; do sleep 0.01; done
		echo '{"id":"c","pid":1,"status":"running"}'
	else
		echo '{"id":"c","pid":0,"status":"stopped"}'
	fi
esac
`

// TestUnmountIdleDecidersTakeTurns: while one unmountIdle holds the rootfs lock
// and learns (slowly, from the runtime) that the container runs, the container's
// end is recorded and that recorder's unmountIdle must not give up on finding the
// lock taken: nobody else would unmount the rootfs of a container that stopped.
func TestUnmountIdleDecidersTakeTurns(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := os.Stat(testutil.Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	e, err := New(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.BusyboxImage(context.Background(), e.Images, "busybox"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rt := filepath.Join(dir, "slowrt")
	script := strings.ReplaceAll(slowStateRuntime, "$DIR", dir)
	if err := os.WriteFile(rt, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := e.Create(CreateOptions{Image: "busybox", Cmd: []string{"true"}, Network: "none", Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	// mounts counts the mounts on its rootfs in this (the host's) mount namespace.
	mounts := func() int {
		data, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) > 4 && f[4] == c.Rootfs {
				n++
			}
		}
		return n
	}
	// It runs, as a monitor would have it (since killed): mounted, no user.
	if _, err := e.Images.Snapshotter().Mount(c.ID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Images.Snapshotter().Unmount(c.ID) })
	if n := mounts(); n != 1 {
		t.Fatalf("mounted for its run: %d mounts", n)
	}
	if _, err := e.update(c.ID, func(c *Container) error {
		c.State = ContainerState{Status: StatusRunning, Pid: 1, StartedAt: time.Now().UTC()}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A user done with it decides, and asks the runtime.
	decided := make(chan struct{})
	go func() {
		defer close(decided)
		e.unmountIdle(c.ID)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "asked")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("unmountIdle did not ask the runtime whether the container runs")
		}
	}
	// Meanwhile the container ends: finalize records it and decides too. The
	// runtime answers the first decider once the second has had time to meet it.
	time.AfterFunc(300*time.Millisecond, func() { os.WriteFile(filepath.Join(dir, "answer"), nil, 0o644) })
	e.finalize(c.ID)
	<-decided
	if rec, err := e.load(c.ID); err != nil || rec.State.Status != StatusExited {
		t.Fatalf("finalize did not record the end: %v", err)
	}
	if n := mounts(); n != 0 {
		t.Errorf("the stopped container's rootfs: %d mounts", n)
	}
}

// pausingSnapshotter is the store's snapshotter with a pause after Prepare has
// mounted a new rootfs: Create's slow part (copy-up, spec) held open.
type pausingSnapshotter struct {
	snapshot.Snapshotter
	prepared chan string // the rootfs, once mounted
	resume   chan struct{}
}

func (s *pausingSnapshotter) Prepare(key string, layers []string) (string, error) {
	dir, err := s.Snapshotter.Prepare(key, layers)
	s.prepared <- dir
	<-s.resume
	return dir, err
}

// TestCreateHoldsItsRootfs: a container's record is visible while Create still
// works in its new rootfs; a cp or export of it meanwhile (Rootfs, then its
// release) must not unmount the rootfs under Create's copy-up of volumes.
func TestCreateHoldsItsRootfs(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := os.Stat(testutil.Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	e, err := New(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.BusyboxImage(context.Background(), e.Images, "busybox"); err != nil {
		t.Fatal(err)
	}
	sn := &pausingSnapshotter{Snapshotter: e.Images.Snapshotter(), prepared: make(chan string, 1), resume: make(chan struct{})}
	e.Images.SetSnapshotter(sn)
	resume := sync.OnceFunc(func() { close(sn.resume) })
	t.Cleanup(resume)
	type result struct {
		c   *Container
		err error
	}
	created := make(chan result, 1)
	go func() {
		c, err := e.Create(CreateOptions{Image: "busybox", Cmd: []string{"true"}, Network: "none",
			VolumeOptions: VolumeOptions{Volumes: []string{"/etc"}}})
		created <- result{c, err}
	}()
	var rootfs string
	select {
	case rootfs = <-sn.prepared:
	case r := <-created:
		t.Fatalf("create ended before its rootfs was prepared: %v", r.err)
	}
	mounted := func() bool {
		data, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) > 4 && f[4] == rootfs {
				return true
			}
		}
		return false
	}
	list, err := e.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("the record of the container being created: %d, %v", len(list), err)
	}
	// What cp and export do.
	if _, release, err := e.Rootfs(list[0].ID); err != nil {
		t.Fatal(err)
	} else {
		release()
	}
	if !mounted() {
		t.Error("a cp during create unmounted the rootfs create works in")
	}
	resume()
	r := <-created
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { e.RemoveWithVolumes(r.c.ID, true) })
	if mounted() {
		t.Error("the rootfs stays mounted after create")
	}
	vs, err := e.Volumes()
	if err != nil {
		t.Fatal(err)
	}
	v, err := vs.Get(r.c.Mounts[0].Source)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(v.Mountpoint, "passwd")); err != nil {
		t.Errorf("the image's /etc was not copied up into its volume: %v", err)
	}
}
