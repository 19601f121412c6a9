package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hull image prune takes docker's filters, as the API's prune does, and says
// what it untagged, deleted and freed.
func TestImagePruneFilters(t *testing.T) {
	h := newHullEnv(t, "hull")
	dir := t.TempDir()
	imp := func(body string, args ...string) string {
		os.WriteFile(filepath.Join(dir, "f"), []byte(body), 0o644)
		return strings.TrimSpace(h.ok(append([]string{"import"}, args...)...))
	}
	lab := imp("1", "--change", "LABEL k=v", dir, "lab:1")
	imp("2", dir, "other:1")
	dangling := imp("3", dir)
	if _, stderr, code := h.run("image", "prune", "--filter", "colour=red"); code != 125 || !strings.Contains(stderr, "invalid filter") {
		t.Errorf("image prune --filter colour=red: %d %s", code, stderr)
	}
	out := h.ok("image", "prune", "-f")
	if !strings.Contains(out, "Deleted: "+dangling) || strings.Contains(out, "Untagged") || !strings.Contains(out, "Total reclaimed space: ") {
		t.Errorf("image prune:\n%s", out)
	}
	out = h.ok("image", "prune", "-a", "--filter", "label=k=v")
	if !strings.HasPrefix(out, "Untagged: docker.io/library/lab:1\nDeleted: "+lab+"\nTotal reclaimed space: ") || strings.Contains(out, "other") {
		t.Errorf("image prune -a --filter label=k=v:\n%s", out)
	}
	if out := h.ok("image", "prune", "--filter", "dangling=false", "--filter", "until=1h"); strings.Contains(out, "other") {
		t.Errorf("image prune until=1h pruned a new image:\n%s", out)
	}
	if out := h.ok("images", "--format", "{{.Repository}}"); !strings.Contains(out, "other") || strings.Contains(out, "lab") {
		t.Errorf("images after the prunes:\n%s", out)
	}
}
