package volume

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"golang.org/x/sys/unix"
)

// capNetRaw is a security.capability value (VFS_CAP_REVISION_2, effective,
// permitted cap_net_raw): what ping carries in many images.
var capNetRaw = []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

var (
	mtime = time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	atime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// imageTree builds, in rootfs/data, what an image may hold under a directory a
// volume is mounted on, and returns the host directory its absolute symlink names.
func imageTree(t *testing.T, rootfs string) (host string) {
	t.Helper()
	host = t.TempDir()
	must(t, os.WriteFile(filepath.Join(host, "marker"), []byte("host's own"), 0o644))

	d := filepath.Join(rootfs, "data")
	p := func(name string) string { return filepath.Join(d, name) }
	must(t, os.MkdirAll(filepath.Join(d, "sub", "deeper"), 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, "outside"), []byte("not below /data"), 0o644))

	must(t, os.WriteFile(p("file.txt"), []byte("hello"), 0o644))
	must(t, os.Chown(p("file.txt"), 1234, 5678))
	must(t, os.Chmod(p("file.txt"), 0o640))
	must(t, unix.Lsetxattr(p("file.txt"), "user.test", []byte("xattr value"), 0))

	must(t, os.WriteFile(p("suid"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.Chmod(p("suid"), 0o4755|os.ModeSetuid))
	must(t, os.WriteFile(p("ping"), []byte("ELF"), 0o755))
	must(t, unix.Lsetxattr(p("ping"), "security.capability", capNetRaw, 0))

	must(t, os.WriteFile(p("sub/deeper/inner"), []byte("inner"), 0o600))
	must(t, os.Chown(p("sub"), 42, 43))
	must(t, os.Chmod(p("sub"), 0o750))
	must(t, os.Mkdir(p("sticky"), 0o755))
	must(t, os.Chmod(p("sticky"), 0o1777|os.ModeSticky))
	must(t, os.Mkdir(p("sgid"), 0o755))
	must(t, os.Chown(p("sgid"), 100, 200))
	must(t, os.Chmod(p("sgid"), 0o2775|os.ModeSetgid))
	must(t, os.Mkdir(p("empty"), 0o700))

	must(t, os.Symlink(host, p("abs-link")))           // an absolute host path
	must(t, os.Symlink(host+"/marker", p("abs-file"))) // a host file
	must(t, os.Symlink("file.txt", p("rel-link")))
	must(t, os.Symlink("../../../../../../etc", p("up-link")))
	must(t, os.Symlink("/nonexistent/x", p("dangling")))
	must(t, os.Lchown(p("abs-link"), 7, 8))

	must(t, os.WriteFile(p("hard1"), []byte("linked"), 0o644))
	must(t, os.Link(p("hard1"), p("sub/hard2")))
	must(t, os.Link(p("hard1"), p("sub/deeper/hard3")))
	must(t, unix.Mkfifo(p("fifo"), 0o620))
	must(t, unix.Mknod(p("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))

	// Times last, deepest first: each change above touched its directory's.
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	for _, name := range []string{"file.txt", "suid", "ping", "sub/deeper/inner", "sub/deeper", "abs-link", "hard1", "fifo", "null",
		"sticky", "sgid", "empty", "sub", "."} {
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p(name), ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	must(t, os.Chown(d, 99, 98))
	must(t, os.Chmod(d, 0o711))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, d, ts, 0))
	return host
}

// entry is what the copy must keep of one file.
type entry struct {
	mode     os.FileMode
	uid, gid uint32
	mtime    int64
	size     int64
	rdev     uint64
	content  string // regular files
	target   string // symlinks
	xattrs   map[string]string
}

// snapshot reads every entry below dir (dir itself as ".").
func snapshot(t *testing.T, dir string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st := fi.Sys().(*syscallStat)
		e := entry{mode: fi.Mode(), uid: st.Uid, gid: st.Gid, mtime: fi.ModTime().UnixNano(), rdev: st.Rdev, xattrs: map[string]string{}}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			must(t, err)
			e.content, e.size = string(data), fi.Size()
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			e.target, err = os.Readlink(p)
			must(t, err)
		}
		for _, attr := range []string{"user.test", "security.capability"} {
			buf := make([]byte, 256)
			if n, err := unix.Lgetxattr(p, attr, buf); err == nil {
				e.xattrs[attr] = string(buf[:n])
			}
		}
		out[rel] = e
		return nil
	}))
	return out
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	return st.Ino
}

// TestCopyUp copies an image directory with every kind of entry and compares the
// two trees entry by entry: type, mode bits (setuid, setgid, sticky), owner, mtime,
// content, symlink target, device number, xattrs (security.capability included,
// which chown would clear were it set first), and hardlinks kept as hardlinks. The
// symlinks to host paths are copied as symlinks, and the host files they name are
// neither read into the volume nor changed. It then shows the copy happens once.
func TestCopyUp(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := t.TempDir()
	host := imageTree(t, rootfs)
	hostBefore := snapshot(t, host)
	s := openStore(t)
	v, err := s.Create("data", CreateOptions{})
	must(t, err)

	must(t, CopyUp(v, rootfs, "/data"))
	// atime too, on one file, before anything reads it: the image's, not the
	// time of the copy.
	var st unix.Stat_t
	must(t, unix.Stat(filepath.Join(v.Mountpoint, "file.txt"), &st))
	if st.Atim.Nano() != atime.UnixNano() {
		t.Errorf("atime %v, want %v", time.Unix(0, st.Atim.Nano()), atime)
	}

	want, got := snapshot(t, filepath.Join(rootfs, "data")), snapshot(t, v.Mountpoint)
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: not copied", name)
			continue
		}
		if w.mode != g.mode || w.uid != g.uid || w.gid != g.gid || w.mtime != g.mtime || w.content != g.content ||
			w.target != g.target || w.rdev != g.rdev || len(w.xattrs) != len(g.xattrs) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, g, w)
		}
		for k, val := range w.xattrs {
			if g.xattrs[k] != val {
				t.Errorf("%s: xattr %s is %q, want %q", name, k, g.xattrs[k], val)
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: in the volume, not in the image", name)
		}
	}
	if got["suid"].mode&os.ModeSetuid == 0 || got["ping"].xattrs["security.capability"] == "" {
		t.Errorf("setuid or file capability lost: %+v %+v", got["suid"], got["ping"])
	}
	// Hardlinks: one inode in the volume, not the image's.
	i1 := inode(t, filepath.Join(v.Mountpoint, "hard1"))
	if i1 != inode(t, filepath.Join(v.Mountpoint, "sub/hard2")) || i1 != inode(t, filepath.Join(v.Mountpoint, "sub/deeper/hard3")) {
		t.Error("hardlinks were not kept")
	}
	if i1 == inode(t, filepath.Join(rootfs, "data/hard1")) {
		t.Error("the volume shares an inode with the image")
	}
	if _, ok := got["../outside"]; ok {
		t.Error("copied more than /data")
	}
	// The host paths the symlinks name: untouched, and not in the volume.
	if got := snapshot(t, host); !mapsEqual(hostBefore, got) {
		t.Errorf("host directory changed:\n%v\n%v", hostBefore, got)
	}
	if _, err := os.Lstat(filepath.Join(v.Mountpoint, "marker")); err == nil {
		t.Error("host file copied into the volume")
	}

	// Recorded, and never again: not after the volume is emptied, not with new
	// content in the image.
	again, err := s.Get("data")
	must(t, err)
	if !again.CopiedUp || again.CopyingUp || !v.CopiedUp {
		t.Fatalf("copy-up not recorded: %+v", again)
	}
	ents, _ := os.ReadDir(v.Mountpoint)
	for _, e := range ents {
		must(t, os.RemoveAll(filepath.Join(v.Mountpoint, e.Name())))
	}
	must(t, os.WriteFile(filepath.Join(rootfs, "data", "new"), nil, 0o644))
	must(t, CopyUp(again, rootfs, "/data"))
	if ents, _ := os.ReadDir(v.Mountpoint); len(ents) != 0 {
		t.Fatalf("copied up twice: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(v.Mountpoint), ".copyup")); !os.IsNotExist(err) {
		t.Fatalf("working directory left: %v", err)
	}
}

type syscallStat = syscall.Stat_t

func mapsEqual(a, b map[string]entry) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.content != w.content || v.mode != w.mode || v.mtime != w.mtime {
			return false
		}
	}
	return true
}

// TestCopyUpSymlinkedDir: the mounted directory is itself a symlink out of the
// rootfs (absolute, or a chain of ".."), or one of its parents is. The copy comes
// from inside the rootfs, where the runtime will mount the volume too, or there is
// nothing to copy; never from the host.
func TestCopyUpSymlinkedDir(t *testing.T) {
	testutil.RequireRoot(t)
	host := t.TempDir()
	must(t, os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600))
	must(t, os.Mkdir(filepath.Join(host, "b"), 0o755))
	must(t, os.WriteFile(filepath.Join(host, "b", "secret"), []byte("host"), 0o600))

	for _, c := range []struct {
		name   string
		link   string // rootfs/data -> link
		dir    string // what is mounted
		inside bool   // the rootfs has the link's target, holding "inside"
		want   []string
	}{
		{"absolute, nothing there in the rootfs", host, "/data", false, nil},
		{"absolute, the rootfs has it", host, "/data", true, []string{"inside"}},
		{"dot-dot chain", "../../../../../../../.." + host, "/data", true, []string{"inside"}},
		{"parent is the symlink", host, "/data/b", false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rootfs := t.TempDir()
			must(t, os.Symlink(c.link, filepath.Join(rootfs, "data")))
			if c.inside {
				in := filepath.Join(rootfs, host)
				must(t, os.MkdirAll(in, 0o755))
				must(t, os.WriteFile(filepath.Join(in, "inside"), []byte("image"), 0o644))
			}
			s := openStore(t)
			v, err := s.Create("v", CreateOptions{})
			must(t, err)
			must(t, CopyUp(v, rootfs, c.dir))
			var names []string
			ents, _ := os.ReadDir(v.Mountpoint)
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if !slices.Equal(names, c.want) {
				t.Fatalf("volume holds %v, want %v", names, c.want)
			}
			if !v.CopiedUp {
				t.Fatal("not marked copied up")
			}
		})
	}
}

// TestCopyUpNotNew: a volume with data, or one copied up before with nothing at
// dir, is never filled; a file where the directory should be is an error.
func TestCopyUpNotNew(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(rootfs, "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, "data", "image-file"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(rootfs, "file"), nil, 0o644))
	s := openStore(t)

	full, _ := s.Create("full", CreateOptions{})
	must(t, os.WriteFile(filepath.Join(full.Mountpoint, "mine"), nil, 0o644))
	must(t, CopyUp(full, rootfs, "/data"))
	if _, err := os.Stat(filepath.Join(full.Mountpoint, "image-file")); err == nil {
		t.Error("copied into a volume that had data")
	}

	// First mounted where the image has nothing: marked all the same.
	first, _ := s.Create("first", CreateOptions{})
	must(t, CopyUp(first, rootfs, "/nothing/here"))
	must(t, CopyUp(first, rootfs, "/data"))
	if ents, _ := os.ReadDir(first.Mountpoint); len(ents) != 0 {
		t.Errorf("second mount copied: %v", ents)
	}

	notDir, _ := s.Create("notdir", CreateOptions{})
	if err := CopyUp(notDir, rootfs, "/file"); err == nil {
		t.Error("copy-up of a file as a directory: no error")
	}
	if v, _ := s.Get("notdir"); v.CopiedUp {
		t.Error("a failed copy-up was marked done")
	}
}

// TestCopyUpConcurrent: two containers of one new volume start at once; the
// volume's lock makes one copy, the other find it done.
func TestCopyUpConcurrent(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(rootfs, "data", "d"), 0o755))
	for i := range 50 {
		must(t, os.WriteFile(filepath.Join(rootfs, "data", "d", string(rune('a'+i%26))+string(rune('a'+i/26))), []byte("x"), 0o644))
	}
	s := openStore(t)
	_, err := s.Create("v", CreateOptions{})
	must(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			v, err := s.Get("v")
			if err == nil {
				err = CopyUp(v, rootfs, "/data")
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	v, _ := s.Get("v")
	ents, _ := os.ReadDir(filepath.Join(v.Mountpoint, "d"))
	if len(ents) != 50 || !v.CopiedUp {
		t.Fatalf("%d entries, copied up %v", len(ents), v.CopiedUp)
	}
}

// TestCopyUpKeepsDataDir: a running container (nocopy) holds the volume's _data
// mounted; a later copy-up fills that same directory rather than replacing it,
// so the running container sees the files. A bind mount of _data stands in for
// the container's.
func TestCopyUpKeepsDataDir(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(rootfs, "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(rootfs, "data", "f"), []byte("image"), 0o644))
	s := openStore(t)
	v, _ := s.Create("v", CreateOptions{})
	ctr := t.TempDir()
	must(t, unix.Mount(v.Mountpoint, ctr, "", unix.MS_BIND, ""))
	t.Cleanup(func() { must(t, unix.Unmount(ctr, unix.MNT_DETACH)) })

	must(t, CopyUp(v, rootfs, "/data"))
	data, err := os.ReadFile(filepath.Join(ctr, "f"))
	if err != nil || string(data) != "image" {
		t.Fatalf("the running container does not see the copy: %q %v", data, err)
	}
}

// TestCopyUpResumes: a copy-up that crashed after moving some entries (volume.json
// says CopyingUp) is finished by the next one, which keeps what is there and adds
// the rest, instead of taking the half copy for the user's data.
func TestCopyUpResumes(t *testing.T) {
	testutil.RequireRoot(t)
	rootfs := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(rootfs, "data"), 0o755))
	for _, n := range []string{"a", "b", "c"} {
		must(t, os.WriteFile(filepath.Join(rootfs, "data", n), []byte("image "+n), 0o644))
	}
	s := openStore(t)
	v, _ := s.Create("v", CreateOptions{})
	// The crash: a moved, CopyingUp recorded, a stale working directory.
	must(t, os.WriteFile(filepath.Join(v.Mountpoint, "a"), []byte("moved before the crash"), 0o644))
	v.CopyingUp = true
	must(t, writeJSON(filepath.Join(v.dir, "volume.json"), v))
	must(t, os.MkdirAll(filepath.Join(v.dir, ".copyup", "junk"), 0o700))

	must(t, CopyUp(v, rootfs, "/data"))
	for n, want := range map[string]string{"a": "moved before the crash", "b": "image b", "c": "image c"} {
		data, err := os.ReadFile(filepath.Join(v.Mountpoint, n))
		if err != nil || !bytes.Equal(data, []byte(want)) {
			t.Errorf("%s: %q %v, want %q", n, data, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(v.Mountpoint, "junk")); err == nil {
		t.Error("the crashed copy's working directory was moved in")
	}
	got, _ := s.Get("v")
	if !got.CopiedUp || got.CopyingUp {
		t.Fatalf("after resume: %+v", got)
	}
}
