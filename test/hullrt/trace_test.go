package hullrt_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hullproject/hull/internal/trace"
)

// readTrace reads a trace and sorts it by start time.
func readTrace(t *testing.T, path string) []trace.Record {
	t.Helper()
	recs, err := trace.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatalf("trace %s is empty", path)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].TS < recs[j].TS })
	return recs
}

// findInOrder checks that each wanted step appears after the one before it and
// returns the matching records.
func findInOrder(t *testing.T, recs []trace.Record, want []func(trace.Record) bool, names []string) []trace.Record {
	t.Helper()
	var found []trace.Record
	i := 0
	for k, w := range want {
		for i < len(recs) && !w(recs[i]) {
			i++
		}
		if i == len(recs) {
			var got []string
			for _, r := range recs {
				got = append(got, r.Proc+":"+string(r.Ingredient)+"/"+r.Op)
			}
			t.Fatalf("no step %q after %v in the trace:\n%s", names[k], names[:k], strings.Join(got, "\n"))
		}
		found = append(found, recs[i])
		i++
	}
	return found
}

func step(proc string, ing trace.Ingredient, op string, more func(trace.Record) bool) func(trace.Record) bool {
	return func(r trace.Record) bool {
		return r.Proc == proc && r.Ingredient == ing && r.Op == op && (more == nil || more(r))
	}
}

func flagsHave(r trace.Record, names ...string) bool {
	fl, _ := r.Args["flags"].([]any)
	for _, n := range names {
		if !slices.Contains(fl, any(n)) {
			return false
		}
	}
	return true
}

// TestTraceRun: `hullrt --trace FILE run` records the kernel steps of create,
// init, start and delete, in order, each with its arguments, result and a sane
// duration; init's records come from init's own pid.
func TestTraceRun(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpgid"}, Action: specs.ActErrno}}}
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		limit := int64(77)
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
		s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true"}}, CreateContainer: []specs.Hook{{Path: "/bin/true"}, {Path: "/bin/true"}}}
	})
	tf := filepath.Join(t.TempDir(), "trace.jsonl")
	before := time.Now()
	e.must("--trace", tf, "run", "--bundle", b, cid("trace"))
	after := time.Now()
	recs := readTrace(t, tf)
	names := []string{"read config", "mkdir cgroup", "clone3", "pids.max", "init wait", "unshare cgroup", "sysctl",
		"mount /proc", "prestart hook", "createContainer hooks", "pivot_root", "seccomp compile", "start wakes init", "setrlimit", "bounding set",
		"capset", "no_new_privs", "seccomp load", "execve", "cgroup rmdir", "state removed"}
	got := findInOrder(t, recs, []func(trace.Record) bool{
		step("create", trace.Process, "read", nil),
		step("create", trace.Cgroups, "mkdir", nil),
		step("create", trace.Namespaces, "clone3", func(r trace.Record) bool {
			return flagsHave(r, "CLONE_NEWNS", "CLONE_NEWPID", "CLONE_NEWNET", "CLONE_NEWIPC", "CLONE_NEWUTS")
		}),
		step("create", trace.Cgroups, "write", func(r trace.Record) bool { return r.Args["file"] == "pids.max" && r.Args["value"] == "77" }),
		step("init", trace.Process, "wait", nil),
		step("init", trace.Namespaces, "unshare", func(r trace.Record) bool { return flagsHave(r, "CLONE_NEWCGROUP") }),
		step("init", trace.Sysctl, "write", func(r trace.Record) bool { return r.Args["file"] == "net.ipv4.ip_forward" }),
		step("init", trace.Mounts, "mount", func(r trace.Record) bool { return r.Args["target"] == "/proc" && r.Args["type"] == "proc" }),
		step("create", trace.Hooks, "exec", func(r trace.Record) bool { return r.Args["type"] == "prestart" && r.Args["count"] == float64(1) }),
		step("init", trace.Hooks, "exec", func(r trace.Record) bool { return r.Args["type"] == "createContainer" && r.Args["count"] == float64(2) }),
		step("init", trace.Rootfs, "pivot_root", nil),
		step("init", trace.Seccomp, "compile", func(r trace.Record) bool { c, _ := r.Args["count"].(float64); return c > 4 }),
		step("start", trace.Process, "flock+open", nil),
		step("init", trace.Rlimits, "setrlimit", nil),
		step("init", trace.Capabilities, "prctl", func(r trace.Record) bool { return r.Args["type"] == "bounding" }),
		step("init", trace.Capabilities, "capset", nil),
		step("init", trace.Capabilities, "prctl", func(r trace.Record) bool { return r.Args["type"] == "no_new_privs" }),
		step("init", trace.Seccomp, "seccomp", nil),
		step("init", trace.Process, "execve", func(r trace.Record) bool { return r.Args["source"] == "/bin/true" }),
		step("delete", trace.Cgroups, "rmdir", nil),
		step("delete", trace.Process, "unlinkat", nil),
	}, names)
	pids := map[string]int{}
	for _, r := range recs {
		if r.V != trace.Version || r.Result != "ok" || r.Error != "" {
			t.Errorf("record %+v: want version %d, result ok", r, trace.Version)
		}
		if r.Dur < 0 || r.Dur > int64(5*time.Second) || r.Start().Before(before) || r.End().After(after) {
			t.Errorf("record %s/%s: ts %v dur %v outside the run (%v to %v)", r.Ingredient, r.Op, r.Start(), time.Duration(r.Dur), before, after)
		}
		if p, ok := pids[r.Proc]; ok && p != r.Pid {
			t.Errorf("%s records from pids %d and %d", r.Proc, p, r.Pid)
		}
		pids[r.Proc] = r.Pid
	}
	if pids["init"] == pids["create"] || pids["create"] == 0 || pids["create"] != pids["start"] {
		t.Errorf("pids: %v: init must be a process of its own, and run one process", pids)
	}
	if got[2].Dur <= 0 || got[10].Dur <= 0 {
		t.Errorf("clone3 (%d ns) and pivot_root (%d ns) took no time", got[2].Dur, got[10].Dur)
	}
}

// TestTraceEnv: HULLRT_TRACE traces each verb (create, start, exec, delete) run as
// its own command, into one file.
func TestTraceEnv(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	tf := filepath.Join(t.TempDir(), "trace.jsonl")
	t.Setenv(trace.Env, tf)
	id := cid("traceenv")
	e.must("create", "--bundle", b, id)
	e.must("start", id)
	e.must("exec", id, "true")
	e.must("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	e.must("delete", id)
	recs := readTrace(t, tf)
	findInOrder(t, recs, []func(trace.Record) bool{
		step("create", trace.Namespaces, "clone3", nil),
		step("init", trace.Rootfs, "pivot_root", nil),
		step("start", trace.Process, "flock+open", nil),
		step("init", trace.Process, "execve", nil),
		step("exec", trace.Namespaces, "setns", func(r trace.Record) bool { return r.Args["type"] == "net" }),
		step("exec", trace.Namespaces, "clone3", func(r trace.Record) bool {
			d, _ := r.Args["detail"].(string)
			return strings.Contains(d, "setns in the child: mnt")
		}),
		step("exec", trace.Cgroups, "write", func(r trace.Record) bool { return strings.HasSuffix(r.Args["file"].(string), "cgroup.procs") }),
		step("exec", trace.Process, "wait", nil),
		step("exec", trace.Capabilities, "capset", nil),
		step("exec", trace.Process, "execve", func(r trace.Record) bool { return r.Args["source"] == "/bin/true" }),
		step("delete", trace.Cgroups, "rmdir", nil),
	}, []string{"create clone3", "init pivot_root", "start", "init execve", "exec setns net", "exec clone3", "exec cgroup.procs", "exec wait", "exec capset", "exec execve", "delete"})
}

// TestTraceDescriptor: init writes its records through a descriptor of the trace
// file that the container's program never holds (nor an exec'd process), and a
// trace does not change what init holds otherwise.
func TestTraceDescriptor(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	tf := filepath.Join(t.TempDir(), "trace.jsonl")
	id := cid("tracefd")
	e.must("--trace", tf, "create", "--bundle", b, id)
	pid := e.state(id).Pid
	holds := func(pid int) []int {
		var fds []int
		for n, l := range fdLinks(t, pid) {
			if l == tf {
				fds = append(fds, n)
			}
		}
		return fds
	}
	// Before start init holds it, to record its last steps: that proves the
	// check below looks at the right file.
	if len(holds(pid)) != 1 {
		t.Fatalf("created init holds the trace %v times: %v", holds(pid), fdLinks(t, pid))
	}
	e.must("--trace", tf, "start", id)
	for i := 0; i < 200; i++ {
		if c, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); string(c) == "sleep\x00100\x00" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if fds := fdLinks(t, pid); len(fds) != 3 || len(holds(pid)) != 0 {
		t.Errorf("the program holds %v, want stdio only", fds)
	}
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	e.must("--trace", tf, "exec", "-d", "--pid-file", pidFile, id, "sleep", "100")
	epid, err := strconv.Atoi(strings.TrimSpace(waitFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	if fds := fdLinks(t, epid); len(fds) != 3 || len(holds(epid)) != 0 {
		t.Errorf("the exec'd program holds %v, want stdio only", fds)
	}
	recs := readTrace(t, tf)
	n := 0
	for _, r := range recs {
		if r.Op == "execve" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d execve records, want 2 (init, exec)", n)
	}
}
