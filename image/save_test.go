package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
)

// Save names an image by the name it was asked by, and an ID untagged, as
// docker saves them; Load takes both back.
func TestSaveByNameAndID(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	img := importImage(t, s, "a:1", "a", time.Now(), nil)
	s.Tag("a:1", "b:2")
	repoTags := func(names ...string) [][]string {
		t.Helper()
		var buf bytes.Buffer
		if err := s.Save(&buf, names, "docker"); err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(&buf)
		for {
			h, err := tr.Next()
			if err != nil {
				t.Fatalf("no manifest.json: %v", err)
			}
			if h.Name == "manifest.json" {
				var m []struct{ RepoTags []string }
				json.NewDecoder(tr).Decode(&m)
				var out [][]string
				for _, e := range m {
					out = append(out, e.RepoTags)
				}
				return out
			}
		}
	}
	if got := repoTags("b:2"); len(got) != 1 || !slices.Equal(got[0], []string{"b:2"}) {
		t.Errorf("save b:2: %v", got)
	}
	if got := repoTags(img.Config.Encoded()[:12]); len(got) != 1 || got[0] != nil {
		t.Errorf("save by ID: %v", got)
	}
}

// Load tells the names the archive gave: an untagged image of the archive is
// loaded without a name, even when the store knows it by one. An image the
// store has is not added again under the manifest the archive lacks.
func TestLoadNamesWhatTheArchiveNames(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	img := importImage(t, s, "a:1", "a", time.Now(), nil)
	for _, c := range []struct {
		name string
		want []string
	}{{"a:1", []string{"docker.io/library/a:1"}}, {img.Config.Encoded()[:12], nil}} {
		var buf bytes.Buffer
		if err := s.Save(&buf, []string{c.name}, "docker"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(context.Background(), &buf)
		if err != nil || len(got) != 1 || got[0].Config != img.Config || !slices.Equal(got[0].Names, c.want) {
			t.Errorf("load of %s: %+v %v, want names %v", c.name, got, err, c.want)
		}
	}
	if imgs, _ := s.List(); len(imgs) != 1 || imgs[0].Manifest != img.Manifest || !slices.Equal(imgs[0].Names, []string{"docker.io/library/a:1"}) {
		t.Errorf("after the loads the store has %+v, want the one image it had", imgs)
	}
}
