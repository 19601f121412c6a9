package engine

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/ociruntime"
)

// An exec record is created, started once, inspectable after its end with its exit
// code, and goes with its container. (The process itself runs in the tests of the
// Docker API, test/dockerapi, which start real containers.)
func TestExecRecords(t *testing.T) {
	e, _ := infoEngine(t) // "web" runs (this process stands in for its monitor), "db" was created
	if _, err := e.CreateExec("db", ExecRecord{Options: ExecOptions{Args: []string{"true"}}}); !errors.Is(err, ErrConflict) || err.Error() != "container db is not running" {
		t.Errorf("exec in a created container: %v", err)
	}
	if _, err := e.CreateExec("nosuch", ExecRecord{Options: ExecOptions{Args: []string{"true"}}}); !errors.Is(err, ErrNoSuchContainer) {
		t.Errorf("exec in no container: %v", err)
	}
	if errs := OptionErrors(func() error { _, err := e.CreateExec("web", ExecRecord{}); return err }()); len(errs) != 1 || errs[0].Field != "Args" {
		t.Errorf("exec without a command: %v", errs)
	}

	r, err := e.CreateExec("web", ExecRecord{Options: ExecOptions{Args: []string{"sh", "-c", "exit 3"}, Env: []string{"A=1"}, Tty: true, DetachKeys: "ctrl-x"}, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.InspectExec(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ContainerID != "aaaa"+strings.Repeat("0", 60) || got.Running || got.ExitCode != nil || !got.AttachStdout || got.Options.DetachKeys != "ctrl-x" ||
		strings.Join(got.Options.Args, " ") != "sh -c exit 3" || !got.Options.Tty || got.Options.Env[0] != "A=1" {
		t.Errorf("inspect a created exec: %+v", got)
	}
	for _, id := range []string{"nosuch", r.ID[:12], "../../x", strings.Repeat("f", 64)} {
		if _, err := e.InspectExec(id); !errors.Is(err, ErrNoSuchExec) {
			t.Errorf("inspect exec %q: %v", id, err)
		}
	}
	if err := e.ResizeExec(r.ID, 10, 10); err != nil {
		t.Errorf("resize of an exec about to start: %v", err)
	}

	// The bare record has no bundle: the process cannot start, and the record
	// says it ended with hull's own failure code.
	if _, err := e.StartExec(r.ID, ociruntime.IO{}); err == nil {
		t.Fatal("an exec without a bundle started")
	}
	got, err = e.InspectExec(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Running || got.ExitCode == nil || *got.ExitCode != 125 {
		t.Errorf("an exec that failed to start: running %v, exit code %v", got.Running, got.ExitCode)
	}
	if _, err := e.StartExec(r.ID, ociruntime.IO{}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "has already run") {
		t.Errorf("second start: %v", err)
	}
	if err := e.ResizeExec(r.ID, 10, 10); !errors.Is(err, ErrConflict) {
		t.Errorf("resize of an exec that ended: %v", err)
	}

	// A running record (its starter this process) cannot start again.
	r2, err := e.CreateExec("web", ExecRecord{Options: ExecOptions{Args: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	start, err := proc.StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.updateExec(r2.ID, func(r *ExecRecord) error {
		r.Running, r.StarterPid, r.StarterStart = true, os.Getpid(), start
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.StartExec(r2.ID, ociruntime.IO{}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already running") {
		t.Errorf("start of a running exec: %v", err)
	}
	if got, err := e.InspectExec(r2.ID); err != nil || !got.Running {
		t.Errorf("a running exec: %+v, %v", got, err)
	}
	// One whose starter died (a service killed) is not running, and has run.
	r3, err := e.CreateExec("web", ExecRecord{Options: ExecOptions{Args: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.updateExec(r3.ID, func(r *ExecRecord) error {
		r.Running, r.StarterPid, r.StarterStart = true, os.Getpid(), start+1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.InspectExec(r3.ID); err != nil || got.Running || got.ExitCode != nil {
		t.Errorf("an exec whose starter died: %+v, %v", got, err)
	}
	if _, err := e.StartExec(r3.ID, ociruntime.IO{}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "has already run") {
		t.Errorf("start of an exec whose starter died: %v", err)
	}
	if err := e.ResizeExec(r3.ID, 1, 1); !errors.Is(err, ErrConflict) {
		t.Errorf("resize of an exec whose starter died: %v", err)
	}

	// The record of an exec that ended long ago goes when a new one comes.
	if _, err := e.updateExec(r.ID, func(r *ExecRecord) error { r.Ended = r.Ended.Add(-execKeep - time.Minute); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateExec("web", ExecRecord{Options: ExecOptions{Args: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.InspectExec(r.ID); !errors.Is(err, ErrNoSuchExec) {
		t.Errorf("an exec that ended long ago: %v", err)
	}
	if _, err := e.InspectExec(r2.ID); err != nil {
		t.Errorf("a running exec was pruned: %v", err)
	}

	// Removing the container removes its execs.
	if _, err := e.update(r.ContainerID, func(c *Container) error {
		c.State.Status, c.State.MonitorPid, c.State.MonitorStart = StatusExited, 0, 0
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove("web", false); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{r.ID, r2.ID} {
		if _, err := e.InspectExec(id); !errors.Is(err, ErrNoSuchExec) {
			t.Errorf("exec of a removed container: %v", err)
		}
	}
}

// A client attached before the start waits for it: the last one; a start that
// fails tells it so (a nil Handle), and a withdrawn client is not the starter of
// the next start. (An attached start, output and stdin, runs in test/dockerapi.)
func TestAttachNext(t *testing.T) {
	e, _ := infoEngine(t)
	p, err := e.AttachNext("db", &Attach{})
	if err != nil {
		t.Fatal(err)
	}
	// A second client takes the wait over; the first is told it ended.
	p2, err := e.AttachNext("db", &Attach{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-p.Started():
		if h != nil {
			t.Errorf("a replaced client got %+v", h)
		}
	default:
		t.Error("the replaced client was not told")
	}
	p = p2
	if _, err := e.AttachNext("nosuch", &Attach{}); !errors.Is(err, ErrNoSuchContainer) {
		t.Errorf("attach to no container: %v", err)
	}
	// "db" is a bare record: its start fails, and the client hears of it.
	if _, err := e.Start("db", nil); err == nil {
		t.Fatal("a bare record started")
	}
	select {
	case h := <-p.Started():
		if h != nil {
			t.Errorf("a failed start handed out %+v", h)
		}
	default:
		t.Error("the waiting client was not told of the start")
	}
	p.Cancel()
	p2, err = e.AttachNext("db", &Attach{})
	if err != nil {
		t.Fatalf("a client after the first was served: %v", err)
	}
	p2.Cancel()
	if e.takePending(p2.key[len(p2.key)-64:]) != nil {
		t.Error("a withdrawn client still waits")
	}
}
