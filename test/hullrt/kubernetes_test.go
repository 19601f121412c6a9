package hullrt_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// What containerd's runc v2 shim and its CRI plugin ask of the runtime, each
// checked against runc where runc is installed.

// ownCgroup makes the cgroup /<name>/own on every hierarchy and returns a command
// prefix that runs a program in it: a runtime resolves a relative cgroupsPath
// from its own cgroup, and the test's own is often the root, where "own" and
// "parent of own" cannot be told apart. Both cgroups go when the test ends.
func ownCgroup(t *testing.T, name string) (prefix []string, parent *cgroups.Manager) {
	t.Helper()
	parent, err := cgroups.New("/"+name, "")
	if err != nil {
		t.Fatal(err)
	}
	own, err := cgroups.New("/"+name+"/own", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := own.Apply(0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		parent.Kill(9)
		if err := parent.Destroy(); err != nil {
			t.Error(err)
		}
	})
	script := ""
	for _, d := range own.Dirs() {
		script += "echo $$ > " + d + "/cgroup.procs && "
	}
	return []string{testutil.Busybox, "sh", "-c", script + `exec "$@"`, "sh"}, parent
}

// hostCgroups reads /proc/pid/cgroup from the host: hierarchy key → path.
func hostCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range lines(string(data)) {
		if p := strings.SplitN(l, ":", 3); len(p) == 3 {
			out[p[1]] = p[2]
		}
	}
	return out
}

// TestCgroupsPathSliceForm: containerd's CRI plugin names a container's cgroup
// "slice:prefix:name" whenever the pod's cgroup parent ends in ".slice", with or
// without the systemd driver. Without --systemd-cgroup runc takes it as one
// relative cgroupfs directory of that literal name: below the runtime's own cgroup
// on v1 hierarchies, below its parent on a cgroup v2-only host, below the root of
// a hybrid host's cgroup2 hierarchy. hullrt puts it where runc does, and delete
// removes it.
func TestCgroupsPathSliceForm(t *testing.T) {
	e := newEnv(t)
	id := cid("slice")
	name := fmt.Sprintf("hull-k8s-%d", os.Getpid())
	prefix, _ := ownCgroup(t, name)
	path := "test.slice:cri-containerd:" + id
	b := e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) { s.Linux.CgroupsPath = path })

	placed := func(bin string) map[string]string {
		t.Helper()
		root := t.TempDir()
		argv := append(append([]string{}, prefix...), bin, "--root", root, "run", "-d", "--bundle", b, id)
		// Output to a file: the detached container would hold a pipe open.
		cmd := exec.Command(argv[0], argv[1:]...)
		f := tempFile(t)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Run(); err != nil {
			out, _ := os.ReadFile(f.Name())
			t.Fatalf("%s run: %v: %s", filepath.Base(bin), err, out)
		}
		defer func() {
			if out, err := exec.Command(bin, "--root", root, "delete", "--force", id).CombinedOutput(); err != nil {
				t.Errorf("%s delete: %v: %s", filepath.Base(bin), err, out)
			}
		}()
		out, err := exec.Command(bin, "--root", root, "state", id).Output()
		if err != nil {
			t.Fatalf("%s state: %v", filepath.Base(bin), err)
		}
		var st specs.State
		if err := json.Unmarshal(out, &st); err != nil || st.Pid <= 0 {
			t.Fatalf("%s state: %v: %s", filepath.Base(bin), err, out)
		}
		return hostCgroups(t, st.Pid)
	}

	got := placed(hullrtBin)
	for key, p := range got {
		want := "/" + name + "/own/" + path
		if key == "" && cgroups.HostMode() == cgroups.Hybrid {
			want = "/" + path
		} else if key == "" {
			want = "/" + name + "/" + path
		}
		if p != want {
			t.Errorf("hierarchy %q: container in %q, want %q", key, p, want)
		}
	}
	// Gone on every hierarchy after delete.
	if out, _ := exec.Command("find", "/sys/fs/cgroup", "-name", path).Output(); len(out) > 0 {
		t.Errorf("cgroups left after delete:\n%s", out)
	}
	if runc, err := exec.LookPath("runc"); err == nil {
		ref := placed(runc)
		for key, p := range ref {
			if got[key] != p {
				t.Errorf("hierarchy %q: hullrt put the container in %q, runc in %q", key, got[key], p)
			}
		}
	}
}

// TestMountRecursiveOptions: "ro" on a bind makes the top mount read-only and leaves
// the mounts below it as they are; "rro" (runtime-spec 1.1) makes the whole tree
// read-only, and so for rnosuid, rnodev, rnoexec, rnoatime and the others, with
// mount_setattr(AT_RECURSIVE). Kubernetes asks for each explicitly: critest's
// "should support non-recursive readonly mounts" mounts a read-only hostPath with a
// tmpfs inside, which must stay writable. Checked against runc where it is here.
func TestMountRecursiveOptions(t *testing.T) {
	e := newEnv(t)
	host := hostTmpfs(t) // a tmpfs with another tmpfs at sub/
	script := `for d in /a /a/sub /b /b/sub /c; do touch $d/w 2>/dev/null && echo $d rw || echo $d ro; done
awk '$5 ~ /^\/[abc](\/|$)/ {print $5, $6}' /proc/self/mountinfo`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/a", Type: "bind", Source: host, Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/b", Type: "bind", Source: host, Options: []string{"rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"}},
			specs.Mount{Destination: "/c", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "rro", "rnosuid"}},
		)
	})
	got := e.runOut(b, cid("rro"))
	want := `/a ro
/a/sub rw
/b ro
/b/sub ro
/c ro
/a ro,relatime
/a/sub rw,relatime
/b ro,nosuid,nodev,noexec,noatime
/b/sub ro,nosuid,nodev,noexec,noatime
/c ro,nosuid,relatime
`
	if got != want {
		t.Errorf("hullrt:\n%s\nwant:\n%s", got, want)
	}
	// runc applies the recursive options to binds only (it returns before them
	// for other filesystems): /c is read-write there. hullrt does what /c asks.
	binds := func(out string) string {
		var keep []string
		for _, l := range lines(out) {
			if !strings.HasPrefix(l, "/c ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if ref := runcOut(t, b, cid("rro")); ref != "" && binds(ref) != binds(got) {
		t.Errorf("hullrt:\n%s\nrunc:\n%s", got, ref)
	}
	checkSentinelMounts(t, host)
	// The top of the host tree was read-only both times; its sub/ was written
	// through /a alone.
	if _, err := os.Stat(filepath.Join(host, "w")); err == nil {
		t.Error("the host dir was written through a read-only mount")
	}
	if _, err := os.Stat(filepath.Join(host, "sub/w")); err != nil {
		t.Errorf("the tmpfs below a non-recursive read-only bind was not writable: %v", err)
	}
}

// TestCheckpointRefused: containerd's shim runs `checkpoint` for CRI's
// CheckpointContainer, with runc's flags; hullrt answers with a clear error, after
// the "does not exist" of a missing container that the shim maps to NotFound.
func TestCheckpointRefused(t *testing.T) {
	e := newEnv(t)
	id := cid("ckpt")
	e.startDetached(e.bundle([]string{"sleep", "100"}, nil), id)
	for _, args := range [][]string{
		{"checkpoint", "--image-path", t.TempDir(), "--work-path", t.TempDir(), "--leave-running", id},
		{"restore", "--image-path", t.TempDir(), "--bundle", t.TempDir(), "--detach", id + "-new"},
	} {
		_, stderr, code := e.run(args...)
		if code == 0 || !strings.Contains(stderr, args[0]+": not supported") {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	if st := e.state(id); st.Status != "running" {
		t.Errorf("after checkpoint: %s, want running", st.Status)
	}
	if _, stderr, code := e.run("checkpoint", "nope"+idSuffix); code == 0 || !strings.Contains(stderr, "does not exist") {
		t.Errorf("checkpoint of a missing container: exit %d: %s", code, stderr)
	}
}
