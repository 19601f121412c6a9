package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/runtime/console"
	"github.com/hullproject/hull/runtime/console/ptytest"
)

// Tests of what the container's monitor does besides running it: restart policies,
// health checks and attach.

// waitFor polls fn until it holds or timeout passes; it reports whether it held.
func waitFor(timeout time.Duration, fn func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !fn() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func TestRestartOnFailure(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.ok("run", "-d", "--name", "fails", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo ran; exit 1")
		if !waitFor(20*time.Second, func() bool { return h.inspect("fails", "{{.State.Status}}") == "exited" }) {
			t.Fatalf("still %s", h.inspect("fails", "{{.State.Status}} {{.RestartCount}}"))
		}
		got := h.inspect("fails", "{{.RestartCount}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}")
		if got != "2 1 on-failure 2" {
			t.Errorf("after on-failure:2: %s", got)
		}
		if out := h.ok("logs", "fails"); out != "ran\nran\nran\n" {
			t.Errorf("logs of three runs: %q", out)
		}
		// on-failure leaves a clean exit alone.
		h.ok("run", "-d", "--name", "fine", "--restart", "on-failure", "busybox", "true")
		if h.ok("wait", "fine") != "0\n" || h.inspect("fine", "{{.RestartCount}}") != "0" {
			t.Errorf("on-failure after exit 0: %s", h.inspect("fine", "{{.RestartCount}} {{.State.Status}}"))
		}
		for _, bad := range [][]string{{"--rm", "--restart", "always"}, {"--restart", "sometimes"}, {"--restart", "always:3"}, {"--restart", "on-failure:x"}} {
			_, stderr, code := h.run(append(append([]string{"run", "-d"}, bad...), "busybox", "true")...)
			if code != 125 || strings.Count(stderr, "\n") != 1 {
				t.Errorf("run %v: exit %d, %q", bad, code, stderr)
			}
		}
		if _, stderr, _ := h.run("run", "--rm", "--restart", "always", "busybox", "true"); !strings.Contains(stderr, "conflicting options") {
			t.Errorf("--rm --restart: %q", stderr)
		}
		if out := h.ok("ps", "-aq"); strings.Count(out, "\n") != 2 {
			t.Errorf("refused runs left containers: %q", out)
		}
	})
}

func TestRestartAlwaysAndStop(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.ok("run", "-d", "--name", "loop", "--restart", "always", "busybox", "true")
		// wait returns at an exit, whether or not a restart follows (as docker's).
		if out := h.ok("wait", "loop"); out != "0\n" {
			t.Errorf("wait: %q", out)
		}
		// Docker's backoff: 100 ms, doubled at each restart. The sixth restart
		// waits 3.2 s: long enough to catch it in its backoff.
		var st string
		if !waitFor(30*time.Second, func() bool {
			st = h.inspect("loop", "{{.RestartCount}} {{.State.Status}} {{.State.Running}} {{.State.Restarting}}")
			return st == "6 restarting true true"
		}) {
			t.Fatalf("never in the sixth backoff: %s", st)
		}
		if out := h.ok("ps", "--format", "{{.Status}}"); !strings.HasPrefix(out, "Restarting (0) ") {
			t.Errorf("ps during backoff: %q", out)
		}
		if _, stderr, code := h.run("exec", "loop", "true"); code == 0 {
			t.Errorf("exec while restarting succeeded: %s", stderr)
		}
		start := time.Now()
		h.ok("stop", "loop")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("stop during the backoff took %v", d)
		}
		if got := h.inspect("loop", "{{.State.Status}} {{.RestartCount}}"); got != "exited 6" {
			t.Errorf("after stop: %s", got)
		}
		// Stopped for good: no monitor left to restart it.
		time.Sleep(500 * time.Millisecond)
		if got := h.inspect("loop", "{{.State.Status}} {{.RestartCount}}"); got != "exited 6" {
			t.Errorf("restarted after stop: %s", got)
		}
		if mon := h.monitorPid(h.inspect("loop", "{{.Id}}")); mon != 0 {
			t.Errorf("monitor pid %v still recorded", mon)
		}

		// A stop of a running one ends its restarts too; a start begins afresh.
		h.ok("start", "loop")
		if rec := h.record(h.inspect("loop", "{{.Id}}")); rec["HasBeenManuallyStopped"] != false || rec["RestartCount"].(float64) >= 6 {
			t.Errorf("start kept the stop or the restart count: %v %v", rec["HasBeenManuallyStopped"], rec["RestartCount"])
		}
		h.ok("rm", "-f", "loop")
		h.ok("run", "-d", "--name", "svc", "--restart", "unless-stopped", "busybox", "sleep", "100")
		h.ok("stop", "-t", "1", "svc")
		time.Sleep(500 * time.Millisecond)
		if got := h.inspect("svc", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}"); got != "exited 0 137" {
			t.Errorf("unless-stopped after stop: %s", got)
		}
		// A crash (not the user's kill) is restarted.
		h.ok("start", "svc")
		pid, _ := strconv.Atoi(h.inspect("svc", "{{.State.Pid}}"))
		syscall.Kill(pid, syscall.SIGKILL)
		if !waitFor(10*time.Second, func() bool { return h.inspect("svc", "{{.RestartCount}} {{.State.Status}}") == "1 running" }) {
			t.Errorf("not restarted after a crash: %s", h.inspect("svc", "{{.RestartCount}} {{.State.Status}}"))
		}
		h.ok("kill", "svc")
		if h.ok("wait", "svc") != "137\n" {
			t.Error("wait after kill")
		}
		time.Sleep(500 * time.Millisecond)
		if got := h.inspect("svc", "{{.State.Status}} {{.RestartCount}}"); got != "exited 1" {
			t.Errorf("restarted after hull kill: %s", got)
		}
	})
}

// health reads a container's State.Health.
func (h *hullEnv) health(ref string) (st struct {
	Status        string
	FailingStreak int
	Log           []struct {
		ExitCode int
		Output   string
	}
}) {
	h.t.Helper()
	json.Unmarshal([]byte(h.inspect(ref, "{{json .State.Health}}")), &st)
	return st
}

func TestHealthCheck(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.ok("run", "-d", "--name", "ok", "--health-cmd", "test -e /tmp/ready && echo fine", "--health-interval", "200ms",
			"busybox", "sh", "-c", "sleep 1; touch /tmp/ready; sleep 100")
		if st := h.health("ok"); st.Status != "starting" {
			t.Errorf("at start: %+v", st)
		}
		if out := h.ok("ps", "--format", "{{.Status}}"); !strings.HasSuffix(out, " (health: starting)\n") {
			t.Errorf("ps at start: %q", out)
		}
		if !waitFor(15*time.Second, func() bool { return h.health("ok").Status == "healthy" }) {
			t.Fatalf("never healthy: %+v", h.health("ok"))
		}
		st := h.health("ok")
		last := st.Log[len(st.Log)-1]
		if st.FailingStreak != 0 || last.ExitCode != 0 || last.Output != "fine\n" || len(st.Log) > 5 {
			t.Errorf("healthy: %+v", st)
		}
		if out := h.ok("ps", "--format", "{{.Status}}"); !strings.HasSuffix(out, " (healthy)\n") {
			t.Errorf("ps when healthy: %q", out)
		}
		want := `{"Test":["CMD-SHELL","test -e /tmp/ready \u0026\u0026 echo fine"],"Interval":200000000}`
		if got := h.inspect("ok", "{{json .Config.Healthcheck}}"); got != want {
			t.Errorf("Config.Healthcheck: %s", got)
		}
		h.ok("rm", "-f", "ok")

		h.ok("run", "-d", "--name", "bad", "--health-cmd", "echo broken; exit 1", "--health-interval", "100ms", "--health-retries", "2",
			"busybox", "sleep", "100")
		if !waitFor(15*time.Second, func() bool { return h.health("bad").Status == "unhealthy" }) {
			t.Fatalf("never unhealthy: %+v", h.health("bad"))
		}
		if st := h.health("bad"); st.FailingStreak < 2 || st.Log[0].ExitCode != 1 || st.Log[0].Output != "broken\n" {
			t.Errorf("unhealthy: %+v", st)
		}
		if out := h.ok("ps", "--format", "{{.Status}}"); !strings.HasSuffix(out, " (unhealthy)\n") {
			t.Errorf("ps when unhealthy: %q", out)
		}
		// The log keeps the last five.
		waitFor(10*time.Second, func() bool { return h.health("bad").FailingStreak >= 7 })
		if st := h.health("bad"); len(st.Log) != 5 {
			t.Errorf("%d results kept", len(st.Log))
		}
		h.ok("rm", "-f", "bad")

		// A probe past its timeout fails and is killed.
		h.ok("run", "-d", "--name", "slow", "--health-cmd", "sleep 57", "--health-interval", "100ms", "--health-timeout", "300ms",
			"--health-retries", "1", "busybox", "sleep", "100")
		if !waitFor(15*time.Second, func() bool { return h.health("slow").Status == "unhealthy" }) {
			t.Fatalf("timeouts never made it unhealthy: %+v", h.health("slow"))
		}
		if st := h.health("slow"); st.Log[0].ExitCode != -1 || !strings.Contains(st.Log[0].Output, "exceeded timeout") {
			t.Errorf("timeout: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
		if out := h.ok("exec", "slow", "ps", "-o", "args"); strings.Count(out, "sleep 57") > 1 {
			t.Errorf("probes past their timeout left running:\n%s", out)
		}

		if _, stderr, code := h.run("run", "--no-healthcheck", "--health-cmd", "true", "busybox", "true"); code != 125 || !strings.Contains(stderr, "conflicting") {
			t.Errorf("--no-healthcheck with --health-cmd: %d %q", code, stderr)
		}
		if got := h.inspect(strings.TrimSpace(h.ok("create", "--no-healthcheck", "busybox", "true")), "{{json .Config.Healthcheck}}"); got != `{"Test":["NONE"]}` {
			t.Errorf("--no-healthcheck: %s", got)
		}
	})
}

// startOnPty runs hull with args on a terminal the test drives.
func (h *hullEnv) startOnPty(args ...string) *ptytest.Term {
	h.t.Helper()
	return ptytest.Start(h.t, exec.Command(h.bin, append([]string{"--root", h.root, "--state", h.state}, args...)...))
}

// attached waits until every one of ps is attached to the shell they share: it
// types an echo on the first, again and again, until each terminal shows one.
func attached(t *testing.T, ps ...*ptytest.Term) {
	t.Helper()
	for n := 1; n <= 40; n++ {
		fmt.Fprintf(ps[0].Master, "echo sync-$((%d+0))\n", n)
		mark := fmt.Sprintf("sync-%d\r\n", n)
		all := true
		for _, p := range ps {
			all = all && p.ExpectWithin(250*time.Millisecond, mark)
		}
		if all {
			return
		}
	}
	t.Fatalf("terminals not attached: %q", ps[len(ps)-1].Output())
}

func TestAttachTerminal(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.ok("run", "-d", "-it", "--name", "sh", "busybox", "sh")
		// Two attachers at once: both see what either types.
		a := h.startOnPty("attach", "sh")
		b := h.startOnPty("attach", "--detach-keys", "ctrl-x", "sh")
		attached(t, a, b)
		a.Master.Write([]byte("echo hi-$((40+2)); stty size\n"))
		for _, p := range []*ptytest.Term{a, b} {
			if !p.Expect("hi-42") || !p.Expect("24 80") {
				t.Errorf("attached terminal shows %q", p.Output())
			}
		}
		// The window size follows the attacher's terminal.
		console.SetSize(a.Master, 30, 100)
		a.Signal(syscall.SIGWINCH)
		time.Sleep(300 * time.Millisecond)
		a.Master.Write([]byte("stty size\n"))
		if !a.Expect("30 100") {
			t.Errorf("after a resize: %q", a.Output())
		}
		// ctrl-p ctrl-q detaches, leaving it running; ctrl-p alone is passed on.
		a.Master.Write([]byte{0x10, 0x11})
		if code := a.Exit(); code != 0 {
			t.Errorf("detach: exit %d", code)
		}
		b.Master.Write([]byte{0x18})
		if code := b.Exit(); code != 0 {
			t.Errorf("detach with --detach-keys: exit %d", code)
		}
		if got := h.inspect("sh", "{{.State.Running}}"); got != "true" {
			t.Errorf("after detaching: running %s", got)
		}
		// When the container ends, attach exits with its code.
		c := h.startOnPty("attach", "sh")
		time.Sleep(500 * time.Millisecond)
		c.Master.Write([]byte("exit 6\n"))
		if code := c.Exit(); code != 6 {
			t.Errorf("attach after exit 6: exit %d (%q)", code, c.Output())
		}
		// run -it detaches too.
		r := h.startOnPty(append(h.runArgs(), "-it", "--name", "fg", "busybox", "sh")...)
		r.Master.Write([]byte("echo in-$((1+1))\n"))
		if !r.Expect("in-2") {
			t.Errorf("run -it: %q", r.Output())
		}
		r.Master.Write([]byte{0x10, 0x11})
		if code := r.Exit(); code != 0 || h.inspect("fg", "{{.State.Running}}") != "true" {
			t.Errorf("run -it detached: exit %d", code)
		}
	})
}

// runArgs is "run" with the runtime under test.
func (h *hullEnv) runArgs() []string {
	if h.runtime == "hull" {
		return []string{"run"}
	}
	return []string{"run", "--runtime", h.runtime}
}

func TestAttachStreams(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		// Without a terminal stdout and stderr stay apart; stdin goes in with -i.
		h.ok("run", "-d", "-i", "--name", "rd", "busybox", "sh", "-c", "read l; echo got $l; echo oops >&2; exit 3")
		time.Sleep(300 * time.Millisecond)
		out, stderr, code := h.runIn(strings.NewReader("x\n"), "attach", "rd")
		if out != "got x\n" || stderr != "oops\n" || code != 3 {
			t.Errorf("attach: %q %q exit %d", out, stderr, code)
		}
		if _, stderr, code := h.run("attach", "rd"); code != 125 || !strings.Contains(stderr, "not running") {
			t.Errorf("attach to a stopped container: %d %q", code, stderr)
		}
		// Several attachers see the same output and the same end.
		h.ok("run", "-d", "--name", "many", "busybox", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; echo hello; exit 7")
		var wg sync.WaitGroup
		outs, codes := make([]string, 3), make([]int, 3)
		for i := range outs {
			wg.Add(1)
			go func() { defer wg.Done(); outs[i], _, codes[i] = h.run("attach", "many") }()
		}
		time.Sleep(1500 * time.Millisecond)
		h.ok("exec", "many", "touch", "/tmp/go")
		wg.Wait()
		for i := range outs {
			if outs[i] != "hello\n" || codes[i] != 7 {
				t.Errorf("attacher %d: %q exit %d", i, outs[i], codes[i])
			}
		}
		// start -a returns the exit code; with -i stdin goes in and its end closes it.
		h.ok("create", "--name", "sa", "busybox", "sh", "-c", "echo out; echo err >&2; exit 5")
		if out, stderr, code := h.run("start", "-a", "sa"); out != "out\n" || stderr != "err\n" || code != 5 {
			t.Errorf("start -a: %q %q exit %d", out, stderr, code)
		}
		h.ok("create", "-i", "--name", "cat", "busybox", "cat")
		if out, _, code := h.runIn(strings.NewReader("piped\n"), "start", "-a", "-i", "cat"); out != "piped\n" || code != 0 {
			t.Errorf("start -a -i: %q exit %d", out, code)
		}
		if out, _, code := h.runIn(strings.NewReader("through\n"), "run", "--rm", "-i", "busybox", "cat"); out != "through\n" || code != 0 {
			t.Errorf("run -i: %q exit %d", out, code)
		}
		// Megabytes both ways keep their count (messages are cut, never lost).
		if out, _, code := h.runIn(bytes.NewReader(make([]byte, 3<<20)), "run", "--rm", "-i", "busybox", "wc", "-c"); out != "3145728\n" || code != 0 {
			t.Errorf("3 MiB in: %q exit %d", out, code)
		}
		if out, _, code := h.run("run", "--rm", "busybox", "head", "-c", "3000000", "/dev/zero"); len(out) != 3000000 || code != 0 {
			t.Errorf("3 MB out: %d bytes, exit %d", len(out), code)
		}
	})
}

func TestAttachSigProxy(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		cmd := exec.Command(h.bin, append([]string{"--root", h.root, "--state", h.state}, append(h.runArgs(), "--name", "sig", "busybox",
			"sh", "-c", `trap "echo caught; exit 9" INT; echo ready; while :; do sleep 0.1; done`)...)...)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := io.ReadAtLeast(stdout, buf, len("ready\n"))
		if string(buf[:n]) != "ready\n" {
			t.Fatalf("output %q", buf[:n])
		}
		cmd.Process.Signal(syscall.SIGINT)
		rest, _ := io.ReadAll(stdout)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 9 || string(rest) != "caught\n" {
			t.Errorf("ctrl-c forwarded: %v, %q", err, rest)
		}
	})
}
