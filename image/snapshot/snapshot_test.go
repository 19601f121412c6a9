package snapshot_test

import (
	"os"
	"testing"

	"github.com/hullproject/hull/image/snapshot"
	"github.com/hullproject/hull/image/snapshot/snapshottest"
	"github.com/hullproject/hull/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

func TestOverlay(t *testing.T) {
	testutil.RequireRoot(t)
	snapshottest.Run(t, func(dir string) snapshot.Snapshotter { return snapshot.NewOverlay(dir) })
}

// The mount of kernels before 6.8 (no "lowerdir+"), forced on this one.
func TestOverlayClassic(t *testing.T) {
	testutil.RequireRoot(t)
	snapshot.ClassicOverlay(t)
	snapshottest.Run(t, func(dir string) snapshot.Snapshotter { return snapshot.NewOverlay(dir) })
}

func TestCopy(t *testing.T) {
	testutil.RequireRoot(t)
	snapshottest.Run(t, func(dir string) snapshot.Snapshotter { return snapshot.NewCopy(dir) })
}

func TestNewPicksOverlay(t *testing.T) {
	testutil.RequireRoot(t)
	if sn := snapshot.New(t.TempDir()); sn.Name() != "overlay" {
		t.Errorf("New picked %s on a host with overlayfs", sn.Name())
	}
}
