package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/trace"
)

// TestExplainPod: `hull pod create --explain` and `hull pod start --explain` trace
// the pod's own setup as run's does: the record, then the infra cloned into the
// pod's namespaces, its own steps (host name, loopback, empty root, nobody,
// no_new_privs) and the network attached to its namespace. The infra never holds
// the trace's descriptor.
func TestExplainPod(t *testing.T) {
	h := netEnv(t, "hull")
	t.Cleanup(func() { h.run("pod", "rm", "-f", "xp") })
	stdout, stderr, code := h.run("pod", "create", "--explain=json", "--name", "xp")
	if code != 0 {
		t.Fatalf("pod create --explain=json: exit %d: %s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	if len(id) != 64 {
		t.Fatalf("pod create's stdout is %q, not the pod's ID alone", stdout)
	}
	checkSteps(t, parseTrace(t, stderr), []stepWant{
		{"hull's own start", isStep("engine", trace.Process, "start", stepArg("source", "hull pod create"))},
		{"the pod's record", isStep("engine", trace.Process, "mkdir+write", stepArg("file", "pod.json"))},
	})

	before := time.Now()
	stdout, stderr, code = h.run("pod", "start", "--explain=json", "xp")
	after := time.Now()
	if code != 0 {
		t.Fatalf("pod start --explain=json: exit %d: %s", code, stderr)
	}
	if strings.TrimSpace(stdout) != id {
		t.Fatalf("pod start's stdout is %q, not the pod's ID alone", stdout)
	}
	recs := parseTrace(t, stderr)
	checkSteps(t, recs, []stepWant{
		{"hull's own start", isStep("engine", trace.Process, "start", stepArg("source", "hull pod start"))},
		{"the infra cloned into the pod's namespaces", isStep("engine", trace.Namespaces, "clone+execve",
			stepFlags("CLONE_NEWNS", "CLONE_NEWNET", "CLONE_NEWIPC", "CLONE_NEWUTS", "CLONE_NEWPID"))},
		// the engine's wait spans the infra's steps: it starts before them
		{"the engine's wait for the infra", isStep("engine", trace.Process, "wait", nil)},
		{"the pod's host name", isStep("infra", trace.Namespaces, "sethostname", stepArg("value", "xp"))},
		{"lo up", isStep("infra", trace.Network, "ioctl", stepArg("target", "lo"))},
		{"the infra's empty root", isStep("infra", trace.Rootfs, "mount+pivot_root+umount2", nil)},
		{"nobody", isStep("infra", trace.Capabilities, "setgroups+setgid+setuid", nil)},
		{"no_new_privs", isStep("infra", trace.Capabilities, "prctl", stepArg("value", "PR_SET_NO_NEW_PRIVS"))},
		{"the pod's record with its infra", isStep("engine", trace.Process, "write", stepArg("file", "pod.json"))},
		{"the network's lock", isStep("engine", trace.Network, "flock+detach", nil)},
		{"the firewall", isStep("engine", trace.Network, "nftables", nil)},
		{"the veth pair", isStep("engine", trace.Network, "netlink", stepArg("type", "veth"))},
		{"the default route", isStep("engine", trace.Network, "netlink", stepArg("target", "default"))},
	})
	for _, r := range recs {
		if r.V != trace.Version || r.Result != "ok" {
			t.Errorf("step %s:%s/%s: version %d, result %s %s", r.Proc, r.Ingredient, r.Op, r.V, r.Result, r.Error)
		}
		if r.Dur < 0 || r.Start().Before(before) || r.End().After(after) {
			t.Errorf("step %s:%s/%s: %v from %v, outside the command (%v to %v)", r.Proc, r.Ingredient, r.Op, time.Duration(r.Dur), r.Start(), before, after)
		}
	}

	// The infra lives on: it must hold no descriptor of the trace (hull's
	// temporary hull-trace-*.jsonl).
	pid, err := strconv.Atoi(strings.TrimSpace(h.ok("pod", "inspect", "-f", "{{.Infra.Pid}}", "xp")))
	if err != nil || pid <= 0 {
		t.Fatalf("the infra's pid: %v", err)
	}
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
		if strings.Contains(target, "hull-trace-") {
			t.Errorf("the infra holds the trace on fd %s: %s", fd.Name(), target)
		}
	}

	// The table, as run's: the infra's steps under their ingredients.
	h.ok("pod", "stop", "xp")
	cmd := h.command(t.Context(), "pod", "start", "--explain", "xp")
	cmd.Env = append(cmd.Environ(), "COLUMNS=100")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pod start --explain: %v\n%s", err, out)
	}
	for _, want := range []string{"NAMESPACES", "  infra   sethostname xp", "CAPABILITIES", "NETWORK", "TOTAL"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("pod start --explain: no %q in:\n%s", want, out)
		}
	}
}

// TestExplainNsenter: the steps nsenter's constructor makes in C before the Go
// runtime starts (an exec's setns into the mount and cgroup namespaces, init's
// joins of its v1 cgroups) are records of their own, timed inside the command,
// not only a detail of the clone; and the variable that asks for them does not
// reach the container's program.
func TestExplainNsenter(t *testing.T) {
	h := netEnv(t, "hull")
	h.ok("run", "-d", "--name", "ns", "busybox", "sleep", "1000")
	before := time.Now()
	stdout, stderr, code := h.run("exec", "--explain=json", "ns", "env")
	after := time.Now()
	if code != 0 {
		t.Fatalf("exec --explain=json: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "_HULL") {
		t.Errorf("the program's environment has hull's variables:\n%s", stdout)
	}
	recs := parseTrace(t, stderr)
	const where = "in nsenter's constructor (C), before the Go runtime starts"
	checkSteps(t, recs, []stepWant{
		{"the clone", isStep("exec", trace.Namespaces, "clone3", nil)},
		{"setns mnt in C", isStep("exec", trace.Namespaces, "setns", func(r trace.Record) bool {
			return stepArg("detail", where)(r) && stepFlags("CLONE_NEWNS")(r)
		})},
		{"setns cgroup in C", isStep("exec", trace.Namespaces, "setns", func(r trace.Record) bool {
			return stepArg("detail", where)(r) && stepFlags("CLONE_NEWCGROUP")(r)
		})},
	})
	for _, r := range recs {
		if r.Op == "setns" && r.Args["detail"] == where && (r.Start().Before(before) || r.End().After(after) || r.Dur <= 0) {
			t.Errorf("nsenter's setns: %v from %v, outside the command (%v to %v)", time.Duration(r.Dur), r.Start(), before, after)
		}
	}

	// init joins its v1 cgroups from C on a host that has them
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), ":pids:") {
		return
	}
	_, stderr, code = h.run("run", "--explain=json", "--rm", "busybox", "true")
	if code != 0 {
		t.Fatalf("run --explain=json: exit %d: %s", code, stderr)
	}
	checkSteps(t, parseTrace(t, stderr), []stepWant{
		{"init's clone", isStep("create", trace.Namespaces, "clone3", nil)},
		{"a v1 cgroup joined in C", isStep("init", trace.Cgroups, "write", stepArg("file", "tasks"))},
		{"execve", isStep("init", trace.Process, "execve", nil)},
	})
}
