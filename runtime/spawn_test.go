package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hullproject/hull/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestSealedOverlayWithoutTempDir: the overlay that protects the runtime's binary
// takes its empty layer from a tmpfs attached nowhere, so it needs no writable
// TMPDIR (before, it made and removed a directory there on every create, and fell
// back to the 5 ms copy without one), and the binary it gives cannot be opened for
// writing.
func TestSealedOverlayWithoutTempDir(t *testing.T) {
	testutil.RequireRoot(t)
	// Layers by descriptor are Linux 6.13's; before, the directory in TMPDIR stays.
	mnt, err := overlayMount(t.TempDir(), layersByFd)
	if err != nil {
		t.Skipf("no overlayfs layers by descriptor: %v", err)
	}
	unix.Close(mnt)
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	f, err := sealedOverlay()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Type != unix.OVERLAYFS_SUPER_MAGIC {
		t.Fatalf("binary not on an overlay: fs type %#x, %v", st.Type, err)
	}
	w, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0)
	if err == nil {
		w.Close()
		t.Fatal("the sealed binary opened for writing")
	}
	if !errors.Is(err, unix.EROFS) {
		t.Fatalf("open for writing: %v, want EROFS", err)
	}
}
