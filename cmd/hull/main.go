// The Go runtime's container-aware GOMAXPROCS keeps the cgroup's cpu.cfs_* files
// open for the life of the process; in a container's init that would be a host file
// held open inside the container until execve. hull needs no such tuning.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command hull is the container engine a person types. Each command group lives in
// its own file; this one holds the root command and the global flags.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/hullproject/hull/runtime"
	_ "github.com/hullproject/hull/runtime/nsenter"
	"github.com/spf13/cobra"
)

func init() {
	// hull's own runtime starts a container's init by running this binary again
	// (see runtime.Init); that stage must own the main thread from the start.
	runtime.LockInitThread()
}

// exitError ends hull with a given exit code (run's 125/126/127, the container's own).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

type globals struct {
	root  string
	state string
}

func main() {
	if runtime.IsInit() {
		runtime.Init()
		return
	}
	g := &globals{}
	cmd := &cobra.Command{
		Use:           "hull",
		Short:         "a daemonless container engine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defRoot := "/var/lib/hull"
	if v := os.Getenv("HULL_ROOT"); v != "" {
		defRoot = v
	}
	cmd.PersistentFlags().StringVar(&g.root, "root", defRoot, "engine state directory (images, layers, containers) [$HULL_ROOT]")
	cmd.PersistentFlags().StringVar(&g.state, "state", "/run/hull", "runtime state directory")
	addImageCommands(cmd, g)
	addContainerCommands(cmd, g)
	addContainerImageCommands(cmd, g) // images_container.go
	addNetworkCommands(cmd, g)
	addVolumeCommands(cmd, g) // volume.go
	addPodCommands(cmd, g)    // pod.go
	addTopCommands(cmd, g)    // top.go
	if err := cmd.Execute(); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(os.Stderr, "hull:", ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "hull:", err)
		os.Exit(1)
	}
}
