package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A Hold keeps blobs and layers that no image names from garbage collection, with
// a small record of its owner's. The Dockerfile builder's layer cache is made of
// holds: one per build step, keeping the step's layer and naming what it made,
// until `hull builder prune` releases them.
//
//	holds/<kind>/<name>.json   one hold
type Hold struct {
	Blobs   []digest.Digest `json:"blobs,omitempty"`
	Layers  []digest.Digest `json:"layers,omitempty"` // diff IDs
	Created time.Time       `json:"created"`
	Data    json.RawMessage `json:"data,omitempty"` // the owner's
}

var holdName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

func (s *Store) holdPath(kind, name string) (string, error) {
	if !holdName.MatchString(kind) || !holdName.MatchString(name) || len(kind) > 64 || len(name) > 128 {
		return "", fmt.Errorf("bad hold name %s/%s", kind, name)
	}
	return filepath.Join(s.root, "holds", kind, name+".json"), nil
}

// PutHold writes (or replaces) the hold kind/name. The caller holds Writer, so that
// no GC runs between making what h keeps and the hold.
func (s *Store) PutHold(kind, name string, h Hold) error {
	p, err := s.holdPath(kind, name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	if h.Created.IsZero() {
		h.Created = time.Now().UTC()
	}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(p, data, 0o600)
}

// GetHold reads the hold kind/name; os.ErrNotExist if there is none.
func (s *Store) GetHold(kind, name string) (*Hold, error) {
	p, err := s.holdPath(kind, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var h Hold
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("hold %s/%s: %w", kind, name, err)
	}
	return &h, nil
}

// Holds lists the names of the holds of kind.
func (s *Store) Holds(kind string) ([]string, error) {
	if !holdName.MatchString(kind) {
		return nil, fmt.Errorf("bad hold kind %q", kind)
	}
	ents, err := os.ReadDir(filepath.Join(s.root, "holds", kind))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// RemoveHold deletes the hold kind/name (a missing one is no error). What it kept
// goes at the next GC unless something else keeps it.
func (s *Store) RemoveHold(kind, name string) error {
	p, err := s.holdPath(kind, name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// held adds to blobs and layers what every hold keeps.
func (s *Store) held(blobs, layers map[string]bool) error {
	kinds, err := os.ReadDir(filepath.Join(s.root, "holds"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range kinds {
		names, err := s.Holds(k.Name())
		if err != nil {
			return err
		}
		for _, n := range names {
			h, err := s.GetHold(k.Name(), n)
			if err != nil {
				// A hold that cannot be read keeps nothing; the owner finds it
				// broken too and makes it again.
				continue
			}
			for _, b := range h.Blobs {
				blobs[b.Encoded()] = true
			}
			for _, l := range h.Layers {
				layers[l.Encoded()] = true
			}
		}
	}
	return nil
}

// Writer marks a writer in progress for as long as the returned function is not
// called: GC waits for the next chance, so that what the writer makes survives until
// an image or a hold names it. A build holds it from its first layer to its image.
func (s *Store) Writer() (func(), error) { return s.writer() }

// AddLayer stores the uncompressed layer tar r (gzip-compressed in the store) and
// unpacks it. The caller holds Writer and names the layer (an image, a hold) before
// letting go.
func (s *Store) AddLayer(r io.Reader) (LayerRecord, error) { return s.ingestLayer(r) }

// NewImage writes config (an image config, JSON) and the manifest of an image made
// of layers (already in the store) and names it. The config's rootfs must list the
// layers' diff IDs.
func (s *Store) NewImage(config []byte, layers []LayerRecord, names ...string) (*Image, error) {
	var cfg ocispec.Image
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return nil, fmt.Errorf("image config: %d diff ids for %d layers", len(cfg.RootFS.DiffIDs), len(layers))
	}
	for i, l := range layers {
		if cfg.RootFS.DiffIDs[i] != l.DiffID {
			return nil, fmt.Errorf("image config: diff id %d is %s, the layer's is %s", i, cfg.RootFS.DiffIDs[i], l.DiffID)
		}
	}
	done, err := s.writer()
	if err != nil {
		return nil, err
	}
	defer done()
	return s.newImageConfig(config, layers, names...)
}
