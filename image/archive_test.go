package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hullproject/hull/image/internal/treetest"
	"github.com/hullproject/hull/internal/testutil"
	"github.com/opencontainers/go-digest"
)

func TestBusyboxSaveLoadExportImportCommit(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed")
	}
	ctx := context.Background()
	s := newStore(t)
	img, err := BusyboxImage(ctx, s, "busybox:host")
	if err != nil {
		t.Fatal(err)
	}
	again, err := BusyboxImage(ctx, s, "busybox:again")
	if err != nil {
		t.Fatal(err)
	}
	if again.Manifest != img.Manifest {
		t.Errorf("busybox image not reproducible: %s vs %s", again.Manifest, img.Manifest)
	}
	if got, _ := s.Get("busybox:host"); got == nil || got.Names[0] != "docker.io/library/busybox:again" && got.Names[1] != "docker.io/library/busybox:host" {
		t.Errorf("names: %+v", got)
	}

	// save | load, both formats, into fresh stores.
	for _, format := range []string{"docker", "oci"} {
		var buf bytes.Buffer
		if err := s.Save(&buf, []string{"busybox:host"}, format); err != nil {
			t.Fatal(format, err)
		}
		s2 := newStore(t)
		imgs, err := s2.Load(ctx, &buf)
		if err != nil {
			t.Fatal(format, err)
		}
		if len(imgs) != 1 || imgs[0].Config != img.Config {
			t.Fatalf("%s: loaded %+v, want id %s", format, imgs, img.Config)
		}
		if format == "oci" && imgs[0].Manifest != img.Manifest {
			t.Errorf("oci round trip changed the manifest digest")
		}
		if len(imgs[0].Names) != 1 || imgs[0].Names[0] != "docker.io/library/busybox:host" {
			t.Errorf("%s: names %v", format, imgs[0].Names)
		}
	}

	// A container: prepare, change, export | import gives the same tree; commit.
	rootfs, err := s.Prepare("c1", "busybox:host")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(rootfs, "etc/hello"), []byte("hi"), 0o644)
	os.Remove(filepath.Join(rootfs, "bin/vi"))
	var exp bytes.Buffer
	if err := Export(rootfs, &exp); err != nil {
		t.Fatal(err)
	}
	expBytes := exp.Bytes()
	imp, err := s.Import(bytes.NewReader(expBytes), "imported:1", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.View("v1", "imported:1")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := treetest.Describe(rootfs, true)
	b, _ := treetest.Describe(r2, true)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Error("export | import changed the tree")
	}
	var exp2 bytes.Buffer
	Export(r2, &exp2)
	if !bytes.Equal(exp2.Bytes(), expBytes) {
		t.Error("export of the imported image differs from the original export")
	}
	_ = imp
	cm, err := s.Commit("c1", "busybox:host", "committed:1", ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.Layers) != 2 {
		t.Fatalf("commit has %d layers", len(cm.Layers))
	}
	r3, err := s.View("v2", "committed:1")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(r3, "etc/hello")); string(b) != "hi" {
		t.Error("commit lost a new file")
	}
	if _, err := os.Lstat(filepath.Join(r3, "bin/vi")); !os.IsNotExist(err) {
		t.Error("commit lost a deletion")
	}

	// rmi: in use is refused; GC keeps what snapshots use.
	s.InUse = func(id digest.Digest) ([]string, error) {
		if id == cm.Config {
			return []string{"ctr1"}, nil
		}
		return nil, nil
	}
	if _, err := s.Remove("committed:1", false); err == nil {
		t.Error("rmi of an image in use succeeded")
	}
	s.InUse = nil
	s.RemoveSnapshot("v2")
	if _, err := s.Remove("committed:1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove("imported:1", false); err == nil {
		// v1 still uses it as a snapshot, but only layers are protected, the record goes.
		if _, err := os.Stat(r2 + "/bin/busybox"); err != nil {
			t.Error("snapshot lost its layers after rmi")
		}
	}
}
