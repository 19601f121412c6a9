// Package snapshottest is the conformance suite every Snapshotter must pass.
package snapshottest

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hullproject/hull/image/layer"
	"github.com/hullproject/hull/image/snapshot"
	"golang.org/x/sys/unix"
)

// Run runs the suite; newSn makes a snapshotter keeping its snapshots below dir.
func Run(t *testing.T, newSn func(dir string) snapshot.Snapshotter) {
	tests := map[string]func(*testing.T, snapshot.Snapshotter, string){
		"Layers":     testLayers,
		"Diff":       testDiff,
		"View":       testView,
		"Remount":    testRemount,
		"Move":       testMove,
		"MountRace":  testMountRace,
		"Keys":       testKeys,
		"ManyLayers": testManyLayers,
		"NoLayers":   testNoLayers,
	}
	names := make([]string, 0, len(tests))
	for n := range tests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			root := t.TempDir()
			sn := newSn(filepath.Join(root, "snapshots"))
			t.Cleanup(func() {
				infos, _ := sn.List()
				for _, in := range infos {
					sn.Remove(in.Key)
				}
			})
			tests[n](t, sn, root)
		})
	}
}

type file struct{ name, body string }

// mkLayer unpacks a layer made of files into a fresh dir; a name ending in "/" is a
// directory, a body of "WHITEOUT" makes a whiteout, "OPAQUE" an opaque marker.
func mkLayer(t *testing.T, root string, files ...file) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f.body))}
		switch {
		case f.body == "OPAQUE":
			h.Name, h.Size = f.name+layer.WhiteoutOpaque, 0
		case strings.HasSuffix(f.name, "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case f.body == "WHITEOUT":
			dir, base := filepath.Split(f.name)
			h.Name, h.Size = dir+layer.WhiteoutPrefix+base, 0
		}
		tw.WriteHeader(h)
		if h.Size > 0 {
			io.WriteString(tw, f.body)
		}
	}
	tw.Close()
	dir, err := os.MkdirTemp(root, "layer-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layer.Apply(dir, &buf, layer.DefaultLimits); err != nil {
		t.Fatal(err)
	}
	return dir
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func twoLayers(t *testing.T, root string) []string {
	l1 := mkLayer(t, root, file{"a", "a1"}, file{"d/", ""}, file{"d/x", "x"}, file{"d/y", "y"}, file{"o/", ""}, file{"o/old", "old"})
	l2 := mkLayer(t, root, file{"a", "a2"}, file{"d/x", "WHITEOUT"}, file{"o/", ""}, file{"o/", "OPAQUE"}, file{"o/new", "new"}, file{"b", "b"})
	return []string{l1, l2}
}

func testLayers(t *testing.T, sn snapshot.Snapshotter, root string) {
	rootfs, err := sn.Prepare("c1", twoLayers(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(rootfs, "a")); got != "a2" {
		t.Errorf("a = %q, want the upper layer's", got)
	}
	if exists(filepath.Join(rootfs, "d/x")) || !exists(filepath.Join(rootfs, "d/y")) {
		t.Error("whiteout not applied")
	}
	if exists(filepath.Join(rootfs, "o/old")) || !exists(filepath.Join(rootfs, "o/new")) {
		t.Error("opaque dir not applied")
	}
	if err := os.WriteFile(filepath.Join(rootfs, "new"), []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare("c1", nil); !errors.Is(err, snapshot.ErrExists) {
		t.Errorf("second Prepare of c1: %v", err)
	}
	infos, _ := sn.List()
	if len(infos) != 1 || infos[0].Key != "c1" || len(infos[0].Layers) != 2 {
		t.Errorf("List = %+v", infos)
	}
	if err := sn.Remove("c1"); err != nil {
		t.Fatal(err)
	}
	if exists(rootfs) {
		t.Error("rootfs left after Remove")
	}
	if err := sn.Remove("c1"); err != nil {
		t.Errorf("Remove of a removed snapshot: %v", err)
	}
}

func diffEntries(t *testing.T, sn snapshot.Snapshotter, key string) map[string]string {
	var buf bytes.Buffer
	if err := sn.Diff(key, &buf); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[strings.TrimSuffix(h.Name, "/")] = fmt.Sprintf("%c:%s", h.Typeflag, b)
	}
	return out
}

func testDiff(t *testing.T, sn snapshot.Snapshotter, root string) {
	rootfs, err := sn.Prepare("c1", twoLayers(t, root))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(rootfs, "new"), []byte("n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "a"), []byte("a3"), 0o644)
	os.Remove(filepath.Join(rootfs, "b"))
	os.RemoveAll(filepath.Join(rootfs, "d"))
	os.MkdirAll(filepath.Join(rootfs, "e/f"), 0o755)
	os.Symlink("a", filepath.Join(rootfs, "e/f/s"))
	got := diffEntries(t, sn, "c1")
	want := map[string]string{"new": "0:n", "a": "0:a3", ".wh.b": "0:", ".wh.d": "0:", "e": "5:", "e/f": "5:", "e/f/s": "2:"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("diff %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("diff has extra entries: %v", got)
	}
	// The diff applied on the layers gives the same tree as the snapshot.
}

func testView(t *testing.T, sn snapshot.Snapshotter, root string) {
	rootfs, err := sn.View("v1", twoLayers(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(rootfs, "a")) != "a2" {
		t.Error("view shows the wrong content")
	}
	err = os.WriteFile(filepath.Join(rootfs, "new"), nil, 0o644)
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("write into a view: %v, want EROFS", err)
	}
}

func testRemount(t *testing.T, sn snapshot.Snapshotter, root string) {
	rootfs, err := sn.Prepare("c1", twoLayers(t, root))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(rootfs, "kept"), []byte("k"), 0o644)
	if err := sn.Unmount("c1"); err != nil {
		t.Fatal(err)
	}
	r2, err := sn.Mount("c1")
	if err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(r2, "kept")) != "k" || read(t, filepath.Join(r2, "a")) != "a2" {
		t.Error("data lost over unmount and mount")
	}
}

// testMove moves a mounted snapshot out: unmounted, its files at the
// destination, its key free for a new snapshot; a missing one moves as nothing.
func testMove(t *testing.T, sn snapshot.Snapshotter, root string) {
	rootfs, err := sn.Prepare("c1", twoLayers(t, root))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(rootfs, "kept"), []byte("k"), 0o644)
	dst := filepath.Join(root, "moved")
	if err := sn.Move("c1", dst); err != nil {
		t.Fatal(err)
	}
	if n := mounts(t, rootfs); n != 0 {
		t.Errorf("%d mounts left on %s", n, rootfs)
	}
	if exists(filepath.Join(root, "snapshots", "c1")) || !exists(filepath.Join(dst, "rootfs")) {
		t.Errorf("not moved: snapshots/c1 %v, moved/rootfs %v", exists(filepath.Join(root, "snapshots", "c1")), exists(filepath.Join(dst, "rootfs")))
	}
	if infos, _ := sn.List(); len(infos) != 0 {
		t.Errorf("listed after the move: %v", infos)
	}
	if _, err := sn.Prepare("c1", twoLayers(t, root)); err != nil {
		t.Errorf("the key is not free after the move: %v", err)
	}
	if err := sn.Move("nosuch", filepath.Join(root, "nosuch")); err != nil {
		t.Errorf("moving a missing snapshot: %v", err)
	}
}

// mounts counts the mounts on dir in this process's mount namespace.
func mounts(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}

// testMountRace mounts one unmounted snapshot from many goroutines (flock
// excludes them as it excludes processes: two `hull cp` of a stopped container):
// one mount, not one each stacked, and one Unmount leaves none.
func testMountRace(t *testing.T, sn snapshot.Snapshotter, root string) {
	for _, view := range []bool{false, true} {
		key, create := "rw", sn.Prepare
		if view {
			key, create = "ro", sn.View
		}
		rootfs, err := create(key, twoLayers(t, root))
		if err != nil {
			t.Fatal(err)
		}
		if err := sn.Unmount(key); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				<-start
				_, err := sn.Mount(key)
				errs <- err
			}()
		}
		close(start)
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if n := mounts(t, rootfs); n > 1 {
			t.Errorf("%s: %d mounts stacked by concurrent Mounts", key, n)
		}
		if read(t, filepath.Join(rootfs, "a")) != "a2" {
			t.Errorf("%s: not mounted", key)
		}
		if err := sn.Unmount(key); err != nil {
			t.Fatal(err)
		}
		if n := mounts(t, rootfs); n != 0 {
			t.Errorf("%s: %d mounts left after Unmount", key, n)
		}
	}
}

func testKeys(t *testing.T, sn snapshot.Snapshotter, root string) {
	for _, k := range []string{"", "../x", "a/b", ".", "..", "-x"} {
		if _, err := sn.Prepare(k, nil); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	if _, err := sn.Mount("missing"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("Mount(missing) = %v", err)
	}
}

// testManyLayers stacks more layers, with long paths, than fit in one page of mount
// options.
func testManyLayers(t *testing.T, sn snapshot.Snapshotter, root string) {
	deep := filepath.Join(root, strings.Repeat("long-directory-name-", 5))
	os.MkdirAll(deep, 0o755)
	var layers []string
	for i := 0; i < 150; i++ {
		layers = append(layers, mkLayer(t, deep, file{fmt.Sprintf("f%03d", i), fmt.Sprint(i)}, file{"top", fmt.Sprint(i)}))
	}
	if n := len(strings.Join(layers, ":")); n < 8192 {
		t.Fatalf("test layers too short: %d bytes", n)
	}
	rootfs, err := sn.Prepare("many", layers)
	if err != nil && strings.Contains(err.Error(), "more than this kernel's overlayfs takes") {
		// mount(2)'s option string: a clear refusal is what such a kernel allows
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(rootfs, "f000")) != "0" || read(t, filepath.Join(rootfs, "top")) != "149" {
		t.Error("many-layer snapshot shows the wrong content")
	}
}

func testNoLayers(t *testing.T, sn snapshot.Snapshotter, root string) {
	rootfs, err := sn.Prepare("scratch", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
