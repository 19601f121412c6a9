package main

import (
	"slices"
	"strings"
	"testing"
)

// complete asks hull for the completions of a command line, as the shell scripts of
// `hull completion` do, and returns the candidates.
func (h *hullEnv) complete(words ...string) []string {
	h.t.Helper()
	out := h.ok(append([]string{"__complete"}, words...)...)
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, ":") { // the last line is the directive
			names = append(names, l)
		}
	}
	return names
}

func TestCompletion(t *testing.T) {
	h := newHullEnv(t, "hull")
	up := strings.TrimSpace(h.ok("run", "-d", "--name", "up", "busybox", "sleep", "100"))
	h.ok("create", "--name", "down", "busybox", "true")
	h.ok("volume", "create", "vol1")
	for _, c := range []struct {
		words     []string
		want, not []string
	}{
		{[]string{"exec", ""}, []string{"up"}, []string{"down"}},
		{[]string{"container", "exec", ""}, []string{"up"}, []string{"down"}},
		{[]string{"exec", "up", ""}, nil, []string{"up", "down"}},
		{[]string{"stop", "up", ""}, nil, []string{"up", "down"}},
		{[]string{"rm", ""}, []string{"up", "down"}, nil},
		{[]string{"logs", "d"}, []string{"down"}, []string{"up"}},
		{[]string{"inspect", up[:5]}, []string{up[:12]}, nil},
		{[]string{"run", "--rm", ""}, []string{"busybox:latest"}, nil},
		{[]string{"rmi", "docker.io/"}, []string{"docker.io/library/busybox:latest"}, nil},
		{[]string{"image", "push", ""}, []string{"busybox:latest"}, nil},
		{[]string{"volume", "rm", ""}, []string{"vol1"}, []string{"up"}},
	} {
		got := h.complete(c.words...)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("complete %q: %q, want %s", c.words, got, w)
			}
		}
		for _, n := range c.not {
			if slices.Contains(got, n) {
				t.Errorf("complete %q: %q, not %s", c.words, got, n)
			}
		}
	}
}

func TestContainerGroup(t *testing.T) {
	h := newHullEnv(t, "hull")
	h.ok("create", "--name", "one", "busybox", "true")
	h.ok("run", "-d", "--name", "two", "busybox", "sleep", "100")
	// Twice at most: the CREATED column may tick between the two commands.
	for i := 0; ; i++ {
		ls, ps := h.ok("container", "ls", "-a"), h.ok("ps", "-a")
		if ls == ps && strings.Count(ls, "\n") == 3 {
			break
		}
		if i == 1 {
			t.Fatalf("container ls -a:\n%s\nps -a:\n%s", ls, ps)
		}
	}
	if ls, ps := h.ok("container", "ls"), h.ok("ps"); strings.Count(ls, "\n") != 2 || !strings.Contains(ls, "two") || strings.Count(ps, "\n") != 2 {
		t.Errorf("container ls:\n%s\nps:\n%s", ls, ps)
	}
	// run keeps its flags apart from the command's own (-c).
	if out := h.ok("container", "run", "--rm", "busybox", "sh", "-c", "echo hi"); out != "hi\n" {
		t.Errorf("container run: %q", out)
	}
	if out := h.ok("image", "ls", "-q"); out != h.ok("images", "-q") || out == "" {
		t.Errorf("image ls -q: %q", out)
	}
	if _, _, code := h.run("image", "push", "--help"); code != 0 {
		t.Error("no image push")
	}
	h.ok("container", "rm", "-f", "one", "two")
	if out := h.ok("ps", "-aq"); out != "" {
		t.Errorf("container rm left %q", out)
	}
}
