package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/hullproject/hull/image/layer"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImportOptions tune Import, ImportDir and Commit.
type ImportOptions struct {
	// Created is the image's creation time; zero means now.
	Created time.Time
	// Config is the runtime config (Cmd, Env, ...); an empty Env gets a default PATH.
	Config ocispec.ImageConfig
	// Comment goes into the history entry.
	Comment string
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ingestLayer stores the uncompressed layer tar r as a gzip blob and unpacks it.
func (s *Store) ingestLayer(r io.Reader) (LayerRecord, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, "ingest"), "layer-")
	if err != nil {
		return LayerRecord{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	blobHash, diffHash := sha256.New(), sha256.New()
	// No name or time in the gzip header: the same tree gives the same blob.
	gz := gzip.NewWriter(io.MultiWriter(f, blobHash))
	n, err := io.Copy(io.MultiWriter(gz, diffHash), r)
	if err != nil {
		return LayerRecord{}, fmt.Errorf("write layer: %w", err)
	}
	if n == 0 {
		return LayerRecord{}, fmt.Errorf("write layer: empty layer")
	}
	if err := gz.Close(); err != nil {
		return LayerRecord{}, err
	}
	if err := f.Sync(); err != nil {
		return LayerRecord{}, err
	}
	st, _ := f.Stat()
	rec := LayerRecord{
		Blob:      digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(blobHash.Sum(nil))),
		DiffID:    digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(diffHash.Sum(nil))),
		MediaType: ocispec.MediaTypeImageLayerGzip,
		Size:      st.Size(),
	}
	if err := os.Rename(f.Name(), s.blobPath(rec.Blob)); err != nil {
		return LayerRecord{}, err
	}
	return rec, s.unpackLayer(rec.Blob, rec.DiffID)
}

// newImage writes config and manifest for layers and registers them under names.
func (s *Store) newImage(cfg *ocispec.Image, layers []LayerRecord, names ...string) (*Image, error) {
	cfg.RootFS = ocispec.RootFS{Type: "layers"}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
	}
	cdata, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return s.newImageConfig(cdata, layers, names...)
}

// newImageConfig is newImage for a config already encoded.
func (s *Store) newImageConfig(cdata []byte, layers []LayerRecord, names ...string) (*Image, error) {
	cd, err := s.PutBlob(cdata)
	if err != nil {
		return nil, err
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(cdata))}}
	m.SchemaVersion = 2
	for _, l := range layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Blob, Size: l.Size})
	}
	mdata, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	md, err := s.PutBlob(mdata)
	if err != nil {
		return nil, err
	}
	rec := &Record{Manifest: md, MediaType: m.MediaType, Config: cd, Layers: layers, Added: time.Now().UTC()}
	var refs []string
	for _, n := range names {
		if n == "" {
			continue
		}
		r, err := Normalize(n)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	if err := s.register(rec, refs...); err != nil {
		return nil, err
	}
	return s.Get(md.String())
}

func baseConfig(opt ImportOptions) *ocispec.Image {
	created := opt.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	c := &ocispec.Image{Created: &created, Platform: ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}, Config: opt.Config}
	if len(c.Config.Env) == 0 {
		c.Config.Env = []string{defaultPath}
	}
	return c
}

// Import makes a one-layer image of a rootfs tarball (plain, gzip or zstd) and names
// it ref (may be empty).
func (s *Store) Import(r io.Reader, ref string, opt ImportOptions) (*Image, error) {
	done, err := s.writer()
	if err != nil {
		return nil, err
	}
	defer done()
	zr, err := Decompress(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	l, err := s.ingestLayer(zr)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	cfg := baseConfig(opt)
	cfg.History = []ocispec.History{{Created: cfg.Created, CreatedBy: "hull import", Comment: opt.Comment}}
	return s.newImage(cfg, []LayerRecord{l}, ref)
}

// ImportDir makes a one-layer image of the tree in dir.
func (s *Store) ImportDir(dir, ref string, opt ImportOptions) (*Image, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(layer.Write(dir, pw, layer.WriteOptions{})) }()
	img, err := s.Import(pr, ref, opt)
	pr.CloseWithError(err)
	return img, err
}

// Export writes the tree in dir (a snapshot's rootfs) as a tar.
func Export(dir string, w io.Writer) error {
	return layer.Write(dir, w, layer.WriteOptions{})
}

// Commit turns the changes in snapshot key, made on top of image parent, into a new
// image named ref (may be empty). opt.Config, if not empty, replaces the parent's
// runtime config.
func (s *Store) Commit(key, parent, ref string, opt ImportOptions) (*Image, error) {
	done, err := s.writer()
	if err != nil {
		return nil, err
	}
	defer done()
	base, err := s.Get(parent)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(base)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.Snapshotter().Diff(key, pw)) }()
	l, err := s.ingestLayer(pr)
	pr.CloseWithError(err)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", key, err)
	}
	created := opt.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	cfg.Created = &created
	if opt.Config.Cmd != nil || opt.Config.Entrypoint != nil || opt.Config.Env != nil {
		cfg.Config = opt.Config
	}
	cfg.History = append(cfg.History, ocispec.History{Created: &created, CreatedBy: "hull commit", Comment: opt.Comment})
	layers := append(append([]LayerRecord(nil), base.Layers...), l)
	return s.newImage(cfg, layers, ref)
}

// busyboxEpoch is the fixed time of the busybox image's files and config, so that
// the same busybox binary always gives the same image digest.
var busyboxEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// BusyboxImage writes a one-layer OCI image made of the host's static busybox
// (/bin/busybox, Debian's busybox-static): /bin/busybox, a symlink per applet, the
// usual empty directories and /etc/passwd and /etc/group. No network is needed.
func BusyboxImage(ctx context.Context, s *Store, ref string) (*Image, error) {
	const bb = "/bin/busybox"
	out, err := exec.CommandContext(ctx, bb, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list (is busybox-static installed?): %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Join(s.root, "ingest"), "busybox-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "tmp", "root", "run", "var", "usr/bin", "usr/sbin", "sbin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	os.Chmod(filepath.Join(dir, "root"), 0o700)
	data, err := os.ReadFile(bb)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		return nil, err
	}
	for _, a := range strings.Fields(string(out)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		os.Symlink("busybox", filepath.Join(dir, "bin", a))
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			return nil, err
		}
	}
	err = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, 0, 0)
	})
	if err != nil {
		return nil, err
	}
	// Times last, deepest first, without following the applet symlinks.
	var paths []string
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { paths = append(paths, p); return nil })
	for i := len(paths) - 1; i > 0; i-- {
		if err := lchtimes(paths[i], busyboxEpoch); err != nil {
			return nil, err
		}
	}
	return s.ImportDir(dir, ref, ImportOptions{
		Created: busyboxEpoch,
		Config:  ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{defaultPath}},
		Comment: "busybox from the host's " + bb,
	})
}
