package atomicfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Each Lock opens the file anew, and flock locks belong to the open file
// description: two Locks of one process meet as two processes' would.

func TestLockSharedCoexist(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	a, err := Lock(p, Shared)
	if err != nil {
		t.Fatal(err)
	}
	defer a()
	b, err := Lock(p, Shared|Try)
	if err != nil {
		t.Fatalf("a second shared lock beside a shared one: %v", err)
	}
	b()
	if _, err := Lock(p, Exclusive|Try); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("exclusive beside a shared lock: got %v, want EWOULDBLOCK", err)
	}
}

func TestLockExclusiveExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	unlock, err := Lock(p, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Mode{Shared | Try, Exclusive | Try} {
		if _, err := Lock(p, m); !errors.Is(err, unix.EWOULDBLOCK) {
			t.Fatalf("mode %d beside an exclusive lock: got %v, want EWOULDBLOCK", m, err)
		}
	}
	// A waiting lock gets it once the holder lets go, not before.
	got := make(chan func())
	go func() {
		u, err := Lock(p, Shared)
		if err != nil {
			t.Error(err)
			u = func() {}
		}
		got <- u
	}()
	select {
	case u := <-got:
		u()
		t.Fatal("a shared lock was taken beside an exclusive one")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case u := <-got:
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting lock was not granted after the unlock")
	}
	// And the unlock really dropped it: an exclusive try succeeds now.
	u, err := Lock(p, Exclusive|Try)
	if err != nil {
		t.Fatalf("exclusive after every unlock: %v", err)
	}
	u()
}

func TestLockTryFailsFast(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	unlock, err := Lock(p, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	start := time.Now()
	_, err = Lock(p, Exclusive|Try)
	if !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("got %v, want EWOULDBLOCK", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Try waited %v", d)
	}
}

func TestLockCreatesFileNotDirectory(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lock")
	unlock, err := Lock(p, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v %v", fi, err)
	}
	// A missing directory is not made: its error says the file does not exist.
	if _, err := Lock(filepath.Join(dir, "gone", "lock"), Exclusive); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock in a missing directory: got %v, want ErrNotExist", err)
	}
}

// LockFd locks what the caller opened, a directory too (the runtime locks its
// container's state directory).
func TestLockFdDirectory(t *testing.T) {
	dir := t.TempDir()
	open := func() int {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	a, b := open(), open()
	defer unix.Close(b)
	if err := LockFd(a, Exclusive); err != nil {
		t.Fatal(err)
	}
	if err := LockFd(b, Shared|Try); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("got %v, want EWOULDBLOCK", err)
	}
	unix.Close(a) // closing the descriptor drops its lock
	if err := LockFd(b, Exclusive|Try); err != nil {
		t.Fatalf("after the holder closed: %v", err)
	}
}

// ReadFile reads what WriteFile wrote, small or larger than its first buffer, and
// fails as os.ReadFile does.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 8 << 10, 8<<10 + 1, 100 << 10} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		name := filepath.Join(dir, "f")
		if err := WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(name)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read %d, %v", n, len(got), err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "open "+dir) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "read "+dir) {
		t.Errorf("a directory: %v", err)
	}
}
