package engine

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

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/image/layer"
	"github.com/hullproject/hull/internal/fsroot"
	"github.com/hullproject/hull/volume"
	"golang.org/x/sys/unix"
)

// `hull cp` copies between the host and a container's root filesystem, running or
// not: the snapshot's mount under the engine root (Engine.Rootfs), the tree that
// `hull export` reads. A path below one of the container's volumes or binds is
// the volume's or the bind source's, as docker's cp sees them, running or not
// (the path is matched by its words: a symlink in the container that leads into
// a volume is followed in the rootfs, and a copy of a directory above a volume
// takes the rootfs's tree beneath it). Its tmpfs mounts live only in its own
// mount namespace: a path below one is the rootfs's beneath it. A read-only
// volume or bind takes no copy, nor does the rootfs of a --read-only
// container (ErrReadOnly); its writable volumes do.
//
// The container's tree is the image's and the container's to shape, so no path into
// it is ever handed to the kernel as a joined string: every container-side path is
// resolved by openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) below a descriptor of
// the root (fsroot.Root), and everything below it is read and written relative to
// descriptors (layer.Write walks by fd without following symlinks, layer.Apply
// creates every entry with *at calls below an openat2-confined parent). A symlink
// in the container, absolute or with "..", therefore resolves inside the container
// however it was planted, even by a running container racing the copy.
//
// Both directions are a tar stream, as docker's: the source is archived under the
// name it gets at the destination, then unpacked into the destination's directory.

// CopyOptions tune a copy.
type CopyOptions struct {
	// FollowLink copies what a source symlink points to (cp -L), not the link.
	FollowLink bool
	// Archive keeps the owners of the source (cp -a); otherwise what lands in the
	// container belongs to root and what lands on the host to hull's user.
	Archive bool
}

// tree is one side of a copy: a container's root (confined) or the host's (paths
// resolved as usual: they are the user's own).
type tree struct {
	root    *fsroot.Root // nil: the host
	release func()       // ends the use of the container's rootfs (Engine.Rootfs)
	mounts  []treeMount  // the container's volumes and binds, deepest first
	write   bool         // the tree is copied into
	// rootReadOnly: copied into, but the rootfs is --read-only; its volumes
	// and binds may still take the copy, as docker's
	rootReadOnly bool
}

// ErrReadOnly is the refusal of a copy into a --read-only container's rootfs
// or into a read-only volume or bind.
var ErrReadOnly = errors.New("marked read-only")

// treeMount is a volume or bind of the container: its destination and its
// source, confined as the rootfs is.
type treeMount struct {
	dest     string
	root     *fsroot.Root
	readOnly bool
}

func (t tree) open(p string, flags int) (int, error) {
	if t.root != nil {
		clean := path.Clean("/" + p)
		for _, m := range t.mounts {
			rel, ok := strings.CutPrefix(clean, m.dest)
			if !ok || (rel != "" && rel[0] != '/') {
				continue
			}
			if t.write && m.readOnly {
				return -1, fmt.Errorf("mounted volume is %w", ErrReadOnly) // docker's words
			}
			if rel == "" {
				rel = "/"
			} else if strings.HasSuffix(p, "/") {
				rel += "/" // a trailing slash follows a final symlink
			}
			return m.root.Open(rel, flags)
		}
		if t.rootReadOnly {
			return -1, fmt.Errorf("container rootfs is %w", ErrReadOnly)
		}
		return t.root.Open(p, flags)
	}
	return unix.Open(p, flags|unix.O_CLOEXEC, 0)
}

func (t tree) stat(p string) (unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := t.open(p, unix.O_PATH)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	return st, unix.Fstat(fd, &st)
}

// containerTree opens a container's root for a copy (into it, with write); close
// it after.
func (e *Engine) containerTree(ref string, write bool) (tree, error) {
	c, err := e.Get(ref)
	if err != nil {
		return tree{}, err
	}
	dir, release, err := e.Rootfs(c.ID)
	if err != nil {
		return tree{}, err
	}
	r, err := fsroot.Open(dir)
	if err != nil {
		release()
		return tree{}, err
	}
	t := tree{root: r, release: release, write: write, rootReadOnly: write && c.HostConfig.ReadonlyRootfs}
	if err := e.treeMounts(c, &t); err != nil {
		t.close()
		return tree{}, err
	}
	return t, nil
}

// treeMounts opens the sources of c's volumes and directory binds for t.
func (e *Engine) treeMounts(c *Container, t *tree) error {
	var vs *volume.Store
	for _, m := range c.Mounts {
		src := m.Source
		switch m.Type {
		case volume.TypeVolume:
			if vs == nil {
				var err error
				if vs, err = e.Volumes(); err != nil {
					return err
				}
			}
			v, err := vs.Get(m.Source)
			if err != nil || v.Options["type"] != "" {
				// gone, or made with driver options: each container mounts
				// the device itself, its directory holds nothing of it
				continue
			}
			src = v.Mountpoint
		case volume.TypeBind:
		default:
			continue
		}
		if st, err := os.Stat(src); err != nil || !st.IsDir() {
			continue // a file's bind, or a source gone: the rootfs's
		}
		r, err := fsroot.Open(src)
		if err != nil {
			return err
		}
		t.mounts = append(t.mounts, treeMount{dest: m.Destination, root: r, readOnly: m.ReadOnly})
	}
	sort.SliceStable(t.mounts, func(i, j int) bool { return len(t.mounts[i].dest) > len(t.mounts[j].dest) })
	return nil
}

func (t tree) close() {
	for _, m := range t.mounts {
		m.root.Close()
	}
	if t.root != nil {
		t.root.Close() // first: an open descriptor would keep the mount busy
		t.release()
	}
}

// source opens what a copy reads: an O_PATH descriptor of src itself (a final
// symlink is the link unless follow), and whether to copy only a directory's
// contents (src ends in "/.", as cp's).
func (t tree) source(src string, follow bool) (fd int, contents bool, err error) {
	contents = strings.HasSuffix(src, "/.") || src == "."
	flags := unix.O_PATH
	if !follow && !strings.HasSuffix(src, "/") && !contents {
		flags |= unix.O_NOFOLLOW
	}
	fd, err = t.open(src, flags)
	if err != nil {
		return -1, false, fmt.Errorf("could not find the file %s: %w", src, err)
	}
	return fd, contents, nil
}

// baseName is the name src is copied under.
func baseName(src string) string {
	b := path.Base(path.Clean("/" + src))
	if b == "/" {
		return "rootfs"
	}
	return b
}

// archive writes the file behind the O_PATH descriptor fd as a tar to w, named
// name (a directory with its contents; with name "" only the contents). fix
// changes every header before it is written (owners).
func archive(fd int, name string, w io.Writer, fix func(*tar.Header) error) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	// /proc/self/fd/N reopens exactly the object resolved above; no path is
	// walked again.
	self := fmt.Sprintf("/proc/self/fd/%d", fd)
	tw := tar.NewWriter(w)
	if name != "" {
		// A duplicate: the *os.File closes what it holds.
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(dup), name)
		fi, err := f.Stat()
		f.Close()
		if err != nil {
			return err
		}
		link := ""
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if link, err = fsroot.Readlink(fd, ""); err != nil {
				return fmt.Errorf("readlink %s: %w", name, err)
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uname, hdr.Gname, hdr.Format = name, "", "", tar.FormatPAX
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if err := fix(hdr); err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			rf, err := os.Open(self)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, io.LimitReader(rf, hdr.Size))
			rf.Close()
			if err != nil {
				return err
			}
		}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(layer.Write(self, pw, layer.WriteOptions{})) }()
		err := retar(pr, tw, func(h *tar.Header) error {
			h.Name = path.Join(name, h.Name)
			if h.Typeflag == tar.TypeDir {
				h.Name += "/"
			}
			if h.Typeflag == tar.TypeLink {
				h.Linkname = path.Join(name, h.Linkname)
			}
			return fix(h)
		})
		pr.CloseWithError(err)
		if err != nil {
			return err
		}
	} else if name == "" {
		return errors.New("only a directory's contents can be copied with /.")
	}
	return tw.Close()
}

// retar copies the tar r into tw, changing each header with fix.
func retar(r io.Reader, tw *tar.Writer, fix func(*tar.Header) error) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fix(hdr); err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// owners returns the header fix of a copy: the whiteout names of the layer format
// are refused (unpacking would turn them into whiteouts), and without Archive the
// owner becomes uid:gid.
func owners(o CopyOptions, uid, gid int) func(*tar.Header) error {
	return func(h *tar.Header) error {
		if strings.HasPrefix(path.Base(h.Name), layer.WhiteoutPrefix) {
			return fmt.Errorf("cannot copy %s: names starting with %s are reserved", h.Name, layer.WhiteoutPrefix)
		}
		if !o.Archive {
			h.Uid, h.Gid = uid, gid
		}
		return nil
	}
}

// extract unpacks the tar r into the directory dir of t, every entry created
// below a descriptor of dir and confined to it.
func (t tree) extract(dir string, r io.Reader, fix func(*tar.Header) error) error {
	fd, err := t.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("destination directory %s: %w", dir, err)
	}
	defer unix.Close(fd)
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := retar(r, tw, fix)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	_, err = layer.Apply(fmt.Sprintf("/proc/self/fd/%d", fd), pr, layer.Limits{})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dir, err)
	}
	return nil
}

// destination works out, as docker's cp, where a source lands in dst: the
// directory to unpack into and the name the source gets there ("" to unpack a
// directory's contents straight into it).
func (t tree) destination(dst string, srcIsDir, contents bool, name string) (string, string, error) {
	slash := strings.HasSuffix(dst, "/") || strings.HasSuffix(dst, "/.")
	st, err := t.stat(dst)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		if contents {
			return dst, "", nil
		}
		return dst, name, nil
	case err == nil:
		if srcIsDir {
			return "", "", fmt.Errorf("cannot copy a directory to %s: not a directory", dst)
		}
		if slash {
			return "", "", fmt.Errorf("destination %s: not a directory", dst)
		}
	case errors.Is(err, unix.ENOENT):
		if slash && !srcIsDir {
			return "", "", fmt.Errorf("destination directory %s does not exist", dst)
		}
	default:
		return "", "", fmt.Errorf("destination %s: %w", dst, err)
	}
	clean := path.Clean(dst)
	return path.Dir(clean), path.Base(clean), nil
}

// copyTree copies src of from to dst of to.
func copyTree(from tree, src string, to tree, dst string, o CopyOptions, uid, gid int) error {
	fd, contents, err := from.source(src, o.FollowLink)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if contents && !isDir {
		return fmt.Errorf("%s: not a directory", src)
	}
	dir, name, err := to.destination(dst, isDir, contents, baseName(src))
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive(fd, name, pw, func(*tar.Header) error { return nil })) }()
	err = to.extract(dir, pr, owners(o, uid, gid))
	pr.CloseWithError(err)
	return err
}

// CopyFrom copies src of the container to dst on the host.
func (e *Engine) CopyFrom(ref, src, dst string, o CopyOptions) error {
	t, err := e.containerTree(ref, false)
	if err != nil {
		return err
	}
	defer t.close()
	return copyTree(t, src, tree{}, dst, o, os.Getuid(), os.Getgid())
}

// CopyTo copies src of the host to dst in the container.
func (e *Engine) CopyTo(src, ref, dst string, o CopyOptions) error {
	t, err := e.containerTree(ref, true)
	if err != nil {
		return err
	}
	defer t.close()
	return copyTree(tree{}, src, t, dst, o, 0, 0)
}

// ArchiveFrom writes src of the container to w as a tar, named after src's last
// component (or its contents, for a src ending in "/."), owners kept (cp ... -).
func (e *Engine) ArchiveFrom(ref, src string, w io.Writer, o CopyOptions) error {
	t, err := e.containerTree(ref, false)
	if err != nil {
		return err
	}
	defer t.close()
	fd, contents, err := t.source(src, o.FollowLink)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	name := baseName(src)
	if contents {
		name = ""
	}
	return archive(fd, name, w, func(*tar.Header) error { return nil })
}

// ExtractTo unpacks the tar r into the container's directory dst (cp - ...).
// The tar may be compressed with gzip or zstd, as docker's daemon takes it
// (Testcontainers sends its files gzipped).
func (e *Engine) ExtractTo(ref, dst string, r io.Reader, o CopyOptions) error {
	t, err := e.containerTree(ref, true)
	if err != nil {
		return err
	}
	defer t.close()
	if st, err := t.stat(dst); errors.Is(err, ErrReadOnly) {
		return err
	} else if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("destination %s must be a directory in the container", dst)
	}
	tr, err := image.Decompress(r)
	if err != nil {
		return err
	}
	defer tr.Close()
	return t.extract(dst, tr, owners(o, 0, 0))
}

// PathStat describes a path in a container, as docker's archive endpoints
// report it (X-Docker-Container-Path-Stat).
type PathStat struct {
	Name       string
	Size       int64
	Mode       os.FileMode
	Mtime      time.Time
	LinkTarget string // a symlink's target, made absolute in the container
}

// ErrNoSuchPath is returned by StatPath for a path the container lacks.
var ErrNoSuchPath = errors.New("no such file or directory")

// StatPath describes path in the container's root filesystem (a final
// symlink itself, not what it points to), confined to it as a copy is.
func (e *Engine) StatPath(ref, p string) (*PathStat, error) {
	t, err := e.containerTree(ref, false)
	if err != nil {
		return nil, err
	}
	defer t.close()
	fd, err := t.open(p, unix.O_PATH|unix.O_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchPath, p)
	}
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	out := &PathStat{Name: baseName(p), Size: st.Size, Mtime: time.Unix(st.Mtim.Unix()), Mode: os.FileMode(st.Mode & 0o777)}
	if p == "/" || path.Clean("/"+p) == "/" {
		out.Name = "/"
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		out.Mode |= os.ModeDir
	case unix.S_IFLNK:
		out.Mode |= os.ModeSymlink
		if target, err := fsroot.Readlink(fd, ""); err == nil {
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(path.Clean("/"+p)), target)
			}
			out.LinkTarget = target
		}
	case unix.S_IFCHR:
		out.Mode |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		out.Mode |= os.ModeDevice
	case unix.S_IFIFO:
		out.Mode |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		out.Mode |= os.ModeSocket
	}
	if st.Mode&unix.S_ISUID != 0 {
		out.Mode |= os.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		out.Mode |= os.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		out.Mode |= os.ModeSticky
	}
	return out, nil
}
