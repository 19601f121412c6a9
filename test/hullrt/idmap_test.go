package hullrt_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// idmapDir makes a host directory owned by root holding a root-owned file, on a
// filesystem this kernel can id-map, or skips: tmpfs can be id-mapped only from
// Linux 6.3 on, and the cgroup v2 test VM (Debian 12's 6.1) has nothing but tmpfs.
func idmapDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	var u unix.Utsname
	unix.Uname(&u)
	rel := unix.ByteSliceToString(u.Release[:])
	if fs.Type == unix.TMPFS_MAGIC && (strings.HasPrefix(rel, "5.") || strings.HasPrefix(rel, "6.0.") ||
		strings.HasPrefix(rel, "6.1.") || strings.HasPrefix(rel, "6.2.")) {
		t.Skipf("%s is tmpfs, which Linux %s cannot id-map (6.3 can)", dir, rel)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestIDMappedBind binds a root-owned host directory into a container whose user
// namespace maps 0-65535 onto 100000-165535, once id-mapped and once plainly. The
// id-mapped mount shows the files as root's and lets the container's root write
// there, as root on the host; the plain one shows them as nobody's and refuses.
// A mount's own uidMappings map on-disk ids by themselves, with "ridmap" or, as
// containerd 2.x sends them, with neither option.
func TestIDMappedBind(t *testing.T) {
	e := newEnv(t)
	dir := idmapDir(t)
	script := `stat -c '%u %g' /idmap/file /plain/file /own/file /bare/file
touch /idmap/new && echo created
touch /plain/new2 2>/dev/null || echo refused`
	// The mount points are made on the host: in the shared rootfs the container's
	// root (uid 100000 on the host) could not make them.
	rootfs := ownRootfs(t)
	for _, d := range []string{rootfs, filepath.Dir(rootfs), filepath.Dir(filepath.Dir(rootfs))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"idmap", "plain", "own", "bare"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		userNS(t, s)
		s.Root.Path = rootfs
		s.Mounts = append(s.Mounts,
			bindMount(dir, "/idmap", "idmap"),
			bindMount(dir, "/plain"),
			specs.Mount{Destination: "/own", Type: "bind", Source: dir, Options: []string{"rbind", "ro", "ridmap"},
				// on-disk 0 shows as host id 100123: the container's 123
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100123, Size: 1}},
				GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100123, Size: 1}}},
			// containerd 2.x's id-mapped volumes: the mappings without the
			// option, which runc takes as "idmap"
			specs.Mount{Destination: "/bare", Type: "bind", Source: dir, Options: []string{"rbind", "rprivate", "rw"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100123, Size: 1}},
				GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100123, Size: 1}}},
		)
	})
	out := e.runOut(b, cid("idmap"))
	want := "0 0\n65534 65534\n123 123\n123 123\ncreated\nrefused\n"
	if out != want {
		t.Errorf("inside:\n%s\nwant:\n%s", out, want)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "new"), &st); err != nil {
		t.Fatalf("file made through the id-mapped mount: %v", err)
	}
	// Made by the container's root (host uid 100000), stored through the mapping
	// as what the container saw as root: the host's 0.
	if st.Uid != 0 || st.Gid != 0 {
		t.Errorf("on the host the new file is %d:%d, want 0:0", st.Uid, st.Gid)
	}
	if _, err := os.Stat(filepath.Join(dir, "new2")); err == nil {
		t.Error("the plain bind let the container write")
	}
	checkMountsGone(t, dir)
}

// TestIDMapRefused: a filesystem that cannot be id-mapped (sysfs) is refused in one
// line naming the mount, and so are an idmap option or mappings on what is not a
// bind.
func TestIDMapRefused(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name  string
		mount specs.Mount
		want  string
	}{
		{"sysfs", bindMount("/sys/kernel", "/k", "idmap"), "mount /k: id-map /sys/kernel: its filesystem cannot be id-mapped"},
		{"mappings on a tmpfs", specs.Mount{Destination: "/m", Type: "tmpfs", Source: "tmpfs",
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}}}, "only a bind mount can be id-mapped"},
		{"not a bind", specs.Mount{Destination: "/m", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}}, "only a bind mount can be id-mapped"},
	} {
		b := e.bundle([]string{"true"}, func(s *specs.Spec) {
			userNS(t, s)
			s.Mounts = append(s.Mounts, c.mount)
		})
		id := cid("idmap-bad")
		_, stderr, code := e.runIn(b, nil, "run", id)
		if code == 0 || len(lines(stderr)) != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want one line with %q", c.name, code, stderr, c.want)
		}
		e.checkNothingLeft(id)
	}
}

// checkMountsGone fails if anything is still mounted from or on dir in the host's
// mount namespace.
func checkMountsGone(t *testing.T, dir string) {
	t.Helper()
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range lines(string(mi)) {
		if strings.Contains(l, dir) {
			t.Errorf("mount left: %s", l)
		}
	}
}
