package hullrt_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunShowsIsolation(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", "echo pid=$$; hostname; cat /proc/self/cgroup | head -1"}, func(s *specs.Spec) {
		s.Hostname = "box"
	})
	out, stderr, code := e.runIn(b, nil, "run", "c1")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"pid=1\n", "box\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if e.must("list", "-q") != "" {
		t.Errorf("run left the container behind")
	}
}

func TestRunExitCode(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", "exit 7"}, nil)
	if _, stderr, code := e.runIn(b, nil, "run", "c1"); code != 7 {
		t.Fatalf("exit code %d, want 7 (%s)", code, stderr)
	}
	// Signals a pid 1 has no handler for do not reach it from inside its own pid
	// namespace, so this container shares the host's.
	b = e.bundle([]string{"sh", "-c", "kill -9 $$"}, func(s *specs.Spec) { dropNamespace(s, specs.PIDNamespace) })
	if _, stderr, code := e.runIn(b, nil, "run", "c2"); code != 137 {
		t.Fatalf("exit code %d, want 137 (%s)", code, stderr)
	}
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("create", "--bundle", b, "--pid-file", pidFile, "c1")
	st := e.state("c1")
	if st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("after create: %+v", st)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(st.Pid) {
		t.Fatalf("pid file %q, state pid %d (%v)", data, st.Pid, err)
	}
	e.must("start", "c1")
	if st := e.state("c1"); st.Status != "running" {
		t.Fatalf("after start: %s", st.Status)
	}
	if _, _, code := e.run("start", "c1"); code == 0 {
		t.Errorf("a second start succeeded")
	}
	if _, _, code := e.run("delete", "c1"); code == 0 {
		t.Errorf("delete of a running container succeeded without --force")
	}
	e.must("kill", "c1", "KILL")
	e.waitStatus("c1", "stopped")
	if st := e.state("c1"); st.Pid != 0 {
		t.Errorf("a stopped container shows pid %d", st.Pid)
	}
	if _, stderr, code := e.run("kill", "c1"); code == 0 || !strings.Contains(stderr, "not running") {
		t.Errorf("kill of a stopped container: exit %d, %q", code, stderr)
	}
	e.must("delete", "c1")
	if _, _, code := e.run("state", "c1"); code == 0 {
		t.Errorf("state after delete succeeded")
	}
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) { s.Hostname = "box" })
	e.must("run", "-d", "--bundle", b, "c1")
	out := e.must("exec", "c1", "sh", "-c", "hostname; tr '\\0' ' ' </proc/1/cmdline")
	if out != "box\nsleep 100 " {
		t.Errorf("exec output %q", out)
	}
	if _, _, code := e.run("exec", "c1", "sh", "-c", "exit 5"); code != 5 {
		t.Errorf("exec exit code %d, want 5", code)
	}
	out = e.must("exec", "--cwd", "/tmp", "--env", "FOO=bar", "--user", "65534:65534", "c1", "sh", "-c", "pwd; echo $FOO; id -u; id -g")
	if out != "/tmp\nbar\n65534\n65534\n" {
		t.Errorf("exec with flags: %q", out)
	}
	if _, stderr, code := e.run("exec", "c1", "nonexistent"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("exec of a missing program: exit %d, %q", code, stderr)
	}
}

func dropNamespace(s *specs.Spec, t specs.LinuxNamespaceType) {
	var keep []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			keep = append(keep, ns)
		}
	}
	s.Linux.Namespaces = keep
}

// TestRunForwardsSignals: a signal to `hullrt run` goes to the container's
// process, and run still deletes the container once that exits. The signals stay
// caught until run itself exits (no signal.Stop on the way out). SIGALRM is one
// run catches beside the container's creation, not before it (sigsFirst): from
// the start on it is forwarded like the others.
func TestRunForwardsSignals(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", `trap "exit 42" TERM; trap "echo alarm" ALRM; echo ready; while :; do sleep 0.05; done`}, nil)
	id := cid("sig")
	cmd, out := e.background("run", "--bundle", b, id)
	// The trap is set once the shell says so.
	waitOutput(t, out.Name(), "ready", "the container's shell never got ready")
	if err := cmd.Process.Signal(syscall.SIGALRM); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out.Name(), "alarm", "SIGALRM never reached the container's shell")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitCmd(t, cmd, 10*time.Second); code != 42 {
		data, _ := os.ReadFile(out.Name())
		t.Fatalf("run exited %d, want the program's 42: %s", code, data)
	}
	e.checkNothingLeft(id)
}
