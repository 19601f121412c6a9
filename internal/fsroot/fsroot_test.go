package fsroot

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// tree makes a root directory beside an "outside" one (what an escape would reach)
// and opens the root.
func tree(t *testing.T) (root *Root, dir, outside string) {
	t.Helper()
	base := t.TempDir()
	dir, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{dir, outside, filepath.Join(dir, "etc")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(outside, "secret"), "outside")
	write(t, filepath.Join(dir, "etc", "secret"), "inside")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir, outside
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// read opens p in r and reads it.
func read(t *testing.T, r *Root, p string) (string, error) {
	t.Helper()
	fd, err := r.Open(p, unix.O_RDONLY)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, 64)
	n, err := unix.Read(fd, buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), nil
}

// same tells whether fd is the file at host path p.
func same(t *testing.T, fd int, p string) bool {
	t.Helper()
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(p, &b); err != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// ".." stops at the root, in the path given and in a symlink's target.
func TestOpenDotDotStaysInside(t *testing.T) {
	r, dir, outside := tree(t)
	rel, err := filepath.Rel(filepath.Join(dir, "etc"), filepath.Join(outside, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	symlink(t, rel, filepath.Join(dir, "etc", "up")) // ../../outside/secret
	symlink(t, "../../../../../../etc/secret", filepath.Join(dir, "etc", "deep"))
	for p, want := range map[string]string{
		"../../../etc/secret":  "inside",
		"etc/../../etc/secret": "inside",
		"etc/deep":             "inside", // the ".."s stop at the root
	} {
		got, err := read(t, r, p)
		if err != nil || got != want {
			t.Errorf("read %s: %q, %v; want %q", p, got, err, want)
		}
	}
	// ../../outside/secret from /etc is /outside/secret inside the root: missing.
	if got, err := read(t, r, "etc/up"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("read etc/up (-> %s): %q, %v; want ENOENT", rel, got, err)
	}
}

// An absolute symlink starts from the root, never from the host's "/".
func TestOpenAbsoluteSymlinkStaysInside(t *testing.T) {
	r, dir, outside := tree(t)
	symlink(t, filepath.Join(outside, "secret"), filepath.Join(dir, "host"))
	symlink(t, "/etc/secret", filepath.Join(dir, "abs"))
	symlink(t, "/", filepath.Join(dir, "slash"))
	if got, err := read(t, r, "host"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("read host (-> %s): %q, %v; want ENOENT", filepath.Join(outside, "secret"), got, err)
	}
	for _, p := range []string{"abs", "slash/etc/secret", "/slash/slash/abs", "/etc/secret"} {
		if got, err := read(t, r, p); err != nil || got != "inside" {
			t.Errorf("read %s: %q, %v; want %q", p, got, err, "inside")
		}
	}
	fd, err := r.OpenPath("slash/..")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if !same(t, fd, dir) {
		t.Error("slash/.. is not the root")
	}
}

func TestOpenSymlinkLoop(t *testing.T) {
	r, dir, _ := tree(t)
	symlink(t, "b", filepath.Join(dir, "a"))
	symlink(t, "/a", filepath.Join(dir, "b"))
	symlink(t, "self/x", filepath.Join(dir, "self"))
	for _, p := range []string{"a", "b/c", "self"} {
		if _, err := r.Open(p, unix.O_RDONLY); !errors.Is(err, unix.ELOOP) {
			t.Errorf("open %s: %v, want ELOOP", p, err)
		}
		if _, err := r.MkdirAll(p+"/d", 0o755); !errors.Is(err, unix.ELOOP) {
			t.Errorf("mkdir %s/d: %v, want ELOOP", p, err)
		}
		if _, err := r.MkfileAll(p+"/f", 0o644); !errors.Is(err, unix.ELOOP) {
			t.Errorf("make file %s/f: %v, want ELOOP", p, err)
		}
	}
	// A link itself is reached without following it.
	if typ, err := r.Lstat("a"); err != nil || typ != unix.S_IFLNK {
		t.Errorf("lstat a: %o, %v", typ, err)
	}
}

// /proc's magic links jump to whatever they name, so they are refused: here with
// the host's "/" as the root, where a magic link would reach only what is inside
// anyway, and where the kernel would otherwise follow it.
func TestOpenRefusesMagicLinks(t *testing.T) {
	r, err := Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range []string{
		"/proc/self/root/etc",
		"/proc/self/cwd",
		"/proc/self/fd/" + strconv.Itoa(int(f.Fd())),
		"/proc/self/exe",
	} {
		fd, err := r.Open(p, unix.O_PATH)
		if err == nil {
			unix.Close(fd)
		}
		if !errors.Is(err, unix.ELOOP) {
			t.Errorf("open %s: %v, want ELOOP", p, err)
		}
	}
	// The link itself (a mask, a check) is reached without following it.
	fd, err := r.Open("/proc/self/root", unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		t.Fatalf("open /proc/self/root itself: %v", err)
	}
	unix.Close(fd)
}

// OpenIn adds further RESOLVE_* flags; the confinement stays.
func TestOpenInNoXDev(t *testing.T) {
	r, err := Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := OpenIn(r.Fd(), "/proc/self/stat", unix.O_RDONLY, unix.RESOLVE_NO_XDEV); !errors.Is(err, unix.EXDEV) {
		t.Errorf("open across the /proc mount: %v, want EXDEV", err)
	}
	fd, err := OpenIn(r.Fd(), "/proc/self/stat", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("open /proc/self/stat: %v", err)
	}
	unix.Close(fd)
	if _, err := OpenIn(r.Fd(), "/proc/self/root/etc", unix.O_PATH, unix.RESOLVE_NO_XDEV); err == nil {
		t.Error("a magic link was followed with more flags given")
	}
}

// MkdirAll makes a dangling symlink's target inside the root, as runc does, and
// never outside.
func TestMkdirAllThroughSymlinks(t *testing.T) {
	r, dir, outside := tree(t)
	symlink(t, filepath.Join(outside, "made"), filepath.Join(dir, "abs"))
	symlink(t, "../../../../outside/rel", filepath.Join(dir, "etc", "rel"))
	symlink(t, "/etc", filepath.Join(dir, "etclink"))
	for p, want := range map[string]string{
		"abs/sub":      filepath.Join(dir, outside, "made", "sub"),
		"etc/rel/sub":  filepath.Join(dir, "outside", "rel", "sub"),
		"etclink/x/y":  filepath.Join(dir, "etc", "x", "y"),
		"../../a/./b/": filepath.Join(dir, "a", "b"),
	} {
		fd, err := r.MkdirAll(p, 0o755)
		if err != nil {
			t.Errorf("mkdir %s: %v", p, err)
			continue
		}
		if !same(t, fd, want) {
			t.Errorf("mkdir %s: not %s", p, want)
		}
		unix.Close(fd)
	}
	ents, err := os.ReadDir(outside)
	if err != nil || len(ents) != 1 {
		t.Errorf("outside holds %v (%v), want only its secret", ents, err)
	}
	// A component that is a file is not a directory.
	if _, err := r.MkdirAll("etc/secret/x", 0o755); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("mkdir under a file: %v, want ENOTDIR", err)
	}
}

func TestMkfileAllThroughSymlinks(t *testing.T) {
	r, dir, outside := tree(t)
	symlink(t, filepath.Join(outside, "file"), filepath.Join(dir, "abs"))
	symlink(t, "../../outside/file2", filepath.Join(dir, "etc", "rel"))
	for p, want := range map[string]string{
		"abs":          filepath.Join(dir, outside, "file"),
		"etc/rel":      filepath.Join(dir, "outside", "file2"),
		"new/dir/file": filepath.Join(dir, "new", "dir", "file"),
		"etc/secret":   filepath.Join(dir, "etc", "secret"), // there already: kept
	} {
		fd, err := r.MkfileAll(p, 0o600)
		if err != nil {
			t.Errorf("make file %s: %v", p, err)
			continue
		}
		if !same(t, fd, want) {
			t.Errorf("make file %s: not %s", p, want)
		}
		unix.Close(fd)
	}
	if got, err := read(t, r, "etc/secret"); err != nil || got != "inside" {
		t.Errorf("an existing file changed: %q %v", got, err)
	}
	ents, err := os.ReadDir(outside)
	if err != nil || len(ents) != 1 {
		t.Errorf("outside holds %v (%v), want only its secret", ents, err)
	}
}

func TestReadlink(t *testing.T) {
	_, dir, _ := tree(t)
	symlink(t, "../x y/z", filepath.Join(dir, "l"))
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	if got, err := Readlink(d, "l"); err != nil || got != "../x y/z" {
		t.Errorf("readlink: %q %v", got, err)
	}
	l, err := unix.Openat(d, "l", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(l)
	if got, err := Readlink(l, ""); err != nil || got != "../x y/z" {
		t.Errorf("readlink of the link's own descriptor: %q %v", got, err)
	}
	if _, err := Readlink(d, "etc"); !errors.Is(err, unix.EINVAL) {
		t.Errorf("readlink of a directory: %v, want EINVAL", err)
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"": ".", "/": ".", ".": ".", "..": ".", "/../..": ".",
		"/etc/passwd": "etc/passwd", "a//b/./c/": "a/b/c", "a/../../b": "b",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}
