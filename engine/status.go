package engine

import (
	"fmt"
	"time"

	"github.com/hullproject/hull/runtime"
	"golang.org/x/sys/unix"
)

// StatusText is the container's status as docker's ps words it, at now: "Up 5
// seconds (healthy)", "Exited (0) 2 minutes ago", "Created". hull ps and the
// Docker API's container list show it.
func (c *Container) StatusText(now time.Time) string {
	switch c.State.Status {
	case StatusRunning:
		return "Up " + HumanDuration(now.Sub(c.State.StartedAt)) + healthText(c.State.Health)
	case StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.State.ExitCode, HumanDuration(now.Sub(c.State.FinishedAt)))
	case StatusPaused:
		return "Up " + HumanDuration(now.Sub(c.State.StartedAt)) + " (Paused)"
	case StatusExited:
		return fmt.Sprintf("Exited (%d) %s ago", c.State.ExitCode, HumanDuration(now.Sub(c.State.FinishedAt)))
	}
	return "Created"
}

func healthText(h *Health) string {
	switch {
	case h == nil:
		return ""
	case h.Status == HealthStarting:
		return " (health: starting)"
	}
	return " (" + h.Status + ")"
}

// HumanDuration words d as docker's ps does: "Less than a second", "5 seconds",
// "3 minutes", "2 hours", "4 days".
func HumanDuration(d time.Duration) string {
	switch {
	case d < 2*time.Second:
		return "Less than a second"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// ParseSignal reads a signal as kill and stop take it: a name (KILL, SIGKILL)
// or a number. The runtime's grammar, for the doors that do not import it.
func ParseSignal(s string) (unix.Signal, error) { return runtime.ParseSignal(s) }
