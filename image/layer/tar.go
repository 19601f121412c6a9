package layer

import (
	"archive/tar"
	"bytes"
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

// WriteOptions tune Write.
type WriteOptions struct {
	// Overlay converts overlayfs whiteouts (char 0/0) to ".wh." entries and opaque
	// directories to ".wh..wh..opq" entries, as needed for an overlay upper dir.
	Overlay bool
}

// Write writes the tree below dir as a layer tar to w: entries sorted by name, times
// kept to the nanosecond (PAX), hardlinks as links to the first name, xattrs kept
// except trusted.overlay.*. The tree is walked by descriptor and never followed
// through a symlink, so a container's upper dir is safe to read.
func Write(dir string, w io.Writer, opt WriteOptions) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	tw := tar.NewWriter(w)
	wr := &writer{tw: tw, opt: opt, links: map[[2]uint64]string{}}
	err = wr.dir(fd, "")
	unix.Close(fd)
	if err != nil {
		return err
	}
	return tw.Close()
}

type writer struct {
	tw    *tar.Writer
	opt   WriteOptions
	links map[[2]uint64]string
}

func (wr *writer) dir(fd int, rel string) error {
	names, err := readNames(fd)
	if err != nil {
		return fmt.Errorf("read dir %s: %w", orDot(rel), err)
	}
	sort.Strings(names)
	if wr.opt.Overlay && rel != "" {
		if v, _ := getXattr(fd, OpaqueXattr); string(v) == "y" {
			hdr := &tar.Header{Name: path.Join(rel, WhiteoutOpaque), Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX}
			if err := wr.tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
	}
	for _, n := range names {
		if err := wr.entry(fd, rel, n); err != nil {
			return err
		}
	}
	return nil
}

func readNames(fd int) ([]string, error) {
	// Duplicate so closing the *os.File leaves fd open for the caller.
	nfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(nfd), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

func (wr *writer) entry(pfd int, prel, name string) error {
	rel := path.Join(prel, name)
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", rel, err)
	}
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
		Format:  tar.FormatPAX,
	}
	typ := st.Mode & unix.S_IFMT
	if wr.opt.Overlay && typ == unix.S_IFCHR && st.Rdev == 0 {
		hdr = &tar.Header{Name: path.Join(prel, WhiteoutPrefix+name), Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX}
		return wr.tw.WriteHeader(hdr)
	}
	if err := wr.xattrs(pfd, name, hdr); err != nil {
		return fmt.Errorf("xattrs of %s: %w", rel, err)
	}
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := wr.links[key]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			hdr.PAXRecords = nil
			return wr.tw.WriteHeader(hdr)
		}
		wr.links[key] = rel
	}
	switch typ {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if err := wr.tw.WriteHeader(hdr); err != nil {
			return err
		}
		fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", rel, err)
		}
		defer unix.Close(fd)
		return wr.dir(fd, rel)
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		fd, err := unix.Openat(pfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", rel, err)
		}
		f := os.NewFile(uintptr(fd), rel)
		defer f.Close()
		if err := wr.tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.Copy(wr.tw, io.LimitReader(f, st.Size))
		if err != nil {
			return fmt.Errorf("read %s: %w", rel, err)
		}
		if n != st.Size {
			return fmt.Errorf("read %s: file changed while writing the layer", rel)
		}
		return nil
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		target, err := fsroot.Readlink(pfd, name)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", rel, err)
		}
		hdr.Linkname = target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if typ == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFSOCK:
		return nil // sockets do not travel in layers
	default:
		return fmt.Errorf("%s: unsupported file type %o", rel, typ)
	}
	return wr.tw.WriteHeader(hdr)
}

func (wr *writer) xattrs(pfd int, name string, hdr *tar.Header) error {
	p := fmt.Sprintf("/proc/self/fd/%d/%s", pfd, name)
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	for _, k := range strings.Split(string(buf[:n]), "\x00") {
		if k == "" || strings.HasPrefix(k, "trusted.overlay.") {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, k, v)
		if err != nil {
			return err
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = string(v[:m])
	}
	return nil
}

// getXattr reads key of the directory fd itself.
func getXattr(fd int, key string) ([]byte, error) {
	v := make([]byte, 256)
	n, err := unix.Fgetxattr(fd, key, v)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(v[:n]), nil
}
