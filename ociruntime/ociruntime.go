// Package ociruntime is the seam between the engine and an OCI runtime: the engine
// writes a bundle (config.json + rootfs) and drives one container through it.
//
// A container's life through a Runtime, as the monitor drives it:
//
//	rt, _ := ociruntime.New("", stateDir)       // hull's library; or "runc", "/path/crun"
//	pid, _ := rt.Create(id, bundle, stdio)      // init waits for Start; pid is its host pid
//	_ = rt.Start(id)                            // the user's program runs
//	st, _ := rt.State(id)                       // "created", "running", "paused", "stopped"
//	pids, _ := rt.Pids(id)                      // host pids of its processes (hull top)
//	stats, _ := rt.Stats(id)                    // its cgroup's counters (hull stats)
//	_ = rt.Kill(id, unix.SIGTERM, false)        // or all=true for every process
//	... the caller reaps init: it is its child (hull) or reparented to it (a subreaper) ...
//	oom, _ := ociruntime.OOMKilled(bundle)       // before Delete: the cgroup counts them
//	_ = rt.Delete(id, false)                    // state, cgroup gone; force kills first
//	_ = ociruntime.KillCgroup(bundle)           // what is left of one a runtime lost (cgroup.go)
//
// Exec runs another process in a running container. There are two implementations:
// InProcess (the runtime package, called in this process) and Binary (any runc-compatible command,
// invoked as containerd and conmon invoke it). Both must pass the suite in
// ociruntime/testsuite.
package ociruntime

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// IO is a process's stdio; nil entries are /dev/null. With a terminal
// (process.terminal in the spec) the stdio is the pty instead, and Console receives
// its master once the runtime made it. The exception is a foreground Exec through an
// external runtime: runc proxies the terminal itself between the pty and
// Stdin/Stdout/Stderr (which should then be the user's terminal), and Console is
// not called.
type IO struct {
	Stdin, Stdout, Stderr *os.File
	Console               func(master *os.File)
	// OwnTerminal asks a foreground Exec through an external runtime for a pty
	// of its own, whose master goes to Console as with the in-process runtime:
	// runc proxies the terminal between the process's pty and its own stdio,
	// which must then be a terminal (it opens /dev/tty), and a caller without
	// one (hull system service) has none to lend it.
	OwnTerminal bool
	// Started, if set, gets the host pid of an Exec'd process once it runs
	// (the in-process runtime; an external one does not tell it).
	Started func(pid int)
}

// Runtime drives containers of one runtime, with its state in one directory.
type Runtime interface {
	// Name is "hull" or the binary's name ("runc", "crun", ...).
	Name() string
	// Create makes the container from bundle, its init stopped before the user's
	// program, with io as its stdio. It returns init's host pid.
	Create(id, bundle string, io IO) (int, error)
	// Start runs the user's program of a created container.
	Start(id string) error
	// State reports the container's status; ErrNotExist if the runtime has no
	// record of it.
	State(id string) (specs.State, error)
	// Kill sends sig to init, or with all to every process of the container.
	Kill(id string, sig unix.Signal, all bool) error
	// Delete removes a stopped container; force kills a running one first.
	// Deleting a container the runtime does not know is no error.
	Delete(id string, force bool) error
	// Exec starts p in the running container. Without detach the returned wait
	// gives the process's exit code (128+signal when killed); with detach it
	// returns 0 at once and the process is nobody's child but the reaper's.
	Exec(id string, p *specs.Process, io IO, detach bool) (wait func() (int, error), err error)
	// Pids lists the host pids of every process in the container's cgroup.
	Pids(id string) ([]int, error)
	// Stats reads the container's resource use from its cgroup (runc's shape).
	Stats(id string) (*runtime.Stats, error)
	// Pause freezes every process of the container; Resume thaws them.
	Pause(id string) error
	Resume(id string) error
	// Update changes a created, running or paused container's resources: the
	// fields r sets replace the ones in force (runc update).
	Update(id string, r *specs.LinuxResources) error
}

// ErrNotExist is returned by State for a container the runtime does not know.
var ErrNotExist = errors.New("container does not exist in the runtime")

// New returns the runtime name with its state below stateDir: "" or "hull" is hull's
// own library, anything else a runc-compatible binary found in $PATH (or a path).
func New(name, stateDir string) (Runtime, error) {
	if name == "" || name == "hull" {
		return &InProcess{Root: filepath.Join(stateDir, "hull")}, nil
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return nil, errors.New("runtime " + name + " not found")
	}
	return &Binary{Path: bin, Root: filepath.Join(stateDir, filepath.Base(name))}, nil
}

// LoadSpec reads the OCI spec of bundle (its config.json).
func LoadSpec(bundle string) (*specs.Spec, error) { return runtime.LoadSpec(bundle) }

// devNull fills nil stdio with /dev/null, and returns what to close.
func (o IO) devNull() (IO, func(), error) {
	if o.Stdin != nil && o.Stdout != nil && o.Stderr != nil {
		return o, func() {}, nil
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return o, nil, err
	}
	if o.Stdin == nil {
		o.Stdin = null
	}
	if o.Stdout == nil {
		o.Stdout = null
	}
	if o.Stderr == nil {
		o.Stderr = null
	}
	return o, func() { null.Close() }, nil
}
