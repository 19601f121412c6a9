package build

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/opencontainers/go-digest"
)

// The layer cache. Every step that writes into the rootfs (RUN, COPY, ADD, a
// WORKDIR that makes its directory) has a key:
//
//	key = sha256(parent's key, the instruction, its inputs)
//
// where the parent's key chains back through every instruction of the stage
// (metadata ones too: an ENV changes what a later RUN sees) to the base image's ID;
// a RUN's inputs are its environment with the build args in force, its mounts'
// sources and its network; a COPY's, the content digest of what it copies (copy.go)
// and, for --from, the key of the stage or the ID of the image it reads. A step's
// result is kept as an image store hold of kind "buildcache" named by the key: its
// layer (or none, for a step that changed nothing) and when it was made. The holds
// keep the layers from GC across builds; `hull builder prune` removes them.
//
// A cached step is applied without a snapshot, a container or a diff: a build whose
// every step hits the cache mounts nothing and runs nothing.

// CacheKind is the image store hold kind of the build cache.
const CacheKind = "buildcache"

// cacheEntry is one step's result.
type cacheEntry struct {
	Layer     *image.LayerRecord `json:"layer,omitempty"`
	Created   time.Time          `json:"created"`
	CreatedBy string             `json:"createdBy"`
}

// cacheKey hashes its parts into a key.
func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cacheGet looks the key up; an entry whose layer left the store is a miss.
func (bd *build) cacheGet(key string) (*cacheEntry, bool) {
	s := bd.b.Store
	h, err := s.GetHold(CacheKind, key)
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if json.Unmarshal(h.Data, &e) != nil {
		return nil, false
	}
	if e.Layer != nil && (!s.HasLayer(e.Layer.DiffID) || !s.HasBlob(e.Layer.Blob)) {
		return nil, false
	}
	return &e, true
}

// cachePut records a step's result, holding its layer.
func (bd *build) cachePut(key string, e *cacheEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	h := image.Hold{Created: e.Created, Data: data}
	if e.Layer != nil {
		h.Blobs = []digest.Digest{e.Layer.Blob}
		h.Layers = []digest.Digest{e.Layer.DiffID}
	}
	return bd.b.Store.PutHold(CacheKind, key, h)
}

// PruneOptions tune Prune.
type PruneOptions struct {
	// KeepNewerThan keeps the entries made less than this long ago (0: none kept).
	KeepNewerThan time.Duration
}

// PruneResult says what Prune removed.
type PruneResult struct {
	Entries int
	// Deleted are the entries removed, by their cache keys (the Docker API's
	// CachesDeleted).
	Deleted []string
	// Reclaimed is the unpacked size of the layers that went with them.
	Reclaimed int64
}

// Prune removes the build cache (hull builder prune) and collects what only it kept.
func Prune(s *image.Store, o PruneOptions) (PruneResult, error) {
	var r PruneResult
	names, err := s.Holds(CacheKind)
	if err != nil {
		return r, err
	}
	before := storeSize(s)
	for _, n := range names {
		h, err := s.GetHold(CacheKind, n)
		if err == nil && o.KeepNewerThan > 0 && time.Since(h.Created) < o.KeepNewerThan {
			continue
		}
		if err := s.RemoveHold(CacheKind, n); err != nil {
			return r, err
		}
		r.Entries++
		r.Deleted = append(r.Deleted, n)
	}
	if err := s.GC(); err != nil {
		return r, err
	}
	if d := before - storeSize(s); d > 0 {
		r.Reclaimed = d
	}
	return r, nil
}

// storeSize is the unpacked size of the store's layers.
func storeSize(s *image.Store) int64 {
	ents, err := os.ReadDir(s.Root() + "/layers")
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if d, err := digest.Parse("sha256:" + e.Name()); err == nil {
			n += s.LayerSize(d)
		}
	}
	return n
}

// peekReader tells whether a layer tar has no entry before it is stored: an empty
// diff makes no layer.
type peekReader struct{ *bufio.Reader }

func newPeekReader(r io.Reader) *peekReader { return &peekReader{bufio.NewReaderSize(r, 64<<10)} }

// emptyTar tells whether the tar's first block is the end-of-archive zero block.
func (p *peekReader) emptyTar() (bool, error) {
	b, err := p.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if len(b) < 512 {
		return len(b) == 0, nil
	}
	for _, c := range b {
		if c != 0 {
			return false, nil
		}
	}
	return true, nil
}
