package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"text/template"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/internal/filter"
)

// listing prints the rows of an ls command the way docker's do: with -q only each
// row's ID, with --format each row through the Go template, otherwise a header and
// tab-aligned columns.
type listing struct {
	w     *tabwriter.Writer
	out   *bufio.Writer // under w: tabwriter writes each cell on its own
	tmpl  *template.Template
	quiet bool
}

func newListing(header, format string, quiet bool) (*listing, error) {
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	l := &listing{w: tabwriter.NewWriter(out, 0, 4, 3, ' ', 0), out: out, quiet: quiet}
	if format != "" {
		t, err := template.New("format").Parse(format)
		if err != nil {
			return nil, badUsage(fmt.Errorf("bad --format: %w", err))
		}
		l.tmpl = t
	}
	if !quiet && l.tmpl == nil {
		fmt.Fprintln(l.w, header)
	}
	return l, nil
}

// row prints one row: id under -q, data through the template, else cols.
func (l *listing) row(id string, data any, cols ...any) error {
	switch {
	case l.quiet:
		fmt.Fprintln(l.w, id)
	case l.tmpl != nil:
		if err := l.tmpl.Execute(l.w, data); err != nil {
			return err
		}
		fmt.Fprintln(l.w)
	default:
		s := make([]string, len(cols))
		for i, c := range cols {
			s[i] = fmt.Sprint(c)
		}
		fmt.Fprintln(l.w, strings.Join(s, "\t"))
	}
	return nil
}

func (l *listing) flush() error {
	if err := l.w.Flush(); err != nil {
		return err
	}
	return l.out.Flush()
}

// parseFilters reads an ls command's --filter KEY=VALUE flags, keys among keys.
// A name= value is a regular expression, as docker's (internal/filter).
func parseFilters(args []string, keys ...string) (engine.Filter, error) {
	f := engine.Filter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			return nil, badUsage(fmt.Errorf("bad filter %q: want KEY=VALUE", a))
		case !slices.Contains(keys, k):
			return nil, badUsage(fmt.Errorf("invalid filter %q: want %s", k, strings.Join(keys, "=, ")+"="))
		case k == "name":
			if err := filter.CheckName(v); err != nil {
				return nil, badUsage(err)
			}
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}
