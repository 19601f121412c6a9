package engine

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/hullproject/hull/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Name hints: <root>/names/<name> holds the ID of the container last found by
// that name, so that resolving a name (inspect NAME, exec NAME ...) reads one
// record instead of every one. A hint is only a hint: it is used when the record
// of its ID still has that name (names are unique, so that is the container), and
// otherwise, or when there is none, the records are searched as before and the
// hint written (not fsynced: a lost or torn one costs a search). Nothing needs to
// keep hints current: a renamed or removed container's hint fails the check (and
// is removed, as rm removes its own).
func (e *Engine) namesDir() string { return filepath.Join(e.Root, "names") }

// hinted is the container the name hint of ref gives, read whole, if its record
// still has that name.
func (e *Engine) hinted(ref string) (*Container, bool) {
	name := strings.TrimPrefix(ref, "/")
	if CheckName(name) != nil || idRE.MatchString(name) { // a full ID is that container's
		return nil, false
	}
	data, err := atomicfile.ReadFile(filepath.Join(e.namesDir(), name))
	if err != nil {
		return nil, false
	}
	id := string(data)
	if !idRE.MatchString(id) {
		return nil, false
	}
	if c, err := e.load(id); err == nil && c.Name == name {
		return c, true
	}
	os.Remove(filepath.Join(e.namesDir(), name)) // renamed or removed since
	return nil, false
}

// hint records that name is container id's.
func (e *Engine) hint(name, id string) {
	if CheckName(name) != nil {
		return
	}
	// Written in place, not by rename: a reader that meets it empty or half
	// written has no ID there and searches, as without one; inspect of hundreds
	// of names not yet hinted writes hundreds.
	file := filepath.Join(e.namesDir(), name)
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err == unix.ENOENT {
		os.Mkdir(e.namesDir(), 0o700) // or another made it meanwhile
		fd, err = unix.Open(file, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	}
	if err != nil {
		return
	}
	unix.Write(fd, []byte(id))
	unix.Close(fd)
}

// forgetName removes c's name hint if it is c's (c's record is gone).
func (e *Engine) forgetName(c *Container) {
	if c == nil {
		return
	}
	if data, err := atomicfile.ReadFile(filepath.Join(e.namesDir(), c.Name)); err == nil && string(data) == c.ID {
		os.Remove(filepath.Join(e.namesDir(), c.Name))
	}
}
