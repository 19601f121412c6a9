package engine

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hullproject/hull/internal/proc"
)

// A wait is registered at one moment and answers what happens after it: docker's
// CLI registers its wait (POST /containers/ID/wait?condition=next-exit) before
// it starts the container, and the start may overtake the wait's first look at
// the record. So a Waiter notes, when it is made, the end the record holds
// (FinishedAt, RestartCount): any end recorded after that one is the next exit,
// however soon it came. With no daemon to tell it, a Waiter reads the record
// (every waitPoll); a monitor that died is found by refresh, as everywhere, and
// a removal by the record's absence, the exit code then from its die event.

// WaitCondition is what a wait waits for: docker's conditions.
type WaitCondition string

// The conditions of docker's wait.
const (
	// WaitNotRunning: at once if the container does not run, else its next exit.
	WaitNotRunning WaitCondition = "not-running"
	// WaitNextExit: the container's next exit, even if it does not run yet.
	WaitNextExit WaitCondition = "next-exit"
	// WaitRemoved: the container's removal.
	WaitRemoved WaitCondition = "removed"
)

// ParseWaitCondition reads docker's condition parameter; "" is not-running.
func ParseWaitCondition(s string) (WaitCondition, error) {
	switch c := WaitCondition(s); c {
	case "":
		return WaitNotRunning, nil
	case WaitNotRunning, WaitNextExit, WaitRemoved:
		return c, nil
	}
	return "", fmt.Errorf("invalid condition: %q", s)
}

// waitPoll is how often a Waiter reads the record.
const waitPoll = 50 * time.Millisecond

// Waiter is a wait registered on one container (RegisterWait).
type Waiter struct {
	e        *Engine
	id, name string
	cond     WaitCondition
	since    time.Time
	finished time.Time // the end the record held at registration
	restarts int
	last     WaitResult // the end the record held when last read
	now      bool       // not-running, and it did not run: answered at once
}

// WaitResult is how a waited-for container ended: its exit code and, if it
// ended in an error (its program could not be started, its monitor died), that.
type WaitResult struct {
	Code  int
	Error string
}

// ErrWaitStopped is returned by Wait when it was told to stop first.
var ErrWaitStopped = errors.New("wait stopped")

// RegisterWait registers a wait for cond on the container ref, from now on.
func (e *Engine) RegisterWait(ref string, cond WaitCondition) (*Waiter, error) {
	if _, err := ParseWaitCondition(string(cond)); err != nil {
		return nil, err
	}
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	w := &Waiter{
		e: e, id: c.ID, name: c.Name, cond: cond, since: time.Now(),
		finished: c.State.FinishedAt, restarts: c.RestartCount,
		last: WaitResult{Code: c.State.ExitCode, Error: c.State.Error},
	}
	if w.now = cond == WaitNotRunning && !c.State.Running(); w.now && c.State.Status == StatusExited {
		// A monitor that died left the end without a time.
		if c, err = w.load(); err == nil {
			w.last = WaitResult{Code: c.State.ExitCode, Error: c.State.Error}
		}
	}
	return w, nil
}

// ID is the waited-for container's ID.
func (w *Waiter) ID() string { return w.id }

// Wait blocks until the condition holds and returns how the container ended;
// ErrWaitStopped when stop closes first (nil: never).
func (w *Waiter) Wait(stop <-chan struct{}) (WaitResult, error) {
	if w.now {
		return w.last, nil
	}
	for {
		c, err := w.load()
		switch {
		case errors.Is(err, ErrNoSuchContainer):
			return w.removed(), nil
		case err != nil:
			return WaitResult{}, err
		case w.cond != WaitRemoved && (!c.State.FinishedAt.Equal(w.finished) || c.RestartCount != w.restarts):
			// An exit its monitor restarts it after ends the wait too, as docker's.
			return WaitResult{Code: c.State.ExitCode, Error: c.State.Error}, nil
		}
		w.last = WaitResult{Code: c.State.ExitCode, Error: c.State.Error}
		select {
		case <-stop:
			return WaitResult{}, ErrWaitStopped
		case <-time.After(waitPoll):
		}
	}
}

// load reads the record; one whose monitor died is finalized, so that its end
// has a time.
func (w *Waiter) load() (*Container, error) {
	c, err := w.e.load(w.id)
	if err != nil {
		return nil, err
	}
	if c.State.Running() && !proc.Alive(c.State.MonitorPid, c.State.MonitorStart) {
		w.e.finalize(w.id)
		if c, err = w.e.load(w.id); err != nil {
			return nil, err
		}
		w.e.refresh(c)
	}
	return c, nil
}

// removed is the result of a container removed while waited for: the exit
// code of its last die since the wait began (a --rm container is gone a moment
// after its end, likely between two reads), else what the record last said.
func (w *Waiter) removed() WaitResult {
	res := w.last
	f := EventFilter{Filter{"container": {w.id}, "event": {"die"}, "type": {"container"}}}
	w.e.Events(EventOptions{Since: w.since, Filter: f}, func(ev Event) error {
		if code, err := strconv.Atoi(ev.Actor.Attributes["exitCode"]); err == nil {
			res = WaitResult{Code: code}
		}
		return nil
	})
	return res
}

// Wait waits until the container is not running and returns its exit code: a
// wait for not-running (RegisterWait).
func (e *Engine) Wait(ref string) (int, error) {
	w, err := e.RegisterWait(ref, WaitNotRunning)
	if err != nil {
		return -1, err
	}
	res, err := w.Wait(nil)
	if err != nil {
		return -1, err
	}
	return res.Code, nil
}
