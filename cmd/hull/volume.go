package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/volume"
	"github.com/spf13/cobra"
)

// The `hull volume` group: create, ls, inspect, rm, prune. (run's -v, --mount and
// --tmpfs are in run.go.)

func volumeCommand(g *globals) *cobra.Command {
	vol := &cobra.Command{Use: "volume", Short: "manage volumes"}
	vol.AddCommand(volumeCreateCommand(g), volumeLsCommand(g), volumeInspectCommand(g), volumeRmCommand(g), volumePruneCommand(g))
	return vol
}

// withVolumes is withEngine for the volume commands: fn gets the engine's volumes.
func withVolumes(g *globals, fn func(s *volume.Store, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
		s, err := e.Volumes()
		if err != nil {
			return err
		}
		return fn(s, cmd, args)
	})
}

func volumeCreateCommand(g *globals) *cobra.Command {
	var labels, opts []string
	var driver string
	c := &cobra.Command{
		Use:   "create [--label K=V] [-o K=V] [NAME]",
		Short: "create a volume (a random name without NAME)",
		Args:  cobra.MaximumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			o := volume.CreateOptions{Labels: map[string]string{}}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if k == "" {
					return badUsage(fmt.Errorf("--label %q: no key", l))
				}
				o.Labels[k] = v
			}
			if driver != volume.Driver {
				return badUsage(fmt.Errorf("--driver %q: only %q is supported", driver, volume.Driver))
			}
			for _, opt := range opts {
				k, v, ok := strings.Cut(opt, "=")
				if !ok || k == "" {
					return badUsage(fmt.Errorf("--opt %q: want KEY=VALUE", opt))
				}
				if o.Options == nil {
					o.Options = map[string]string{}
				}
				o.Options[k] = v
			}
			if err := volume.ValidateOptions(o.Options); err != nil {
				return badUsage(err)
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			v, err := e.CreateVolume(name, o)
			if err != nil {
				return err
			}
			fmt.Println(v.Name)
			return nil
		}),
	}
	c.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label (KEY=VALUE)")
	c.Flags().StringArrayVarP(&opts, "opt", "o", nil, "a driver option: type=, device=, o= (mount(8)'s)")
	c.Flags().StringVarP(&driver, "driver", "d", volume.Driver, "the volume driver")
	return c
}

func volumeLsCommand(g *globals) *cobra.Command {
	var quiet bool
	var filters []string
	var format string
	c := &cobra.Command{
		Use:     "ls [-q] [--filter K=V] [--format TEMPLATE]",
		Aliases: []string{"list"},
		Short:   "list volumes",
		Args:    cobra.NoArgs,
		RunE: withVolumes(g, func(s *volume.Store, cmd *cobra.Command, args []string) error {
			f, err := volume.ParseFilters(filters)
			if err != nil {
				return badUsage(err)
			}
			list, err := s.List(f)
			if err != nil {
				return err
			}
			l, err := newListing("DRIVER\tVOLUME NAME", format, quiet)
			if err != nil {
				return err
			}
			for _, v := range list {
				if err := l.row(v.Name, v.Info(), v.Driver, v.Name); err != nil {
					return err
				}
			}
			return l.flush()
		}),
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only names")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "name=, label=, label!=, driver=, dangling=true|false")
	c.Flags().StringVar(&format, "format", "", "Go template: .Name .Driver .Mountpoint .Labels .CreatedAt")
	return c
}

func volumeInspectCommand(g *globals) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "inspect [-f TEMPLATE] VOLUME...",
		Short: "show volumes as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: withVolumes(g, func(s *volume.Store, cmd *cobra.Command, args []string) error {
			var out []volume.Info
			for _, a := range args {
				i, err := s.Inspect(a)
				if err != nil {
					return err
				}
				out = append(out, i)
			}
			return printJSONOrTemplate(out, format)
		}),
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Go template")
	return c
}

func volumeRmCommand(g *globals) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:     "rm [-f] VOLUME...",
		Aliases: []string{"remove"},
		Short:   "remove volumes (never one a container uses)",
		Args:    cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return each(args, func(a string) error {
				if err := e.RemoveVolume(a, force); err != nil {
					return err
				}
				fmt.Println(a)
				return nil
			})
		}),
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "no error for a volume that does not exist")
	return c
}

func volumePruneCommand(g *globals) *cobra.Command {
	var all, force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [-a] [-f] [--filter K=V]",
		Short: "remove unused anonymous volumes (with -a, unused named ones too)",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			f, err := volume.ParseFilters(filters)
			if err != nil {
				return badUsage(err)
			}
			if f.Dangling != nil {
				return badUsage(errors.New("prune takes no dangling filter: it only removes unused volumes"))
			}
			f.All = f.All || all
			if !force {
				what := "all anonymous local volumes not used by at least one container"
				if f.All {
					what = "all local volumes not used by at least one container"
				}
				if !confirm("WARNING! This will remove " + what + ".") {
					return nil
				}
			}
			r, err := e.PruneVolumes(f)
			if err != nil {
				return err
			}
			printDeleted("Deleted Volumes:", r.VolumesDeleted)
			fmt.Printf("Total reclaimed space: %s\n", humanBytes(r.SpaceReclaimed))
			return nil
		}),
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "named volumes too")
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask")
	c.Flags().StringArrayVar(&filters, "filter", nil, "label=, label!=, name=")
	return c
}
