package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// `hull top`, `hull stats` and their pod forms (added to `hull pod` by pod.go).

func topCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "show a container's processes (host ps, default -ef)",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			pids, err := e.Top(args[0])
			if err != nil {
				return err
			}
			return psFiltered(os.Stdout, args[1:], [][]int{pids}, nil)
		}),
	}
	// The ps options are ps's, not hull's.
	c.Flags().SetInterspersed(false)
	return c
}

func statsCommand(g *globals) *cobra.Command {
	var so statsOptions
	c := &cobra.Command{
		Use:   "stats [--no-stream] [--format TEMPLATE] [CONTAINER...]",
		Short: "show the resource use of running containers",
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return streamStats(e, so, func() ([]statsTarget, error) {
				if len(args) > 0 {
					var ts []statsTarget
					for _, a := range args {
						ts = append(ts, statsTarget{ref: a, must: true})
					}
					return ts, nil
				}
				return runningTargets(e, nil)
			})
		}),
	}
	so.add(c)
	return c
}

// podTopCommand is `hull pod top`.
func podTopCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "top POD [ps OPTIONS]",
		Short: "show the processes of a pod's containers, under a header each",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			p, err := e.GetPod(args[0])
			if err != nil {
				return err
			}
			cs, err := e.PodContainers(p)
			if err != nil {
				return err
			}
			var groups [][]int
			var headers []string
			for _, c := range slices.Backward(cs) { // oldest first
				if !c.State.Running() {
					continue
				}
				pids, err := e.Top(c.ID)
				if err != nil {
					return err
				}
				groups = append(groups, pids)
				headers = append(headers, fmt.Sprintf("==> %s (%s) <==", c.Name, c.ID[:12]))
			}
			if len(groups) == 0 {
				return fmt.Errorf("pod %s has no running container", p.Name)
			}
			return psFiltered(os.Stdout, args[1:], groups, headers)
		}),
	}
	c.Flags().SetInterspersed(false)
	return c
}

// podStatsCommand is `hull pod stats`.
func podStatsCommand(g *globals) *cobra.Command {
	var so statsOptions
	c := &cobra.Command{
		Use:   "stats [--no-stream] [--format TEMPLATE] [POD...]",
		Short: "show the resource use of the containers of pods (default: every pod)",
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			so.pods = true
			var pods []*engine.Pod
			for _, a := range args {
				p, err := e.GetPod(a)
				if err != nil {
					return err
				}
				pods = append(pods, p)
			}
			return streamStats(e, so, func() ([]statsTarget, error) {
				ps := pods
				if len(args) == 0 {
					var err error
					if ps, err = e.ListPods(); err != nil {
						return nil, err
					}
				}
				return runningTargets(e, ps)
			})
		}),
	}
	so.add(c)
	return c
}

// psFiltered runs the host's ps with opts (default -ef) once, and writes its header
// and the lines of the processes in each group of pids, each group under its
// header when headers are given. ps's PID column tells a line's process.
func psFiltered(w io.Writer, opts []string, groups [][]int, headers []string) error {
	t, err := engine.Ps(opts)
	if err != nil {
		return err
	}
	for i, pids := range groups {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if headers != nil {
			fmt.Fprintln(w, headers[i])
		}
		fmt.Fprintln(w, t.Header)
		for _, l := range t.Of(pids) {
			fmt.Fprintln(w, l)
		}
	}
	return nil
}

type statsOptions struct {
	noStream bool
	format   string
	pods     bool // rows name the pod of each container
}

func (o *statsOptions) add(c *cobra.Command) {
	c.Flags().BoolVar(&o.noStream, "no-stream", false, "print one table and exit")
	c.Flags().StringVar(&o.format, "format", "", "Go template (\"table TEMPLATE\" adds a header): .Container .ID .Name .Pod .CPUPerc .MemUsage .MemPerc .NetIO .BlockIO .PIDs")
}

// statsTarget is a container to sample; must: an error sampling it is the command's.
type statsTarget struct {
	ref, pod string
	must     bool
}

// runningTargets are the running containers of pods, or of all containers when
// pods is nil.
func runningTargets(e *engine.Engine, pods []*engine.Pod) ([]statsTarget, error) {
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	var ts []statsTarget
	for _, c := range slices.Backward(list) { // oldest first
		if !c.State.Running() {
			continue
		}
		if pods == nil {
			ts = append(ts, statsTarget{ref: c.ID})
			continue
		}
		for _, p := range pods {
			if c.Pod == p.ID {
				ts = append(ts, statsTarget{ref: c.ID, pod: p.Name})
			}
		}
	}
	return ts, nil
}

type statsRow struct {
	Container, ID, Name, Pod, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

// streamStats prints a table of the targets' resource use every second, or once
// with noStream. CPU % needs two samples, so the first table comes after a second.
// On a terminal each table replaces the last.
func streamStats(e *engine.Engine, o statsOptions, targets func() ([]statsTarget, error)) error {
	var tmpl *template.Template
	format, table := strings.CutPrefix(o.format, "table")
	if o.format != "" {
		var err error
		if tmpl, err = template.New("stats").Parse(strings.TrimLeft(format, " ")); err != nil {
			return err
		}
	}
	redraw := !o.noStream && term.IsTerminal(int(os.Stdout.Fd()))
	// A container named on the command line that cannot be sampled is an error the
	// first time; later it has stopped meanwhile and is left out.
	first := true
	sample := func() (map[string]*engine.Stats, []statsTarget, error) {
		defer func() { first = false }()
		ts, err := targets()
		if err != nil {
			return nil, nil, err
		}
		got := map[string]*engine.Stats{}
		var ok []statsTarget
		for _, t := range ts {
			s, err := e.Stats(t.ref)
			if err != nil {
				if t.must && first {
					return nil, nil, err
				}
				continue
			}
			got[s.ID] = s
			t.ref = s.ID
			ok = append(ok, t)
		}
		return got, ok, nil
	}
	prev, _, err := sample()
	if err != nil {
		return err
	}
	for {
		time.Sleep(time.Second)
		cur, ts, err := sample()
		if err != nil {
			return err
		}
		if redraw {
			fmt.Print("\033[2J\033[H")
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0)
		if tmpl != nil && table {
			// docker's "table TEMPLATE": the template over the column names first.
			head := statsRow{Container: "CONTAINER ID", ID: "CONTAINER ID", Name: "NAME", Pod: "POD", CPUPerc: "CPU %",
				MemUsage: "MEM USAGE / LIMIT", MemPerc: "MEM %", NetIO: "NET I/O", BlockIO: "BLOCK I/O", PIDs: "PIDS"}
			if err := tmpl.Execute(w, head); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
		if tmpl == nil {
			head := "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS"
			if o.pods {
				head = "POD\t" + head
			}
			fmt.Fprintln(w, head)
		}
		for _, t := range ts {
			s := cur[t.ref]
			r := statsRow{
				Container: s.ID[:12], ID: s.ID, Name: s.Name, Pod: t.pod,
				CPUPerc:  fmt.Sprintf("%.2f%%", engine.CPUPercent(prev[s.ID], s)),
				MemUsage: binarySize(s.MemUsage) + " / " + binarySize(s.MemLimit),
				MemPerc:  fmt.Sprintf("%.2f%%", s.MemPercent()),
				NetIO:    decimalSize(s.NetRx) + " / " + decimalSize(s.NetTx),
				BlockIO:  decimalSize(s.BlkRead) + " / " + decimalSize(s.BlkWrite),
				PIDs:     strconv.FormatUint(s.Pids, 10),
			}
			if tmpl != nil {
				if err := tmpl.Execute(w, r); err != nil {
					return err
				}
				fmt.Fprintln(w)
				continue
			}
			if o.pods {
				fmt.Fprintf(w, "%s\t", r.Pod)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Container, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if o.noStream {
			return nil
		}
		prev = cur
	}
}

// binarySize is docker's memory figure: "1.5MiB", "64MiB".
func binarySize(n uint64) string {
	return unitSize("%.4g%s", float64(n), 1024, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"})
}

// decimalSize is docker's I/O figure: "0B", "1.23kB".
func decimalSize(n uint64) string {
	return unitSize("%.3g%s", float64(n), 1000, []string{"B", "kB", "MB", "GB", "TB", "PB"})
}

func unitSize(format string, v, base float64, units []string) string {
	i := 0
	for v >= base && i < len(units)-1 {
		v /= base
		i++
	}
	return fmt.Sprintf(format, v, units[i])
}
