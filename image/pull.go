package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Progress reports layer transfers. Track wraps the stream of one blob; Done ends it
// with a short status ("downloaded", "exists", or an error).
type Progress interface {
	Track(id string, size int64, r io.Reader) io.Reader
	Done(id string, status string)
}

// PullLayer is one layer of an image being pulled, as StepProgress is told it:
// its short ID (what Track and Done name), its compressed size, and whether
// the store has it already.
type PullLayer struct {
	ID     string
	Size   int64
	Exists bool
}

// StepProgress is a Progress that is also told the steps around the transfers,
// as docker's pull reports them: the layers, once the manifest and config are
// in and before any layer is fetched, and each layer once it is unpacked.
type StepProgress interface {
	Progress
	Layers([]PullLayer)
	Unpacked(id string)
}

// RegistryOptions say how to talk to registries.
type RegistryOptions struct {
	// Insecure lists registries (host[:port]) that may be spoken to in plain HTTP.
	// localhost and loopback addresses always may.
	Insecure []string
	// Keychain finds credentials; nil means authn.DefaultKeychain (~/.docker/config.json
	// and credential helpers).
	Keychain authn.Keychain
	// Transport is the base HTTP transport; nil means http.DefaultTransport (system CAs).
	Transport http.RoundTripper
}

// PullOptions tune Pull.
type PullOptions struct {
	RegistryOptions
	// Platform is os/arch[/variant] to pick from an index; default linux/amd64.
	Platform string
	Progress Progress
	// Parallel is the number of layers fetched at once; default 4.
	Parallel int
}

func (o RegistryOptions) insecure(reg string) bool {
	for _, r := range o.Insecure {
		if r == reg {
			return true
		}
	}
	return false
}

func (o RegistryOptions) parse(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("bad image reference %q: %w", ref, err)
	}
	if o.insecure(r.Context().RegistryStr()) {
		r, err = name.ParseReference(ref, name.Insecure)
	}
	return r, err
}

func (o RegistryOptions) remote(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(&guard{base: base, opt: o}),
		remote.WithUserAgent("hull"),
	}
}

// guard enforces the store's transport policy below go-containerregistry: plain HTTP
// only to loopback and registries marked insecure (go-containerregistry itself would
// also fall back to HTTP for private RFC 1918 addresses), no manifest larger than
// maxManifestSize is read, and what is served under a digest (a blob, a manifest by
// digest) is checked against it as it comes (checked).
type guard struct {
	base http.RoundTripper
	opt  RegistryOptions
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.plainOK(req.URL.Host) {
		return nil, fmt.Errorf("refusing plain http to %s: not an insecure registry", req.URL.Host)
	}
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if d, ok := servedDigest(req); ok && req.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
		resp.Body = &checked{ReadCloser: resp.Body, want: d, h: sha256.New(), left: resp.ContentLength}
	}
	if !strings.Contains(req.URL.Path, "/manifests/") {
		return resp, nil
	}
	if resp.ContentLength > maxManifestSize {
		resp.Body.Close()
		return nil, fmt.Errorf("manifest of %d bytes is larger than %d", resp.ContentLength, maxManifestSize)
	}
	resp.Body = &capped{ReadCloser: resp.Body, left: maxManifestSize}
	return resp, nil
}

func (g *guard) plainOK(host string) bool {
	if g.opt.insecure(host) {
		return true
	}
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// servedDigest is the digest a request asks content by: the last element of
// /v2/NAME/blobs/DIGEST or /v2/NAME/manifests/DIGEST, in its URL or in the one it
// was redirected from (blobs are often served from elsewhere).
func servedDigest(req *http.Request) (digest.Digest, bool) {
	for r := req; r != nil; {
		dir, last := path.Split(r.URL.Path)
		if strings.HasSuffix(dir, "/blobs/") || strings.HasSuffix(dir, "/manifests/") {
			d := digest.Digest(last)
			return d, checkDigest(d) == nil
		}
		if r.Response == nil {
			break
		}
		r = r.Response.Request
	}
	return "", false
}

// checked is a body served under the digest want. Once it is complete its reads
// end with ErrDigest if it is not that content, naming what it is: before
// go-containerregistry's own check, whose error is untyped and cannot be told from
// a failed transfer. go-containerregistry stops reading at the Content-Length
// without asking for the end, so the read that brings the last byte tells.
type checked struct {
	io.ReadCloser
	want digest.Digest
	h    hash.Hash
	left int64 // bytes due by the Content-Length; -1: unknown
}

func (c *checked) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.h.Write(p[:n])
	if c.left >= 0 {
		c.left -= int64(n)
	}
	if err == io.EOF || err == nil && c.left == 0 {
		if got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(c.h.Sum(nil))); got != c.want {
			return n, digestError(c.want, got)
		}
	}
	return n, err
}

type capped struct {
	io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, fmt.Errorf("manifest larger than %d bytes", maxManifestSize)
	}
	return n, err
}

// fetcher opens one blob by descriptor.
type fetcher func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)

// Pull fetches ref (NAME[:TAG|@DIGEST], Docker Hub defaults) and registers it under
// its normalized name. Layers already in the store are not fetched again; a pull
// that dies halfway registers nothing and the next one reuses what was stored.
func (s *Store) Pull(ctx context.Context, ref string, opt PullOptions) (*Image, error) {
	r, err := opt.parse(ref)
	if err != nil {
		return nil, err
	}
	done, err := s.writer()
	if err != nil {
		return nil, err
	}
	defer done()
	ropts := opt.remote(ctx)
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, remoteError(err))
	}
	raw, mt := desc.Manifest, string(desc.MediaType)
	top := digestOf(raw)
	if d, ok := r.(name.Digest); ok && d.DigestStr() != top.String() {
		return nil, fmt.Errorf("pull %s: manifest: %w", ref, digestError(digest.Digest(d.DigestStr()), top))
	}
	var index digest.Digest
	if isIndex(mt) {
		idx, err := parseIndex(raw, mt)
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		m, err := pickPlatform(idx, opt.Platform)
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, err)
		}
		index = top
		d2, err := remote.Get(r.Context().Digest(m.Digest.String()), ropts...)
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", ref, oneLine(err))
		}
		raw, mt = d2.Manifest, string(d2.MediaType)
		if got := digestOf(raw); got != m.Digest {
			return nil, fmt.Errorf("pull %s: manifest: %w", ref, digestError(m.Digest, got))
		}
		if m.MediaType != "" && m.MediaType != mt {
			return nil, fmt.Errorf("pull %s: manifest served as %q, index says %q", ref, mt, m.MediaType)
		}
	}
	repo := r.Context()
	fetch := func(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
		l, err := remote.Layer(repo.Digest(d.Digest.String()), ropts...)
		if err != nil {
			return nil, err
		}
		return l.Compressed()
	}
	names := []string{displayName(r)}
	if _, ok := r.(name.Digest); ok {
		names = nil // pulled by digest: reachable by its repo digest, not a tag
	}
	rec, err := s.add(ctx, raw, mt, fetch, opt.Progress, opt.Parallel, index, names...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, err)
	}
	if names == nil {
		// Keep it named so that it is not dangling: by its digest reference.
		if err := s.register(rec, displayName(r)); err != nil {
			return nil, err
		}
	}
	return s.Get(rec.Manifest.String())
}

// remoteError is err on one line, and ErrNotFound too when the registry has no
// such repository or manifest.
func remoteError(err error) error {
	err = oneLine(err)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return notFound{err}
	}
	return err
}

// notFound is a registry's error that is also ErrNotFound.
type notFound struct{ err error }

func (e notFound) Error() string   { return e.err.Error() }
func (e notFound) Unwrap() []error { return []error{ErrNotFound, e.err} }

func oneLine(err error) error {
	if msg := err.Error(); strings.Contains(msg, "\n") {
		return errors.New(strings.Join(strings.Fields(msg), " "))
	}
	return err
}

// pickPlatform chooses the manifest for os/arch[/variant] (default linux/amd64).
func pickPlatform(idx *ocispec.Index, want string) (ocispec.Descriptor, error) {
	if want == "" {
		want = "linux/amd64"
	}
	parts := strings.Split(want, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return ocispec.Descriptor{}, fmt.Errorf("bad platform %q, want os/arch[/variant]", want)
	}
	variant := ""
	if len(parts) == 3 {
		variant = parts[2]
	}
	for _, m := range idx.Manifests {
		p := m.Platform
		if p == nil || p.OS != parts[0] || p.Architecture != parts[1] {
			continue
		}
		if variant != "" && p.Variant != variant && !(p.Variant == "" && parts[1] == "arm64" && variant == "v8") {
			continue
		}
		if !isManifest(m.MediaType) {
			continue
		}
		return m, nil
	}
	return ocispec.Descriptor{}, notFound{fmt.Errorf("no image for platform %s in the index", want)}
}

// add validates an image manifest, stores its config and layers (fetching only what is
// missing, in parallel), unpacks each layer once, and registers the image under names.
// The caller holds the writer lock.
func (s *Store) add(ctx context.Context, raw []byte, mt string, fetch fetcher, prog Progress, parallel int, index digest.Digest, names ...string) (*Record, error) {
	if len(raw) > maxManifestSize {
		return nil, fmt.Errorf("manifest of %d bytes is larger than %d", len(raw), maxManifestSize)
	}
	m, err := parseManifest(raw, mt)
	if err != nil {
		return nil, err
	}
	if !s.HasBlob(m.Config.Digest) {
		rc, err := fetch(ctx, m.Config)
		if err != nil {
			return nil, fmt.Errorf("fetch config: %w", oneLine(err))
		}
		err = s.WriteBlob(rc, m.Config.Digest, m.Config.Size)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	cdata, err := s.ReadBlob(m.Config.Digest, maxConfigSize)
	if err != nil {
		return nil, err
	}
	cfg, err := parseConfig(cdata, m)
	if err != nil {
		return nil, err
	}
	if sp, ok := prog.(StepProgress); ok {
		var ls []PullLayer
		for _, l := range m.Layers {
			ls = append(ls, PullLayer{ID: l.Digest.Encoded()[:12], Size: l.Size, Exists: s.HasBlob(l.Digest)})
		}
		sp.Layers(ls)
	}
	if parallel <= 0 {
		parallel = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
		sem  = make(chan struct{}, parallel)
	)
	for i, l := range m.Layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := s.fetchLayer(ctx, l, cfg.RootFS.DiffIDs[i], fetch, prog); err != nil {
				mu.Lock()
				if ferr == nil {
					ferr = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if ferr != nil {
		return nil, ferr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	md, err := s.PutBlob(raw)
	if err != nil {
		return nil, err
	}
	rec := &Record{Manifest: md, MediaType: mt, Config: m.Config.Digest, Added: time.Now().UTC(), Index: index}
	for i, l := range m.Layers {
		rec.Layers = append(rec.Layers, LayerRecord{Blob: l.Digest, MediaType: l.MediaType, Size: l.Size, DiffID: cfg.RootFS.DiffIDs[i]})
	}
	if err := s.register(rec, names...); err != nil {
		return nil, err
	}
	return rec, nil
}

func (s *Store) fetchLayer(ctx context.Context, l ocispec.Descriptor, diffID digest.Digest, fetch fetcher, prog Progress) error {
	id := l.Digest.Encoded()[:12]
	if s.HasBlob(l.Digest) {
		if prog != nil {
			prog.Done(id, "already exists")
		}
	} else {
		rc, err := fetch(ctx, l)
		if err != nil {
			if prog != nil {
				prog.Done(id, "failed")
			}
			return fmt.Errorf("fetch layer %s: %w", l.Digest, oneLine(err))
		}
		var r io.Reader = rc
		if prog != nil {
			r = prog.Track(id, l.Size, rc)
		}
		err = s.WriteBlob(r, l.Digest, l.Size)
		rc.Close()
		if err != nil {
			if prog != nil {
				prog.Done(id, "failed")
			}
			return fmt.Errorf("layer: %w", err)
		}
		if prog != nil {
			prog.Done(id, "downloaded")
		}
	}
	if err := s.unpackLayer(l.Digest, diffID); err != nil {
		return err
	}
	if sp, ok := prog.(StepProgress); ok {
		sp.Unpacked(id)
	}
	return nil
}

// Tags lists the tags of repo's repository in its registry (pull --all-tags).
func (s *Store) Tags(ctx context.Context, repo string, opt RegistryOptions) ([]string, error) {
	r, err := opt.parse(repo)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(r.Context(), opt.remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("list the tags of %s: %w", r.Context().Name(), oneLine(err))
	}
	return tags, nil
}
