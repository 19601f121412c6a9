// Package snapshot gives a container its root filesystem on top of an image's
// unpacked layers, in the manner of containerd's snapshotters:
//
//	sn := snapshot.New(dir)                     // overlay, or copy where overlay fails
//	rootfs, err := sn.Prepare("c1", layerDirs)  // writable, mounted at rootfs
//	... run the container on rootfs ...
//	err = sn.Diff("c1", w)                      // the changes as a layer tar (commit)
//	err = sn.Remove("c1")                       // unmount and delete
//
// View is Prepare made read-only. Mount mounts an existing snapshot again (mounts do
// not survive a reboot; the directories do) and Unmount undoes it keeping the data.
//
// Layer directories are given lowest first and hold one layer each, whiteouts as
// overlayfs whiteouts (package layer). Each snapshot lives in <dir>/<key>/ with an
// info.json naming its layers, so the image store's GC can keep them.
package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/hullproject/hull/internal/atomicfile"
)

// Snapshotter makes and removes container root filesystems.
type Snapshotter interface {
	// Name is "overlay" or "copy".
	Name() string
	// Prepare makes a writable snapshot over layers and returns its mounted rootfs.
	Prepare(key string, layers []string) (string, error)
	// View makes a read-only snapshot over layers and returns its mounted rootfs.
	View(key string, layers []string) (string, error)
	// Mount mounts an existing snapshot (again) and returns its rootfs.
	Mount(key string) (string, error)
	// Unmount unmounts a snapshot's rootfs, keeping its data.
	Unmount(key string) error
	// Diff writes the snapshot's changes against its layers as a layer tar.
	Diff(key string, w io.Writer) error
	// Remove unmounts and deletes a snapshot; removing a missing one is no error.
	Remove(key string) error
	// Move unmounts a snapshot and moves its directory to dst (which must not
	// exist, on the same filesystem) for the caller to delete: the key is gone at
	// once, the deletion's cost left for later. Moving a missing one is no error.
	Move(key, dst string) error
	// List returns every snapshot.
	List() ([]Info, error)
}

// Info describes a snapshot.
type Info struct {
	Key      string   `json:"key"`
	Layers   []string `json:"layers"`
	ReadOnly bool     `json:"readOnly"`
	Kind     string   `json:"kind"`
}

// ErrExists is returned by Prepare and View when the key is taken.
var ErrExists = errors.New("snapshot exists")

// ErrNotFound is returned for an unknown key.
var ErrNotFound = errors.New("no such snapshot")

// The length is checked apart: a counted repetition ({0,127}) compiles to 127
// copies of the class, ~120 KB of heap in every hull process from its start.
var keyRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// New returns the overlay snapshotter if an overlay mount works below dir, else the
// copying one, and logs why.
func New(dir string) Snapshotter {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return NewCopy(dir)
	}
	if err := probeOverlay(dir); err != nil {
		slog.Warn("overlayfs unavailable, using the copying snapshotter (slow, uses disk)", "dir", dir, "err", err)
		return NewCopy(dir)
	}
	return NewOverlay(dir)
}

type base struct{ dir string }

func (b base) path(key string) (string, error) {
	if !keyRE.MatchString(key) || len(key) > 128 {
		return "", fmt.Errorf("bad snapshot key %q", key)
	}
	return filepath.Join(b.dir, key), nil
}

func (b base) create(key string, info Info) (string, error) {
	p, err := b.path(key)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Mkdir(p, 0o700); err != nil {
		if os.IsExist(err) {
			return "", fmt.Errorf("%w: %s", ErrExists, key)
		}
		return "", err
	}
	for _, l := range info.Layers {
		if !filepath.IsAbs(l) {
			os.RemoveAll(p)
			return "", fmt.Errorf("layer dir %q is not absolute", l)
		}
	}
	data, _ := json.Marshal(info)
	if err := os.WriteFile(filepath.Join(p, "info.json"), data, 0o600); err != nil {
		os.RemoveAll(p)
		return "", err
	}
	return p, nil
}

func (b base) info(key string) (Info, string, error) {
	p, err := b.path(key)
	if err != nil {
		return Info{}, "", err
	}
	data, err := os.ReadFile(filepath.Join(p, "info.json"))
	if errors.Is(err, os.ErrNotExist) {
		return Info{}, "", fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return Info{}, "", err
	}
	var in Info
	if err := json.Unmarshal(data, &in); err != nil {
		return Info{}, "", fmt.Errorf("snapshot %s: %w", key, err)
	}
	return in, p, nil
}

// lockMount serializes mounting and unmounting the snapshot in p between
// processes: two commands that mount a snapshot at once (two `hull cp` of a
// stopped container) would both find it unmounted and stack two mounts. A
// snapshot that is gone has nothing to lock (unlock is then a no-op).
func lockMount(p string) (func(), error) {
	unlock, err := atomicfile.Lock(filepath.Join(p, "mount.lock"), atomicfile.Exclusive)
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil
	}
	return unlock, err
}

func (b base) Move(key, dst string) error {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unmount(filepath.Join(p, "rootfs")); err != nil {
		return err
	}
	return os.Rename(p, dst)
}

func (b base) List() ([]Info, error) {
	ents, err := os.ReadDir(b.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []Info
	for _, e := range ents {
		if in, _, err := b.info(e.Name()); err == nil {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
