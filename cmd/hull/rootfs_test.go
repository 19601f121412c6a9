package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rootfsMounts counts the mounts on a container's rootfs (its snapshot's mount
// point) in this process's mount namespace, the host's.
func (h *hullEnv) rootfsMounts(id string) int {
	h.t.Helper()
	target := filepath.Join(h.root, "snapshots", id, "rootfs")
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == target {
			n++
		}
	}
	return n
}

// TestStoppedRootfsUnmounted: a container that was created and never started, or
// that exited, has no mount of its rootfs (1,000 stopped containers are not
// 1,000 mounts); cp, export and commit still work on it, each leaving it
// unmounted, and it starts again. A running container keeps its one mount
// through a cp, and through its restart policy's restarts. Two cp at once and a
// start racing them neither stack mounts nor lose the one a run needs.
func TestStoppedRootfsUnmounted(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		unmounted := func(what, id string) {
			t.Helper()
			if n := h.rootfsMounts(id); n != 0 {
				t.Errorf("%s: %d mounts of its rootfs", what, n)
			}
		}
		// /ran is replaced whole (a rename): a cp racing a start reads the file
		// before or after, never the one a redirection has just truncated.
		id := strings.TrimSpace(h.ok("create", "--network", "none", "busybox", "sh", "-c", "cat /in; echo ran >/ran.new && mv /ran.new /ran"))
		unmounted("created", id)
		host := t.TempDir()
		os.WriteFile(filepath.Join(host, "in"), []byte("copied in\n"), 0o644)
		h.ok("cp", filepath.Join(host, "in"), id+":/in")
		unmounted("after cp into it", id)
		if names := tarNames(t, []byte(h.ok("export", id))); !strings.Contains(" "+strings.Join(names, " ")+" ", " in ") {
			t.Errorf("export of a created container lacks /in: %v", names)
		}
		unmounted("after export", id)
		if out := h.ok("start", "-a", id); out != "copied in\n" {
			t.Errorf("start -a: %q", out)
		}
		unmounted("exited", id)
		h.ok("cp", id+":/ran", filepath.Join(host, "ran"))
		if data, _ := os.ReadFile(filepath.Join(host, "ran")); string(data) != "ran\n" {
			t.Errorf("cp from the exited container: %q", data)
		}
		unmounted("after cp from it", id)
		img := strings.TrimSpace(h.ok("commit", id))
		unmounted("after commit", id)
		if out := h.ok("run", "--rm", "--network", "none", img, "cat", "/ran", "/in"); out != "ran\ncopied in\n" {
			t.Errorf("the committed image: %q", out)
		}
		if out := h.ok("start", "-a", id); out != "copied in\n" {
			t.Errorf("second start -a: %q", out)
		}
		unmounted("exited again", id)

		// Two cp at a time and a start racing them, with the mounts watched:
		// never two, none left, every copy and start as it should be.
		var stop atomic.Bool
		var most atomic.Int32
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for !stop.Load() {
				if n := int32(h.rootfsMounts(id)); n > most.Load() {
					most.Store(n)
				}
				time.Sleep(time.Millisecond)
			}
		}()
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for range 8 {
					if out, stderr, code := h.run("cp", id+":/ran", "-"); code != 0 || !strings.Contains(out, "ran\n") {
						t.Errorf("cp racing: exit %d: %s", code, stderr)
					}
				}
			})
		}
		wg.Go(func() {
			for range 3 {
				if out, stderr, code := h.run("start", "-a", id); code != 0 || out != "copied in\n" {
					t.Errorf("start racing cp: exit %d %q: %s", code, out, stderr)
				}
			}
		})
		wg.Wait()
		stop.Store(true)
		<-watched
		if n := most.Load(); n > 1 {
			t.Errorf("%d mounts of one rootfs at once", n)
		}
		unmounted("after the race", id)

		// A running container keeps its mount through a cp and an export.
		h.ok("run", "-d", "--name", "long", "--network", "none", "busybox", "sleep", "1000")
		long := h.inspect("long", "{{.Id}}")
		h.ok("cp", "long:/etc/hostname", "-")
		h.ok("export", "long")
		if n := h.rootfsMounts(long); n != 1 {
			t.Errorf("running, after cp and export: %d mounts", n)
		}
		if out := h.ok("exec", "long", "cat", "/etc/hostname"); out != long[:12]+"\n" {
			t.Errorf("exec in the running container: %q", out)
		}
		h.ok("stop", "-t", "0", "long")
		unmounted("stopped", long)

		// Restarts by policy run on the mount they keep; the end unmounts.
		h.ok("run", "-d", "--name", "rs", "--network", "none", "--restart", "on-failure:2", "busybox", "sh", "-c", "test -x /bin/busybox; exit 3")
		rs := h.inspect("rs", "{{.Id}}")
		if !waitFor(30*time.Second, func() bool { return h.inspect("rs", "{{.State.Status}} {{.RestartCount}}") == "exited 2" }) {
			t.Fatalf("restarts: %s", h.inspect("rs", "{{.State.Status}} {{.RestartCount}}"))
		}
		if code := h.inspect("rs", "{{.State.ExitCode}}"); code != "3" {
			t.Errorf("a restart ran without its rootfs: exit %s", code)
		}
		if !waitFor(5*time.Second, func() bool { return h.rootfsMounts(rs) == 0 }) {
			t.Errorf("after its restarts: %d mounts", h.rootfsMounts(rs))
		}
	})
}

// TestRunRootfsMountedOnce: `run` keeps the rootfs Create mounted for its start
// (no unmount and mount again in between), and leaves no mount of it behind when
// the container exits, when its start fails (a program that is not there: 127),
// and with -d once it is stopped.
func TestRunRootfsMountedOnce(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		for _, c := range []struct {
			name string
			args []string
			code int
		}{
			{"exits", []string{"busybox", "true"}, 0},
			{"fails", []string{"busybox", "/not-there"}, 127},
			{"cannot", []string{"--user", "nobody-here", "busybox", "true"}, 126},
		} {
			args := append([]string{"run", "--name", c.name, "--network", "none"}, c.args...)
			if _, stderr, code := h.run(args...); code != c.code && !(c.name == "cannot" && code == 125) {
				t.Errorf("%s: exit %d, want %d: %s", c.name, code, c.code, stderr)
			}
			id, _, code := h.run("inspect", "-f", "{{.Id}}", c.name)
			if code != 0 {
				continue // refused at create: nothing made
			}
			if n := h.rootfsMounts(strings.TrimSpace(id)); n != 0 {
				t.Errorf("%s: %d mounts of its rootfs after run", c.name, n)
			}
		}
		id := strings.TrimSpace(h.ok("run", "-d", "--network", "none", "busybox", "sleep", "1000"))
		if n := h.rootfsMounts(id); n != 1 {
			t.Errorf("run -d: %d mounts of its rootfs while it runs", n)
		}
		h.ok("stop", "-t", "0", id)
		if n := h.rootfsMounts(id); n != 0 {
			t.Errorf("run -d, stopped: %d mounts", n)
		}
	})
}

// TestSweepRemovesSnapshot: a container directory whose record is gone (the
// monitor of a --rm container removes the record, reports the end, then the
// snapshot and the directories; killed in between, it leaves them) is swept
// by the next listing with its snapshot and its state.
func TestSweepRemovesSnapshot(t *testing.T) {
	h := newHullEnv(t, "hull")
	stopped := strings.TrimSpace(h.ok("create", "--network", "none", "busybox", "true"))
	running := strings.TrimSpace(h.ok("run", "-d", "--network", "none", "busybox", "sleep", "1000"))
	h.ok("kill", running)
	h.ok("wait", running)
	for _, id := range []string{stopped, running} {
		if err := os.Remove(filepath.Join(h.root, "containers", id, "config.json")); err != nil {
			t.Fatal(err)
		}
	}
	if out := h.ok("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("ps -a lists %q", out)
	}
	for _, id := range []string{stopped, running} {
		for _, d := range []string{filepath.Join(h.root, "containers", id), filepath.Join(h.root, "snapshots", id), filepath.Join(h.state, "containers", id)} {
			if _, err := os.Stat(d); err == nil {
				t.Errorf("%s left after the sweep", d)
			}
		}
		if n := h.rootfsMounts(id); n != 0 {
			t.Errorf("%d mounts of %s left", n, id[:12])
		}
	}
}
