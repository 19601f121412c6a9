package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hullproject/hull/internal/testutil"
)

var digestRE = regexp.MustCompile(`Digest: (sha256:[0-9a-f]{64})`)

// TestPushPullReferenceRegistry pushes with `hull push` to Debian's docker-registry
// and pulls back with `hull pull` into another root: a two-layer image whose base
// layer is there already, the same by digest, and a platform from an index.
func TestPushPullReferenceRegistry(t *testing.T) {
	src := newHullEnv(t, "hull")
	reg := testutil.ReferenceRegistry(t)
	src.ok("run", "--name", "c1", "busybox", "sh", "-c", "echo layered >/new && rm /bin/true")
	src.ok("commit", "c1", reg+"/lib/app:1")
	src.ok("push", reg+"/lib/app:1")

	dst := newHullEnv(t, "hull") // busybox only: the base layer exists, the top one not
	out := dst.ok("pull", reg+"/lib/app:1")
	if strings.Count(out, "already exists") != 1 || strings.Count(out, "downloaded") != 1 {
		t.Errorf("pull over the base layer:\n%s", out)
	}
	m := digestRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pull printed no digest:\n%s", out)
	}
	if got := dst.ok("run", "--rm", reg+"/lib/app:1", "sh", "-c", "cat /new; test -e /bin/true && echo still there || :"); got != "layered\n" {
		t.Errorf("run of the pulled image: %q", got)
	}
	if out := dst.ok("pull", reg+"/lib/app:1"); strings.Count(out, "already exists") != 2 {
		t.Errorf("second pull fetched again:\n%s", out)
	}
	byDigest := reg + "/lib/app@" + m[1]
	if out := dst.ok("pull", byDigest); !strings.Contains(out, m[1]) {
		t.Errorf("pull by digest:\n%s", out)
	}
	if got := dst.ok("run", "--rm", byDigest, "cat", "/new"); got != "layered\n" {
		t.Errorf("run by digest: %q", got)
	}

	// An index of the pushed image (linux/amd64) and a copy that says linux/arm64.
	appRef, err := name.ParseReference(reg + "/lib/app:1")
	if err != nil {
		t.Fatal(err)
	}
	app, err := remote.Image(appRef)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := app.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.Variant = "arm64", "v8"
	arm, err := mutate.ConfigFile(app, cf)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: app, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	multiRef, err := name.ParseReference(reg + "/lib/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(multiRef, idx); err != nil {
		t.Fatal(err)
	}
	for plat, img := range map[string]v1.Image{"linux/arm64/v8": arm, "linux/amd64": app} {
		want, _ := img.Digest()
		out := dst.ok("pull", "--platform", plat, reg+"/lib/multi:1")
		if m := digestRE.FindStringSubmatch(out); m == nil || m[1] != want.String() {
			t.Errorf("pull --platform %s: want %s\n%s", plat, want, out)
		}
	}
	if _, stderr, code := dst.run("pull", "--platform", "linux/s390x", reg+"/lib/multi:1"); code == 0 || !strings.Contains(stderr, "no image for platform") {
		t.Errorf("pull of a missing platform: exit %d: %s", code, stderr)
	}
}
