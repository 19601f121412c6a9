package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/ociruntime"
	"golang.org/x/sys/unix"
)

// Exec records: the Docker API creates an exec (POST /containers/{id}/exec), starts
// it later (POST /exec/{id}/start), resizes its terminal, and inspects it while it
// runs and after it ended (its exit code). A record is a file in the container's
// state directory, <state>/containers/<id>/exec/<exec id>.json, so it goes with the
// container (removeFiles). `hull exec` needs none: it runs and waits in one go
// (Exec).
//
// The process is the starter's child (the runtime's exec waits for it), so the
// starter, a long-lived `hull system service`, records its end. A starter that dies
// first leaves its record running.

// ExecIO is the stdio of an exec'd process (ociruntime.IO): files, and with a
// terminal Console, which gets the pty master where the runtime hands it out (hull's
// own; runc proxies the terminal between the pty and the files itself).
type ExecIO = ociruntime.IO

// ErrNoSuchExec is returned for an exec ID that names no exec record.
var ErrNoSuchExec = errors.New("no such exec instance")

// ExecRecord is an exec created in a container, to be started once.
type ExecRecord struct {
	ID          string
	ContainerID string
	Options     ExecOptions
	// What the starter attaches: kept for the one who starts it (and reported
	// by inspect), as the keys that detach it (Options.DetachKeys).
	AttachStdin, AttachStdout, AttachStderr bool
	Created                                 time.Time
	// Running from the start until the process ends; ExitCode once it did (or
	// could not start: 126, 127 or 125 as ExitCodeOf).
	Running  bool
	ExitCode *int
	Pid      int // its host pid, with hull's own runtime
	Ended    time.Time
	// The process that started it and waits for it (its pid and start time):
	// a record it left running when it died is not.
	StarterPid   int
	StarterStart uint64
}

// execKeep is how long the record of an exec that ended stays for its
// inspection once a newer exec is created: a container probed by execs
// (health checks from outside, compose) would otherwise gather them forever.
const execKeep = 10 * time.Minute

// pruneExecs removes the records in dir of execs that ended before execKeep.
func pruneExecs(dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		r, err := readExec(f, filepath.Base(f))
		if err == nil && r.ExitCode != nil && !r.Ended.IsZero() && time.Since(r.Ended) > execKeep {
			os.Remove(f)
		}
	}
}

func (e *Engine) execFile(cid, id string) string {
	return filepath.Join(e.stateDir(cid), "exec", id+".json")
}

// execConsoles holds the pty masters of the execs this process started with a
// terminal, by exec ID, for ResizeExec.
var execConsoles sync.Map

// runnable says why c cannot take an exec now: paused or not running, a conflict.
func runnable(c *Container) error {
	switch {
	case c.State.Status == StatusPaused:
		return conflictf("container %s is paused: unpause it before exec", c.Name)
	case c.State.Status != StatusRunning:
		return conflictf("container %s is not running", c.Name)
	}
	return nil
}

// CreateExec records an exec of r.Options in the running container ref, to be
// started by StartExec, and returns the record with its new ID.
func (e *Engine) CreateExec(ref string, r ExecRecord) (*ExecRecord, error) {
	if err := r.Options.Validate(); err != nil {
		return nil, err
	}
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	if err := runnable(c); err != nil {
		return nil, err
	}
	r.ID, r.ContainerID, r.Created = newID(), c.ID, time.Now().UTC()
	r.Running, r.ExitCode, r.Pid = false, nil, 0
	pruneExecs(filepath.Dir(e.execFile(c.ID, r.ID)))
	if err := os.MkdirAll(filepath.Dir(e.execFile(c.ID, r.ID)), 0o700); err != nil {
		return nil, fmt.Errorf("exec record: %w", err)
	}
	if err := writeJSON(e.execFile(c.ID, r.ID), &r); err != nil {
		return nil, fmt.Errorf("exec record: %w", err)
	}
	return &r, nil
}

// findExec is the record file of exec id, in whichever container it is.
func (e *Engine) findExec(id string) (string, error) {
	if !idRE.MatchString(id) {
		return "", fmt.Errorf("%w: %s", ErrNoSuchExec, id)
	}
	m, _ := filepath.Glob(filepath.Join(e.StateDir, "containers", "*", "exec", id+".json"))
	if len(m) == 0 {
		return "", fmt.Errorf("%w: %s", ErrNoSuchExec, id)
	}
	return m[0], nil
}

// InspectExec reads the record of exec id. One whose starter died while it ran
// is not running any more, its exit code unknown.
func (e *Engine) InspectExec(id string) (*ExecRecord, error) {
	file, err := e.findExec(id)
	if err != nil {
		return nil, err
	}
	r, err := readExec(file, id)
	if err == nil && r.Running && !proc.Alive(r.StarterPid, r.StarterStart) {
		r.Running = false
	}
	return r, err
}

func readExec(file, id string) (*ExecRecord, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchExec, id) // its container went meanwhile
	}
	if err != nil {
		return nil, err
	}
	var r ExecRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("exec record %s: %w", id, err)
	}
	return &r, nil
}

// updateExec changes exec id's record under its container's lock.
func (e *Engine) updateExec(id string, fn func(r *ExecRecord) error) (*ExecRecord, error) {
	file, err := e.findExec(id)
	if err != nil {
		return nil, err
	}
	r, err := readExec(file, id)
	if err != nil {
		return nil, err
	}
	unlock, err := e.lock(r.ContainerID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if r, err = readExec(file, id); err != nil {
		return nil, err
	}
	if err := fn(r); err != nil {
		return nil, err
	}
	if err := writeJSON(file, r); err != nil {
		return nil, fmt.Errorf("exec record: %w", err)
	}
	return r, nil
}

// StartExec starts exec id, once, with io as its stdio (with a terminal,
// io.Console gets the pty master where the runtime hands it out). wait waits
// for the process and records its exit code; it must be called, also for an
// exec run in the background. A process that cannot start is recorded as
// ended with ExitCodeOf its error.
func (e *Engine) StartExec(id string, io ExecIO) (wait func() (int, error), err error) {
	r, err := e.updateExec(id, func(r *ExecRecord) error {
		switch {
		case r.Running && proc.Alive(r.StarterPid, r.StarterStart):
			return conflictf("exec %s is already running", r.ID)
		case r.ExitCode != nil || r.StarterPid != 0:
			return conflictf("exec %s has already run", r.ID)
		}
		start, err := proc.StartTime(os.Getpid())
		if err != nil {
			return err
		}
		r.Running, r.StarterPid, r.StarterStart = true, os.Getpid(), start
		return nil
	})
	if err != nil {
		return nil, err
	}
	end := func(code int) {
		execConsoles.Delete(id)
		e.updateExec(id, func(r *ExecRecord) error {
			r.Running, r.ExitCode, r.Ended = false, &code, time.Now().UTC()
			return nil
		})
	}
	if r.Options.Tty {
		console := io.Console
		io.Console = func(m *os.File) {
			execConsoles.Store(id, m)
			if console != nil {
				console(m)
			}
		}
		// The master from an external runtime too: the caller may have no
		// terminal to lend it (ociruntime.IO.OwnTerminal).
		io.OwnTerminal = true
	}
	io.Started = func(pid int) {
		e.updateExec(id, func(r *ExecRecord) error {
			r.Pid = pid
			return nil
		})
	}
	o := r.Options
	o.Detach = false // waited for here, so its end is recorded
	w, err := e.Exec(r.ContainerID, o, io)
	if err != nil {
		end(ExitCodeOf(err))
		return nil, err
	}
	return func() (int, error) {
		code, err := w()
		if err != nil {
			end(ExitCodeOf(err))
			return code, err
		}
		end(code)
		return code, nil
	}, nil
}

// ResizeExec sets the window size of a running exec's terminal; one that ended
// is a conflict. An exec without a terminal of this process's (none asked, not
// started yet: a client resizes as it starts it, or an external runtime
// proxying it itself) has nothing to resize.
func (e *Engine) ResizeExec(id string, rows, cols uint16) error {
	r, err := e.InspectExec(id)
	if err != nil {
		return err
	}
	if r.ExitCode != nil || (r.StarterPid != 0 && !r.Running) {
		return conflictf("exec %s is not running", id)
	}
	if m, ok := execConsoles.Load(id); ok {
		ws := &unix.Winsize{Row: rows, Col: cols}
		if err := unix.IoctlSetWinsize(int(m.(*os.File).Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("resize exec %s: %w", id, err)
		}
	}
	return nil
}
