package engine

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// passErr is what a test pass returns: when it started, on the test's clock.
type passErr struct{ started int64 }

func (p passErr) Error() string { return "pass" }

// TestReconcilerShares: callers that ask while a pass runs share the next one, and
// no caller is answered by a pass that started before it asked (its change would
// not be seen). `rm` of 50 containers made 50 passes, one after the other.
func TestReconcilerShares(t *testing.T) {
	var r reconciler
	var clock, passes atomic.Int64
	release := make(chan struct{})
	running := make(chan struct{})
	pass := func() error {
		n := passes.Add(1)
		started := clock.Add(1)
		if n == 1 {
			close(running)
			<-release
		}
		return passErr{started}
	}
	const callers = 20
	var wg sync.WaitGroup
	bad := make(chan string, callers+1)
	ask := func() {
		defer wg.Done()
		asked := clock.Add(1)
		err := r.do(pass)
		p, ok := err.(passErr)
		if !ok {
			bad <- "not a pass's answer"
		} else if p.started < asked {
			bad <- "answered by a pass that started before the caller asked"
		}
	}
	wg.Add(1)
	go ask()
	<-running
	wg.Add(callers)
	for range callers {
		go ask()
	}
	// Let the callers queue behind the running pass before it ends.
	for r.waiting() < callers-1 { // one runs the next pass, the others wait for it
		goruntime.Gosched()
	}
	close(release)
	wg.Wait()
	close(bad)
	for s := range bad {
		t.Error(s)
	}
	if n := passes.Load(); n != 2 {
		t.Errorf("%d passes for %d callers asking during one: want 2", n, callers)
	}
}
