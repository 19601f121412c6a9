package image

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/image/layer"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// ErrDigest is returned when content does not match its digest or size.
var ErrDigest = errors.New("content does not match its digest")

// digestError is ErrDigest for content whose digest is got where want was due.
func digestError(want, got digest.Digest) error {
	return fmt.Errorf("%w: want %s, got %s", ErrDigest, want, got)
}

// checkDigest accepts only well-formed sha256 digests, so that a digest can name a
// file: "sha256:../../x" never becomes a path.
func checkDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("bad digest %q: %w", string(d), err)
	}
	if d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("bad digest %q: only sha256 is supported", string(d))
	}
	return nil
}

func (s *Store) blobPath(d digest.Digest) string {
	return filepath.Join(s.root, "blobs", "sha256", d.Encoded())
}

// HasBlob tells whether the blob d is in the store.
func (s *Store) HasBlob(d digest.Digest) bool {
	if checkDigest(d) != nil {
		return false
	}
	_, err := os.Stat(s.blobPath(d))
	return err == nil
}

// OpenBlob opens the blob d.
func (s *Store) OpenBlob(d digest.Digest) (*os.File, error) {
	if err := checkDigest(d); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return f, nil
}

// ReadBlob reads a small blob (a manifest or config) of at most limit bytes.
func (s *Store) ReadBlob(d digest.Digest, limit int64) ([]byte, error) {
	f, err := s.OpenBlob(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("blob %s is larger than %d bytes", d, limit)
	}
	return data, nil
}

// WriteBlob stores r under digest want. size is the expected size, or -1 if unknown
// (then at most maxSize bytes are read). The content goes to ingest/ and is renamed
// into blobs/ only when digest and size match; otherwise nothing is kept, and the
// error (ErrDigest) names the digest of what came.
func (s *Store) WriteBlob(r io.Reader, want digest.Digest, size int64) error {
	if err := checkDigest(want); err != nil {
		return err
	}
	if s.HasBlob(want) {
		return nil
	}
	limit := size
	if size < 0 {
		limit = maxBlobSize
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "ingest"), want.Encoded()+"-")
	if err != nil {
		return fmt.Errorf("write blob: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		if size < 0 {
			return fmt.Errorf("%w: want %s, got more than %d bytes", ErrDigest, want, limit)
		}
		// More than is due: what follows is hashed, not stored, to name what
		// came, for at most as much again (a MiB at least).
		extra := max(size, 1<<20)
		var m int64
		if m, err = io.Copy(h, io.LimitReader(r, extra)); err == nil && m == extra {
			return fmt.Errorf("%w: want %s (%d bytes), got more than %d bytes", ErrDigest, want, size, n+m-1)
		}
		n += m
	}
	if errors.Is(err, ErrDigest) {
		return err // the registry's transport checked it (guard)
	}
	if err != nil {
		return fmt.Errorf("write blob %s: %w", want, err)
	}
	got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
	if got != want {
		return digestError(want, got)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("%w: %s is %d bytes, not %d", ErrDigest, want, n, size)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), s.blobPath(want))
}

// PutBlob stores data and returns its digest.
func (s *Store) PutBlob(data []byte) (digest.Digest, error) {
	d := digest.FromBytes(data)
	return d, s.WriteBlob(bytes.NewReader(data), d, int64(len(data)))
}

// Decompress returns the uncompressed stream of a layer blob, sniffing gzip and zstd
// by their magic numbers (registries mislabel layers often enough).
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		// Bounded window and one goroutine: memory stays small whatever the frame claims.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(128<<20), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

func (s *Store) layerDir(diffID digest.Digest) string {
	return filepath.Join(s.root, "layers", diffID.Encoded())
}

// LayerFS is the unpacked directory of the layer diffID.
func (s *Store) LayerFS(diffID digest.Digest) string {
	return filepath.Join(s.layerDir(diffID), "fs")
}

// HasLayer tells whether the layer diffID is unpacked.
func (s *Store) HasLayer(diffID digest.Digest) bool {
	_, err := os.Stat(filepath.Join(s.layerDir(diffID), "size"))
	return err == nil
}

// LayerSize is the unpacked size (uncompressed tar bytes) of a layer, 0 if unknown.
func (s *Store) LayerSize(diffID digest.Digest) int64 {
	data, _ := os.ReadFile(filepath.Join(s.layerDir(diffID), "size"))
	n, _ := strconv.ParseInt(string(data), 10, 64)
	return n
}

// unpackLayer unpacks the blob into layers/<diffID>, checking the diff ID on the way.
// The layer is built in a temp dir and renamed into place, so a killed unpack leaves
// nothing that looks finished.
func (s *Store) unpackLayer(blob, diffID digest.Digest) error {
	if err := checkDigest(diffID); err != nil {
		return err
	}
	if s.HasLayer(diffID) {
		return nil
	}
	f, err := s.OpenBlob(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "layers"), ".tmp-")
	if err != nil {
		return err
	}
	defer removeTree(tmp)
	if err := os.Mkdir(filepath.Join(tmp, "fs"), 0o755); err != nil {
		return err
	}
	zr, err := Decompress(f)
	if err != nil {
		return fmt.Errorf("layer %s: %w", blob, err)
	}
	defer zr.Close()
	h := sha256.New()
	st, err := layer.Apply(filepath.Join(tmp, "fs"), io.TeeReader(zr, h), s.Limits)
	if err != nil {
		return fmt.Errorf("layer %s: %w", blob, err)
	}
	// Drain what follows the tar (compression trailer), so the gzip checksum is checked.
	if _, err := io.Copy(h, zr); err != nil {
		return fmt.Errorf("layer %s: %w", blob, err)
	}
	if got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))); got != diffID {
		return fmt.Errorf("layer %s: %w: diff id %s, config says %s", blob, ErrDigest, got, diffID)
	}
	if err := os.WriteFile(filepath.Join(tmp, "size"), []byte(strconv.FormatInt(st.Bytes, 10)), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.layerDir(diffID)); err != nil && !s.HasLayer(diffID) {
		return fmt.Errorf("layer %s: %w", blob, err)
	}
	return nil
}

// removeTree removes a tree the store made; layer trees hold odd modes and
// immutable-free char devices, which os.RemoveAll handles.
func removeTree(dir string) error { return os.RemoveAll(dir) }

func lchtimes(p string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}
