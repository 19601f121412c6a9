package testutil

import (
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// DebianMirror is where the tests' debootstrap fetches a minimal Debian from, the
// seed's way to a base image.
const DebianMirror = "http://deb.debian.org/debian"

// NeedDebootstrap skips t, with the reason, unless a Debian can be debootstrapped
// here: debootstrap installed (scripts/deps.sh installs it), not -short (it takes
// half a minute), and DebianMirror answering for bookworm.
func NeedDebootstrap(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("debootstrap is not installed (scripts/deps.sh installs it)")
	}
	if testing.Short() {
		t.Skip("debootstrap takes half a minute: not in -short")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(DebianMirror + "/dists/bookworm/Release")
	if err != nil {
		t.Skipf("the Debian mirror is not reachable: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Skipf("the Debian mirror answers %s", resp.Status)
	}
}
