package trace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOffIsFree: a nil Tracer allocates nothing at a call site shaped like the
// runtime's (strings, flags as a number, an error).
func TestOffIsFree(t *testing.T) {
	var tr *Tracer
	src, dst := "proc", "/proc"
	var err error
	n := testing.AllocsPerRun(1000, func() {
		s := tr.Now()
		tr.Step(s, Mounts, "mount", err, Args{Source: src, Target: dst, Type: "proc", Flags: unix.MS_NOSUID, FlagSet: MountFlags})
	})
	if n != 0 {
		t.Fatalf("off: %v allocations per step, want 0", n)
	}
	if tr.On() || tr.File() != nil || tr.As("x") != nil || tr.Close() != nil || !tr.Now().IsZero() {
		t.Fatal("a nil tracer must do nothing")
	}
}

func BenchmarkStepOff(b *testing.B) {
	var tr *Tracer
	b.ReportAllocs()
	for b.Loop() {
		s := tr.Now()
		tr.Step(s, Mounts, "mount", nil, Args{Source: "proc", Target: "/proc", Flags: unix.MS_NOSUID, FlagSet: MountFlags})
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace")
	tr, err := Open(path, "create")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Millisecond)
	tr.Step(start, Namespaces, "clone3", nil, Args{Flags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | 1<<40, FlagSet: CloneFlags})
	tr.As("init").Step(start, Mounts, "mount", fmt.Errorf("mount proc: %w", unix.EPERM), Args{Source: "proc", Target: "/proc", Type: "proc"})
	tr.Step(start, Seccomp, "seccomp", errors.New("bad filter"), Args{Count: 42})
	tr.Close()
	// A line cut short and a record of an unknown version are skipped.
	os.WriteFile(path+".x", nil, 0o600)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"v":2,"op":"future"}` + "\n" + `{"v":1,"ts":`)
	f.Close()
	recs, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3: %+v", len(recs), recs)
	}
	r := recs[0]
	if r.V != 1 || r.Proc != "create" || r.Pid != os.Getpid() || r.Ingredient != Namespaces || r.Op != "clone3" || r.Result != "ok" || r.Dur < int64(time.Millisecond) || r.TS != start.UnixNano() {
		t.Errorf("record 0: %+v", r)
	}
	if got, want := r.Args["flags"], []any{"CLONE_NEWNS", "CLONE_NEWPID", "0x10000000000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("flags %v, want %v", got, want)
	}
	if r := recs[1]; r.Proc != "init" || r.Result != "EPERM" || !strings.Contains(r.Error, "operation not permitted") || r.Args["target"] != "/proc" {
		t.Errorf("record 1: %+v", r)
	}
	if r := recs[2]; r.Result != "error" || r.Args["count"] != float64(42) {
		t.Errorf("record 2: %+v", r)
	}
}

// TestConcurrentWriters: records of several writers of one file stay whole lines.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace")
	var wg sync.WaitGroup
	for i := range 4 {
		tr, err := Open(path, fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.Close()
			for range 200 {
				tr.Step(tr.Now(), Cgroups, "write", nil, Args{File: "memory.max", Value: strings.Repeat("9", 500)})
			}
		}()
	}
	wg.Wait()
	recs, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 800 {
		t.Fatalf("%d whole records, want 800", len(recs))
	}
}
