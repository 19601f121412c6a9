package image

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/opencontainers/go-digest"
)

// Remove refuses in docker's words: the last name of an image in use, an ID
// of several names.
func TestRemoveConflicts(t *testing.T) {
	testutil.RequireRoot(t)
	s := newStore(t)
	img := importImage(t, s, "a:1", "a", time.Now(), nil)
	s.Tag("a:1", "b:1")
	if _, err := s.Remove(img.Config.Encoded()[:12], false); !errors.Is(err, ErrConflict) ||
		!strings.HasPrefix(err.Error(), "conflict: unable to delete "+img.Config.Encoded()[:12]+" (must be forced) - image is referenced in multiple repositories") {
		t.Errorf("rmi by ID of two names: %v", err)
	}
	s.InUse = func(digest.Digest) ([]string, error) { return []string{"0123456789ab"}, nil }
	if out, err := s.Remove("b:1", false); err != nil || !slices.Equal(out, []string{"Untagged: docker.io/library/b:1"}) {
		t.Errorf("rmi of one of two names of an image in use: %v %v", out, err)
	}
	_, err := s.Remove("a:1", false)
	if !errors.Is(err, ErrInUse) || err.Error() != `conflict: unable to remove repository reference "a:1" (must force) - container 0123456789ab is using its referenced image `+img.Config.Encoded()[:12] {
		t.Errorf("rmi of the last name of an image in use: %v", err)
	}
	if _, err := s.Remove(img.Config.String(), false); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "image is being used by container 0123456789ab") {
		t.Errorf("rmi by ID of an image in use: %v", err)
	}
	if out, err := s.Remove("a:1", true); err != nil || !slices.Equal(out, []string{"Untagged: docker.io/library/a:1"}) {
		t.Errorf("rmi -f of an image in use: %v %v", out, err)
	}
	if _, err := s.Get(img.Config.String()); err != nil {
		t.Errorf("the image in use is gone: %v", err)
	}
}
