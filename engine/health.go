package engine

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/hullproject/hull/monitor"
	"github.com/hullproject/hull/ociruntime"
	"golang.org/x/sys/unix"
)

// HealthConfig is Docker's Config.Healthcheck: Test is ["NONE"] (disabled),
// ["CMD", arg...] or ["CMD-SHELL", command]; durations in nanoseconds on disk.
type HealthConfig struct {
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// Health is Docker's State.Health.
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one probe.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Health statuses.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Docker's defaults and limits.
const (
	defaultProbeInterval = 30 * time.Second
	defaultProbeTimeout  = 30 * time.Second
	defaultProbeRetries  = 3
	maxHealthLog         = 5
	maxHealthOutput      = 4096
)

// healthConfig merges the health flags over the image's Healthcheck (config blob
// img), as Docker does: each flag that is set replaces the image's value.
func healthConfig(o *MonitorOptions, img []byte) (*HealthConfig, error) {
	for name, d := range map[string]time.Duration{"interval": o.HealthInterval, "timeout": o.HealthTimeout, "start-period": o.HealthStartPeriod} {
		if d < 0 || (d > 0 && d < time.Millisecond) {
			return nil, fmt.Errorf("--health-%s must be at least 1ms", name)
		}
	}
	if o.HealthRetries < 0 {
		return nil, errors.New("--health-retries cannot be negative")
	}
	if o.NoHealthcheck {
		if o.HealthCmd != "" || o.HealthInterval != 0 || o.HealthTimeout != 0 || o.HealthStartPeriod != 0 || o.HealthRetries != 0 {
			return nil, errors.New("conflicting options: --no-healthcheck and --health-*")
		}
		return &HealthConfig{Test: []string{"NONE"}}, nil
	}
	var ic struct {
		Config struct{ Healthcheck *HealthConfig } `json:"config"`
	}
	json.Unmarshal(img, &ic) // an image without one is the common case
	hc := &HealthConfig{}
	if ic.Config.Healthcheck != nil {
		*hc = *ic.Config.Healthcheck
	}
	if o.HealthCmd != "" {
		hc.Test = []string{"CMD-SHELL", o.HealthCmd}
	}
	if o.HealthInterval != 0 {
		hc.Interval = o.HealthInterval
	}
	if o.HealthTimeout != 0 {
		hc.Timeout = o.HealthTimeout
	}
	if o.HealthStartPeriod != 0 {
		hc.StartPeriod = o.HealthStartPeriod
	}
	if o.HealthRetries != 0 {
		hc.Retries = o.HealthRetries
	}
	if len(hc.Test) == 0 {
		return nil, nil
	}
	if _, err := hc.args(); err != nil {
		return nil, err
	}
	return hc, nil
}

// args is the probe's command line; nil when the check is disabled.
func (hc *HealthConfig) args() ([]string, error) {
	if hc == nil || len(hc.Test) == 0 {
		return nil, nil
	}
	switch hc.Test[0] {
	case "NONE":
		return nil, nil
	case "CMD":
		if len(hc.Test) > 1 {
			return hc.Test[1:], nil
		}
	case "CMD-SHELL":
		if len(hc.Test) == 2 {
			return []string{"/bin/sh", "-c", hc.Test[1]}, nil
		}
	}
	return nil, fmt.Errorf("invalid health check %q: want NONE, CMD ARG... or CMD-SHELL COMMAND", hc.Test)
}

// startHealth starts the health check of container c, which just started, in the
// monitor: one timer, one probe at a time. The returned stop ends it and waits for
// a probe under way. nil when the container has no check.
func (e *Engine) startHealth(c *Container) (stop func()) {
	hc := c.Config.Healthcheck
	args, err := hc.args()
	if err != nil || args == nil {
		return nil
	}
	interval := cmp.Or(hc.Interval, defaultProbeInterval)
	timeout := cmp.Or(hc.Timeout, defaultProbeTimeout)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			if res, ok := e.probe(c.ID, args, timeout); ok {
				e.recordHealth(c.ID, hc, res)
			}
			t.Reset(interval)
		}
	}()
	return func() { close(quit); <-done }
}

// probe runs the check once in the container through the runtime's exec, with its
// stdout and stderr as the result's output. ok is false when there was nothing to
// probe (not running, or paused: an exec in a frozen cgroup would hang).
func (e *Engine) probe(id string, args []string, timeout time.Duration) (res HealthResult, ok bool) {
	c, err := e.load(id)
	if err != nil || c.State.Status != StatusRunning {
		return res, false
	}
	r, w, err := os.Pipe()
	if err != nil {
		return res, false
	}
	defer r.Close()
	output := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		io.CopyN(&b, r, maxHealthOutput)
		io.Copy(io.Discard, r) // the rest is dropped, the probe not blocked
		output <- b.Bytes()
	}()
	// The probe's processes carry a mark, so that a probe past its timeout can be
	// found among the container's processes and killed, whichever runtime runs it.
	mark := make([]byte, 8)
	rand.Read(mark)
	env := "HULL_HEALTHCHECK=" + hex.EncodeToString(mark)
	res.Start = time.Now().UTC()
	var msg string
	monitor.OwnChildren(func() {
		wait, err := e.Exec(id, ExecOptions{Args: args, Env: []string{env}}, ociruntime.IO{Stdout: w, Stderr: w})
		w.Close()
		if err != nil {
			res.ExitCode, msg = -1, err.Error()
			return
		}
		codes := make(chan int, 1)
		go func() {
			code, err := wait()
			if err != nil {
				code = -1
			}
			codes <- code
		}()
		select {
		case res.ExitCode = <-codes:
		case <-time.After(timeout):
			e.killMarked(c, env)
			<-codes
			res.ExitCode, msg = -1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
		}
	})
	res.End = time.Now().UTC()
	if res.ExitCode != 0 {
		// A probe that failed because the container is ending says nothing.
		if _, st, err := procStat(c.State.Pid); err != nil || st == 'Z' || st == 'X' {
			return res, false
		}
	}
	select {
	case o := <-output:
		res.Output = string(o)
	case <-time.After(time.Second):
		// A process the probe left in the background holds the pipe.
		r.Close()
		res.Output = string(<-output)
	}
	if msg != "" {
		res.Output = msg
	}
	return res, true
}

// killMarked kills the container's processes whose environment holds mark.
func (e *Engine) killMarked(c *Container, mark string) {
	rt, err := e.Runtime(c)
	if err != nil {
		return
	}
	pids, _ := rt.Pids(c.ID)
	for _, pid := range pids {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00"+mark+"\x00")) {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// recordHealth applies a probe's result to the record, as Docker does: a success
// makes it healthy; failures count once the start period is over (or once it was
// healthy), and retries of them in a row make it unhealthy.
func (e *Engine) recordHealth(id string, hc *HealthConfig, res HealthResult) {
	var changed *Container
	e.update(id, func(c *Container) error {
		h := c.State.Health
		if c.State.Status != StatusRunning || h == nil {
			return nil // ended meanwhile
		}
		before := h.Status
		h.Log = append(h.Log, res)
		if len(h.Log) > maxHealthLog {
			h.Log = h.Log[len(h.Log)-maxHealthLog:]
		}
		if res.ExitCode == 0 {
			h.FailingStreak = 0
			h.Status = HealthHealthy
		} else if h.Status != HealthStarting || res.Start.Sub(c.State.StartedAt) >= hc.StartPeriod {
			h.FailingStreak++
			if h.FailingStreak >= cmp.Or(hc.Retries, defaultProbeRetries) {
				h.Status = HealthUnhealthy
			}
		}
		if h.Status != before {
			changed = c
		}
		return nil
	})
	if changed != nil {
		e.event(changed, "health_status: "+changed.State.Health.Status)
	}
}
