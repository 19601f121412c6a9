package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/image"
	"golang.org/x/sys/unix"
)

// Restart policies, as Docker's. The container's monitor applies them: it stays
// alive across restarts and re-creates the container through the runtime after a
// backoff. hull has no daemon, so nothing brings a container back after a reboot or
// after its monitor was killed: "always" and "unless-stopped" differ only there in
// Docker, and behave alike here.
const (
	RestartNo            = "no"
	RestartOnFailure     = "on-failure"
	RestartAlways        = "always"
	RestartUnlessStopped = "unless-stopped"
)

// RestartPolicy is Docker's HostConfig.RestartPolicy.
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// MonitorOptions are the create options the monitor applies: the restart policy
// (here) and the health check (health.go).
type MonitorOptions struct {
	Restart           string // no, on-failure[:N], always, unless-stopped
	HealthCmd         string // run with /bin/sh -c
	HealthInterval    time.Duration
	HealthTimeout     time.Duration
	HealthStartPeriod time.Duration
	HealthRetries     int
	NoHealthcheck     bool
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

// planMonitor puts the restart policy and the health check into a new record.
func (e *Engine) planMonitor(c *Container, o *MonitorOptions, img *image.Image) error {
	p, err := ParseRestartPolicy(o.Restart)
	if err != nil {
		return err
	}
	if p.Name != RestartNo && c.HostConfig.AutoRemove {
		return errors.New("conflicting options: --restart and --rm")
	}
	c.HostConfig.RestartPolicy = p
	// image-spec's config has no Healthcheck; Docker's images carry it there.
	blob, err := e.Images.ReadBlob(img.Config, 4<<20)
	if err != nil {
		return err
	}
	hc, err := healthConfig(o, blob)
	if err != nil {
		return err
	}
	c.Config.Healthcheck = hc
	return nil
}

// shouldRestart is Docker's decision after the container ended with code, having
// been restarted restarts times: never after a stop or kill by the user.
func (p RestartPolicy) shouldRestart(code, restarts int, manual bool) bool {
	if manual {
		return false
	}
	switch p.Name {
	case RestartAlways, RestartUnlessStopped:
		return true
	case RestartOnFailure:
		return code != 0 && (p.MaximumRetryCount == 0 || restarts < p.MaximumRetryCount)
	}
	return false
}

// backoff is Docker's delay before a restart: 100 ms, doubled at each restart up to
// a minute, back to 100 ms once the container ran for 10 s.
type backoff struct{ d time.Duration }

func (b *backoff) next(ran time.Duration) time.Duration {
	if ran >= 10*time.Second {
		b.d = 0
	}
	switch {
	case b.d == 0:
		b.d = 100 * time.Millisecond
	case b.d < time.Minute:
		b.d *= 2
	}
	b.d = min(b.d, time.Minute)
	return b.d
}

// markStopped records that the user stopped or killed the container, so that its
// monitor does not restart it, and wakes a monitor waiting to restart it.
func (e *Engine) markStopped(id string, sig unix.Signal) {
	c, err := e.update(id, func(c *Container) error {
		c.State.Stopping = int(sig)
		c.HasBeenManuallyStopped = true
		return nil
	})
	if err == nil && c.State.Status == StatusRestarting && alive(c.State.MonitorPid, c.State.MonitorStart) {
		unix.Kill(c.State.MonitorPid, wakeSignal)
	}
}

// wakeSignal tells a monitor to read its record again (a stop during its backoff).
const wakeSignal = unix.SIGUSR1
