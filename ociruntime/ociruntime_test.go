package ociruntime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/ociruntime/testsuite"
	"github.com/hullproject/hull/runtime"
	_ "github.com/hullproject/hull/runtime/nsenter"
	"golang.org/x/sys/unix"
)

func init() { runtime.LockInitThread() }

func TestMain(m *testing.M) {
	// hull's runtime starts a container's init as this binary run again.
	if runtime.IsInit() {
		runtime.Init()
		return
	}
	// runc's init is re-parented to the nearest subreaper: this process.
	if testutil.IsRoot() {
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	os.Exit(testutil.Main(m))
}

func TestHull(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, dir string) ociruntime.Runtime {
		rt, err := ociruntime.New("hull", dir)
		if err != nil {
			t.Fatal(err)
		}
		return rt
	})
}

func TestRunc(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
	testsuite.Run(t, func(t *testing.T, dir string) ociruntime.Runtime {
		rt, err := ociruntime.New("runc", dir)
		if err != nil {
			t.Fatal(err)
		}
		if rt.Name() != "runc" || rt.(*ociruntime.Binary).Root != filepath.Join(dir, "runc") {
			t.Fatalf("runtime %+v", rt)
		}
		return rt
	})
}
