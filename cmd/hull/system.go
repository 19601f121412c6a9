package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/runtime"
	"github.com/hullproject/hull/volume"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// `hull version`, `hull info` and the `hull system` group: info, events, df and
// prune (engine/prune.go).

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
			list, _ := e.List()
			running := 0
			for _, c := range list {
				if c.State.Running() {
					running++
				}
			}
			imgs, _ := e.Images.List()
			var u unix.Utsname
			unix.Uname(&u)
			cg := "v1 (hybrid)"
			if runtime.HostCgroupMode() == runtime.CgroupUnified {
				cg = "v2"
			}
			fmt.Printf("Containers: %d\n Running: %d\n Stopped: %d\nImages: %d\n", len(list), running, len(list)-running, len(imgs))
			fmt.Printf("Storage driver: %s\nLogging driver: json-file\nCgroup version: %s\n", e.Images.Snapshotter().Name(), cg)
			fmt.Printf("Default runtime: hull\nKernel version: %s\nRoot dir: %s\nState dir: %s\n", unix.ByteSliceToString(u.Release[:]), e.Root, e.StateDir)
			return nil
		}),
	}
}

// systemCommand is the `hull system` group.
func systemCommand(g *globals) *cobra.Command {
	system := &cobra.Command{Use: "system", Short: "manage hull"}
	system.AddCommand(eventsCommand(g), infoCommand(g), systemDFCommand(g), systemPruneCommand(g))
	return system
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
	nets, err := e.PruneNetworks()
	errs = append(errs, err)
	printDeleted("Deleted Networks:", nets)
	if volumes {
		s, err := e.Volumes()
		if err == nil {
			var r volume.PruneReport
			r, err = s.Prune(volume.Filters{})
			printDeleted("Deleted Volumes:", r.VolumesDeleted)
			space += r.SpaceReclaimed
		}
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

// systemDF prints docker's `system df` table.
func systemDF(e *engine.Engine) error {
	list, err := e.List()
	if err != nil {
		return err
	}
	imgs, err := e.Images.List()
	if err != nil {
		return err
	}
	used := map[string]bool{}
	var ctrSize, ctrReclaim uint64
	active := 0
	for _, c := range list {
		used[c.Image] = true
		n := e.ContainerSize(c.ID)
		ctrSize += n
		if c.State.Running() {
			active++
		} else {
			ctrReclaim += n
		}
	}
	var imgSize, imgReclaim uint64
	imgActive := 0
	for i := range imgs {
		n := uint64(e.Images.Size(&imgs[i]))
		imgSize += n
		if used[imgs[i].ID().String()] {
			imgActive++
		} else {
			imgReclaim += n
		}
	}
	var volN, volActive int
	var volSize, volReclaim uint64
	if s, err := e.Volumes(); err == nil {
		vols, _ := s.List(volume.Filters{})
		inUse := map[string]bool{}
		for _, c := range list {
			for _, m := range c.Mounts {
				if m.Type == volume.TypeVolume {
					inUse[m.Source] = true
				}
			}
		}
		for _, v := range vols {
			volN++
			n := volume.DiskUsage(v.Mountpoint)
			volSize += n
			if inUse[v.Name] {
				volActive++
			} else {
				volReclaim += n
			}
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
	fmt.Fprintf(w, "Images\t%d\t%d\t%s\t%s\n", len(imgs), imgActive, humanBytes(imgSize), pct(imgReclaim, imgSize))
	fmt.Fprintf(w, "Containers\t%d\t%d\t%s\t%s\n", len(list), active, humanBytes(ctrSize), pct(ctrReclaim, ctrSize))
	fmt.Fprintf(w, "Local Volumes\t%d\t%d\t%s\t%s\n", volN, volActive, humanBytes(volSize), pct(volReclaim, volSize))
	fmt.Fprintf(w, "Build Cache\t0\t0\t0B\t0B\n")
	return w.Flush()
}
