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
