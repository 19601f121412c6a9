package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"text/template"
)

// listing prints the rows of an ls command the way docker's do: with -q only each
// row's ID, with --format each row through the Go template, otherwise a header and
// tab-aligned columns.
type listing struct {
	w     *tabwriter.Writer
	tmpl  *template.Template
	quiet bool
}

func newListing(header, format string, quiet bool) (*listing, error) {
	l := &listing{w: tabwriter.NewWriter(os.Stdout, 0, 4, 3, ' ', 0), quiet: quiet}
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

func (l *listing) flush() error { return l.w.Flush() }
