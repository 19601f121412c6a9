package engine

import (
	"errors"
	"time"

	"github.com/hullproject/hull/internal/proc"
)

// PruneFilter is `container prune --filter`: until= (a time or a duration ago),
// label=KEY[=VALUE] and label!=KEY[=VALUE].
type PruneFilter struct {
	Until    time.Time
	Label    []string
	NotLabel []string
}

// PruneContainers removes every container that is not running (created or exited)
// and passes f; it returns their IDs and the bytes their writable layers held.
func (e *Engine) PruneContainers(f PruneFilter) ([]string, uint64, error) {
	list, err := e.List()
	if err != nil {
		return nil, 0, err
	}
	var gone []string
	var space uint64
	var errs []error
	for _, c := range list {
		if c.State.Running() || proc.Alive(c.State.MonitorPid, c.State.MonitorStart) {
			continue
		}
		if !f.Until.IsZero() && !c.Created.Before(f.Until) {
			continue
		}
		match := true
		for _, l := range f.Label {
			match = match && HasLabel(c.Config.Labels, l)
		}
		for _, l := range f.NotLabel {
			match = match && !HasLabel(c.Config.Labels, l)
		}
		if !match {
			continue
		}
		size := e.ContainerSize(c.ID)
		// Not forced: one started meanwhile stays.
		if err := e.Remove(c.ID, false); err != nil {
			if !errors.Is(err, ErrNoSuchContainer) {
				errs = append(errs, err)
			}
			continue
		}
		gone = append(gone, c.ID)
		space += size
	}
	return gone, space, errors.Join(errs...)
}
