package main

import (
	"fmt"
	"os"

	"github.com/hullproject/hull/engine"
	"github.com/spf13/cobra"
)

// What the commands share: the engine opened from the global flags, and docker's
// way of applying a verb to each of a command's arguments.

func openEngine(g *globals) (*engine.Engine, error) {
	e, err := engine.New(g.root, g.state)
	if err == nil {
		e.NetDefaults = netDefaults()
		e.Init = os.Getenv("HULL_INIT")
	}
	return e, err
}

// netDefaults reads the default network's shape for a fresh engine root from the
// environment: HULL_DEFAULT_SUBNET and HULL_DEFAULT_BRIDGE (used when the default
// network is first written; after that its record wins). The tests give each of
// their roots a subnet of its own this way.
func netDefaults() engine.NetDefaults {
	return engine.NetDefaults{Subnet: os.Getenv("HULL_DEFAULT_SUBNET"), Bridge: os.Getenv("HULL_DEFAULT_BRIDGE")}
}

// engineFunc is a command's body: its engine, the command and its arguments.
type engineFunc func(e *engine.Engine, cmd *cobra.Command, args []string) error

// withEngine makes a command's RunE: it opens the engine from the global flags
// (failing to is the command's error) and runs fn with it.
func withEngine(g *globals, fn engineFunc) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := openEngine(g)
		if err != nil {
			return err
		}
		return fn(e, cmd, args)
	}
}

// withEngine125 is withEngine for the commands whose own failures exit 125, as
// docker's: failing to open the engine does too.
func withEngine125(g *globals, fn engineFunc) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := openEngine(g)
		if err != nil {
			return fail125(err)
		}
		return fn(e, cmd, args)
	}
}

// onEach makes the RunE of a command that applies verb to each of its arguments
// at once, as docker's rm, stop, kill, start... (eachAtOnce).
func onEach(g *globals, verb func(e *engine.Engine, cmd *cobra.Command, arg string) error) func(*cobra.Command, []string) error {
	return withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
		return eachAtOnce(args, func(a string) error { return verb(e, cmd, a) })
	})
}

// fail125 marks an error as hull's own (exit 125), as docker's for these commands.
func fail125(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{125, err}
}

// each runs fn on every argument, reports each failure and fails if any did.
func each(args []string, fn func(string) error) error {
	failed := false
	for _, a := range args {
		if err := fn(a); err != nil {
			fmt.Fprintln(os.Stderr, "hull:", err)
			failed = true
		}
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

// eachAtOnce runs fn on the arguments concurrently, up to 50 at a time as docker
// does: a stop waits out its container's grace period, and fifty of them in turn
// would take fifty grace periods. Like docker it prints, in the arguments' order,
// each argument that succeeded or the error of each that failed, and fails if any
// did.
func eachAtOnce(args []string, fn func(string) error) error {
	done := make([]chan error, len(args))
	for i := range done {
		done[i] = make(chan error, 1)
	}
	go func() {
		sem := make(chan struct{}, 50)
		for i, a := range args {
			sem <- struct{}{}
			go func() {
				done[i] <- fn(a)
				<-sem
			}()
		}
	}()
	failed := false
	for i, a := range args {
		if err := <-done[i]; err != nil {
			fmt.Fprintln(os.Stderr, "hull:", err)
			failed = true
		} else {
			fmt.Println(a)
		}
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}
