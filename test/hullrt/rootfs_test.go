package hullrt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountinfoLine is one line of /proc/self/mountinfo, split.
type mountinfoLine struct {
	point, opts, optional, fstype, super string
}

func parseMountinfo(s string) []mountinfoLine {
	var out []mountinfoLine
	for _, l := range lines(s) {
		pre, post, ok := strings.Cut(l, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 6 || len(g) < 3 {
			continue
		}
		out = append(out, mountinfoLine{point: f[4], opts: f[5], optional: strings.Join(f[6:], " "), fstype: g[0], super: g[2]})
	}
	return out
}

func hasOpt(list, opt string) bool {
	for _, o := range strings.Split(list, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// hostTmpfs mounts a tmpfs on a host temp dir (shared, so that container binds of it
// are slaves of a real peer group) with a second tmpfs at sub/; both go at cleanup.
func hostTmpfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "top"), []byte("top"), 0o644)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	os.WriteFile(filepath.Join(sub, "inner"), []byte("inner"), 0o644)
	return dir
}

// TestMounts makes mounts of every kind in spec order, with flags and propagation,
// and checks /proc/self/mountinfo inside.
func TestMounts(t *testing.T) {
	e := newEnv(t)
	host := hostTmpfs(t)
	b := e.bundle([]string{"sh", "-c", "cat /proc/self/mountinfo; echo ===; echo \"$(ls /mnt/rbind/sub)|$(ls /mnt/bind/sub)\"; touch /mnt/ro/x 2>&1; /mnt/exec/sh -c 'echo exec ok' 2>&1; /mnt/noexec/sh -c 'echo noexec ran' 2>&1; stat -c '%a' /mnt/tmp"}, func(s *specs.Spec) {
		bb, err := os.ReadFile(filepath.Join(sharedRootfs, "bin/busybox"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(host, "sh"), bb, 0o755); err != nil {
			t.Fatal(err)
		}
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/mnt/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=700", "nosuid", "nodev", "relatime"}},
			specs.Mount{Destination: "/mnt/tmp/nested", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=2m", "noatime", "shared"}},
			specs.Mount{Destination: "/mnt/stack", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
			specs.Mount{Destination: "/mnt/stack", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=3m", "unbindable"}},
			specs.Mount{Destination: "/mnt/rbind", Type: "bind", Source: host, Options: []string{"rbind", "ro", "nosuid", "nodev", "rprivate"}},
			specs.Mount{Destination: "/mnt/bind", Type: "bind", Source: host, Options: []string{"bind", "slave"}},
			specs.Mount{Destination: "/mnt/ro", Type: "bind", Source: host, Options: []string{"bind", "ro", "private"}},
			specs.Mount{Destination: "/mnt/exec", Type: "bind", Source: host, Options: []string{"bind", "exec"}},
			specs.Mount{Destination: "/mnt/noexec", Type: "bind", Source: host, Options: []string{"bind", "noexec"}},
		)
	})
	out := e.runOut(b, cid("m1"))
	mi, rest, _ := strings.Cut(out, "===\n")
	ms := parseMountinfo(mi)
	find := func(p string) []mountinfoLine {
		var r []mountinfoLine
		for _, m := range ms {
			if m.point == p {
				r = append(r, m)
			}
		}
		return r
	}
	index := func(p string) int {
		for i, m := range ms {
			if m.point == p {
				return i
			}
		}
		return -1
	}
	if i, j := index("/mnt/tmp"), index("/mnt/tmp/nested"); i < 0 || j < i {
		t.Errorf("mount order: /mnt/tmp at %d, /mnt/tmp/nested at %d", i, j)
	}
	check := func(p string, cond bool, what string) {
		t.Helper()
		if !cond {
			t.Errorf("%s: %s; mounts there: %+v", p, what, find(p))
		}
	}
	if m := find("/mnt/tmp"); len(m) == 1 {
		check("/mnt/tmp", hasOpt(m[0].opts, "nosuid") && hasOpt(m[0].opts, "nodev") && hasOpt(m[0].opts, "relatime"), "nosuid,nodev,relatime")
		check("/mnt/tmp", hasOpt(m[0].super, "size=1024k") && hasOpt(m[0].super, "mode=700"), "size and mode")
		check("/mnt/tmp", m[0].optional == "", "private")
	} else {
		t.Errorf("/mnt/tmp: %+v", m)
	}
	if m := find("/mnt/tmp/nested"); len(m) == 1 {
		check("/mnt/tmp/nested", hasOpt(m[0].opts, "noatime") && strings.HasPrefix(m[0].optional, "shared:"), "noatime, shared")
	} else {
		t.Errorf("/mnt/tmp/nested: %+v", m)
	}
	if m := find("/mnt/stack"); len(m) == 2 {
		check("/mnt/stack", hasOpt(m[1].super, "size=3072k") && m[1].optional == "unbindable", "the later mount on top, unbindable")
	} else {
		t.Errorf("/mnt/stack: %+v", m)
	}
	if m := find("/mnt/rbind"); len(m) == 1 {
		check("/mnt/rbind", hasOpt(m[0].opts, "ro") && hasOpt(m[0].opts, "nosuid") && hasOpt(m[0].opts, "nodev") && m[0].optional == "", "ro,nosuid,nodev, private")
	} else {
		t.Errorf("/mnt/rbind: %+v", m)
	}
	// "ro" is the top mount's alone (runtime-spec; "rro" is the recursive one).
	if m := find("/mnt/rbind/sub"); len(m) != 1 || !hasOpt(m[0].opts, "rw") || hasOpt(m[0].opts, "nosuid") || m[0].optional != "" {
		t.Errorf("rbind: submount /mnt/rbind/sub %+v, want its own flags (rw) and private", m)
	}
	if m := find("/mnt/bind/sub"); len(m) != 0 {
		t.Errorf("bind (not recursive) brought the submount: %+v", m)
	}
	if m := find("/mnt/bind"); len(m) != 1 || !strings.HasPrefix(m[0].optional, "master:") || !hasOpt(m[0].opts, "rw") {
		t.Errorf("/mnt/bind: %+v, want rw and a slave", m)
	}
	if m := find("/mnt/ro"); len(m) != 1 || !hasOpt(m[0].opts, "ro") || m[0].optional != "" {
		t.Errorf("/mnt/ro: %+v, want ro and private", m)
	}
	if m := find("/mnt/noexec"); len(m) != 1 || !hasOpt(m[0].opts, "noexec") {
		t.Errorf("/mnt/noexec: %+v", m)
	}
	r := lines(rest)
	if len(r) != 5 || r[0] != "inner|" || !strings.Contains(r[1], "Read-only file system") || r[2] != "exec ok" ||
		!strings.Contains(r[3], "Permission denied") || r[4] != "700" {
		t.Errorf("inside:\n%s", rest)
	}
	checkSentinelMounts(t, host)
}

// checkSentinelMounts fails if the host got a mount below dir other than the test's.
func checkSentinelMounts(t *testing.T, dir string) {
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, m := range parseMountinfo(string(mi)) {
		if strings.HasPrefix(m.point, dir) && m.point != dir && m.point != dir+"/sub" {
			t.Errorf("a container mount reached the host: %+v", m)
		}
	}
}

// TestRootfsPropagation checks the propagation of the container's "/".
func TestRootfsPropagation(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ prop, want string }{
		{"", ""}, // rslave of a private host mount: private
		{"rprivate", ""},
		{"shared", "shared:"},
		{"rslave", ""},
		{"unbindable", "unbindable"},
	} {
		b := e.bundle([]string{"cat", "/proc/self/mountinfo"}, func(s *specs.Spec) { s.Linux.RootfsPropagation = c.prop })
		out, stderr, code := e.runIn(b, nil, "run", cid("prop"))
		if code != 0 {
			t.Errorf("rootfsPropagation %q: exit %d: %s", c.prop, code, stderr)
			continue
		}
		var root *mountinfoLine
		for _, m := range parseMountinfo(out) {
			if m.point == "/" {
				m := m
				root = &m
			}
		}
		if root == nil || !strings.HasPrefix(root.optional, c.want) || (c.want == "" && root.optional != "") {
			t.Errorf("rootfsPropagation %q: / is %+v, want %q", c.prop, root, c.want)
		}
	}
}

// TestNoPivot runs a container with --no-pivot: it works, and the old root is not
// in its view of /.
func TestNoPivot(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", "ls /; test -e /proc/self/root/bin/busybox && echo root ok"}, nil)
	out, stderr, code := e.runIn("", nil, "run", "--no-pivot", "--bundle", b, cid("np"))
	if code != 0 || !strings.HasSuffix(out, "root ok\n") || strings.Contains(out, "hullrt-test") {
		t.Errorf("--no-pivot: exit %d, %q, %s", code, out, stderr)
	}
}

// TestDevices checks the default devices, the /dev symlinks and that nothing else
// of the host's /dev is there.
func TestDevices(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", `for d in null zero full random urandom tty; do echo "$d $(stat -c '%F %t:%T %a' /dev/$d)"; done
for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done
echo hello > /dev/null && head -c 3 /dev/zero | wc -c && echo x > /dev/full 2>/dev/null || echo full ok
ls /dev | tr '\n' ' '`}, nil)
	out := e.runOut(b, cid("d1"))
	want := `null character special file 1:3 666
zero character special file 1:5 666
full character special file 1:7 666
random character special file 1:8 666
urandom character special file 1:9 666
tty character special file 5:0 666
fd -> /proc/self/fd
stdin -> /proc/self/fd/0
stdout -> /proc/self/fd/1
stderr -> /proc/self/fd/2
ptmx -> pts/ptmx
3
full ok
`
	if !strings.HasPrefix(out, want) {
		t.Errorf("devices:\n%s\nwant\n%s", out, want)
	}
	l := lines(out)
	got := strings.Fields(l[len(l)-1])
	allowed := map[string]bool{"null": true, "zero": true, "full": true, "random": true, "urandom": true, "tty": true,
		"fd": true, "stdin": true, "stdout": true, "stderr": true, "ptmx": true, "pts": true, "shm": true, "mqueue": true, "core": true}
	for _, d := range got {
		if !allowed[d] {
			t.Errorf("unexpected /dev/%s", d)
		}
	}
}

// TestMaskedAndReadonlyPaths masks a file and a directory, and makes paths read-only.
func TestMaskedAndReadonlyPaths(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", `echo "file[$(cat /etc/group)]"
echo "dir[$(ls -A /sys/kernel)]"
touch /data/x 2>/dev/null && echo "data writable" || echo "data readonly"
touch /data2/x 2>/dev/null && echo "data2 writable" || echo "data2 readonly"
echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo "sys writable" || echo "sys readonly"
echo "passwd[$(head -c 4 /etc/passwd)]"`}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/data2", Type: "tmpfs", Source: "tmpfs"})
		s.Linux.MaskedPaths = []string{"/etc/group", "/sys/kernel", "/does/not/exist"}
		s.Linux.ReadonlyPaths = []string{"/data", "/proc/sys", "/not/here"}
	})
	out := e.runOut(b, cid("mk"))
	want := "file[]\ndir[]\ndata readonly\ndata2 writable\nsys readonly\npasswd[root]\n"
	if out != want {
		t.Errorf("masked/read-only paths:\n%s\nwant\n%s", out, want)
	}
}

// TestSysctls sets namespaced sysctls: inside they read as set, the host keeps its own.
func TestSysctls(t *testing.T) {
	e := newEnv(t)
	read := func(p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	fwd := read("/proc/sys/net/ipv4/ip_forward")
	shm := read("/proc/sys/kernel/shmmax")
	port := read("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	b := e.bundle([]string{"sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_unprivileged_port_start"}, func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{
			"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789", "net.ipv4.ip_unprivileged_port_start": "555",
		}
	})
	if out := e.runOut(b, cid("sc")); out != "1\n123456789\n555\n" {
		t.Errorf("sysctls inside: %q", out)
	}
	if read("/proc/sys/net/ipv4/ip_forward") != fwd || read("/proc/sys/kernel/shmmax") != shm || read("/proc/sys/net/ipv4/ip_unprivileged_port_start") != port {
		t.Errorf("the host's sysctls changed")
	}
}
