package image

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestReferenceMatch: docker's reference= filter, on names as the store keeps
// them, in full and in docker's short form, with and without the tag.
func TestReferenceMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, ref string
		want         bool
	}{
		{"busybox", "docker.io/library/busybox:latest", true},
		{"busybox:latest", "docker.io/library/busybox:latest", true},
		{"busy*", "docker.io/library/busybox:latest", true},
		{"docker.io/library/busybox", "docker.io/library/busybox:latest", true},
		{"busybox:1", "docker.io/library/busybox:latest", false},
		{"alpine", "docker.io/library/busybox:latest", false},
		{"*/app", "127.0.0.1:5000/lib/app:1", false}, // path.Match: * stops at /
		{"127.0.0.1:5000/lib/*", "127.0.0.1:5000/lib/app:1", true},
		{"me/tool:v*", "docker.io/me/tool:v2", true},
	} {
		if got := ReferenceMatch(c.pattern, c.ref); got != c.want {
			t.Errorf("ReferenceMatch(%q, %q) = %v", c.pattern, c.ref, got)
		}
	}
}

// TestListFilter: each of docker's image list filters, judged and applied.
func TestListFilter(t *testing.T) {
	testutil.RequireRoot(t)
	for _, bad := range [][]string{{"dangling"}, {"dangling=maybe"}, {"until=soon"}, {"reference=["}, {"size=1"}} {
		if _, err := ParseListFilter(bad); err == nil {
			t.Errorf("filter %v accepted", bad)
		}
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(ref, file string, created time.Time, labels map[string]string) {
		os.WriteFile(filepath.Join(dir, "f"), []byte(file), 0o644) // a layer of its own: another image
		if _, err := s.ImportDir(dir, ref, ImportOptions{Created: created, Config: ocispec.ImageConfig{Labels: labels}}); err != nil {
			t.Fatal(err)
		}
	}
	mk("old:1", "a", old, map[string]string{"tier": "db"})
	mk("mid:1", "b", old.AddDate(1, 0, 0), map[string]string{"tier": "web", "x": ""})
	mk("", "c", old.AddDate(2, 0, 0), nil) // dangling
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	names := func(f ...string) []string {
		t.Helper()
		lf, err := ParseListFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		imgs, err := s.Filter(list, lf)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, img := range imgs {
			if len(img.Names) == 0 {
				out = append(out, "<none>")
			}
			out = append(out, img.Names...)
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		filter []string
		want   []string
	}{
		{nil, []string{"<none>", "docker.io/library/mid:1", "docker.io/library/old:1"}},
		{[]string{"dangling=true"}, []string{"<none>"}},
		{[]string{"dangling=false"}, []string{"docker.io/library/mid:1", "docker.io/library/old:1"}},
		{[]string{"label=tier"}, []string{"docker.io/library/mid:1", "docker.io/library/old:1"}},
		{[]string{"label=tier=db"}, []string{"docker.io/library/old:1"}},
		{[]string{"label=x"}, []string{"docker.io/library/mid:1"}},
		{[]string{"label=tier=db", "label=tier=web"}, nil}, // every label, as docker's
		{[]string{"label=tier", "label=tier=db"}, []string{"docker.io/library/old:1"}},
		{[]string{"before=mid:1"}, []string{"docker.io/library/old:1"}},
		{[]string{"since=old:1"}, []string{"<none>", "docker.io/library/mid:1"}},
		{[]string{"since=old:1", "dangling=false"}, []string{"docker.io/library/mid:1"}},
		{[]string{"reference=mid"}, []string{"docker.io/library/mid:1"}},
		{[]string{"reference=*d:1"}, []string{"docker.io/library/mid:1", "docker.io/library/old:1"}},
		{[]string{"until=2020-06-01T00:00:00Z"}, []string{"docker.io/library/old:1"}},
	} {
		if got := names(c.filter...); !slices.Equal(got, c.want) {
			t.Errorf("filter %v: %v, want %v", c.filter, got, c.want)
		}
	}
	lf, _ := ParseListFilter([]string{"before=nosuch"})
	if _, err := s.Filter(list, lf); err == nil {
		t.Error("before= an image that does not exist accepted")
	}
}

func TestFamiliar(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox:latest":   "busybox:latest",
		"docker.io/library/busybox@sha256:a": "busybox@sha256:a",
		"docker.io/foo/bar:1":                "foo/bar:1",
		"docker.io/library/a/b:1":            "library/a/b:1",
		"127.0.0.1:5000/x:latest":            "127.0.0.1:5000/x:latest",
		"quay.io/library/x:1":                "quay.io/library/x:1",
	} {
		if got := Familiar(in); got != want {
			t.Errorf("Familiar(%q) = %q, want %q", in, got, want)
		}
	}
}

// importImage makes a one-file image created at created with labels, named
// ref (may be empty).
func importImage(t *testing.T, s *Store, ref, body string, created time.Time, labels map[string]string) *Image {
	t.Helper()
	img, err := s.Import(bytes.NewReader(tarOf(tf{name: "f", body: body})), ref,
		ImportOptions{Created: created, Config: ocispec.ImageConfig{Labels: labels}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestListFilterNames: with reference patterns, the names shown are those they
// match, as docker's list shows them.
func TestListFilterNames(t *testing.T) {
	img := &Image{Names: []string{"127.0.0.1:5000/x/y:2", "docker.io/library/busybox:latest", "docker.io/library/busybox:1"}}
	for _, c := range []struct {
		filter []string
		want   []string
	}{
		{nil, img.Names},
		{[]string{"reference=busybox"}, []string{"docker.io/library/busybox:latest", "docker.io/library/busybox:1"}},
		{[]string{"reference=busybox:1", "reference=127.0.0.1:5000/x/*"}, []string{"127.0.0.1:5000/x/y:2", "docker.io/library/busybox:1"}},
		{[]string{"reference=nope", "label=a"}, nil},
	} {
		f, err := ParseListFilter(c.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Names(img); !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.filter, got, c.want)
		}
	}
}

func TestPruneImagesFilters(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	now := time.Now()
	old := importImage(t, s, "old:1", "old", now.Add(-48*time.Hour), map[string]string{"keep": "no"})
	kept := importImage(t, s, "kept:1", "kept", now.Add(-48*time.Hour), map[string]string{"keep": "yes"})
	fresh := importImage(t, s, "fresh:1", "fresh", now, nil)
	dangling := importImage(t, s, "", "dangling", now, nil)
	used := importImage(t, s, "used:1", "used", now.Add(-48*time.Hour), nil)
	s.InUse = func(id digest.Digest) ([]string, error) {
		if id == used.Config {
			return []string{"c1"}, nil
		}
		return nil, nil
	}
	f, err := ParsePruneFilter(nil, now)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.PruneImages(f)
	if err != nil || !slices.Equal(rep.Deleted, []digest.Digest{dangling.Config}) || len(rep.Untagged) != 0 ||
		rep.Reclaimed != s.LayerSize(dangling.Layers[0].DiffID) && rep.Reclaimed == 0 {
		t.Fatalf("prune: %+v, %v", rep, err)
	}
	// -a with until=24h and label!=keep=yes: old only (fresh is new, kept
	// labelled, used in use).
	f, err = ParsePruneFilter([]string{"dangling=false", "until=24h", "label!=keep=yes"}, now)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = s.PruneImages(f)
	if err != nil || !slices.Equal(rep.Deleted, []digest.Digest{old.Config}) || !slices.Equal(rep.Untagged, []string{"docker.io/library/old:1"}) || rep.Reclaimed <= 0 {
		t.Fatalf("prune -a until=24h label!=keep=yes: %+v, %v", rep, err)
	}
	f, _ = ParsePruneFilter([]string{"dangling=false", "label=keep"}, now)
	if rep, err := s.PruneImages(f); err != nil || !slices.Equal(rep.Deleted, []digest.Digest{kept.Config}) {
		t.Fatalf("prune -a label=keep: %+v, %v", rep, err)
	}
	imgs, _ := s.List()
	var left []digest.Digest
	for _, img := range imgs {
		left = append(left, img.Config)
	}
	sort.Slice(left, func(i, j int) bool { return left[i] < left[j] })
	want := []digest.Digest{fresh.Config, used.Config}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	if !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	for _, bad := range []string{"until=soon", "dangling=maybe", "foo=1", "label"} {
		if _, err := ParsePruneFilter([]string{bad}, now); err == nil {
			t.Errorf("%s: %v", bad, err)
		}
	}
	for v, want := range map[string]time.Time{
		"1h": now.Add(-time.Hour), "1700000000": time.Unix(1700000000, 0),
		"2024-01-02T03:04:05Z": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		if f, err := ParsePruneFilter([]string{"until=" + v}, now); err != nil || !f.Until.Equal(want) {
			t.Errorf("until=%s: %v %v", v, f.Until, err)
		}
	}
}
