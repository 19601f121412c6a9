package main

import (
	"strings"
	"testing"
	"time"
)

// TestManyAtOnce: stop, start, kill and rm with many containers work on them
// concurrently (six containers that ignore SIGTERM stop in one grace period, not
// six), print the names in the arguments' order as docker does, and a bad name
// among them makes the command fail without keeping it from the others.
func TestManyAtOnce(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		names := []string{"m3", "m1", "m5", "m0", "m4", "m2"} // not sorted
		for _, n := range names {
			// sleep as PID 1 has no handler: the kernel drops SIGTERM for it
			h.ok("run", "-d", "--network", "none", "--name", n, "busybox", "sleep", "100")
		}
		want := strings.Join(names, "\n") + "\n"
		args := append([]string{"stop", "-t", "2", names[0], "nosuch"}, names[1:]...)
		start := time.Now()
		out, stderr, code := h.run(args...)
		d := time.Since(start)
		if code != 1 || !strings.Contains(stderr, "nosuch") {
			t.Errorf("stop with a bad name: exit %d, stderr %q", code, stderr)
		}
		if out != want {
			t.Errorf("stop printed %q, want %q", out, want)
		}
		// one by one it would take 12 s at least
		if d < 2*time.Second || d > 9*time.Second {
			t.Errorf("stop -t 2 of %d containers took %v", len(names), d)
		}
		for _, n := range names {
			if st := h.inspect(n, "{{.State.Status}}"); st != "exited" {
				t.Errorf("%s after stop: %s", n, st)
			}
		}
		if out := h.ok(append([]string{"start"}, names...)...); out != want {
			t.Errorf("start printed %q, want %q", out, want)
		}
		for _, n := range names {
			if st := h.inspect(n, "{{.State.Status}}"); st != "running" {
				t.Errorf("%s after start: %s", n, st)
			}
		}
		if out := h.ok(append([]string{"kill"}, names...)...); out != want {
			t.Errorf("kill printed %q, want %q", out, want)
		}
		h.ok(append([]string{"wait"}, names...)...)
		if out := h.ok(append([]string{"rm"}, names...)...); out != want {
			t.Errorf("rm printed %q, want %q", out, want)
		}
		if out := h.ok("ps", "-aq"); out != "" {
			t.Errorf("ps -aq after rm: %q", out)
		}
	})
}
