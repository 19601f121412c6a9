package monitor

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/ociruntime"
	"golang.org/x/sys/unix"
)

// HealthConfig is Docker's Config.Healthcheck: Test is ["NONE"] (disabled),
// ["CMD", arg...] or ["CMD-SHELL", command]; durations in nanoseconds on disk. The
// engine merges it from the image and the --health-* flags into the container's
// record; the monitor runs it.
type HealthConfig struct {
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	// StartInterval is the time between checks during the start period, while
	// the container is starting (docker's default 5s).
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Health is Docker's State.Health, which the monitor keeps in the record.
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
	defaultStartInterval = 5 * time.Second
	maxHealthLog         = 5
	maxHealthOutput      = 4096
)

// Args is the probe's command line; nil when the check is disabled.
func (hc *HealthConfig) Args() ([]string, error) {
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

// newHealth is the health of a container that just started, nil if it has no check.
func newHealth(hc *HealthConfig) *Health {
	if args, _ := hc.Args(); args == nil {
		return nil
	}
	return &Health{Status: HealthStarting, Log: []HealthResult{}}
}

// record applies a probe's result, as Docker does: a success makes it healthy;
// failures count once the start period (from startedAt) is over, or once it was
// healthy, and retries of them in a row make it unhealthy. It says whether the
// status changed.
func (h *Health) record(hc *HealthConfig, res HealthResult, startedAt time.Time) bool {
	before := h.Status
	h.Log = append(h.Log, res)
	if len(h.Log) > maxHealthLog {
		h.Log = h.Log[len(h.Log)-maxHealthLog:]
	}
	if res.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = HealthHealthy
	} else if h.Status != HealthStarting || res.Start.Sub(startedAt) >= hc.StartPeriod {
		h.FailingStreak++
		if h.FailingStreak >= cmp.Or(hc.Retries, defaultProbeRetries) {
			h.Status = HealthUnhealthy
		}
	}
	return h.Status != before
}

// nextProbe is the time until the next probe, as docker's: the interval; during
// the start period, while the container is still starting, the start interval,
// and never past the start period's end.
func (hc *HealthConfig) nextProbe(sinceStart time.Duration, starting bool) time.Duration {
	interval := cmp.Or(hc.Interval, defaultProbeInterval)
	if sinceStart >= hc.StartPeriod {
		return interval
	}
	if left := hc.StartPeriod - sinceStart; left < interval {
		return left
	}
	if starting {
		return cmp.Or(hc.StartInterval, defaultStartInterval)
	}
	return interval
}

// startHealth starts the health check of the container, which just started with
// init pid, in this process: one timer, one probe at a time. The returned stop
// ends it and waits for a probe under way. nil when the container has no check.
func (s *supervisor) startHealth(pid int) (stop func()) {
	hc := s.c.Healthcheck
	args, err := hc.Args()
	if err != nil || args == nil {
		return nil
	}
	timeout := cmp.Or(hc.Timeout, defaultProbeTimeout)
	quit, done := make(chan struct{}), make(chan struct{})
	// The container started just now (Started was recorded before this); the
	// record's start time replaces this once a probe has read it.
	started, starting := time.Now(), true
	go func() {
		defer close(done)
		t := time.NewTimer(hc.nextProbe(0, true))
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			if res, ok := s.probe(pid, args, timeout); ok {
				s.e.Health(s.id, func(h *Health, startedAt time.Time) bool {
					changed := h.record(hc, res, startedAt)
					started, starting = startedAt, h.Status == HealthStarting
					return changed
				})
			}
			t.Reset(hc.nextProbe(time.Since(started), starting))
		}
	}()
	return func() { close(quit); <-done }
}

// probe runs the check once in the container through the runtime's exec, with its
// stdout and stderr as the result's output. ok is false when there was nothing to
// probe (not running, or paused: an exec in a frozen cgroup would hang).
func (s *supervisor) probe(pid int, args []string, timeout time.Duration) (res HealthResult, ok bool) {
	if st, err := s.e.Status(s.id); err != nil || !st.Running {
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
	OwnChildren(func() {
		wait, err := s.exec(args, env, w)
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
			s.killMarked(env)
			<-codes
			res.ExitCode, msg = -1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
		}
	})
	res.End = time.Now().UTC()
	if res.ExitCode != 0 && !alive(pid) {
		return res, false // a probe that failed because the container is ending says nothing
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

// exec starts args in the container as `hull exec` would: the process of its
// bundle, without a terminal, with env added, and out as its stdout and stderr.
func (s *supervisor) exec(args []string, env string, out *os.File) (func() (int, error), error) {
	spec, err := ociruntime.LoadSpec(s.c.Bundle)
	if err != nil {
		return nil, err
	}
	if spec.Process == nil {
		return nil, errors.New("the container's bundle has no process")
	}
	p := *spec.Process
	p.Terminal = false
	p.Args = args
	p.Env = setEnv(p.Env, env)
	return s.rt.Exec(s.id, &p, ociruntime.IO{Stdout: out, Stderr: out}, false)
}

// setEnv sets kv (NAME=value) in env, in place of NAME's value if it has one.
func setEnv(env []string, kv string) []string {
	name, _, _ := strings.Cut(kv, "=")
	out := append([]string{}, env...)
	for i, old := range out {
		if n, _, _ := strings.Cut(old, "="); n == name {
			out[i] = kv
			return out
		}
	}
	return append(out, kv)
}

// killMarked kills the container's processes whose environment holds mark.
func (s *supervisor) killMarked(mark string) {
	pids, _ := s.rt.Pids(s.id)
	for _, pid := range pids {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00"+mark+"\x00")) {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}
