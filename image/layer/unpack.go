// Package layer turns layer tarballs into directories and directories back into
// layer tarballs, in overlayfs's format: a whiteout is a character device 0/0 and an
// opaque directory carries the xattr trusted.overlay.opaque=y.
//
// Unpacking is confined to the target directory by file descriptor. Every path of
// the tar is resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) below a
// descriptor of the target (internal/fsroot), and the last component is created with mkdirat,
// symlinkat, linkat, mknodat or openat(O_NOFOLLOW|O_EXCL) relative to its parent's
// descriptor. A symlink in the tree can therefore point anywhere as data, but the
// unpacker itself never follows it out of the target.
//
// Policy for hostile input (each refused with an error, nothing written outside):
//   - a name with a ".." component; a leading "/" is dropped (kept inside)
//   - an entry for the root itself that is not a directory (a symlink named "." or "/")
//   - a hardlink whose target is not an earlier entry of the same layer
//   - a whiteout naming "", "." or ".."
//   - an xattr trusted.overlay.* (it would steer overlayfs); security.capability is
//     kept, since images such as iputils rely on file capabilities and the container's
//     bounding set still limits what they grant
//   - more than Limits.MaxBytes of uncompressed tar or Limits.MaxEntries entries
package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hullproject/hull/internal/fsroot"
	"golang.org/x/sys/unix"
)

// Whiteout prefixes of the OCI layer format.
const (
	WhiteoutPrefix = ".wh."
	WhiteoutOpaque = ".wh..wh..opq"
	// OpaqueXattr marks an overlayfs directory as opaque.
	OpaqueXattr = "trusted.overlay.opaque"
)

// Limits bound what one layer may unpack to. A decompression bomb stops at the first
// limit reached; memory stays bounded because the tar is streamed.
type Limits struct {
	MaxBytes   int64 // uncompressed tar stream bytes; default 64 GiB
	MaxEntries int   // tar entries; default 4 million
}

// DefaultLimits are generous enough for any real image.
var DefaultLimits = Limits{MaxBytes: 64 << 30, MaxEntries: 4 << 20}

// ErrLimit is returned when a layer exceeds its Limits.
var ErrLimit = errors.New("layer exceeds unpack limit")

// Stats describe an unpacked layer.
type Stats struct {
	Bytes   int64 // uncompressed tar bytes read
	Entries int
}

type countReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		return n, fmt.Errorf("%w: more than %d bytes", ErrLimit, c.limit)
	}
	return n, err
}

type unpacker struct {
	root  *fsroot.Root // the target directory
	owner bool
	merge bool
	dirs  []dirTime
}

type dirTime struct {
	name  string
	atime time.Time
	mtime time.Time
}

// Apply unpacks the uncompressed layer tar r into dir, which must exist, keeping
// whiteouts as overlayfs whiteouts.
func Apply(dir string, r io.Reader, lim Limits) (Stats, error) {
	return apply(dir, r, lim, false)
}

// ApplyMerge unpacks r onto the tree in dir as if mounted on top of it: whiteouts
// delete what they name and an opaque directory loses its earlier contents. The copying
// snapshotter builds a rootfs with it.
func ApplyMerge(dir string, r io.Reader, lim Limits) (Stats, error) {
	return apply(dir, r, lim, true)
}

func apply(dir string, r io.Reader, lim Limits, merge bool) (Stats, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultLimits.MaxBytes
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultLimits.MaxEntries
	}
	root, err := fsroot.Open(dir)
	if err != nil {
		return Stats{}, err
	}
	defer root.Close()
	u := &unpacker{root: root, owner: os.Geteuid() == 0, merge: merge}
	cr := &countReader{r: r, limit: lim.MaxBytes}
	tr := tar.NewReader(cr)
	var st Stats
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("read layer: %w", err)
		}
		st.Entries++
		if st.Entries > lim.MaxEntries {
			return st, fmt.Errorf("%w: more than %d entries", ErrLimit, lim.MaxEntries)
		}
		if err := u.entry(hdr, tr); err != nil {
			return st, fmt.Errorf("unpack %q: %w", hdr.Name, err)
		}
	}
	// Drain padding so the byte count and the caller's digest cover the whole stream.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return st, fmt.Errorf("read layer: %w", err)
	}
	st.Bytes = cr.n
	// Directory times last and deepest first: creating entries inside a directory
	// changes its mtime.
	sort.SliceStable(u.dirs, func(i, j int) bool { return len(u.dirs[i].name) > len(u.dirs[j].name) })
	for _, d := range u.dirs {
		fd, err := u.open(d.name, unix.O_PATH|unix.O_NOFOLLOW)
		if err != nil {
			return st, err
		}
		err = unix.UtimesNanoAt(fd, "", []unix.Timespec{ts(d.atime), ts(d.mtime)}, unix.AT_EMPTY_PATH)
		unix.Close(fd)
		if err != nil {
			return st, fmt.Errorf("set times of %s: %w", d.name, err)
		}
	}
	return st, nil
}

// Clean turns a tar name into a relative path inside the root, "" for the root itself.
func Clean(name string) (string, error) {
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("path %q leaves the layer", name)
		}
	}
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/"), nil
}

func ts(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Sec: 0, Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// open resolves rel inside the root.
func (u *unpacker) open(rel string, flags int) (int, error) {
	fd, err := u.root.Open(rel, flags)
	if err != nil {
		return -1, fmt.Errorf("open %s in layer: %w", rel, err)
	}
	return fd, nil
}

// parent opens (creating as needed) the directory holding rel, read-only so that
// fsetxattr works on it.
func (u *unpacker) parent(rel string) (int, error) {
	dir := path.Dir(rel)
	if dir == "." {
		dir = ""
	}
	fd, err := u.root.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("open %s in layer: %w", dir, err)
	}
	// Tars may omit parent directories: make them one component at a time.
	cur, err := u.root.Open(".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(dir, "/") {
		if err := unix.Mkdirat(cur, c, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(cur)
			return -1, fmt.Errorf("mkdir %s in layer: %w", c, err)
		}
		// Confined below cur, itself inside the root.
		next, err := fsroot.OpenIn(cur, c, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(cur)
		if err != nil {
			return -1, fmt.Errorf("open %s in layer: %w", c, err)
		}
		cur = next
	}
	return cur, nil
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := Clean(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("the layer root must be a directory")
		}
		// The root's own metadata is the engine's business, not the layer's.
		return nil
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.trusted.overlay.") {
			return fmt.Errorf("xattr %s is not allowed in a layer", strings.TrimPrefix(k, "SCHILY.xattr."))
		}
	}
	base := path.Base(rel)
	pfd, err := u.parent(rel)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	if strings.HasPrefix(base, WhiteoutPrefix) {
		return u.whiteout(pfd, base)
	}

	// A later entry replaces an earlier one, except that a directory over a
	// directory only updates the metadata.
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if !(hdr.Typeflag == tar.TypeDir && st.Mode&unix.S_IFMT == unix.S_IFDIR) {
			if err := removeAt(pfd, base); err != nil {
				return err
			}
		}
	}

	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir: %w", err)
		}
	case tar.TypeReg:
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		f := os.NewFile(uintptr(fd), base)
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
	case tar.TypeLink:
		target, err := Clean(hdr.Linkname)
		if err != nil {
			return err
		}
		if target == "" {
			return errors.New("hardlink to the layer root")
		}
		tfd, err := u.open(target, unix.O_PATH|unix.O_NOFOLLOW)
		if err != nil {
			return fmt.Errorf("hardlink target: %w", err)
		}
		// AT_EMPTY_PATH links the very inode we resolved inside the root.
		err = unix.Linkat(tfd, "", pfd, base, unix.AT_EMPTY_PATH)
		unix.Close(tfd)
		if err != nil {
			return fmt.Errorf("link: %w", err)
		}
		return nil // a hardlink shares its target's metadata
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, kind|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	return u.meta(pfd, base, hdr, mode)
}

// meta sets owner, mode, xattrs and times, in that order: chown clears setuid bits.
func (u *unpacker) meta(pfd int, base string, hdr *tar.Header, mode uint32) error {
	link := hdr.Typeflag == tar.TypeSymlink
	if u.owner {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if !link {
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := setXattrs(pfd, base, hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		rel, _ := Clean(hdr.Name)
		u.dirs = append(u.dirs, dirTime{name: rel, atime: hdr.AccessTime, mtime: hdr.ModTime})
		return nil
	}
	times := []unix.Timespec{ts(hdr.AccessTime), ts(hdr.ModTime)}
	if hdr.AccessTime.IsZero() {
		times[0] = ts(hdr.ModTime)
	}
	if err := unix.UtimesNanoAt(pfd, base, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func setXattrs(pfd int, base string, hdr *tar.Header) error {
	var keys []string
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	// The parent descriptor is confined and the last component is not followed by
	// lsetxattr, so the /proc path names exactly the entry just made.
	p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, base)
	for _, k := range keys {
		name := strings.TrimPrefix(k, "SCHILY.xattr.")
		if err := unix.Lsetxattr(p, name, []byte(hdr.PAXRecords[k]), 0); err != nil {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

func (u *unpacker) whiteout(pfd int, base string) error {
	if base == WhiteoutOpaque && u.merge {
		names, err := readNames(pfd)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := removeAt(pfd, n); err != nil {
				return err
			}
		}
		return nil
	}
	if base == WhiteoutOpaque {
		if err := unix.Fsetxattr(pfd, OpaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("mark opaque: %w", err)
		}
		return nil
	}
	name := strings.TrimPrefix(base, WhiteoutPrefix)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, WhiteoutPrefix) {
		return fmt.Errorf("bad whiteout %q", base)
	}
	if err := removeAt(pfd, name); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if u.merge {
		return nil
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("whiteout: %w", err)
	}
	return nil
}

// removeAt removes name below the directory pfd, recursively, without following
// symlinks.
func removeAt(pfd int, name string) error {
	err := unix.Unlinkat(pfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	d := os.NewFile(uintptr(fd), name)
	names, err := d.Readdirnames(-1)
	if err != nil {
		d.Close()
		return fmt.Errorf("remove %s: %w", name, err)
	}
	for _, n := range names {
		if err := removeAt(fd, n); err != nil {
			d.Close()
			return err
		}
	}
	d.Close()
	if err := unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}
