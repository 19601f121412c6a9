package peers_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dockerCLI is the docker client to drive dockerd with: Debian's, which matches its
// dockerd, ahead of any newer one earlier in PATH.
func dockerCLI(t *testing.T) string {
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker"
	}
	p, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("the docker client is not installed")
	}
	return p
}

func TestDocker(t *testing.T) {
	needBinaries(t, "dockerd", "containerd", "containerd-shim-runc-v2")
	cli := dockerCLI(t)
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			dir := workDir(t)
			cgroup := "hullpeers-" + filepath.Base(dir)
			t.Cleanup(func() { removeCgroup(t, cgroup) })
			rtPath := wrapRuntime(t, dir, rt)
			// dockerd reserves the name runc for its own default.
			rtName := "hull"
			if rt.name == "runc" {
				rtName = "runc-ref"
			}
			csock := startContainerd(t, dir)
			if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(dir, "d.sock")
			// dockerd makes its plugin socket directory whatever its exec root.
			cleanupIfNew(t, "/run/docker/plugins", "/run/docker")
			d := startDaemon(t, filepath.Join(dir, "dockerd.log"), "dockerd",
				"--config-file", filepath.Join(dir, "daemon.json"),
				"--data-root", filepath.Join(dir, "docker"),
				"--exec-root", filepath.Join(dir, "de"),
				"--pidfile", filepath.Join(dir, "dockerd.pid"),
				"-H", "unix://"+sock,
				"--containerd", csock,
				"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false",
				"--userland-proxy=false",
				"--storage-driver", "overlay2",
				"--exec-opt", "native.cgroupdriver=cgroupfs",
				"--cgroup-parent", "/"+cgroup,
				"--add-runtime", rtName+"="+rtPath,
			)
			docker := func(args ...string) cmdResult {
				t.Helper()
				return run(t, nil, 60*time.Second, cli, append([]string{"-H", "unix://" + sock}, args...)...)
			}
			mustDocker := func(args ...string) string {
				t.Helper()
				r := docker(args...)
				if r.err != nil {
					t.Fatalf("%s", r)
				}
				return r.out
			}
			if !waitFor(30*time.Second, func() bool { return d.exited() || docker("version").err == nil }) || d.exited() {
				t.Fatalf("dockerd did not come up:\n%s", tail(d.log, 30))
			}
			t.Cleanup(func() {
				if out := docker("ps", "-aq").out; strings.TrimSpace(out) != "" {
					docker(append([]string{"rm", "-f"}, strings.Fields(out)...)...)
				}
			})
			runFlags := []string{"--runtime", rtName, "--network", "none"}

			mustDocker("load", "-i", imageArchive)

			// docker run --rm in the foreground, and its exit code.
			if out := mustDocker(append(append([]string{"run", "--rm"}, runFlags...), imageRef, "echo", "ok")...); strings.TrimSpace(out) != "ok" {
				t.Errorf("docker run printed %q, want ok", out)
			}
			if r := docker(append(append([]string{"run", "--rm"}, runFlags...), imageRef, "sh", "-c", "exit 3")...); exitStatus(r.err) != 3 {
				t.Errorf("docker run of exit 3: %s", r)
			}

			// docker run -d, exec, stop, rm.
			mustDocker(append(append([]string{"run", "-d", "--name", "c1"}, runFlags...), imageRef, "sleep", "1000")...)
			if out := mustDocker("exec", "c1", "sh", "-c", "echo hi from $$"); !strings.HasPrefix(out, "hi from ") {
				t.Errorf("docker exec printed %q", out)
			}
			if r := docker("exec", "c1", "sh", "-c", "exit 5"); exitStatus(r.err) != 5 {
				t.Errorf("docker exec of exit 5: %s", r)
			}
			if out := mustDocker("top", "c1"); !strings.Contains(out, "sleep") {
				t.Errorf("docker top shows no sleep:\n%s", out)
			}
			mustDocker("stop", "--time", "1", "c1")
			if out := mustDocker("inspect", "--format", "{{.State.Status}}", "c1"); strings.TrimSpace(out) != "exited" {
				t.Errorf("status after stop %q, want exited", out)
			}
			mustDocker("rm", "c1")

			// docker run -t from a terminal.
			args := append(append([]string{"-H", "unix://" + sock, "run", "--rm", "-t"}, runFlags...), imageRef, "sh", "-c", "test -t 0 && test -t 1 && echo tty-ok; tty")
			out, err := runOnPty(t, nil, cli, args...)
			if err != nil || !strings.Contains(out, "tty-ok") || !strings.Contains(out, "/dev/pts/0") {
				t.Errorf("docker run -t: %v\n%s", err, out)
			}
		})
	}
}
