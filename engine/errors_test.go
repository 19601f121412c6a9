package engine

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hullproject/hull/internal/proc"
)

// The Docker API tells a conflict (409) and a no-op (304) from other failures by
// these kinds; the messages stay the CLI's.
func TestErrorKinds(t *testing.T) {
	a := "aaa1" + strings.Repeat("0", 60)
	b := "bbb2" + strings.Repeat("0", 60)
	e := fakeRecords(t, map[string]string{a: "web", b: "db"})

	err := e.Rename("web", "db")
	if !errors.Is(err, ErrConflict) || err.Error() != `the container name "db" is already in use by container `+b {
		t.Errorf("rename to a name in use: %v (conflict: %v)", err, errors.Is(err, ErrConflict))
	}
	if err := e.Pause("web"); !errors.Is(err, ErrConflict) || err.Error() != "container web is not running" {
		t.Errorf("pause of a created container: %v", err)
	}
	if errors.Is(err, ErrNotModified) {
		t.Error("a conflict is also not-modified")
	}

	// A record whose monitor lives (this process stands in for it) is running:
	// starting it again changes nothing.
	start, err := proc.StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.update(a, func(c *Container) error {
		c.State.Status, c.State.MonitorPid, c.State.MonitorStart = StatusRunning, os.Getpid(), start
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start("web", nil); !errors.Is(err, ErrNotModified) || err.Error() != "container web is already running" {
		t.Errorf("start of a running container: %v", err)
	}
	if err := e.Pause("db"); errors.Is(err, ErrNotModified) || !errors.Is(err, ErrConflict) {
		t.Errorf("pause of a created container: %v", err)
	}
}
