package hullrt_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// startFailures are containers whose init fails after `start` reached it: create
// succeeds, and the error comes between the exec fifo and execve.
var startFailures = []struct {
	name string
	spec func(t *testing.T, s *specs.Spec)
	want string // in the error
}{
	// Executable by its mode (create checks that much), but no program execve knows.
	{"not-a-program", func(t *testing.T, s *specs.Spec) {
		rootfs := ownRootfs(t)
		if err := os.WriteFile(filepath.Join(rootfs, "notelf"), []byte("not a program\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		s.Root.Path = rootfs
		s.Process.Args = []string{"/notelf"}
	}, "exec /notelf: exec format error"},
	// A profile that refuses execve itself.
	{"seccomp-execve", func(t *testing.T, s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"execve"}, Action: specs.ActErrno}}}
	}, "exec true: operation not permitted"},
	// Descriptors that cannot be marked close-on-exec in any way: init must fail
	// rather than exec. The NOTIFY rule makes init load the filter early, so that
	// it runs under it (see TestSeccompCloseRangeRefusedEarly).
	{"seccomp-descriptors", func(t *testing.T, s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			ListenerPath: newAgent(t).path,
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"close_range", "fcntl"}, Action: specs.ActErrno},
				{Names: []string{"acct"}, Action: specs.ActNotify},
			}}
	}, "close descriptors: close_range: operation not permitted; /proc/self/fd: descriptor"},
}

// TestStartFailure: when init fails after start, `start` says so -- exit 1, the
// error on stderr and in the --log file at level error -- and the container is
// stopped when it returns, never left dead behind a start that exited 0.
func TestStartFailure(t *testing.T) {
	for _, c := range startFailures {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.bundle([]string{"true"}, func(s *specs.Spec) { c.spec(t, s) })
			id := cid("startfail")
			e.must("create", "--bundle", b, id)
			log := filepath.Join(t.TempDir(), "log.json")
			_, stderr, code := e.run("--log", log, "--log-format", "json", "start", id)
			if code != 1 || len(lines(stderr)) != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("start: exit %d, stderr %q; want 1 and %q", code, stderr, c.want)
			}
			if st := e.state(id); st.Status != "stopped" {
				t.Errorf("after a failed start the container is %s", st.Status)
			}
			checkLogged(t, log, "json", c.want)
			e.must("delete", id)
			e.checkNothingLeft(id)
		})
	}
}

// TestRunStartFailure: the same through `run`, which creates and starts in one
// process: exit 1, the error logged (text format here), nothing left.
func TestRunStartFailure(t *testing.T) {
	for _, c := range startFailures {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.bundle([]string{"true"}, func(s *specs.Spec) { c.spec(t, s) })
			id := cid("runfail")
			log := filepath.Join(t.TempDir(), "log.txt")
			_, stderr, code := e.runIn(b, nil, "--log", log, "--log-format", "text", "run", id)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("run: exit %d, stderr %q; want 1 and %q", code, stderr, c.want)
			}
			checkLogged(t, log, "text", c.want)
			e.checkNothingLeft(id)
		})
	}
}

// checkLogged fails unless the --log file holds an error line whose message holds
// want, in the given format.
func checkLogged(t *testing.T, log, format, want string) {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines(string(data)) {
		switch format {
		case "json":
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["level"] == "error" {
				if msg, _ := m["msg"].(string); strings.Contains(msg, want) {
					return
				}
			}
		case "text":
			if strings.Contains(l, "level=error") && strings.Contains(l, want) {
				return
			}
		}
	}
	t.Errorf("no error line with %q in the %s log:\n%s", want, format, data)
}
