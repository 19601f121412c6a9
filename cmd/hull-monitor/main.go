// hull-monitor is the resident form of a container's monitor: the engine's
// monitor execs it in its own place once the container runs and nobody is
// attached, and it execs the engine's monitor again when there is work for it
// (see monitor/resident). It is not a command for people: it runs by the state
// in its environment, and its arguments (--root, --state, the container's ID)
// are there for ps.
package main

import (
	"fmt"
	"os"

	"github.com/hullproject/hull/monitor/resident"
)

func main() {
	s, err := resident.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hull-monitor:", err)
		os.Exit(2)
	}
	if err := resident.Serve(s); err != nil {
		fmt.Fprintln(os.Stderr, "hull-monitor:", err)
		os.Exit(1)
	}
}
