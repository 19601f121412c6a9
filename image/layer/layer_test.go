package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/image/internal/treetest"
	"github.com/hullproject/hull/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	major, minor     int64
	xattrs           map[string]string
}

var t0 = time.Unix(1700000000, 123456789)

func mkTar(t testing.TB, ents ...ent) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: t0, Size: int64(len(e.body)), Format: tar.FormatPAX, Devmajor: e.major, Devminor: e.minor}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return &buf
}

func TestApplyAndWriteRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	src := mkTar(t,
		ent{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		ent{name: "bin/su", body: "su", mode: 0o4755, uid: 0, gid: 0},
		ent{name: "home/u/f", body: "u", uid: 1000, gid: 1000, mode: 0o600},
		ent{name: "home/u/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1000},
		ent{name: "lnk", typ: tar.TypeSymlink, link: "/etc/passwd", uid: 7, gid: 8},
		ent{name: "hard", typ: tar.TypeLink, link: "etc/passwd"},
		ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		ent{name: "fifo", typ: tar.TypeFifo, mode: 0o644},
		ent{name: "cap", body: "x", xattrs: map[string]string{"user.k": "v", "security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}},
		ent{name: "gone/.wh.file"},
		ent{name: "opq/", typ: tar.TypeDir, mode: 0o755},
		ent{name: "opq/.wh..wh..opq"},
		ent{name: "dup", body: "first"},
		ent{name: "dup", body: "second"},
	)
	if _, err := Apply(dir, src, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "gone/file"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Fatalf("whiteout not a char 0/0: %v %o", err, st.Mode)
	}
	v := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "opq"), OpaqueXattr, v); err != nil || string(v[:n]) != "y" {
		t.Fatalf("opaque xattr: %v", err)
	}
	unix.Lstat(filepath.Join(dir, "bin/su"), &st)
	if st.Mode&0o7777 != 0o4755 {
		t.Errorf("setuid mode lost: %o", st.Mode)
	}
	unix.Lstat(filepath.Join(dir, "lnk"), &st)
	if st.Uid != 7 || st.Mtim.Sec != t0.Unix() || st.Mtim.Nsec != int64(t0.Nanosecond()) {
		t.Errorf("symlink owner/time: uid %d mtime %v", st.Uid, st.Mtim)
	}
	unix.Lstat(filepath.Join(dir, "home/u"), &st)
	if st.Mtim.Sec != t0.Unix() || st.Uid != 1000 || st.Mode&0o777 != 0o700 {
		t.Errorf("dir meta after contents: %+v", st)
	}
	unix.Lstat(filepath.Join(dir, "hard"), &st)
	if st.Nlink != 2 {
		t.Errorf("hardlink nlink %d", st.Nlink)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dup")); string(b) != "second" {
		t.Errorf("dup = %q", b)
	}
	// Round trip: write the tree as an overlay layer, unpack it again, compare.
	var out bytes.Buffer
	if err := Write(dir, &out, WriteOptions{Overlay: true}); err != nil {
		t.Fatal(err)
	}
	out2 := bytes.Clone(out.Bytes())
	dir2 := t.TempDir()
	if _, err := Apply(dir2, &out, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	a, _ := treetest.Describe(dir, false)
	b, _ := treetest.Describe(dir2, false)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("trees differ:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	var again bytes.Buffer
	Write(dir2, &again, WriteOptions{Overlay: true})
	if !bytes.Equal(again.Bytes(), out2) {
		t.Error("Write is not deterministic")
	}
	// Merge semantics: the whiteout removes, the opaque dir empties.
	merged := t.TempDir()
	os.MkdirAll(filepath.Join(merged, "gone"), 0o755)
	os.WriteFile(filepath.Join(merged, "gone/file"), nil, 0o644)
	os.MkdirAll(filepath.Join(merged, "opq/old"), 0o755)
	if _, err := ApplyMerge(merged, bytes.NewReader(out2), DefaultLimits); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(merged, "gone/file")); !os.IsNotExist(err) {
		t.Errorf("merge kept whited-out file: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(merged, "opq/old")); !os.IsNotExist(err) {
		t.Errorf("merge kept content of opaque dir: %v", err)
	}
}

// TestHostile feeds attacks to Apply. Each must fail or stay inside the layer, and
// the sentinel outside the layer must be untouched and nothing created next to it.
func TestHostile(t *testing.T) {
	testutil.RequireRoot(t)
	cases := []struct {
		name    string
		ents    []ent
		wantErr bool
	}{
		{"dotdot", []ent{{name: "../outside/pwned", body: "x"}}, true},
		{"dotdot-deep", []ent{{name: "a/../../outside/pwned", body: "x"}}, true},
		{"absolute", []ent{{name: "/OUTSIDE/pwned", body: "x"}}, false},
		{"symlink-abs-then-write", []ent{{name: "evil", typ: tar.TypeSymlink, link: "OUTSIDE"}, {name: "evil/pwned", body: "x"}}, true},
		{"symlink-rel-then-write", []ent{{name: "evil", typ: tar.TypeSymlink, link: "../../../../../../../../OUTSIDE"}, {name: "evil/pwned", body: "x"}}, true},
		{"symlink-root-then-write", []ent{{name: "evil", typ: tar.TypeSymlink, link: "/"}, {name: "evil/pwned", body: "x"}}, false},
		{"symlink-then-overwrite", []ent{{name: "evil", typ: tar.TypeSymlink, link: "OUTSIDE/sentinel"}, {name: "evil", body: "x"}}, false},
		{"hardlink-out", []ent{{name: "h", typ: tar.TypeLink, link: "../outside/sentinel"}}, true},
		{"hardlink-abs", []ent{{name: "h", typ: tar.TypeLink, link: "OUTSIDE/sentinel"}}, true},
		{"hardlink-via-symlink", []ent{{name: "s", typ: tar.TypeSymlink, link: "OUTSIDE/sentinel"}, {name: "h", typ: tar.TypeLink, link: "s"}}, false},
		{"hardlink-via-symlink-dir", []ent{{name: "s", typ: tar.TypeSymlink, link: "OUTSIDE"}, {name: "h", typ: tar.TypeLink, link: "s/sentinel"}}, true},
		{"symlink-dot", []ent{{name: ".", typ: tar.TypeSymlink, link: "OUTSIDE"}}, true},
		{"symlink-slash", []ent{{name: "/", typ: tar.TypeSymlink, link: "OUTSIDE"}}, true},
		{"symlink-dotslash", []ent{{name: "./", typ: tar.TypeSymlink, link: "OUTSIDE"}}, true},
		{"whiteout-dotdot", []ent{{name: "a/.wh..."}}, true},
		{"whiteout-out", []ent{{name: "../outside/.wh.sentinel"}}, true},
		{"whiteout-via-symlink", []ent{{name: "evil", typ: tar.TypeSymlink, link: "OUTSIDE"}, {name: "evil/.wh.sentinel"}}, true},
		{"opaque-via-symlink", []ent{{name: "evil", typ: tar.TypeSymlink, link: "OUTSIDE"}, {name: "evil/.wh..wh..opq"}}, true},
		{"xattr-overlay", []ent{{name: "d/", typ: tar.TypeDir, xattrs: map[string]string{"trusted.overlay.opaque": "y"}}}, true},
		{"xattr-overlay-redirect", []ent{{name: "f", body: "x", xattrs: map[string]string{"trusted.overlay.redirect": "/OUTSIDE"}}}, true},
		{"chmod-via-symlink", []ent{{name: "evil", typ: tar.TypeSymlink, link: "OUTSIDE/sentinel"}, {name: "evil/", typ: tar.TypeDir, mode: 0o777}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			layerDir := filepath.Join(base, "a", "b", "layer")
			os.MkdirAll(outside, 0o755)
			os.MkdirAll(layerDir, 0o755)
			sentinel := filepath.Join(outside, "sentinel")
			os.WriteFile(sentinel, []byte("keep"), 0o600)
			before, _ := treetest.Describe(base+"/outside", false)
			var ents []ent
			for _, e := range c.ents {
				e.name = strings.ReplaceAll(e.name, "OUTSIDE", outside)
				e.link = strings.ReplaceAll(e.link, "OUTSIDE", outside)
				for k, v := range e.xattrs {
					e.xattrs[k] = strings.ReplaceAll(v, "OUTSIDE", outside)
				}
				ents = append(ents, e)
			}
			_, err := Apply(layerDir, mkTar(t, ents...), DefaultLimits)
			if c.wantErr && err == nil {
				t.Errorf("attack accepted")
			}
			if !c.wantErr && err != nil {
				t.Errorf("unexpected error: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error not one line: %q", err)
			}
			after, _ := treetest.Describe(base+"/outside", false)
			if strings.Join(before, "\n") != strings.Join(after, "\n") {
				t.Errorf("host touched:\n%s\n---\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
			}
			ents2, _ := os.ReadDir(filepath.Join(base, "a", "b"))
			if len(ents2) != 1 {
				t.Errorf("created next to the layer: %v", ents2)
			}
			if _, err := os.Lstat("/pwned"); err == nil {
				t.Fatal("created /pwned on the host")
			}
		})
	}
}

func TestBomb(t *testing.T) {
	testutil.RequireRoot(t)
	big := strings.Repeat("\x00", 4<<20)
	_, err := Apply(t.TempDir(), mkTar(t, ent{name: "zero", body: big}), Limits{MaxBytes: 1 << 20})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("bytes limit: %v", err)
	}
	var ents []ent
	for i := 0; i < 100; i++ {
		ents = append(ents, ent{name: "f" + strings.Repeat("x", i)})
	}
	_, err = Apply(t.TempDir(), mkTar(t, ents...), Limits{MaxEntries: 50})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("entries limit: %v", err)
	}
}
