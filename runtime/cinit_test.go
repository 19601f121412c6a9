package runtime

import (
	"errors"
	"testing"

	"github.com/hullproject/hull/runtime/nsenter"
	"golang.org/x/sys/unix"
)

// TestCinitOpCodes: the compiler's operation numbers end where cinit.h's do
// (the two lists are kept in the same order).
func TestCinitOpCodes(t *testing.T) {
	if opMax != nsenter.OpMax {
		t.Fatalf("runtime has %d operations, cinit.h %d", opMax, nsenter.OpMax)
	}
}

// TestErrnoMessage: the C init's error (a text, an errno, a kind) reads as the
// Go init's: the errno's text after the prefix, errors.Is on the errno and on
// the kind's sentinel.
func TestErrnoMessage(t *testing.T) {
	m := message{Type: msgError, Error: "exec /notelf", Errno: int(unix.ENOEXEC), Kind: kindNotExecutable}
	err := m.err()
	if err.Error() != "exec /notelf: exec format error" || !errors.Is(err, unix.ENOEXEC) || !errors.Is(err, ErrNotExecutable) {
		t.Errorf("got %v", err)
	}
	m = message{Type: msgError, Error: `exec "nope": executable file not found in $PATH`, Kind: kindNotFound}
	if err := m.err(); err.Error() != m.Error || !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v", err)
	}
}
