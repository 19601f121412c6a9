// Command hull is the container engine a person types. Each command group lives in
// its own file; this one holds the root command and the global flags.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

type globals struct {
	root  string
	state string
}

func main() {
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
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hull:", err)
		os.Exit(1)
	}
}
