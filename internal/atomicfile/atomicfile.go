// Package atomicfile writes state files so that a reader sees the old or the new
// content, never a torn one, and guards them with file locks. Every package that
// records state (runtime, engine, image, network, volume) writes through it.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WriteFile writes data to a temporary file beside name, fsyncs it, and renames it
// over name. The rename itself is made durable only by SyncDir, for callers that
// need that too.
func WriteFile(name string, data []byte, mode os.FileMode) error {
	return write(name, data, mode, true)
}

// ReadFile reads a state file whole, as os.ReadFile, with only open, read and
// close: an *os.File would also fstat it, try and fail to add it to the poller and
// switch it to non-blocking and back, which a command reading hundreds of records
// (hull ps) pays for every one.
func ReadFile(name string) ([]byte, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 8<<10)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// Replace is WriteFile without the fsync: readers still see the old content or
// the new, but a crash may lose either. It is for state that does not outlive
// the boot (a runtime's, under /run), or that a durable write follows at once.
func Replace(name string, data []byte, mode os.FileMode) error {
	return write(name, data, mode, false)
}

func write(name string, data []byte, mode os.FileMode, sync bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// SyncDir makes the renames done in dir durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Mode says how Lock locks: Exclusive or Shared, with Try added not to wait.
type Mode int

const (
	// Exclusive excludes every other lock of the file, shared or exclusive.
	Exclusive Mode = unix.LOCK_EX
	// Shared coexists with other shared locks and excludes an exclusive one.
	Shared Mode = unix.LOCK_SH
	// Try fails at once, with an error that errors.Is unix.EWOULDBLOCK, where the
	// lock would wait.
	Try Mode = unix.LOCK_NB
)

// Lock takes a flock on path, creating the file, and returns the unlock. The
// error of a file that cannot be opened wraps the open's (os.ErrNotExist when
// its directory is gone).
//
// flock locks belong to the open file description, so two goroutines of one process
// exclude each other as two processes do; closing the file drops the lock, also
// when the process dies.
func Lock(path string, mode Mode) (unlock func(), err error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := LockFd(fd, mode); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}

// LockFd takes a flock on the open file fd (a directory too), for a caller that
// opens the file its own way; closing fd drops the lock. A signal that interrupts
// the wait does not end it.
func LockFd(fd int, mode Mode) error {
	for {
		err := unix.Flock(fd, int(mode))
		if err != unix.EINTR {
			return err
		}
	}
}
