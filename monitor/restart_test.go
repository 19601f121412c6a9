package monitor

import (
	"testing"
	"time"
)

// Moved from engine/restart_test.go with the restart policy's evaluation and
// backoff (TestRestartPolicy there keeps the parsing of --restart).
func TestRestartDecision(t *testing.T) {
	onFailure2 := RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}
	cases := []struct {
		p       RestartPolicy
		code, n int
		manual  bool
		want    bool
	}{
		{RestartPolicy{Name: "no"}, 1, 0, false, false},
		{onFailure2, 1, 0, false, true},
		{onFailure2, 1, 2, false, false},
		{onFailure2, 0, 0, false, false},
		{RestartPolicy{Name: "on-failure"}, 1, 100, false, true},
		{RestartPolicy{Name: "always"}, 0, 100, false, true},
		{RestartPolicy{Name: "always"}, 0, 0, true, false},
		{RestartPolicy{Name: "unless-stopped"}, 137, 0, true, false},
	}
	for _, c := range cases {
		if got := c.p.ShouldRestart(c.code, c.n, c.manual); got != c.want {
			t.Errorf("%+v exit %d after %d restarts (manual %v): %v", c.p, c.code, c.n, c.manual, got)
		}
	}
	var b backoff
	var got []time.Duration
	for range 12 {
		got = append(got, b.next(time.Second))
	}
	if got[0] != 100*time.Millisecond || got[1] != 200*time.Millisecond || got[9] != 51200*time.Millisecond || got[10] != time.Minute || got[11] != time.Minute {
		t.Errorf("backoff %v", got)
	}
	if d := b.next(11 * time.Second); d != 100*time.Millisecond {
		t.Errorf("after a 10 s run: %v", d)
	}
}
