package main

import (
	"os"
	goruntime "runtime"
	"runtime/debug"
	"time"

	"github.com/hullproject/hull/monitor"
	"github.com/hullproject/hull/monitor/resident"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// `hull monitor ID`: a container's monitor, started by run and start. main runs it
// without cobra when its command line is exactly the engine's; the hidden command
// takes any other form.

func monitorCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:    "monitor CONTAINER-ID",
		Short:  "supervise a container (started by run and start)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			attached, _ := cmd.Flags().GetBool("attached")
			return runMonitor(g, args[0], attached)
		},
	}
	c.Flags().Bool("attached", false, "the starting command stays attached (a foreground start)")
	return c
}

// runMonitor is `hull monitor`: the process that stays beside a running container,
// one per container, so its idle memory is what a host full of containers pays
// (main runs it without building cobra's command tree, which would stay on its heap).
func runMonitor(g *globals, id string, attached bool) error {
	// One P: the monitor waits on a few descriptors, and every P keeps a cache of
	// heap spans and wants a thread.
	goruntime.GOMAXPROCS(1)
	// Creating and starting the container (spec, seccomp filter, mounts) leaves a
	// few MB of garbage that the first GC, due at a 4 MB heap, would leave for a
	// long time in an idle monitor: collect it and give it back to the kernel once
	// the container runs (under load the start may take a few seconds). From then
	// on the heap is about 1.5 MB, and log lines would let garbage grow to 4 MB
	// before each GC: a GC at +25 % keeps a chatty container's monitor ~2 MB
	// smaller, for a GC every few hundred KB of output.
	go func() {
		for _, d := range []time.Duration{time.Second, 10 * time.Second} {
			time.Sleep(d)
			debug.SetGCPercent(25)
			debug.FreeOSMemory()
		}
	}()
	e, err := openEngine(g)
	if err != nil {
		return err
	}
	if err := e.RunMonitor(id, os.NewFile(3, "sync"), attached); err != nil {
		return &exitError{code: 1}
	}
	return nil
}

// resumeMonitor is `hull monitor --resume ID`: the monitor taking its container
// back from hull-monitor, its resident form, which exec'd it with the container's
// state in the environment (monitor/resident).
func resumeMonitor(g *globals) error {
	goruntime.GOMAXPROCS(1)
	// The resident ran without transparent huge pages (engine.handOver); a
	// container this monitor starts again must not inherit that.
	unix.Prctl(unix.PR_SET_THP_DISABLE, 0, 0, 0, 0)
	s, err := resident.Load()
	if err != nil {
		return err
	}
	e, err := openEngine(g)
	if err != nil {
		return err
	}
	if err := monitor.BecomeSubreaper(); err != nil {
		return err
	}
	if err := e.ResumeMonitor(s); err != nil {
		return &exitError{code: 1}
	}
	return nil
}
