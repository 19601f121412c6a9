package hullrt_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rootlessUser is an ordinary user a test makes with useradd, with subordinate ids
// in /etc/subuid and /etc/subgid, and removes again with its entries. It has a home
// of its own holding its copy of hullrt, its bundles and its XDG_RUNTIME_DIR.
type rootlessUser struct {
	t        *testing.T
	name     string
	uid, gid int
	subuid   int // first of 65536 subordinate uids (and gids)
	home     string
	bin      string
	xdg      string
	cgroup   *os.File // when set, the cgroup2 directory its hullrt starts in
}

var userSeq atomic.Int32

// newRootlessUser makes the user. The cgroup v2 test VM is a busybox initramfs
// without shadow's useradd and uidmap's newuidmap: there the user is a bare uid
// that no account names, without subordinate ids (withSubIDs skips).
func newRootlessUser(t *testing.T) *rootlessUser {
	t.Helper()
	testutil.RequireRoot(t)
	u := &rootlessUser{t: t, name: fmt.Sprintf("hullrt-%d-%d", os.Getpid(), userSeq.Add(1)), subuid: -1}
	for _, tool := range []string{"useradd", "userdel", "newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			u.name = tool + " is missing"
			u.uid = 60000 + os.Getpid()%5000 + int(userSeq.Load())
			u.gid = u.uid
			u.makeHome()
			return u
		}
	}
	if out, err := exec.Command("useradd", "--no-create-home", "--user-group", "--shell", "/bin/false", u.name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", u.name, err, out)
	}
	t.Cleanup(u.remove)
	out, err := exec.Command("id", "-u", u.name).Output()
	if err == nil {
		u.uid, err = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	if err == nil {
		out, err = exec.Command("id", "-g", u.name).Output()
	}
	if err == nil {
		u.gid, err = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	if err != nil {
		t.Fatalf("id of %s: %v", u.name, err)
	}
	// Debian's useradd gives a new user a range (SUB_UID_COUNT in login.defs);
	// elsewhere the test adds one.
	u.subuid = subordinateStart(t, "/etc/subuid", u.name)
	if u.subuid < 0 || subordinateStart(t, "/etc/subgid", u.name) != u.subuid {
		u.subuid = 500000000 + 65536*(os.Getpid()%1000)
		for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
			appendLine(t, f, fmt.Sprintf("%s:%d:65536", u.name, u.subuid))
		}
	}
	u.makeHome()
	return u
}

// withSubIDs skips a test that needs subordinate ids where the user has none.
func (u *rootlessUser) withSubIDs() {
	if u.subuid < 0 {
		u.t.Skipf("subordinate ids need an account made with useradd and uidmap's newuidmap: %s here", u.name)
	}
}

// makeHome makes the user's home: its hullrt, its XDG_RUNTIME_DIR.
func (u *rootlessUser) makeHome() {
	t := u.t
	home, err := os.MkdirTemp("", "hullrt-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	u.home, u.xdg = home, filepath.Join(home, "xdg")
	u.bin = filepath.Join(home, "hullrt")
	// The binary under test may lie in a directory only root may enter.
	data, err := os.ReadFile(hullrtBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(u.bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(u.xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{home, u.xdg} {
		if err := os.Chown(p, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
}

// remove deletes the user, its group and its subordinate ids.
func (u *rootlessUser) remove() {
	if out, err := exec.Command("userdel", u.name).CombinedOutput(); err != nil {
		u.t.Errorf("userdel %s: %v: %s", u.name, err, out)
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var keep []string
		for _, l := range lines(string(data)) {
			if !strings.HasPrefix(l, u.name+":") {
				keep = append(keep, l)
			}
		}
		out := strings.Join(keep, "\n")
		if out != "" {
			out += "\n"
		}
		if out != string(data) {
			if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
				u.t.Errorf("remove %s from %s: %v", u.name, f, err)
			}
		}
	}
	for _, f := range []string{"/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid"} {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), u.name+":") {
			u.t.Errorf("%s still names %s", f, u.name)
		}
	}
}

// subordinateStart returns the first id of name's range in file, or -1.
func subordinateStart(t *testing.T, file, name string) int {
	f, err := os.Open(file)
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), ":")
		if len(p) == 3 && p[0] == name && p[2] == "65536" {
			if n, err := strconv.Atoi(p[1]); err == nil {
				return n
			}
		}
	}
	return -1
}

func appendLine(t *testing.T, file, line string) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

// hullrt runs the user's hullrt, as the user, in dir, with its XDG_RUNTIME_DIR and
// no --root: the state goes where a rootless hullrt puts it by default.
func (u *rootlessUser) hullrt(dir string, args ...string) (string, string, int) {
	u.t.Helper()
	cmd := exec.Command(u.bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + u.home, "XDG_RUNTIME_DIR=" + u.xdg}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	if u.cgroup != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(u.cgroup.Fd())
	}
	// Files, not pipes: a detached container keeps its stdio open.
	outf, errf := tempFile(u.t), tempFile(u.t)
	cmd.Stdout, cmd.Stderr = outf, errf
	if err := cmd.Start(); err != nil {
		u.t.Fatalf("hullrt %v: %v", args, err)
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		u.t.Fatalf("hullrt %v: timed out", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		u.t.Fatalf("hullrt %v: %v", args, err)
	}
	out, _ := os.ReadFile(outf.Name())
	errb, _ := os.ReadFile(errf.Name())
	return string(out), string(errb), code
}

// mustRun is hullrt that must succeed; it returns stdout.
func (u *rootlessUser) mustRun(dir string, args ...string) string {
	u.t.Helper()
	out, stderr, code := u.hullrt(dir, args...)
	if code != 0 {
		u.t.Fatalf("rootless hullrt %v: exit %d: %s", args, code, stderr)
	}
	return out
}

// bundle writes, as the user, the spec `hullrt spec --rootless` gives, with a
// busybox rootfs the user owns, runs args without a terminal, and lets edit
// change it. Every container the user still has is deleted at the end.
func (u *rootlessUser) bundle(args []string, edit func(*specs.Spec)) string {
	u.t.Helper()
	dir, err := os.MkdirTemp(u.home, "bundle-")
	if err != nil {
		u.t.Fatal(err)
	}
	if err := testutil.MakeBusyboxRootfs(filepath.Join(dir, "rootfs")); err != nil {
		u.t.Fatal(err)
	}
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.uid, u.gid)
	}); err != nil {
		u.t.Fatal(err)
	}
	u.mustRun(dir, "spec", "--rootless")
	var s specs.Spec
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err == nil {
		err = json.Unmarshal(data, &s)
	}
	if err != nil {
		u.t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	if edit != nil {
		edit(&s)
	}
	writeSpec(u.t, dir, &s)
	u.t.Cleanup(func() {
		out, _, _ := u.hullrt(dir, "list", "-q")
		for _, id := range strings.Fields(out) {
			if _, stderr, code := u.hullrt(dir, "delete", "--force", id); code != 0 {
				u.t.Errorf("cleanup: delete %s: %s", id, stderr)
			}
		}
	})
	return dir
}

// TestRootlessRun runs a container as an ordinary user, with the spec of
// `hullrt spec --rootless`: a user namespace that maps the user's own id to root.
func TestRootlessRun(t *testing.T) {
	u := newRootlessUser(t)
	b := u.bundle([]string{"sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/setgroups; grep ' /sys ' /proc/self/mountinfo"}, nil)
	out := u.mustRun(b, "run", cid("rl-run"))
	l := lines(out)
	if len(l) < 5 {
		t.Fatalf("output %q", out)
	}
	if l[0] != "uid=0(root) gid=0(root)" {
		t.Errorf("id inside: %q, want root", l[0])
	}
	want := fmt.Sprintf("0 %d 1", u.uid)
	if got := strings.Join(strings.Fields(l[1]), " "); got != want {
		t.Errorf("uid_map %q, want %q", got, want)
	}
	if got := strings.Join(strings.Fields(l[2]), " "); got != fmt.Sprintf("0 %d 1", u.gid) {
		t.Errorf("gid_map %q, want 0 %d 1", got, u.gid)
	}
	// The kernel lets an unprivileged writer map a gid only with setgroups denied.
	if l[3] != "deny" {
		t.Errorf("setgroups %q, want deny", l[3])
	}
	// The host's /sys, bound read-only: a user namespace without a network
	// namespace may not mount sysfs.
	if f := strings.Fields(l[4]); len(f) < 6 || !strings.HasPrefix(f[5], "ro,") {
		t.Errorf("/sys inside: %q, want read-only", l[4])
	}
	// Id-mapping a mount needs the host's root.
	bad := u.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: u.home, Options: []string{"rbind", "idmap"}})
	})
	if _, stderr, code := u.hullrt(bad, "run", cid("rl-idmap")); code == 0 || len(lines(stderr)) != 1 || !strings.Contains(stderr, "id-mapped mounts need a runtime running as root") {
		t.Errorf("rootless idmap: exit %d, stderr %q", code, stderr)
	}
	// The container's root must be the user: nothing else could open the exec
	// fifo the user's hullrt made (runc requires the same).
	bad = u.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 500000, Size: 1}}
	})
	if _, stderr, code := u.hullrt(bad, "run", cid("rl-root")); code == 0 || len(lines(stderr)) != 1 || !strings.Contains(stderr, "linux.uidMappings") {
		t.Errorf("container root not the user: exit %d, stderr %q", code, stderr)
	}
	// `run` deletes the container at the end; its state lived under
	// $XDG_RUNTIME_DIR/hullrt.
	ents, err := os.ReadDir(filepath.Join(u.xdg, "hullrt"))
	if err != nil {
		t.Fatalf("state root under XDG_RUNTIME_DIR: %v", err)
	}
	if len(ents) != 0 {
		t.Errorf("state left: %v", ents)
	}
}

// TestRootlessSubordinateIDs maps 65536 subordinate ids besides the user's own,
// through newuidmap and newgidmap: a file chowned to 1000 inside belongs to the
// matching subordinate id on the host.
func TestRootlessSubordinateIDs(t *testing.T) {
	u := newRootlessUser(t)
	u.withSubIDs()
	b := u.bundle([]string{"sh", "-c", "touch /tmp/f && chown 1000:1000 /tmp/f && stat -c '%u %g' /tmp/f && cat /proc/self/setgroups"}, func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: uint32(u.subuid), Size: 65536})
		s.Linux.GIDMappings = append(s.Linux.GIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: uint32(u.subuid), Size: 65536})
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_CHOWN")
		c.Effective = append(c.Effective, "CAP_CHOWN")
		c.Permitted = append(c.Permitted, "CAP_CHOWN")
	})
	out := u.mustRun(b, "run", cid("rl-sub"))
	if l := lines(out); len(l) != 2 || l[0] != "1000 1000" || l[1] != "allow" {
		t.Errorf("inside: %q, want \"1000 1000\" and setgroups allowed", out)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(b, "rootfs/tmp/f"), &st); err != nil {
		t.Fatal(err)
	}
	// Container id 1 is the range's first: 1000 is its 1000th.
	want := uint32(u.subuid + 999)
	if st.Uid != want || st.Gid != want {
		t.Errorf("on the host the file is %d:%d, want %d:%d", st.Uid, st.Gid, want, want)
	}
	// A range that is not the user's is refused by newuidmap, with its reason.
	b = u.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 1, HostID: uint32(u.subuid + 65536), Size: 1})
	})
	_, stderr, code := u.hullrt(b, "run", cid("rl-notmine"))
	if code == 0 || !strings.Contains(stderr, "linux.uidMappings") || len(lines(stderr)) != 1 {
		t.Errorf("foreign subordinate range: exit %d, stderr %q; want one line naming linux.uidMappings", code, stderr)
	}
}

// TestRootlessExec starts a rootless container detached, execs into it, and
// lists, kills and deletes it from the user's own state directory.
func TestRootlessExec(t *testing.T) {
	u := newRootlessUser(t)
	id := cid("rl-exec")
	b := u.bundle([]string{"sleep", "100"}, nil)
	u.mustRun(b, "run", "-d", id)
	var st runtime.OCIState
	if err := json.Unmarshal([]byte(u.mustRun(b, "state", id)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "running" || st.Pid <= 0 {
		t.Fatalf("state %+v", st)
	}
	if _, err := os.Stat(filepath.Join(u.xdg, "hullrt", id, "state.json")); err != nil {
		t.Errorf("state not under $XDG_RUNTIME_DIR/hullrt: %v", err)
	}
	out := u.mustRun(b, "exec", id, "sh", "-c", "id; for n in pid user mnt; do readlink /proc/self/ns/$n; done; echo $$")
	l := lines(out)
	if len(l) != 5 {
		t.Fatalf("exec output %q", out)
	}
	if l[0] != "uid=0(root) gid=0(root)" {
		t.Errorf("id in exec: %q", l[0])
	}
	pid := strconv.Itoa(st.Pid)
	for i, typ := range []string{"pid", "user", "mnt"} {
		if want := nsLink(t, pid, typ); l[1+i] != want {
			t.Errorf("exec's %s namespace %s, init's %s", typ, l[1+i], want)
		}
	}
	if n, err := strconv.Atoi(l[4]); err != nil || n <= 1 || n > 100 {
		t.Errorf("exec's pid in the container %q, want a small one of its pid namespace", l[4])
	}
	if _, stderr, code := u.hullrt(b, "exec", id, "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("exec's exit code %d, want 3 (%s)", code, stderr)
	}
	if list := u.mustRun(b, "list", "-q"); strings.TrimSpace(list) != id {
		t.Errorf("list -q: %q", list)
	}
	// the owner column names the user (a bare uid in the VM, which has no user
	// database: "#UID")
	want := u.name
	if strings.HasSuffix(u.name, " is missing") {
		want = "#" + strconv.Itoa(u.uid)
	}
	if list := u.mustRun(b, "list", "--format", "json"); !strings.Contains(list, `"owner":"`+want+`"`) {
		t.Errorf("list: %s lacks owner %s", list, want)
	}
	if ps := u.mustRun(b, "ps", "--format", "json", id); !strings.Contains(ps, pid) {
		t.Errorf("ps: %q lacks init %s", ps, pid)
	}
	u.mustRun(b, "kill", id, "KILL")
	for i := 0; i < 200 && pidAlive(st.Pid); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	u.mustRun(b, "delete", id)
	if list := u.mustRun(b, "list", "-q"); strings.TrimSpace(list) != "" {
		t.Errorf("list after delete: %q", list)
	}
	if pidAlive(st.Pid) {
		t.Errorf("init %d still runs", st.Pid)
	}
}

// TestRootlessLimitRefused: without a cgroup delegated to the user, a memory limit
// cannot be applied, and is refused in one line naming it rather than dropped.
func TestRootlessLimitRefused(t *testing.T) {
	u := newRootlessUser(t)
	limit := int64(64 << 20)
	b := u.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	})
	id := cid("rl-limit")
	_, stderr, code := u.hullrt(b, "run", id)
	if code == 0 || len(lines(stderr)) != 1 || !strings.Contains(stderr, "linux.resources.memory") || !strings.Contains(stderr, "delegated") {
		t.Errorf("memory limit: exit %d, stderr %q; want one line naming linux.resources.memory and the missing delegation", code, stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(u.xdg, "hullrt")); len(ents) != 0 {
		t.Errorf("state left: %v", ents)
	}
	// Without limits the same spec runs, in no cgroup of its own: in the one of
	// the hullrt that made it, which is this test's.
	b = u.bundle([]string{"sleep", "100"}, nil)
	u.mustRun(b, "run", "-d", id)
	var st runtime.OCIState
	if err := json.Unmarshal([]byte(u.mustRun(b, "state", id)), &st); err != nil {
		t.Fatal(err)
	}
	mine, _ := os.ReadFile("/proc/self/cgroup")
	its, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cgroup")
	if err != nil || string(its) != string(mine) {
		t.Errorf("container's cgroups %q, want the caller's %q (%v)", its, mine, err)
	}
	u.mustRun(b, "delete", "--force", id)
	if pidAlive(st.Pid) {
		t.Errorf("init %d still runs after delete --force", st.Pid)
	}
}

// TestRootlessDelegatedCgroup delegates a cgroup2 subtree to the user, as systemd
// does for user@UID.service (the directory and its cgroup.procs,
// cgroup.subtree_control and cgroup.threads chowned to the user), and starts the
// user's hullrt in a cgroup below it: the container gets a cgroup of its own beside
// it, which ps and kill --all use and delete removes.
func TestRootlessDelegatedCgroup(t *testing.T) {
	u := newRootlessUser(t)
	mount := "/sys/fs/cgroup/unified"
	var fs syscall.Statfs_t
	if syscall.Statfs(mount, &fs) != nil || fs.Type != unix.CGROUP2_SUPER_MAGIC {
		mount = "/sys/fs/cgroup"
		if syscall.Statfs(mount, &fs) != nil || fs.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Skip("this host mounts no cgroup2 hierarchy")
		}
	}
	deleg := filepath.Join(mount, fmt.Sprintf("hullrt-test-deleg-%d-%d", os.Getpid(), u.uid))
	caller := filepath.Join(deleg, "caller")
	for _, d := range []string{deleg, caller} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range []string{caller, deleg} {
			if err := os.Remove(d); err != nil {
				t.Errorf("remove delegated cgroup: %v", err)
			}
		}
	})
	for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
		for _, d := range []string{deleg, caller} {
			if err := os.Chown(filepath.Join(d, f), u.uid, u.gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	var err error
	if u.cgroup, err = os.Open(caller); err != nil {
		t.Fatal(err)
	}
	defer func() { u.cgroup.Close(); u.cgroup = nil }()

	id := cid("rl-cg")
	b := u.bundle([]string{"sleep", "100"}, nil)
	u.mustRun(b, "run", "-d", id)
	var st runtime.OCIState
	if err := json.Unmarshal([]byte(u.mustRun(b, "state", id)), &st); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(deleg, "hullrt-"+id)
	data, err := os.ReadFile(filepath.Join(own, "cgroup.procs"))
	if err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(st.Pid) {
		t.Errorf("container's cgroup %s holds %q (%v), want init %d", own, data, err, st.Pid)
	}
	u.mustRun(b, "exec", "-d", id, "sleep", "100")
	var pids []int
	if err := json.Unmarshal([]byte(u.mustRun(b, "ps", "--format", "json", id)), &pids); err != nil || len(pids) != 2 {
		t.Errorf("ps: %v %v, want init and the exec'd process", pids, err)
	}
	u.mustRun(b, "kill", "--all", id, "KILL")
	u.mustRun(b, "delete", "--force", id)
	if _, err := os.Stat(own); err == nil {
		t.Errorf("delete left the container's cgroup %s", own)
	}
	for _, pid := range pids {
		if pidAlive(pid) {
			t.Errorf("pid %d survived kill --all", pid)
		}
	}

	// A memory limit is applied there when the host's cgroup2 has the memory
	// controller (a cgroup v2 host), and refused in one line where it has not
	// (this hybrid host's unified hierarchy holds none).
	limit := int64(64 << 20)
	b = u.bundle([]string{"sleep", "100"}, func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	})
	ctrls, _ := os.ReadFile(filepath.Join(mount, "cgroup.controllers"))
	_, stderr, code := u.hullrt(b, "run", "-d", id)
	if !strings.Contains(" "+string(ctrls)+" ", " memory ") {
		if code == 0 || len(lines(stderr)) != 1 || !strings.Contains(stderr, "linux.resources.memory") {
			t.Errorf("memory limit without the memory controller: exit %d, stderr %q", code, stderr)
		}
		return
	}
	if code != 0 {
		t.Fatalf("memory limit in the delegated cgroup: %s", stderr)
	}
	if max, err := os.ReadFile(filepath.Join(own, "memory.max")); err != nil || strings.TrimSpace(string(max)) != strconv.FormatInt(limit, 10) {
		t.Errorf("memory.max %q (%v), want %d", max, err, limit)
	}
	u.mustRun(b, "delete", "--force", id)
}
