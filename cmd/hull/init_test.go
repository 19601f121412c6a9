package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	initOnce sync.Once
	initErr  error
)

// withInit builds hull-init beside the tests' hull binary, where the engine looks
// for it, and returns its path.
func withInit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(filepath.Dir(binary(t)), "hull-init")
	if os.Getenv("HULL") != "" {
		// a prebuilt hull (the VM): hull-init is beside it
		if _, err := os.Stat(bin); err != nil {
			t.Skip("no hull-init beside $HULL")
		}
		return bin
	}
	initOnce.Do(func() {
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "github.com/hullproject/hull/cmd/hull-init")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			initErr = fmt.Errorf("build hull-init: %v\n%s", err, out)
		}
	})
	if initErr != nil {
		t.Fatal(initErr)
	}
	return bin
}

// procStats parses `cat /proc/[0-9]*/stat` into pid -> (comm, state, ppid).
func procStats(out string) map[string][3]string {
	m := map[string][3]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		open, close := strings.IndexByte(l, '('), strings.LastIndexByte(l, ')')
		if open < 1 || close < open {
			continue
		}
		f := strings.Fields(l[close+1:])
		if len(f) < 2 {
			continue
		}
		m[strings.TrimSpace(l[:open])] = [3]string{l[open+1 : close], f[0], f[1]}
	}
	return m
}

func TestInitReapsAndForwards(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		initBin := withInit(t)
		sum := func() []byte {
			b, err := os.ReadFile(initBin)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		before := sum()

		// (cmd &) leaves an orphan, reparented to PID 1: the short ones must be
		// reaped by it, the long one must be its child.
		out, stderr, code := h.run("run", "--rm", "--init", "busybox", "sh", "-c",
			"(sleep 0.2 &); (sleep 0.2 &); (sleep 100 &); sleep 100 & sleep 2; cat /proc/[0-9]*/stat; exit 5")
		if code != 5 {
			t.Fatalf("run --init: exit %d, want 5: %s", code, stderr)
		}
		procs := procStats(out)
		if p := procs["1"]; p[0] != "hull-init" {
			t.Errorf("pid 1 is %q, want hull-init:\n%s", p[0], out)
		}
		orphan := false
		for pid, p := range procs {
			if p[1] == "Z" {
				t.Errorf("zombie %s %v:\n%s", pid, p, out)
			}
			orphan = orphan || (p[0] == "sleep" && p[2] == "1")
		}
		if !orphan {
			t.Errorf("no orphaned sleep under pid 1:\n%s", out)
		}

		cases := []struct {
			args []string
			code int
		}{
			{[]string{"sh", "-c", "exit 0"}, 0},
			{[]string{"sh", "-c", "exit 255"}, 255},
			{[]string{"sh", "-c", "kill -USR1 $$"}, 138},
			{[]string{"nosuchcommand"}, 127},
			{[]string{"/etc"}, 126},
		}
		for _, c := range cases {
			_, stderr, code := h.run(append([]string{"run", "--rm", "--init", "busybox"}, c.args...)...)
			if code != c.code {
				t.Errorf("run --init %v: exit %d, want %d (%s)", c.args, code, c.code, stderr)
			}
		}

		// On a terminal the command's group must be the foreground one, to read it.
		out, code = h.runOnPty("echo typed-$((40+2))\nexit 4\n", "run", "--rm", "-it", "--init", "busybox", "sh")
		if code != 4 || !strings.Contains(out, "typed-42") {
			t.Errorf("run -it --init: exit %d, %q", code, out)
		}

		// sleep as PID 1 ignores SIGTERM; under hull-init it gets it and dies of it.
		h.ok("run", "-d", "--init", "--name", "sleeper", "busybox", "sleep", "1000")
		if out := h.ok("exec", "sleeper", "ps"); !strings.Contains(out, "    1 root     /sbin/hull-init -- sleep 1000\n") {
			t.Errorf("ps inside:\n%s", out)
		}
		if got := h.inspect("sleeper", "{{.Path}} {{.HostConfig.Init}}"); got != "sleep true" {
			t.Errorf("inspect: %s", got)
		}
		// The host's hull-init is the container's /proc/1/exe: the read-only mount,
		// not only the busy text file, must refuse writes through it.
		// (O_TRUNC asks the mount first; a plain open for writing hits ETXTBSY.)
		out, stderr, _ = h.run("exec", "sleeper", "sh", "-c",
			"echo x >> /proc/1/exe; echo x > /proc/1/exe; echo x > /sbin/hull-init; grep ' /sbin/hull-init ' /proc/self/mountinfo")
		if f := strings.Fields(out); len(f) < 6 || !strings.Contains(","+f[5]+",", ",ro,") || !strings.Contains(f[5], "nosuid") {
			t.Errorf("hull-init's mount: %q", out)
		}
		if strings.Count(stderr, "Read-only file system") != 2 {
			t.Errorf("writes to hull-init: %s", stderr)
		}
		if !bytes.Equal(before, sum()) {
			t.Error("the container changed the host's hull-init")
		}
		start := time.Now()
		h.ok("stop", "sleeper")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("stop took %v", d)
		}
		if got := h.inspect("sleeper", "{{.State.ExitCode}}"); got != "143" {
			t.Errorf("exit code after stop: %s, want 143", got)
		}

		// The stop signal goes to the command's whole process group: the shell's
		// child gets it too, not only the shell (which would wait for it forever).
		h.ok("run", "-d", "--init", "--name", "group", "busybox", "sh", "-c", `trap "echo shell got it" TERM; sleep 1000; echo child $?`)
		for i := 0; i < 100; i++ { // sleep runs: the trap is set
			if out, _, _ := h.run("exec", "group", "ps"); strings.Contains(out, " sleep 1000") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		start = time.Now()
		h.ok("stop", "group")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("stop of a group took %v", d)
		}
		if got, logs := h.inspect("group", "{{.State.ExitCode}}"), h.ok("logs", "group"); got != "0" || !strings.Contains(logs, "child 143\n") {
			t.Errorf("stop of a group: exit %s, logs %q", got, logs)
		}
	})
}

func TestInitMissing(t *testing.T) {
	h := newHullEnv(t, "hull")
	cmd := exec.Command(h.bin, "--root", h.root, "--state", h.state, "create", "--init", "busybox", "true")
	cmd.Env = append(os.Environ(), "HULL_INIT="+filepath.Join(t.TempDir(), "nope"))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 125 || !strings.Contains(string(out), "no hull-init at") {
		t.Errorf("create --init without hull-init: %v: %s", err, out)
	}
	if out := h.ok("ps", "-aq"); out != "" {
		t.Errorf("a failed create left %q", out)
	}
	if s := h.snapshots(); len(s) != 0 {
		t.Errorf("a failed create left snapshots %v", s)
	}
}
