package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// ErrInUse is returned when removing an image a container uses, ErrConflict when
// removing by ID an image of several names. Their messages begin with docker's
// "conflict".
var (
	ErrInUse    = errors.New("conflict")
	ErrConflict = errors.New("conflict")
)

func (s *Store) inUse(id digest.Digest) ([]string, error) {
	if s.InUse == nil {
		return nil, nil
	}
	return s.InUse(id)
}

// Remove untags name, or with an ID removes the image and all its names, and deletes
// the image once no name is left. An image a container uses is not deleted: without
// force that is an error, with force the names go and the image stays, dangling.
// It returns what it did, Docker-style ("Untagged: x", "Deleted: sha256:...").
func (s *Store) Remove(nameOrID string, force bool) ([]string, error) {
	var out []string
	err := s.update(func(r *records) error {
		m, err := find(r, nameOrID)
		if err != nil {
			return err
		}
		rec := r.Images[m]
		var names []string
		for n, d := range r.Refs {
			if d == m {
				names = append(names, n)
			}
		}
		ref, _ := Normalize(nameOrID)
		byName := ref != "" && r.Refs[ref] == m
		if !byName && len(names) > 1 && !force {
			return fmt.Errorf("%w: unable to delete %s (must be forced) - image is referenced in multiple repositories (%s)", ErrConflict, short(rec.Config), strings.Join(names, ", "))
		}
		lastName := !byName || len(names) <= 1
		users, err := s.inUse(rec.Config)
		if err != nil {
			return err
		}
		if lastName && len(users) > 0 && !force {
			// docker's words, which its clients show as they are.
			if byName {
				return fmt.Errorf("%w: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ErrInUse, nameOrID, strings.Join(users, ", "), short(rec.Config))
			}
			return fmt.Errorf("%w: unable to delete %s (must be forced) - image is being used by container %s", ErrInUse, short(rec.Config), strings.Join(users, ", "))
		}
		if byName {
			names = []string{ref}
		}
		for _, n := range names {
			delete(r.Refs, n)
			out = append(out, "Untagged: "+n)
		}
		if lastName && len(users) == 0 {
			delete(r.Images, m)
			out = append(out, "Deleted: "+rec.Config.String())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, s.GC()
}

// Prune removes dangling images (no name), or with all every image no container
// uses, and collects garbage. It returns the IDs removed.
func (s *Store) Prune(all bool) ([]digest.Digest, error) {
	rep, err := s.PruneImages(PruneFilter{All: all})
	if rep == nil {
		return nil, err
	}
	return rep.Deleted, err
}

// PruneReport is what PruneImages did, as docker reports a prune.
type PruneReport struct {
	Untagged []string        // names removed
	Deleted  []digest.Digest // image IDs removed
	// Reclaimed is the unpacked size of the layers no image left uses.
	Reclaimed int64
}

// PruneImages removes the images f lets go that no container uses (dangling
// ones, or with f.All every one), and collects garbage.
func (s *Store) PruneImages(f PruneFilter) (*PruneReport, error) {
	rep := &PruneReport{}
	err := s.update(func(r *records) error {
		named := map[digest.Digest]bool{}
		for _, d := range r.Refs {
			named[d] = true
		}
		var gone []*Record
		for m, rec := range r.Images {
			if named[m] && !f.All {
				continue
			}
			if !f.Until.IsZero() || len(f.Labels)+len(f.NotLabels) > 0 {
				cfg, err := s.Config(&Image{Record: *rec})
				if err != nil {
					return err
				}
				var created time.Time
				if cfg.Created != nil {
					created = *cfg.Created
				}
				if !f.match(created, cfg.Config.Labels) {
					continue
				}
			}
			users, err := s.inUse(rec.Config)
			if err != nil {
				return err
			}
			if len(users) > 0 {
				continue
			}
			var names []string
			for n, d := range r.Refs {
				if d == m {
					names = append(names, n)
					delete(r.Refs, n)
				}
			}
			sort.Strings(names)
			rep.Untagged = append(rep.Untagged, names...)
			delete(r.Images, m)
			rep.Deleted = append(rep.Deleted, rec.Config)
			gone = append(gone, rec)
		}
		rep.Reclaimed = s.freedBy(r, gone)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, s.GC()
}

// freedBy is the unpacked size of the layers of the records gone that no image
// left in r uses.
func (s *Store) freedBy(r *records, gone []*Record) int64 {
	kept := map[digest.Digest]bool{}
	for _, rec := range r.Images {
		for _, l := range rec.Layers {
			kept[l.DiffID] = true
		}
	}
	var n int64
	for _, rec := range gone {
		for _, l := range rec.Layers {
			if !kept[l.DiffID] {
				kept[l.DiffID] = true
				n += s.LayerSize(l.DiffID)
			}
		}
	}
	return n
}

// GC deletes blobs and layers no image, hold or snapshot references, and stale ingest
// files. It runs only when no writer is active (a pull in flight holds gc.lock
// shared); then it returns at once and the next GC collects.
func (s *Store) GC() error {
	unlockGC, err := s.lock("gc.lock", atomicfile.Exclusive|atomicfile.Try)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	defer unlockGC()
	// Hold images.lock too, so no record appears between reading and sweeping.
	unlock, err := s.lock("images.lock", atomicfile.Exclusive)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := s.load()
	if err != nil {
		return err
	}
	blobs := map[string]bool{}
	layers := map[string]bool{}
	for m, rec := range r.Images {
		blobs[m.Encoded()] = true
		blobs[rec.Config.Encoded()] = true
		for _, l := range rec.Layers {
			blobs[l.Blob.Encoded()] = true
			layers[l.DiffID.Encoded()] = true
		}
	}
	if err := s.held(blobs, layers); err != nil {
		return err
	}
	infos, err := s.Snapshotter().List()
	if err != nil {
		return err
	}
	for _, in := range infos {
		for _, l := range in.Layers {
			layers[filepath.Base(filepath.Dir(l))] = true
		}
	}
	var errs []error
	sweep := func(dir string, keep map[string]bool) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, e := range ents {
			if !keep[e.Name()] {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	sweep(filepath.Join(s.root, "blobs", "sha256"), blobs)
	sweep(filepath.Join(s.root, "layers"), layers)
	sweep(filepath.Join(s.root, "ingest"), nil)
	return errors.Join(errs...)
}

func short(d digest.Digest) string {
	if e := d.Encoded(); len(e) >= 12 {
		return e[:12]
	}
	return d.String()
}
