package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/runtime/console"
)

var (
	buildOnce sync.Once
	buildDir  string
	hullBin   string
	buildErr  error
)

// binary builds hull once for the package's tests; $HULL names a build to use
// instead, with hull-monitor beside it (the cgroup v2 VM has no Go to build with).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if bin := os.Getenv("HULL"); bin != "" {
			hullBin = bin
			if _, buildErr = os.Stat(filepath.Join(filepath.Dir(bin), "hull-monitor")); buildErr != nil {
				buildErr = fmt.Errorf("$HULL: no hull-monitor beside it: %w", buildErr)
			}
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "hull-cli-test-")
		if buildErr != nil {
			return
		}
		hullBin = filepath.Join(buildDir, "hull")
		out, err := exec.Command("go", "build", "-o", hullBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
			return
		}
		// hull-monitor beside it, as make build puts it: every test's container
		// that runs a second unattached is handed to the resident monitor.
		_, buildErr = testutil.Monitor(buildDir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return hullBin
}

// hullEnv is one test's engine: its own roots, busybox imported, one runtime.
type hullEnv struct {
	t           *testing.T
	bin         string
	root, state string
	runtime     string
}

// runtimes runs fn once with hull's own runtime and once with runc.
func runtimes(t *testing.T, fn func(t *testing.T, h *hullEnv)) {
	for _, rt := range []string{"hull", "runc"} {
		t.Run(rt, func(t *testing.T) {
			testutil.RequireRoot(t)
			if rt != "hull" {
				if _, err := exec.LookPath(rt); err != nil {
					t.Skip(rt + " not installed")
				}
			}
			fn(t, newHullEnv(t, rt))
		})
	}
}

func newHullEnv(t *testing.T, rt string) *hullEnv {
	t.Helper()
	testutil.RequireRoot(t)
	if _, err := os.Stat(testutil.Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	h := &hullEnv{t: t, bin: binary(t), root: t.TempDir(), state: t.TempDir(), runtime: rt}
	s, err := image.Open(h.root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.BusyboxImage(context.Background(), s, "busybox"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out, _, _ := h.run("ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			if _, stderr, code := h.run("rm", "-f", id); code != 0 {
				t.Errorf("cleanup: rm -f %s: %s", id, stderr)
			}
		}
		// rm's deletion runs on after it (engine/trash.go): the root goes
		// after it.
		h.waitDeleters(t)
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mounts), h.root) {
			t.Errorf("mounts left under %s", h.root)
		}
	})
	return h
}

// run runs hull with args (run and create get --runtime) and returns its stdout,
// stderr and exit code.
func (h *hullEnv) run(args ...string) (string, string, int) {
	return h.runIn(nil, args...)
}

func (h *hullEnv) runIn(stdin io.Reader, args ...string) (string, string, int) {
	h.t.Helper()
	cmd := h.command(context.Background(), args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("hull %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// ok runs hull and fails the test unless it exits 0.
func (h *hullEnv) ok(args ...string) string {
	h.t.Helper()
	out, stderr, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("hull %v: exit %d: %s", args, code, stderr)
	}
	return out
}

// errorLine is stderr without what follows the error line of a usage error (the
// command's usage and where its help is): the error itself, which is one line.
func errorLine(stderr string) string {
	if i := strings.Index(stderr, "\n\nUsage:  "); i >= 0 {
		return stderr[:i+1]
	}
	return stderr
}

func (h *hullEnv) inspect(ref, format string) string {
	h.t.Helper()
	return strings.TrimSpace(h.ok("inspect", "-f", format, ref))
}

func TestRunExitCodes(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		out, stderr, code := h.run("run", "--rm", "busybox", "sh", "-c", "echo hello; echo oops >&2")
		if code != 0 || out != "hello\n" || stderr != "oops\n" {
			t.Errorf("echo: code %d out %q err %q", code, out, stderr)
		}
		cases := []struct {
			args []string
			code int
		}{
			{[]string{"busybox", "sh", "-c", "exit 3"}, 3},
			{[]string{"busybox", "true"}, 0},
			{[]string{"nosuchimage", "true"}, 125},
			{[]string{"--name", "a/b", "busybox", "true"}, 125},
			{[]string{"busybox", "/etc"}, 126},
			{[]string{"busybox", "/nonexistent"}, 127},
			{[]string{"busybox", "nosuchcommand"}, 127},
			{[]string{"busybox", "sh", "-c", "exit 255"}, 255},
		}
		for _, c := range cases {
			_, stderr, code := h.run(append([]string{"run", "--rm"}, c.args...)...)
			if code != c.code {
				t.Errorf("run %v: exit %d, want %d (%s)", c.args, code, c.code, stderr)
			}
		}
		if out := h.ok("ps", "-aq"); out != "" {
			t.Errorf("--rm left containers: %q", out)
		}
		if s := h.snapshots(); len(s) != 0 {
			t.Errorf("--rm left snapshots %v", s)
		}
	})
}

func TestDetachPsLogsStopRm(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		id := strings.TrimSpace(h.ok("run", "-d", "--name", "web", "-e", "GREETING=hi", "busybox",
			"sh", "-c", `trap "echo bye; exit 0" TERM; echo $GREETING; echo warn >&2; while :; do sleep 0.1; done`))
		if len(id) != 64 {
			t.Fatalf("run -d printed %q", id)
		}
		if out := h.ok("ps", "--format", "{{.Names}} {{.State}}"); out != "web running\n" {
			t.Errorf("ps: %q", out)
		}
		if out := h.ok("ps", "-q"); out != id[:12]+"\n" {
			t.Errorf("ps -q: %q", out)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(h.ok("logs", "web"), "hi") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		out, stderr, _ := h.run("logs", "web")
		if out != "hi\n" || stderr != "warn\n" {
			t.Errorf("logs: %q %q", out, stderr)
		}
		if pid := h.inspect("web", "{{.State.Pid}}"); pid == "0" {
			t.Error("inspect: no pid")
		}
		start := time.Now()
		h.ok("stop", "web")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("stop of a container that handles SIGTERM took %v", d)
		}
		if got := h.inspect(id[:8], "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}"); got != "exited 0 false" {
			t.Errorf("after stop: %s", got)
		}
		if out := h.ok("logs", "--tail", "1", "web"); out != "bye\n" {
			t.Errorf("logs --tail 1: %q", out)
		}
		if out := h.ok("logs", "-t", "web"); !strings.Contains(out, "Z hi\n") {
			t.Errorf("logs -t: %q", out)
		}
		if out := h.ok("ps"); strings.Contains(out, "web") {
			t.Errorf("ps shows a stopped container: %s", out)
		}
		if out := h.ok("ps", "-a"); !strings.Contains(out, "Exited (0)") {
			t.Errorf("ps -a: %s", out)
		}
		if out := h.ok("wait", "web"); out != "0\n" {
			t.Errorf("wait: %q", out)
		}
		h.ok("rm", "web")
		if _, _, code := h.run("inspect", "web"); code == 0 {
			t.Error("inspect after rm succeeded")
		}
	})
}

func TestStopTimeoutKills(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		// sleep as pid 1 has no handler: the kernel drops SIGTERM for it.
		h.ok("run", "-d", "--name", "stubborn", "busybox", "sleep", "100")
		start := time.Now()
		h.ok("stop", "-t", "1", "stubborn")
		if d := time.Since(start); d < time.Second || d > 15*time.Second {
			t.Errorf("stop -t 1 took %v", d)
		}
		if got := h.inspect("stubborn", "{{.State.ExitCode}}"); got != "137" {
			t.Errorf("exit code %s, want 137", got)
		}
		if out := h.ok("wait", "stubborn"); out != "137\n" {
			t.Errorf("wait after stop: %q", out)
		}
		if out := h.ok("ps", "-a", "--format", "{{.Status}}"); !strings.HasPrefix(out, "Exited (137)") {
			t.Errorf("ps -a after stop: %q", out)
		}
		// A handler that ignores SIGTERM, and the container's own --stop-timeout.
		h.ok("run", "-d", "--name", "ignores", "--stop-timeout", "2", "busybox", "sh", "-c", `trap "" TERM; echo ready; while :; do sleep 0.1; done`)
		h.waitLogs("ignores", "ready")
		start = time.Now()
		h.ok("stop", "ignores")
		if d := time.Since(start); d < 2*time.Second || d > 15*time.Second {
			t.Errorf("stop with --stop-timeout 2 took %v", d)
		}
		if out := h.ok("wait", "ignores"); out != "137\n" {
			t.Errorf("wait after stop of a SIGTERM-ignoring handler: %q", out)
		}
		// --stop-signal and kill -s
		h.ok("run", "-d", "--name", "usr1", "--stop-signal", "USR1", "busybox", "sh", "-c", `trap "exit 9" USR1; while :; do sleep 0.1; done`)
		time.Sleep(300 * time.Millisecond)
		h.ok("stop", "usr1")
		if got := h.inspect("usr1", "{{.State.ExitCode}}"); got != "9" {
			t.Errorf("--stop-signal USR1: exit %s", got)
		}
		h.ok("run", "-d", "--name", "k", "busybox", "sleep", "100")
		h.ok("kill", "k")
		if out := h.ok("wait", "k"); out != "137\n" {
			t.Errorf("kill + wait: %q", out)
		}
	})
}

func TestNamesAndPrefixes(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		id := strings.TrimSpace(h.ok("create", "--name", "one", "busybox", "true"))
		if _, stderr, code := h.run("create", "--name", "one", "busybox", "true"); code != 125 || !strings.Contains(stderr, "already in use") {
			t.Errorf("duplicate name: %d %s", code, stderr)
		}
		for _, bad := range []string{"../x", "a/b", "..", "-x", "a b"} {
			if _, stderr, code := h.run("create", "--name", bad, "busybox", "true"); code != 125 || !strings.Contains(stderr, "invalid container name") {
				t.Errorf("name %q: %d %s", bad, code, stderr)
			}
		}
		for _, ref := range []string{"one", "/one", id, id[:5]} {
			if got := h.inspect(ref, "{{.Id}}"); got != id {
				t.Errorf("inspect %s: %s", ref, got)
			}
		}
		if got := h.inspect("one", "{{.Name}} {{.State.Status}}"); got != "/one created" {
			t.Errorf("created: %s", got)
		}
		// start -a of a created container runs it in the foreground.
		out, _, code := h.run("start", "-a", "one")
		if code != 0 || out != "" {
			t.Errorf("start -a: %d %q", code, out)
		}
		id2 := strings.TrimSpace(h.ok("create", "busybox", "echo", "again"))
		if name := h.inspect(id2, "{{.Name}}"); len(name) < 3 {
			t.Errorf("no generated name: %q", name)
		}
		h.ok("start", id2[:12])
		if out := h.ok("wait", id2); out != "0\n" {
			t.Errorf("wait: %q", out)
		}
		if out := h.ok("logs", id2); out != "again\n" {
			t.Errorf("logs: %q", out)
		}
		if _, stderr, code := h.run("rm", "nope"); code == 0 || !strings.Contains(stderr, "no such container") {
			t.Errorf("rm nope: %d %s", code, stderr)
		}
	})
}

// record reads a container's record as the engine wrote it.
func (h *hullEnv) record(id string) map[string]any {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.root, "containers", id, "config.json"))
	if err != nil {
		h.t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	return m
}

func TestMonitorKilled(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		id := strings.TrimSpace(h.ok("run", "-d", "busybox", "sh", "-c", "echo before; exec sleep 100"))
		h.waitLogs(id, "before")
		mon := int(h.record(id)["State"].(map[string]any)["MonitorPid"].(float64))
		if mon <= 0 {
			t.Fatal("no monitor pid recorded")
		}
		if err := syscall.Kill(mon, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitGone(t, mon)
		if out := h.ok("ps", "--format", "{{.State}}"); out != "running\n" {
			t.Errorf("ps without a monitor: %q", out)
		}
		// The container itself lives on.
		pid, _ := strconv.Atoi(h.inspect(id, "{{.State.Pid}}"))
		if pid <= 0 || syscall.Kill(pid, 0) != nil {
			t.Errorf("the container's init (pid %d) is gone with its monitor", pid)
		}
		if out := h.ok("logs", id); out != "before\n" {
			t.Errorf("logs without a monitor: %q", out)
		}
		h.ok("stop", "-t", "1", id)
		if got := h.inspect(id, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 137" {
			t.Errorf("after stop: %s", got)
		}
		if out := h.ok("wait", id); out != "137\n" {
			t.Errorf("wait after stop: %q", out)
		}
		if out := h.ok("logs", id); out != "before\n" {
			t.Errorf("logs after stop: %q", out)
		}
		h.ok("rm", id)

		// rm -f of a container whose monitor is gone
		id = strings.TrimSpace(h.ok("run", "-d", "busybox", "sleep", "100"))
		mon = int(h.record(id)["State"].(map[string]any)["MonitorPid"].(float64))
		syscall.Kill(mon, syscall.SIGKILL)
		time.Sleep(100 * time.Millisecond)
		h.ok("rm", "-f", id)
		if out := h.ok("ps", "-aq"); out != "" {
			t.Errorf("left: %q", out)
		}
	})
}

func TestLogRotation(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		out := h.ok("run", "--name", "chatty", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox",
			"sh", "-c", "i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo line $i; done")
		if !strings.HasSuffix(out, "line 300\n") || strings.Count(out, "\n") != 300 {
			t.Errorf("foreground output: %d lines", strings.Count(out, "\n"))
		}
		id := h.inspect("chatty", "{{.Id}}")
		log := filepath.Join(h.root, "containers", id, id+"-json.log")
		var files []string
		for _, f := range []string{log, log + ".1", log + ".2", log + ".3"} {
			if st, err := os.Stat(f); err == nil {
				files = append(files, f)
				if st.Size() > 2048 {
					t.Errorf("%s is %d bytes", f, st.Size())
				}
			}
		}
		if len(files) != 3 {
			t.Errorf("%d log files, want 3", len(files))
		}
		if out := h.ok("logs", "--tail", "2", "chatty"); out != "line 299\nline 300\n" {
			t.Errorf("tail: %q", out)
		}
		lines := strings.Split(strings.TrimSpace(h.ok("logs", "chatty")), "\n")
		if len(lines) < 30 || lines[len(lines)-1] != "line 300" {
			t.Errorf("logs after rotation: %d lines", len(lines))
		}
		data, _ := os.ReadFile(log)
		var e struct{ Log, Stream, Time string }
		if err := json.Unmarshal(bytes.SplitN(data, []byte("\n"), 2)[0], &e); err != nil || e.Stream != "stdout" || !strings.HasPrefix(e.Log, "line ") {
			t.Errorf("json-file line: %s (%v)", data[:80], err)
		}
	})
}

func TestLogsFollow(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.ok("run", "-d", "--name", "f", "busybox", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done")
		out := h.ok("logs", "-f", "f")
		if out != "1\n2\n3\n" {
			t.Errorf("logs -f: %q", out)
		}
	})
}

func TestExec(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.ok("run", "-d", "--name", "x", "-e", "A=1", "--group-add", "nogroup", "--group-add", "44", "busybox", "sleep", "100")
		if out := h.ok("exec", "x", "sh", "-c", "echo $A $B; id -G", "-n"); out != "1\n0 44 65534\n" { // the kernel sorts the list
			t.Errorf("exec: %q", out)
		}
		// the container's --group-add holds for another user too, as Docker's
		if out := h.ok("exec", "-e", "B=2", "-u", "nobody", "-w", "/tmp", "x", "sh", "-c", "echo $A $B; id -u; pwd; id -G"); out != "1 2\n65534\n/tmp\n65534 44\n" {
			t.Errorf("exec -e -u -w: %q", out)
		}
		if _, stderr, code := h.run("run", "--rm", "--group-add", "ghost", "busybox", "true"); code != 125 || !strings.Contains(stderr, "unable to find group ghost") {
			t.Errorf("--group-add ghost: exit %d %s", code, stderr)
		}
		if n := len(strings.Fields(h.ok("ps", "-aq"))); n != 1 {
			t.Errorf("after a refused --group-add: %d containers", n)
		}
		if _, _, code := h.run("exec", "x", "sh", "-c", "exit 5"); code != 5 {
			t.Errorf("exec exit code %d", code)
		}
		if _, _, code := h.run("exec", "x", "nosuchcommand"); code != 127 {
			t.Errorf("exec of a missing command: %d", code)
		}
		if out, _, _ := h.runIn(strings.NewReader("piped\n"), "exec", "-i", "x", "cat"); out != "piped\n" {
			t.Errorf("exec -i: %q", out)
		}
		h.ok("exec", "-d", "x", "sleep", "50")
		if out := h.ok("exec", "x", "ps", "-o", "args"); !strings.Contains(out, "sleep 50") {
			t.Errorf("exec -d process not running: %s", out)
		}
		h.ok("rm", "-f", "x")
		if _, stderr, code := h.run("exec", "x", "true"); code == 0 || !strings.Contains(stderr, "no such container") {
			t.Errorf("exec in removed: %d %s", code, stderr)
		}
	})
}

func TestRunOptions(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		out := h.ok("run", "--rm", "--hostname", "box", "-w", "/tmp", "-u", "65534:65534", "--read-only",
			"--cap-drop", "ALL", "--cap-add", "KILL", "busybox", "sh", "-c", "hostname; pwd; id -u; id -g; grep CapBnd /proc/self/status; touch /x 2>/dev/null || echo ro; cat /etc/hostname")
		if out != "box\n/tmp\n65534\n65534\nCapBnd:\t0000000000000020\nro\nbox\n" {
			t.Errorf("options: %q", out)
		}
		out = h.ok("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b")
		if out != "a b\n" {
			t.Errorf("--entrypoint: %q", out)
		}
		out = h.ok("run", "--rm", "--pids-limit", "50", "-m", "64m", "--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -n; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
		if out != "100\n50\n" {
			t.Errorf("limits: %q", out)
		}
		out = h.ok("run", "--rm", "busybox", "sh", "-c", "grep Seccomp: /proc/self/status; ls /sys/class/net")
		if out != "Seccomp:\t2\neth0\nlo\n" { // on the default network
			t.Errorf("defaults: %q", out)
		}
		out = h.ok("run", "--rm", "--security-opt", "seccomp=unconfined", "--network", "host", "busybox", "sh", "-c", "grep Seccomp: /proc/self/status; ls /sys/class/net | grep -c .")
		if strings.HasPrefix(out, "Seccomp:\t2") || strings.HasSuffix(out, "\n1\n") {
			t.Errorf("unconfined, host network: %q", out)
		}
		cid := filepath.Join(t.TempDir(), "cid")
		h.ok("run", "--rm", "--cidfile", cid, "busybox", "true")
		if data, _ := os.ReadFile(cid); len(data) != 64 {
			t.Errorf("cidfile: %q", data)
		}
		env := filepath.Join(t.TempDir(), "env")
		os.WriteFile(env, []byte("# comment\nX=from-file\n"), 0o644)
		if out := h.ok("run", "--rm", "--env-file", env, "-l", "a=b", "busybox", "sh", "-c", "echo $X"); out != "from-file\n" {
			t.Errorf("--env-file: %q", out)
		}
	})
}

func TestRmiRefusesImageInUse(t *testing.T) {
	h := newHullEnv(t, "hull")
	h.ok("create", "--name", "user", "busybox", "true")
	if _, stderr, code := h.run("rmi", "busybox"); code == 0 || !strings.Contains(stderr, `conflict: unable to remove repository reference "busybox" (must force) - container `) {
		t.Errorf("rmi of an image in use: %d %s", code, stderr)
	}
	h.ok("rm", "user")
	h.ok("rmi", "busybox")
}

// TestRunSpeed measures `hull run --rm busybox true` (wall time, median of 7) with
// hull's runtime and with runc; it reports, it does not judge.
func TestRunSpeed(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.ok("run", "--rm", "busybox", "true") // warm the page cache
		var ds []time.Duration
		for i := 0; i < 7; i++ {
			start := time.Now()
			h.ok("run", "--rm", "busybox", "true")
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("hull run --rm busybox true (runtime %s): median %v, min %v", h.runtime, ds[3], ds[0])
	})
}

// runOnPty runs hull with a terminal of rows x cols as its stdio and returns what
// the terminal showed and the exit code.
func (h *hullEnv) runOnPty(input string, args ...string) (string, int) {
	h.t.Helper()
	master, slave, err := console.OpenPty("/dev/ptmx")
	if err != nil {
		h.t.Fatal(err)
	}
	defer master.Close()
	console.SetSize(slave, 33, 77)
	cmd := h.command(context.Background(), args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	slave.Close()
	if input != "" {
		go func() { time.Sleep(300 * time.Millisecond); master.Write([]byte(input)) }()
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, master); close(done) }()
	err = cmd.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return strings.ReplaceAll(out.String(), "\r", ""), code
}

func TestTerminal(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		out, code := h.runOnPty("", "run", "--rm", "-it", "busybox", "sh", "-c", "tty; stty size; echo $TERM; exit 3")
		if code != 3 || !strings.Contains(out, "/dev/pts/0\n33 77\nxterm\n") {
			t.Errorf("run -it: exit %d, %q", code, out)
		}
		out, code = h.runOnPty("echo typed-$((40+2))\nexit 4\n", "run", "--rm", "-it", "busybox", "sh")
		if code != 4 || !strings.Contains(out, "typed-42") {
			t.Errorf("run -it with input: exit %d, %q", code, out)
		}
		h.ok("run", "-d", "--name", "bg", "busybox", "sleep", "100")
		out, code = h.runOnPty("", "exec", "-it", "bg", "sh", "-c", "tty; stty size; exit 5")
		if code != 5 || !strings.Contains(out, "/dev/pts/0\n33 77\n") {
			t.Errorf("exec -it: exit %d, %q", code, out)
		}
	})
}

func TestOOMKilled(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		// tail keeps every byte of a line that never ends: it grows until killed.
		_, _, code := h.run("run", "--name", "hog", "-m", "16m", "busybox", "sh", "-c", "tail /dev/zero")
		if code != 137 {
			t.Errorf("exit %d, want 137", code)
		}
		if got := h.inspect("hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"); got != "true 137" {
			t.Errorf("inspect: %s", got)
		}
	})
}

func TestConcurrentNamesAndDetachedRm(t *testing.T) {
	h := newHullEnv(t, "hull")
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, codes[i] = h.run("create", "--name", "same", "busybox", "true")
		}()
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		if c == 0 {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d creates of one name succeeded (%v)", won, codes)
	}
	h.ok("rm", "same")
	h.ok("run", "-d", "--rm", "busybox", "true")
	deadline := time.Now().Add(5 * time.Second)
	for h.ok("ps", "-aq") != "" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if out := h.ok("ps", "-aq"); out != "" {
		t.Errorf("run -d --rm left %q", out)
	}
}

// snapshots lists the container snapshots under the engine root (not the store's
// own dot files).
func (h *hullEnv) snapshots() []string {
	found, _ := filepath.Glob(filepath.Join(h.root, "snapshots", "[^.]*"))
	return found
}

// TestLogGigabyte: a container writes a gigabyte, half of it in 4 KB lines and half
// as one line with no newline at all; its monitor's peak memory stays flat (the log
// is copied in bounded pieces and rotated), and the log ends with what came last.
// The monitor is the same whatever the runtime, so hull's own runtime only.
func TestLogGigabyte(t *testing.T) {
	h := newHullEnv(t, "hull")
	h.ok("run", "-d", "--name", "big", "--network", "none", "--log-opt", "max-size=8m", "--log-opt", "max-file=2",
		"busybox", "sh", "-c", "yes $(tr '\\0' l </dev/zero | head -c 4000) | head -c 536870912; tr '\\0' a </dev/zero | head -c 536870912; echo; echo done; sleep 1000")
	// the monitor's pid is in the engine's record, not in docker's inspect
	monitor := fmt.Sprint(h.record(h.inspect("big", "{{.Id}}"))["State"].(map[string]any)["MonitorPid"])
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.HasSuffix(h.ok("logs", "--tail", "1", "big"), "done\n") {
		if time.Now().After(deadline) {
			t.Fatal("the gigabyte was not logged within 3 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := os.Stat("/proc/" + monitor); err != nil {
		t.Fatalf("monitor %s: %v", monitor, err)
	}
	hwm, _ := strconv.Atoi(strings.TrimSuffix(statusField(monitor, "VmHWM"), " kB"))
	t.Logf("monitor peak RSS after a gigabyte: %d KiB", hwm)
	if hwm == 0 || hwm > 48*1024 {
		t.Errorf("monitor peak RSS %d KiB: not flat", hwm)
	}
	h.ok("rm", "-f", "big")
}
