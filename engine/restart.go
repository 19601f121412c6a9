package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/monitor"
	"golang.org/x/sys/unix"
)

// Restart policies and health checks are the monitor's (package monitor, which
// applies them); the engine parses the options that set them (here, health.go),
// judges them with the others (options.go) and keeps them in the container's
// record.
const (
	RestartNo            = monitor.RestartNo
	RestartOnFailure     = monitor.RestartOnFailure
	RestartAlways        = monitor.RestartAlways
	RestartUnlessStopped = monitor.RestartUnlessStopped
)

// RestartPolicy is Docker's HostConfig.RestartPolicy (monitor/restart.go).
type RestartPolicy = monitor.RestartPolicy

// MonitorOptions are the create options the monitor applies: the restart policy
// (here) and the health check (health.go).
type MonitorOptions struct {
	Restart           string // no, on-failure[:N], always, unless-stopped
	HealthCmd         string // run with /bin/sh -c
	HealthInterval    time.Duration
	HealthTimeout     time.Duration
	HealthStartPeriod time.Duration
	// HealthStartInterval is the time between checks during the start period
	// (--health-start-interval; Config.Healthcheck.StartInterval); docker's
	// default 5s.
	HealthStartInterval time.Duration
	HealthRetries       int
	NoHealthcheck       bool
	// HealthTest is the check in docker's exec form, ["CMD", program, args...]
	// (the Docker API's Config.Healthcheck.Test): run without a shell. It
	// replaces HealthCmd.
	HealthTest []string
}

// ParseRestartPolicy parses --restart.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", RestartNo:
		p.Name = RestartNo
	case RestartOnFailure:
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return p, fmt.Errorf("invalid restart policy %q: the retry count must be a number", s)
			}
			p.MaximumRetryCount = v
		}
		return p, nil
	case RestartAlways, RestartUnlessStopped:
	default:
		return p, fmt.Errorf("invalid restart policy %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	if hasN {
		return p, fmt.Errorf("invalid restart policy %q: only on-failure takes a retry count", s)
	}
	return p, nil
}

// planMonitor puts the restart policy and the health check, merged over the
// image's, into a new record.
func (e *Engine) planMonitor(p *createPlan) error {
	p.c.HostConfig.RestartPolicy = p.restart
	// image-spec's config has no Healthcheck; Docker's images carry it there.
	blob, err := e.Images.ReadBlob(p.img.Config, 4<<20)
	if err != nil {
		return err
	}
	hc, err := healthConfig(&p.o.MonitorOptions, blob)
	if err != nil {
		return err
	}
	p.c.Config.Healthcheck = hc
	return nil
}

// markStopped records that the user stopped or killed the container, so that its
// monitor does not restart it, and wakes a monitor waiting to restart it.
func (e *Engine) markStopped(id string, sig unix.Signal) {
	c, err := e.update(id, func(c *Container) error {
		c.State.Stopping = int(sig)
		c.HasBeenManuallyStopped = true
		return nil
	})
	if err == nil && c.State.Status == StatusRestarting && proc.Alive(c.State.MonitorPid, c.State.MonitorStart) {
		unix.Kill(c.State.MonitorPid, monitor.WakeSignal)
	}
}
