package snapshot

import "testing"

// ClassicOverlay makes the overlay snapshotter mount with mount(2) and an option
// string, as on kernels before 6.8, until the test ends.
func ClassicOverlay(t *testing.T) {
	lowerdirPlus.Store(-1)
	t.Cleanup(func() { lowerdirPlus.Store(0) })
}
