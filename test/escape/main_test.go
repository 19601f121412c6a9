// Package escape_test is the escape-resistance suite: containers built the way the
// engine builds them (Docker's default capabilities, seccomp profile, masked and
// read-only paths, mounts, namespaces and device rules) are attacked from the inside
// by a small static helper (./attack, copied into the rootfs as /attack), and the
// host is checked afterwards. Every test runs against hullrt and against runc, the
// reference, on the same bundle; runc runs from a copy, with its own --root.
//
// HULL_ESCAPE_WEAKEN=masks,seccomp,... takes defences out of every spec (see
// weaken), to check by hand that the tests about them fail.
package escape_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/engine/spec"
	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/runtime"
	"github.com/hullproject/hull/runtime/caps"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	hullrtBin  string // the runtime under test
	runcBin    string // a copy of the host's runc, the reference ("" when there is none)
	baseRootfs string // busybox plus /attack; every bundle gets its own copy
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if !testutil.IsRoot() {
		fmt.Println("escape tests need root; skipping")
		return 0
	}
	tmp, err := os.MkdirTemp("", "hull-escape-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := setup(tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return testutil.Main(m)
}

func setup(tmp string) error {
	var err error
	if hullrtBin, err = testutil.Hullrt(tmp); err != nil {
		return err
	}
	// runc runs from a copy: the CVE-2019-5736 test writes to whatever binary it
	// manages to open, and the host's runc is shared with everyone on this machine.
	if p, err := exec.LookPath("runc"); err == nil {
		runcBin = filepath.Join(tmp, "runc")
		if err := copyFile(p, runcBin, 0o755); err != nil {
			return err
		}
	}
	baseRootfs = filepath.Join(tmp, "rootfs")
	if err := testutil.MakeBusyboxRootfs(baseRootfs); err != nil {
		return err
	}
	return goBuild([]string{"CGO_ENABLED=0"}, filepath.Join(baseRootfs, "attack"),
		"github.com/hullproject/hull/test/escape/attack")
}

func goBuild(env []string, out string, args ...string) error {
	cmd := exec.Command("go", append([]string{"build", "-o", out}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode)
}

// rt is one runtime binary with a state root of its own for one test.
type rt struct {
	t    *testing.T
	name string // "hullrt" or "runc"
	bin  string
	root string
	// groups, when set, are the runtime's own supplementary groups: what a caller
	// such as a daemon started from a root login has, and must not pass on.
	groups []uint32
	env    []string // added to the runtime's environment
}

// eachRuntime runs f as a subtest against hullrt and against runc. The host is
// checked around every subtest (see guardHost).
func eachRuntime(t *testing.T, f func(t *testing.T, r *rt)) {
	testutil.RequireRoot(t)
	// hullrt twice: with the C init most configurations get (runtime/cinit.go),
	// and with the Go init forced, so that both stay under attack.
	for _, run := range []struct{ sub, name, env string }{
		{"hullrt", "hullrt", ""}, {"hullrt-goinit", "hullrt", runtime.GoInitEnv + "=1"}, {"runc", "runc", ""},
	} {
		name := run.name
		t.Run(run.sub, func(t *testing.T) {
			bin := hullrtBin
			if name == "runc" {
				if runcBin == "" {
					t.Skip("runc is not installed")
				}
				bin = runcBin
			}
			guardHost(t)
			r := &rt{t: t, name: name, bin: bin, root: t.TempDir()}
			if run.env != "" {
				r.env = []string{run.env}
			}
			t.Cleanup(r.cleanup)
			f(t, r)
		})
	}
}

// sub is r for a subtest of r's test.
func (r *rt) sub(t *testing.T) *rt {
	c := *r
	c.t = t
	return &c
}

// cleanup deletes every container the test left, whatever its state.
func (r *rt) cleanup() {
	out, _, _ := r.run("list", "-q")
	for _, id := range strings.Fields(out) {
		if _, stderr, code := r.run("delete", "--force", id); code != 0 {
			r.t.Errorf("cleanup: %s delete --force %s: %s", r.name, id, stderr)
		}
	}
}

var idSeq atomic.Int64

// newID is a container id no other test run on this host uses.
func newID() string { return fmt.Sprintf("esc-%d-%d", os.Getpid(), idSeq.Add(1)) }

// run runs the runtime with the test's root; stdout, stderr and the exit code.
func (r *rt) run(args ...string) (string, string, int) {
	r.t.Helper()
	outf, errf := r.tempFile(), r.tempFile()
	code := r.runWith(outf, errf, args...)
	out, _ := os.ReadFile(outf.Name())
	errb, _ := os.ReadFile(errf.Name())
	return string(out), string(errb), code
}

// runWith runs the runtime with the given files as stdout and stderr. Files, not
// pipes: a detached container inherits them and would keep a pipe open.
func (r *rt) runWith(stdout, stderr *os.File, args ...string) int {
	r.t.Helper()
	var leak *os.File
	if weakened("fdleak") && (args[0] == "run" || args[0] == "exec") {
		dir, err := os.Open(r.root)
		if err != nil {
			r.t.Fatal(err)
		}
		defer dir.Close()
		args = append([]string{args[0], "--preserve-fds", "1"}, args[1:]...)
		leak = dir
	}
	cmd := exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if r.env != nil {
		cmd.Env = append(os.Environ(), r.env...)
	}
	if r.groups != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Groups: r.groups}}
	}
	if leak != nil {
		cmd.ExtraFiles = []*os.File{leak}
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("%s %v: %v", r.name, args, err)
	}
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		r.t.Fatalf("%s %v: timed out", r.name, args)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("%s %v: %v", r.name, args, err)
	}
	return 0
}

func (r *rt) must(args ...string) string {
	r.t.Helper()
	out, stderr, code := r.run(args...)
	if code != 0 {
		r.t.Fatalf("%s %v: exit %d: %s", r.name, args, code, stderr)
	}
	return out
}

func (r *rt) tempFile() *os.File {
	f, err := os.CreateTemp(r.t.TempDir(), "out")
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { f.Close() })
	return f
}

// dockerCaps is Docker's default capability set.
func dockerCaps() []string { return slices.Clone(spec.DefaultCaps) }

// dockerCapMask is dockerCaps as the hex mask /proc/PID/status shows.
const dockerCapMask = "00000000a80425fb"

// dockerSpec is a config.json as the engine writes it for an image run with Docker's
// defaults: Docker's capabilities (none inheritable or ambient), its seccomp profile
// for them, the default masked and read-only paths and mounts, new pid, ipc, uts,
// mount, network and cgroup namespaces, a device cgroup that denies everything the
// runtime does not add by default, a writable root and no no_new_privs.
func dockerSpec(args []string) *specs.Spec {
	s := runtime.DefaultSpec(false)
	s.Root = &specs.Root{Path: "rootfs"}
	s.Hostname = "escape"
	p := s.Process
	p.Terminal = false
	p.Args = args
	p.NoNewPrivileges = false
	caps := dockerCaps()
	p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	s.Linux.Seccomp = spec.DefaultSeccompFor(caps)
	s.Linux.MaskedPaths = slices.Clone(runtime.DefaultMaskedPaths)
	s.Linux.ReadonlyPaths = slices.Clone(runtime.DefaultReadonlyPaths)
	s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	return s
}

// bundle writes a bundle with its own copy of the rootfs; edit may change the spec
// and the rootfs (its path is given) before the config is written.
func (r *rt) bundle(args []string, edit func(s *specs.Spec, rootfs string)) string {
	r.t.Helper()
	dir := r.t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if out, err := exec.Command("cp", "-a", baseRootfs, rootfs).CombinedOutput(); err != nil {
		r.t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	s := dockerSpec(args)
	if edit != nil {
		edit(s, rootfs)
	}
	weaken(s)
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return dir
}

// weaken removes the defences named in $HULL_ESCAPE_WEAKEN (comma-separated) from
// a spec, to check by hand that a test fails without the defence it is about:
// masks, readonly, seccomp, nnp (no no_new_privs), devices (allow all), pidns,
// sysadmin (add CAP_SYS_ADMIN), allcaps (every capability the test has),
// inheritable (the process's capabilities also inheritable and ambient). "fdleak"
// makes run and exec pass a host directory as fd 3 (--preserve-fds 1), the leak of
// CVE-2024-21626. Some defences sit in the runtime, out of the spec's reach (the
// sealed binary, the cwd check, symlink handling, closing descriptors): those are
// checked with a runtime built without them.
func weaken(s *specs.Spec) {
	for _, w := range strings.Split(os.Getenv("HULL_ESCAPE_WEAKEN"), ",") {
		switch w {
		case "masks":
			s.Linux.MaskedPaths = nil
		case "readonly":
			s.Linux.ReadonlyPaths = nil
		case "seccomp":
			s.Linux.Seccomp = nil
		case "nnp":
			s.Process.NoNewPrivileges = false
		case "devices":
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		case "pidns":
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.PIDNamespace })
		case "sysadmin":
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_SYS_ADMIN")
			c.Effective = append(c.Effective, "CAP_SYS_ADMIN")
			c.Permitted = append(c.Permitted, "CAP_SYS_ADMIN")
		case "allcaps":
			// Every capability the test has: a host may lack some itself.
			have, err := caps.Current()
			if err != nil {
				panic(err)
			}
			all := caps.List(have.Bounding)
			c := s.Process.Capabilities
			c.Bounding, c.Effective, c.Permitted = all, all, all
		case "inheritable":
			c := s.Process.Capabilities
			c.Inheritable, c.Ambient = slices.Clone(c.Permitted), slices.Clone(c.Permitted)
		}
	}
}

func weakened(w string) bool {
	return slices.Contains(strings.Split(os.Getenv("HULL_ESCAPE_WEAKEN"), ","), w)
}

// runFg runs a container in the foreground to its end: its stdout, the runtime's
// stderr and the exit code.
func (r *rt) runFg(bundle string) (string, string, int) {
	r.t.Helper()
	return r.run("run", "--bundle", bundle, newID())
}

// start runs a container detached; its stdout goes to the returned file.
func (r *rt) start(bundle string) (string, *os.File) {
	r.t.Helper()
	id := newID()
	out, errf := r.tempFile(), r.tempFile()
	if code := r.runWith(out, errf, "run", "-d", "--bundle", bundle, id); code != 0 {
		msg, _ := os.ReadFile(errf.Name())
		r.t.Fatalf("%s run -d: exit %d: %s", r.name, code, msg)
	}
	return id, out
}

// state is the container's status and init pid.
func (r *rt) state(id string) (string, int) {
	r.t.Helper()
	var s struct {
		Status string `json:"status"`
		Pid    int    `json:"pid"`
	}
	if err := json.Unmarshal([]byte(r.must("state", id)), &s); err != nil {
		r.t.Fatalf("state %s: %v", id, err)
	}
	return s.Status, s.Pid
}

// waitStopped waits until the container's init has exited.
func (r *rt) waitStopped(id string, timeout time.Duration) {
	r.t.Helper()
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if st, _ := r.state(id); st == "stopped" {
			return
		}
	}
	r.t.Fatalf("container %s did not stop within %v", id, timeout)
}

// script is a shell script that runs /attack once per case {NAME, ARG...} and prints
// "@NAME OUTPUT" (the output's lines joined by spaces). A first argument starting
// with "/attack" names another copy of the helper to run.
func script(cases [][]string) []string {
	var b strings.Builder
	for _, c := range cases {
		prog, args := "/attack", c[1:]
		if len(args) > 0 && strings.HasPrefix(args[0], "/attack") {
			prog, args = args[0], args[1:]
		}
		fmt.Fprintf(&b, "echo \"@%s $(%s", c[0], prog)
		for _, a := range args {
			b.WriteString(" " + shellQuote(a))
		}
		b.WriteString(" 2>&1 | tr '\\n' ' ')\"\n")
	}
	return []string{"/bin/sh", "-c", b.String()}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// results parses the "@NAME OUTPUT" lines of script.
func results(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if name, v, ok := strings.Cut(strings.TrimPrefix(l, "@"), " "); ok && strings.HasPrefix(l, "@") {
			m[name] = strings.TrimSpace(v)
		}
	}
	return m
}

// expect checks each case's result against want.
func expect(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if got[n] != want[n] {
			t.Errorf("%s: got %q, want %q", n, got[n], want[n])
		}
	}
}

// keyValues parses key=value lines.
func keyValues(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

// fileFingerprint is a file's sha256, mode and modification time.
func fileFingerprint(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("sha256:%s mode:%v mtime:%s", hex.EncodeToString(h.Sum(nil)), fi.Mode(), fi.ModTime().Format(time.RFC3339Nano))
}

// guardHost records what a container must never change on the host -- the
// kernel's core_pattern, the runtime binaries -- and checks it when the test ends.
func guardHost(t *testing.T) {
	t.Helper()
	pattern := readFile(t, "/proc/sys/kernel/core_pattern")
	bins := map[string]string{}
	for _, b := range []string{hullrtBin, runcBin} {
		if b != "" {
			bins[b] = fileFingerprint(t, b)
		}
	}
	t.Cleanup(func() {
		if now := readFile(t, "/proc/sys/kernel/core_pattern"); now != pattern {
			t.Errorf("host core_pattern changed: %q, was %q", now, pattern)
		}
		for b, was := range bins {
			if now := fileFingerprint(t, b); now != was {
				t.Errorf("host binary %s changed: %s, was %s", b, now, was)
			}
		}
	})
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// sentinel is a host directory with a file in it that no container may touch.
type sentinel struct {
	dir, file string
	listing   string // the directory's entries
	fp        string // the file's fingerprint
	skip      bool   // checked by the test itself
}

// hostSentinel makes a sentinel and checks when the test ends that neither the
// directory nor the file changed and that nothing is mounted on them.
func hostSentinel(t *testing.T) *sentinel {
	t.Helper()
	s := &sentinel{dir: t.TempDir()}
	s.file = filepath.Join(s.dir, "sentinel")
	if err := os.WriteFile(s.file, []byte("host sentinel\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.listing, s.fp = dirListing(t, s.dir), fileFingerprint(t, s.file)
	t.Cleanup(func() {
		if !s.skip {
			for _, c := range s.changes(t) {
				t.Error(c)
			}
		}
	})
	return s
}

// changes lists what happened to the sentinel on the host.
func (s *sentinel) changes(t *testing.T) []string {
	var out []string
	if now := dirListing(t, s.dir); now != s.listing {
		out = append(out, fmt.Sprintf("host directory %s changed: %s, was %s", s.dir, now, s.listing))
	}
	if now := fileFingerprint(t, s.file); now != s.fp {
		out = append(out, fmt.Sprintf("host file %s changed: %s, was %s", s.file, now, s.fp))
	}
	for _, l := range strings.Split(readFile(t, "/proc/self/mountinfo"), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (f[4] == s.dir || f[4] == s.file) {
			out = append(out, fmt.Sprintf("something is mounted on the host's %s: %s", f[4], l))
		}
	}
	return out
}

func dirListing(t testing.TB, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "error: " + err.Error()
	}
	var b bytes.Buffer
	for _, e := range ents {
		fi, _ := e.Info()
		fmt.Fprintf(&b, "%s:%v ", e.Name(), fi.Mode())
	}
	return b.String()
}
