package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/hullproject/hull/internal/fsroot"
	"golang.org/x/sys/unix"
)

// COPY and ADD in two passes: plan lists what a copy will write (every source entry
// and its destination) and hashes it for the cache key; apply writes it into the
// step's snapshot. Both passes work on descriptors: the source tree (the context, a
// stage's or an image's rootfs) and the destination (the snapshot's rootfs) are
// fsroot roots, every lookup below them is confined, and the last component of a
// path is never followed (O_NOFOLLOW, *at calls on the resolved parent). A regular
// file is the only kind ever opened for reading, so a device or FIFO in a hostile
// context is copied as a node, never read; a socket is left out.

// tree is a source of COPY: a root, and for the context its .dockerignore.
type tree struct {
	root *fsroot.Root
	ctx  *Context // nil: nothing is ignored
}

func (t *tree) ignored(rel string) bool { return t.ctx != nil && t.ctx.ignored(rel) }

// copyItem is one entry a copy writes.
type copyItem struct {
	src  string // path in the source tree; "" for a file on the host (srcFile)
	file *os.File
	dst  string // path in the destination root, relative and clean
	st   unix.Stat_t
	link string // symlink target
	// dirOwn is set on a directory the copy makes from a source directory, whose
	// metadata it takes once its contents are written.
	dirOwn bool
}

// copyOpts are COPY's and ADD's flags, judged.
type copyOpts struct {
	chown    *[2]int // uid, gid
	chmod    *uint32
	noIgnore bool
}

// copyPlan is what one COPY writes, in order: parents before their entries.
type copyPlan struct {
	items []copyItem
	// mkdirs are destination directories to make first (the destination itself).
	mkdirs []string
}

// hasGlob tells whether a source has filepath.Match's metacharacters.
func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[\\") }

// glob expands the source pattern into the paths of the tree it names, sorted.
// Matches that .dockerignore leaves out are not found.
func (t *tree) glob(pattern string) ([]string, error) {
	rel := cleanRel(pattern)
	if !hasGlob(rel) {
		if rel != "" && t.ignored(rel) {
			return nil, nil
		}
		if _, err := t.root.Lstat(rel); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				return nil, nil
			}
			return nil, err
		}
		return []string{rel}, nil
	}
	cur := []string{""}
	for _, comp := range strings.Split(rel, "/") {
		var next []string
		for _, dir := range cur {
			if !hasGlob(comp) {
				p := path.Join(dir, comp)
				if _, err := t.root.Lstat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			names, err := t.readDir(dir)
			if err != nil {
				continue // not a directory: no match below it
			}
			for _, n := range names {
				ok, err := path.Match(comp, n)
				if err != nil {
					return nil, fmt.Errorf("source %q: %w", pattern, err)
				}
				if ok {
					next = append(next, path.Join(dir, n))
				}
			}
		}
		cur = next
	}
	var out []string
	for _, p := range cur {
		if !t.ignored(p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// readDir lists the directory rel of the tree (not following a final symlink).
func (t *tree) readDir(rel string) ([]string, error) {
	fd, err := t.root.Open(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// statIn stats rel in the tree; follow resolves a final symlink (inside the tree).
func (t *tree) stat(rel string, follow bool) (unix.Stat_t, error) {
	flags := unix.O_PATH
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	var st unix.Stat_t
	fd, err := t.root.Open(rel, flags)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	err = unix.Fstat(fd, &st)
	return st, err
}

// planCopy plans the copy of sources (patterns in t) to dest (absolute, in the
// destination root). Docker's rules: a directory's contents are copied, not the
// directory; several sources need a destination directory ending in "/"; a file goes
// to dest, or into it when dest ends in "/" or is a directory there already
// (destIsDir reports that).
func planCopy(t *tree, sources []string, dest string, destIsDir func(string) bool) (*copyPlan, error) {
	var matches []string
	for _, s := range sources {
		m, err := t.glob(s)
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			if hasGlob(s) {
				continue
			}
			return nil, fmt.Errorf("%q: not found", s)
		}
		matches = append(matches, m...)
	}
	if len(matches) == 0 {
		return nil, errors.New("no source files were specified")
	}
	dstRel := cleanRel(dest)
	intoDir := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.") || dstRel == ""
	if len(matches) > 1 && !intoDir {
		return nil, errors.New("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	if !intoDir && destIsDir(dstRel) {
		intoDir = true
	}
	p := &copyPlan{}
	for _, m := range matches {
		st, err := t.stat(m, true)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", m, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			p.mkdirs = append(p.mkdirs, dstRel)
			if err := p.walk(t, m, dstRel, true); err != nil {
				return nil, err
			}
			continue
		}
		to := dstRel
		if intoDir {
			to = path.Join(dstRel, path.Base(m))
			p.mkdirs = append(p.mkdirs, dstRel)
		} else {
			p.mkdirs = append(p.mkdirs, path.Dir(dstRel))
		}
		if to == "" || to == "." {
			return nil, fmt.Errorf("cannot copy %q onto the root", m)
		}
		item := copyItem{src: m, dst: to, st: st}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			// A source that names a symlink is followed (stat above, in the tree);
			// one that still is a link after that dangles.
			return nil, fmt.Errorf("%q: dangling symlink", m)
		}
		p.items = append(p.items, item)
	}
	return p, nil
}

// walk adds the contents of the source directory src to the plan below dst; the
// directory itself too, unless top (its contents go into an existing destination).
func (p *copyPlan) walk(t *tree, src, dst string, top bool) error {
	if !top {
		st, err := t.stat(src, false)
		if err != nil {
			return err
		}
		p.items = append(p.items, copyItem{src: src, dst: dst, st: st, dirOwn: true})
	}
	names, err := t.readDir(src)
	if err != nil {
		return fmt.Errorf("read %q: %w", src, err)
	}
	for _, n := range names {
		s, d := path.Join(src, n), path.Join(dst, n)
		if t.ignored(s) {
			// A directory left out may still hold an entry a "!" pattern keeps.
			if t.ctx == nil || t.ctx.ignore == nil || !t.ctx.ignore.Exclusions() {
				continue
			}
			if st, err := t.stat(s, false); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				continue
			}
			if err := p.walkIgnoredDir(t, s, d); err != nil {
				return err
			}
			continue
		}
		st, err := t.stat(s, false)
		if err != nil {
			return fmt.Errorf("stat %q: %w", s, err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := p.walk(t, s, d, false); err != nil {
				return err
			}
		case unix.S_IFSOCK:
			// sockets do not travel in images
		case unix.S_IFLNK:
			target, err := readlinkIn(t.root, s)
			if err != nil {
				return err
			}
			p.items = append(p.items, copyItem{src: s, dst: d, st: st, link: target})
		default:
			p.items = append(p.items, copyItem{src: s, dst: d, st: st})
		}
	}
	return nil
}

// walkIgnoredDir looks below a directory .dockerignore leaves out for entries a "!"
// pattern brings back, and copies those (with the directories above them).
func (p *copyPlan) walkIgnoredDir(t *tree, src, dst string) error {
	sub := &copyPlan{}
	names, err := t.readDir(src)
	if err != nil {
		return nil
	}
	for _, n := range names {
		s := path.Join(src, n)
		st, err := t.stat(s, false)
		if err != nil {
			continue
		}
		if t.ignored(s) {
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				if err := sub.walkIgnoredDir(t, s, path.Join(dst, n)); err != nil {
					return err
				}
			}
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := sub.walk(t, s, path.Join(dst, n), false); err != nil {
				return err
			}
			continue
		}
		item := copyItem{src: s, dst: path.Join(dst, n), st: st}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if item.link, err = readlinkIn(t.root, s); err != nil {
				return err
			}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			sub.items = append(sub.items, item)
		}
	}
	if len(sub.items) == 0 {
		return nil
	}
	st, err := t.stat(src, false)
	if err != nil {
		return err
	}
	p.items = append(p.items, copyItem{src: src, dst: dst, st: st, dirOwn: true})
	p.items = append(p.items, sub.items...)
	return nil
}

func readlinkIn(root *fsroot.Root, rel string) (string, error) {
	fd, err := root.Open(rel, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	return fsroot.Readlink(fd, "")
}

// digest hashes what the plan copies, for the cache key: each entry's destination,
// type, mode, size, link target, device and content (not times nor owners: COPY
// sets the owner, and BuildKit's cache ignores times too).
func (p *copyPlan) digest(t *tree) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "mkdirs %q\n", p.mkdirs)
	for _, it := range p.items {
		fmt.Fprintf(h, "%q %o %d %q %d\n", it.dst, it.st.Mode, it.st.Size, it.link, it.st.Rdev)
		if it.st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		f, err := it.open(t)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, io.LimitReader(f, it.st.Size))
		f.Close()
		if err != nil {
			return "", fmt.Errorf("read %q: %w", it.src, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// open opens a regular file of the plan for reading, never following a symlink
// planted in its place since the plan was made.
func (it *copyItem) open(t *tree) (*os.File, error) {
	if it.file != nil {
		if _, err := it.file.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		fd, err := unix.Dup(int(it.file.Fd()))
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), it.file.Name()), nil
	}
	// The top-level source may be a symlink the plan followed (in the tree); below
	// it nothing is followed.
	flags := unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_NOFOLLOW
	fd, err := t.root.Open(it.src, flags)
	if errors.Is(err, unix.ELOOP) {
		fd, err = t.root.Open(it.src, flags&^unix.O_NOFOLLOW)
	}
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", it.src, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("%q changed while the build read it", it.src)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), it.src), nil
}

// applyCopy writes the plan into the destination root.
func applyCopy(t *tree, p *copyPlan, dst *fsroot.Root, o copyOpts) error {
	uid, gid := 0, 0
	if o.chown != nil {
		uid, gid = o.chown[0], o.chown[1]
	}
	w := &copyWriter{dst: dst, uid: uid, gid: gid, chmod: o.chmod, links: map[[2]uint64]string{}, parents: map[string]int{}}
	defer w.close()
	for _, d := range p.mkdirs {
		if err := w.mkdirAll(d); err != nil {
			return err
		}
	}
	var dirs []copyItem
	for _, it := range p.items {
		if err := w.write(t, it); err != nil {
			return fmt.Errorf("copy %q to /%s: %w", orSource(it), it.dst, err)
		}
		if it.dirOwn {
			dirs = append(dirs, it)
		}
	}
	// Directory times last, deepest first: writing into a directory changes them.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		pfd, base, err := w.parent(d.dst)
		if err != nil {
			return err
		}
		if err := unix.UtimesNanoAt(pfd, base, []unix.Timespec{d.st.Atim, d.st.Mtim}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("set times of /%s: %w", d.dst, err)
		}
	}
	return nil
}

func orSource(it copyItem) string {
	if it.src == "" && it.file != nil {
		return it.file.Name()
	}
	return it.src
}

type copyWriter struct {
	dst      *fsroot.Root
	uid, gid int
	chmod    *uint32
	links    map[[2]uint64]string
	parents  map[string]int // open directory descriptors by destination path
}

func (w *copyWriter) close() {
	for _, fd := range w.parents {
		unix.Close(fd)
	}
}

// mkdirAll makes the destination directory rel and its parents (a symlink on the
// way resolves inside the root); the ones it makes belong to the copy's owner.
func (w *copyWriter) mkdirAll(rel string) error {
	if rel == "" || rel == "." {
		return nil
	}
	if fd, err := w.dst.Open(rel, unix.O_PATH|unix.O_DIRECTORY); err == nil {
		unix.Close(fd)
		return nil
	}
	if err := w.mkdirAll(path.Dir(rel)); err != nil {
		return err
	}
	pfd, base, err := w.parent(rel)
	if err != nil {
		return err
	}
	if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("mkdir /%s: %w", rel, err)
	}
	if err := unix.Fchownat(pfd, base, w.uid, w.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown /%s: %w", rel, err)
	}
	// A dangling symlink in the way makes mkdirat fail with EEXIST: then the
	// directory must exist now, resolved inside the root, or the copy fails.
	fd, err := w.dst.Open(rel, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("mkdir /%s: %w", rel, err)
	}
	unix.Close(fd)
	return nil
}

// parent returns a descriptor of the directory holding rel in the destination (kept
// open for the next entries) and rel's last component.
func (w *copyWriter) parent(rel string) (int, string, error) {
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if fd, ok := w.parents[dir]; ok {
		return fd, base, nil
	}
	if len(w.parents) > 64 {
		w.close()
		clear(w.parents)
	}
	fd, err := w.dst.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return -1, "", fmt.Errorf("open /%s: %w", dir, err)
	}
	w.parents[dir] = fd
	return fd, base, nil
}

func (w *copyWriter) write(t *tree, it copyItem) error {
	pfd, base, err := w.parent(it.dst)
	if err != nil {
		return err
	}
	typ := it.st.Mode & unix.S_IFMT
	// What is in the way goes, except a directory that a directory merges into.
	var old unix.Stat_t
	if err := unix.Fstatat(pfd, base, &old, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		oldDir := old.Mode&unix.S_IFMT == unix.S_IFDIR
		switch {
		case oldDir && typ == unix.S_IFDIR:
		case oldDir:
			return errors.New("cannot replace a directory with a non-directory")
		default:
			if err := unix.Unlinkat(pfd, base, 0); err != nil {
				return err
			}
		}
	}
	mode := it.st.Mode & 0o7777
	if w.chmod != nil {
		mode = *w.chmod
	}
	if typ != unix.S_IFDIR && it.st.Nlink > 1 && it.file == nil {
		key := [2]uint64{it.st.Dev, it.st.Ino}
		if first, ok := w.links[key]; ok {
			ffd, err := w.dst.Open(first, unix.O_PATH|unix.O_NOFOLLOW)
			if err != nil {
				return err
			}
			// AT_EMPTY_PATH links the inode resolved inside the root.
			err = unix.Linkat(ffd, "", pfd, base, unix.AT_EMPTY_PATH)
			unix.Close(ffd)
			return err
		}
		w.links[key] = it.dst
	}
	switch typ {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		// A directory is opened (not followed) before it is changed: a symlink in
		// its place would have been removed above.
		if err := unix.Fchownat(pfd, base, w.uid, w.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		return unix.Fchmodat(pfd, base, mode, 0)
	case unix.S_IFREG:
		src, err := it.open(t)
		if err != nil {
			return err
		}
		defer src.Close()
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		n, err := io.Copy(f, io.LimitReader(src, it.st.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if n != it.st.Size {
			return fmt.Errorf("%q changed while the build read it", orSource(it))
		}
	case unix.S_IFLNK:
		if err := unix.Symlinkat(it.link, pfd, base); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if err := unix.Mknodat(pfd, base, typ|0o600, int(it.st.Rdev)); err != nil {
			return err
		}
	default:
		return nil
	}
	// Owner first: chown clears the set-id bits chmod sets.
	if err := unix.Fchownat(pfd, base, w.uid, w.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if typ != unix.S_IFLNK {
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return err
		}
	}
	return unix.UtimesNanoAt(pfd, base, []unix.Timespec{it.st.Atim, it.st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}
