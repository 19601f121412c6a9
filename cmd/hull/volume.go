package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/volume"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// addSharingFlags adds the volume, mount and namespace flags of run and create.
func addSharingFlags(fl *pflag.FlagSet, o *engine.CreateOptions) {
	fl.StringArrayVarP(&o.Volumes, "volume", "v", nil, "mount a volume: /host:/ctr[:ro|rw][,z|Z], NAME:/ctr[:opts] or /ctr (anonymous)")
	fl.StringArrayVar(&o.Mounts, "mount", nil, "mount: type=bind|volume|tmpfs,source=...,target=...[,readonly]")
	fl.StringArrayVar(&o.Tmpfs, "tmpfs", nil, "mount a tmpfs: /ctr[:size=64m,mode=1777,...]")
	fl.StringArrayVar(&o.VolumesFrom, "volumes-from", nil, "mount another container's volumes: CONTAINER[:ro|rw]")
	fl.StringVar(&o.Pid, "pid", "", "pid namespace: host or container:NAME")
	fl.StringVar(&o.IPC, "ipc", "", "ipc namespace: private, shareable, host or container:NAME")
	fl.StringVar(&o.UTS, "uts", "", "uts namespace: host or container:NAME")
	fl.StringVar(&o.Cgroupns, "cgroupns", "", "cgroup namespace: private or host")
	fl.StringVar(&o.Userns, "userns", "", "user namespace: host (others are not supported yet)")
	fl.StringVar(&o.Pod, "pod", "", "run the container in a pod: it joins the pod's shared namespaces")
}

// sharingOptions completes the options of addSharingFlags.
func sharingOptions(c *cobra.Command, o *engine.CreateOptions) {
	o.Warn = func(note string) { fmt.Fprintln(os.Stderr, "hull: "+note) }
	// A pod sharing its network decides it, unless the user said otherwise.
	if o.Pod != "" && !c.Flags().Changed("network") {
		o.Network = ""
	}
}

func openVolumes(g *globals) (*volume.Store, error) {
	e, err := openEngine(g)
	if err != nil {
		return nil, err
	}
	return e.Volumes()
}

func addVolumeCommands(root *cobra.Command, g *globals) {
	vol := &cobra.Command{Use: "volume", Short: "manage volumes"}
	root.AddCommand(vol)

	var labels []string
	create := &cobra.Command{
		Use:   "create [--label K=V] [NAME]",
		Short: "create a volume (a random name without NAME)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			o := volume.CreateOptions{Labels: map[string]string{}}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				if k == "" {
					return badUsage(fmt.Errorf("--label %q: no key", l))
				}
				o.Labels[k] = v
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			v, err := s.Create(name, o)
			if err != nil {
				return err
			}
			fmt.Println(v.Name)
			return nil
		},
	}
	create.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label (KEY=VALUE)")
	vol.AddCommand(create)

	var lsQuiet bool
	var lsFilters []string
	var lsFormat string
	ls := &cobra.Command{
		Use:     "ls [-q] [--filter K=V] [--format TEMPLATE]",
		Aliases: []string{"list"},
		Short:   "list volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			f, err := volume.ParseFilters(lsFilters)
			if err != nil {
				return badUsage(err)
			}
			list, err := s.List(f)
			if err != nil {
				return err
			}
			l, err := newListing("DRIVER\tVOLUME NAME", lsFormat, lsQuiet)
			if err != nil {
				return err
			}
			for _, v := range list {
				if err := l.row(v.Name, v.Info(), v.Driver, v.Name); err != nil {
					return err
				}
			}
			return l.flush()
		},
	}
	ls.Flags().BoolVarP(&lsQuiet, "quiet", "q", false, "only names")
	ls.Flags().StringArrayVarP(&lsFilters, "filter", "f", nil, "name=, label=, label!=, driver=, dangling=true|false")
	ls.Flags().StringVar(&lsFormat, "format", "", "Go template: .Name .Driver .Mountpoint .Labels .CreatedAt")
	vol.AddCommand(ls)

	var inspFormat string
	inspect := &cobra.Command{
		Use:   "inspect [-f TEMPLATE] VOLUME...",
		Short: "show volumes as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			var out []volume.Info
			for _, a := range args {
				i, err := s.Inspect(a)
				if err != nil {
					return err
				}
				out = append(out, i)
			}
			return printJSONOrTemplate(out, inspFormat)
		},
	}
	inspect.Flags().StringVarP(&inspFormat, "format", "f", "", "Go template")
	vol.AddCommand(inspect)

	var rmForce bool
	rm := &cobra.Command{
		Use:     "rm [-f] VOLUME...",
		Aliases: []string{"remove"},
		Short:   "remove volumes (never one a container uses)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			return each(args, func(a string) error {
				if err := s.Remove(a, rmForce); err != nil {
					return err
				}
				fmt.Println(a)
				return nil
			})
		},
	}
	rm.Flags().BoolVarP(&rmForce, "force", "f", false, "no error for a volume that does not exist")
	vol.AddCommand(rm)

	var pruneAll, pruneForce bool
	var pruneFilters []string
	prune := &cobra.Command{
		Use:   "prune [-a] [-f] [--filter K=V]",
		Short: "remove unused anonymous volumes (with -a, unused named ones too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openVolumes(g)
			if err != nil {
				return err
			}
			f, err := volume.ParseFilters(pruneFilters)
			if err != nil {
				return badUsage(err)
			}
			if f.Dangling != nil {
				return badUsage(errors.New("prune takes no dangling filter: it only removes unused volumes"))
			}
			f.All = f.All || pruneAll
			if !pruneForce {
				what := "all anonymous local volumes not used by at least one container"
				if f.All {
					what = "all local volumes not used by at least one container"
				}
				if !confirm("WARNING! This will remove " + what + ".") {
					return nil
				}
			}
			r, err := s.Prune(f)
			if err != nil {
				return err
			}
			if len(r.VolumesDeleted) > 0 {
				fmt.Println("Deleted Volumes:")
				for _, n := range r.VolumesDeleted {
					fmt.Println(n)
				}
				fmt.Println()
			}
			fmt.Printf("Total reclaimed space: %s\n", humanBytes(r.SpaceReclaimed))
			return nil
		},
	}
	prune.Flags().BoolVarP(&pruneAll, "all", "a", false, "named volumes too")
	prune.Flags().BoolVarP(&pruneForce, "force", "f", false, "do not ask")
	prune.Flags().StringArrayVar(&pruneFilters, "filter", nil, "label=, label!=, name=")
	vol.AddCommand(prune)
}

// confirm asks on the terminal; anything but y or yes is no.
func confirm(question string) bool {
	fmt.Fprint(os.Stderr, question+"\nAre you sure you want to continue? [y/N] ")
	var answer string
	fmt.Scanln(&answer)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

func humanBytes(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}

// printJSONOrTemplate prints v as indented JSON, or each element of it through a
// Go template.
func printJSONOrTemplate[T any](v []T, format string) error {
	if format == "" {
		data, _ := json.MarshalIndent(v, "", "    ")
		fmt.Println(string(data))
		return nil
	}
	tmpl, err := template.New("f").Funcs(template.FuncMap{"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }}).Parse(format)
	if err != nil {
		return err
	}
	for _, o := range v {
		if err := tmpl.Execute(os.Stdout, o); err != nil {
			return err
		}
		fmt.Println()
	}
	return nil
}
