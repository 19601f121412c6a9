package peers_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/runtime/cgroups"
)

// startContainerd starts a containerd of the test's own: root, state, sockets and
// config under dir, without CRI and the other plugins a test does not use. It
// returns the socket's path.
func startContainerd(t *testing.T, dir string) string {
	t.Helper()
	sock := filepath.Join(dir, "c.sock")
	conf := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "opt"))
	confFile := filepath.Join(dir, "containerd.toml")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The runc shim keeps its sockets in /run/containerd/s whatever the state
	// directory; what it makes there goes when the test ends.
	cleanupIfNew(t, "/run/containerd/s", "/run/containerd/fifo", "/run/containerd")
	d := startDaemon(t, filepath.Join(dir, "containerd.log"), "containerd", "--config", confFile)
	if !waitFor(20*time.Second, func() bool {
		return d.exited() || run(t, nil, 5*time.Second, "ctr", "-a", sock, "version").err == nil
	}) || d.exited() {
		t.Fatalf("containerd did not come up:\n%s", tail(d.log, 30))
	}
	return sock
}

// cleanupIfNew removes, when the test ends, those of the files and (empty)
// directories that do not exist now; list children before parents.
func cleanupIfNew(t *testing.T, dirs ...string) {
	var fresh []string
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			fresh = append(fresh, d)
		}
	}
	t.Cleanup(func() {
		for _, d := range fresh {
			os.Remove(d)
		}
	})
}

// ctrSession is ctr on the containerd at sock, in namespace ns: ctr returns what a
// command gave, mustCtr its output or fails the test. What a failed test leaves in
// ns (tasks, containers) is killed and removed when the test ends.
func ctrSession(t *testing.T, sock, ns string) (ctr func(args ...string) cmdResult, mustCtr func(args ...string) string) {
	ctr = func(args ...string) cmdResult {
		t.Helper()
		return run(t, nil, 60*time.Second, "ctr", append([]string{"-a", sock, "-n", ns}, args...)...)
	}
	mustCtr = func(args ...string) string {
		t.Helper()
		r := ctr(args...)
		if r.err != nil {
			t.Fatalf("%s", r)
		}
		return r.out
	}
	t.Cleanup(func() {
		for _, id := range strings.Fields(ctr("task", "list", "-q").out) {
			ctr("task", "kill", "-a", "-s", "KILL", id)
			ctr("task", "delete", "-f", id)
		}
		for _, id := range strings.Fields(ctr("container", "list", "-q").out) {
			ctr("container", "delete", id)
		}
	})
	return ctr, mustCtr
}

func TestContainerd(t *testing.T) {
	needBinaries(t, "containerd", "ctr", "containerd-shim-runc-v2")
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			dir := workDir(t)
			// The namespace names the containers' cgroup parent too (ctr puts a
			// container in /<namespace>/<id>).
			ns := "hullpeers-" + filepath.Base(dir)
			t.Cleanup(func() { removeCgroup(t, ns) })
			rtPath := wrapRuntime(t, dir, rt)
			sock := startContainerd(t, dir)
			ctr, mustCtr := ctrSession(t, sock, ns)
			rtFlags := []string{"--runc-binary", rtPath, "--runc-root", filepath.Join(dir, "runc-root")}

			mustCtr("images", "import", imageArchive)

			// ctr run --rm, in the foreground: the shim creates, starts, waits, deletes.
			if out := mustCtr(append(append([]string{"run", "--rm"}, rtFlags...), imageRef, "c1", "echo", "ok")...); strings.TrimSpace(out) != "ok" {
				t.Errorf("ctr run printed %q, want ok", out)
			}
			if r := ctr(append(append([]string{"run", "--rm"}, rtFlags...), imageRef, "c2", "sh", "-c", "exit 3")...); exitStatus(r.err) != 3 {
				t.Errorf("ctr run of exit 3: %s", r)
			}

			// A detached task: exec, ps, kill, delete.
			mustCtr(append(append([]string{"run", "-d"}, rtFlags...), imageRef, "c3", "sleep", "1000")...)
			if out := mustCtr("task", "exec", "--exec-id", "e1", "c3", "sh", "-c", "echo hi from $$"); !strings.HasPrefix(out, "hi from ") {
				t.Errorf("ctr task exec printed %q", out)
			}
			if r := ctr("task", "exec", "--exec-id", "e2", "c3", "sh", "-c", "exit 5"); exitStatus(r.err) != 5 {
				t.Errorf("ctr task exec of exit 5: %s", r)
			}
			if out := mustCtr("task", "ps", "c3"); len(strings.Fields(out)) < 3 {
				t.Errorf("ctr task ps shows no process:\n%s", out)
			}
			if out := mustCtr("task", "list"); !strings.Contains(out, "RUNNING") {
				t.Errorf("ctr task list:\n%s", out)
			}
			mustCtr("task", "kill", "-a", "-s", "KILL", "c3")
			if !waitFor(10*time.Second, func() bool { return strings.Contains(ctr("task", "list").out, "STOPPED") }) {
				t.Errorf("the task did not stop:\n%s", ctr("task", "list").out)
			}
			mustCtr("task", "delete", "c3")
			mustCtr("container", "delete", "c3")

			// ctr run -t from a terminal: the shim's console socket.
			args := append(append([]string{"-a", sock, "-n", ns, "run", "--rm", "-t"}, rtFlags...), imageRef, "c4", "sh", "-c", "test -t 0 && test -t 1 && echo tty-ok; tty")
			out, err := runOnPty(t, nil, "ctr", args...)
			if err != nil || !strings.Contains(out, "tty-ok") || !strings.Contains(out, "/dev/pts/0") {
				t.Errorf("ctr run -t: %v\n%s", err, out)
			}
		})
	}
}

// TestContainerdSystemdCgroup: containerd's runc shim with the systemd cgroup
// driver (what `SystemdCgroup = true` gives a CRI handler: --systemd-cgroup on
// every runtime call) and a "slice:prefix:name" cgroup, with runc and then
// hullrt: the task runs in the scope unit, delegated, the shim reads its pids and
// metrics there, and the unit is gone with the task. Needs systemd as init (make
// test-systemd runs it in the VM).
func TestContainerdSystemdCgroup(t *testing.T) {
	needBinaries(t, "containerd", "ctr", "containerd-shim-runc-v2", "systemctl")
	if !cgroups.Booted() {
		t.Skip("systemd is not init here (no /run/systemd/system): `make test-systemd` runs this in a VM with Debian's systemd")
	}
	t.Cleanup(func() { exec.Command("systemctl", "stop", "hullpeers.slice").Run() })
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			dir := workDir(t)
			ns := "hullsd"
			rtPath := wrapRuntime(t, dir, rt)
			ctr, mustCtr := ctrSession(t, startContainerd(t, dir), ns)
			id := "sd" + rt.name
			unit, cg := "ctr-"+id+".scope", "/hullpeers.slice/ctr-"+id+".scope"
			mustCtr("images", "import", imageArchive)
			mustCtr("run", "-d", "--runc-binary", rtPath, "--runc-root", filepath.Join(dir, "runc-root"),
				"--runc-systemd-cgroup", "--cgroup", "hullpeers.slice:ctr:"+id, imageRef, id, "sleep", "1000")
			show := func() string {
				out, _ := exec.Command("systemctl", "show", "-p", "ActiveState,Delegate,ControlGroup", unit).Output()
				f := strings.Fields(string(out))
				sort.Strings(f)
				return strings.Join(f, " ")
			}
			if got, want := show(), "ActiveState=active ControlGroup="+cg+" Delegate=yes"; got != want {
				t.Errorf("unit %s: %q, want %q", unit, got, want)
			}
			var pid string
			for _, l := range strings.Split(mustCtr("task", "list"), "\n") {
				if f := strings.Fields(l); len(f) >= 2 && f[0] == id {
					pid = f[1]
				}
			}
			// systemd's hierarchies: cgroup2's, and on a hybrid host name=systemd
			// (which v1 controllers a runtime joins beside them differs: runc 1.1
			// knows no misc).
			own, _ := os.ReadFile("/proc/" + pid + "/cgroup")
			for _, l := range strings.Split(strings.TrimSpace(string(own)), "\n") {
				if f := strings.SplitN(l, ":", 3); len(f) == 3 && (f[1] == "" || f[1] == "name=systemd") && f[2] != cg {
					t.Errorf("task %s in cgroup %q, want %s", pid, l, cg)
				}
			}
			if out := mustCtr("task", "ps", id); !strings.Contains(out, pid) {
				t.Errorf("ctr task ps lacks %s:\n%s", pid, out)
			}
			if out := mustCtr("task", "metrics", id); !strings.Contains(out, "memory.usage") && !strings.Contains(out, "memory") {
				t.Errorf("ctr task metrics:\n%s", out)
			}
			mustCtr("task", "kill", "-a", "-s", "KILL", id)
			if !waitFor(10*time.Second, func() bool { return strings.Contains(ctr("task", "list").out, "STOPPED") }) {
				t.Errorf("the task did not stop:\n%s", ctr("task", "list").out)
			}
			mustCtr("task", "delete", id)
			mustCtr("container", "delete", id)
			if got := show(); !strings.Contains(got, "ActiveState=inactive") {
				t.Errorf("unit %s after delete: %s", unit, got)
			}
			if _, err := os.Stat("/sys/fs/cgroup" + cg); !os.IsNotExist(err) {
				t.Errorf("cgroup %s after delete: %v", cg, err)
			}
		})
	}
}
