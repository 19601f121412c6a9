package main

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/spf13/cobra"
)

// `hull events` (and `hull system events`): what happens to containers, as it
// happens (engine/events.go).

func eventsCommand(g *globals) *cobra.Command {
	var since, until, format string
	var filters []string
	c := &cobra.Command{
		Use:   "events [--since T] [--until T] [--filter K=V] [--format TEMPLATE]",
		Short: "show what happens to containers, as it happens",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			var err error
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
		}),
	}
	c.Flags().StringVar(&since, "since", "", "events since a time (RFC 3339, unix time or a duration ago)")
	c.Flags().StringVar(&until, "until", "", "events until a time, then stop")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "container=, event=, type=, image=, label=, scope=, network=, volume=")
	c.Flags().StringVar(&format, "format", "", "Go template, e.g. '{{json .}}'")
	return c
}
