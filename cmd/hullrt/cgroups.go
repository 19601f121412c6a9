package main

import (
	"errors"
	"flag"
)

// cmdUpdate changes a running container's resources (runc update).
func cmdUpdate(fs *flag.FlagSet) func([]string) error {
	return func(args []string) error { return errors.New("update: not implemented yet") }
}

// cmdEvents prints a container's stats and OOM events (runc events).
func cmdEvents(fs *flag.FlagSet) func([]string) error {
	return func(args []string) error { return errors.New("events: not implemented yet") }
}
