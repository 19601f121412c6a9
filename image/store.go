// Package image is hull's image store: a content-addressed blob store, image records
// (references → manifest), unpacked layers shared by every image that uses them,
// overlay snapshots on top of them, and the registry, archive and import paths that
// fill it.
//
// On disk, below the engine's root:
//
//	blobs/sha256/<hex>     manifests, configs, compressed layers; written to ingest/
//	                       first and renamed into place only after the digest verified
//	ingest/                partial downloads; anything here is stale unless a writer
//	                       holds gc.lock shared
//	layers/<diffid hex>/   fs/ (one layer unpacked, whiteouts as char 0/0) and size
//	snapshots/<key>/       see package snapshot
//	holds/<kind>/<name>.json  what keeps blobs and layers without an image (hold.go)
//	images.json            the records: {"images": {manifest: record}, "refs": {name: manifest}}
//	images.lock            flock guarding read-modify-write of images.json
//	gc.lock                shared by every writer (pull, load, import, prepare), exclusive for GC
//
// A Store is safe for concurrent use by several processes: blobs and layers are
// idempotent (a second writer's rename finds the work done), records change under
// images.lock, and garbage collection runs only when no writer holds gc.lock.
package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hullproject/hull/image/layer"
	"github.com/hullproject/hull/image/snapshot"
	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/opencontainers/go-digest"
)

// Store is an image store rooted in one directory.
type Store struct {
	root string
	// Limits bound each layer's unpacking.
	Limits layer.Limits
	// InUse reports the containers that use an image (by ID); the engine sets it so
	// that rmi refuses to remove an image a container still needs.
	InUse func(id digest.Digest) ([]string, error)

	snap snapshot.Snapshotter
}

// Record is one image as the store keeps it.
type Record struct {
	Manifest  digest.Digest `json:"manifest"`
	MediaType string        `json:"mediaType"`
	Config    digest.Digest `json:"config"`
	Layers    []LayerRecord `json:"layers"`
	Added     time.Time     `json:"added"`
	// Index is the digest of the index or manifest list the image was picked from,
	// if any: it is what the registry calls the image, so it names the repo digest.
	Index digest.Digest `json:"index,omitempty"`
}

// LayerRecord is one layer of an image.
type LayerRecord struct {
	Blob      digest.Digest `json:"blob"`
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	DiffID    digest.Digest `json:"diffID"`
}

// ID is the image's ID: its config digest, as Docker counts it.
func (r *Record) ID() digest.Digest { return r.Config }

type records struct {
	Images map[digest.Digest]*Record `json:"images"`
	Refs   map[string]digest.Digest  `json:"refs"`
}

// Open opens (creating as needed) the store below root.
func Open(root string) (*Store, error) {
	for _, d := range []string{"blobs/sha256", "ingest", "layers", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	return &Store{root: root, Limits: layer.DefaultLimits}, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// Snapshotter returns the store's snapshotter: overlayfs where it works, the copying
// one otherwise (chosen once, by a probe mount).
func (s *Store) Snapshotter() snapshot.Snapshotter {
	if s.snap == nil {
		s.snap = snapshot.New(filepath.Join(s.root, "snapshots"))
	}
	return s.snap
}

// SetSnapshotter replaces the store's snapshotter (tests use it to force one).
func (s *Store) SetSnapshotter(sn snapshot.Snapshotter) { s.snap = sn }

// lock takes an flock on <root>/<name>.
func (s *Store) lock(name string, mode atomicfile.Mode) (func(), error) {
	return atomicfile.Lock(filepath.Join(s.root, name), mode)
}

// writer marks a writer in progress, so that GC leaves ingest files and unreferenced
// blobs and layers alone until the writer registered what it wrote.
func (s *Store) writer() (func(), error) { return s.lock("gc.lock", atomicfile.Shared) }

func (s *Store) load() (*records, error) {
	r := &records{Images: map[digest.Digest]*Record{}, Refs: map[string]digest.Digest{}}
	data, err := os.ReadFile(filepath.Join(s.root, "images.json"))
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image records: %w", err)
	}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("parse image records: %w", err)
	}
	if r.Images == nil {
		r.Images = map[digest.Digest]*Record{}
	}
	if r.Refs == nil {
		r.Refs = map[string]digest.Digest{}
	}
	return r, nil
}

// update runs fn on the records under images.lock and saves them if fn succeeds.
func (s *Store) update(fn func(*records) error) error {
	unlock, err := s.lock("images.lock", atomicfile.Exclusive)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := s.load()
	if err != nil {
		return err
	}
	if err := fn(r); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.root, "images.json"), data, 0o600); err != nil {
		return err
	}
	return atomicfile.SyncDir(s.root)
}

// Image is a record with the names that point at it.
type Image struct {
	Record
	Names []string
}

// List returns every image, newest first.
func (s *Store) List() ([]Image, error) {
	r, err := s.load()
	if err != nil {
		return nil, err
	}
	names := map[digest.Digest][]string{}
	for n, d := range r.Refs {
		names[d] = append(names[d], n)
	}
	var out []Image
	for d, rec := range r.Images {
		ns := names[d]
		sort.Strings(ns)
		out = append(out, Image{Record: *rec, Names: ns})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Added.Equal(out[j].Added) {
			return out[i].Added.After(out[j].Added)
		}
		return out[i].Manifest < out[j].Manifest
	})
	return out, nil
}

// ErrNotFound is returned when no image matches a name.
var ErrNotFound = errors.New("no such image")

// Get finds an image by reference (normalized like Docker: "busybox" is
// "docker.io/library/busybox:latest"), by full or short ID (config digest), or by
// manifest digest.
func (s *Store) Get(name string) (*Image, error) {
	r, err := s.load()
	if err != nil {
		return nil, err
	}
	m, err := find(r, name)
	if err != nil {
		return nil, err
	}
	img := &Image{Record: *r.Images[m]}
	for n, d := range r.Refs {
		if d == m {
			img.Names = append(img.Names, n)
		}
	}
	sort.Strings(img.Names)
	return img, nil
}

func find(r *records, name string) (digest.Digest, error) {
	if ref, err := Normalize(name); err == nil {
		if d, ok := r.Refs[ref]; ok {
			return d, nil
		}
	}
	hex := name
	if d, err := digest.Parse(name); err == nil {
		hex = d.Encoded()
	}
	if len(hex) >= 4 && isHex(hex) {
		var found []digest.Digest
		for m, rec := range r.Images {
			if hasPrefix(rec.Config.Encoded(), hex) || hasPrefix(m.Encoded(), hex) {
				found = append(found, m)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return "", fmt.Errorf("image id %s is ambiguous", name)
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNotFound, name)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// register records img under names (already normalized).
func (s *Store) register(rec *Record, names ...string) error {
	return s.update(func(r *records) error {
		if old, ok := r.Images[rec.Manifest]; ok {
			rec.Added = old.Added
			if rec.Index == "" {
				rec.Index = old.Index
			}
		}
		r.Images[rec.Manifest] = rec
		for _, n := range names {
			r.Refs[n] = rec.Manifest
		}
		return nil
	})
}

// Tag adds the name target to the image source.
func (s *Store) Tag(source, target string) error {
	ref, err := Normalize(target)
	if err != nil {
		return err
	}
	return s.update(func(r *records) error {
		m, err := find(r, source)
		if err != nil {
			return err
		}
		r.Refs[ref] = m
		return nil
	})
}
