package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hullproject/hull/internal/testutil"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// tf is one tar entry: a name ending in "/" is a dir, link "=x" a hardlink to x,
// link "->x" a symlink.
type tf struct{ name, body, link string }

func tarOf(files ...tf) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f.body))}
		switch {
		case strings.HasSuffix(f.name, "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case strings.HasPrefix(f.link, "="):
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, f.link[1:], 0
		case strings.HasPrefix(f.link, "->"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.link[2:], 0
		}
		tw.WriteHeader(h)
		io.WriteString(tw, f.body)
	}
	tw.Close()
	return buf.Bytes()
}

func mkImage(t testing.TB, zstd bool, layers ...[]byte) v1.Image {
	t.Helper()
	img := empty.Image
	if zstd {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	for _, data := range layers {
		opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		var opts []tarball.LayerOption
		if zstd {
			opts = append(opts, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
		}
		l, err := tarball.LayerFromOpener(opener, opts...)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.AppendLayers(img, l)
		if err != nil {
			t.Fatal(err)
		}
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/bin/sh"}
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func startRegistry(t testing.TB) string {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t testing.TB, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func newStore(t testing.TB) *Store {
	s, err := Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		infos, _ := s.Snapshotter().List()
		for _, in := range infos {
			s.RemoveSnapshot(in.Key)
		}
	})
	return s
}

var anon = PullOptions{RegistryOptions: RegistryOptions{Keychain: authn.NewMultiKeychain()}}

type recProgress struct {
	mu     sync.Mutex
	status map[string]string
}

func (p *recProgress) Track(id string, size int64, r io.Reader) io.Reader { return r }
func (p *recProgress) Done(id, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status == nil {
		p.status = map[string]string{}
	}
	p.status[id] = status
}

func TestPullMultiLayer(t *testing.T) {
	testutil.RequireRoot(t)
	for _, zstd := range []bool{false, true} {
		t.Run(fmt.Sprintf("zstd=%v", zstd), func(t *testing.T) {
			reg := startRegistry(t)
			img := mkImage(t, zstd,
				tarOf(tf{name: "etc/"}, tf{name: "etc/a", body: "a"}, tf{name: "etc/gone", body: "g"}, tf{name: "hl", body: "h"}, tf{name: "hl2", link: "=hl"}, tf{name: "op/"}, tf{name: "op/old", body: "o"}),
				tarOf(tf{name: "etc/.wh.gone"}, tf{name: "op/"}, tf{name: "op/.wh..wh..opq"}, tf{name: "op/new", body: "n"}, tf{name: "sl", link: "->etc/a"}),
			)
			push(t, reg+"/test/multi:v1", img)
			s := newStore(t)
			prog := &recProgress{}
			opt := anon
			opt.Progress = prog
			got, err := s.Pull(context.Background(), reg+"/test/multi:v1", opt)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := img.Digest()
			if got.Manifest.String() != want.String() || len(got.Layers) != 2 {
				t.Fatalf("pulled %+v, want manifest %s", got, want)
			}
			if len(got.Names) != 1 || got.Names[0] != reg+"/test/multi:v1" {
				t.Errorf("names = %v", got.Names)
			}
			rootfs, err := s.Prepare("c1", reg+"/test/multi:v1")
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range map[string]string{"etc/a": "a", "op/new": "n", "sl": "a", "hl2": "h"} {
				if b, err := os.ReadFile(filepath.Join(rootfs, p)); err != nil || string(b) != want {
					t.Errorf("%s = %q, %v", p, b, err)
				}
			}
			for _, p := range []string{"etc/gone", "op/old"} {
				if _, err := os.Lstat(filepath.Join(rootfs, p)); !os.IsNotExist(err) {
					t.Errorf("%s still visible: %v", p, err)
				}
			}
			st, _ := os.Stat(filepath.Join(s.LayerFS(got.Layers[0].DiffID), "hl2"))
			if st == nil || st.Sys().(*syscall.Stat_t).Nlink != 2 {
				t.Error("hardlink not kept in the layer dir")
			}
			// A second pull fetches nothing.
			prog2 := &recProgress{}
			opt.Progress = prog2
			if _, err := s.Pull(context.Background(), reg+"/test/multi:v1", opt); err != nil {
				t.Fatal(err)
			}
			for id, st := range prog2.status {
				if st != "already exists" {
					t.Errorf("second pull: layer %s %s", id, st)
				}
			}
			if len(prog2.status) != 2 {
				t.Errorf("second pull progress: %v", prog2.status)
			}
		})
	}
}

func TestPullIndexPlatform(t *testing.T) {
	testutil.RequireRoot(t)
	reg := startRegistry(t)
	amd := mkImage(t, false, tarOf(tf{name: "arch", body: "amd64"}))
	arm := mkImage(t, true, tarOf(tf{name: "arch", body: "arm64"}))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	r, _ := name.ParseReference(reg + "/test/multiarch:latest")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	for plat, want := range map[string]v1.Image{"": amd, "linux/arm64": arm, "linux/arm64/v8": arm} {
		s := newStore(t)
		opt := anon
		opt.Platform = plat
		got, err := s.Pull(context.Background(), reg+"/test/multiarch", opt)
		if err != nil {
			t.Fatal(err)
		}
		wd, _ := want.Digest()
		if got.Manifest.String() != wd.String() {
			t.Errorf("platform %q: got %s want %s", plat, got.Manifest, wd)
		}
		id, _ := idx.Digest()
		if got.Index.String() != id.String() {
			t.Errorf("index digest not kept: %s", got.Index)
		}
	}
	s := newStore(t)
	opt := anon
	opt.Platform = "linux/s390x"
	if _, err := s.Pull(context.Background(), reg+"/test/multiarch", opt); err == nil || !strings.Contains(err.Error(), "no image for platform") {
		t.Errorf("missing platform: %v", err)
	}
}

func TestPullByDigestAndConcurrent(t *testing.T) {
	testutil.RequireRoot(t)
	reg := startRegistry(t)
	img := mkImage(t, false, tarOf(tf{name: "a", body: "1"}), tarOf(tf{name: "b", body: "2"}), tarOf(tf{name: "c", body: "3"}))
	push(t, reg+"/test/c:v1", img)
	d, _ := img.Digest()
	root := filepath.Join(t.TempDir(), "root")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _ := Open(root) // one Store per "process"
			ref := reg + "/test/c:v1"
			if i%2 == 1 {
				ref = reg + "/test/c@" + d.String()
			}
			_, errs[i] = s.Pull(context.Background(), ref, anon)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := Open(root)
	imgs, _ := s.List()
	if len(imgs) != 1 || len(imgs[0].Names) != 2 {
		t.Fatalf("images after concurrent pulls: %+v", imgs)
	}
	blobs, _ := os.ReadDir(filepath.Join(root, "blobs/sha256"))
	if len(blobs) != 5 { // manifest, config, 3 layers
		t.Errorf("%d blobs, want 5", len(blobs))
	}
	layers, _ := os.ReadDir(filepath.Join(root, "layers"))
	if len(layers) != 3 {
		t.Errorf("%d layer dirs, want 3", len(layers))
	}
	ingest, _ := os.ReadDir(filepath.Join(root, "ingest"))
	if len(ingest) != 0 {
		t.Errorf("ingest not empty: %v", ingest)
	}
}

// flaky serves a registry whose second layer blob fails the first time it is asked.
func TestPullInterruptedResumes(t *testing.T) {
	testutil.RequireRoot(t)
	img := mkImage(t, false, tarOf(tf{name: "a", body: "1"}), tarOf(tf{name: "b", body: strings.Repeat("x", 100000)}))
	ls, _ := img.Layers()
	bad, _ := ls[1].Digest()
	good, _ := ls[0].Digest()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var failed, goodFetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, bad.String()) && r.Method == http.MethodGet && failed.Add(1) == 1 {
			// Half the blob, then the connection dies.
			w.Header().Set("Content-Length", "100000")
			w.WriteHeader(200)
			w.Write(make([]byte, 5000))
			panic(http.ErrAbortHandler)
		}
		if strings.HasSuffix(r.URL.Path, good.String()) && r.Method == http.MethodGet {
			goodFetches.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	push(t, host+"/test/r:v1", img)
	goodFetches.Store(0)
	s := newStore(t)
	opt := anon
	opt.Parallel = 1
	if _, err := s.Pull(context.Background(), host+"/test/r:v1", opt); err == nil {
		t.Fatal("pull with a broken layer succeeded")
	}
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Fatalf("half image visible: %+v", imgs)
	}
	if _, err := s.Pull(context.Background(), host+"/test/r:v1", opt); err != nil {
		t.Fatal(err)
	}
	if n := goodFetches.Load(); n != 1 {
		t.Errorf("the layer that was complete was fetched %d times", n)
	}
}

// hostile serves a hand-made registry: the manifest bytes and blobs given.
func hostile(t *testing.T, mt string, manifest []byte, blobs map[digest.Digest][]byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(200)
		case strings.Contains(r.URL.Path, "/manifests/"):
			w.Header().Set("Content-Type", mt)
			w.Header().Set("Content-Length", fmt.Sprint(len(manifest)))
			if r.Method == http.MethodGet {
				w.Write(manifest)
			}
		case strings.Contains(r.URL.Path, "/blobs/"):
			d := digest.Digest(r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
			b, ok := blobs[d]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPullHostile(t *testing.T) {
	testutil.RequireRoot(t)
	layerTar := tarOf(tf{name: "f", body: "data"})
	layerD := digest.FromBytes(layerTar)
	cfg := func(diffs ...digest.Digest) []byte {
		b, _ := json.Marshal(ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffs}})
		return b
	}
	goodCfg := cfg(layerD)
	man := func(mt, cfgMT string, cfgD digest.Digest, cfgSize int64, layers ...ocispec.Descriptor) []byte {
		m := ocispec.Manifest{MediaType: mt, Config: ocispec.Descriptor{MediaType: cfgMT, Digest: cfgD, Size: cfgSize}, Layers: layers}
		m.SchemaVersion = 2
		b, _ := json.Marshal(m)
		return b
	}
	oci, ociCfg := ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig
	lay := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: layerD, Size: int64(len(layerTar))}
	blobs := map[digest.Digest][]byte{digest.FromBytes(goodCfg): goodCfg, layerD: layerTar}
	many := make([]ocispec.Descriptor, 10000)
	for i := range many {
		many[i] = lay
	}
	evil := tarOf(tf{name: "../../../../pwned", body: "x"})
	wrongDiff := cfg(digest.FromString("other"))
	type hc struct {
		name     string
		mt       string
		manifest []byte
		blobs    map[digest.Digest][]byte
		want     string
	}
	cases := []hc{
		{"layer digest mismatch", oci, man(oci, ociCfg, digest.FromBytes(goodCfg), int64(len(goodCfg)), lay),
			map[digest.Digest][]byte{digest.FromBytes(goodCfg): goodCfg, layerD: tarOf(tf{name: "f", body: "DATA"})}, "does not match|checksum"},
		{"malformed digest", oci, man(oci, ociCfg, digest.FromBytes(goodCfg), int64(len(goodCfg)),
			ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: "sha256:../../x", Size: 1}), blobs, "bad digest"},
		{"manifest media type mismatch", oci, man(mtDockerManifest, mtDockerConfig, digest.FromBytes(goodCfg), int64(len(goodCfg)), lay), blobs, "media type"},
		{"config media type wrong", oci, man(oci, ocispec.MediaTypeImageLayer, digest.FromBytes(goodCfg), int64(len(goodCfg)), lay), blobs, "not an image config"},
		{"index served as manifest", oci, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), blobs, "media type"},
		{"ten thousand layers", oci, man(oci, ociCfg, digest.FromBytes(goodCfg), int64(len(goodCfg)), many...), blobs, "layers, more than"},
		{"huge config size", oci, man(oci, ociCfg, digest.FromBytes(goodCfg), 1<<40, lay), blobs, "out of range"},
		{"diff id mismatch", oci, man(oci, ociCfg, digest.FromBytes(wrongDiff), int64(len(wrongDiff)), lay),
			map[digest.Digest][]byte{digest.FromBytes(wrongDiff): wrongDiff, layerD: layerTar}, "diff id"},
		{"escaping layer", oci, man(oci, ociCfg, digest.FromBytes(cfg(digest.FromBytes(evil))), int64(len(cfg(digest.FromBytes(evil)))),
			ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(evil), Size: int64(len(evil))}),
			map[digest.Digest][]byte{digest.FromBytes(cfg(digest.FromBytes(evil))): cfg(digest.FromBytes(evil)), digest.FromBytes(evil): evil}, "leaves the layer"},
		{"config not json", oci, man(oci, ociCfg, digest.FromString("nope"), 4, lay), map[digest.Digest][]byte{digest.FromString("nope"): []byte("nope")}, "parse image config"},
		{"100 MiB manifest", oci, bytes.Repeat([]byte(" "), 100<<20), blobs, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host := hostile(t, c.mt, c.manifest, c.blobs)
			s := newStore(t)
			_, err := s.Pull(context.Background(), host+"/evil/img:v1", anon)
			if err == nil || !matchAny(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if imgs, _ := s.List(); len(imgs) != 0 {
				t.Errorf("registered: %+v", imgs)
			}
			if err := s.GC(); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"blobs/sha256", "layers", "ingest"} {
				if ents, _ := os.ReadDir(filepath.Join(s.Root(), d)); len(ents) != 0 {
					t.Errorf("%s not empty after GC: %d entries", d, len(ents))
				}
			}
			if _, err := os.Stat("/pwned"); err == nil {
				t.Fatal("host touched")
			}
		})
	}
}

func TestPlainHTTPPolicy(t *testing.T) {
	g := &guard{opt: RegistryOptions{Insecure: []string{"reg.lan:5000"}}}
	for host, want := range map[string]bool{"127.0.0.1:5000": true, "localhost:80": true, "[::1]:5000": true, "reg.lan:5000": true, "10.0.0.1:5000": false, "example.com": false} {
		if got := g.plainOK(host); got != want {
			t.Errorf("plainOK(%s) = %v", host, got)
		}
	}
	for in, want := range map[string]string{"busybox": "docker.io/library/busybox:latest", "me/app:1": "docker.io/me/app:1", "127.0.0.1:5000/x/y": "127.0.0.1:5000/x/y:latest"} {
		if got, err := Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%s) = %s, %v", in, got, err)
		}
	}
	if _, err := Normalize("UPPER/case"); err == nil {
		t.Error("bad reference accepted")
	}
	_ = errors.New
}

func matchAny(s, alts string) bool {
	for _, a := range strings.Split(alts, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

// served is what a test registry answers for a manifest reference.
type served struct {
	mt   string
	data []byte
}

// serveAnything is a registry that answers whatever it is given: manifests by
// reference (tag or digest) and blobs by digest, whether or not the bytes are the
// content the digest names. With redirect, a blob is answered by a redirect to
// another URL of the server, as registries send blobs to a CDN.
func serveAnything(t *testing.T, manifests map[string]served, blobs map[digest.Digest][]byte, redirect bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dir, last := path.Split(r.URL.Path)
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(200)
		case strings.HasSuffix(dir, "/manifests/"):
			m, ok := manifests[last]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", m.mt)
			w.Header().Set("Content-Length", fmt.Sprint(len(m.data)))
			if r.Method == http.MethodGet {
				w.Write(m.data)
			}
		case strings.HasSuffix(dir, "/blobs/") && redirect:
			http.Redirect(w, r, "/cdn/"+strings.TrimPrefix(last, "sha256:"), http.StatusTemporaryRedirect)
		case strings.HasSuffix(dir, "/blobs/") || dir == "/cdn/":
			b, ok := blobs[digest.Digest(last)]
			if dir == "/cdn/" {
				b, ok = blobs[digest.NewDigestFromEncoded(digest.SHA256, last)]
			}
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestPullWrongBytes: a registry that serves other bytes than the digest names (a
// config, a layer, a manifest by digest or from an index; as long, shorter,
// longer; straight or through a redirect) fails the pull with ErrDigest naming
// the digest due and the digest of what came, in one line, and the store keeps
// nothing of it.
func TestPullWrongBytes(t *testing.T) {
	testutil.RequireRoot(t)
	layerTar := tarOf(tf{name: "f", body: "data"})
	layerD := digest.FromBytes(layerTar)
	cfg, _ := json.Marshal(ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerD}}})
	cfgD := digest.FromBytes(cfg)
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgD, Size: int64(len(cfg))},
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: layerD, Size: int64(len(layerTar))}}}
	m.SchemaVersion = 2
	man, _ := json.Marshal(m)
	manD := digest.FromBytes(man)
	otherMan, _ := json.MarshalIndent(m, "", " ") // the same manifest, other bytes
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest,
		Digest: manD, Size: int64(len(man)), Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}}}
	idx.SchemaVersion = 2
	index, _ := json.Marshal(idx)
	oci := ocispec.MediaTypeImageManifest
	with := func(d digest.Digest, b []byte) map[digest.Digest][]byte {
		blobs := map[digest.Digest][]byte{cfgD: cfg, layerD: layerTar}
		blobs[d] = b
		return blobs
	}
	good := with(layerD, layerTar)
	sameSize := bytes.Replace(layerTar, []byte("data"), []byte("DATA"), 1)
	cases := []struct {
		name      string
		ref       string // tag or @digest
		manifests map[string]served
		blobs     map[digest.Digest][]byte
		redirect  bool
		want      digest.Digest
		got       []byte // what was served for want; nil: too much to name
	}{
		{"config, as long", ":v1", map[string]served{"v1": {oci, man}}, with(cfgD, bytes.Replace(cfg, []byte("amd64"), []byte("arm64"), 1)), false, cfgD, bytes.Replace(cfg, []byte("amd64"), []byte("arm64"), 1)},
		{"config, longer", ":v1", map[string]served{"v1": {oci, man}}, with(cfgD, append(slices.Clone(cfg), "  "...)), false, cfgD, append(slices.Clone(cfg), "  "...)},
		{"config, shorter", ":v1", map[string]served{"v1": {oci, man}}, with(cfgD, cfg[:len(cfg)-1]), false, cfgD, cfg[:len(cfg)-1]},
		{"layer, as long", ":v1", map[string]served{"v1": {oci, man}}, with(layerD, sameSize), false, layerD, sameSize},
		{"layer, shorter", ":v1", map[string]served{"v1": {oci, man}}, with(layerD, layerTar[:1024]), false, layerD, layerTar[:1024]},
		{"layer, longer", ":v1", map[string]served{"v1": {oci, man}}, with(layerD, append(slices.Clone(layerTar), make([]byte, 4096)...)), false, layerD, append(slices.Clone(layerTar), make([]byte, 4096)...)},
		{"layer, far longer", ":v1", map[string]served{"v1": {oci, man}}, with(layerD, make([]byte, 3<<20)), false, layerD, nil},
		{"layer, redirected", ":v1", map[string]served{"v1": {oci, man}}, with(layerD, sameSize), true, layerD, sameSize},
		{"manifest by digest", "@" + manD.String(), map[string]served{manD.String(): {oci, otherMan}}, good, false, manD, otherMan},
		{"manifest of an index", ":v1", map[string]served{"v1": {ocispec.MediaTypeImageIndex, index}, manD.String(): {oci, otherMan}}, good, false, manD, otherMan},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host := serveAnything(t, c.manifests, c.blobs, c.redirect)
			s := newStore(t)
			_, err := s.Pull(context.Background(), host+"/evil/img"+c.ref, anon)
			if err == nil {
				t.Fatal("pulled")
			}
			msg := err.Error()
			if !errors.Is(err, ErrDigest) || strings.Contains(msg, "\n") || !strings.Contains(msg, "want "+c.want.String()) {
				t.Errorf("error does not name the digest due: %v", err)
			}
			if c.got != nil && !strings.Contains(msg, "got "+digest.FromBytes(c.got).String()) {
				t.Errorf("error does not name the digest of what came (%s): %v", digest.FromBytes(c.got), err)
			}
			if c.got == nil && !strings.Contains(msg, "got more than") {
				t.Errorf("error does not say it is too long: %v", err)
			}
			if imgs, _ := s.List(); len(imgs) != 0 {
				t.Errorf("registered: %+v", imgs)
			}
			if s.HasBlob(c.want) || c.got != nil && s.HasBlob(digest.FromBytes(c.got)) {
				t.Error("the wrong content is stored")
			}
			if ents, _ := os.ReadDir(filepath.Join(s.Root(), "ingest")); len(ents) != 0 {
				t.Errorf("ingest/ keeps %d entries", len(ents))
			}
			if s.HasLayer(layerD) && c.want == layerD {
				t.Error("the wrong layer is unpacked")
			}
		})
	}
}

// TestWriteBlobNamesWhatCame: WriteBlob itself (a reader with no registry's
// transport below it) names the digest of what came, longer or shorter than due,
// and keeps nothing.
func TestWriteBlobNamesWhatCame(t *testing.T) {
	s := newStore(t)
	due := []byte("the content due")
	want := digest.FromBytes(due)
	for _, c := range []struct {
		name string
		data []byte
		size int64
		msg  string
	}{
		{"other", []byte("other content!!"), int64(len(due)), "want " + want.String() + ", got " + digest.FromString("other content!!").String()},
		{"longer", []byte("the content due, and more"), int64(len(due)), "got " + digest.FromString("the content due, and more").String()},
		{"shorter", due[:4], int64(len(due)), "got " + digest.FromBytes(due[:4]).String()},
		{"far longer", make([]byte, 3<<20), int64(len(due)), "got more than"},
		{"size wrong", due, int64(len(due)) + 1, fmt.Sprintf("%s is %d bytes, not %d", want, len(due), len(due)+1)},
	} {
		err := s.WriteBlob(bytes.NewReader(c.data), want, c.size)
		if !errors.Is(err, ErrDigest) || !strings.Contains(fmt.Sprint(err), c.msg) {
			t.Errorf("%s: %v, want %q", c.name, err, c.msg)
		}
		if s.HasBlob(want) || s.HasBlob(digest.FromBytes(c.data)) {
			t.Errorf("%s: stored", c.name)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "ingest")); len(ents) != 0 {
		t.Errorf("ingest/ keeps %d entries", len(ents))
	}
	if err := s.WriteBlob(bytes.NewReader(due), want, int64(len(due))); err != nil || !s.HasBlob(want) {
		t.Fatalf("the content due: %v", err)
	}
}
