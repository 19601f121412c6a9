package main

// Parts "exec" and "scale" (see the doc comment in main.go).

import (
	"context"
	"flag"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/hullproject/hull/bench/internal/benchutil"
)

var (
	scaleCount = flag.Int("scale", 500, "containers each engine runs in part scale")
	baseHull   = flag.String("base", "", "parts exec and scale: a second hull binary (e.g. the last commit's) run alongside on the same root")
)

// timing is a command's measured runs.
type timing struct{ wall, cpu []time.Duration }

// timed is one engine's commands for parts exec and scale, by label.
type timed map[string]*timing

// readers are the engines that run the measured commands: hull, podman and, with
// -base, "hull-base", the other hull binary on hull's root and state (it only
// reads what hull made, and execs).
func (b *bench) readers(engines []*engine) []*engine {
	if *baseHull == "" {
		return engines
	}
	base := &engine{name: "hull-base", cmd: func(args ...string) []string {
		return append([]string{*baseHull, "--root", b.root, "--state", b.state}, args...)
	}}
	return append(slices.Clone(engines), base)
}

// startMany runs each name as `run -d --network none --name NAME ... sleep
// 100000` in engine e, at most 25 at a time, and waits until `ps -q` lists want
// running containers.
func (b *bench) startMany(ctx context.Context, e *engine, names []string, want int) error {
	if err := b.runDetached(ctx, e, names, 25, "/bin/sleep", "100000"); err != nil {
		return err
	}
	for t0 := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		ids, err := benchutil.OutContext(ctx, e.cmd("ps", "-q")...)
		if err != nil {
			return err
		}
		if len(strings.Fields(ids)) == want {
			return nil
		}
		if time.Since(t0) > 5*time.Minute {
			return fmt.Errorf("%s: %d of %d containers running", e.name, len(strings.Fields(ids)), want)
		}
	}
}

// removeMany removes the named containers of every engine, killing them.
func (b *bench) removeMany(engines []*engine, names []string) {
	for _, e := range engines {
		argv := e.cmd(append([]string{"rm", "-f"}, names...)...)
		if e.name == "podman" {
			argv = e.cmd(append([]string{"rm", "-f", "-t", "0"}, names...)...)
		}
		if _, err := benchutil.Out(argv...); err != nil {
			fmt.Println("cleanup:", err)
		}
	}
}

// alternate runs, for n measured rounds after warm unmeasured ones, every label's
// command (argv) with each engine, the engines' order changing every round; after
// each command it waits, unmeasured, until the benchmark's processes are back to
// as many as before the first (podman's exec leaves its conmon for a moment),
// and, with waitIdle, for the CPUs to be idle.
func (b *bench) alternate(ctx context.Context, engines []*engine, labels []string, n, warm int, argv func(e *engine, label string) []string) (map[string]timed, error) {
	res := map[string]timed{}
	for _, e := range engines {
		res[e.name] = timed{}
		for _, l := range labels {
			res[e.name][l] = &timing{}
		}
	}
	baseline := len(benchutil.Procs(b.tmp))
	for i := 0; i < warm+n; i++ {
		for _, l := range labels {
			for k := range engines {
				e := engines[(i+k)%len(engines)]
				a := argv(e, l)
				cmd := exec.CommandContext(ctx, a[0], a[1:]...)
				var stderr strings.Builder
				cmd.Stderr = &stderr // stdout: /dev/null
				t0 := time.Now()
				if err := cmd.Run(); err != nil {
					return nil, fmt.Errorf("%s: %w: %s", strings.Join(a, " "), err, stderr.String())
				}
				wall := time.Since(t0)
				if i >= warm {
					t := res[e.name][l]
					t.wall = append(t.wall, wall)
					t.cpu = append(t.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
				}
				for t1 := time.Now(); time.Since(t1) < 5*time.Second && len(benchutil.Procs(b.tmp)) > baseline; {
					time.Sleep(time.Millisecond)
				}
				for t1 := time.Now(); b.waitIdle && time.Since(t1) < time.Second && !benchutil.Idle(50*time.Millisecond); {
				}
			}
		}
	}
	return res, nil
}

// reportTimed prints a table per label and the ratios of the medians to podman's.
func reportTimed(engines []*engine, labels []string, res map[string]timed, n, warm int) {
	for _, l := range labels {
		fmt.Printf("\n%s: %d runs each (after %d unmeasured rounds), alternating\n\n", l, n, warm)
		fmt.Printf("| %-9s | %10s | %10s | %10s | %10s |\n|-----------|------------|------------|------------|------------|\n", "tool", "wall p50", "wall p90", "wall min", "cpu p50")
		med := map[string][2]time.Duration{}
		for _, e := range engines {
			t := res[e.name][l]
			slices.Sort(t.wall)
			slices.Sort(t.cpu)
			med[e.name] = [2]time.Duration{benchutil.Pct(t.wall, 50), benchutil.Pct(t.cpu, 50)}
			fmt.Printf("| %-9s | %10s | %10s | %10s | %10s |\n", e.name, benchutil.Ms(benchutil.Pct(t.wall, 50)),
				benchutil.Ms(benchutil.Pct(t.wall, 90)), benchutil.Ms(t.wall[0]), benchutil.Ms(benchutil.Pct(t.cpu, 50)))
		}
		fmt.Println()
		for _, peer := range []string{"podman", "hull-base"} {
			if p, ok := med[peer]; ok {
				h := med["hull"]
				fmt.Printf("hull/%-10s wall %.3f   cpu %.3f\n", peer+":", float64(h[0])/float64(p[0]), float64(h[1])/float64(p[1]))
			}
		}
	}
	fmt.Println()
}

// execPart is part exec: one running container in each engine, and `exec NAME
// /bin/true` in it.
func (b *bench) execPart(ctx context.Context, engines []*engine, n int) error {
	names := []string{"bench-exec"}
	defer b.removeMany(engines, names)
	for _, e := range engines {
		if err := b.startMany(ctx, e, names, 1); err != nil {
			return err
		}
	}
	const warm, label = 2, "exec CONTAINER /bin/true"
	readers := b.readers(engines)
	res, err := b.alternate(ctx, readers, []string{label}, n, warm, func(e *engine, _ string) []string {
		return e.cmd("exec", names[0], "/bin/true")
	})
	if err != nil {
		return err
	}
	reportTimed(readers, []string{label}, res, n, warm)
	return nil
}

// scalePart is part scale: -scale running containers in each engine, then ps,
// ps -a, inspect of one (by name) and inspect of all (by name, one command).
func (b *bench) scalePart(ctx context.Context, engines []*engine, n int) error {
	names := make([]string, *scaleCount)
	for i := range names {
		names[i] = fmt.Sprintf("s%d", i)
	}
	defer b.removeMany(engines, names)
	for _, e := range engines {
		t0 := time.Now()
		if err := b.startMany(ctx, e, names, len(names)); err != nil {
			return err
		}
		fmt.Printf("%s: %d containers running after %.1fs\n", e.name, len(names), time.Since(t0).Seconds())
	}
	readers := b.readers(engines)
	// Every engine lists and inspects all of them (so that no one's output is
	// cut short by an error it hides).
	for _, e := range readers {
		for _, ps := range []string{"ps", "ps -a"} {
			out, err := benchutil.OutContext(ctx, e.cmd(strings.Fields(ps)...)...)
			if err != nil {
				return err
			}
			if lines := len(strings.Split(strings.TrimSpace(out), "\n")); lines != len(names)+1 {
				return fmt.Errorf("%s %s: %d lines for %d containers", e.name, ps, lines, len(names))
			}
		}
		out, err := benchutil.OutContext(ctx, e.cmd(append([]string{"inspect", "--format", "{{.State.Status}}"}, names...)...)...)
		if err != nil {
			return err
		}
		if got := strings.Count(out, "running\n"); got != len(names) {
			return fmt.Errorf("%s inspect: %d of %d running", e.name, got, len(names))
		}
	}
	labels := []string{"ps", "ps -a", "inspect NAME", fmt.Sprintf("inspect NAME x%d", len(names))}
	const warm = 1
	res, err := b.alternate(ctx, readers, labels, n, warm, func(e *engine, label string) []string {
		switch label {
		case "inspect NAME":
			return e.cmd("inspect", names[len(names)/2])
		case labels[3]:
			return e.cmd(append([]string{"inspect"}, names...)...)
		}
		return e.cmd(strings.Fields(label)...)
	})
	if err != nil {
		return err
	}
	fmt.Printf("\n%d running containers in each engine", len(names))
	reportTimed(readers, labels, res, n, warm)
	return nil
}
