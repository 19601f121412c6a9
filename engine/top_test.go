package engine

import (
	"testing"
	"time"
)

func TestCPUPercent(t *testing.T) {
	t0 := time.Now()
	prev := &Stats{Read: t0, CPUTotal: 1e9}
	for _, c := range []struct {
		cur  *Stats
		want float64
	}{
		{&Stats{Read: t0.Add(time.Second), CPUTotal: 1.5e9}, 50}, // half a CPU
		{&Stats{Read: t0.Add(time.Second), CPUTotal: 3e9}, 200},  // two CPUs
		{&Stats{Read: t0.Add(time.Second), CPUTotal: 0.5e9}, 0},  // a restarted container
		{&Stats{Read: t0, CPUTotal: 2e9}, 0},                     // no time passed
	} {
		if got := CPUPercent(prev, c.cur); got != c.want {
			t.Errorf("CPUPercent(%v, %v) = %v, want %v", prev, c.cur, got, c.want)
		}
	}
	if got := CPUPercent(nil, prev); got != 0 {
		t.Errorf("CPUPercent without a first sample = %v", got)
	}
	s := &Stats{MemUsage: 16 << 20, MemLimit: 64 << 20}
	if got := s.MemPercent(); got != 25 {
		t.Errorf("MemPercent = %v, want 25", got)
	}
}
