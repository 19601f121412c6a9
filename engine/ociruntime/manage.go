package ociruntime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Pause, Resume and Update of hull's own runtime go through the runtime library; a
// binary gets runc's `pause`, `resume` and `update --resources -` (the resources as
// JSON on stdin), which crun and hullrt accept too.

func (h *Hull) Pause(id string) error {
	c, err := h.load(id)
	if err != nil {
		return err
	}
	return c.Pause()
}

func (h *Hull) Resume(id string) error {
	c, err := h.load(id)
	if err != nil {
		return err
	}
	return c.Resume()
}

func (h *Hull) Update(id string, r *specs.LinuxResources) error {
	c, err := h.load(id)
	if err != nil {
		return err
	}
	return c.Update(r)
}

func (b *Binary) Pause(id string) error {
	_, err := b.run(nil, "pause", id)
	return err
}

func (b *Binary) Resume(id string) error {
	_, err := b.run(nil, "resume", id)
	return err
}

func (b *Binary) Update(id string, r *specs.LinuxResources) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	cmd := exec.Command(b.Path, "--root", b.Root, "update", "--resources", "-", id)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := string(bytes.TrimSpace(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s update: %s", b.Name(), runtimeMessage(msg))
	}
	return nil
}
