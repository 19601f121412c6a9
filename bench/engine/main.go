// Command engine benchmarks hull's engine beside podman: a container's whole life,
// 50 containers started at once, the same 50 stopped with one command, and the
// memory of the monitor each running container keeps (hull's `hull monitor` or,
// once the container idles, `hull-monitor`; podman's conmon); on request, exec
// into a running container, and ps and inspect with 500 running containers.
//
// Usage, as root from the repository root after `make build`:
//
//	go run ./bench/engine [-hull bin/hull] [-n 30] [-count 50] [-rounds 3] [-only run,many,exec,scale] [-idle=false] [-scale 500] [-base BIN]
//
// hull's busybox image is imported from /bin/busybox into a private root; podman
// runs the same busybox tree with --rootfs, so neither pulls. podman is set up as
// in bench/network (see benchutil.Podman): storage in the temporary directory (vfs),
// a private CONTAINERS_CONF (default_ulimits, cgroup_manager cgroupfs), --runtime
// runc. Both use --network none throughout.
//
// Part "run": -n runs of each, after two unmeasured rounds, the two tools
// alternating (which goes first changes every round); wall time from fork to exit,
// and CPU time (user+sys) of the CLI and every descendant it waited for, which
// leaves out podman's conmon and `podman container cleanup` (double-forked away).
// After each run the benchmark waits, unmeasured, until no process of either engine
// is left (podman's cleanup runs on after its CLI exits), so that no run shares the
// two CPUs with the previous one's leftovers (the report gives how long that was),
// and then, unless -idle=false, until the CPUs are idle (the kernel finishes a
// run's namespaces and cgroups in its workers after its processes are gone):
//
//	hull   --root R --state S run --rm --network none busybox true
//	podman --root R --runroot S --tmpdir T --storage-driver vfs run --runtime runc --network none --rootfs --rm DIR /bin/true
//
// Part "many": -rounds rounds; in each, each tool (order alternating) does, timed
// with the wall clock:
//
//   - start: -count `run -d --network none --name bN-I ... sh -c 'trap "" TERM;
//     sleep 1000'` commands started at once, until all have exited and `ps -q`
//     lists -count running containers;
//   - memory: after -settle seconds idle, every monitor process of the engine
//     (hull: `hull ... monitor ID` or its resident form `hull-monitor ... ID` of
//     this root; podman: conmon of this storage,
//     found by their command lines, and there must be -count of them) is read
//     from /proc/PID/smaps_rollup: Rss, Pss (the fair share: the monitors share
//     their binary's pages) and private pages (Private_Clean + Private_Dirty),
//     summed and divided by -count;
//   - stop: one `stop -t S NAME...` command with every name (S is -stop-time, 10),
//     until it exits. The containers ignore SIGTERM (the trap; as PID 1 of their
//     namespace they would anyway: the kernel drops signals without a handler at a
//     namespace's init), so this takes at least the grace period, then SIGKILL;
//   - rm: one `rm NAME...` command with every name.
//
// Part "exec" (scale.go): one container running `sleep 100000` in each engine
// (`run -d --network none --name bench-exec ...`), then -n rounds after two
// unmeasured ones, the tools alternating, of
//
//	hull   --root R --state S exec bench-exec /bin/true
//	podman ... exec bench-exec /bin/true
//
// timed and waited out as in part run (wall time, CPU of the CLI and its reaped
// children; then, unmeasured, until the engine's processes are back to as many
// as before, podman's exec conmon gone, and the CPUs idle unless -idle=false).
//
// Part "scale" (scale.go): -scale (500) containers running `sleep 100000` in each
// engine, started with `run -d`, 25 at a time: running rather than only created,
// because a running container is the one whose listed status has to be checked
// (a container whose process died must not show as running), and only running ones
// are in `ps`. Once each engine's `ps`, `ps -a` and `inspect` show all of them
// running, -n rounds after one unmeasured, every command of each tool alternating:
//
//	ps                       (the 500, table output)
//	ps -a
//	inspect s250             (one, by name)
//	inspect s0 s1 ... s499   (every one, by name, in one command)
//
// With -base BIN, parts exec and scale run a third tool, "hull-base": that hull
// binary on the same root and state (it only reads and execs), for a change's
// gain against the build before it. The containers are removed at the end of each
// part (rm -f).
//
// The report gives medians and the ratios of the medians hull/podman. Absolute
// times on a shared machine are noise; the ratios are the result.
//
// Everything is removed at the end, also after an error or SIGINT/SIGTERM: hull's
// containers (rm -f), then any monitor of this root still alive (SIGKILL by pid)
// and any cgroup /hull-ID of this run's containers; podman's containers (rm -af,
// see benchutil.Podman.Cleanup), then libpod_parent and libpod_parent/conmon if
// they did not exist before and no other podman has containers there; the
// temporary directory (unmounting what is mounted in it first).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hullproject/hull/bench/internal/benchutil"
	"github.com/hullproject/hull/image"
)

func main() {
	// Interrupted, the commands running are killed (their context ends) and run
	// returns through its deferred cleanup; the cleanup itself is not interrupted.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench/engine:", err)
		os.Exit(1)
	}
}

// engine is one tool: how to run its commands and find its monitors.
type engine struct {
	name     string
	cmd      func(args ...string) []string                // the CLI with its global flags
	run      func(opts []string, argv ...string) []string // run --network none OPTS IMAGE ARGV
	monitors func() []int
	rounds   []round
	single   []time.Duration
	cpu      []time.Duration
	lingered []time.Duration // how long its processes ran on after the CLI exited
}

type round struct {
	start, stop, rm time.Duration
	rss, pss, priv  float64 // KiB per container
}

type bench struct {
	tmp, hull, root, state string
	podman                 *benchutil.Podman
	hadLibpod              bool
	waitIdle               bool // quiesce waits for an idle machine too
	mu                     sync.Mutex
	ids                    []string // hull containers made, for the cleanup
}

func run(ctx context.Context) error {
	n := flag.Int("n", 30, "measured runs of each tool in part run")
	hull := flag.String("hull", "bin/hull", "hull binary")
	count := flag.Int("count", 50, "containers started at once in part many")
	rounds := flag.Int("rounds", 3, "rounds of part many")
	stopTime := flag.Int("stop-time", 10, "stop -t in part many")
	settle := flag.Duration("settle", 5*time.Second, "idle time before reading the monitors' memory")
	waitIdle := flag.Bool("idle", true, "part run: before each run, wait (up to 1 s) until the CPUs are idle")
	only := flag.String("only", "run,many", "parts to run: run, many, exec, scale")
	flag.Parse()
	tmp, err := benchutil.Start("engine", hull)
	if err != nil {
		return err
	}
	b := &bench{tmp: tmp, hull: *hull, root: filepath.Join(tmp, "hull-root"), state: filepath.Join(tmp, "hull-state"), waitIdle: *waitIdle}
	_, err = os.Stat("/sys/fs/cgroup/memory/libpod_parent")
	b.hadLibpod = err == nil
	defer b.cleanup()
	s, err := image.Open(b.root)
	if err != nil {
		return err
	}
	if _, err := image.BusyboxImage(ctx, s, "busybox"); err != nil {
		return err
	}
	if b.podman, err = benchutil.NewPodman(filepath.Join(tmp, "podman"), ""); err != nil {
		return err
	}
	hullE := &engine{name: "hull", cmd: b.hullCmd, monitors: func() []int { return append(b.procs(b.root, "monitor"), b.procs(b.root, "hull-monitor")...) }}
	hullE.run = func(opts []string, argv ...string) []string {
		return append(append(hullE.cmd(append([]string{"run", "--network", "none"}, opts...)...), "busybox"), argv...)
	}
	podmanE := &engine{name: "podman", cmd: b.podman.Cmd,
		run:      func(opts []string, argv ...string) []string { return b.podman.Run("none", opts, argv...) },
		monitors: func() []int { return b.procs(b.podman.Dir, "conmon") },
	}
	engines := []*engine{hullE, podmanE}
	fmt.Printf("load average at start: %s", load())
	if strings.Contains(*only, "run") {
		if err := b.single(ctx, engines, *n); err != nil {
			return err
		}
	}
	if strings.Contains(*only, "many") {
		for r := 0; r < *rounds; r++ {
			for k := range engines {
				e := engines[(r+k)%len(engines)]
				rd, err := b.many(ctx, e, r, *count, *stopTime, *settle)
				if err != nil {
					return fmt.Errorf("%s, round %d: %w", e.name, r+1, err)
				}
				fmt.Printf("round %d %-6s start %6.2fs  stop %6.2fs  rm %6.2fs  monitor rss %6.0f KiB  pss %6.0f KiB  private %6.0f KiB\n",
					r+1, e.name, rd.start.Seconds(), rd.stop.Seconds(), rd.rm.Seconds(), rd.rss, rd.pss, rd.priv)
				e.rounds = append(e.rounds, rd)
			}
		}
		b.reportMany(engines, *count, *stopTime)
	}
	if strings.Contains(*only, "exec") {
		if err := b.execPart(ctx, engines, *n); err != nil {
			return fmt.Errorf("part exec: %w", err)
		}
	}
	if strings.Contains(*only, "scale") {
		if err := b.scalePart(ctx, engines, *n); err != nil {
			return fmt.Errorf("part scale: %w", err)
		}
	}
	fmt.Printf("load average at end: %s", load())
	return nil
}

// single is part run.
func (b *bench) single(ctx context.Context, engines []*engine, n int) error {
	const warm = 2
	for i := 0; i < warm+n; i++ {
		for k := range engines {
			e := engines[(i+k)%len(engines)]
			argv := e.run([]string{"--rm"}, "/bin/true")
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			t0 := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, stderr.String())
			}
			if i >= warm {
				e.single = append(e.single, time.Since(t0))
				e.cpu = append(e.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
			}
			e.lingered = append(e.lingered, b.quiesce())
		}
	}
	fmt.Printf("\nrun --rm --network none busybox true: %d runs each (after %d unmeasured rounds), alternating\n\n", n, warm)
	fmt.Printf("| %-6s | %9s | %9s | %9s | %9s |\n|--------|-----------|-----------|-----------|-----------|\n", "tool", "wall p50", "wall p90", "wall min", "cpu p50")
	for _, e := range engines {
		slices.Sort(e.single)
		slices.Sort(e.cpu)
		fmt.Printf("| %-6s | %9s | %9s | %9s | %9s |\n", e.name, benchutil.Ms(benchutil.Pct(e.single, 50)),
			benchutil.Ms(benchutil.Pct(e.single, 90)), benchutil.Ms(e.single[0]), benchutil.Ms(benchutil.Pct(e.cpu, 50)))
	}
	ratio := func(f func(*engine) []time.Duration) float64 {
		return float64(benchutil.Pct(f(engines[0]), 50)) / float64(benchutil.Pct(f(engines[1]), 50))
	}
	fmt.Printf("\nhull/podman (medians): wall %.3f   cpu %.3f\n", ratio(func(e *engine) []time.Duration { return e.single }),
		ratio(func(e *engine) []time.Duration { return e.cpu }))
	for _, e := range engines {
		slices.Sort(e.lingered)
		fmt.Printf("%s: processes ran on after the CLI exited for %s (median; not measured, waited out)\n", e.name, benchutil.Ms(benchutil.Pct(e.lingered, 50)))
	}
	fmt.Println()
	return nil
}

// quiesce waits, up to 5 s, until no process of this benchmark's engines runs any
// more (podman's `run --rm` exits before conmon and its double-forked `podman
// container cleanup` are done), so the next measured run does not share the CPUs
// with the last one's leftovers; it returns how long that took. Then, not
// counted, it waits (up to 1 s) for the machine to be idle (50 ms at 90% idle): the kernel finishes a
// run's namespaces and cgroups in its workers after the processes are gone, and
// that work is the run's, not the next one's.
func (b *bench) quiesce() time.Duration {
	t0 := time.Now()
	for time.Since(t0) < 5*time.Second && len(benchutil.Procs(b.tmp)) > 0 {
		time.Sleep(time.Millisecond)
	}
	d := time.Since(t0)
	for t1 := time.Now(); b.waitIdle && time.Since(t1) < time.Second && !benchutil.Idle(50*time.Millisecond); {
	}
	return d
}

// runDetached runs `run -d --name NAME CMD...` in e for each of names, at most
// limit at a time (0: all at once), keeps hull's container IDs for the cleanup,
// and returns every failure.
func (b *bench) runDetached(ctx context.Context, e *engine, names []string, limit int, cmd ...string) error {
	if limit <= 0 {
		limit = max(len(names), 1)
	}
	errs := make([]error, len(names))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			id, err := benchutil.OutContext(ctx, e.run([]string{"-d", "--name", name}, cmd...)...)
			errs[i] = err
			if e.name == "hull" && err == nil {
				b.mu.Lock()
				b.ids = append(b.ids, strings.TrimSpace(id))
				b.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// many is one round of part many for one engine.
func (b *bench) many(ctx context.Context, e *engine, r, count, stopTime int, settle time.Duration) (round, error) {
	var rd round
	names := make([]string, count)
	for i := range names {
		names[i] = fmt.Sprintf("b%d-%d", r, i)
	}
	t0 := time.Now()
	if err := b.runDetached(ctx, e, names, 0, "/bin/sh", "-c", `trap "" TERM; sleep 1000`); err != nil {
		return rd, err
	}
	for {
		ids, err := benchutil.OutContext(ctx, e.cmd("ps", "-q")...)
		if err != nil {
			return rd, err
		}
		if len(strings.Fields(ids)) == count {
			break
		}
		if time.Since(t0) > 5*time.Minute {
			return rd, fmt.Errorf("%d of %d containers running", len(strings.Fields(ids)), count)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rd.start = time.Since(t0)

	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return rd, ctx.Err()
	}
	mons := e.monitors()
	if len(mons) != count {
		return rd, fmt.Errorf("%d monitors for %d containers: %v", len(mons), count, mons)
	}
	for _, pid := range mons {
		m, err := benchutil.SmapsRollup(pid)
		if err != nil {
			return rd, err
		}
		rd.rss += float64(m["Rss"]) / float64(count)
		rd.pss += float64(m["Pss"]) / float64(count)
		rd.priv += float64(m["Private_Clean"]+m["Private_Dirty"]) / float64(count)
	}

	t0 = time.Now()
	if _, err := benchutil.OutContext(ctx, e.cmd(append([]string{"stop", "-t", strconv.Itoa(stopTime)}, names...)...)...); err != nil {
		return rd, err
	}
	rd.stop = time.Since(t0)
	if ids, err := benchutil.OutContext(ctx, e.cmd("ps", "-q")...); err != nil || len(strings.Fields(ids)) != 0 {
		return rd, fmt.Errorf("after stop: running %q: %v", ids, err)
	}
	t0 = time.Now()
	if _, err := benchutil.OutContext(ctx, e.cmd(append([]string{"rm"}, names...)...)...); err != nil {
		return rd, err
	}
	rd.rm = time.Since(t0)
	return rd, nil
}

func (b *bench) reportMany(engines []*engine, count, stopTime int) {
	fmt.Printf("\n%d containers at once, %d rounds each, alternating; medians\n\n", count, len(engines[0].rounds))
	fmt.Printf("| %-6s | %10s | %10s | %10s | %14s | %14s | %14s |\n", "tool", "start", fmt.Sprintf("stop -t %d", stopTime), "rm", "monitor RSS", "monitor PSS", "monitor priv.")
	fmt.Printf("|--------|------------|------------|------------|----------------|----------------|----------------|\n")
	med := map[string]round{}
	for _, e := range engines {
		pick := func(f func(round) float64) float64 {
			v := make([]float64, len(e.rounds))
			for i, r := range e.rounds {
				v[i] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		m := round{
			start: time.Duration(pick(func(r round) float64 { return float64(r.start) })),
			stop:  time.Duration(pick(func(r round) float64 { return float64(r.stop) })),
			rm:    time.Duration(pick(func(r round) float64 { return float64(r.rm) })),
			rss:   pick(func(r round) float64 { return r.rss }),
			pss:   pick(func(r round) float64 { return r.pss }),
			priv:  pick(func(r round) float64 { return r.priv }),
		}
		med[e.name] = m
		fmt.Printf("| %-6s | %9.2fs | %9.2fs | %9.2fs | %10.0f KiB | %10.0f KiB | %10.0f KiB |\n", e.name,
			m.start.Seconds(), m.stop.Seconds(), m.rm.Seconds(), m.rss, m.pss, m.priv)
	}
	h, p := med["hull"], med["podman"]
	fmt.Printf("\nhull/podman: start %.2f   stop %.2f   rm %.2f   monitor rss %.2f   pss %.2f   private %.2f\n\n",
		h.start.Seconds()/p.start.Seconds(), h.stop.Seconds()/p.stop.Seconds(), h.rm.Seconds()/p.rm.Seconds(),
		h.rss/p.rss, h.pss/p.pss, h.priv/p.priv)
}

// procs lists the processes whose command line contains dir and either has word as
// an argument or runs a program named word (hull's monitor is hull itself, started
// as `hull --root DIR ... monitor ID`).
func (b *bench) procs(dir, word string) []int {
	var out []int
	for _, pid := range benchutil.Procs(dir) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		argv := strings.Split(string(data), "\x00")
		if slices.Contains(argv, word) || filepath.Base(argv[0]) == word {
			out = append(out, pid)
		}
	}
	return out
}

func load() string {
	data, _ := os.ReadFile("/proc/loadavg")
	return string(data)
}

// cleanup removes everything the benchmark made, reporting what it could not.
func (b *bench) cleanup() {
	warn := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}
	if ids, err := benchutil.Out(b.hullCmd("ps", "-aq", "--no-trunc")...); err == nil && ids != "" {
		_, err := benchutil.Out(b.hullCmd(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)...)
		warn(err)
	} else {
		warn(err)
	}
	// a monitor rm could not end (it should not happen): ours, by pid
	for _, pid := range b.procs(b.root, "monitor") {
		warn(fmt.Errorf("monitor %d still runs: killing it", pid))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, id := range b.ids {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/hull-" + id)
		for _, d := range dirs {
			warn(fmt.Errorf("cgroup %s left: removing it", d))
			warn(os.Remove(d))
		}
	}
	if b.podman != nil {
		b.podman.Cleanup()
	}
	if !b.hadLibpod {
		// podman's cgroupfs parent and its conmon cgroup, made by this run, unless
		// another podman has containers there now (ours are gone with podman rm)
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/libpod_parent")
		for _, top := range dirs {
			if others, _ := filepath.Glob(top + "/libpod-*"); len(others) > 0 {
				continue
			}
			os.Remove(top + "/conmon") // fails if a conmon is in it: then so does the next
			warn(os.Remove(top))
		}
	}
	benchutil.RemoveAll(b.tmp)
}

func (b *bench) hullCmd(args ...string) []string {
	return append([]string{b.hull, "--root", b.root, "--state", b.state}, args...)
}
