package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// ErrInUse is returned when removing an image a container uses.
var ErrInUse = errors.New("image is in use")

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
			return fmt.Errorf("image %s is referenced by %d names (%s): remove them by name or use force", short(rec.Config), len(names), strings.Join(names, ", "))
		}
		lastName := !byName || len(names) <= 1
		users, err := s.inUse(rec.Config)
		if err != nil {
			return err
		}
		if lastName && len(users) > 0 && !force {
			return fmt.Errorf("%w by container %s", ErrInUse, strings.Join(users, ", "))
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
	var out []digest.Digest
	err := s.update(func(r *records) error {
		named := map[digest.Digest]bool{}
		for _, d := range r.Refs {
			named[d] = true
		}
		for m, rec := range r.Images {
			if named[m] && !all {
				continue
			}
			users, err := s.inUse(rec.Config)
			if err != nil {
				return err
			}
			if len(users) > 0 {
				continue
			}
			for n, d := range r.Refs {
				if d == m {
					delete(r.Refs, n)
				}
			}
			delete(r.Images, m)
			out = append(out, rec.Config)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, s.GC()
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
