package engine

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/monitor"
	"github.com/hullproject/hull/ociruntime"
)

// A running container's monitor (package monitor) is this binary run again, one
// process per container: Start spawns it (lifecycle.go), and cmd/hull hands it to
// monitor.Main with ForMonitor. The monitor decides (runs, restarts, health
// checks); the engine keeps the record, the network, the rootfs and the files,
// and changes them when the monitor says, through monitorEngine.

// ForMonitor is the engine as a container's monitor sees it.
func (e *Engine) ForMonitor() monitor.Engine { return &monitorEngine{e: e} }

// monitorEngine is the engine's side of a monitor: its methods run in the monitor's
// process.
type monitorEngine struct {
	e *Engine
	// start is this process's start time, as the record keeps it with its pid
	// (MonitorStart), read once.
	start uint64
}

var _ monitor.Engine = (*monitorEngine)(nil)

func (m *monitorEngine) Container(id string) (*monitor.Container, error) {
	if !idRE.MatchString(id) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, id)
	}
	t0 := m.e.Trace.Now()
	c, err := m.e.load(id)
	m.e.Trace.Step(t0, trace.Process, "read", err, trace.Args{File: "container.json"})
	if err != nil {
		return nil, err
	}
	rt, err := m.e.Runtime(c)
	if err != nil {
		return nil, err
	}
	var logOpts []string
	for k, v := range c.HostConfig.LogConfig.Config {
		logOpts = append(logOpts, k+"="+v)
	}
	logPath := m.e.LogPath(id)
	if c.HostConfig.LogConfig.Type == LogNone {
		logPath, logOpts = os.DevNull, nil // the none driver keeps nothing
	}
	return &monitor.Container{
		Runtime: rt, Bundle: m.e.bundle(id), LogPath: logPath, LogOpts: logOpts,
		AttachSocket: m.e.attachSocket(id), Tty: c.Config.Tty, OpenStdin: c.Config.OpenStdin,
		AutoRemove: c.HostConfig.AutoRemove, Healthcheck: c.Config.Healthcheck,
	}, nil
}

func (m *monitorEngine) Status(id string) (monitor.Status, error) {
	c, err := m.e.load(id)
	if err != nil {
		return monitor.Status{}, err
	}
	return monitor.Status{Running: c.State.Status == StatusRunning, Stopped: c.HasBeenManuallyStopped}, nil
}

func (m *monitorEngine) ListenAttach(id string) (*net.UnixListener, error) {
	return m.e.listenAttach(id)
}

func (m *monitorEngine) UseRootfs(id string) (func(), error) {
	t0 := m.e.Trace.Now()
	rootfs, release, err := m.e.Rootfs(id)
	m.e.Trace.Step(t0, trace.Rootfs, "flock", err, trace.Args{Target: rootfs, Detail: "the rootfs held in use (mounted if it is not)"})
	return release, err
}

func (m *monitorEngine) UnmountIdle(id string) { m.e.unmountIdle(id) }

func (m *monitorEngine) NetworkUp(id string, pid int) error { return m.e.networkUp(id, pid) }

func (m *monitorEngine) NetworkDown(id string) func() { return m.e.networkDown(id) }

func (m *monitorEngine) Started(id string, s monitor.Start) error {
	if m.start == 0 {
		m.start, _ = proc.StartTime(os.Getpid())
	}
	t0 := m.e.Trace.Now()
	rec, err := m.e.update(id, func(c *Container) error {
		if s.Restart && c.HasBeenManuallyStopped {
			return monitor.ErrStopped
		}
		c.State = ContainerState{
			Status: StatusRunning, Pid: s.Pid, StartedAt: s.At, MonitorPid: os.Getpid(), MonitorStart: m.start,
			Health: s.Health,
		}
		return nil
	})
	m.e.Trace.Step(t0, trace.Process, "write", err, trace.Args{File: "container.json", Detail: "running"})
	if err != nil {
		return err
	}
	m.e.event(rec, "start")
	return nil
}

func (m *monitorEngine) StartFailed(id string, code int, err error) {
	m.e.update(id, func(c *Container) error {
		c.State.ExitCode, c.State.Error = code, err.Error()
		return nil
	})
}

func (m *monitorEngine) ExitCode(err error) int { return ExitCodeOf(err) }

func (m *monitorEngine) Exited(id string, ex monitor.Exit, err error, restart func(monitor.RestartPolicy, int, bool) bool) (bool, error) {
	rec, uerr := m.e.updateSync(id, func(c *Container) (bool, error) {
		again := restart(c.HostConfig.RestartPolicy, c.RestartCount, c.HasBeenManuallyStopped)
		c.State.ExitCode, c.State.OOMKilled, c.State.FinishedAt, c.State.Pid = ex.Code, ex.OOMKilled, ex.At, 0
		c.State.Stopping, c.State.Error = 0, ""
		if err != nil {
			c.State.Error = err.Error()
		}
		if again {
			c.State.Status = StatusRestarting
			c.RestartCount++
		} else {
			c.State.Status = StatusExited
			c.State.MonitorPid, c.State.MonitorStart = 0, 0
		}
		// A --rm container's end is not synced: the monitor removes the record
		// next (a crash before leaves the running record, whose dead monitor
		// refresh reads as an end).
		return again || !c.HostConfig.AutoRemove, nil
	})
	if uerr != nil {
		return false, uerr
	}
	m.e.exited(rec, ex.Code, ex.OOMKilled)
	return rec.HostConfig.AutoRemove, nil
}

func (m *monitorEngine) RestartAbandoned(id string) {
	m.e.update(id, func(c *Container) error {
		if c.State.Status == StatusRestarting {
			c.State.Status = StatusExited
			c.State.MonitorPid, c.State.MonitorStart = 0, 0
		}
		return nil
	})
}

func (m *monitorEngine) Health(id string, apply func(*monitor.Health, time.Time) bool) {
	var changed *Container
	m.e.update(id, func(c *Container) error {
		if c.State.Status != StatusRunning || c.State.Health == nil {
			return nil // ended meanwhile
		}
		if apply(c.State.Health, c.State.StartedAt) {
			changed = c
		}
		return nil
	})
	if changed != nil {
		m.e.event(changed, "health_status: "+changed.State.Health.Status)
	}
}

func (m *monitorEngine) Remove(id string, rt ociruntime.Runtime) (func() error, error) {
	return m.e.removeRecord(id, rt)
}
