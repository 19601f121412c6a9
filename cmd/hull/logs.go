package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/internal/filter"
	"github.com/hullproject/hull/logs"
	"github.com/spf13/cobra"
)

// `hull logs`, and the time flags logs, events and prune read (parseSince).

func logsCommand(g *globals) *cobra.Command {
	var follow, timestamps, details bool
	var tail, since, until string
	c := &cobra.Command{
		Use:   "logs [-f] [--tail N] [-t] [--since TIME] CONTAINER",
		Short: "show a container's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The flags are judged before the engine is opened.
			var err error
			o := engine.LogsOptions{Tail: -1, Follow: follow}
			if tail != "all" && tail != "" {
				if o.Tail, err = strconv.Atoi(tail); err != nil || o.Tail < 0 {
					return badUsage(fmt.Errorf("--tail %q: want a number or all", tail))
				}
			}
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
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			stdout, stderr := bufio.NewWriter(os.Stdout), bufio.NewWriter(os.Stderr)
			defer stdout.Flush()
			defer stderr.Flush()
			return e.Logs(args[0], o, func(en logs.Entry) error {
				w := stdout
				if en.Stream == "stderr" {
					w = stderr
				}
				if timestamps {
					w.WriteString(en.Time.Format(time.RFC3339Nano) + " ")
				}
				if details {
					// docker's: the entry's attributes (KEY=VALUE,...; hull's
					// entries have none), then a space
					w.WriteString(" ")
				}
				_, err := w.WriteString(en.Log)
				if follow {
					w.Flush()
				}
				return err
			})
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "follow the output until the container stops")
	c.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	c.Flags().BoolVar(&details, "details", false, "show the extra details of each line (its attributes; hull's lines have none)")
	c.Flags().StringVarP(&tail, "tail", "n", "all", "number of lines from the end")
	c.Flags().StringVar(&since, "since", "", "only lines since a time (RFC 3339) or a duration ago (10m)")
	c.Flags().StringVar(&until, "until", "", "only lines before a time (RFC 3339) or a duration ago (10m)")
	return c
}

func parseSince(s string) (time.Time, error) {
	t, err := filter.ParseTime(s, time.Now())
	if err != nil {
		return t, fmt.Errorf("--since %w", err)
	}
	return t, nil
}
