package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/internal/trace"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// `--explain` of run, create and exec: the command runs as usual with a trace on
// (internal/trace: the engine's steps, its monitor's, the runtime's, init's and the
// network's, in one file), and then the trace is shown on stderr, so that the
// container's own output on stdout stays as it is.
//
// The table groups the steps by ingredient, in the order a container is built, with
// each step's duration and a bar on one time axis shared by all of them: the start
// runs from the first step (hull's own start, from its package initialization) to
// init's execve of the program. --explain=json prints the trace's lines
// instead.

// processStart is when this process's Go code began (package initialization): the
// trace's first step runs from there, so the start includes hull's own (its
// command line, its engine opened). Only the exec and the Go runtime's setup
// before it are left out.
var processStart = time.Now()

// addExplainFlag adds --explain[=table|json].
func addExplainFlag(fl *pflag.FlagSet, mode *string) {
	fl.StringVar(mode, "explain", "", "then show the kernel steps hull made, with their times: table (a timeline on stderr) or json (the trace's lines)")
	fl.Lookup("explain").NoOptDefVal = "table"
}

// explained runs fn with a trace when mode asks for one, and shows it after.
func explained(mode *string, fn engineFunc) engineFunc {
	return func(e *engine.Engine, cmd *cobra.Command, args []string) error {
		if *mode == "" {
			return fn(e, cmd, args)
		}
		if *mode != "table" && *mode != "json" {
			return &exitError{125, fmt.Errorf("--explain %q: must be table or json", *mode)}
		}
		tmp, err := os.CreateTemp("", "hull-trace-*.jsonl")
		if err != nil {
			return &exitError{125, fmt.Errorf("explain: %w", err)}
		}
		path := tmp.Name()
		tmp.Close()
		defer os.Remove(path)
		tr, err := trace.Open(path, "engine")
		if err != nil {
			return &exitError{125, err}
		}
		tr.Span(processStart, time.Now(), trace.Process, "start", nil, trace.Args{Source: cmd.CommandPath(),
			Detail: "hull's own start: Go's package initialization, the command line read, the engine opened"})
		e.Trace = tr
		err = fn(e, cmd, args)
		tr.Close()
		e.Trace = nil
		if xerr := showTrace(os.Stderr, path, *mode, termWidth()); xerr != nil {
			fmt.Fprintln(os.Stderr, "hull: explain:", xerr)
		}
		return err
	}
}

// termWidth is the width to fit the table to: $COLUMNS, else the terminal's on
// stderr (where the table goes) or stdout, else 80.
func termWidth() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	for _, f := range []*os.File{os.Stderr, os.Stdout} {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

func showTrace(w io.Writer, path, mode string, width int) error {
	if mode == "json" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
	recs, err := trace.ReadFile(path)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, explainTable(recs, width))
	return err
}

// startWindow sorts recs by start time and returns the steps of the start: from
// the first record to init's execve of the program (the last record when there is
// none: a create, an exec), the ones after it, and whether there was an execve.
func startWindow(recs []trace.Record) (start, after []trace.Record, execve bool) {
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].TS < recs[j].TS })
	for i, r := range recs {
		if r.Proc == "init" && r.Op == "execve" {
			return recs[:i+1], recs[i+1:], true
		}
	}
	return recs, nil, false
}

// span is the time from the first step's start to the last one's end.
func span(recs []trace.Record) time.Duration {
	if len(recs) == 0 {
		return 0
	}
	end := int64(0)
	for _, r := range recs {
		end = max(end, r.TS+r.Dur)
	}
	return time.Duration(end - recs[0].TS)
}

func sum(recs []trace.Record) time.Duration {
	var d time.Duration
	for _, r := range recs {
		d += time.Duration(r.Dur)
	}
	return d
}

// explainTable draws the steps of the start grouped by ingredient, each with its
// duration and its bar on the shared time axis, fitted to width columns.
func explainTable(recs []trace.Record, width int) string {
	start, after, execve := startWindow(recs)
	if len(start) == 0 {
		return "no steps were traced\n"
	}
	total, steps := span(start), sum(start)
	t0 := start[0].TS
	width = max(width, 60)
	const durW = 9
	labelW := min(max(width*2/5, 30), 60)
	barW := width - labelW - durW - 4
	var b strings.Builder
	last := "the last"
	if execve {
		last = "the program's execve"
	}
	b.WriteString(wrap(fmt.Sprintf("%d kernel steps, %s from the first to %s; the steps take %s (%.0f%%)",
		len(start), ms(total), last, ms(steps), 100*float64(steps)/float64(max(total, 1))), width))
	groups := map[trace.Ingredient][]trace.Record{}
	for _, r := range start {
		groups[r.Ingredient] = append(groups[r.Ingredient], r)
	}
	order := append([]trace.Ingredient{}, trace.Ingredients...)
	for ing := range groups {
		if !contains(order, ing) {
			order = append(order, ing)
		}
	}
	for _, ing := range order {
		g := groups[ing]
		if len(g) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s %*s\n", fit(strings.ToUpper(string(ing))+fmt.Sprintf(" (%d)", len(g)), labelW), durW, ms(sum(g)))
		for _, r := range g {
			label := "  " + fit(r.Proc, 7) + " " + describe(r)
			fmt.Fprintf(&b, "%s %*s |%s|\n", fit(label, labelW), durW, ms(time.Duration(r.Dur)), bar(r, t0, total, barW))
		}
	}
	// What no step covers is shown too, where it is: a process waiting to be
	// scheduled, work nobody traced. Stretches under 0.1 ms are left out.
	if gs := untraced(start, 100*time.Microsecond); len(gs) > 0 {
		var d time.Duration
		for _, g := range gs {
			d += time.Duration(g.Dur)
		}
		fmt.Fprintf(&b, "\n%s %*s\n", fit(fmt.Sprintf("UNTRACED (%d)", len(gs)), labelW), durW, ms(d))
		for _, g := range gs {
			label := "  " + fit(g.Proc, 7) + " " + g.Op
			fmt.Fprintf(&b, "%s %*s |%s|\n", fit(label, labelW), durW, ms(time.Duration(g.Dur)), bar(g, t0, total, barW))
		}
	}
	fmt.Fprintf(&b, "\n%s %*s\n", fit("TOTAL", labelW), durW, ms(total))
	if len(after) > 0 {
		b.WriteString(wrap(fmt.Sprintf("(steps after the start: %d, %s; --explain=json shows them)", len(after), ms(sum(after))), width))
	}
	return b.String()
}

// untraced lists the stretches of at least min that no record covers, as records
// (Proc: the process of the step before, Op: "after" it).
func untraced(recs []trace.Record, min time.Duration) []trace.Record {
	var out []trace.Record
	if len(recs) == 0 {
		return nil
	}
	cur := recs[0].TS
	for i, r := range recs {
		if gap := r.TS - cur; gap >= int64(min) && i > 0 {
			p := recs[i-1]
			out = append(out, trace.Record{TS: cur, Dur: gap, Proc: p.Proc, Op: "after " + p.Op + ", before " + r.Proc + " " + r.Op})
		}
		cur = max(cur, r.TS+r.Dur)
	}
	return out
}

// bar draws r on an axis of width columns spanning total from t0: at least one
// column, so that no step disappears.
func bar(r trace.Record, t0 int64, total time.Duration, width int) string {
	if width < 1 {
		return ""
	}
	scale := float64(width) / float64(max(total, 1))
	from := min(int(float64(r.TS-t0)*scale), width-1)
	n := max(int(float64(r.Dur)*scale+0.5), 1)
	n = min(n, width-from)
	return strings.Repeat(" ", from) + strings.Repeat("█", n) + strings.Repeat(" ", width-from-n)
}

// describe is a step in a few words: its call and what it acted on.
func describe(r trace.Record) string {
	a := r.Args
	s := func(k string) string { v, _ := a[k].(string); return v }
	what := ""
	switch {
	case s("file") != "" && s("value") != "":
		what = s("file") + "=" + s("value")
	case s("file") != "":
		what = s("file")
	case s("type") != "" && s("target") != "":
		what = s("type") + " " + s("target")
	case s("target") != "":
		what = s("target")
	case s("source") != "":
		what = s("source")
	case s("type") != "":
		what = s("type")
	case s("value") != "":
		what = s("value")
	}
	if fl, ok := a["flags"].([]any); ok && r.Ingredient == trace.Namespaces {
		var names []string
		for _, f := range fl {
			names = append(names, strings.TrimPrefix(fmt.Sprint(f), "CLONE_"))
		}
		what = strings.TrimSpace(what + " " + strings.Join(names, "|"))
	}
	if c, ok := a["count"].(float64); ok && what == "" {
		what = strconv.Itoa(int(c))
	}
	if r.Result != "ok" {
		what += " → " + r.Result
	}
	return r.Op + " " + what
}

// wrap breaks text into lines of at most width columns, at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(text) {
		l := len([]rune(w))
		if i > 0 && n+1+l > width {
			b.WriteString("\n")
			n = 0
		} else if i > 0 {
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += l
	}
	return b.String() + "\n"
}

func fit(s string, n int) string {
	rs := []rune(s)
	if len(rs) > n {
		return string(rs[:n-1]) + "…"
	}
	return s + strings.Repeat(" ", n-len(rs))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

func contains(list []trace.Ingredient, x trace.Ingredient) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}
