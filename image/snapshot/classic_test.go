package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hullproject/hull/internal/testutil"
)

// What the option string of mount(2) cannot hold is refused with one line, before
// any mount.
func TestOverlayClassicRefuses(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "m")
	if err := mountOverlayClassic(target, []string{dir + "/a,upperdir=/"}, dir+"/u", dir+"/w", false); err == nil || !strings.Contains(err.Error(), "cannot hold") {
		t.Errorf("a lower with a comma: %v", err)
	}
	var many []string
	for i := range 100 {
		// each in a directory of its own: no common one to name them from
		many = append(many, filepath.Join(dir, "layers", fmt.Sprintf("%064d", i), "fs"))
	}
	if err := mountOverlayClassic(target, many, dir+"/u", dir+"/w", false); err == nil || !strings.Contains(err.Error(), "100 layers") {
		t.Errorf("100 long lowers: %v", err)
	}
}

// A store probed on a kernel without "lowerdir+" says so for the rest of the boot.
func TestProbeRemembersClassic(t *testing.T) {
	dir := t.TempDir()
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Skip(err)
	}
	os.WriteFile(filepath.Join(dir, ".overlay-ok"), append(boot, "classic\n"...), 0o600)
	t.Cleanup(func() { lowerdirPlus.Store(0) })
	if err := probeOverlay(dir); err != nil || lowerdirPlus.Load() != -1 {
		t.Errorf("probe of a store marked classic: %v, lowerdirPlus %d", err, lowerdirPlus.Load())
	}
}
