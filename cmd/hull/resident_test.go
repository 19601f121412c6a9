package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/monitor/resident"
)

// Tests of the monitor's resident form (monitor/resident): a container that runs
// a second with nobody attached is supervised by hull-monitor, exec'd in the
// monitor's place, until its end or an attach brings the engine's monitor back.

// monitorExe is the program the container's monitor runs now: "hull" or
// "hull-monitor" ("" if there is no monitor).
func (h *hullEnv) monitorExe(ref string) string {
	h.t.Helper()
	pid := h.monitorPid(h.inspect(ref, "{{.Id}}"))
	if pid == 0 {
		return ""
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return filepath.Base(exe)
}

// resident waits until ref's monitor is hull-monitor.
func (h *hullEnv) resident(ref string) {
	h.t.Helper()
	if !waitFor(10*time.Second, func() bool { return h.monitorExe(ref) == "hull-monitor" }) {
		h.t.Fatalf("%s: the monitor is still %q", ref, h.monitorExe(ref))
	}
}

func TestResidentMonitor(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		// A line begun before the handover and ended after it is one line; input
		// and output go on through an attach, which brings the engine back.
		h.ok("run", "-d", "-i", "--name", "r", "busybox", "sh", "-c",
			"printf par; sleep 1.5; echo tial; printf ab; read x; echo cd$x; echo err >&2; exit 4")
		h.resident("r")
		pid := strconv.Itoa(h.monitorPid(h.inspect("r", "{{.Id}}")))
		if !waitFor(5*time.Second, func() bool { return h.ok("logs", "r") == "partial\n" }) {
			t.Fatalf("logs through the resident monitor: %q", h.ok("logs", "r"))
		}
		// Its memory is under conmon's (~330 KiB anonymous): a static C
		// program's few pages (~80 KiB), not a Go program's (~480).
		if kb := anonKB(t, pid); kb > 200 {
			t.Errorf("resident monitor: %d KiB anonymous memory", kb)
		}
		// ... also where transparent huge pages are "always" (Debian's kernels)
		if thp := statusField(pid, "THP_enabled"); thp != "0" {
			t.Errorf("resident monitor: THP_enabled %q", thp)
		}
		// Its environment is its state alone, not the engine's copy (which
		// travels in the state, for the engine's return).
		if env, err := os.ReadFile("/proc/" + pid + "/environ"); err != nil {
			t.Error(err)
		} else if names := strings.Split(strings.TrimSuffix(string(env), "\x00"), "\x00"); len(names) != 1 || !strings.HasPrefix(names[0], resident.Env+"=") {
			t.Errorf("resident monitor's environment: %d variables, want only $%s", len(names), resident.Env)
		}
		// 0-2 (/dev/null), the container's stdin (both ends), stdout and stderr,
		// the attach socket, init's pidfd, the log, and the epoll.
		if fds := openFiles(pid); len(fds) != 11 {
			t.Errorf("resident monitor holds %d descriptors: %v", len(fds), fds)
		}
		out, stderr, code := h.runIn(strings.NewReader("Z\n"), "attach", "r")
		if out != "cdZ\n" || stderr != "err\n" || code != 4 {
			t.Errorf("attach: %q %q exit %d", out, stderr, code)
		}
		if got := h.inspect("r", "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 4" || h.monitorExe("r") != "" {
			t.Errorf("after the end: %s", got)
		}
		if out, stderr, _ := h.run("logs", "r"); out != "partial\nabcdZ\n" || stderr != "err\n" {
			t.Errorf("logs: %q %q", out, stderr)
		}
		// An exit the resident sees: the engine comes back for the restart
		// policy, and each run is handed over again.
		h.ok("run", "-d", "--name", "rs", "--restart", "on-failure:1", "busybox", "sh", "-c", "sleep 1.5; echo run; exit 3")
		h.resident("rs")
		if !waitFor(20*time.Second, func() bool { return h.inspect("rs", "{{.State.Status}}") == "exited" }) {
			t.Fatalf("restarting through the resident: %s", h.inspect("rs", "{{.State.Status}} {{.RestartCount}}"))
		}
		if got := h.inspect("rs", "{{.RestartCount}} {{.State.ExitCode}}"); got != "1 3" || h.ok("logs", "rs") != "run\nrun\n" {
			t.Errorf("on-failure:1 through the resident: %s, logs %q", got, h.ok("logs", "rs"))
		}
		// A container started again by a monitor that came back from the resident
		// does not inherit the resident's THP setting.
		h.ok("run", "-d", "--name", "thp", "--restart", "on-failure:1", "busybox", "sh", "-c", "sleep 1.5; [ -e /tmp/again ] && exec sleep 100; touch /tmp/again; exit 3")
		h.resident("thp")
		if !waitFor(20*time.Second, func() bool { return h.inspect("thp", "{{.RestartCount}} {{.State.Status}}") == "1 running" }) {
			t.Fatalf("restart: %s", h.inspect("thp", "{{.RestartCount}} {{.State.Status}}"))
		}
		if thp := statusField(h.inspect("thp", "{{.State.Pid}}"), "THP_enabled"); thp != "1" {
			t.Errorf("a container restarted after the resident: THP_enabled %q", thp)
		}
		h.ok("rm", "-f", "thp")
		// --rm, and a stop, through the resident.
		id := strings.TrimSpace(h.ok("run", "-d", "--rm", "busybox", "sleep", "1000"))
		h.resident(id)
		if out, _, code := h.run("stop", "-t", "1", id); code != 0 || out != id+"\n" {
			t.Errorf("stop: %q exit %d", out, code)
		}
		if !waitFor(10*time.Second, func() bool { return !strings.Contains(h.ok("ps", "-aq", "--no-trunc"), id) }) {
			t.Errorf("--rm container left after its stop")
		}
		// A terminal: attached and detached again, the resident takes it back.
		h.ok("run", "-d", "-it", "--name", "tty", "busybox", "sh")
		h.resident("tty")
		a := h.startOnPty("attach", "tty")
		time.Sleep(300 * time.Millisecond)
		a.Master.Write([]byte("echo hi-$((40+2)); stty size\n"))
		if !a.Expect("hi-42") || !a.Expect("24 80") {
			t.Errorf("attached terminal shows %q", a.Output())
		}
		a.Master.Write([]byte{0x10, 0x11})
		if code := a.Exit(); code != 0 {
			t.Errorf("detach: exit %d", code)
		}
		h.resident("tty")
		if got := h.inspect("tty", "{{.State.Running}}"); got != "true" {
			t.Errorf("after detaching: running %s", got)
		}
	})
}

func openFiles(pid string) []string {
	ents, _ := os.ReadDir("/proc/" + pid + "/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/" + pid + "/fd/" + e.Name())
		out = append(out, e.Name()+"="+l)
	}
	return out
}

// anonKB is a process's anonymous memory: its heap, stacks and written data.
func anonKB(t *testing.T, pid string) int {
	data, err := os.ReadFile("/proc/" + pid + "/smaps_rollup")
	if err != nil {
		t.Fatal(err)
	}
	kb := 0
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "Anonymous:" {
			n, _ := strconv.Atoi(f[1])
			kb += n
		}
	}
	return kb
}

// TestRunRefusedSpawnsNothing: run starts the container's monitor before it
// makes the container; a run refused meanwhile ends that monitor with it.
func TestRunRefusedSpawnsNothing(t *testing.T) {
	h := newHullEnv(t, "hull")
	h.ok("run", "--name", "taken", "busybox", "true")
	for _, args := range [][]string{
		{"run", "--name", "taken", "busybox", "true"},
		{"run", "-d", "--name", "taken", "busybox", "true"},
		{"run", "--name", "a/b", "busybox", "true"},
		{"run", "--detach-keys", "ctrl-", "busybox", "true"},
		{"run", "-d", "--pull", "never", "nosuch:image", "true"},
	} {
		_, stderr, code := h.run(args...)
		if code != 125 || strings.Count(errorLine(stderr), "\n") != 1 {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
		if p := h.procs(nil, false); len(p) != 0 {
			t.Errorf("%v left %v", args, p)
		}
	}
	if out := h.ok("ps", "-aq"); strings.Count(out, "\n") != 1 {
		t.Errorf("refused runs left containers: %q", out)
	}
}

// statusField is a field of /proc/PID/status.
func statusField(pid, name string) string {
	data, _ := os.ReadFile("/proc/" + pid + "/status")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
