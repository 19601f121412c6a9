package image

import (
	"bytes"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestHoldKeepsLayerFromGC(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var tarball bytes.Buffer
	if err := Export(t.TempDir(), &tarball); err != nil {
		t.Fatal(err)
	}
	done, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.AddLayer(&tarball)
	if err != nil {
		done()
		t.Fatal(err)
	}
	err = s.PutHold("buildcache", "k1", Hold{Blobs: []digest.Digest{l.Blob}, Layers: []digest.Digest{l.DiffID}, Data: []byte(`{"x":1}`)})
	done()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if !s.HasLayer(l.DiffID) || !s.HasBlob(l.Blob) {
		t.Fatal("GC took a held layer")
	}
	if names, _ := s.Holds("buildcache"); len(names) != 1 || names[0] != "k1" {
		t.Errorf("holds %v", names)
	}
	if h, err := s.GetHold("buildcache", "k1"); err != nil || string(h.Data) != `{"x":1}` {
		t.Errorf("hold %+v %v", h, err)
	}
	if err := s.PutHold("buildcache", "../x", Hold{}); err == nil {
		t.Error("a hold named ../x was accepted")
	}
	if err := s.RemoveHold("buildcache", "k1"); err != nil {
		t.Fatal(err)
	}
	if err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if s.HasLayer(l.DiffID) || s.HasBlob(l.Blob) {
		t.Error("GC kept a layer nothing holds")
	}
}
