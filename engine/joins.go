package engine

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// The join index: who joined whose namespaces, so that inspect finds the containers
// that can share a namespace a container made without reading every record. Only a
// container whose mode joins one (container:ID, pod:ID) can be in a namespace
// another made (or the host's, which inspect names "host" and does not enumerate),
// so the index holds one empty file per joiner and target:
//
//	<root>/joins/<target ID>/<joiner ID>      target: a container's or a pod's ID
//
// It is written by prepareStart, before the joiner's process exists and at every
// start, so no running joiner lacks its entry, whatever crashed before: nothing is
// fsynced (after a crash of the host no joiner runs, and its next start writes it
// again). rm removes a joiner's entries after its record; a crash in between, or
// before a start, leaves a stale entry, so readers verify each against the joiner's
// record (its mode still names the target) and the namespace's inode, and drop an
// entry whose record is gone. A root whose containers were started by a hull
// without the index gets it built from the records first (ensureJoinIndex).
func (e *Engine) joinsDir() string { return filepath.Join(e.Root, "joins") }

// joinTargets are the IDs of the containers and pods whose namespaces c joins.
func joinTargets(c *Container) []string {
	var out []string
	for _, t := range nsTypes {
		mode := modeOf(c, t)
		if !joins(mode) {
			continue
		}
		_, id, _ := strings.Cut(mode, ":")
		if id != "" && idRE.MatchString(id) && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// indexJoins writes c's entries in the join index.
func (e *Engine) indexJoins(c *Container) error {
	if err := e.ensureJoinIndex(); err != nil {
		return err
	}
	return addJoins(e.joinsDir(), c)
}

func addJoins(dir string, c *Container) error {
	for _, target := range joinTargets(c) {
		td := filepath.Join(dir, target)
		// unindexJoins removes a target's directory once empty: one removed
		// between the Mkdir and the Open is made again.
		for i := 0; ; i++ {
			if err := os.Mkdir(td, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			fd, err := unix.Open(filepath.Join(td, c.ID), unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
			if err == nil {
				unix.Close(fd)
				break
			}
			if err != unix.ENOENT || i == 5 {
				return &os.PathError{Op: "open", Path: filepath.Join(td, c.ID), Err: err}
			}
		}
	}
	return nil
}

// ensureJoinIndex builds the join index from the records if the root has none
// yet: built whole under a temporary name and renamed into place, so that its
// presence means it is complete. Two builders race harmlessly (the second's
// rename fails and it removes its copy); a joiner started meanwhile writes its own
// entry after this returns.
func (e *Engine) ensureJoinIndex() error {
	if _, err := os.Stat(e.joinsDir()); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(e.Root, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(e.Root, ".joins-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // left only when the rename failed
	ids, err := e.ids()
	if err != nil {
		return err
	}
	for _, id := range ids {
		c, err := e.load(id)
		if err != nil {
			continue // removed meanwhile, or damaged: not started either
		}
		if err := addJoins(tmp, c); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, e.joinsDir()); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return err
	}
	return nil
}

// unindexJoins removes c's entries from the join index (c's record is gone).
func (e *Engine) unindexJoins(c *Container) {
	if c == nil {
		return
	}
	for _, target := range joinTargets(c) {
		td := filepath.Join(e.joinsDir(), target)
		os.Remove(filepath.Join(td, c.ID))
		unix.Rmdir(td) // fails while others joined it
	}
}

// joiners lists the IDs in target's directory of the join index (unverified).
func (e *Engine) joiners(target string) []string {
	ents, err := os.ReadDir(filepath.Join(e.joinsDir(), target))
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range ents {
		if idRE.MatchString(d.Name()) {
			out = append(out, d.Name())
		}
	}
	return out
}
