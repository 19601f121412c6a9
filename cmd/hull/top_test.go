package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// topLines runs `hull top` (or `pod top`) until want shows up in its output (a
// background process may start a moment after the container) and returns it.
func (h *hullEnv) topUntil(want []string, args ...string) string {
	h.t.Helper()
	var out string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out = h.ok(args...)
		missing := false
		for _, w := range want {
			missing = missing || !strings.Contains(out, w)
		}
		if !missing {
			break
		}
	}
	return out
}

// `hull top` shows ps's header and the container's processes only, with ps's
// options; `hull stats --no-stream` shows the memory limit, the pids and, for a
// container burning CPU, its CPU %; with --format, the template's fields.
func TestTopStats(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.ok("run", "-d", "--name", "two", "-m", "64m", "busybox", "sh", "-c", "sleep 1000 & sleep 1001")
		h.ok("run", "-d", "--name", "burn", "busybox", "sh", "-c", "while :; do :; done")

		out := h.topUntil([]string{"sleep 1000", "sleep 1001"}, "top", "two")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.Contains(lines[0], "PID") || !strings.Contains(out, "sleep 1000") || !strings.Contains(out, "sleep 1001") {
			t.Fatalf("top two: want the header and both sleeps only:\n%s", out)
		}
		out = h.ok("top", "two", "-o", "pid,comm")
		if lines := strings.Fields(out); len(lines) != 6 || lines[0] != "PID" || lines[3] != "sleep" || lines[5] != "sleep" {
			t.Errorf("top two -o pid,comm:\n%s", out)
		}
		if _, stderr, code := h.run("top", "nosuch"); code == 0 || !strings.Contains(stderr, "no such container") {
			t.Errorf("top of no container: exit %d: %s", code, stderr)
		}

		start := time.Now()
		out = h.ok("stats", "--no-stream")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("stats --no-stream took %v", d)
		}
		lines = strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "CONTAINER ID   NAME   CPU %") {
			t.Fatalf("stats --no-stream: want a header and two rows:\n%s", out)
		}
		rows := map[string][]string{}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			rows[f[1]] = f
		}
		// CONTAINER ID, NAME, CPU %, USAGE, /, LIMIT, MEM %, RX, /, TX, READ, /, WRITE, PIDS
		two, burn := rows["two"], rows["burn"]
		if len(two) != 14 || len(burn) != 14 {
			t.Fatalf("stats rows:\n%s", out)
		}
		if two[5] != "64MiB" {
			t.Errorf("memory limit of -m 64m: %q\n%s", two[5], out)
		}
		if n, _ := strconv.Atoi(two[13]); n < 2 {
			t.Errorf("pids of two: %q\n%s", two[13], out)
		}
		if cpu, _ := strconv.ParseFloat(strings.TrimSuffix(burn[2], "%"), 64); cpu <= 20 {
			t.Errorf("CPU %% of a busy loop: %q\n%s", burn[2], out)
		}
		out = h.ok("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "two")
		if f := strings.Fields(out); len(f) != 5 || f[0] != "two" || f[4] != "64MiB" {
			t.Errorf("stats --format two: %q", out)
		}
		out = h.ok("stats", "--no-stream", "--format", "table {{.Name}}\t{{.PIDs}}", "two")
		if f := strings.Fields(out); len(f) != 4 || f[0] != "NAME" || f[1] != "PIDS" || f[2] != "two" {
			t.Errorf("stats --format table: %q", out)
		}
		h.ok("rm", "-f", "burn")
		if _, stderr, code := h.run("stats", "--no-stream", "burn"); code == 0 {
			t.Errorf("stats of a removed container: exit 0: %s", stderr)
		}
	})
}

// `hull pod top` shows each running container's processes under its own header;
// `hull pod stats --no-stream` a row for each, naming the pod.
func TestPodTopStats(t *testing.T) {
	h := newHullEnv(t, "hull")
	t.Cleanup(func() {
		for _, p := range strings.Fields(h.ok("pod", "ls", "-q")) {
			h.run("pod", "rm", "-f", p)
		}
	})
	h.ok("pod", "create", "--name", "pt", "--network", "none")
	h.ok("run", "-d", "--pod", "pt", "--name", "one", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--pod", "pt", "--name", "other", "busybox", "sleep", "1001")
	h.ok("run", "-d", "--name", "outside", "busybox", "sleep", "1002")

	out := h.ok("pod", "top", "pt")
	groups := strings.Split(strings.TrimSpace(out), "\n\n")
	if len(groups) != 2 {
		t.Fatalf("pod top: want two groups:\n%s", out)
	}
	for i, want := range [][2]string{{"==> one (", "sleep 1000"}, {"==> other (", "sleep 1001"}} {
		lines := strings.Split(groups[i], "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], want[0]) || !strings.Contains(lines[1], "PID") || !strings.Contains(lines[2], want[1]) {
			t.Errorf("pod top, group %d:\n%s", i, groups[i])
		}
	}
	if strings.Contains(out, "sleep 1002") {
		t.Errorf("pod top shows a container outside the pod:\n%s", out)
	}

	out = h.ok("pod", "stats", "--no-stream", "pt")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "POD   CONTAINER ID") {
		t.Fatalf("pod stats: want a header and two rows:\n%s", out)
	}
	for i, name := range []string{"one", "other"} {
		if f := strings.Fields(lines[i+1]); len(f) < 3 || f[0] != "pt" || f[2] != name || f[len(f)-1] != "1" {
			t.Errorf("pod stats row %d: %q", i, lines[i+1])
		}
	}
	if out := h.ok("pod", "stats", "--no-stream", "--format", "{{.Pod}}/{{.Name}}"); out != "pt/one\npt/other\n" {
		t.Errorf("pod stats of every pod: %q", out)
	}
}

func TestSizes(t *testing.T) {
	for _, c := range []struct {
		n   uint64
		bin string
		dec string
	}{
		{0, "0B", "0B"},
		{999, "999B", "999B"},
		{1536, "1.5KiB", "1.54kB"},
		{64 << 20, "64MiB", "67.1MB"},
	} {
		if got := binarySize(c.n); got != c.bin {
			t.Errorf("binarySize(%d) = %q, want %q", c.n, got, c.bin)
		}
		if got := decimalSize(c.n); got != c.dec {
			t.Errorf("decimalSize(%d) = %q, want %q", c.n, got, c.dec)
		}
	}
}
