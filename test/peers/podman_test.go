package peers_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/runtime/console"
)

// podman is one test's podman: private storage, run and tmp directories and
// configuration, and one OCI runtime.
type podman struct {
	t      *testing.T
	env    []string
	global []string // flags before the command
	cgroup string   // the cgroup parent of its containers (and conmon's)
}

func newPodman(t *testing.T, rt ociRuntime) *podman {
	t.Helper()
	dir := workDir(t)
	cgroup := "hullpeers-" + filepath.Base(dir)
	t.Cleanup(func() { removeCgroup(t, cgroup) })
	rtPath := wrapRuntime(t, dir, rt)
	// root lacks CAP_SYS_RESOURCE's headroom on some machines (a hard nofile of
	// 20000), and podman's default rlimits (1048576) would then fail in any runtime.
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
tmp_dir = %[1]q
volume_path = %[2]q
[network]
network_config_dir = %[3]q
`, filepath.Join(dir, "tmp"), filepath.Join(dir, "volumes"), filepath.Join(dir, "net"))
	storage := fmt.Sprintf(`[storage]
driver = "overlay"
graphroot = %q
runroot = %q
`, filepath.Join(dir, "storage"), filepath.Join(dir, "run"))
	for name, data := range map[string]string{"containers.conf": conf, "storage.conf": storage} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// File locks (under tmp_dir) rather than the host-wide /dev/shm/libpod_lock;
	// the image copy's blob-info cache has no setting and goes to
	// /var/lib/containers, which is removed again when the test made it.
	cleanupIfNew(t, "/var/lib/containers/cache/blob-info-cache-v1.boltdb", "/var/lib/containers/cache", "/var/lib/containers")
	// Podman passes a runtime no --root as root: runc's and hullrt's state goes to
	// their defaults, /run/runc and /run/hullrt, left empty when the test is done.
	cleanupIfNew(t, "/run/"+rt.name)
	p := &podman{
		t: t,
		env: []string{
			"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
			"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
		},
		global: []string{
			"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
			"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs",
			"--runtime", rtPath,
		},
		cgroup: "/" + cgroup,
	}
	t.Cleanup(func() {
		// Whatever a failed test left: containers are removed (unmounting their
		// rootfs), then the storage is reset (unmounting the driver's home).
		p.run("rm", "--all", "--force", "--time", "0")
		p.run("system", "reset", "--force")
	})
	return p
}

func (p *podman) args(args []string) []string {
	return append(append([]string{}, p.global...), args...)
}

func (p *podman) run(args ...string) cmdResult {
	p.t.Helper()
	return run(p.t, p.env, 60*time.Second, "podman", p.args(args)...)
}

func (p *podman) must(args ...string) string {
	p.t.Helper()
	return must(p.t, p.env, 60*time.Second, "podman", p.args(args)...)
}

// runFlags are the flags of every podman run: no network (no CNI or netavark
// setup to undo), and this test's cgroup parent.
func (p *podman) runFlags() []string {
	return []string{"--network", "none", "--cgroup-parent", p.cgroup}
}

func TestPodman(t *testing.T) {
	needBinaries(t, "podman", "conmon")
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			p := newPodman(t, rt)
			p.must("load", "-i", imageArchive)

			// podman run --rm, in the foreground: conmon, create, start, the exit code.
			{
				args := append(append([]string{"run", "--rm"}, p.runFlags()...), imageRef, "echo", "ok")
				if out := p.must(args...); strings.TrimSpace(out) != "ok" {
					t.Errorf("podman run printed %q, want ok", out)
				}
				args = append(append([]string{"run", "--rm"}, p.runFlags()...), imageRef, "sh", "-c", "exit 3")
				if r := p.run(args...); exitStatus(r.err) != 3 {
					t.Errorf("podman run of exit 3: %s", r)
				}
			}

			// podman run -d, exec, stop, rm.
			{
				args := append(append([]string{"run", "-d", "--name", "c1"}, p.runFlags()...), imageRef, "sleep", "1000")
				p.must(args...)
				if out := p.must("inspect", "--format", "{{.State.Status}}", "c1"); strings.TrimSpace(out) != "running" {
					t.Errorf("status %q, want running", out)
				}
				if out := p.must("exec", "c1", "sh", "-c", "echo hi from $$"); !strings.HasPrefix(out, "hi from ") {
					t.Errorf("podman exec printed %q", out)
				}
				if r := p.run("exec", "c1", "sh", "-c", "exit 5"); exitStatus(r.err) != 5 {
					t.Errorf("podman exec of exit 5: %s", r)
				}
				if out := p.must("top", "c1"); !strings.Contains(out, "sleep") {
					t.Errorf("podman top shows no sleep:\n%s", out)
				}
				p.must("stop", "--time", "2", "c1")
				if out := p.must("inspect", "--format", "{{.State.Status}}", "c1"); strings.TrimSpace(out) != "exited" {
					t.Errorf("status after stop %q, want exited", out)
				}
				p.must("rm", "c1")
			}

			// podman run -t from a terminal: a console socket and a pty.
			{
				args := append(append([]string{"run", "--rm", "-t"}, p.runFlags()...), imageRef, "sh", "-c", "test -t 0 && test -t 1 && echo tty-ok; tty")
				out, err := runOnPty(t, p.env, "podman", p.args(args)...)
				if err != nil || !strings.Contains(out, "tty-ok") || !strings.Contains(out, "/dev/pts/0") {
					t.Errorf("podman run -t: %v\n%s", err, out)
				}
			}
		})
	}
}

// runOnPty runs a command whose stdio is the slave of a new pty, as from a terminal,
// and returns what it wrote to the terminal.
func runOnPty(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	master, slave, err := console.OpenPty("/dev/ptmx")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		slave.Close()
		t.Fatal(err)
	}
	slave.Close()
	outc := make(chan string, 1)
	go func() {
		// Reading the master ends with EIO once no one holds the slave.
		data, _ := io.ReadAll(master)
		outc <- string(data)
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		err = fmt.Errorf("timed out: %v", <-done)
	}
	select {
	case out := <-outc:
		return out, err
	case <-time.After(5 * time.Second):
		master.Close()
		return <-outc, err
	}
}

// exitStatus is a command's exit code from its error (0 for nil, -1 if it did not
// exit).
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
