package monitor

import (
	"testing"
	"time"
)

// Docker's health state machine: failures count once the start period is over
// (or once healthy), retries of them in a row make it unhealthy, a success heals.
func TestHealthRecord(t *testing.T) {
	start := time.Now()
	hc := &HealthConfig{Test: []string{"CMD", "x"}, StartPeriod: time.Minute, Retries: 2}
	h := newHealth(hc)
	probe := func(after time.Duration, code int) bool {
		return h.record(hc, HealthResult{Start: start.Add(after), ExitCode: code}, start)
	}
	if probe(time.Second, 1) || h.Status != HealthStarting || h.FailingStreak != 0 {
		t.Errorf("a failure in the start period: %+v", h)
	}
	if !probe(2*time.Second, 0) || h.Status != HealthHealthy {
		t.Errorf("a success: %+v", h)
	}
	if probe(3*time.Second, 1) || h.FailingStreak != 1 || !probe(4*time.Second, 1) || h.Status != HealthUnhealthy {
		t.Errorf("two failures once healthy: %+v", h)
	}
	for i := range 5 {
		probe(time.Duration(5+i)*time.Second, 1)
	}
	if len(h.Log) != maxHealthLog || h.FailingStreak != 7 {
		t.Errorf("log of %d, streak %d", len(h.Log), h.FailingStreak)
	}
	if newHealth(&HealthConfig{Test: []string{"NONE"}}) != nil || newHealth(nil) != nil {
		t.Error("a disabled check has a health")
	}
	// Without a start period, failures count from the first; Docker's retries are 3.
	hc = &HealthConfig{Test: []string{"CMD-SHELL", "x"}}
	h = newHealth(hc)
	probe(0, 1)
	probe(time.Second, 1)
	if h.Status != HealthStarting || !probe(2*time.Second, 1) || h.Status != HealthUnhealthy {
		t.Errorf("three failures: %+v", h)
	}
}

// TestNextProbe: docker's schedule: the start interval (default 5s) while the
// container is starting within its start period, never past that period's end,
// and the interval after it or once healthy.
func TestNextProbe(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		hc       HealthConfig
		since    time.Duration
		starting bool
		want     time.Duration
	}{
		{HealthConfig{}, 0, true, 30 * s},                                                               // no start period: the interval
		{HealthConfig{Interval: 10 * s}, 0, true, 10 * s},                                               //
		{HealthConfig{Interval: 60 * s, StartPeriod: 120 * s}, 0, true, 5 * s},                          // docker's default start interval
		{HealthConfig{Interval: 60 * s, StartPeriod: 120 * s, StartInterval: s}, 3 * s, true, s},        //
		{HealthConfig{Interval: 60 * s, StartPeriod: 120 * s, StartInterval: s}, 3 * s, false, 60 * s},  // healthy already
		{HealthConfig{Interval: 60 * s, StartPeriod: 120 * s, StartInterval: s}, 130 * s, true, 60 * s}, // period over
		{HealthConfig{Interval: 10 * s, StartPeriod: 15 * s, StartInterval: s}, 8 * s, true, 7 * s},     // not past the period's end
	} {
		if got := c.hc.nextProbe(c.since, c.starting); got != c.want {
			t.Errorf("%+v at %v (starting %v): %v, want %v", c.hc, c.since, c.starting, got, c.want)
		}
	}
}
