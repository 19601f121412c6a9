package hullrt_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/runtime"
	"github.com/hullproject/hull/runtime/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runOut runs a container in the foreground from bundle b and returns its stdout; any
// failure of hullrt or the program fails the test.
func (e *env) runOut(b, id string) string {
	e.t.Helper()
	out, stderr, code := e.runIn(b, nil, "run", id)
	if code != 0 {
		e.t.Fatalf("run %s: exit %d: stdout %q stderr %q", id, code, out, stderr)
	}
	return out
}

// cmd is hullrt with the test's root, for callers that need extra files or
// concurrency. stdout and stderr go to files (a pipe would be held open by a
// detached container); the returned functions read them once the command is done.
func (e *env) cmd(args ...string) (*exec.Cmd, func() string, func() string) {
	cmd := exec.Command(hullrtBin, append([]string{"--root", e.root}, args...)...)
	outf, errf := tempFile(e.t), tempFile(e.t)
	cmd.Stdout, cmd.Stderr = outf, errf
	read := func(f *os.File) func() string {
		return func() string { data, _ := os.ReadFile(f.Name()); return string(data) }
	}
	return cmd, read(outf), read(errf)
}

// idSuffix makes container ids unique to this test process: other runs of the suite
// on this machine use the same default cgroup paths (/hullrt/<id>).
var idSuffix = "-" + strconv.Itoa(os.Getpid())

// cid is a container id unique to this run.
func cid(name string) string { return name + idSuffix }

// startDetached runs `hullrt run -d` for bundle b and returns the init's host pid.
func (e *env) startDetached(b, id string) int {
	e.t.Helper()
	e.must("run", "-d", "--bundle", b, id)
	return e.state(id).Pid
}

// lines splits output into its lines, without the final empty one.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// nsInode is the namespace a /proc/PID/ns link names, e.g. "net:[4026531840]".
func nsLink(t *testing.T, pid, typ string) string {
	t.Helper()
	l, err := os.Readlink("/proc/" + pid + "/ns/" + typ)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// ownRootfs makes a private busybox rootfs the test may change.
func ownRootfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A hard link of busybox instead of a copy: fast, and the shared file is never
	// written (the containers only read it).
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(sharedRootfs, "bin/busybox"), filepath.Join(dir, "bin/busybox")); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(sharedRootfs, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if ent.Name() != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(dir, "bin", ent.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// sentinelDir makes a host directory holding one file, to prove later that the
// runtime neither wrote into it nor mounted over it.
func sentinelDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sentinel"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkSentinel fails unless dir holds exactly the sentinel, unchanged, and nothing
// is mounted on or below it in the host's mount namespace.
func checkSentinel(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "sentinel" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("host dir %s now holds %v", dir, names)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "sentinel")); err != nil || string(data) != "host" {
		t.Errorf("host sentinel changed: %q %v", data, err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range lines(string(mi)) {
		if f := strings.Fields(l); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			t.Errorf("a mount landed on the host: %s", l)
		}
	}
}

// checkNothingLeft fails if the state root holds anything, or a cgroup named id
// exists, or a process runs whose command line names marker.
func (e *env) checkNothingLeft(id string) {
	e.t.Helper()
	if ents, err := os.ReadDir(e.root); err == nil && len(ents) > 0 {
		var names []string
		for _, x := range ents {
			names = append(names, x.Name())
		}
		e.t.Errorf("state root holds %v", names)
	}
	if id != "" && !strings.ContainsAny(id, "/") && id != "." && id != ".." {
		if m, _ := filepath.Glob("/sys/fs/cgroup/*/hullrt/" + id); len(m) > 0 {
			e.t.Errorf("cgroups left: %v", m)
		}
		out, _ := exec.Command("find", "/sys/fs/cgroup", "-name", id).Output()
		if s := strings.TrimSpace(string(out)); s != "" {
			e.t.Errorf("cgroups left: %s", s)
		}
	}
}

// consoleSocket listens on a unix socket as a --console-socket receiver and returns
// its path and a channel that yields the pty master it is sent.
func consoleSocket(t *testing.T) (string, <-chan *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *os.File, 1)
	go func() {
		defer l.Close()
		l.SetDeadline(time.Now().Add(30 * time.Second))
		c, err := l.AcceptUnix()
		if err != nil {
			close(ch)
			return
		}
		defer c.Close()
		f, err := c.File()
		if err != nil {
			close(ch)
			return
		}
		defer f.Close()
		m, err := console.RecvFd(f)
		if err != nil {
			close(ch)
			return
		}
		ch <- m
	}()
	return path, ch
}

// readMaster reads a pty master until the last slave closes (EIO).
func readMaster(t *testing.T, master *os.File) string {
	t.Helper()
	done := make(chan []byte)
	go func() {
		var buf bytes.Buffer
		_, err := io.Copy(&buf, master)
		if err != nil && !errors.Is(err, unix.EIO) {
			t.Logf("read pty master: %v", err)
		}
		done <- buf.Bytes()
	}()
	select {
	case b := <-done:
		return strings.ReplaceAll(string(b), "\r\n", "\n")
	case <-time.After(20 * time.Second):
		master.Close()
		t.Fatal("pty output never ended")
		return ""
	}
}

// capBits maps capability names to their bit mask.
func capBits(t *testing.T, names ...string) uint64 {
	t.Helper()
	var m uint64
	for _, n := range names {
		i, ok := capNumbers[n]
		if !ok {
			t.Fatalf("unknown capability %s", n)
		}
		m |= 1 << i
	}
	return m
}

var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6,
	"CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
	"CAP_SYS_CHROOT": 18, "CAP_SYS_ADMIN": 21, "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29,
}

// hostCgroupGone fails if any cgroup directory of the default path of id exists.
func hostCgroupGone(t *testing.T, id string) {
	t.Helper()
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/hullrt/" + id); len(m) > 0 {
		t.Errorf("cgroup dirs left: %v", m)
	}
}

// pidAlive tells whether pid runs and is not a zombie.
func pidAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// bindMount is a read-write bind of a host directory.
func bindMount(src, dst string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)}
}

// waitFile waits up to 5 s for a file to appear and returns its content.
func waitFile(t *testing.T, p string) string {
	t.Helper()
	for i := 0; i < 500; i++ {
		if data, err := os.ReadFile(p); err == nil && len(data) > 0 {
			time.Sleep(20 * time.Millisecond) // let the writer finish
			data, _ = os.ReadFile(p)
			return string(data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", p)
	return ""
}

// waitOutput waits up to 10 s for file p to contain want, and fails the test
// with failure if it never does.
func waitOutput(t *testing.T, p, want, failure string) {
	t.Helper()
	for i := 0; i <= 400; i++ {
		if data, _ := os.ReadFile(p); strings.Contains(string(data), want) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal(failure)
}

// runtimeDefaultSpec is the spec `hullrt spec` writes.
func runtimeDefaultSpec() *specs.Spec { return runtime.DefaultSpec(false) }
