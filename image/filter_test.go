package image

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
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
		{[]string{"label=tier=db", "label=tier=web"}, []string{"docker.io/library/mid:1", "docker.io/library/old:1"}},
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
