package escape_test

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestNoLeakedDescriptors is the first half of CVE-2024-21626: a container's
// processes, its init and an exec'd one, hold nothing but stdio. A descriptor the
// runtime keeps for itself (a cgroup directory, the state directory, the sync
// socket, the exec fifo, its own binary) is never visible inside.
func TestNoLeakedDescriptors(t *testing.T) {
	eachRuntime(t, func(t *testing.T, r *rt) {
		t.Run("run", func(t *testing.T) {
			r := r.sub(t)
			out, stderr, code := r.runFg(r.bundle([]string{"/attack", "fds"}, nil))
			if code != 0 {
				t.Fatalf("run: exit %d: %s", code, stderr)
			}
			checkOnlyStdio(t, out, "self")
		})
		t.Run("exec", func(t *testing.T) {
			r := r.sub(t)
			// init is busybox: a Go program has descriptors of its own.
			id, _ := r.start(r.bundle([]string{"/bin/sleep", "600"}, nil))
			out, stderr, code := r.run("exec", id, "/attack", "fds", "1")
			if code != 0 {
				t.Fatalf("exec: exit %d: %s", code, stderr)
			}
			checkOnlyStdio(t, out, "self", "1")
		})
	})
}

// checkOnlyStdio checks the "fd PID N TARGET" lines of `attack fds`: each pid listed
// holds exactly 0, 1 and 2.
func checkOnlyStdio(t *testing.T, out string, pids ...string) {
	t.Helper()
	got := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.SplitN(l, " ", 4)
		if len(f) < 3 || f[0] != "fd" {
			continue
		}
		got[f[1]] = append(got[f[1]], strings.Join(f[2:], " "))
	}
	for _, pid := range pids {
		var nums []string
		for _, e := range got[pid] {
			nums = append(nums, strings.Fields(e)[0])
		}
		if strings.Join(nums, ",") != "0,1,2" {
			t.Errorf("descriptors of %s: want only 0, 1 and 2, got:\n  %s", pid, strings.Join(got[pid], "\n  "))
		}
	}
}

// TestCwdOutsideRoot is the second half of CVE-2024-21626: a working directory of
// /proc/self/fd/N names whatever the runtime had open as N when it changed
// directory. Given to exec (--cwd) or as process.cwd, it must either fail or leave
// the process inside the container.
func TestCwdOutsideRoot(t *testing.T) {
	eachRuntime(t, func(t *testing.T, r *rt) {
		t.Run("exec", func(t *testing.T) {
			r := r.sub(t)
			id, _ := r.start(r.bundle([]string{"/attack", "sleep"}, nil))
			for n := 3; n <= 12; n++ {
				cwd := fmt.Sprintf("/proc/self/fd/%d", n)
				out, stderr, code := r.run("exec", "--cwd", cwd, id, "/attack", "cwd")
				checkCwd(t, cwd, out, stderr, code)
			}
		})
		t.Run("process.cwd", func(t *testing.T) {
			r := r.sub(t)
			for _, n := range []int{3, 4, 5, 6, 7, 8} {
				cwd := fmt.Sprintf("/proc/self/fd/%d", n)
				out, stderr, code := r.runFg(r.bundle([]string{"/attack", "cwd"}, func(s *specs.Spec, _ string) {
					s.Process.Cwd = cwd
				}))
				checkCwd(t, cwd, out, stderr, code)
			}
		})
	})
}

func checkCwd(t *testing.T, cwd, out, stderr string, code int) {
	t.Helper()
	if code != 0 {
		t.Logf("cwd %s: refused (exit %d): %s", cwd, code, strings.TrimSpace(stderr))
		return
	}
	kv := keyValues(out)
	if kv["inside"] != "true" || !strings.HasPrefix(kv["cwd"], "/") {
		t.Errorf("cwd %s: the process runs outside the container: %q", cwd, out)
	} else {
		t.Logf("cwd %s: ran inside the container, in %s", cwd, kv["cwd"])
	}
}
