package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/runtime"
	"github.com/spf13/cobra"
)

// The verbs of a container's life after create: start, stop, restart, kill, pause,
// unpause, wait, rm and container prune. Most take many containers and work on
// them at once, as docker's (onEach).

func startCommand(g *globals) *cobra.Command {
	var attach, interactive bool
	var o attachOpts
	c := &cobra.Command{
		Use:   "start [-a] CONTAINER...",
		Short: "start containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			if attach {
				if len(args) != 1 {
					return badUsage(errors.New("-a takes one container"))
				}
				ctr, err := e.Get(args[0])
				if err != nil {
					return err
				}
				return startAttached(e, ctr, streams{interactive && ctr.Config.OpenStdin, true, true}, &o, nil)
			}
			return eachAtOnce(args, func(a string) error {
				_, err := e.Start(a, nil)
				return err
			})
		}),
	}
	c.Flags().BoolVarP(&attach, "attach", "a", false, "attach to the output and return the exit code")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach stdin (with -a)")
	o.add(c.Flags())
	return c
}

func stopCommand(g *globals) *cobra.Command {
	var t int
	c := &cobra.Command{
		Use:   "stop [-t SECONDS] CONTAINER...",
		Short: "stop containers: the stop signal, then SIGKILL after the timeout",
		Args:  cobra.MinimumNArgs(1),
		RunE: onEach(g, func(e *engine.Engine, cmd *cobra.Command, a string) error {
			return e.Stop(a, timeFlag(cmd, &t))
		}),
	}
	c.Flags().IntVarP(&t, "time", "t", 10, "seconds to wait before SIGKILL")
	return c
}

func restartCommand(g *globals) *cobra.Command {
	var t int
	c := &cobra.Command{
		Use:   "restart [-t SECONDS] CONTAINER...",
		Short: "stop and start containers again",
		Args:  cobra.MinimumNArgs(1),
		RunE: onEach(g, func(e *engine.Engine, cmd *cobra.Command, a string) error {
			return e.Restart(a, timeFlag(cmd, &t))
		}),
	}
	c.Flags().IntVarP(&t, "time", "t", 10, "seconds to wait for the stop before SIGKILL")
	return c
}

// timeFlag is t when -t was given, else nil: the container's own stop timeout.
func timeFlag(cmd *cobra.Command, t *int) *int {
	if cmd.Flags().Changed("time") {
		return t
	}
	return nil
}

func killCommand(g *globals) *cobra.Command {
	var signal string
	c := &cobra.Command{
		Use:   "kill [-s SIGNAL] CONTAINER...",
		Short: "send a signal to containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			sig, err := runtime.ParseSignal(signal)
			if err != nil {
				return badUsage(err)
			}
			return eachAtOnce(args, func(a string) error { return e.Kill(a, sig) })
		}),
	}
	c.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send")
	return c
}

func pauseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER...",
		Short: "freeze every process of containers",
		Args:  cobra.MinimumNArgs(1),
		RunE:  onEach(g, func(e *engine.Engine, _ *cobra.Command, a string) error { return e.Pause(a) }),
	}
}

func unpauseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER...",
		Short: "thaw paused containers",
		Args:  cobra.MinimumNArgs(1),
		RunE:  onEach(g, func(e *engine.Engine, _ *cobra.Command, a string) error { return e.Unpause(a) }),
	}
}

func waitCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER...",
		Short: "wait for containers to stop and print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return each(args, func(a string) error {
				code, err := e.Wait(a)
				if err != nil {
					return err
				}
				fmt.Println(code)
				return nil
			})
		}),
	}
}

func rmCommand(g *globals) *cobra.Command {
	var force, volumes bool
	c := &cobra.Command{
		Use:   "rm [-f] [-v] CONTAINER...",
		Short: "remove containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			// The containers' files are deleted after the answer, by a
			// process of their own (engine/trash.go).
			e.DeferRemoval = true
			err := eachAtOnce(args, func(a string) error {
				if volumes {
					return e.RemoveWithVolumes(a, force)
				}
				return e.Remove(a, force)
			})
			if terr := e.EmptyTrashLater(); terr != nil {
				fmt.Fprintln(os.Stderr, "hull:", terr) // a later listing deletes them
			}
			return err
		}),
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "kill a running container first")
	c.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove the container's anonymous volumes")
	return c
}

// containerPruneCommand is `hull container prune`.
func containerPruneCommand(g *globals) *cobra.Command {
	var force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [-f] [--filter K=V]",
		Short: "remove every stopped container",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			var f engine.PruneFilter
			for _, kv := range filters {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "until":
					var err error
					if f.Until, err = parseSince(v); err != nil {
						return badUsage(err)
					}
				case "label":
					f.Label = append(f.Label, v)
				case "label!":
					f.NotLabel = append(f.NotLabel, v)
				default:
					return badUsage(fmt.Errorf("invalid filter %q: want until=, label= or label!=", kv))
				}
			}
			if !force && !confirm("WARNING! This will remove all stopped containers.") {
				return nil
			}
			ids, space, err := e.PruneContainers(f)
			printDeleted("Deleted Containers:", ids)
			fmt.Printf("Total reclaimed space: %s\n", humanBytes(space))
			return err
		}),
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask")
	c.Flags().StringArrayVar(&filters, "filter", nil, "until=, label=, label!=")
	return c
}
