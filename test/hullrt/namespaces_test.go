package hullrt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var nsTypes = []string{"pid", "mnt", "uts", "ipc", "net", "user", "cgroup", "time"}

// userNS gives s a new user namespace mapping 0-65535 onto 100000-165535.
func userNS(t *testing.T, s *specs.Spec) {
	// The shared rootfs lies in a directory only root may enter; uid 100000 must
	// reach it before pivot_root.
	if err := os.Chmod(filepath.Dir(sharedRootfs), 0o755); err != nil {
		t.Fatal(err)
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

// TestNewNamespaces makes one of every namespace type and proves each from inside:
// the ns links differ from the host's, pid 1, the hostname, only lo, the uid map,
// a cgroup view rooted at "/", and a clock 1000 s ahead.
func TestNewNamespaces(t *testing.T) {
	e := newEnv(t)
	needTimeNS(t, e)
	script := `for n in ` + strings.Join(nsTypes, " ") + `; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo "pid $$"
echo "hostname $(hostname)"
echo "links $(ls /sys/class/net | tr '\n' ' ')"
echo "iplink $(ip -o link | cut -d: -f2 | tr -d ' \n')"
echo "uidmap $(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
echo "gidmap $(cat /proc/self/gid_map | tr -s ' ' | sed 's/^ //')"
echo "cgroup $(cut -d: -f3 /proc/self/cgroup | sort -u | tr '\n' ' ')"
echo "uptime $(cut -d' ' -f1 /proc/uptime)"
`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Hostname = "nsbox"
		userNS(t, s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
			"monotonic": {Secs: 1000}, "boottime": {Secs: 1000},
		}
	})
	hostUp := readUptime(t)
	out := e.runOut(b, cid("ns1"))
	got := map[string]string{}
	for _, l := range lines(out) {
		k, v, _ := strings.Cut(l, " ")
		got[k] = v
	}
	self := strconv.Itoa(os.Getpid())
	for _, n := range nsTypes {
		if host := nsLink(t, self, n); got[n] == "" || got[n] == host {
			t.Errorf("%s namespace: inside %q, host %q", n, got[n], host)
		}
	}
	want := map[string]string{
		"pid": "1", "hostname": "nsbox", "links": "lo ", "iplink": "lo",
		"uidmap": "0 100000 65536", "gidmap": "0 100000 65536", "cgroup": "/ ",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q\n%s", k, got[k], v, out)
		}
	}
	up, err := strconv.ParseFloat(got["uptime"], 64)
	if err != nil {
		t.Fatalf("uptime %q: %v", got["uptime"], err)
	}
	if d := up - hostUp; d < 999 || d > 1030 {
		t.Errorf("uptime inside %.1f, host %.1f: offset %.1f, want ~1000", up, hostUp, d)
	}
}

// needTimeNS skips a test that makes a new time namespace on a kernel where hullrt
// refuses one (before 6.3, execve does not enter it), after checking that the
// refusal is the clear error it should be.
func needTimeNS(t *testing.T, e *env) {
	t.Helper()
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		t.Fatal("uname")
	}
	var ma, mi int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi)
	if ma > 6 || ma == 6 && mi >= 3 {
		return
	}
	b := e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	})
	_, stderr, code := e.runIn(b, nil, "run", cid("tns"))
	if code != 1 || !strings.Contains(stderr, "needs Linux 6.3") {
		t.Fatalf("a new time namespace on Linux %d.%d: exit %d, %q", ma, mi, code, stderr)
	}
	t.Skipf("Linux %d.%d: execve does not enter a new time namespace before 6.3, and hullrt refuses one (checked)", ma, mi)
}

func readUptime(t *testing.T) float64 {
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	return v
}

// TestJoinNamespaces makes container A with its own user namespace and joins every
// one of its namespaces from container B by path, mount and user included; then a
// container C joins A's user (and pid) namespace and makes its own mount, uts, ipc
// and network namespaces, owned by A's user namespace, where its mounts must work.
func TestJoinNamespaces(t *testing.T) {
	e := newEnv(t)
	a := e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) {
		s.Hostname = "a"
		userNS(t, s)
	})
	apid := strconv.Itoa(e.startDetached(a, cid("nsa")))
	script := `for n in net uts ipc pid mnt user cgroup; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo "hostname $(hostname)"
echo "uidmap $(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
echo "a $(cat /proc/1/cmdline | tr '\0' ' ')"
`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Hostname = ""
		s.Linux.Namespaces = nil
		for _, n := range []struct {
			t    specs.LinuxNamespaceType
			proc string
		}{
			{specs.NetworkNamespace, "net"}, {specs.UTSNamespace, "uts"}, {specs.IPCNamespace, "ipc"},
			{specs.PIDNamespace, "pid"}, {specs.MountNamespace, "mnt"}, {specs.UserNamespace, "user"},
			{specs.CgroupNamespace, "cgroup"},
		} {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: n.t, Path: "/proc/" + apid + "/ns/" + n.proc})
		}
	})
	out := e.runOut(b, cid("nsb"))
	got := map[string]string{}
	for _, l := range lines(out) {
		k, v, _ := strings.Cut(l, " ")
		got[k] = v
	}
	for _, n := range []string{"net", "uts", "ipc", "pid", "mnt", "user", "cgroup"} {
		if want := nsLink(t, apid, n); got[n] != want {
			t.Errorf("B's %s namespace %q, A's %q", n, got[n], want)
		}
	}
	if got["hostname"] != "a" || got["uidmap"] != "0 100000 65536" || got["a"] != "sleep 100 " {
		t.Errorf("B does not see A's namespaces:\n%s", out)
	}

	// C: A's user and pid namespaces, new mount, uts, ipc and network ones.
	c := e.bundle([]string{"sh", "-c", script + `echo "mounts $(cut -d' ' -f5 /proc/self/mountinfo | grep -c -x -e /proc -e /sys -e /dev -e /dev/pts -e /dev/mqueue)"`}, func(s *specs.Spec) {
		s.Hostname = "c"
		s.Linux.Namespaces = []specs.LinuxNamespace{
			{Type: specs.UserNamespace, Path: "/proc/" + apid + "/ns/user"},
			{Type: specs.PIDNamespace, Path: "/proc/" + apid + "/ns/pid"},
			{Type: specs.MountNamespace}, {Type: specs.UTSNamespace}, {Type: specs.IPCNamespace},
			{Type: specs.NetworkNamespace},
		}
	})
	out = e.runOut(c, cid("nsc"))
	got = map[string]string{}
	for _, l := range lines(out) {
		k, v, _ := strings.Cut(l, " ")
		got[k] = v
	}
	for _, n := range []string{"user", "pid"} {
		if want := nsLink(t, apid, n); got[n] != want {
			t.Errorf("C's %s namespace %q, A's %q", n, got[n], want)
		}
	}
	for _, n := range []string{"net", "uts", "ipc", "mnt"} {
		if a := nsLink(t, apid, n); got[n] == a || got[n] == "" {
			t.Errorf("C's %s namespace %q is A's", n, got[n])
		}
	}
	if got["hostname"] != "c" || got["uidmap"] != "0 100000 65536" || got["mounts"] != "5" {
		t.Errorf("C:\n%s", out)
	}
}

// TestJoinUserNamespaceNewPid is the shape of containerd 2.x's pod sandbox for a
// pod with hostUsers: false: a user namespace joined by path (the one containerd
// made with the pod's network namespace, pinned by a bind mount), its uid and gid maps given
// again, and new pid, mount, uts, ipc and network namespaces, owned by the joined
// user namespace. Init is pid 1 of its own pid namespace, a bind source that only
// the host's root may reach is mounted all the same, exec reaches the container,
// and maps that are not the joined namespace's are refused (as runc 1.2 does).
func TestJoinUserNamespaceNewPid(t *testing.T) {
	e := newEnv(t)
	a := e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) { userNS(t, s) })
	apid := strconv.Itoa(e.startDetached(a, cid("nsua")))
	script := `for n in pid user mnt; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo "self $$"
echo "proc1 $(cat /proc/1/comm)"
echo "uidmap $(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
echo "gidmap $(cat /proc/self/gid_map | tr -s ' ' | sed 's/^ //')"
echo "hostname $(hostname)"
echo "data $(cat /run/f)"
`
	// containerd's pod files (hosts, resolv.conf, /dev/shm) lie in its state
	// directory, which only the host's root may enter (0700, as t.TempDir is):
	// out of reach of the user namespace's root, though each is readable.
	data := filepath.Join(t.TempDir(), "pod")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "f"), []byte("pod data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// containerd pins the pod's user namespace with a bind mount of its nsfs file
	// in its state directory, and names that.
	pinned := filepath.Join(t.TempDir(), "user")
	if err := os.WriteFile(pinned, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/proc/"+apid+"/ns/user", pinned, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(pinned, unix.MNT_DETACH) })
	pod := func(hostID uint32, args ...string) string {
		return e.bundle(args, func(s *specs.Spec) {
			s.Hostname = "pod"
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/run", Type: "bind", Source: data, Options: []string{"rbind", "ro"}})
			s.Linux.Namespaces = []specs.LinuxNamespace{
				{Type: specs.UserNamespace, Path: pinned},
				{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.IPCNamespace}, {Type: specs.NetworkNamespace},
			}
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: hostID, Size: 65536}}
		})
	}
	parse := func(out string) map[string]string {
		got := map[string]string{}
		for _, l := range lines(out) {
			k, v, _ := strings.Cut(l, " ")
			got[k] = v
		}
		return got
	}
	got := parse(e.runOut(pod(100000, "sh", "-c", script), cid("nsub")))
	if want := nsLink(t, apid, "user"); got["user"] != want {
		t.Errorf("user namespace %q, A's %q", got["user"], want)
	}
	self := strconv.Itoa(os.Getpid())
	for _, n := range []string{"pid", "mnt"} {
		if got[n] == "" || got[n] == nsLink(t, apid, n) || got[n] == nsLink(t, self, n) {
			t.Errorf("%s namespace %q: not a new one", n, got[n])
		}
	}
	// sh is pid 1, in the /proc mounted for its pid namespace too.
	want := map[string]string{"self": "1", "proc1": "sh", "data": "pod data", "uidmap": "0 100000 65536", "gidmap": "0 100000 65536", "hostname": "pod"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}

	// create, then start, as containerd's shim runs it (init waits on exec.fifo,
	// which must be the namespace root's), then an exec.
	id := cid("nsuc")
	cmd, _, errOut := e.cmd("create", "--bundle", pod(100000, "sleep", "100"), id)
	if err := cmd.Run(); err != nil {
		t.Fatalf("create: %v: %s", err, errOut())
	}
	e.must("start", id)
	out, stderr, code := e.run("exec", id, "sh", "-c", `echo "$(cat /proc/1/cmdline | tr '\0' ' ')/$(readlink /proc/self/ns/user)"`)
	if want := "sleep 100 /" + nsLink(t, apid, "user") + "\n"; code != 0 || out != want {
		t.Errorf("exec: exit %d, %q (%s), want %q", code, out, stderr, want)
	}
	e.must("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	e.must("delete", id)

	// Maps that are not the joined namespace's.
	bad := cid("nsud")
	_, stderr, code = e.run("run", "--bundle", pod(200000, "true"), bad)
	if code == 0 || !strings.Contains(stderr, "linux.uidMappings") || !strings.Contains(stderr, "not the maps of the joined user namespace") || len(lines(stderr)) != 1 {
		t.Errorf("maps not the joined namespace's: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(e.root, bad)); err == nil {
		t.Errorf("state of %s left behind", bad)
	}
}
