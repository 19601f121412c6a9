// Package engine is hull's container engine without a daemon: container records,
// spec generation from an image's config and the user's options, and the lifecycle
// verbs. Every verb is a library call made by a short-lived `hull` command (or, soon,
// the Docker API's handler); a per-container monitor process (package monitor; its
// command line is monitor.Args, and the engine serves it through monitor.Engine,
// engine/monitor.go) is the only thing that stays behind while a container runs.
// Options are judged in one step (CreateOptions.Validate, options.go) before any
// work; the engine reaches the kernel only through ociruntime.
//
// A container's life:
//
//	e, _ := engine.New(root, state)
//	c, _ := e.Create(engine.CreateOptions{Image: "busybox", Cmd: []string{"echo", "hi"}})
//	h, _ := e.Start(c.ID, &engine.Attach{...})  // forks the monitor; it creates and starts
//	code, _ := h.Wait()                           // the container's exit code
//	_ = e.Remove(c.ID, false)                     // record, snapshot, bundle gone
package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hullproject/hull/runtime"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/ociruntime"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Engine is one engine root (records, images) and state directory (bundles, runtime
// state).
type Engine struct {
	Root     string
	StateDir string
	Images   *image.Store
	// Exe is the hull binary the monitor is started from (`Exe monitor ID`).
	Exe string
	// NetDefaults shape the default network at its first use (engine/network.go).
	NetDefaults NetDefaults
	// Init is the hull-init binary `--init` mounts into a container; "" is
	// hull-init beside Exe (engine/spec.go).
	Init string
	// Trace records the steps of a create, start or exec (internal/trace): the
	// engine's, the monitor's it spawns, the runtime's and the network's. Nil:
	// none.
	Trace *trace.Tracer

	// DeferRemoval makes Remove move a container's files into the trash, for
	// EmptyTrashLater to delete after the caller has answered, rather than
	// delete them itself (engine/trash.go).
	DeferRemoval bool

	reconciler reconciler  // engine/network.go
	trashed    atomic.Bool // Remove moved a container into the trash
}

// New opens the engine below root and state and wires the image store's InUse, so
// that an image a container uses is not removed.
func New(root, state string) (*Engine, error) {
	s, err := image.Open(root)
	if err != nil {
		return nil, err
	}
	exe, _ := os.Executable()
	e := &Engine{Root: root, StateDir: state, Images: s, Exe: exe}
	s.InUse = e.imageUsers
	return e, nil
}

// imageUsers lists the containers that use image id.
func (e *Engine) imageUsers(id digest.Digest) ([]string, error) {
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, cid := range ids {
		if c, err := e.load(cid); err == nil && c.Image == id.String() {
			out = append(out, cid[:12])
		}
	}
	return out, nil
}

// Runtime returns the OCI runtime a container uses.
func (e *Engine) Runtime(c *Container) (ociruntime.Runtime, error) {
	rt, err := ociruntime.New(c.HostConfig.Runtime, filepath.Join(e.StateDir, "runtime"))
	if ip, ok := rt.(*ociruntime.InProcess); ok {
		// An external runtime is not traced: runc knows no trace.
		ip.Trace = e.Trace
	}
	return rt, err
}

// readSpec reads a container's OCI spec from its bundle, and says where it is.
func (e *Engine) readSpec(id string) (*specs.Spec, string, error) {
	file := filepath.Join(e.bundle(id), "config.json")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, file, err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, file, fmt.Errorf("read %s: %w", file, err)
	}
	return &s, file, nil
}

// ExitCodeOf is the exit code `hull run` and `hull exec` return when the container's
// process could not be started, as Docker's: 127 when the program is not found, 126
// when it cannot be invoked, 125 for any other failure of hull itself. The runtime
// says which (its sentinels, from hull's init or from an external runtime's message
// in ociruntime.Binary).
func ExitCodeOf(err error) int {
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		return 127
	case errors.Is(err, runtime.ErrNotExecutable):
		return 126
	}
	return 125
}

// StartError is a failure to start the container's process, with its exit code.
type StartError struct {
	Code int
	Msg  string
}

func (e *StartError) Error() string { return e.Msg }
