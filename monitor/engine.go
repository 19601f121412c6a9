package monitor

import (
	"errors"
	"net"
	"time"

	"github.com/hullproject/hull/ociruntime"
)

// Engine is what a monitor asks of the engine whose container it supervises: the
// engine keeps the container's record, its network, its rootfs and its files; the
// monitor decides when each changes. Every method takes the container's ID. The
// engine implements it (engine.Engine.ForMonitor); the monitor calls it from its
// own process, in this order for each run:
//
//	Container                          once, when the monitor starts
//	ListenAttach                       once, unless resumed (the socket is handed over)
//	UseRootfs, NetworkUp, Started      a run begins (StartFailed if the first cannot)
//	Health, Status                     while it runs: probes and their results
//	NetworkDown, Exited                it ended; Exited decides on a restart
//	Status ... RestartAbandoned        waiting to restart, until the user stops it
//	Remove or UnmountIdle              it ended for good (--rm or not)
type Engine interface {
	// Container reads what the monitor needs of the container's record.
	Container(id string) (*Container, error)
	// Status reads the record's status now.
	Status(id string) (Status, error)
	// ListenAttach makes the container's attach socket (Container.AttachSocket).
	ListenAttach(id string) (*net.UnixListener, error)

	// UseRootfs mounts the container's rootfs if it is not, and keeps it from
	// being unmounted until release; UnmountIdle unmounts it unless someone uses
	// it or the record says the container runs.
	UseRootfs(id string) (release func(), err error)
	UnmountIdle(id string)
	// NetworkUp wires the container's network to init (host pid), once the
	// runtime created it and before its program runs; NetworkDown undoes it,
	// but for what nobody waits for (the veth pairs' deletion), which it returns
	// for the monitor to run once it has reported the end.
	NetworkUp(id string, pid int) error
	NetworkDown(id string) (finish func())

	// Started records that the user's program runs. For a restart (s.Restart)
	// it fails with ErrStopped if the user stopped the container meanwhile.
	Started(id string, s Start) error
	// StartFailed records why the container's first run could not start, with
	// the exit code run reports for it.
	StartFailed(id string, code int, err error)
	// ExitCode is the code of a run that could not start with err (125, 126 or
	// 127, as Docker's).
	ExitCode(err error) int
	// Exited records how a run ended (err: why it could not start, if it did
	// not) and, under the same lock, asks restart whether the monitor restarts
	// the container, given the record's restart policy, its restart count and
	// whether the user stopped it. The record then says "restarting" (one
	// restart more) or "exited". autoRemove is the record's --rm.
	Exited(id string, ex Exit, err error, restart func(p RestartPolicy, restarts int, stopped bool) bool) (autoRemove bool, rerr error)
	// RestartAbandoned records that the container, which was to restart, will
	// not: the user stopped it during the backoff.
	RestartAbandoned(id string)
	// Health applies a probe's result to the record's health with apply (given
	// the run's start), while the record says the container runs.
	Health(id string, apply func(h *Health, startedAt time.Time) (changed bool))
	// Remove removes the container for good (--rm): from rt, the runtime that
	// ran it, and the engine's record; it returns what is left (its snapshot and
	// files), which nobody waits for: the monitor runs it after it has reported
	// the end.
	Remove(id string, rt ociruntime.Runtime) (finish func() error, err error)
}

// Container is what the monitor needs of a container's record, read once when it
// starts.
type Container struct {
	Runtime ociruntime.Runtime // the runtime that runs it
	Bundle  string             // its OCI bundle
	LogPath string             // its json-file log
	LogOpts []string           // the log's options (max-size=..., max-file=...)
	// AttachSocket is where attach clients connect (ListenAttach makes it).
	AttachSocket string
	Tty          bool // it has a terminal
	OpenStdin    bool // its stdin is open (-i): attached clients feed it
	AutoRemove   bool // --rm
	Healthcheck  *HealthConfig
}

// Status is what the monitor reads of the record while the container runs or
// waits to restart.
type Status struct {
	// Running: the record says it runs, neither paused nor restarting.
	Running bool
	// Stopped: the user stopped or killed it, which ends its restarts.
	Stopped bool
}

// Start is a run's start, for the record.
type Start struct {
	Pid int       // init's host pid
	At  time.Time // when the user's program started
	// Restart: a restart by the policy, not a start by the user.
	Restart bool
	// Health is the health check's first state; nil without a check.
	Health *Health
}

// ErrStopped is Engine.Started's refusal of a restart: the user stopped the
// container while its monitor restarted it.
var ErrStopped = errors.New("stopped while restarting")
