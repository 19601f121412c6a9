package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/hullproject/hull/logs"
)

// LogsOptions select the entries of a container's log that Logs hands out.
type LogsOptions struct {
	Tail  int       // only the last Tail entries; < 0 for all
	Since time.Time // only entries at or after Since; zero for all
	Until time.Time // only entries at or before Until; zero for all
	// Follow hands out new entries as they come until the container is not
	// running (its log read to the end) or Stop is closed.
	Follow bool
	Stop   <-chan struct{}
}

// Logs calls fn for each entry of container ref's log (`hull logs`, the Docker
// API's GET /containers/{id}/logs). An error of fn ends it. A container with
// the log driver none has no log to read: errors.ErrUnsupported.
func (e *Engine) Logs(ref string, o LogsOptions, fn func(logs.Entry) error) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	if c.HostConfig.LogConfig.Type == LogNone {
		return &kindError{errors.ErrUnsupported, fmt.Sprintf("configured logging driver does not support reading: container %s has log driver none", c.Name)}
	}
	ro := logs.ReadOptions{Tail: o.Tail, Since: o.Since, Follow: o.Follow}
	ro.Done = func() bool {
		select {
		case <-o.Stop:
			return true
		default:
		}
		c, err := e.Get(c.ID)
		return err != nil || !c.State.Running()
	}
	return logs.Read(e.LogPath(c.ID), ro, func(en logs.Entry) error {
		if !o.Until.IsZero() && en.Time.After(o.Until) {
			return nil
		}
		return fn(en)
	})
}
