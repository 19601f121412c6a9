package ociruntime

import (
	"errors"

	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// InProcess is hull's own runtime library, called in-process. The container's init is a
// child of the calling process: the program must call runtime.Init when
// runtime.IsInit() (see cmd/hull), since init is this same binary re-executed.
type InProcess struct {
	Root string // the runtime's state root
	// Trace records the kernel steps of create, start, exec and delete
	// (internal/trace); nil: none.
	Trace *trace.Tracer
}

func (h *InProcess) Name() string { return "hull" }

func (h *InProcess) Create(id, bundle string, o IO) (int, error) {
	o, done, err := o.devNull()
	if err != nil {
		return 0, err
	}
	defer done()
	c, err := runtime.Create(runtime.CreateOpts{Root: h.Root, ID: id, Bundle: bundle, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Console: o.Console,
		Trace: h.Trace.As("create")})
	if err != nil {
		return 0, err
	}
	return c.Record.Pid, nil
}

func (h *InProcess) load(id string) (*runtime.Container, error) {
	c, err := runtime.Load(h.Root, id)
	if errors.Is(err, runtime.ErrNotExist) {
		return nil, ErrNotExist
	}
	return c, err
}

func (h *InProcess) Start(id string) error {
	tr := h.Trace.As("start")
	t0 := tr.Now()
	c, err := h.load(id)
	tr.Step(t0, trace.Process, "read", err, trace.Args{File: "state.json"})
	if err != nil {
		return err
	}
	c.Trace = tr
	return c.Start()
}

func (h *InProcess) State(id string) (specs.State, error) {
	c, err := h.load(id)
	if err != nil {
		return specs.State{}, err
	}
	return c.OCI().State, nil
}

func (h *InProcess) Kill(id string, sig unix.Signal, all bool) error {
	c, err := h.load(id)
	if err != nil {
		return err
	}
	return c.Kill(sig, all)
}

func (h *InProcess) Delete(id string, force bool) error {
	c, err := h.load(id)
	if errors.Is(err, ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	c.Trace = h.Trace.As("delete")
	return c.Delete(force)
}

func (h *InProcess) Exec(id string, p *specs.Process, o IO, detach bool) (func() (int, error), error) {
	c, err := h.load(id)
	if err != nil {
		return nil, err
	}
	o, done, err := o.devNull()
	if err != nil {
		return nil, err
	}
	defer done()
	c.Trace = h.Trace.As("exec")
	proc, err := c.Exec(runtime.ExecOpts{Process: p, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Console: o.Console})
	if err != nil {
		return nil, err
	}
	if o.Started != nil {
		o.Started(proc.Pid)
	}
	if detach {
		proc.Release()
		return func() (int, error) { return 0, nil }, nil
	}
	return func() (int, error) {
		st, err := proc.Wait()
		if err != nil {
			return -1, err
		}
		return runtime.ExitCode(st), nil
	}, nil
}

var _ Runtime = (*InProcess)(nil)

func (h *InProcess) Pause(id string) error {
	c, err := h.load(id)
	if err != nil {
		return err
	}
	return c.Pause()
}

func (h *InProcess) Resume(id string) error {
	c, err := h.load(id)
	if err != nil {
		return err
	}
	return c.Resume()
}

func (h *InProcess) Update(id string, r *specs.LinuxResources) error {
	c, err := h.load(id)
	if err != nil {
		return err
	}
	return c.Update(r)
}

func (h *InProcess) Pids(id string) ([]int, error) {
	c, err := h.load(id)
	if err != nil {
		return nil, err
	}
	return c.Pids()
}

func (h *InProcess) Stats(id string) (*runtime.Stats, error) {
	c, err := h.load(id)
	if err != nil {
		return nil, err
	}
	return c.Stats()
}
