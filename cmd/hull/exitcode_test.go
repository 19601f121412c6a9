package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartExitCodes: a bind mount whose source went between create and start
// fails the start with hull's own exit code, 125, although its error says "no such
// file or directory" (it is no missing program: 127 would say "command not found");
// the record keeps 125. What does concern the program keeps docker's codes, here for
// exec: a missing working directory 127, a directory as the program 126.
func TestStartExitCodes(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		src := filepath.Join(t.TempDir(), "src")
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSpace(h.ok("create", "--mount", "type=bind,src="+src+",dst=/x", "busybox", "true"))
		if err := os.Remove(src); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := h.run("start", "-a", id)
		if code != 125 || !strings.Contains(stderr, "no such file or directory") {
			t.Errorf("start -a with the bind source gone: exit %d, want 125 (%s)", code, stderr)
		}
		if got := h.inspect(id, "{{.State.ExitCode}}"); got != "125" {
			t.Errorf("recorded exit code %s, want 125", got)
		}

		h.ok("run", "-d", "--name", "x", "busybox", "sleep", "100")
		for _, c := range []struct {
			args []string
			code int
		}{
			{[]string{"exec", "-w", "/no/such/dir", "x", "true"}, 127},
			{[]string{"exec", "x", "/etc"}, 126},
		} {
			if _, stderr, code := h.run(c.args...); code != c.code {
				t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, stderr)
			}
		}
	})
}
