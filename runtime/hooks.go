package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs hooks in order with the container's state on stdin, as the
// runtime-spec says; the first failure stops the rest and is returned.
func runHooks(kind string, hooks []specs.Hook, st specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// runHooksWarn runs every hook in order, with the state on stdin as runHooks does,
// but a failing hook is logged as a warning: for poststart and poststop hooks the
// runtime-spec says "the runtime MUST log a warning, but the remaining hooks and
// lifecycle continue as if the hook had succeeded".
func (c *Container) runHooksWarn(kind string, hooks []specs.Hook, st specs.State) {
	if len(hooks) == 0 {
		return
	}
	log := logger(c.Log)
	state, err := json.Marshal(st)
	if err != nil {
		log.Warn(fmt.Sprintf("%s hooks: %v", kind, err), "id", c.ID)
		return
	}
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			log.Warn(fmt.Sprintf("%s hook #%d (%s): %v", kind, i, h.Path, err), "id", c.ID)
		}
	}
}

func runHook(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive")
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = args
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A hook that forks a child keeping stdout open must not hang the runtime.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		// The hook's output joins the error on one line: hullrt reports errors as
		// exactly one line, which callers (containerd's shim) read.
		if msg := strings.Join(strings.Fields(out.String()), " "); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
