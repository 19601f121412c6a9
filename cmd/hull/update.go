package main

import (
	"fmt"
	"os"

	"github.com/hullproject/hull/engine"
	"github.com/spf13/cobra"
)

// `hull update` and `hull rename`: changes to a container's record.

func updateCommand(g *globals) *cobra.Command {
	var memory string
	var cpus float64
	var uo engine.UpdateOptions
	var lf limitFlags
	c := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER...",
		Short: "change containers' limits, at once and for later starts",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine125(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			o := uo
			var err error
			if o.Memory, err = parseMemory("--memory", memory, false); err != nil {
				return fail125(err)
			}
			if o.MemorySwap, err = parseMemory("--memory-swap", lf.memorySwap, true); err != nil {
				return fail125(err)
			}
			o.NanoCPUs, o.CPUShares, o.CpusetCpus = int64(cpus*1e9), lf.cpuShares, lf.cpusetCpus
			if o.CgroupLimits, err = lf.cgroupLimits(); err != nil {
				return fail125(err)
			}
			o.Warn = func(note string) { fmt.Fprintln(os.Stderr, "hull: "+note) }
			if cmd.Flags().Changed("pids-limit") && o.PidsLimit == 0 {
				o.PidsLimit = -1 // docker: 0 or -1 is unlimited
			}
			// Refused once, before any container; Update judges the rest.
			if err := o.Validate(); err != nil {
				return fail125(err)
			}
			if err := eachAtOnce(args, func(a string) error { return e.Update(a, o) }); err != nil {
				return &exitError{code: 1}
			}
			return nil
		}),
	}
	fl := c.Flags()
	fl.StringVarP(&memory, "memory", "m", "", "memory limit (e.g. 64m)")
	fl.Float64Var(&cpus, "cpus", 0, "number of CPUs")
	fl.Int64Var(&uo.PidsLimit, "pids-limit", 0, "process limit (-1 for none)")
	fl.StringVar(&uo.Restart, "restart", "", "restart policy: no, on-failure[:N], always or unless-stopped")
	lf.add(fl)
	return c
}

func renameCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: withEngine125(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return fail125(e.Rename(args[0], args[1]))
		}),
	}
}
