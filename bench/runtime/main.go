// Command runtime benchmarks container start: `hullrt run` beside `runc run` and
// `crun run` of /bin/true on one busybox bundle.
//
// Usage, as root from the repository root after `make build`:
//
//	go run ./bench/runtime [-n 200] [-warmup 10] [-hullrt bin/hullrt] [-base /path/to/other/hullrt] [-state-tmpfs]
//
// The bundle is made once in a temporary directory: rootfs with /bin/busybox and one
// symlink per applet, config.json from `hullrt spec` with process.terminal false and
// args ["/bin/true"]. ociVersion is set to "1.0.2-dev" because crun 1.8 refuses any
// other major.minor than 1.0; the three runtimes then read the same file. Each runtime
// has its own --root state directory and every run a new container id. The state
// directories are in the temporary directory (/tmp: ext4 on the test machine, where
// each container's files cost an inode allocation that the host's churn makes
// dear); with -state-tmpfs they are on a tmpfs mounted there, as /run, the
// runtimes' default root, is.
//
// crun refuses this host's hybrid cgroups (cgroup2 mounted at /sys/fs/cgroup/unified)
// unless that mount is gone, so it runs as
//
//	unshare --mount --propagation slave sh -c 'umount /sys/fs/cgroup/unified && exec crun "$@"' crun ...
//
// and the same wrapper around /bin/true is timed as its own row ("wrapper"); the
// report gives crun both raw and minus the wrapper's median.
//
// Each iteration runs every tool once, in an order rotated from one iteration to the
// next, so that background load falls on all of them alike. For every run it records:
//
//   - wall: from fork to the return of wait4, in the benchmark process;
//   - cpu: user+sys of the whole process tree, as the growth of this process's
//     RUSAGE_CHILDREN (the benchmark is a child subreaper, so processes that the CLI
//     orphans are reaped and counted here too);
//   - maxrss, in a second series of -rss-runs runs per tool under GNU time
//     (/usr/bin/time -f %M): ru_maxrss that wait4 returns for the CLI process. The
//     kernel reports the largest of the process itself (over all its execs) and every
//     descendant it reaped, so it covers the container's init stage (runc init,
//     hullrt init), which the CLI waits for. GNU time forks the tool itself because a
//     child of this Go process would start with this process's high-water mark. For
//     crun the figure is that of the unshare/sh/crun chain (one process, three execs).
//
// The report gives medians and p90 of wall time, medians of cpu and maxrss, and the
// ratios of the medians hullrt/runc and hullrt/crun. Absolute times on a shared
// machine are noise; the ratios are the result.
//
// Everything is cleaned up at the end: leftover containers are deleted with each
// runtime, leftover cgroups named after the benchmark's ids removed, the temporary
// directory removed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/bench/internal/benchutil"
	"golang.org/x/sys/unix"
)

type tool struct {
	name string
	argv func(root, id string) []string // nil root: no state (the wrapper)
	root string
	runs []sample
	rss  []int64 // KiB, peak resident memory as GNU time reports it
}

type sample struct {
	wall   time.Duration
	cpu    time.Duration
	maxrss int64 // KiB
}

const wrap = `umount /sys/fs/cgroup/unified && exec "$0" "$@"`

func main() {
	n := flag.Int("n", 200, "measured runs of each tool")
	warm := flag.Int("warmup", 10, "unmeasured runs of each tool first")
	hullrt := flag.String("hullrt", "bin/hullrt", "hullrt binary")
	base := flag.String("base", "", "a second hullrt binary to run alongside (e.g. a baseline build)")
	runc := flag.String("runc", "runc", "runc binary")
	crun := flag.String("crun", "crun", "crun binary")
	busybox := flag.String("busybox", "/bin/busybox", "static busybox for the rootfs")
	only := flag.String("only", "", "comma-separated tool names to run (default all)")
	rssRuns := flag.Int("rss-runs", 20, "runs of each tool under GNU time, for peak memory")
	stateTmpfs := flag.Bool("state-tmpfs", false, "keep the runtimes' state directories on a tmpfs (as /run, their default, is) rather than in the temporary directory's file system")
	flag.Parse()
	tmp, err := benchutil.Start("runtime", hullrt, base)
	check(err)
	// Orphans of the runtimes (if any) come to us, and their CPU time is counted.
	check(unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))

	bundle := filepath.Join(tmp, "bundle")
	check(makeBundle(bundle, *hullrt, *busybox))

	prefix := fmt.Sprintf("hbench%d", os.Getpid())
	ociRun := func(bin string) func(root, id string) []string {
		return func(root, id string) []string { return []string{bin, "--root", root, "run", "--bundle", bundle, id} }
	}
	unshare, err := exec.LookPath("unshare")
	check(err)
	crunPath, err := exec.LookPath(*crun)
	check(err)
	runcPath, err := exec.LookPath(*runc)
	check(err)
	tools := []*tool{
		{name: "hullrt", argv: ociRun(*hullrt)},
		{name: "runc", argv: ociRun(runcPath)},
		{name: "crun", argv: func(root, id string) []string {
			return []string{unshare, "--mount", "--propagation", "slave", "sh", "-c", wrap, crunPath, "--root", root, "run", "--bundle", bundle, id}
		}},
		{name: "wrapper", argv: func(root, id string) []string {
			return []string{unshare, "--mount", "--propagation", "slave", "sh", "-c", wrap, "/bin/true"}
		}},
	}
	if *base != "" {
		tools = append(tools, &tool{name: "hullrt-base", argv: ociRun(*base)})
	}
	if *only != "" {
		want := strings.Split(*only, ",")
		tools = slices.DeleteFunc(tools, func(t *tool) bool { return !slices.Contains(want, t.name) })
	}
	stateDir := tmp
	if *stateTmpfs {
		stateDir = filepath.Join(tmp, "state")
		check(os.Mkdir(stateDir, 0o711))
		check(unix.Mount("tmpfs", stateDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0711"))
	}
	for _, t := range tools {
		t.root = filepath.Join(stateDir, "state-"+t.name)
	}
	defer cleanup(tmp, stateDir, prefix, tools, map[string]string{"hullrt": *hullrt, "hullrt-base": *base, "runc": runcPath})

	stderr, err := os.Create(filepath.Join(tmp, "stderr"))
	check(err)
	defer stderr.Close()
	seq := 0
	for i := 0; i < *warm+*n; i++ {
		for k := range tools {
			t := tools[(i+k)%len(tools)]
			seq++
			s, err := runOnce(t.argv(t.root, fmt.Sprintf("%s-%d", prefix, seq)), stderr)
			if err != nil {
				out, _ := os.ReadFile(stderr.Name())
				fmt.Fprintf(os.Stderr, "%s: %v\n%s", t.name, err, out)
				return
			}
			if i >= *warm {
				t.runs = append(t.runs, s)
			}
		}
	}
	// Peak memory comes from a second, shorter series under GNU time: a child of this
	// process would start with this process's own high-water mark (ru_maxrss counts
	// the memory a process was forked from), a floor of several MiB that would hide
	// crun's figure. GNU time is small and forks the tool itself.
	for i := 0; i < *rssRuns; i++ {
		for k := range tools {
			t := tools[(i+k)%len(tools)]
			seq++
			argv := append([]string{"/usr/bin/time", "-q", "-f", "%M", "-o", filepath.Join(tmp, "rss")}, t.argv(t.root, fmt.Sprintf("%s-%d", prefix, seq))...)
			if _, err := runOnce(argv, stderr); err != nil {
				out, _ := os.ReadFile(stderr.Name())
				fmt.Fprintf(os.Stderr, "%s: %v\n%s", t.name, err, out)
				return
			}
			data, err := os.ReadFile(filepath.Join(tmp, "rss"))
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", t.name, err)
				return
			}
			kib, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
			t.rss = append(t.rss, kib)
		}
	}
	report(tools, *n)
}

// runOnce runs argv with stdin and stdout on /dev/null and measures it.
func runOnce(argv []string, stderr *os.File) (sample, error) {
	var s sample
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return s, err
	}
	defer null.Close()
	if err := stderr.Truncate(0); err != nil {
		return s, err
	}
	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_CHILDREN, &before)
	t0 := time.Now()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Files: []uintptr{null.Fd(), null.Fd(), stderr.Fd()},
	})
	if err != nil {
		return s, err
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &ru)
		if err != syscall.EINTR {
			break
		}
	}
	s.wall = time.Since(t0)
	if err != nil {
		return s, err
	}
	reapOrphans()
	unix.Getrusage(unix.RUSAGE_CHILDREN, &after)
	s.cpu = tv(after.Utime) + tv(after.Stime) - tv(before.Utime) - tv(before.Stime)
	s.maxrss = ru.Maxrss
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return s, fmt.Errorf("%s: exit status %v", strings.Join(argv, " "), ws)
	}
	return s, nil
}

// reapOrphans waits for processes that were reparented to us; they must not linger.
func reapOrphans() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func tv(t unix.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

func makeBundle(dir, hullrt, busybox string) error {
	bin := filepath.Join(dir, "rootfs", "bin")
	for _, d := range []string{bin, filepath.Join(dir, "rootfs", "etc"), filepath.Join(dir, "rootfs", "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		return err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
				return err
			}
		}
	}
	if out, err := exec.Command(hullrt, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("hullrt spec: %v: %s", err, out)
	}
	cfgPath := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return err
	}
	cfg["ociVersion"] = "1.0.2-dev"
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"/bin/true"}
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(cfgPath, out, 0o644)
}

func report(tools []*tool, n int) {
	med := map[string]sample{}
	fmt.Printf("runs per tool: %d\n\n", n)
	fmt.Printf("| %-11s | %9s | %9s | %9s | %9s | %11s | %11s |\n", "tool", "wall p50", "wall p90", "wall min", "cpu p50", "maxrss p50", "maxrss max")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|\n", dash(13), dash(11), dash(11), dash(11), dash(11), dash(13), dash(13))
	for _, t := range tools {
		walls := pick(t.runs, func(s sample) int64 { return int64(s.wall) })
		cpus := pick(t.runs, func(s sample) int64 { return int64(s.cpu) })
		rss := slices.Sorted(slices.Values(t.rss))
		m := sample{wall: time.Duration(pct(walls, 50)), cpu: time.Duration(pct(cpus, 50)), maxrss: pct(rss, 50)}
		med[t.name] = m
		fmt.Printf("| %-11s | %9s | %9s | %9s | %9s | %7.1f MiB | %7.1f MiB |\n", t.name, ms(m.wall),
			ms(time.Duration(pct(walls, 90))), ms(time.Duration(walls[0])), ms(m.cpu),
			float64(m.maxrss)/1024, float64(rss[len(rss)-1])/1024)
	}
	fmt.Println()
	h, ok := med["hullrt"]
	if !ok {
		return
	}
	ratio := func(label string, a, b sample) {
		fmt.Printf("%-30s wall %.2f   cpu %.2f   maxrss %.2f\n", label, float64(a.wall)/float64(b.wall),
			float64(a.cpu)/float64(b.cpu), float64(a.maxrss)/float64(b.maxrss))
	}
	if r, ok := med["runc"]; ok {
		ratio("hullrt/runc:", h, r)
	}
	if c, ok := med["crun"]; ok {
		ratio("hullrt/crun (raw):", h, c)
		if w, ok := med["wrapper"]; ok {
			net := sample{wall: c.wall - w.wall, cpu: c.cpu - w.cpu, maxrss: c.maxrss}
			fmt.Printf("crun minus wrapper:            wall %s   cpu %s\n", ms(net.wall), ms(net.cpu))
			ratio("hullrt/(crun - wrapper):", h, net)
		}
	}
	if b, ok := med["hullrt-base"]; ok {
		ratio("hullrt/hullrt-base:", h, b)
	}
}

func pick(s []sample, f func(sample) int64) []int64 {
	out := make([]int64, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	slices.Sort(out)
	return out
}

// pct is the p-th percentile (nearest rank) of sorted values.
func pct(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func dash(n int) string { return strings.Repeat("-", n) }

// cleanup deletes whatever a failed or interrupted run left: containers in each
// state root, cgroups named after the benchmark's ids, the temporary directory.
func cleanup(tmp, stateDir, prefix string, tools []*tool, bins map[string]string) {
	for _, t := range tools {
		ents, _ := os.ReadDir(t.root)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), prefix) {
				continue
			}
			var argv []string
			switch t.name {
			case "crun":
				argv = []string{"unshare", "--mount", "--propagation", "slave", "sh", "-c", wrap, "crun", "--root", t.root, "delete", "-f", e.Name()}
			default:
				argv = []string{bins[t.name], "--root", t.root, "delete", "-f", e.Name()}
			}
			exec.Command(argv[0], argv[1:]...).Run()
		}
	}
	reapOrphans()
	// The cgroups live at /<id> in every hierarchy (the spec has no cgroupsPath).
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + prefix + "-*")
	more, _ := filepath.Glob("/sys/fs/cgroup/*/*/" + prefix + "-*")
	for _, d := range append(dirs, more...) {
		if err := os.Remove(d); err != nil {
			fmt.Fprintf(os.Stderr, "cleanup: %v\n", err)
		}
	}
	if stateDir != tmp {
		if err := unix.Unmount(stateDir, unix.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "cleanup: %v\n", err)
		}
	}
	if err := os.RemoveAll(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup: %v\n", err)
	}
}

func check(err error) {
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench/runtime:", err)
	os.Exit(1)
}
