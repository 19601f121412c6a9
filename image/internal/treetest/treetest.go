// Package treetest describes a directory tree as text, so tests can compare trees
// exactly: type, mode, owner, times, sizes, contents, link targets, devices, xattrs.
package treetest

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Describe returns one line per entry below dir (not dir itself), sorted. Hardlinked
// files name the first path of their inode. Directory mtimes are included unless
// skipDirTimes is set.
func Describe(dir string, skipDirTimes bool) ([]string, error) {
	var out []string
	inodes := map[uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s mode=%o uid=%d gid=%d", rel, st.Mode, st.Uid, st.Gid)
		typ := st.Mode & unix.S_IFMT
		whiteout := typ == unix.S_IFCHR && st.Rdev == 0 // layers carry no whiteout metadata
		if (typ != unix.S_IFDIR || !skipDirTimes) && !whiteout {
			line += fmt.Sprintf(" mtime=%d.%09d", st.Mtim.Sec, st.Mtim.Nsec)
		}
		switch typ {
		case unix.S_IFREG:
			if first, ok := inodes[st.Ino]; ok && st.Nlink > 1 {
				line += " link=" + first
				break
			}
			inodes[st.Ino] = rel
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" size=%d sha=%x", len(data), sha256.Sum256(data))
		case unix.S_IFLNK:
			t, _ := os.Readlink(p)
			line += " -> " + t
		case unix.S_IFCHR, unix.S_IFBLK:
			line += fmt.Sprintf(" dev=%d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		buf := make([]byte, 4096)
		if n, err := unix.Llistxattr(p, buf); err == nil && n > 0 {
			keys := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
			sort.Strings(keys)
			for _, k := range keys {
				v := make([]byte, 4096)
				m, _ := unix.Lgetxattr(p, k, v)
				line += fmt.Sprintf(" %s=%q", k, v[:max(m, 0)])
			}
		}
		out = append(out, line)
		return nil
	})
	sort.Strings(out)
	return out, err
}
