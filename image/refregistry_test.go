package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hullproject/hull/internal/testutil"
)

// TestPullReferenceRegistry pulls from the reference registry (Debian's
// docker-registry, stricter than go-containerregistry's in-process one) a gzip
// multi-layer image with whiteouts and hardlinks, a zstd one, an index by platform
// and an image by digest, and checks that a second pull fetches no layer.
func TestPullReferenceRegistry(t *testing.T) {
	testutil.RequireRoot(t)
	reg := testutil.ReferenceRegistry(t)
	ctx := context.Background()
	layers := [][]byte{
		tarOf(tf{name: "etc/"}, tf{name: "etc/a", body: "a"}, tf{name: "etc/gone", body: "g"}, tf{name: "hl", body: "h"}, tf{name: "hl2", link: "=hl"}, tf{name: "op/"}, tf{name: "op/old", body: "o"}),
		tarOf(tf{name: "etc/.wh.gone"}, tf{name: "op/"}, tf{name: "op/.wh..wh..opq"}, tf{name: "op/new", body: "n"}, tf{name: "sl", link: "->etc/a"}),
	}
	for _, zstd := range []bool{false, true} {
		t.Run(fmt.Sprintf("zstd=%v", zstd), func(t *testing.T) {
			img := mkImage(t, zstd, layers...)
			ref := fmt.Sprintf("%s/test/multi:zstd-%v", reg, zstd)
			push(t, ref, img)
			s := newStore(t)
			prog := &recProgress{}
			opt := anon
			opt.Progress = prog
			got, err := s.Pull(ctx, ref, opt)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := img.Digest()
			if got.Manifest.String() != want.String() || len(got.Layers) != 2 {
				t.Fatalf("pulled %s with %d layers, want %s", got.Manifest, len(got.Layers), want)
			}
			if zstd && got.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
				t.Errorf("layer media type %s", got.Layers[0].MediaType)
			}
			for id, st := range prog.status {
				if st != "downloaded" {
					t.Errorf("first pull: layer %s %s", id, st)
				}
			}
			rootfs, err := s.View("v1", ref)
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range map[string]string{"etc/a": "a", "op/new": "n", "sl": "a", "hl": "h", "hl2": "h"} {
				if b, err := os.ReadFile(filepath.Join(rootfs, p)); err != nil || string(b) != want {
					t.Errorf("%s = %q, %v", p, b, err)
				}
			}
			for _, p := range []string{"etc/gone", "op/old"} {
				if _, err := os.Lstat(filepath.Join(rootfs, p)); !os.IsNotExist(err) {
					t.Errorf("%s visible through the snapshot: %v", p, err)
				}
			}
			a, errA := os.Stat(filepath.Join(rootfs, "hl"))
			b, errB := os.Stat(filepath.Join(rootfs, "hl2"))
			if errA != nil || errB != nil || !os.SameFile(a, b) {
				t.Errorf("hl and hl2 are not one file through the snapshot: %v %v", errA, errB)
			}
			prog2 := &recProgress{}
			opt.Progress = prog2
			if _, err := s.Pull(ctx, ref, opt); err != nil {
				t.Fatal(err)
			}
			if len(prog2.status) != 2 {
				t.Errorf("second pull progress: %v", prog2.status)
			}
			for id, st := range prog2.status {
				if st != "already exists" {
					t.Errorf("second pull: layer %s %s", id, st)
				}
			}
		})
	}

	t.Run("index", func(t *testing.T) {
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
		id, _ := idx.Digest()
		for plat, want := range map[string]v1.Image{"linux/amd64": amd, "linux/arm64/v8": arm} {
			s := newStore(t)
			opt := anon
			opt.Platform = plat
			got, err := s.Pull(ctx, reg+"/test/multiarch", opt)
			if err != nil {
				t.Fatal(err)
			}
			wd, _ := want.Digest()
			if got.Manifest.String() != wd.String() || got.Index.String() != id.String() {
				t.Errorf("platform %s: got %s (index %s), want %s (index %s)", plat, got.Manifest, got.Index, wd, id)
			}
			key := strings.ReplaceAll(plat, "/", "-")
			rootfs, err := s.View(key, got.Manifest.String())
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(rootfs, "arch")); string(b) != strings.Split(plat, "/")[1] {
				t.Errorf("platform %s: /arch is %q", plat, b)
			}
		}
		s := newStore(t)
		opt := anon
		opt.Platform = "linux/s390x"
		if _, err := s.Pull(ctx, reg+"/test/multiarch", opt); err == nil || !strings.Contains(err.Error(), "no image for platform") {
			t.Errorf("missing platform: %v", err)
		}
	})

	t.Run("digest", func(t *testing.T) {
		img := mkImage(t, false, tarOf(tf{name: "d", body: "by digest"}))
		push(t, reg+"/test/dig:v1", img)
		d, _ := img.Digest()
		s := newStore(t)
		ref := reg + "/test/dig@" + d.String()
		got, err := s.Pull(ctx, ref, anon)
		if err != nil {
			t.Fatal(err)
		}
		if got.Manifest.String() != d.String() || len(got.Names) != 1 || got.Names[0] != ref {
			t.Errorf("pulled %s named %v", got.Manifest, got.Names)
		}
		wrong := reg + "/test/dig@sha256:" + strings.Repeat("0", 64)
		if _, err := s.Pull(ctx, wrong, anon); err == nil {
			t.Error("pull of an unknown digest succeeded")
		}
	})
}
