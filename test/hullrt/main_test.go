// Package hullrt_test drives the hullrt binary the way its callers do (podman,
// containerd, a person): as a command, against the real kernel, as root.
package hullrt_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	hullrtBin    string // the binary under test
	sharedRootfs string // a busybox rootfs the tests share read-only
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if !testutil.IsRoot() {
		fmt.Println("hullrt integration tests need root; skipping")
		return 0
	}
	tmp, err := os.MkdirTemp("", "hullrt-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if hullrtBin, err = testutil.Hullrt(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sharedRootfs = filepath.Join(tmp, "rootfs")
	if err := testutil.MakeBusyboxRootfs(sharedRootfs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return testutil.Main(m)
}

// env is one test's runtime: its own state root.
type env struct {
	t    *testing.T
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequireRoot(t)
	e := &env{t: t, root: t.TempDir()}
	t.Cleanup(func() {
		// Whatever a test left, it goes: every container it made is deleted.
		out, _, _ := e.run("list", "-q")
		for _, id := range strings.Fields(out) {
			if _, stderr, code := e.run("delete", "--force", id); code != 0 {
				t.Errorf("cleanup: delete %s: %s", id, stderr)
			}
		}
	})
	return e
}

// run runs hullrt with the test's root and returns stdout, stderr and the exit code.
func (e *env) run(args ...string) (string, string, int) {
	return e.runIn("", nil, args...)
}

func (e *env) runIn(dir string, stdin []byte, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(hullrtBin, append([]string{"--root", e.root}, args...)...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	// Files, not pipes: a detached container inherits hullrt's stdio, and a pipe
	// would keep the test waiting for EOF until the container exits.
	outf, errf := tempFile(e.t), tempFile(e.t)
	cmd.Stdout, cmd.Stderr = outf, errf
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("hullrt %v: %v", args, err)
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		e.t.Fatalf("hullrt %v: timed out", args)
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("hullrt %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	out, _ := os.ReadFile(outf.Name())
	errb, _ := os.ReadFile(errf.Name())
	return string(out), string(errb), code
}

func tempFile(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// must runs hullrt and fails the test unless it exits 0.
func (e *env) must(args ...string) string {
	e.t.Helper()
	out, stderr, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("hullrt %v: exit %d: %s", args, code, stderr)
	}
	return out
}

// bundle writes a bundle whose config is the default spec, without a terminal,
// running args in the shared busybox rootfs; edit changes the spec before it is
// written.
func (e *env) bundle(args []string, edit func(*specs.Spec)) string {
	e.t.Helper()
	dir := e.t.TempDir()
	s := runtime.DefaultSpec(false)
	s.Root.Path = sharedRootfs
	s.Process.Terminal = false
	s.Process.Args = args
	if edit != nil {
		edit(s)
	}
	writeSpec(e.t, dir, s)
	return dir
}

func writeSpec(t *testing.T, dir string, s *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// state returns `hullrt state ID`.
func (e *env) state(id string) runtime.OCIState {
	e.t.Helper()
	var s runtime.OCIState
	if err := json.Unmarshal([]byte(e.must("state", id)), &s); err != nil {
		e.t.Fatalf("state %s: %v", id, err)
	}
	return s
}

// waitStatus waits until the container reaches status.
func (e *env) waitStatus(id, status string) {
	e.t.Helper()
	for i := 0; i < 200; i++ {
		if string(e.state(id).Status) == status {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	e.t.Fatalf("container %s never became %s (is %s)", id, status, e.state(id).Status)
}
