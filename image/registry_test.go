package image

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hullproject/hull/internal/testutil"
)

// stepRec records a pull's steps in order.
type stepRec struct {
	mu    sync.Mutex
	steps []string
}

func (p *stepRec) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.steps = append(p.steps, s)
}
func (p *stepRec) Track(id string, size int64, r io.Reader) io.Reader { p.add("track " + id); return r }
func (p *stepRec) Done(id, status string)                             { p.add(status + " " + id) }
func (p *stepRec) Unpacked(id string)                                 { p.add("unpacked " + id) }
func (p *stepRec) Layers(ls []PullLayer) {
	var b []string
	for _, l := range ls {
		b = append(b, l.ID+map[bool]string{true: "=exists", false: "=new"}[l.Exists])
	}
	p.add("layers " + strings.Join(b, ","))
}

func TestPullStepsAndNotFound(t *testing.T) {
	testutil.RequireRoot(t)
	reg := startRegistry(t)
	img := mkImage(t, false, tarOf(tf{name: "a", body: "1"}))
	push(t, reg+"/steps:1", img)
	ls, _ := img.Layers()
	ld, _ := ls[0].Digest()
	id := ld.Hex[:12]
	s := newStore(t)
	p := &stepRec{}
	opt := anon
	opt.Progress = p
	if _, err := s.Pull(context.Background(), reg+"/steps:1", opt); err != nil {
		t.Fatal(err)
	}
	want := []string{"layers " + id + "=new", "track " + id, "downloaded " + id, "unpacked " + id}
	if !slices.Equal(p.steps, want) {
		t.Errorf("steps %q, want %q", p.steps, want)
	}
	p.steps = nil
	if _, err := s.Pull(context.Background(), reg+"/steps:1", opt); err != nil {
		t.Fatal(err)
	}
	if want := []string{"layers " + id + "=exists", "already exists " + id, "unpacked " + id}; !slices.Equal(p.steps, want) {
		t.Errorf("steps of a second pull %q, want %q", p.steps, want)
	}
	for _, ref := range []string{reg + "/steps:nope", reg + "/nope:1"} {
		if _, err := s.Pull(context.Background(), ref, anon); !errors.Is(err, ErrNotFound) {
			t.Errorf("pull %s: %v, want ErrNotFound", ref, err)
		}
	}
}

// Push tells each layer's fate; the registry serves what Push says it wrote;
// Tags and Inspect read the registry.
func TestPushProgressInspect(t *testing.T) {
	testutil.RequireRoot(t)
	reg := startRegistry(t)
	s := newStore(t)
	img := importImage(t, s, "a:1", "a", time.Now(), nil)
	p := &stepRec{}
	pushed, err := s.Push(context.Background(), "a:1", reg+"/a:1", PushOptions{RegistryOptions: anon.RegistryOptions, Progress: p})
	if err != nil {
		t.Fatal(err)
	}
	id := img.Layers[0].Blob.Encoded()[:12]
	if want := []string{"track " + id, "pushed " + id}; !slices.Equal(p.steps, want) || pushed.Digest != img.Manifest {
		t.Errorf("push: %q %+v, want %q", p.steps, pushed, want)
	}
	p.steps = nil
	if _, err := s.Push(context.Background(), "a:1", reg+"/a:2", PushOptions{RegistryOptions: anon.RegistryOptions, Progress: p}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"exists " + id}; !slices.Equal(p.steps, want) {
		t.Errorf("second push: %q, want %q", p.steps, want)
	}
	r, _ := name.ParseReference(reg + "/a:1")
	desc, err := remote.Get(r)
	if err != nil || desc.Digest.String() != pushed.Digest.String() || desc.Size != pushed.Size {
		t.Errorf("registry serves %v, push said %+v (%v)", desc, pushed, err)
	}
	tags, err := s.Tags(context.Background(), reg+"/a", anon.RegistryOptions)
	if err != nil || !slices.Equal(tags, []string{"1", "2"}) {
		t.Errorf("tags: %v %v", tags, err)
	}
	d, err := anon.Inspect(context.Background(), reg+"/a:1")
	if err != nil || d.Descriptor.Digest != pushed.Digest || len(d.Platforms) != 1 || d.Platforms[0].OS != "linux" {
		t.Errorf("inspect: %+v %v", d, err)
	}
	// An index: its platforms.
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: mkImage(t, false), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: mkImage(t, false), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	ir, _ := name.ParseReference(reg + "/multi:1")
	if err := remote.WriteIndex(ir, idx); err != nil {
		t.Fatal(err)
	}
	d, err = anon.Inspect(context.Background(), reg+"/multi:1")
	if err != nil || len(d.Platforms) != 2 || d.Platforms[0].Architecture != "arm64" || d.Descriptor.MediaType != string(mustMT(idx)) {
		t.Errorf("inspect of an index: %+v %v", d, err)
	}
	if _, err := anon.Inspect(context.Background(), reg+"/nope:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("inspect of nothing: %v", err)
	}
	if tags, err := s.RepoTags("a"); err != nil || !slices.Equal(tags, []string{"docker.io/library/a:1"}) {
		t.Errorf("RepoTags: %v %v", tags, err)
	}
}

func mustMT(idx v1.ImageIndex) string {
	mt, _ := idx.MediaType()
	return string(mt)
}
