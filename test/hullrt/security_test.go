package hullrt_test

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestSymlinkedSystemDirs: a rootfs whose /proc, /sys or /dev is a symlink to a host
// directory must not get a filesystem mounted on that host directory.
func TestSymlinkedSystemDirs(t *testing.T) {
	for _, dir := range []string{"proc", "sys", "dev"} {
		t.Run(dir, func(t *testing.T) {
			e := newEnv(t)
			host := sentinelDir(t)
			rootfs := ownRootfs(t)
			os.Remove(filepath.Join(rootfs, dir))
			if err := os.Symlink(host, filepath.Join(rootfs, dir)); err != nil {
				t.Fatal(err)
			}
			b := e.bundle([]string{"true"}, func(s *specs.Spec) { s.Root.Path = rootfs })
			_, stderr, code := e.run("create", "--bundle", b, cid("sym"))
			if code != 1 || len(lines(stderr)) != 1 {
				t.Errorf("create with /%s -> %s: exit %d, %q", dir, host, code, stderr)
			}
			checkSentinel(t, host)
			e.checkNothingLeft(cid("sym"))
		})
	}
}

// TestBindDestinationSymlink: a bind mount whose destination is a symlink to an
// absolute host path lands inside the rootfs (the link is resolved in the root), or
// fails; the host directory is never touched.
func TestBindDestinationSymlink(t *testing.T) {
	e := newEnv(t)
	host := sentinelDir(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "payload"), []byte("payload"), 0o644)
	rootfs := ownRootfs(t)
	if err := os.Symlink(host, filepath.Join(rootfs, "etc/evil")); err != nil {
		t.Fatal(err)
	}
	// The same path inside the rootfs exists: the mount must land there.
	if err := os.MkdirAll(filepath.Join(rootfs, host), 0o755); err != nil {
		t.Fatal(err)
	}
	b := e.bundle([]string{"sh", "-c", "ls /etc/evil " + host}, func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Mounts = append(s.Mounts, bindMount(src, "/etc/evil"))
	})
	out := e.runOut(b, cid("bd"))
	if out != "/etc/evil:\npayload\n\n"+host+":\npayload\n" {
		t.Errorf("inside: %q", out)
	}
	checkSentinel(t, host)
	ents, _ := os.ReadDir(filepath.Join(rootfs, host))
	if len(ents) != 0 {
		t.Errorf("the rootfs's %s holds %d entries after the container (the mount went nowhere?)", host, len(ents))
	}

	// A dangling link: it fails or lands inside, and the host stays as it was.
	rootfs2 := ownRootfs(t)
	os.Symlink(host, filepath.Join(rootfs2, "etc/evil"))
	b = e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Root.Path = rootfs2
		s.Mounts = append(s.Mounts, bindMount(src, "/etc/evil"))
	})
	if _, stderr, code := e.runIn(b, nil, "run", cid("bd2")); code != 0 && (code != 1 || len(lines(stderr)) != 1) {
		t.Errorf("dangling destination: exit %d, %q", code, stderr)
	}
	checkSentinel(t, host)
	e.checkNothingLeft(cid("bd2"))
}

// TestMaskedPathSymlink: a masked path that is a symlink is refused, not followed.
func TestMaskedPathSymlink(t *testing.T) {
	e := newEnv(t)
	host := sentinelDir(t)
	rootfs := ownRootfs(t)
	os.Symlink(filepath.Join(host, "sentinel"), filepath.Join(rootfs, "etc/secret"))
	os.Symlink(host, filepath.Join(rootfs, "etc/secretdir"))
	for _, p := range []string{"/etc/secret", "/etc/secretdir"} {
		b := e.bundle([]string{"cat", "/etc/secret"}, func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Linux.MaskedPaths = []string{p}
		})
		_, stderr, code := e.run("create", "--bundle", b, cid("ms"))
		if code != 1 || !strings.Contains(stderr, "symlink") || len(lines(stderr)) != 1 {
			t.Errorf("masked %s as a symlink: exit %d, %q", p, code, stderr)
		}
		e.checkNothingLeft(cid("ms"))
	}
	checkSentinel(t, host)
}

// fdLinks lists what each open descriptor of pid points at.
func fdLinks(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, ent := range ents {
		n, _ := strconv.Atoi(ent.Name())
		l, err := os.Readlink(filepath.Join(dir, ent.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		out[n] = l
	}
	return out
}

// TestInitDescriptors lists every descriptor of a created container's init, from the
// host, against an allowlist:
//
//   - 0, 1, 2: the stdio hullrt create was given (here /dev/null and two files);
//   - the exec fifo, <state dir>/exec.fifo, which init blocks on until start;
//   - the Go runtime's own: anon_inode:[eventpoll], anon_inode:[eventfd],
//     anon_inode:[pidfd] and pipe:[N] (netpoll and its wakeup). The CPU limit files
//     Go 1.25+ would keep open to follow GOMAXPROCS are turned off in hullrt's
//     binary (//go:debug containermaxprocs=0), and must not show;
//
// nothing else: no directory (of the host, the bundle or the state root), no regular
// file, no socket (the sync socket is closed before init blocks), no memfd.
// After start, the program holds exactly 0, 1, 2 and the --preserve-fds ones.
func TestInitDescriptors(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	extra, _ := os.Open(t.TempDir()) // a host directory: the classic leak
	defer extra.Close()
	leak, _ := os.Open(b) // not preserved: must not get through
	defer leak.Close()
	id := cid("fd")
	cmd, _, errb := e.cmd("create", "--bundle", b, "--preserve-fds", "1", id)
	cmd.ExtraFiles = []*os.File{extra, leak}
	if err := cmd.Run(); err != nil {
		t.Fatalf("create: %v: %s", err, errb())
	}
	st := e.state(id)
	fifo := filepath.Join(e.root, id, "exec.fifo")
	for n, l := range fdLinks(t, st.Pid) {
		switch {
		case n <= 2 && (l == "/dev/null" || strings.HasPrefix(l, os.TempDir())):
		case n == 3 && l == extra.Name(): // preserved
		case l == fifo:
		case l == "anon_inode:[eventpoll]", l == "anon_inode:[eventfd]", l == "anon_inode:[pidfd]", strings.HasPrefix(l, "pipe:["):
		default:
			t.Errorf("init holds fd %d -> %s", n, l)
		}
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(st.Pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := filepath.Abs(hullrtBin)
	if exe == self || strings.HasPrefix(exe, filepath.Dir(self)+"/") && !strings.HasPrefix(exe, "/memfd:") {
		t.Errorf("init runs the host's binary %s", exe)
	}
	if f, err := os.OpenFile("/proc/"+strconv.Itoa(st.Pid)+"/exe", os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Errorf("init's exe (%s) opens for writing", exe)
	}
	e.must("start", id)
	// start returns once init exec'd the program.
	for i := 0; i < 200; i++ {
		if c, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cmdline"); string(c) == "sleep\x00100\x00" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var fds []int
	for n := range fdLinks(t, st.Pid) {
		fds = append(fds, n)
	}
	sort.Ints(fds)
	if len(fds) != 4 || fds[3] != 3 {
		t.Errorf("the program holds fds %v, want 0 1 2 3: %v", fds, fdLinks(t, st.Pid))
	}
}

// TestInitExe: init runs from a sealed copy of hullrt (a memfd named hullrt, or a
// file of a read-only filesystem mounted nowhere), never from the host's binary, and
// the host's binary is the same after a container's whole life.
func TestInitExe(t *testing.T) {
	e := newEnv(t)
	sum := func() [32]byte {
		data, err := os.ReadFile(hullrtBin)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(data)
	}
	before := sum()
	var hostSt unix.Stat_t
	unix.Stat(hullrtBin, &hostSt)
	b := e.bundle([]string{"true"}, nil)
	id := cid("exe")
	e.must("create", "--bundle", b, id)
	pid := strconv.Itoa(e.state(id).Pid)
	exe, _ := os.Readlink("/proc/" + pid + "/exe")
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+pid+"/exe", &st); err != nil {
		t.Fatal(err)
	}
	if st.Dev == hostSt.Dev && st.Ino == hostSt.Ino {
		t.Errorf("init's exe %s is the host's binary", exe)
	}
	if !strings.HasPrefix(exe, "/memfd:hullrt") {
		// the other sealed form: a read-only overlay mounted nowhere
		var fs unix.Statfs_t
		if err := unix.Statfs("/proc/"+pid+"/exe", &fs); err != nil || fs.Flags&unix.ST_RDONLY == 0 {
			t.Errorf("init's exe %q is neither a sealed memfd nor on a read-only filesystem", exe)
		}
	}
	for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC} {
		if f, err := os.OpenFile("/proc/"+pid+"/exe", flag, 0); err == nil {
			f.Close()
			t.Errorf("init's exe opens with flags %#x", flag)
		}
	}
	e.must("start", id)
	e.waitStatus(id, "stopped")
	e.must("delete", id)
	if sum() != before {
		t.Errorf("the host's hullrt binary changed")
	}
}

// TestCwdInsideContainer: process.cwd is resolved inside the container; a cwd that
// would go through a descriptor leaked from the host (CVE-2024-21626) or climb out
// with ".." ends inside or fails.
func TestCwdInsideContainer(t *testing.T) {
	e := newEnv(t)
	for i, cwd := range []string{"/../../..", "/proc/self/fd/3", "/proc/self/fd/4", "/proc/self/fd/5", "/proc/self/fd/6", "/proc/self/fd/7", "/proc/self/cwd"} {
		b := e.bundle([]string{"sh", "-c", "pwd; ls /bin/busybox"}, func(s *specs.Spec) { s.Process.Cwd = cwd })
		out, stderr, code := e.runIn(b, nil, "run", cid("cwd"+strconv.Itoa(i)))
		if code == 0 {
			l := lines(out)
			if len(l) != 2 || !strings.HasPrefix(l[0], "/") || strings.Contains(l[0], "hullrt") || l[1] != "/bin/busybox" {
				t.Errorf("cwd %s: ran in %q", cwd, out)
			}
		} else if code != 1 || len(lines(stderr)) != 1 || !strings.Contains(stderr, "cwd") {
			t.Errorf("cwd %s: exit %d, %q", cwd, code, stderr)
		}
	}
}
