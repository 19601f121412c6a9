package engine

import (
	"fmt"

	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/runtime"
	"golang.org/x/sys/unix"
)

// Pause and unpause freeze and thaw every process of a running container through
// its runtime; each changes the record under the container's lock (Engine.update).
// Stop, kill and rm thaw a paused container first (thawFor).

// Pause freezes every process of a running container.
func (e *Engine) Pause(ref string) error {
	return e.freeze(ref, "pause", StatusRunning, StatusPaused)
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ref string) error {
	return e.freeze(ref, "unpause", StatusPaused, StatusRunning)
}

// freeze pauses or unpauses (verb) a container that is from, which is then to.
func (e *Engine) freeze(ref, verb, from, to string) error {
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	c, err := e.update(id, func(c *Container) error {
		e.refresh(c)
		switch {
		case c.State.Status == StatusPaused && verb == "pause":
			return conflictf("container %s is already paused", c.Name)
		case c.State.Status != from:
			return conflictf("container %s is not %s", c.Name, from)
		}
		rt, err := e.Runtime(c)
		if err != nil {
			return err
		}
		freeze := rt.Resume
		if verb == "pause" {
			freeze = rt.Pause
		}
		if err := freeze(c.ID); err != nil {
			return fmt.Errorf("%s container %s: %w", verb, c.Name, err)
		}
		c.State.Status = to
		return nil
	})
	if err != nil {
		return err
	}
	e.event(c, verb)
	return nil
}

// thawFor resumes a paused container after stop, kill or rm sent it sig, as docker
// does for its stop signal and SIGKILL: a frozen process (cgroup v1) takes no
// signal, not even SIGKILL, until it is thawed.
func (e *Engine) thawFor(c *Container, rt ociruntime.Runtime, sig unix.Signal) {
	if c.State.Status != StatusPaused {
		return
	}
	if stop, err := stopSignal(c); sig != unix.SIGKILL && (err != nil || sig != stop) {
		return
	}
	e.update(c.ID, func(c *Container) error {
		if c.State.Status == StatusPaused && rt.Resume(c.ID) == nil {
			c.State.Status = StatusRunning
		}
		return nil
	})
}

// stopSignal is the container's stop signal (SIGTERM unless --stop-signal or the
// image says otherwise).
func stopSignal(c *Container) (unix.Signal, error) {
	if c.Config.StopSignal == "" {
		return unix.SIGTERM, nil
	}
	return runtime.ParseSignal(c.Config.StopSignal)
}
