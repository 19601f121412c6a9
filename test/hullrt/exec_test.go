package hullrt_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExecEntersAllNamespaces compares every /proc/self/ns link of an exec'd
// process with init's, in a container that has one of every type.
func TestExecEntersAllNamespaces(t *testing.T) {
	e := newEnv(t)
	needTimeNS(t, e)
	b := e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) {
		userNS(t, s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1000}}
	})
	pid := strconv.Itoa(e.startDetached(b, cid("x1")))
	out := e.must("exec", cid("x1"), "sh", "-c", "for n in "+strings.Join(nsTypes, " ")+"; do readlink /proc/self/ns/$n; done; echo $(id -u) $(cut -d' ' -f1 /proc/uptime) $(readlink /proc/self/ns/time_for_children) $(cat /proc/self/timens_offsets | tr '\\n' ' ')")
	l := lines(out)
	if len(l) != len(nsTypes)+1 {
		t.Fatalf("exec output %q", out)
	}
	for i, n := range nsTypes {
		if want := nsLink(t, pid, n); l[i] != want {
			t.Errorf("exec'd %s namespace %q, init's %q", n, l[i], want)
		}
	}
	f := strings.Fields(l[len(nsTypes)])
	up, _ := strconv.ParseFloat(f[1], 64)
	if f[0] != "0" || up-readUptime(t) < 990 {
		t.Errorf("exec'd process: uid and uptime %q", l[len(nsTypes)])
	}
}

// TestExecProcessFile runs a process.json with its own env, cwd, user and
// capabilities, and checks each from inside.
func TestExecProcessFile(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	e.startDetached(b, cid("x2"))
	p := specs.Process{
		Args: []string{"sh", "-c", "echo $FOO; pwd; id -u; id -g; grep -e ^Groups -e ^CapEff -e ^CapBnd /proc/self/status"},
		Env:  []string{"PATH=/bin", "FOO=from-process-file"},
		Cwd:  "/tmp",
		User: specs.User{UID: 0, GID: 7, AdditionalGids: []uint32{11, 12}},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
		},
	}
	data, _ := json.Marshal(p)
	pf := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(pf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.must("exec", "--process", pf, cid("x2"))
	// uid 0 gets at execve every capability of its bounding set, permitted and
	// effective alike.
	want := "from-process-file\n/tmp\n0\n7\nGroups:\t11 12 \nCapEff:\t0000000000000021\nCapBnd:\t0000000000000021\n"
	if out != want {
		t.Errorf("exec --process output\n%q, want\n%q", out, want)
	}
}

// TestExecDetachPidFile starts a detached process and checks its pid file names a
// process of the container's cgroup running the program.
func TestExecDetachPidFile(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	e.startDetached(b, cid("x3"))
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	e.must("exec", "-d", "--pid-file", pidFile, cid("x3"), "sleep", "77")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatalf("pid file %q", data)
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if string(cmdline) != "sleep\x0077\x00" {
		t.Errorf("pid %d runs %q", pid, cmdline)
	}
	var pids []int
	if err := json.Unmarshal([]byte(e.must("ps", "--format", "json", cid("x3"))), &pids); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pids {
		found = found || p == pid
	}
	if !found {
		t.Errorf("exec'd pid %d not in the container's cgroup %v", pid, pids)
	}
}

// TestExecPreserveFds passes an extra descriptor to the exec'd process, and only it.
func TestExecPreserveFds(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	e.startDetached(b, cid("x4"))
	f3 := filepath.Join(t.TempDir(), "three")
	os.WriteFile(f3, []byte("preserved-three"), 0o644)
	r3, _ := os.Open(f3)
	defer r3.Close()
	r4, _ := os.Open(f3) // fd 4: not preserved
	defer r4.Close()
	cmd, out, errb := e.cmd("exec", "--preserve-fds", "1", cid("x4"), "sh", "-c", "cat <&3; echo; ls /proc/self/fd | tr '\\n' ' '")
	cmd.ExtraFiles = []*os.File{r3, r4}
	if err := cmd.Run(); err != nil {
		t.Fatalf("exec: %v: %s", err, errb())
	}
	// ls itself opens fd 3 for the directory listing... no: fd 3 is preserved, so
	// ls's own directory is 4.
	if want := "preserved-three\n0 1 2 3 4 "; out() != want {
		t.Errorf("exec --preserve-fds 1: %q, want %q", out(), want)
	}
	if _, _, code := e.run("exec", "--preserve-fds", "-1", cid("x4"), "true"); code == 0 {
		t.Errorf("--preserve-fds -1 accepted")
	}
}

// TestExecTTY runs exec --tty with a console socket: the pty master arrives there,
// and the process sees a terminal.
func TestExecTTY(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	e.startDetached(b, cid("x5"))
	sock, masters := consoleSocket(t)
	cmd, _, errb := e.cmd("exec", "--tty", "--console-socket", sock, cid("x5"), "sh", "-c", "tty; test -t 0 && test -t 1 && echo isatty")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m, ok := <-masters
	if !ok {
		cmd.Wait()
		t.Fatalf("no pty master received: %s", errb())
	}
	defer m.Close()
	out := readMaster(t, m)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exec: %v: %s", err, errb())
	}
	if !strings.HasPrefix(out, "/dev/pts/") || !strings.HasSuffix(out, "\nisatty\n") {
		t.Errorf("tty output %q", out)
	}
}

// TestExecExitCodes: exit status and death by signal come back as hullrt's code.
func TestExecExitCodes(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	e.startDetached(b, cid("x6"))
	for _, c := range []struct {
		script string
		code   int
	}{{"exit 0", 0}, {"exit 3", 3}, {"exit 255", 255}, {"kill -9 $$", 137}, {"kill -15 $$", 143}} {
		if _, stderr, code := e.run("exec", cid("x6"), "sh", "-c", c.script); code != c.code {
			t.Errorf("exec %q: exit %d, want %d (%s)", c.script, code, c.code, stderr)
		}
	}
	e.must("kill", cid("x6"), "KILL")
	e.waitStatus(cid("x6"), "stopped")
	if _, stderr, code := e.run("exec", cid("x6"), "true"); code != 1 || len(lines(stderr)) != 1 {
		t.Errorf("exec in a stopped container: exit %d, %q", code, stderr)
	}
}
