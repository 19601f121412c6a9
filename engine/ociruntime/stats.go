package ociruntime

import (
	"encoding/json"
	"fmt"

	"github.com/hullproject/hull/runtime"
)

// Pids and Stats of hull's own runtime read the container's cgroup through the
// runtime library; those of a binary ask it as containerd does (`ps --format json`,
// `events --stats`), whose answers have the same shape.

func (h *Hull) Pids(id string) ([]int, error) {
	c, err := h.load(id)
	if err != nil {
		return nil, err
	}
	return c.Pids()
}

func (h *Hull) Stats(id string) (*runtime.Stats, error) {
	c, err := h.load(id)
	if err != nil {
		return nil, err
	}
	return c.Stats()
}

func (b *Binary) Pids(id string) ([]int, error) {
	out, err := b.run(nil, "ps", "--format", "json", id)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("%s ps: %w", b.Name(), err)
	}
	return pids, nil
}

func (b *Binary) Stats(id string) (*runtime.Stats, error) {
	out, err := b.run(nil, "events", "--stats", id)
	if err != nil {
		return nil, err
	}
	var ev struct {
		Type string         `json:"type"`
		Data *runtime.Stats `json:"data"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		return nil, fmt.Errorf("%s events: %w", b.Name(), err)
	}
	if ev.Type != "stats" || ev.Data == nil {
		return nil, fmt.Errorf("%s events: no stats in %q", b.Name(), out)
	}
	return ev.Data, nil
}
