package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"golang.org/x/sys/unix"
)

// The robustness tests of issue 6: what a killed process, a reboot or three commands
// at once must not break. Each runs against hull's runtime and runc, on a root whose
// default network is the test's own (netEnv), and checks after itself that nothing of
// its containers is left on the host (leftovers).

// netRuntimes is runtimes for tests that use the default network as well.
func netRuntimes(t *testing.T, fn func(t *testing.T, h *hullEnv)) {
	for _, rt := range []string{"hull", "runc"} {
		t.Run(rt, func(t *testing.T) { fn(t, netEnv(t, rt)) })
	}
}

// seed is the tests' random seed: $HULL_TEST_SEED to replay a failure, else the time.
func seed(t *testing.T) *rand.Rand {
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("HULL_TEST_SEED"); v != "" {
		s, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (HULL_TEST_SEED=%d replays it)", s, s)
	return rand.New(rand.NewPCG(s, s))
}

// command is the hull command line for args (run and create get --runtime).
func (h *hullEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	full := []string{"--root", h.root, "--state", h.state}
	if len(args) > 0 && (args[0] == "run" || args[0] == "create") && h.runtime != "hull" {
		full = append(full, args[0], "--runtime", h.runtime)
		args = args[1:]
	}
	return exec.CommandContext(ctx, h.bin, append(full, args...)...)
}

// result is how one hull command ended.
type result struct {
	args        []string
	out, stderr string
	code        int
	hung        bool
}

// runFor runs hull with args and kills it after timeout: a command that takes that
// long hangs.
func (h *hullEnv) runFor(timeout time.Duration, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := h.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// An exec'd process may keep the pipes a little after hull ended.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := result{args: args, out: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		r.hung = true
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		r.code = -1
		r.stderr += err.Error()
	}
	return r
}

// clean tells what is wrong with how a command ended: it must finish, and succeed or
// fail with one line of error from hull that is not a crash or an internal error.
// exec may end with the exit code of a process the race killed (137, 143), and
// through runc with runc's own line first: runc exec prints its failure on the
// stderr it shares with the process, before hull says why.
func (r result) clean(runtime string) string {
	msg := strings.TrimSpace(r.stderr)
	lines := strings.Split(msg, "\n")
	exec := r.args[0] == "exec"
	switch {
	case r.hung:
		return "hung"
	case r.code == 0:
		return ""
	case exec && (r.code == 137 || r.code == 143) && msg == "":
		return ""
	case msg == "":
		return fmt.Sprintf("exit %d without a word", r.code)
	case len(lines) > 2 || len(lines) == 2 && !(exec && runtime != "hull"):
		return fmt.Sprintf("exit %d with more than one line: %q", r.code, msg)
	case !strings.HasPrefix(lines[len(lines)-1], "hull: "):
		return fmt.Sprintf("exit %d: not hull's error: %q", r.code, msg)
	case exec && r.code == 127:
		return fmt.Sprintf("exit 127 (command not found): %q", msg)
	}
	for _, bad := range []string{"panic", "goroutine ", "unexpected", "runtime error"} {
		if strings.Contains(msg, bad) {
			return fmt.Sprintf("exit %d: %q", r.code, msg)
		}
	}
	return ""
}

// ids lists the IDs of every container record of h, whatever its state.
func (h *hullEnv) ids() []string {
	var ids []string
	ents, _ := os.ReadDir(filepath.Join(h.root, "containers"))
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// leftovers lists what is left of h's containers ids on the host: records,
// snapshots, bundles, runtime state, cgroups, mounts, processes (monitors and
// containers'), veths. The network's resolver is netEnv's to check.
func (h *hullEnv) leftovers(ids []string) []string {
	var out []string
	// (snapshots/.overlay-ok is the store's, not a container's)
	for _, pattern := range []string{"containers/*", "snapshots/[^.]*", "trash/*"} {
		found, _ := filepath.Glob(filepath.Join(h.root, pattern))
		for _, f := range found {
			var names []string
			if ents, err := os.ReadDir(f); err == nil {
				for _, e := range ents {
					names = append(names, e.Name())
				}
			}
			out = append(out, fmt.Sprintf("file %s %v", f, names))
		}
	}
	for _, pattern := range []string{"containers/*", "runtime/*/*"} {
		found, _ := filepath.Glob(filepath.Join(h.state, pattern))
		for _, f := range found {
			out = append(out, "state "+f)
		}
	}
	for _, id := range ids {
		for _, pattern := range []string{"/sys/fs/cgroup/hull-" + id, "/sys/fs/cgroup/*/hull-" + id} {
			found, _ := filepath.Glob(pattern)
			for _, f := range found {
				out = append(out, "cgroup "+f)
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (strings.HasPrefix(f[4], h.root+"/") || strings.HasPrefix(f[4], h.state+"/")) {
			out = append(out, "mount "+f[4])
		}
	}
	for _, p := range h.procs(ids, false) {
		out = append(out, "process "+p)
	}
	for _, name := range rootLinks(h.root) {
		if strings.HasPrefix(name, "veth") {
			out = append(out, "link "+name)
		}
	}
	return out
}

// procs lists the live processes of h (hull commands and monitors, which name its
// root; the resolver only with resolver) and of the containers ids (by cgroup), as
// "pid cmdline".
func (h *hullEnv) procs(ids []string, resolver bool) []string {
	var out []string
	for _, p := range testutil.Processes() {
		cmdline := p.Cmdline()
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.Pid))
		ours := strings.Contains(cmdline, h.root+" ") && (resolver || !strings.Contains(cmdline, " network dns "))
		for _, id := range ids {
			ours = ours || bytes.Contains(cg, []byte("/hull-"+id))
		}
		if ours {
			out = append(out, fmt.Sprintf("%d %s", p.Pid, cmdline))
		}
	}
	return out
}

// noLeftovers fails the test if anything of ids is still there after a while (a
// monitor finishing may take a moment).
func (h *hullEnv) noLeftovers(t *testing.T, ids []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	left := h.leftovers(ids)
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		left = h.leftovers(ids)
	}
	if len(left) > 0 {
		t.Errorf("left behind:\n  %s", strings.Join(left, "\n  "))
	}
}

// reboot does to h what a reboot does: every process of it (monitors and
// containers) killed, its cgroups and mounts gone, the state directory (/run/hull)
// gone.
// The records, snapshots and logs on disk stay. The default network's bridge and
// nftables table stay too (a reboot would take them, and the next use would make
// them again; the containers' veths go with their network namespaces).
func (h *hullEnv) reboot(t *testing.T) {
	t.Helper()
	ids := h.ids()
	for _, p := range h.procs(nil, true) { // monitors and the resolver first
		pid, _ := strconv.Atoi(strings.Fields(p)[0])
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, id := range ids {
		cgs, _ := filepath.Glob("/sys/fs/cgroup/*/hull-" + id)
		if v2, err := os.Stat("/sys/fs/cgroup/hull-" + id); err == nil && v2.IsDir() {
			cgs = append(cgs, "/sys/fs/cgroup/hull-"+id)
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, cg := range cgs {
			for {
				procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
				pids := strings.Fields(string(procs))
				if len(pids) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("reboot: %s keeps processes %v", cg, pids)
				}
				for _, p := range pids {
					pid, _ := strconv.Atoi(p)
					syscall.Kill(pid, syscall.SIGKILL)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		for _, cg := range cgs {
			// a dying process may hold the cgroup a moment after it left cgroup.procs
			for err := os.Remove(cg); err != nil && !os.IsNotExist(err); err = os.Remove(cg) {
				if time.Now().After(deadline) {
					t.Fatalf("reboot: remove cgroup: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.procs(ids, true)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("reboot: processes survive: %v", h.procs(ids, true))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// deepest first
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	lines := strings.Split(string(mounts), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if f := strings.Fields(lines[i]); len(f) > 4 && (strings.HasPrefix(f[4], h.root+"/") || strings.HasPrefix(f[4], h.state+"/")) {
			if err := unix.Unmount(f[4], unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
				t.Fatalf("reboot: unmount %s: %v", f[4], err)
			}
		}
	}
	// /run is an empty tmpfs after a reboot: no /run/hull
	if err := os.RemoveAll(h.state); err != nil {
		t.Fatalf("reboot: wipe %s: %v", h.state, err)
	}
}

// waitLogs waits until the container's log holds want.
func (h *hullEnv) waitLogs(ref, want string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(h.ok("logs", ref), want) {
		if time.Now().After(deadline) {
			h.t.Fatalf("logs of %s never showed %q: %q", ref, want, h.ok("logs", ref))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunWiped: containers created, exited, stopped and running (one without its
// monitor), then a reboot: `hull ps` tells no lie, the containers start again, and
// rm -f takes every one without a trace.
func TestRunWiped(t *testing.T) {
	netRuntimes(t, func(t *testing.T, h *hullEnv) {
		h.ok("run", "--name", "exited0", "--network", "none", "busybox", "true")
		h.ok("run", "-d", "--name", "exited3", "--network", "none", "busybox", "sh", "-c", "exit 3")
		if out := h.ok("wait", "exited3"); out != "3\n" {
			t.Fatalf("wait exited3: %q", out)
		}
		h.ok("create", "--name", "fresh", "--network", "none", "busybox", "echo", "fresh")
		h.ok("run", "-d", "--name", "stopped", "--network", "none", "busybox", "sleep", "1000")
		h.ok("stop", "-t", "1", "stopped")
		h.ok("run", "-d", "--name", "orphan", "--network", "none", "busybox", "sh", "-c", "echo before; exec sleep 1000")
		h.ok("run", "-d", "--name", "bridged", "busybox", "sh", "-c", "echo bridged; exec sleep 1000")
		h.waitLogs("orphan", "before")
		h.waitLogs("bridged", "bridged")
		mon := int(h.record(h.inspect("orphan", "{{.Id}}"))["State"].(map[string]any)["MonitorPid"].(float64))
		syscall.Kill(mon, syscall.SIGKILL)
		waitGone(t, mon)
		if out := h.ok("ps", "--format", "{{.Names}} {{.State}}"); !strings.Contains(out, "orphan running\n") {
			t.Errorf("ps with orphan's monitor killed: %q", out)
		}

		h.reboot(t)

		want := map[string]string{
			"exited0": "exited 0", "exited3": "exited 3", "fresh": "created 0", "stopped": "exited 137",
			"orphan": "exited", "bridged": "exited",
		}
		for name, w := range want {
			if got := h.inspect(name, "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.Pid}}"); !strings.HasPrefix(got, w) || !strings.HasSuffix(got, " false 0") {
				t.Errorf("after the reboot, %s: %s, want %s, not running, no pid", name, got, w)
			}
		}
		if out := h.ok("ps", "-q"); out != "" {
			t.Errorf("ps after the reboot lists running containers: %q", out)
		}
		if out := h.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}"); strings.Contains(out, "Up") || strings.Count(out, "\n") != len(want) {
			t.Errorf("ps -a after the reboot:\n%s", out)
		}
		if out := h.ok("logs", "orphan"); out != "before\n" {
			t.Errorf("logs of orphan after the reboot: %q", out)
		}

		// They start again: a created one, a stopped one, one that was running (on
		// the network), and one whose monitor was lost.
		h.ok("start", "fresh")
		if out := h.ok("wait", "fresh"); out != "0\n" {
			t.Errorf("wait fresh: %q", out)
		}
		if out := h.ok("logs", "fresh"); out != "fresh\n" {
			t.Errorf("logs fresh: %q", out)
		}
		for _, name := range []string{"stopped", "orphan", "bridged"} {
			h.ok("start", name)
			if got := h.inspect(name, "{{.State.Status}}"); got != "running" {
				t.Errorf("%s after start: %s", name, got)
			}
		}
		h.waitLogs("orphan", "before\nbefore\n")
		if out := h.ok("exec", "bridged", "sh", "-c", "ls /sys/class/net"); out != "eth0\nlo\n" {
			t.Errorf("bridged has no network after its restart: %q", out)
		}
		h.ok("stop", "-t", "1", "stopped")
		if got := h.inspect("stopped", "{{.State.ExitCode}}"); got != "137" {
			t.Errorf("stop after the reboot: exit %s", got)
		}

		// A second reboot with some running, then rm -f of each.
		h.reboot(t)
		ids := h.ids()
		for name := range want {
			if r := h.runFor(60*time.Second, "rm", "-f", name); r.code != 0 || r.hung {
				t.Errorf("rm -f %s after the reboot: exit %d hung %v: %s", name, r.code, r.hung, r.stderr)
			}
		}
		if out := h.ok("ps", "-aq"); out != "" {
			t.Errorf("left after rm -f: %q", out)
		}
		h.noLeftovers(t, ids)
	})
}

// waitGone waits until pid has exited.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d does not go", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunsKilled: 20 `hull run` (detached and in the foreground, on no network and
// on the default one, some --rm) killed with SIGKILL at random moments, then
// `hull rm -f $(hull ps -aq)`: nothing may be left.
func TestRunsKilled(t *testing.T) {
	netRuntimes(t, func(t *testing.T, h *hullEnv) {
		rng := seed(t)
		const n = 20
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			args := []string{"run"}
			if i%4 != 3 {
				args = append(args, "-d")
			}
			if i%2 == 0 {
				args = append(args, "--network", "none")
			}
			if i%5 == 4 {
				args = append(args, "--rm")
			}
			args = append(args, "busybox", "sh", "-c", "echo hi; exec sleep 1000")
			delay := time.Duration(rng.IntN(300)) * time.Millisecond
			start := time.Duration(i) * 50 * time.Millisecond
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(start)
				// Stdio is /dev/null: a foreground run's monitor keeps a copy
				// of it, which would hold pipes open.
				cmd := h.command(context.Background(), args...)
				if err := cmd.Start(); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(delay)
				cmd.Process.Kill()
				cmd.Wait()
			}()
		}
		wg.Wait()
		ids := h.ids()
		all := strings.Fields(h.ok("ps", "-aq"))
		t.Logf("%d records, ps -a lists %d, %d running", len(ids), len(all), len(strings.Fields(h.ok("ps", "-q"))))
		if len(all) > 0 {
			if r := h.runFor(120*time.Second, append([]string{"rm", "-f"}, all...)...); r.code != 0 || r.hung {
				t.Errorf("rm -f: exit %d hung %v: %s", r.code, r.hung, r.stderr)
			}
		}
		if out := h.ok("ps", "-aq"); out != "" {
			t.Errorf("ps -aq after rm -f: %q", out)
		}
		h.noLeftovers(t, ids)
	})
}

var anyName = regexp.MustCompile(`container [a-z]+_[a-z]+`)

// TestStopExecRmRace: rounds of `hull stop`, `hull exec` and `hull rm -f` fired at
// once on one running container. Every command finishes and succeeds or fails with
// one clean line; after each round the container is gone without a trace.
func TestStopExecRmRace(t *testing.T) {
	rounds := 100
	if testing.Short() {
		rounds = 10
	}
	netRuntimes(t, func(t *testing.T, h *hullEnv) {
		rng := seed(t)
		cmds := []string{
			"sleep 1000", // ignores SIGTERM: stop waits -t
			`trap "exit 0" TERM; while :; do sleep 0.05; done`, // stops on SIGTERM
		}
		outcomes, errs := map[string]int{}, map[string]int{} // how the rounds went, for the log
		defer func() { t.Logf("outcomes (exit codes of stop, exec, rm): %v; errors: %v", outcomes, errs) }()
		for round := 0; round < rounds && !t.Failed(); round++ {
			args := []string{"run", "-d", "--network", "none"}
			if round%10 == 9 {
				args = args[:2] // the default network now and then
			}
			r := h.runFor(60*time.Second, append(args, "busybox", "sh", "-c", cmds[round%2])...)
			if r.code != 0 {
				t.Fatalf("round %d: run: exit %d: %s", round, r.code, r.stderr)
			}
			id := strings.TrimSpace(r.out)
			race := [][]string{
				{"stop", "-t", "1", id},
				{"exec", id, "echo", "in"},
				{"rm", "-f", id},
			}
			results := make([]result, len(race))
			var wg sync.WaitGroup
			for i, a := range race {
				delay := time.Duration(rng.IntN(300)) * time.Millisecond
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(delay)
					results[i] = h.runFor(30*time.Second, a...)
				}()
			}
			wg.Wait()
			outcomes[fmt.Sprintf("%d/%d/%d", results[0].code, results[1].code, results[2].code)]++
			for _, r := range results {
				if msg := strings.TrimSpace(r.stderr); msg != "" {
					msg = msg[strings.LastIndexByte(msg, '\n')+1:] // hull's line
					errs[r.args[0]+": "+anyName.ReplaceAllString(strings.ReplaceAll(msg, id, "ID"), "container NAME")]++
				}
			}
			for i, r := range results {
				if why := r.clean(h.runtime); why != "" {
					t.Errorf("round %d: hull %s: %s", round, race[i][0], why)
				}
			}
			if x := results[1]; x.code == 0 && x.out != "in\n" {
				t.Errorf("round %d: exec succeeded with %q", round, x.out)
			}
			if rm := results[2]; rm.code != 0 {
				t.Errorf("round %d: rm -f failed: %s", round, rm.stderr)
			}
			if out := h.ok("ps", "-aq"); out != "" {
				t.Errorf("round %d: left %q", round, out)
			}
			h.noLeftovers(t, []string{id})
		}
	})
}
