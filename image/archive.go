package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// v1Image shows a stored image to go-containerregistry (push, docker-archive save).
type v1Image struct {
	s   *Store
	img *Image
	raw []byte
}

func (s *Store) v1(img *Image) (v1.Image, error) {
	raw, err := s.ReadBlob(img.Manifest, maxManifestSize)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&v1Image{s: s, img: img, raw: raw})
}

func (i *v1Image) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *v1Image) MediaType() (types.MediaType, error) { return types.MediaType(i.img.MediaType), nil }
func (i *v1Image) RawConfigFile() ([]byte, error)      { return i.s.ReadBlob(i.img.Config, maxConfigSize) }

func (i *v1Image) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.img.Layers {
		if l.Blob.String() == h.String() {
			return &v1Layer{s: i.s, l: l}, nil
		}
	}
	if h.String() == i.img.Config.String() {
		return nil, fmt.Errorf("config blob asked as a layer")
	}
	return nil, fmt.Errorf("image has no layer %s", h)
}

type v1Layer struct {
	s *Store
	l LayerRecord
}

func (l *v1Layer) Digest() (v1.Hash, error)            { return v1.NewHash(l.l.Blob.String()) }
func (l *v1Layer) Compressed() (io.ReadCloser, error)  { return l.s.OpenBlob(l.l.Blob) }
func (l *v1Layer) Size() (int64, error)                { return l.l.Size, nil }
func (l *v1Layer) MediaType() (types.MediaType, error) { return types.MediaType(l.l.MediaType), nil }

// PushOptions tune Push.
type PushOptions struct {
	RegistryOptions
	// Progress is told of each layer (by the short ID a pull names it by):
	// Track while it is uploaded, then Done with "pushed", or with "exists"
	// when the registry had it and nothing was sent.
	Progress Progress
}

// Pushed is what a push wrote: the manifest's digest and size.
type Pushed struct {
	Digest digest.Digest
	Size   int64
}

// Push uploads the image name to the registry its name points at (or to dest).
func (s *Store) Push(ctx context.Context, nameOrID, dest string, opt PushOptions) (*Pushed, error) {
	img, err := s.Get(nameOrID)
	if err != nil {
		return nil, err
	}
	if dest == "" {
		dest = nameOrID
	}
	r, err := opt.parse(dest)
	if err != nil {
		return nil, err
	}
	vi, err := s.v1(img)
	if err != nil {
		return nil, err
	}
	ropts := opt.remote(ctx)
	if opt.Progress != nil {
		// Layer by layer, to tell each one's fate: the registry is asked first
		// whether it has the blob, and only a blob it lacks is opened to be sent.
		for _, l := range img.Layers {
			tl := &trackedLayer{v1Layer: v1Layer{s: s, l: l}, prog: opt.Progress}
			layer, err := partial.CompressedToLayer(tl)
			if err != nil {
				return nil, err
			}
			id := l.Blob.Encoded()[:12]
			if err := remote.WriteLayer(r.Context(), layer, ropts...); err != nil {
				opt.Progress.Done(id, "failed")
				return nil, fmt.Errorf("push %s: %w", dest, oneLine(err))
			}
			if tl.opened.Load() {
				opt.Progress.Done(id, "pushed")
			} else {
				opt.Progress.Done(id, "exists")
			}
		}
	}
	if err := remote.Write(r, vi, ropts...); err != nil {
		return nil, fmt.Errorf("push %s: %w", dest, oneLine(err))
	}
	raw, _ := vi.RawManifest()
	return &Pushed{Digest: img.Manifest, Size: int64(len(raw))}, nil
}

// trackedLayer is a layer whose upload is shown to a Progress.
type trackedLayer struct {
	v1Layer
	prog   Progress
	opened atomic.Bool
}

func (l *trackedLayer) Compressed() (io.ReadCloser, error) {
	f, err := l.v1Layer.Compressed()
	if err != nil {
		return nil, err
	}
	l.opened.Store(true)
	return struct {
		io.Reader
		io.Closer
	}{l.prog.Track(l.l.Blob.Encoded()[:12], l.l.Size, f), f}, nil
}

// RepoTags lists the names of the store in the repository repo (a name
// without tag, normalized like Normalize's), sorted.
func (s *Store) RepoTags(repo string) ([]string, error) {
	ref, err := Normalize(repo)
	if err != nil {
		return nil, err
	}
	repo = ref[:strings.LastIndexByte(ref, ':')]
	r, err := s.load()
	if err != nil {
		return nil, err
	}
	var out []string
	for n := range r.Refs {
		if tag, ok := strings.CutPrefix(n, repo+":"); ok && !strings.Contains(tag, "/") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Save writes images as a docker-archive ("docker", what docker load reads) or an OCI
// image layout in a tar ("oci").
func (s *Store) Save(w io.Writer, names []string, format string) error {
	switch format {
	case "", "docker":
		refs := map[name.Reference]v1.Image{}
		for _, n := range names {
			img, err := s.Get(n)
			if err != nil {
				return err
			}
			vi, err := s.v1(img)
			if err != nil {
				return err
			}
			// A name of the image is saved as its tag; an image named by its ID
			// is saved untagged, as docker saves it.
			if ref, err := Normalize(n); err == nil && slices.Contains(img.Names, ref) {
				if tag, err := name.NewTag(Familiar(ref)); err == nil {
					refs[tag] = vi
					continue
				}
			}
			d, err := name.NewDigest("untagged@" + img.Manifest.String())
			if err != nil {
				return err
			}
			refs[d] = vi
		}
		return tarball.MultiRefWrite(refs, w)
	case "oci":
		return s.saveOCI(w, names)
	}
	return fmt.Errorf("unknown archive format %q (docker or oci)", format)
}

func (s *Store) saveOCI(w io.Writer, names []string) error {
	tw := tar.NewWriter(w)
	seen := map[digest.Digest]bool{}
	addFile := func(n string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	addBlob := func(d digest.Digest, size int64) error {
		if seen[d] {
			return nil
		}
		seen[d] = true
		f, err := s.OpenBlob(d)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + d.Encoded(), Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	}
	if err := addFile("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex}
	idx.SchemaVersion = 2
	for _, n := range names {
		img, err := s.Get(n)
		if err != nil {
			return err
		}
		_, raw, err := s.Manifest(img)
		if err != nil {
			return err
		}
		if err := addBlob(img.Manifest, int64(len(raw))); err != nil {
			return err
		}
		cd, _ := s.ReadBlob(img.Config, maxConfigSize)
		if err := addBlob(img.Config, int64(len(cd))); err != nil {
			return err
		}
		for _, l := range img.Layers {
			if err := addBlob(l.Blob, l.Size); err != nil {
				return err
			}
		}
		desc := ocispec.Descriptor{MediaType: img.MediaType, Digest: img.Manifest, Size: int64(len(raw))}
		if ref, err := Normalize(n); err == nil && len(img.Names) > 0 {
			desc.Annotations = map[string]string{"io.containerd.image.name": ref, ocispec.AnnotationRefName: ref}
		}
		idx.Manifests = append(idx.Manifests, desc)
	}
	data, _ := json.Marshal(idx)
	if err := addFile("index.json", data); err != nil {
		return err
	}
	return tw.Close()
}

var layoutName = regexp.MustCompile(`^(\./)?(oci-layout|index\.json|manifest\.json|blobs/sha256/[0-9a-f]{64})$`)

// Load reads a docker-archive or an OCI layout tar (told apart by their files) and
// registers its images. It returns the images loaded, each with the names the
// archive gave it (none for an untagged one, whatever names it has already).
func (s *Store) Load(ctx context.Context, r io.Reader) ([]*Image, error) {
	done, err := s.writer()
	if err != nil {
		return nil, err
	}
	defer done()
	// Spool: a docker-archive needs random access.
	spool, err := os.CreateTemp(filepath.Join(s.root, "ingest"), "load-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	if _, err := io.Copy(spool, r); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	isOCI := false
	if _, err := spool.Seek(0, 0); err != nil {
		return nil, err
	}
	tr := tar.NewReader(spool)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		if m := layoutName.FindStringSubmatch(h.Name); m != nil && m[2] == "oci-layout" {
			isOCI = true
		}
	}
	if isOCI {
		return s.loadOCI(ctx, spool.Name())
	}
	return s.loadDocker(ctx, spool.Name())
}

func (s *Store) loadDocker(ctx context.Context, file string) ([]*Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(file) }
	mf, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("load docker-archive: %w", err)
	}
	var out []*Image
	for _, d := range mf {
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("load: %w", err)
			}
			tag = &t
		} else if len(mf) > 1 {
			return nil, fmt.Errorf("load: untagged image among several")
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, fmt.Errorf("load docker-archive: %w", err)
		}
		raw, err := img.RawManifest()
		if err != nil {
			return nil, fmt.Errorf("load docker-archive: %w", err)
		}
		mt, _ := img.MediaType()
		cd, _ := img.ConfigName()
		fetch := func(_ context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
			if desc.Digest.String() == cd.String() {
				b, err := img.RawConfigFile()
				return io.NopCloser(bytes.NewReader(b)), err
			}
			h, err := v1.NewHash(desc.Digest.String())
			if err != nil {
				return nil, err
			}
			l, err := img.LayerByDigest(h)
			if err != nil {
				return nil, err
			}
			return l.Compressed()
		}
		var names []string
		for _, t := range d.RepoTags {
			n, err := Normalize(t)
			if err != nil {
				return nil, err
			}
			names = append(names, n)
		}
		// A docker-archive holds an image's config and layers but no manifest:
		// go-containerregistry writes one up, unlike the one the store may
		// have. An image the store has (the same config: the same layers)
		// keeps its record and takes the archive's names, so that a save and
		// load leave one image of one ID.
		rec, err := s.byConfig(digest.Digest(cd.String()))
		if err != nil {
			return nil, err
		}
		if rec != nil {
			err = s.register(rec, names...)
		} else {
			rec, err = s.add(ctx, raw, string(mt), fetch, nil, 0, "", names...)
		}
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		got, err := s.Get(rec.Manifest.String())
		if err != nil {
			return nil, err
		}
		got.Names = names
		out = append(out, got)
	}
	return out, nil
}

// byConfig is the record of the image whose config (ID) is id, nil if none.
func (s *Store) byConfig(id digest.Digest) (*Record, error) {
	r, err := s.load()
	if err != nil {
		return nil, err
	}
	var found *Record
	for _, rec := range r.Images {
		if rec.Config == id && (found == nil || rec.Added.After(found.Added)) {
			found = rec
		}
	}
	return found, nil
}

func (s *Store) loadOCI(ctx context.Context, file string) ([]*Image, error) {
	dir, err := os.MkdirTemp(filepath.Join(s.root, "ingest"), "layout-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "blobs/sha256"), 0o700); err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	// Only the layout's own flat names are taken, as regular files: nothing in the
	// archive can name a path of its choosing.
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		m := layoutName.FindStringSubmatch(h.Name)
		if m == nil || h.Typeflag != tar.TypeReg {
			continue
		}
		out, err := os.OpenFile(filepath.Join(dir, m[2]), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(out, tr)
		out.Close()
		if err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("load oci layout: %w", err)
	}
	idx, err := parseIndex(data, ocispec.MediaTypeImageIndex)
	if err != nil {
		return nil, fmt.Errorf("load oci layout: %w", err)
	}
	fetch := func(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
		if err := checkDigest(d.Digest); err != nil {
			return nil, err
		}
		return os.Open(filepath.Join(dir, "blobs/sha256", d.Digest.Encoded()))
	}
	var out []*Image
	for _, m := range idx.Manifests {
		if !isManifest(m.MediaType) {
			continue // nested indexes are not loaded
		}
		rc, err := fetch(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		raw, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
		rc.Close()
		if err != nil {
			return nil, err
		}
		if digestOf(raw) != m.Digest {
			return nil, fmt.Errorf("load: manifest %s: %w", m.Digest, ErrDigest)
		}
		var names []string
		for _, k := range []string{"io.containerd.image.name", ocispec.AnnotationRefName} {
			if n, err := Normalize(m.Annotations[k]); err == nil && m.Annotations[k] != "" {
				names = append(names, n)
				break
			}
		}
		rec, err := s.add(ctx, raw, m.MediaType, fetch, nil, 0, "", names...)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		got, err := s.Get(rec.Manifest.String())
		if err != nil {
			return nil, err
		}
		got.Names = names
		out = append(out, got)
	}
	return out, nil
}
