package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/network"
	"github.com/hullproject/hull/volume"
	"github.com/spf13/cobra"
)

// `hull version`, `hull info` and the `hull system` group: info, events, df,
// prune (engine/prune.go) and service (service.go).

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "show hull's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Printf("hull version %s (commit %s)\n", version, commit)
		},
	}
}

func infoCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "show what hull runs on",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			in, err := e.Info()
			if err != nil {
				return err
			}
			cg := "v1 (" + in.CgroupMode + ")"
			if in.CgroupVersion == "2" {
				cg = "v2"
			}
			fmt.Printf("Containers: %d\n Running: %d\n Paused: %d\n Stopped: %d\nImages: %d\n", in.Containers, in.Running, in.Paused, in.Stopped, in.Images)
			fmt.Printf("Storage driver: %s\nLogging driver: %s\nCgroup version: %s\n", in.Driver, in.LoggingDriver, cg)
			fmt.Printf("Default runtime: %s\nKernel version: %s\nRoot dir: %s\nState dir: %s\n", in.DefaultRuntime, in.KernelVersion, in.Root, in.StateDir)
			return nil
		}),
	}
}

// systemCommand is the `hull system` group.
func systemCommand(g *globals) *cobra.Command {
	system := &cobra.Command{Use: "system", Short: "manage hull"}
	system.AddCommand(eventsCommand(g), infoCommand(g), systemDFCommand(g), systemPruneCommand(g), serviceCommand(g), // service.go
		emptyTrashCommand(g))
	return system
}

// emptyTrashCommand deletes the containers `hull rm` moved into the trash; rm
// starts it after it has answered (engine.EmptyTrashLater).
func emptyTrashCommand(g *globals) *cobra.Command {
	lockedFd := -1
	c := &cobra.Command{
		Use:    "empty-trash",
		Short:  "delete removed containers' files (started by rm)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// No engine opened: opening one makes the root's directories,
			// and this may run after the root was removed.
			return engine.EmptyTrash(g.root, g.state, lockedFd)
		},
	}
	c.Flags().IntVar(&lockedFd, "locked-fd", -1, "the trash directory, locked, handed over by rm")
	return c
}

func systemDFCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "df",
		Short: "show the disk space images, containers and volumes use",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return systemDF(e)
		}),
	}
}

func systemPruneCommand(g *globals) *cobra.Command {
	var all, volumes, force bool
	c := &cobra.Command{
		Use:   "prune [-a] [--volumes] [-f]",
		Short: "remove stopped containers, unused networks, dangling images (and more)",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			if !force {
				what := "  - all stopped containers\n  - all networks not used by at least one container\n"
				if volumes {
					what += "  - all anonymous volumes not used by at least one container\n"
				}
				if all {
					what += "  - all images without at least one container associated to them\n"
				} else {
					what += "  - all dangling images\n"
				}
				if !confirm("WARNING! This will remove:\n" + what) {
					return nil
				}
			}
			return systemPrune(e, all, volumes)
		}),
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "every unused image, not only dangling ones")
	c.Flags().BoolVar(&volumes, "volumes", false, "unused anonymous volumes too")
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask")
	return c
}

// systemPrune removes, in docker's order, stopped containers, unused networks (and
// the state of networks whose containers died), unused anonymous volumes (with
// volumes) and dangling images (with all, every unused one).
func systemPrune(e *engine.Engine, all, volumes bool) error {
	var errs []error
	ids, space, err := e.PruneContainers(engine.PruneFilter{})
	errs = append(errs, err)
	printDeleted("Deleted Containers:", ids)
	nets, err := e.PruneNetworks(network.Filters{})
	errs = append(errs, err)
	printDeleted("Deleted Networks:", nets)
	if volumes {
		r, err := e.PruneVolumes(volume.Filters{})
		printDeleted("Deleted Volumes:", r.VolumesDeleted)
		space += r.SpaceReclaimed
		errs = append(errs, err)
	}
	sizes := map[string]uint64{}
	if imgs, err := e.Images.List(); err == nil {
		for i := range imgs {
			sizes[imgs[i].ID().String()] = uint64(e.Images.Size(&imgs[i]))
		}
	}
	gone, err := e.Images.Prune(all)
	errs = append(errs, err)
	var names []string
	for _, d := range gone {
		names = append(names, "deleted: "+d.String())
		space += sizes[d.String()]
	}
	printDeleted("Deleted Images:", names)
	fmt.Printf("Total reclaimed space: %s\n", humanBytes(space))
	return errors.Join(errs...)
}

// systemDF prints docker's `system df` table (engine.DiskUsage counts).
func systemDF(e *engine.Engine) error {
	du, err := e.DiskUsage()
	if err != nil {
		return err
	}
	var ctrSize, ctrReclaim uint64
	active := 0
	for _, c := range du.Containers {
		ctrSize += c.Size
		if c.Container.State.Running() {
			active++
		} else {
			ctrReclaim += c.Size
		}
	}
	var imgSize, imgReclaim uint64
	imgActive := 0
	for _, i := range du.Images {
		imgSize += uint64(i.Size)
		if i.Containers > 0 {
			imgActive++
		} else {
			imgReclaim += uint64(i.Size)
		}
	}
	var volActive int
	var volSize, volReclaim uint64
	for _, v := range du.Volumes {
		volSize += v.Size
		if v.RefCount > 0 {
			volActive++
		} else {
			volReclaim += v.Size
		}
	}
	pct := func(part, whole uint64) string {
		if whole == 0 {
			return humanBytes(part)
		}
		return fmt.Sprintf("%s (%d%%)", humanBytes(part), part*100/whole)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
	fmt.Fprintln(w, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	fmt.Fprintf(w, "Images\t%d\t%d\t%s\t%s\n", len(du.Images), imgActive, humanBytes(imgSize), pct(imgReclaim, imgSize))
	fmt.Fprintf(w, "Containers\t%d\t%d\t%s\t%s\n", len(du.Containers), active, humanBytes(ctrSize), pct(ctrReclaim, ctrSize))
	fmt.Fprintf(w, "Local Volumes\t%d\t%d\t%s\t%s\n", len(du.Volumes), volActive, humanBytes(volSize), pct(volReclaim, volSize))
	fmt.Fprintf(w, "Build Cache\t0\t0\t0B\t0B\n")
	return w.Flush()
}
