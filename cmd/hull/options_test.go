package main

import (
	"strings"
	"testing"
)

// TestOptionErrorsAtOnce: run and create refuse every bad option at once, one
// "hull: " line each, with exit 125, before they pull the image, and leave nothing;
// update refuses its bad options once, before any container, with 125 as well.
func TestOptionErrorsAtOnce(t *testing.T) {
	h := newHullEnv(t, "hull")
	for _, verb := range []string{"run", "create"} {
		out, stderr, code := h.run(verb, "--network", "none", "-m", "1k", "--dns", "x", "--restart", "sometimes", "nosuchimage", "true")
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != 125 || out != "" || len(lines) != 3 ||
			!strings.HasPrefix(lines[0], "hull: minimum memory limit allowed is 6MB") ||
			!strings.HasPrefix(lines[1], `hull: invalid --dns "x"`) ||
			!strings.HasPrefix(lines[2], `hull: invalid restart policy "sometimes"`) {
			t.Errorf("%s with three bad options: exit %d, %q %q", verb, code, out, stderr)
		}
		// --cpus was the CLI's to judge; it is the engine's now, and still comes
		// before the pull.
		_, stderr, code = h.run(verb, "--cpus", "-1", "nosuchimage", "true")
		if code != 125 || stderr != "hull: invalid --cpus: it must be positive\n" {
			t.Errorf("%s --cpus -1: exit %d, %q", verb, code, stderr)
		}
	}
	if ids := h.ids(); len(ids) > 0 {
		t.Errorf("refused creates left records: %v", ids)
	}
	h.noLeftovers(t, nil)

	h.ok("create", "--name", "u", "--network", "none", "-m", "64m", "busybox", "true")
	_, stderr, code := h.run("update", "-m", "1k", "--cpus", "-1", "--restart", "sometimes", "u", "nosuchcontainer")
	if code != 125 || stderr != "hull: minimum memory limit allowed is 6MB\nhull: invalid --cpus: it must be positive\n"+
		"hull: invalid restart policy \"sometimes\": want no, on-failure[:N], always or unless-stopped\n" {
		t.Errorf("update with three bad options: exit %d, %q", code, stderr)
	}
	if got := h.inspect("u", "{{.HostConfig.Memory}} {{.HostConfig.NanoCPUs}} {{.HostConfig.RestartPolicy.Name}}"); got != "67108864 0 no" {
		t.Errorf("a refused update changed the container: %s", got)
	}
	// What depends on the container stays each container's error (exit 1).
	if _, stderr, code := h.run("update", "--memory-swap", "32m", "u"); code != 1 || !strings.Contains(stderr, "memory-swap limit should be larger") {
		t.Errorf("update --memory-swap under the memory limit: exit %d, %q", code, stderr)
	}
}
