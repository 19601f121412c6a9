package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/internal/filter"
	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/volume"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The commands that manage containers beyond their start and stop: pause, unpause,
// restart, rename, update, cp, events, system df|prune|info|events and container
// prune (engine/manage.go, cp.go, events.go), and the helpers run, create, ps and
// logs take their newer flags from.

// fail125 marks an error as hull's own (exit 125), as docker's for these commands.
func fail125(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{125, err}
}

// limitFlags are the resource flags run, create and update share beyond -m, --cpus
// and --pids-limit.
type limitFlags struct {
	memorySwap string
	cpuShares  int64
	cpusetCpus string
}

func (f *limitFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit (e.g. 128m; -1 for unlimited swap)")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs to run on (0-3, 0,1)")
}

// parseMemory reads a size (64m) or, with minusOne, -1 for unlimited.
func parseMemory(flag, s string, minusOne bool) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if s == "-1" && minusOne {
		return -1, nil
	}
	n, err := logs.ParseSize(s)
	if err != nil || n <= 0 {
		return 0, badUsage(fmt.Errorf("invalid %s %q: want a size such as 64m", flag, s))
	}
	return n, nil
}

// apply puts the flags into the create options.
func (f *limitFlags) apply(o *engine.CreateOptions) error {
	swap, err := parseMemory("--memory-swap", f.memorySwap, true)
	if err != nil {
		return err
	}
	o.MemorySwap, o.CPUShares, o.CpusetCpus = swap, f.cpuShares, f.cpusetCpus
	return nil
}

// ensureImage applies run's and create's --pull (always, missing or never) with
// the pull command itself; its report goes to stderr, as docker's, so that stdout
// keeps only the container's ID or output.
func ensureImage(c *cobra.Command, e *engine.Engine, policy, ref string) error {
	switch policy {
	case "never":
		return nil
	case "", "missing":
		if _, err := e.Images.Get(ref); err == nil {
			return nil
		}
		fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", ref)
	case "always":
	default:
		return badUsage(fmt.Errorf("invalid pull policy %q: want always, missing or never", policy))
	}
	pull, _, err := c.Root().Find([]string{"pull"})
	if err != nil || pull.Name() != "pull" {
		return errors.New("no pull command")
	}
	stdout := os.Stdout
	os.Stdout = os.Stderr
	defer func() { os.Stdout = stdout }()
	pull.Flags().Set("quiet", "true")
	return pull.RunE(pull, []string{ref})
}

// psOptions are ps's -n, -l and --filter.
type psOptions struct {
	last    int
	latest  bool
	filters []string
}

func (p *psOptions) add(fl *pflag.FlagSet) {
	fl.IntVarP(&p.last, "last", "n", -1, "show the last N created containers (any state)")
	fl.BoolVarP(&p.latest, "latest", "l", false, "show the last created container (any state)")
	fl.StringArrayVarP(&p.filters, "filter", "f", nil, "status=, name=, id=, label=, exited=, ancestor=")
}

// apply filters list (newest first) and tells whether stopped ones are shown: -n,
// -l and a status or exited filter imply -a, as docker's.
func (p *psOptions) apply(list []*engine.Container, all bool) ([]*engine.Container, bool, error) {
	byKey := engine.Filter{}
	for _, f := range p.filters {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return nil, false, fmt.Errorf("bad filter %q: want KEY=VALUE", f)
		case k == "status" && !slices.Contains([]string{engine.StatusCreated, engine.StatusRunning, engine.StatusPaused, engine.StatusExited, "restarting", "removing", "dead"}, v):
			return nil, false, fmt.Errorf("invalid filter 'status=%s'", v)
		case k == "exited":
			if _, err := strconv.Atoi(v); err != nil {
				return nil, false, fmt.Errorf("invalid filter 'exited=%s'", v)
			}
		case k == "name":
			if err := filter.CheckName(v); err != nil {
				return nil, false, err
			}
		case !slices.Contains([]string{"status", "name", "id", "label", "exited", "ancestor"}, k):
			return nil, false, fmt.Errorf("invalid filter %q", k)
		}
		byKey[k] = append(byKey[k], v)
	}
	if p.latest {
		p.last = 1
	}
	if p.last >= 0 || byKey["status"] != nil || byKey["exited"] != nil {
		all = true
	}
	match := byKey.Match
	var out []*engine.Container
	for _, c := range list {
		if p.last >= 0 && len(out) >= p.last {
			break
		}
		if match("status", func(v string) bool { return v == c.State.Status }) &&
			// docker's names start with "/", and it matches both forms: name=^web$
			// and name=^/web$ select web.
			match("name", func(v string) bool { return filter.MatchName(v, c.Name) || filter.MatchName(v, "/"+c.Name) }) &&
			match("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
			match("label", func(v string) bool { return engine.HasLabel(c.Config.Labels, v) }) &&
			match("exited", func(v string) bool {
				return c.State.Status == engine.StatusExited && strconv.Itoa(c.State.ExitCode) == v
			}) &&
			match("ancestor", func(v string) bool {
				return v == c.ImageRef || strings.HasPrefix(c.Image, v) || strings.HasPrefix(c.Image, "sha256:"+v)
			}) {
			out = append(out, c)
		}
	}
	return out, all, nil
}

// groupCommand returns root's command group name, made if it is not there yet.
func groupCommand(root *cobra.Command, name, short string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	grp := &cobra.Command{Use: name, Short: short}
	root.AddCommand(grp)
	return grp
}

func addManageCommands(root *cobra.Command, g *globals) {
	// each, with the engine opened once.
	onEach := func(fn func(e *engine.Engine, ref string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			return eachAtOnce(args, func(a string) error { return fn(e, a) })
		}
	}
	root.AddCommand(&cobra.Command{
		Use:   "pause CONTAINER...",
		Short: "freeze every process of containers",
		Args:  cobra.MinimumNArgs(1),
		RunE:  onEach(func(e *engine.Engine, a string) error { return e.Pause(a) }),
	})
	root.AddCommand(&cobra.Command{
		Use:   "unpause CONTAINER...",
		Short: "thaw paused containers",
		Args:  cobra.MinimumNArgs(1),
		RunE:  onEach(func(e *engine.Engine, a string) error { return e.Unpause(a) }),
	})

	var restartTime int
	restart := &cobra.Command{
		Use:   "restart [-t SECONDS] CONTAINER...",
		Short: "stop and start containers again",
		Args:  cobra.MinimumNArgs(1),
	}
	restart.RunE = onEach(func(e *engine.Engine, a string) error {
		var t *int
		if restart.Flags().Changed("time") {
			t = &restartTime
		}
		return e.Restart(a, t)
	})
	restart.Flags().IntVarP(&restartTime, "time", "t", 10, "seconds to wait for the stop before SIGKILL")
	root.AddCommand(restart)

	root.AddCommand(&cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return fail125(err)
			}
			return fail125(e.Rename(args[0], args[1]))
		},
	})

	var memory string
	var cpus float64
	var uo engine.UpdateOptions
	var lf limitFlags
	update := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER...",
		Short: "change containers' limits, at once and for later starts",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return fail125(err)
			}
			o := uo
			if o.Memory, err = parseMemory("--memory", memory, false); err != nil {
				return fail125(err)
			}
			if o.MemorySwap, err = parseMemory("--memory-swap", lf.memorySwap, true); err != nil {
				return fail125(err)
			}
			if cpus < 0 {
				return badUsage(errors.New("invalid --cpus: it must be positive"))
			}
			o.NanoCPUs, o.CPUShares, o.CpusetCpus = int64(cpus*1e9), lf.cpuShares, lf.cpusetCpus
			if cmd.Flags().Changed("pids-limit") && o.PidsLimit == 0 {
				o.PidsLimit = -1 // docker: 0 or -1 is unlimited
			}
			if err := eachAtOnce(args, func(a string) error { return e.Update(a, o) }); err != nil {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	fl := update.Flags()
	fl.StringVarP(&memory, "memory", "m", "", "memory limit (e.g. 64m)")
	fl.Float64Var(&cpus, "cpus", 0, "number of CPUs")
	fl.Int64Var(&uo.PidsLimit, "pids-limit", 0, "process limit (-1 for none)")
	fl.StringVar(&uo.Restart, "restart", "", "restart policy: no, on-failure[:N], always or unless-stopped")
	lf.add(fl)
	root.AddCommand(update)

	var co engine.CopyOptions
	cp := &cobra.Command{
		Use:   "cp [-a] [-L] CONTAINER:SRC DEST|-  or  cp [-a] [-L] SRC|- CONTAINER:DEST",
		Short: "copy files between a container's filesystem and the host (- for a tar on stdin or stdout)",
		Long: "Copies to and from the container's root filesystem, running or not. Every path in the\n" +
			"container resolves inside it: a symlink there never leads out to the host. A running\n" +
			"container's volumes and tmpfs mounts are not part of that filesystem: what is copied\n" +
			"to a path under one lands beneath it, as with hull export.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			// "CONTAINER:PATH"; a host path with a colon is written ./a:b.
			split := func(s string) (string, string, bool) {
				if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
					return "", s, false
				}
				if ref, p, ok := strings.Cut(s, ":"); ok {
					return ref, p, true
				}
				return "", s, false
			}
			sref, src, fromCtr := split(args[0])
			dref, dst, toCtr := split(args[1])
			switch {
			case fromCtr && toCtr:
				return badUsage(errors.New("copying between containers is not supported"))
			case !fromCtr && !toCtr:
				return badUsage(errors.New("must specify at least one container source"))
			case fromCtr && dst == "-":
				return e.ArchiveFrom(sref, src, os.Stdout, co)
			case fromCtr:
				return e.CopyFrom(sref, src, dst, co)
			case src == "-":
				return e.ExtractTo(dref, dst, os.Stdin, co)
			}
			return e.CopyTo(src, dref, dst, co)
		},
	}
	cp.Flags().BoolVarP(&co.Archive, "archive", "a", false, "keep the owners (uid:gid) of the source")
	cp.Flags().BoolVarP(&co.FollowLink, "follow-link", "L", false, "copy what a source symlink points to")
	root.AddCommand(cp)

	events := func() *cobra.Command {
		var since, until, format string
		var filters []string
		c := &cobra.Command{
			Use:   "events [--since T] [--until T] [--filter K=V] [--format TEMPLATE]",
			Short: "show what happens to containers, as it happens",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				e, err := openEngine(g)
				if err != nil {
					return err
				}
				o := engine.EventOptions{Follow: true}
				if since != "" {
					if o.Since, err = parseSince(since); err != nil {
						return badUsage(err)
					}
				}
				if until != "" {
					if o.Until, err = parseSince(until); err != nil {
						return badUsage(fmt.Errorf("--until %q: want an RFC 3339 time, a duration or a unix time", until))
					}
				}
				if o.Filter, err = engine.ParseEventFilter(filters); err != nil {
					return badUsage(err)
				}
				// Without --since only what happens from now on, as docker's.
				if since == "" {
					o.Since = time.Now()
				}
				stop := make(chan struct{})
				sigs := make(chan os.Signal, 1)
				signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
				defer signal.Stop(sigs)
				go func() { <-sigs; close(stop) }()
				o.Stop = stop
				return e.Events(o, func(ev engine.Event) error {
					if format != "" {
						return printJSONOrTemplate([]engine.Event{ev}, format)
					}
					var attrs []string
					for k, v := range ev.Actor.Attributes {
						attrs = append(attrs, k+"="+v)
					}
					sort.Strings(attrs)
					t := time.Unix(0, ev.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00")
					_, err := fmt.Printf("%s %s %s %s (%s)\n", t, ev.Type, ev.Action, ev.Actor.ID, strings.Join(attrs, ", "))
					return err
				})
			},
		}
		c.Flags().StringVar(&since, "since", "", "events since a time (RFC 3339, unix time or a duration ago)")
		c.Flags().StringVar(&until, "until", "", "events until a time, then stop")
		c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "container=, event=, type=, image=, label=")
		c.Flags().StringVar(&format, "format", "", "Go template, e.g. '{{json .}}'")
		return c
	}
	root.AddCommand(events())

	containerPrune := func() *cobra.Command {
		var force bool
		var filters []string
		c := &cobra.Command{
			Use:   "prune [-f] [--filter K=V]",
			Short: "remove every stopped container",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				e, err := openEngine(g)
				if err != nil {
					return err
				}
				var f engine.PruneFilter
				for _, kv := range filters {
					k, v, _ := strings.Cut(kv, "=")
					switch k {
					case "until":
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
			},
		}
		c.Flags().BoolVarP(&force, "force", "f", false, "do not ask")
		c.Flags().StringArrayVar(&filters, "filter", nil, "until=, label=, label!=")
		return c
	}
	groupCommand(root, "container", "manage containers").AddCommand(containerPrune())

	system := groupCommand(root, "system", "manage hull")
	system.AddCommand(events())
	if info, _, err := root.Find([]string{"info"}); err == nil && info.Name() == "info" {
		system.AddCommand(&cobra.Command{Use: "info", Short: info.Short, Args: info.Args, RunE: info.RunE})
	}
	system.AddCommand(&cobra.Command{
		Use:   "df",
		Short: "show the disk space images, containers and volumes use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			return systemDF(e)
		},
	})

	var pruneAll, pruneVolumes, pruneForce bool
	prune := &cobra.Command{
		Use:   "prune [-a] [--volumes] [-f]",
		Short: "remove stopped containers, unused networks, dangling images (and more)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			if !pruneForce {
				what := "  - all stopped containers\n  - all networks not used by at least one container\n"
				if pruneVolumes {
					what += "  - all anonymous volumes not used by at least one container\n"
				}
				if pruneAll {
					what += "  - all images without at least one container associated to them\n"
				} else {
					what += "  - all dangling images\n"
				}
				if !confirm("WARNING! This will remove:\n" + what) {
					return nil
				}
			}
			return systemPrune(e, pruneAll, pruneVolumes)
		},
	}
	prune.Flags().BoolVarP(&pruneAll, "all", "a", false, "every unused image, not only dangling ones")
	prune.Flags().BoolVar(&pruneVolumes, "volumes", false, "unused anonymous volumes too")
	prune.Flags().BoolVarP(&pruneForce, "force", "f", false, "do not ask")
	system.AddCommand(prune)
}

func printDeleted(title string, names []string) {
	if len(names) == 0 {
		return
	}
	fmt.Println(title)
	for _, n := range names {
		fmt.Println(n)
	}
	fmt.Println()
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
