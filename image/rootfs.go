package image

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Config returns an image's OCI config (entrypoint, env, user, ...).
func (s *Store) Config(img *Image) (*ocispec.Image, error) {
	data, err := s.ReadBlob(img.Config, maxConfigSize)
	if err != nil {
		return nil, err
	}
	var c ocispec.Image
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("image config %s: %w", img.Config, err)
	}
	return &c, nil
}

// Manifest returns an image's manifest.
func (s *Store) Manifest(img *Image) (*ocispec.Manifest, []byte, error) {
	data, err := s.ReadBlob(img.Manifest, maxManifestSize)
	if err != nil {
		return nil, nil, err
	}
	m, err := parseManifest(data, img.MediaType)
	return m, data, err
}

// LayerDirs lists an image's unpacked layer directories, lowest first.
func (s *Store) LayerDirs(img *Image) ([]string, error) {
	var dirs []string
	for _, l := range img.Layers {
		if !s.HasLayer(l.DiffID) {
			return nil, fmt.Errorf("layer %s of image %s is missing: pull it again", l.DiffID, short(img.Config))
		}
		dirs = append(dirs, s.LayerFS(l.DiffID))
	}
	return dirs, nil
}

// Size is the unpacked size of an image.
func (s *Store) Size(img *Image) int64 {
	var n int64
	seen := map[digest.Digest]bool{}
	for _, l := range img.Layers {
		if !seen[l.DiffID] {
			seen[l.DiffID] = true
			n += s.LayerSize(l.DiffID)
		}
	}
	return n
}

// Prepare makes a writable snapshot key over the image name and returns the mounted
// rootfs. The engine calls it when creating a container; Remove(key) undoes it.
func (s *Store) Prepare(key, name string) (string, error) {
	return s.snapshot(key, name, false)
}

// View makes a read-only snapshot key of the image name.
func (s *Store) View(key, name string) (string, error) {
	return s.snapshot(key, name, true)
}

func (s *Store) snapshot(key, name string, ro bool) (string, error) {
	// As a writer: the layers must not be collected before the snapshot records them.
	done, err := s.writer()
	if err != nil {
		return "", err
	}
	defer done()
	img, err := s.Get(name)
	if err != nil {
		return "", err
	}
	dirs, err := s.LayerDirs(img)
	if err != nil {
		return "", err
	}
	if ro {
		return s.Snapshotter().View(key, dirs)
	}
	return s.Snapshotter().Prepare(key, dirs)
}

// RemoveSnapshot unmounts and deletes the snapshot key.
func (s *Store) RemoveSnapshot(key string) error {
	return s.Snapshotter().Remove(key)
}
