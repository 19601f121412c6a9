// Package benchutil holds what hull's benchmarks share: running a command, medians,
// removing a temporary tree with mounts in it, and a podman that runs a busybox tree
// on this host without touching its global storage.
package benchutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Start is every benchmark's beginning: it needs root, makes the paths of the
// binaries given absolute (an empty one stays empty), and makes the benchmark's
// temporary directory, hull-bench-NAME-*.
func Start(name string, bins ...*string) (tmp string, err error) {
	if os.Geteuid() != 0 {
		return "", errors.New("needs root")
	}
	for _, p := range bins {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return "", err
			}
		}
	}
	return os.MkdirTemp("", "hull-bench-"+name+"-")
}

// Out runs argv and returns its stdout; the error carries stderr.
func Out(argv ...string) (string, error) { return OutContext(context.Background(), argv...) }

// OutContext is Out killing the command if ctx ends first.
func OutContext(ctx context.Context, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	o, err := cmd.Output()
	if err != nil {
		return string(o), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(o), nil
}

// Pct is the p-th percentile (nearest rank) of sorted values.
func Pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i, 1)-1]
}

// Ms formats d in milliseconds.
func Ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// RemoveAll unmounts whatever is mounted under dir (podman's storage drivers mount
// there), deepest first, and removes dir. Failures are reported on stderr: it runs
// at the end of a benchmark, when there is nothing else to do about them.
func RemoveAll(dir string) {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "cleanup: unmount %s: %v\n", p, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup: %v\n", err)
	}
}

// Podman is podman 4.3 as Debian 12 ships it, made to work on this host and to keep
// out of the host's own podman state:
//
//   - storage (--root, --runroot, --tmpdir) in the benchmark's temporary directory,
//     vfs driver;
//   - a private CONTAINERS_CONF: default_ulimits nofile=20000:20000 and
//     nproc=32768:32768 (podman's default raises nofile to 1048576, above this
//     host's hard limit, and fails), cgroup_manager cgroupfs (no systemd here);
//   - --runtime runc, because crun 1.8 refuses the host's hybrid cgroups;
//   - --rootfs DIR, a busybox tree (the host's /bin/busybox with sh, true and
//     sleep), so that nothing is pulled.
type Podman struct {
	Dir    string   // the benchmark's directory for podman
	Global []string // podman and its global flags
}

// NewPodman makes the rootfs and the configuration under dir (which it creates)
// and sets CONTAINERS_CONF for this process and its children. extraConf is
// appended to containers.conf.
func NewPodman(dir, extraConf string) (*Podman, error) {
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755); err != nil {
		return nil, err
	}
	for _, a := range []string{"true", "sleep", "sh"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "containers.conf")
	text := `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
` + extraConf
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	os.Setenv("CONTAINERS_CONF", conf)
	return &Podman{Dir: dir, Global: []string{"podman", "--root", filepath.Join(dir, "root"),
		"--runroot", filepath.Join(dir, "run"), "--tmpdir", filepath.Join(dir, "tmp"), "--storage-driver", "vfs"}}, nil
}

// Cmd is podman with its global flags and args.
func (p *Podman) Cmd(args ...string) []string { return append(slices.Clone(p.Global), args...) }

// Run is podman run with opts, then the rootfs (--rootfs makes the first argument
// a directory, not an image), then argv.
func (p *Podman) Run(network string, opts []string, argv ...string) []string {
	cmd := p.Cmd("run", "--runtime", "runc", "--network", network, "--rootfs")
	cmd = append(append(cmd, opts...), filepath.Join(p.Dir, "rootfs"))
	return append(cmd, argv...)
}

// Cleanup removes every container of this podman (killing them) and its storage.
func (p *Podman) Cleanup() {
	ids, _ := Out(p.Cmd("ps", "-aq", "--no-trunc")...)
	if _, err := Out(p.Cmd("rm", "-af", "-t", "0")...); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
	}
	// conmon runs `podman container cleanup` (with our --root) when a container
	// ends; one still running would write into the storage being removed.
	for deadline := time.Now().Add(10 * time.Second); len(Procs(p.Dir)) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if ps := Procs(p.Dir); len(ps) > 0 {
		// podman 4.3's rm -af forgets a container left "Stopping" by a killed
		// `podman stop` without ending it: its conmon (first, or it would run
		// the cleanup command) and its processes are killed here, by pid.
		fmt.Fprintln(os.Stderr, "cleanup: killing what podman rm left running:", ps)
		for _, pid := range ps {
			unix.Kill(pid, unix.SIGKILL)
		}
		for _, id := range strings.Fields(ids) {
			cg := "/sys/fs/cgroup/memory/libpod_parent/libpod-" + id
			data, _ := os.ReadFile(cg + "/cgroup.procs")
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					unix.Kill(pid, unix.SIGKILL)
				}
			}
			time.Sleep(100 * time.Millisecond)
			dirs, _ := filepath.Glob("/sys/fs/cgroup/*/libpod_parent/libpod-" + id)
			for _, d := range dirs {
				os.Remove(d)
			}
		}
	}
	RemoveAll(p.Dir)
}

// Procs lists the processes (other than this one) whose command line contains s.
func Procs(s string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		data, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(strings.ReplaceAll(string(data), "\x00", " "), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Idle tells whether the CPUs were at least 90% idle over the next window
// (/proc/stat counts in 10 ms ticks).
func Idle(window time.Duration) bool {
	busy0, total0 := cpuTicks()
	time.Sleep(window)
	busy1, total1 := cpuTicks()
	return total1 > total0 && float64(busy1-busy0) <= 0.1*float64(total1-total0)
}

// cpuTicks reads the busy and total time of all CPUs from /proc/stat.
func cpuTicks() (busy, total uint64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseUint(f, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// SmapsRollup reads /proc/PID/smaps_rollup: field name to KiB.
func SmapsRollup(pid int) (map[string]int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			m[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return m, nil
}
