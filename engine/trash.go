package engine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/hullproject/hull/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// The trash. With DeferRemoval (`hull rm`), Remove does not delete a container's
// files: it deletes its state directory (exec records, which are looked up by
// glob), renames its directory (record, log, bundle, /etc files, locks) into
// <root>/trash/<id>, which frees its name and ID at once and takes it out of
// every listing, and moves its snapshot, unmounted, into that entry
// (<root>/trash/<id>/snapshot). The deletion of their ~25 inodes, ext4 journal
// work that the 50 concurrent removals of an `rm` of 50 queued on, is left to a
// process of its own that runs after the command has answered (EmptyTrashLater:
// `hull system empty-trash`, in a session of its own, holding none of the
// caller's descriptors). It only removes what is in the trash and opens no image
// store: it may run while its root is being removed (a test's temporary root),
// and must not make directories there.
//
// Whoever deletes holds an flock on the trash directory. List empties a trash
// nobody holds, as it sweeps a directory without a record: a deleter killed
// midway, or a command killed before it started one (or between its two
// renames: an entry without its snapshot), leaves nothing for good.

func (e *Engine) trashDir() string { return filepath.Join(e.Root, "trash") }

// trash moves container id into the trash, as above, and tells whether it did.
// The caller holds the container's lock; the lock file moves along, so whoever
// waits for it finds no record once it has it. Not moved (the trash on another
// filesystem: EXDEV), the caller deletes the container as before.
func (e *Engine) trash(id string) bool {
	if err := os.RemoveAll(e.stateDir(id)); err != nil {
		return false
	}
	if err := os.Mkdir(e.trashDir(), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return false
	}
	entry := filepath.Join(e.trashDir(), id)
	if err := os.Rename(e.dir(id), entry); err != nil {
		return false
	}
	e.trashed.Store(true)
	if err := e.Images.Snapshotter().Move(id, filepath.Join(entry, "snapshot")); err != nil {
		// Deleted now, or, failing that, by the entry's deleter.
		e.Images.RemoveSnapshot(id)
	}
	return true
}

// openTrash opens the trash directory, or returns -1 if there is none. It never
// makes one: a deleter started after its root was removed (a test's temporary
// root) must not bring it back.
func (e *Engine) openTrash() (int, error) {
	fd, err := unix.Open(e.trashDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("open trash: %w", err)
	}
	return fd, nil
}

// EmptyTrashLater starts the process that deletes what Remove moved into the
// trash (`hull system empty-trash`), if it moved anything, and does not wait for
// it. It runs in a session of its own (the end of the caller's session or
// terminal does not signal it), in /, with /dev/null for stdin, stdout and
// stderr: a caller reading this command's output sees its end at once. The
// trash's lock is taken here, if no deleter holds it, and handed to the child
// (fd 3), so that a listing in between does not empty the trash itself; a
// deleter that holds it already will be waited for by the child. The child gets
// no other descriptor of this process.
func (e *Engine) EmptyTrashLater() error {
	if !e.trashed.Load() {
		return nil
	}
	// Absolute: the child runs in /.
	root, err := filepath.Abs(e.Root)
	if err != nil {
		return err
	}
	state, err := filepath.Abs(e.StateDir)
	if err != nil {
		return err
	}
	args := []string{"--root", root, "--state", state, "system", "empty-trash"}
	cmd := exec.Command(e.Exe)
	fd, err := e.openTrash()
	if err != nil || fd < 0 {
		return err
	}
	locked := os.NewFile(uintptr(fd), "trash")
	defer locked.Close()
	if atomicfile.LockFd(fd, atomicfile.Exclusive|atomicfile.Try) == nil {
		// The lock belongs to the open file, which the child shares: it
		// holds it after this process has closed its descriptor and exited.
		cmd.ExtraFiles = []*os.File{locked}
		args = append(args, "--locked-fd", "3")
	}
	cmd.Args = append(cmd.Args, args...)
	// Descriptors this process inherited beyond stdio (a shell's, a caller's
	// pipe) would pass to the child, which outlives it, and hold them open:
	// none survives the exec. Go's own are close-on-exec already; the trash's
	// is dup'd to fd 3 (ExtraFiles), which clears the flag.
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the trash's deletion: %w", err)
	}
	// Not waited for: the command exits before it, and init (or the caller's
	// subreaper) reaps it. A long-lived caller reaps it here.
	go cmd.Wait()
	return nil
}

// EmptyTrash deletes every entry of the trash of root (`hull system
// empty-trash`). lockedFd is the trash directory, already locked
// (EmptyTrashLater's handover), or -1: then the lock is waited for. A missing
// trash is no error.
func EmptyTrash(root, state string, lockedFd int) error {
	e := &Engine{Root: root, StateDir: state} // no image store: removeTrashed
	fd := lockedFd
	if fd < 0 {
		var err error
		if fd, err = e.openTrash(); err != nil || fd < 0 {
			return err
		}
		if err := atomicfile.LockFd(fd, atomicfile.Exclusive); err != nil {
			unix.Close(fd)
			return fmt.Errorf("lock trash: %w", err)
		}
	}
	defer unix.Close(fd)
	return e.emptyTrashLocked()
}

// sweepTrash empties the trash if it has entries and no deleter holds it.
func (e *Engine) sweepTrash() {
	fd, err := e.openTrash()
	if err != nil || fd < 0 {
		return
	}
	defer unix.Close(fd)
	if ents, err := os.ReadDir(e.trashDir()); err != nil || len(ents) == 0 {
		return
	}
	if atomicfile.LockFd(fd, atomicfile.Exclusive|atomicfile.Try) != nil {
		return // its deleter runs
	}
	e.emptyTrashLocked()
}

// emptyTrashLocked deletes the trash's entries until there are none (a removal
// may add some meanwhile). One that cannot go stays, for a later sweep.
func (e *Engine) emptyTrashLocked() error {
	var errs []error
	failed := map[string]bool{}
	for {
		ents, err := os.ReadDir(e.trashDir())
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = nil
			}
			return errors.Join(append(errs, err)...)
		}
		more := false
		for _, d := range ents {
			id := d.Name()
			if failed[id] {
				continue
			}
			more = true
			if err := e.removeTrashed(id); err != nil {
				failed[id] = true
				if !errors.Is(err, errLeftForListing) {
					errs = append(errs, err)
				}
			}
		}
		if !more {
			return errors.Join(errs...)
		}
	}
}

// errLeftForListing: a trash entry EmptyTrash leaves to List (removeTrashed).
var errLeftForListing = errors.New("left for a listing")

// removeTrashed deletes trash entry id, with the container's snapshot if it is
// not in the entry (its rm died between the renames, or could not move it).
// That takes the image store, which EmptyTrash's engine has not: opening one
// makes the root's directories, and an entry without its snapshot is also what
// a removal of the whole root (rm -rf, a test's TempDir) leaves for a moment. The
// entry is kept for a listing's sweep.
func (e *Engine) removeTrashed(id string) error {
	entry := filepath.Join(e.trashDir(), id)
	if _, err := os.Lstat(filepath.Join(entry, "snapshot")); err != nil && idRE.MatchString(id) {
		if e.Images == nil {
			return errLeftForListing
		}
		if err := e.Images.RemoveSnapshot(id); err != nil {
			return err
		}
	}
	return os.RemoveAll(entry)
}
