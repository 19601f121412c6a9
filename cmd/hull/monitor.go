package main

import (
	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/monitor"
)

// A container's monitor is this binary run again with the command line of
// monitor.Args; main hands such a process to monitor.Main before it builds the
// command tree, and nothing else of the monitor is here.

// openMonitorEngine opens the engine for a container's monitor (monitor.Main).
func openMonitorEngine(root, state string) (monitor.Engine, error) {
	e, err := openEngine(&globals{root: root, state: state})
	if err != nil {
		return nil, err
	}
	// `--explain` passes the monitor its trace (engine.spawnMonitor).
	e.Trace = trace.Inherit("monitor")
	return e.ForMonitor(), nil
}
