package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"time"

	"github.com/hullproject/hull/internal/fsroot"
	"golang.org/x/sys/unix"
)

// WriteDiff writes, as a layer tar, what changed from the tree base to the tree
// upper: new and changed entries, and a whiteout for each entry removed. Files count
// as unchanged when type, mode, owner, size, mtime, link target, device and xattrs
// are equal. The copying snapshotter commits with it.
func WriteDiff(base, upper string, w io.Writer) error {
	bfd, err := unix.Open(base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", base, err)
	}
	defer unix.Close(bfd)
	nfd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", upper, err)
	}
	defer unix.Close(nfd)
	tw := tar.NewWriter(w)
	wr := &writer{tw: tw, links: map[[2]uint64]string{}}
	if err := wr.diffDir(bfd, nfd, ""); err != nil {
		return err
	}
	return tw.Close()
}

func (wr *writer) diffDir(bfd, nfd int, rel string) error {
	bnames, err := readNames(bfd)
	if err != nil {
		return err
	}
	nnames, err := readNames(nfd)
	if err != nil {
		return err
	}
	inNew := map[string]bool{}
	for _, n := range nnames {
		inNew[n] = true
	}
	var gone []string
	for _, n := range bnames {
		if !inNew[n] {
			gone = append(gone, n)
		}
	}
	sort.Strings(gone)
	for _, n := range gone {
		hdr := &tar.Header{Name: path.Join(rel, WhiteoutPrefix+n), Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX}
		if err := wr.tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	sort.Strings(nnames)
	for _, n := range nnames {
		var bst, nst unix.Stat_t
		if err := unix.Fstatat(nfd, n, &nst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		berr := unix.Fstatat(bfd, n, &bst, unix.AT_SYMLINK_NOFOLLOW)
		if berr != nil && !errors.Is(berr, unix.ENOENT) {
			return berr
		}
		bothDirs := berr == nil && bst.Mode&unix.S_IFMT == unix.S_IFDIR && nst.Mode&unix.S_IFMT == unix.S_IFDIR
		if berr == nil && !bothDirs && same(bfd, nfd, n, &bst, &nst) {
			continue
		}
		if !bothDirs {
			if err := wr.entry(nfd, rel, n); err != nil {
				return err
			}
			continue
		}
		p := path.Join(rel, n)
		if !same(bfd, nfd, n, &bst, &nst) {
			hdr := &tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: int64(nst.Mode & 0o7777), Uid: int(nst.Uid), Gid: int(nst.Gid),
				ModTime: time.Unix(nst.Mtim.Sec, nst.Mtim.Nsec), Format: tar.FormatPAX}
			if err := wr.xattrs(nfd, n, hdr); err != nil {
				return err
			}
			if err := wr.tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		cb, err := unix.Openat(bfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		cn, err := unix.Openat(nfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(cb)
			return err
		}
		err = wr.diffDir(cb, cn, p)
		unix.Close(cb)
		unix.Close(cn)
		if err != nil {
			return err
		}
	}
	return nil
}

func same(bfd, nfd int, name string, b, n *unix.Stat_t) bool {
	if b.Mode != n.Mode || b.Uid != n.Uid || b.Gid != n.Gid || b.Rdev != n.Rdev || b.Mtim != n.Mtim {
		return false
	}
	if b.Mode&unix.S_IFMT != unix.S_IFDIR && b.Size != n.Size {
		return false
	}
	if b.Mode&unix.S_IFMT == unix.S_IFLNK {
		x, _ := fsroot.Readlink(bfd, name)
		y, _ := fsroot.Readlink(nfd, name)
		if x != y {
			return false
		}
	}
	var hb, hn tar.Header
	wr := &writer{}
	wr.xattrs(bfd, name, &hb)
	wr.xattrs(nfd, name, &hn)
	if len(hb.PAXRecords) != len(hn.PAXRecords) {
		return false
	}
	for k, v := range hb.PAXRecords {
		if hn.PAXRecords[k] != v {
			return false
		}
	}
	return true
}
