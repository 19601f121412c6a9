// Package peers_test proves that hullrt is a drop-in for runc under the engines that
// drive runc in the field: podman (through conmon), containerd (through its runc shim
// v2, with ctr) and dockerd (through containerd). Each test runs as root, starts every
// daemon it needs itself with private roots, state directories and sockets in a
// temporary directory, loads a one-layer busybox image the test builds (nothing is
// downloaded), and runs the same steps first with runc, the reference, then with
// hullrt. A test is skipped only when the peer's binaries are not installed; in CI
// (.ci/run) they are: podman, conmon, containerd, docker.io, runc, busybox-static.
//
// Every call a peer makes to the runtime is recorded by a small wrapper script around
// the runtime binary; `go test -v` shows them, and a failing test always does.
//
// Nothing is left behind: daemons are killed and waited for, every mount under a
// test's directory is unmounted, the cgroups the peers made are removed, and the
// package's TestMain runs the leak check of internal/testutil.
package peers_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"golang.org/x/sys/unix"
)

var (
	hullrtBin    string // the hullrt under test
	imageArchive string // a docker-archive tar of imageRef
)

// imageRef names the busybox image in every peer's store.
const imageRef = "localhost/hullpeers/busybox:latest"

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if !testutil.IsRoot() {
		fmt.Println("peer tests need root; skipping")
		return 0
	}
	tmp, err := os.MkdirTemp("", "hullpeers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if hullrtBin, err = testutil.Hullrt(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	imageArchive = filepath.Join(tmp, "busybox.tar")
	if err := writeBusyboxArchive(imageArchive, imageRef); err != nil {
		fmt.Fprintln(os.Stderr, "build the busybox image:", err)
		return 1
	}
	return testutil.Main(m)
}

// needBinaries skips the test unless every named program is installed.
func needBinaries(t *testing.T, names ...string) {
	t.Helper()
	testutil.RequireRoot(t)
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed", n)
		}
	}
}

// runtimes are the OCI runtimes every test runs with: runc first, as the reference.
type ociRuntime struct{ name, path string }

func runtimes(t *testing.T) []ociRuntime {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc, the reference runtime, is not installed")
	}
	return []ociRuntime{{"runc", runc}, {"hullrt", hullrtBin}}
}

// workDir makes a short temporary directory (unix socket paths under it must stay
// below 108 bytes, which t.TempDir's long names can break) and, when the test ends,
// unmounts whatever is still mounted under it and removes it.
func workDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hp")
	if err != nil {
		t.Fatal(err)
	}
	// /tmp may be a symlink; mountinfo shows real paths.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		waitProcsGone(t, dir, 20*time.Second)
		for _, m := range mountsUnder(dir) {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
				t.Errorf("cleanup: unmount %s: %v", m, err)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return dir
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// procsMentioning lists the pids whose command line mentions s (a test's directory:
// every daemon, shim, conmon and cleanup process of a test names it).
func procsMentioning(s string) []int {
	var out []int
	for _, p := range testutil.Processes() {
		if strings.Contains(p.Cmdline(), s) {
			out = append(out, p.Pid)
		}
	}
	return out
}

// waitProcsGone waits for every process that names dir to exit (podman's cleanup
// processes, shims finishing up), and kills what is left after timeout.
func waitProcsGone(t *testing.T, dir string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if len(procsMentioning(dir)) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range procsMentioning(dir) {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		t.Errorf("cleanup: process %d still runs: %s", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	time.Sleep(200 * time.Millisecond)
}

// removeCgroup removes the cgroup rel (relative to a hierarchy's root) and every
// cgroup below it, in every hierarchy where it exists, killing what still runs in
// them. Peers remove the cgroups of their containers but leave the parents they made
// (containerd's namespace, dockerd's --cgroup-parent), which the test owns by its
// unique name. Register it right after workDir: it must run after the daemons stopped.
func removeCgroup(t *testing.T, rel string) {
	t.Helper()
	hs, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, h := range hs {
		filepath.WalkDir(filepath.Join(h, rel), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				data, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
				for _, f := range strings.Fields(string(data)) {
					if pid, err := strconv.Atoi(f); err == nil {
						t.Errorf("cleanup: process %d left in cgroup %s", pid, p)
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			}
			return nil
		})
	}
	for _, h := range hs {
		top := filepath.Join(h, rel)
		if _, err := os.Stat(top); err != nil {
			continue
		}
		var dirs []string
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			var err error
			for try := 0; try < 250; try++ {
				if err = unix.Rmdir(dirs[i]); err == nil || err == unix.ENOENT {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil && err != unix.ENOENT {
				t.Errorf("cleanup: remove cgroup %s: %v", dirs[i], err)
			}
		}
	}
}

// wrapRuntime writes a script that records each call (one line of arguments) in
// <dir>/<name>.calls and execs the runtime; it returns the script's path. The script
// is named like the runtime: peers adapt some behaviour to the runtime's name.
func wrapRuntime(t *testing.T, dir string, rt ociRuntime) string {
	t.Helper()
	wdir := filepath.Join(dir, "rt")
	if err := os.MkdirAll(wdir, 0o755); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(wdir, rt.name+".calls")
	script := filepath.Join(wdir, rt.name)
	body := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\nexec %s \"$@\"\n", calls, rt.path)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			data, _ := os.ReadFile(calls)
			t.Logf("%s was called as:\n  %s", rt.name, strings.ReplaceAll(strings.TrimSpace(string(data)), "\n", "\n  "))
		}
	})
	return script
}

// cmdResult is what a command printed and how it ended.
type cmdResult struct {
	out  string // stdout and stderr, interleaved
	err  error
	args []string
}

func (r cmdResult) String() string {
	return fmt.Sprintf("%s: %v\n%s", strings.Join(r.args, " "), r.err, r.out)
}

// run runs a command with env added to the test's environment, and kills it after
// timeout. Output goes to a file, not a pipe: a detached container may inherit it.
func run(t *testing.T, env []string, timeout time.Duration, name string, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	f, err := os.CreateTemp("", "hpout")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	out, _ := os.ReadFile(f.Name())
	return cmdResult{out: string(out), err: err, args: append([]string{name}, args...)}
}

// must is run that fails the test unless the command succeeds; it returns stdout
// and stderr.
func must(t *testing.T, env []string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	r := run(t, env, timeout, name, args...)
	if r.err != nil {
		t.Fatalf("%s", r)
	}
	return r.out
}

// daemon is a long-running peer (containerd, dockerd) started by a test.
type daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startDaemon starts a daemon with its output in logFile; it is stopped with
// SIGTERM (then SIGKILL) and waited for when the test ends.
func startDaemon(t *testing.T, logFile string, name string, args ...string) *daemon {
	t.Helper()
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(d.done) }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("%s log (last lines):\n%s", filepath.Base(name), tail(logFile, 40))
		}
	})
	return d
}

func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not stop on SIGTERM; killing it", d.cmd.Path)
		d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// waitFor polls ok until it is true or timeout passes.
func waitFor(timeout time.Duration, ok func() bool) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		if ok() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ok()
}

func tail(file string, n int) string {
	f, err := os.Open(file)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
