package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hullproject/hull/internal/trace"
)

// parseTrace reads --explain=json's output (stderr), sorted by start time.
func parseTrace(t *testing.T, stderr string) []trace.Record {
	t.Helper()
	recs, err := trace.Read(strings.NewReader(stderr))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatalf("no trace on stderr: %q", stderr)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].TS < recs[j].TS })
	return recs
}

// startTime is how long a start took, by the definition --explain uses and this
// test measures with: from the first step hull records (hull's own start, from
// the package initialization of its Go code, through reading its command line and
// opening its engine) to init's execve of the program. Every
// process writes its records' times from the one system clock (CLOCK_REALTIME), so
// the two ends compare. It returns the steps inside it, too.
func startTime(t *testing.T, recs []trace.Record) (time.Duration, []trace.Record) {
	t.Helper()
	for i, r := range recs {
		if r.Proc == "init" && r.Op == "execve" {
			return time.Duration(r.TS + r.Dur - recs[0].TS), recs[:i+1]
		}
	}
	t.Fatal("no execve of init in the trace")
	return 0, nil
}

// gaps lists the largest stretches of the start no step covers, for a failure's
// message.
func gaps(recs []trace.Record) string {
	type gap struct {
		d            time.Duration
		before, next string
	}
	var gs []gap
	cur := recs[0].TS
	for i, r := range recs {
		if r.TS > cur && i > 0 {
			p := recs[i-1]
			gs = append(gs, gap{time.Duration(r.TS - cur), p.Proc + ":" + p.Op + " " + describe(p), r.Proc + ":" + r.Op + " " + describe(r)})
		}
		cur = max(cur, r.TS+r.Dur)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].d > gs[j].d })
	var b strings.Builder
	for i := 0; i < len(gs) && i < 5; i++ {
		fmt.Fprintf(&b, "\n  %v untraced between %s and %s", gs[i].d, gs[i].before, gs[i].next)
	}
	return b.String()
}

// TestExplainRun: the trace of a default `hull run` (hull's runtime, the default
// bridge network) holds each step of the start in order, each with a sane
// duration, and the steps account for the start: their durations add up to
// at least 80% of the start time (startTime) and at most 110%. Steps of different processes never
// overlap in a start (each waits for the other), so a sum far below the start
// time is work nobody traced, and one above it is a step counted twice.
//
// The host is shared with other suites: a process stalled by the scheduler in
// the middle of a start stalls untraced. So the first run warms the caches (and
// makes the bridge), and a start is measured up to eight times (a start takes
// ~20 ms; under a load average of 3-5 one in three fell short, at 87-89%, by
// scheduler stalls between processes); one within 10% passes, and a failure
// lists where the untraced time was in the last. Since issue 18's work the start
// takes ~13 ms, and what lies between kernel steps without being one (each Go
// process's start to its first step, JSON encoding and decoding of records and
// specs: 100-170 µs each, ~1.5 ms in all) is 10-15% of it: CI measured 85-89% in
// eight attempts where it had measured 90% before. A large part gone untraced
// (the runtime's create, the network's wiring) still fails the sum; the small
// steps are each checked by name (checkStartSteps).
func TestExplainRun(t *testing.T) {
	h := netEnv(t, "hull")
	h.ok("run", "--rm", "busybox", "true")
	var last string
	for attempt := 0; attempt < 8; attempt++ {
		before := time.Now()
		_, stderr, code := h.run("run", "--explain=json", "--rm", "busybox", "true")
		after := time.Now()
		if code != 0 {
			t.Fatalf("run --explain=json: exit %d: %s", code, stderr)
		}
		recs := parseTrace(t, stderr)
		total, start := startTime(t, recs)
		checkStartSteps(t, start)
		for _, r := range recs {
			if r.V != trace.Version || r.Result != "ok" {
				t.Errorf("step %s:%s/%s: version %d, result %s %s", r.Proc, r.Ingredient, r.Op, r.V, r.Result, r.Error)
			}
			if r.Dur < 0 || r.Start().Before(before) || r.End().After(after) {
				t.Errorf("step %s:%s/%s: %v from %v, outside the command (%v to %v)", r.Proc, r.Ingredient, r.Op, time.Duration(r.Dur), r.Start(), before, after)
			}
		}
		if t.Failed() {
			return
		}
		var sum time.Duration
		for _, r := range start {
			sum += time.Duration(r.Dur)
		}
		ratio := float64(sum) / float64(total)
		t.Logf("start %v, %d steps summing to %v (%.0f%%); the command took %v", total, len(start), sum, 100*ratio, after.Sub(before))
		if ratio >= 0.8 && ratio <= 1.1 {
			return
		}
		last = fmt.Sprintf("the steps sum to %v, %.0f%% of the start time %v:%s", sum, 100*ratio, total, gaps(start))
	}
	t.Error(last)
}

// stepWant is a step a trace must have: a name for a failure and a test.
type stepWant struct {
	name string
	ok   func(trace.Record) bool
}

// isStep matches a record by process, ingredient and call, and more when not nil.
func isStep(proc string, ing trace.Ingredient, op string, more func(trace.Record) bool) func(trace.Record) bool {
	return func(r trace.Record) bool {
		return r.Proc == proc && r.Ingredient == ing && r.Op == op && (more == nil || more(r))
	}
}

// stepArg matches a record whose argument k is v.
func stepArg(k, v string) func(trace.Record) bool {
	return func(r trace.Record) bool { s, _ := r.Args[k].(string); return s == v }
}

// stepFlags matches a record whose flags include names.
func stepFlags(names ...string) func(trace.Record) bool {
	return func(r trace.Record) bool {
		fl, _ := r.Args["flags"].([]any)
		for _, n := range names {
			if !slices.Contains(fl, any(n)) {
				return false
			}
		}
		return true
	}
}

// checkStartSteps checks that the start's steps include, in this order, what a
// default `hull run` does.
func checkStartSteps(t *testing.T, recs []trace.Record) {
	t.Helper()
	is, arg, flags := isStep, stepArg, stepFlags
	steps := []stepWant{
		{"hull's own start", is("engine", trace.Process, "start", arg("source", "hull run"))},
		{"the monitor spawned", is("engine", trace.Process, "clone3+execve", nil)},
		{"the image read", is("engine", trace.Image, "read", arg("source", "busybox"))},
		{"the rootfs made", is("engine", trace.Rootfs, "mount", arg("type", "overlay"))},
		{"the spec written", is("engine", trace.Process, "write", arg("file", "config.json, container.json"))},
		{"the rootfs mounted for the start", is("engine", trace.Rootfs, "mount", arg("type", "overlay"))},
		{"the monitor reads the record", is("monitor", trace.Process, "read", arg("file", "container.json"))},
		{"the cgroup made", is("create", trace.Cgroups, "mkdir", nil)},
		{"init cloned into new namespaces", is("create", trace.Namespaces, "clone3", flags("CLONE_NEWNS", "CLONE_NEWPID", "CLONE_NEWNET", "CLONE_NEWIPC", "CLONE_NEWUTS", "CLONE_INTO_CGROUP"))},
		{"the pids limit", is("create", trace.Cgroups, "write", arg("file", "pids.max"))},
		{"init's wait for its bootstrap", is("init", trace.Process, "wait", nil)},
		{"the cgroup namespace", is("init", trace.Namespaces, "unshare", flags("CLONE_NEWCGROUP"))},
		{"/proc mounted", is("init", trace.Mounts, "mount", arg("target", "/proc"))},
		{"/etc/hosts bound", is("init", trace.Mounts, "open_tree+mount_setattr+move_mount", arg("target", "/etc/hosts"))},
		{"/dev/null made", is("init", trace.Mounts, "mknodat", arg("target", "/dev/null"))},
		{"masked paths", is("init", trace.Mounts, "mount", nil)},
		{"pivot_root", is("init", trace.Rootfs, "pivot_root", nil)},
		{"the seccomp profile compiled", is("init", trace.Seccomp, "compile", nil)},
		{"the address leased", is("monitor", trace.Network, "write", nil)},
		{"the firewall", is("monitor", trace.Network, "nftables", nil)},
		{"the veth pair", is("monitor", trace.Network, "netlink", arg("type", "veth"))},
		{"the default route", is("monitor", trace.Network, "netlink", arg("target", "default"))},
		{"start wakes init", is("start", trace.Process, "flock+open", nil)},
		{"the bounding set", is("init", trace.Capabilities, "prctl", arg("type", "bounding"))},
		// Docker's default sets no no_new_privs: the filter goes in while init
		// still has CAP_SYS_ADMIN, before the user and capabilities change.
		{"the seccomp filter", is("init", trace.Seccomp, "seccomp", nil)},
		{"the capabilities", is("init", trace.Capabilities, "capset", nil)},
		{"execve", is("init", trace.Process, "execve", arg("source", "/bin/true"))},
	}
	checkSteps(t, recs, steps)
}

// checkSteps checks that recs include steps, in this order, and that none took
// ten seconds.
func checkSteps(t *testing.T, recs []trace.Record, steps []stepWant) {
	t.Helper()
	i := 0
	for k, w := range steps {
		for i < len(recs) && !w.ok(recs[i]) {
			i++
		}
		if i == len(recs) {
			var got []string
			for _, r := range recs {
				b, _ := json.Marshal(r.Args)
				got = append(got, fmt.Sprintf("%s %s/%s %s", r.Proc, r.Ingredient, r.Op, b))
			}
			t.Fatalf("no step %q after %q:\n%s", w.name, steps[max(k-1, 0)].name, strings.Join(got, "\n"))
		}
		i++
	}
	for _, r := range recs {
		// Nothing in a start takes a second on an idle machine; ten allow for
		// a loaded one.
		if r.Dur > int64(10*time.Second) {
			t.Errorf("step %s/%s took %v", r.Ingredient, r.Op, time.Duration(r.Dur))
		}
	}
}

// TestExplainTable: --explain draws the start on stderr grouped by ingredient, in
// the order a container is built, with a total, every line fitted to $COLUMNS;
// the container's own output stays alone on stdout.
func TestExplainTable(t *testing.T) {
	h := netEnv(t, "hull")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the trace is kept until it is shown
	for _, cols := range []string{"100", "61"} {
		t.Setenv("COLUMNS", cols)
		out, stderr, code := h.run("run", "--explain", "--rm", "busybox", "echo", "hi")
		if code != 0 || out != "hi\n" {
			t.Fatalf("run --explain: exit %d, stdout %q, stderr %s", code, out, stderr)
		}
		last := -1
		for _, ing := range []string{"IMAGE", "ROOTFS", "NAMESPACES", "MOUNTS", "CGROUPS", "CAPABILITIES", "SECCOMP", "NETWORK", "PROCESS", "TOTAL"} {
			i := strings.Index(stderr, "\n"+ing+" ")
			if i < 0 || i < last {
				t.Errorf("COLUMNS=%s: %s missing or out of order:\n%s", cols, ing, stderr)
			}
			last = i
		}
		var width int
		fmt.Sscan(cols, &width)
		bars := 0
		for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
			if n := utf8.RuneCountInString(l); n > width {
				t.Errorf("COLUMNS=%s: a line of %d columns: %q", cols, n, l)
			}
			if strings.HasSuffix(l, "|") && strings.Contains(l, "█") {
				bars++
			}
		}
		if bars < 50 {
			t.Errorf("COLUMNS=%s: %d steps drawn, want a bar for each (more than 50):\n%s", cols, bars, stderr)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the trace was left behind: %v", left)
	}
}

// TestExplainBar: the time axis. A step is drawn where it starts, as long as it
// lasts, and never shorter than one column.
func TestExplainBar(t *testing.T) {
	t0 := time.Now().UnixNano()
	total := 100 * time.Millisecond
	for _, c := range []struct {
		at, dur time.Duration
		want    string
	}{
		{0, 100 * time.Millisecond, "██████████"},
		{0, 0, "█         "},
		{50 * time.Millisecond, 20 * time.Millisecond, "     ██   "},
		{100 * time.Millisecond, 0, "         █"},
		{90 * time.Millisecond, 50 * time.Millisecond, "         █"},
	} {
		r := trace.Record{TS: t0 + int64(c.at), Dur: int64(c.dur)}
		if got := bar(r, t0, total, 10); got != c.want {
			t.Errorf("step at %v for %v: %q, want %q", c.at, c.dur, got, c.want)
		}
	}
}

// TestExplainBadMode: an unknown --explain format is refused before anything is made.
func TestExplainBadMode(t *testing.T) {
	h := newHullEnv(t, "hull")
	_, stderr, code := h.run("run", "--explain=yaml", "--rm", "busybox", "true")
	if code != 125 || !strings.Contains(stderr, `--explain "yaml": must be table or json`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if out := h.ok("ps", "-aq"); out != "" {
		t.Errorf("containers left: %q", out)
	}
}

// TestExplainWindow: without an execve of init (a create, an exec) the table
// spans every step; with one, the steps after it are counted apart.
func TestExplainWindow(t *testing.T) {
	t0 := time.Now().UnixNano()
	rec := func(at, dur time.Duration, proc, op string) trace.Record {
		return trace.Record{V: 1, TS: t0 + int64(at), Dur: int64(dur), Proc: proc, Ingredient: trace.Process, Op: op, Result: "ok"}
	}
	create := []trace.Record{rec(0, time.Millisecond, "engine", "write"), rec(time.Millisecond, time.Millisecond, "engine", "write")}
	if got := explainTable(create, 80); !strings.Contains(got, "2 kernel steps, 2.00ms from the first to the last; the steps take 2.00ms (100%)") {
		t.Errorf("create:\n%s", got)
	}
	run := append(create, rec(2*time.Millisecond, 0, "init", "execve"), rec(3*time.Millisecond, time.Millisecond, "delete", "rmdir"))
	got := explainTable(run, 80)
	if !strings.Contains(got, "3 kernel steps, 2.00ms from the first to the program's execve") || !strings.Contains(got, "(steps after the start: 1, 1.00ms;") {
		t.Errorf("run:\n%s", got)
	}
}

// TestExplainUntraced: a stretch no step covers is shown where it is, with its
// length, so that the table accounts for the whole start.
func TestExplainUntraced(t *testing.T) {
	t0 := time.Now().UnixNano()
	recs := []trace.Record{
		{V: 1, TS: t0, Dur: int64(time.Millisecond), Proc: "engine", Ingredient: trace.Image, Op: "read", Result: "ok"},
		{V: 1, TS: t0 + int64(3*time.Millisecond), Dur: int64(time.Millisecond), Proc: "init", Ingredient: trace.Process, Op: "execve", Result: "ok"},
	}
	got := explainTable(recs, 100)
	if !strings.Contains(got, "UNTRACED (1)") || !strings.Contains(got, "engine  after read, before init execve") || !strings.Contains(got, "2.00ms |") {
		t.Errorf("no untraced row of 2 ms:\n%s", got)
	}
	if gs := untraced(recs[:1], 0); len(gs) != 0 {
		t.Errorf("one step: untraced %v", gs)
	}
}
