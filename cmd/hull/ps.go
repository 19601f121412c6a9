package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// `hull ps`: the container listing, and the status words it shows.

func psCommand(g *globals) *cobra.Command {
	var all, quiet, noTrunc, size bool
	var format string
	var o psOptions
	c := &cobra.Command{
		Use:   "ps [-a] [-q] [--no-trunc] [--format TEMPLATE]",
		Short: "list containers",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			list, err := e.List()
			if err != nil {
				return err
			}
			list, showAll, err := o.apply(list, all)
			if err != nil {
				return badUsage(err)
			}
			var sizes func(*engine.Container) string
			if size {
				sizes = func(c *engine.Container) string {
					rw, rootFs := e.ContainerSizes(c)
					return decimalSize(rw) + " (virtual " + decimalSize(rootFs) + ")"
				}
			}
			return printPs(list, showAll, quiet, noTrunc, format, sizes)
		}),
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "all containers, not only running ones")
	o.add(c.Flags())
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only IDs")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate")
	c.Flags().BoolVarP(&size, "size", "s", false, "show the containers' sizes: written (virtual, with the image)")
	c.Flags().StringVar(&format, "format", "", "Go template: .ID .Image .Command .CreatedAt .RunningFor .Status .State .Names .Labels")
	return c
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
	fl.StringArrayVarP(&p.filters, "filter", "f", nil, "status=, name=, id=, label=, exited=, ancestor=, network=, health=, before=, since=, volume=, publish=, expose=, is-task=")
}

// apply filters list (newest first) and tells whether stopped ones are shown: -n,
// -l and a status or exited filter imply -a, as docker's.
func (p *psOptions) apply(list []*engine.Container, all bool) ([]*engine.Container, bool, error) {
	f, err := engine.ParseContainerFilter(p.filters)
	if err == nil {
		err = f.Resolve(list)
	}
	if err != nil {
		return nil, false, err
	}
	if p.latest {
		p.last = 1
	}
	if p.last >= 0 || f.Filter["status"] != nil || f.Filter["exited"] != nil {
		all = true
	}
	var out []*engine.Container
	for _, c := range list {
		if p.last >= 0 && len(out) >= p.last {
			break
		}
		if f.Match(c) {
			out = append(out, c)
		}
	}
	return out, all, nil
}

type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, State, Names, Labels, Size string
}

// printPs prints the listing; sizes, if not nil, gives the SIZE column (--size).
func printPs(list []*engine.Container, all, quiet, noTrunc bool, format string, sizes func(*engine.Container) string) error {
	header := "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES"
	if sizes != nil {
		header += "\tSIZE"
	}
	l, err := newListing(header, format, quiet)
	if err != nil {
		return err
	}
	for _, c := range list {
		if !all && !c.State.Running() {
			continue
		}
		id := c.ID
		command := strings.Join(append([]string{c.Path}, c.Args...), " ")
		if !noTrunc {
			id = id[:12]
			if len(command) > 20 {
				command = command[:19] + "…"
			}
		}
		if quiet {
			l.row(id, nil)
			continue
		}
		var labels []string
		for k, v := range c.Config.Labels {
			labels = append(labels, k+"="+v)
		}
		row := psRow{
			ID: id, Image: c.ImageRef, Command: strconv.Quote(command), CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
			RunningFor: ago(c.Created), Status: status(c), State: c.State.Status, Names: c.Name, Labels: strings.Join(labels, ","),
		}
		cols := []any{row.ID, row.Image, row.Command, row.RunningFor, row.Status, row.Names}
		if sizes != nil {
			row.Size = sizes(c)
			cols = append(cols, row.Size)
		}
		if err := l.row(id, row, cols...); err != nil {
			return err
		}
	}
	return l.flush()
}

func ago(t time.Time) string { return human(time.Since(t)) + " ago" }

func human(d time.Duration) string { return engine.HumanDuration(d) }

func status(c *engine.Container) string { return c.StatusText(time.Now()) }
