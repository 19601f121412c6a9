package engine

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/proc"
)

// waitRecord writes a bare record, as Create would, and returns the engine.
func waitRecord(t *testing.T, status string) (*Engine, string) {
	t.Helper()
	id := "feed" + strings.Repeat("0", 60)
	e := fakeRecords(t, map[string]string{id: "w"})
	if _, err := e.update(id, func(c *Container) error { c.State.Status = status; return nil }); err != nil {
		t.Fatal(err)
	}
	return e, id
}

// run records what a monitor records when it starts a container: running, with
// a live monitor (this process).
func run(t *testing.T, e *Engine, id string) {
	t.Helper()
	start, _ := proc.StartTime(os.Getpid())
	if _, err := e.update(id, func(c *Container) error {
		c.State.Status, c.State.StartedAt = StatusRunning, time.Now()
		c.State.MonitorPid, c.State.MonitorStart = os.Getpid(), start
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// exit records what a monitor records at the container's end, die event included.
func exit(t *testing.T, e *Engine, id string, code int, restart bool) {
	t.Helper()
	c, err := e.update(id, func(c *Container) error {
		c.State.ExitCode, c.State.FinishedAt = code, time.Now()
		if restart {
			c.State.Status = StatusRestarting
			c.RestartCount++
		} else {
			c.State.Status, c.State.MonitorPid, c.State.MonitorStart = StatusExited, 0, 0
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.exited(c, code, false)
}

func waitFor(t *testing.T, w *Waiter, d time.Duration) (WaitResult, error) {
	t.Helper()
	stop := make(chan struct{})
	timer := time.AfterFunc(d, func() { close(stop) })
	defer timer.Stop()
	return w.Wait(stop)
}

// docker run registers its wait (next-exit) before it starts the container, and
// a short-lived container may start and end before the wait first reads the
// record: the wait still answers that end, not the one after.
func TestWaitNextExitRegisteredBeforeStart(t *testing.T) {
	e, id := waitRecord(t, StatusCreated)
	next, err := e.RegisterWait("w", WaitNextExit)
	if err != nil {
		t.Fatal(err)
	}
	notRunning, err := e.RegisterWait("w", WaitNotRunning)
	if err != nil {
		t.Fatal(err)
	}
	run(t, e, id)
	exit(t, e, id, 3, false)
	if res, err := waitFor(t, next, 5*time.Second); err != nil || res.Code != 3 {
		t.Errorf("next-exit registered before the start: %+v, %v; want code 3", res, err)
	}
	// A created container does not run: not-running is answered at once, with
	// what it was when registered (docker's exit code 0).
	if res, err := waitFor(t, notRunning, time.Second); err != nil || res.Code != 0 {
		t.Errorf("not-running on a created container: %+v, %v", res, err)
	}
	// Registered after that end, next-exit waits for another one.
	late, err := e.RegisterWait(id, WaitNextExit)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := waitFor(t, late, 300*time.Millisecond); !errors.Is(err, ErrWaitStopped) {
		t.Errorf("next-exit after the end answered %+v, %v: want it to wait", res, err)
	}
	if res, err := e.Wait(id); err != nil || res != 3 {
		t.Errorf("Wait on an exited container: %d, %v", res, err)
	}
}

// An exit its monitor restarts the container after ends a wait, as docker's.
func TestWaitRestartEndsWait(t *testing.T) {
	e, id := waitRecord(t, StatusCreated)
	run(t, e, id)
	w, err := e.RegisterWait(id, WaitNotRunning)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan WaitResult, 1)
	go func() { res, _ := waitFor(t, w, 5*time.Second); done <- res }()
	time.Sleep(2 * waitPoll)
	select {
	case res := <-done:
		t.Fatalf("not-running on a running container answered %+v before it ended", res)
	default:
	}
	exit(t, e, id, 1, true)
	if res := <-done; res.Code != 1 {
		t.Errorf("wait across a restart: %+v, want code 1", res)
	}
}

// removed answers the removal, with the exit code of the die before it, even
// when the record is gone before the wait read the end (--rm).
func TestWaitRemoved(t *testing.T) {
	e, id := waitRecord(t, StatusCreated)
	w, err := e.RegisterWait(id, WaitRemoved)
	if err != nil {
		t.Fatal(err)
	}
	run(t, e, id)
	exit(t, e, id, 42, false)
	// Exited is not removed.
	if res, err := waitFor(t, w, 300*time.Millisecond); !errors.Is(err, ErrWaitStopped) {
		t.Fatalf("removed answered %+v, %v while the record is there", res, err)
	}
	os.RemoveAll(e.dir(id))
	if res, err := waitFor(t, w, 5*time.Second); err != nil || res.Code != 42 {
		t.Errorf("removed: %+v, %v; want code 42", res, err)
	}
	if _, err := e.RegisterWait(id, WaitRemoved); !errors.Is(err, ErrNoSuchContainer) {
		t.Errorf("wait on a removed container: %v", err)
	}
	if _, err := ParseWaitCondition("soon"); err == nil {
		t.Error("condition soon accepted")
	}
}
