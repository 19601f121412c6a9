// Package testsuite is the conformance suite every ociruntime.Runtime passes, in the
// manner of containerd's snapshotter testsuite: the same lifecycle checks run against
// hull's own runtime and against runc, so any difference between them shows up here.
//
// The calling test binary must be a child subreaper (an external runtime's init is
// re-parented to it) and, for hull's runtime, must call runtime.Init when
// runtime.IsInit() (the init is the test binary run again).
package testsuite

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Run runs every check against the runtimes newRT makes (one per test, with its state
// in stateDir).
func Run(t *testing.T, newRT func(t *testing.T, stateDir string) ociruntime.Runtime) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"CreateStartExit", testCreateStartExit},
		{"ExitCode", testExitCode},
		{"KillAndDelete", testKillAndDelete},
		{"DeleteForce", testDeleteForce},
		{"Exec", testExec},
		{"PidsStats", testPidsStats},
		{"PauseResumeUpdate", testPauseResumeUpdate},
		{"Unknown", testUnknown},
		{"CreateFailsClean", testCreateFailsClean},
		{"ErrorKinds", testErrorKinds},
		{"OOMKilled", testOOMKilled},
		{"KillCgroupLost", testKillCgroupLost},
	}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testutil.RequireRoot(t)
			s := &suite{t: t, rootfs: rootfs, stateDir: t.TempDir()}
			s.rt = newRT(t, s.stateDir)
			tc.fn(t, s)
		})
	}
}

type suite struct {
	t        *testing.T
	rootfs   string
	stateDir string // the runtime's (newRT's)
	rt       ociruntime.Runtime
	n        int
}

// bundle writes a bundle running args and returns its id and directory; the container
// is deleted (forced) when the test ends.
func (s *suite) bundle(args ...string) (string, string) {
	return s.bundleWith(nil, args...)
}

// bundleWith is bundle with edit applied to the spec (nil: none).
func (s *suite) bundleWith(edit func(*specs.Spec), args ...string) (string, string) {
	s.t.Helper()
	s.n++
	id := strings.ReplaceAll(s.t.Name(), "/", "-") + "-" + string(rune('a'+s.n))
	dir := s.t.TempDir()
	spec := runtime.DefaultSpec(false)
	spec.Process.Terminal = false
	spec.Process.Args = args
	spec.Root = &specs.Root{Path: s.rootfs, Readonly: true}
	spec.Linux.CgroupsPath = "/hull-suite-" + id
	if edit != nil {
		edit(spec)
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), spec); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		if err := s.rt.Delete(id, true); err != nil {
			s.t.Errorf("cleanup: delete %s: %v", id, err)
		}
	})
	return id, dir
}

// reap waits for init and returns its shell-style exit code.
func reap(t *testing.T, pid int) int {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				done <- -1
				return
			}
			break
		}
		if ws.Signaled() {
			done <- 128 + int(ws.Signal())
			return
		}
		done <- ws.ExitStatus()
	}()
	select {
	case c := <-done:
		return c
	case <-time.After(10 * time.Second):
		t.Fatalf("init %d did not exit", pid)
		return -1
	}
}

func (s *suite) status(id string) string {
	s.t.Helper()
	st, err := s.rt.State(id)
	if err != nil {
		s.t.Fatalf("state %s: %v", id, err)
	}
	return string(st.Status)
}

func testCreateStartExit(t *testing.T, s *suite) {
	id, b := s.bundle("sh", "-c", "echo hello; echo oops >&2")
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	pid, err := s.rt.Create(id, b, ociruntime.IO{Stdout: outW, Stderr: errW})
	outW.Close()
	errW.Close()
	if err != nil {
		t.Fatal(err)
	}
	if pid <= 0 {
		t.Fatalf("create returned pid %d", pid)
	}
	if st := s.status(id); st != "created" {
		t.Fatalf("after create: %s", st)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(outR)
	errOut, _ := io.ReadAll(errR)
	if code := reap(t, pid); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if string(out) != "hello\n" || string(errOut) != "oops\n" {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	if st := s.status(id); st != "stopped" {
		t.Errorf("after exit: %s", st)
	}
	if err := s.rt.Delete(id, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.rt.State(id); !errors.Is(err, ociruntime.ErrNotExist) {
		t.Errorf("state after delete: %v", err)
	}
}

func testExitCode(t *testing.T, s *suite) {
	id, b := s.bundle("sh", "-c", "exit 3")
	pid, err := s.rt.Create(id, b, ociruntime.IO{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	if code := reap(t, pid); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
}

func testKillAndDelete(t *testing.T, s *suite) {
	id, b := s.bundle("sleep", "100")
	pid, err := s.rt.Create(id, b, ociruntime.IO{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	if st := s.status(id); st != "running" {
		t.Fatalf("after start: %s", st)
	}
	if err := s.rt.Delete(id, false); err == nil {
		t.Error("delete of a running container without force succeeded")
	}
	if err := s.rt.Kill(id, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if code := reap(t, pid); code != 137 {
		t.Errorf("exit code %d, want 137", code)
	}
	if err := s.rt.Delete(id, false); err != nil {
		t.Fatal(err)
	}
}

func testDeleteForce(t *testing.T, s *suite) {
	id, b := s.bundle("sleep", "100")
	pid, err := s.rt.Create(id, b, ociruntime.IO{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Delete(id, true); err != nil {
		t.Fatal(err)
	}
	if code := reap(t, pid); code != 137 {
		t.Errorf("exit code %d, want 137", code)
	}
	if _, err := s.rt.State(id); !errors.Is(err, ociruntime.ErrNotExist) {
		t.Errorf("state after delete: %v", err)
	}
}

func testExec(t *testing.T, s *suite) {
	id, b := s.bundle("sleep", "100")
	pid, err := s.rt.Create(id, b, ociruntime.IO{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	p := runtime.DefaultSpec(false).Process
	p.Terminal = false
	p.Args = []string{"sh", "-c", "echo in-container; exit 7"}
	r, w, _ := os.Pipe()
	wait, err := s.rt.Exec(id, p, ociruntime.IO{Stdout: w}, false)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	code, err := wait()
	if err != nil || code != 7 || !bytes.Equal(out, []byte("in-container\n")) {
		t.Errorf("exec: code %d, err %v, out %q", code, err, out)
	}
	p.Args = []string{"/no/such/program"}
	if wait, err := s.rt.Exec(id, p, ociruntime.IO{}, false); err == nil {
		if _, err = wait(); err == nil {
			t.Error("exec of a missing program succeeded")
		}
	}
	s.rt.Kill(id, unix.SIGKILL, true)
	reap(t, pid)
}

// Pids lists the container's processes by host pid; Stats counts them and a memory
// limit set in the spec.
func testPidsStats(t *testing.T, s *suite) {
	id, b := s.bundle("sh", "-c", "sleep 100 & sleep 101")
	var spec specs.Spec
	data, _ := os.ReadFile(filepath.Join(b, "config.json"))
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	limit := int64(64 << 20)
	spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	if err := writeJSON(filepath.Join(b, "config.json"), spec); err != nil {
		t.Fatal(err)
	}
	pid, err := s.rt.Create(id, b, ociruntime.IO{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(pids) < 2; time.Sleep(20 * time.Millisecond) {
		if pids, err = s.rt.Pids(id); err != nil {
			t.Fatal(err)
		}
	}
	if len(pids) != 2 || !slices.Contains(pids, pid) {
		t.Errorf("pids %v: want init %d and its child", pids, pid)
	}
	st, err := s.rt.Stats(id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Current != 2 || st.Memory.Usage.Limit != uint64(limit) || st.Memory.Usage.Usage == 0 || st.CPU.Usage.Total == 0 {
		t.Errorf("stats: pids %d, memory %d of %d, cpu %dns", st.Pids.Current, st.Memory.Usage.Usage, st.Memory.Usage.Limit, st.CPU.Usage.Total)
	}
	s.rt.Kill(id, unix.SIGKILL, true)
	reap(t, pid)
}

// Pause freezes the container (its state says paused and its CPU time stands
// still), Resume thaws it, and Update changes a live limit that Stats then reports.
func testPauseResumeUpdate(t *testing.T, s *suite) {
	id, b := s.bundle("sh", "-c", "while :; do :; done")
	pid, err := s.rt.Create(id, b, ociruntime.IO{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	cpu := func() uint64 {
		st, err := s.rt.Stats(id)
		if err != nil {
			t.Fatal(err)
		}
		return st.CPU.Usage.Total
	}
	if err := s.rt.Pause(id); err != nil {
		t.Fatal(err)
	}
	if got := s.status(id); got != "paused" {
		t.Errorf("after pause: status %q", got)
	}
	before := cpu()
	time.Sleep(300 * time.Millisecond)
	if after := cpu(); after != before {
		t.Errorf("paused, yet the busy loop ran %v", time.Duration(after-before))
	}
	if err := s.rt.Resume(id); err != nil {
		t.Fatal(err)
	}
	if got := s.status(id); got != "running" {
		t.Errorf("after resume: status %q", got)
	}
	before = cpu()
	time.Sleep(300 * time.Millisecond)
	if after := cpu(); after == before {
		t.Error("resumed, yet the busy loop did not run")
	}
	limit := int64(48 << 20)
	if err := s.rt.Update(id, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}); err != nil {
		t.Fatal(err)
	}
	st, err := s.rt.Stats(id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Limit != uint64(limit) {
		t.Errorf("after update: memory limit %d, want %d", st.Memory.Usage.Limit, limit)
	}
	s.rt.Kill(id, unix.SIGKILL, true)
	reap(t, pid)
}

func testUnknown(t *testing.T, s *suite) {
	if _, err := s.rt.State("no-such-container"); !errors.Is(err, ociruntime.ErrNotExist) {
		t.Errorf("state of unknown: %v", err)
	}
	if err := s.rt.Delete("no-such-container", true); err != nil {
		t.Errorf("delete of unknown: %v", err)
	}
}

func testCreateFailsClean(t *testing.T, s *suite) {
	id, b := s.bundle("/no/such/program")
	_, err := s.rt.Create(id, b, ociruntime.IO{})
	if err == nil {
		t.Fatal("create of a missing program succeeded")
	}
	if !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("error does not say why: %v", err)
	}
	if _, err := s.rt.State(id); !errors.Is(err, ociruntime.ErrNotExist) {
		t.Errorf("state after a failed create: %v", err)
	}
}

// testErrorKinds: a failure to start a process says, through runtime's sentinels,
// whether its program (or working directory) is not there or cannot be executed;
// the runtime's text stays as it was. A bind mount's missing source fails create
// with neither, though its text says "no such file or directory" too.
func testErrorKinds(t *testing.T, s *suite) {
	kinds := []error{runtime.ErrNotFound, runtime.ErrNotExecutable}
	check := func(what string, err, want error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s succeeded", what)
			return
		}
		for _, k := range kinds {
			if errors.Is(err, k) != (k == want) {
				t.Errorf("%s: %q: errors.Is(%v) is %v", what, err, k, errors.Is(err, k))
			}
		}
	}
	for _, c := range []struct {
		what string
		args []string
		want error
	}{
		{"create of a missing program", []string{"/no/such/program"}, runtime.ErrNotFound},
		{"create of a program not in PATH", []string{"no-such-program"}, runtime.ErrNotFound},
		{"create of a directory", []string{"/etc"}, runtime.ErrNotExecutable},
	} {
		id, b := s.bundle(c.args...)
		_, err := s.rt.Create(id, b, ociruntime.IO{})
		check(c.what, err, c.want)
	}

	id, b := s.bundle("true")
	var spec specs.Spec
	data, _ := os.ReadFile(filepath.Join(b, "config.json"))
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(t.TempDir(), "gone")
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/tmp", Type: "bind", Source: gone, Options: []string{"rbind"}})
	if err := writeJSON(filepath.Join(b, "config.json"), spec); err != nil {
		t.Fatal(err)
	}
	_, err := s.rt.Create(id, b, ociruntime.IO{})
	check("create with a missing bind source", err, nil)
	if err != nil && !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("create with a missing bind source: %q does not say why", err)
	}

	id, b = s.bundle("sleep", "100")
	pid, err := s.rt.Create(id, b, ociruntime.IO{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	startExec := func(p *specs.Process) error {
		wait, err := s.rt.Exec(id, p, ociruntime.IO{}, false)
		if err == nil {
			_, err = wait()
		}
		return err
	}
	p := runtime.DefaultSpec(false).Process
	p.Terminal = false
	p.Args = []string{"/no/such/program"}
	check("exec of a missing program", startExec(p), runtime.ErrNotFound)
	p.Args = []string{"/etc"}
	check("exec of a directory", startExec(p), runtime.ErrNotExecutable)
	p.Args, p.Cwd = []string{"true"}, "/no/such/dir"
	check("exec in a missing directory", startExec(p), runtime.ErrNotFound)
	s.rt.Kill(id, unix.SIGKILL, true)
	reap(t, pid)
}

// cgroupDirs lists the directories of the cgroup at path (absolute from each
// hierarchy's root) on every hierarchy mounted under /sys/fs/cgroup.
func cgroupDirs(path string) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + path)
	if st, err := os.Stat("/sys/fs/cgroup" + path); err == nil && st.IsDir() {
		dirs = append(dirs, "/sys/fs/cgroup"+path)
	}
	return dirs
}

// OOMKilled reads the OOM killer's count from the container's cgroup, named by its
// bundle, once init exited and before Delete: true for a container the OOM killer
// ended, false for one that exited.
func testOOMKilled(t *testing.T, s *suite) {
	limit := int64(16 << 20)
	// busybox tail keeps the last lines of /dev/zero, which has no line end: it
	// grows until the kernel stops it.
	id, b := s.bundleWith(func(spec *specs.Spec) {
		spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	}, "tail", "/dev/zero")
	pid, err := s.rt.Create(id, b, ociruntime.IO{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	if code := reap(t, pid); code != 137 {
		t.Errorf("exit code %d, want 137 (SIGKILL by the OOM killer)", code)
	}
	if oom, err := ociruntime.OOMKilled(b); err != nil || !oom {
		t.Errorf("OOMKilled after the OOM killer: %v, %v", oom, err)
	}
	if err := s.rt.Delete(id, false); err != nil {
		t.Fatal(err)
	}

	id, b = s.bundleWith(func(spec *specs.Spec) {
		spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	}, "sh", "-c", "exit 3")
	if pid, err = s.rt.Create(id, b, ociruntime.IO{}); err != nil {
		t.Fatal(err)
	}
	if err := s.rt.Start(id); err != nil {
		t.Fatal(err)
	}
	if code := reap(t, pid); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if oom, err := ociruntime.OOMKilled(b); err != nil || oom {
		t.Errorf("OOMKilled after exit 3: %v, %v", oom, err)
	}
}

// KillCgroup kills and removes what is left of a container the runtime lost: its
// init, created and waiting to be started, with no state of the runtime left to
// find it by (as when the runtime's caller was killed before the runtime recorded
// it).
func testKillCgroupLost(t *testing.T, s *suite) {
	id, b := s.bundle("sleep", "100")
	pid, err := s.rt.Create(id, b, ociruntime.IO{})
	if err != nil {
		t.Fatal(err)
	}
	path := "/hull-suite-" + id
	// Whatever the outcome, nothing of it stays.
	t.Cleanup(func() { runtime.KillCgroup(path) })
	if len(cgroupDirs(path)) == 0 {
		t.Fatalf("no cgroup %s for the created container", path)
	}
	// The runtime forgets every container it had.
	if err := os.RemoveAll(s.stateDir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.rt.State(id); !errors.Is(err, ociruntime.ErrNotExist) {
		t.Fatalf("state of a lost container: %v", err)
	}
	if err := ociruntime.KillCgroup(b); err != nil {
		t.Fatal(err)
	}
	if code := reap(t, pid); code != 137 {
		t.Errorf("init's exit code %d, want 137", code)
	}
	if left := cgroupDirs(path); len(left) > 0 {
		t.Errorf("cgroup left: %v", left)
	}
	// A bundle without a spec has nothing to kill.
	if err := ociruntime.KillCgroup(t.TempDir()); err != nil {
		t.Errorf("a bundle without a spec: %v", err)
	}
}
