package spec

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/hullproject/hull/internal/fsroot"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// openInRoot opens name inside the directory tree rootfs as if rootfs were "/": every
// symlink, absolute or "..", is resolved inside it (fsroot), so an image's
// /etc/passwd that links to the host's /etc/shadow reads nothing of the host; nor
// does the lookup cross a mount point (RESOLVE_NO_XDEV). O_NONBLOCK: opening a FIFO
// (or a device) an image put there would otherwise wait for a writer forever;
// readEtc reads regular files only.
func openInRoot(rootfs, name string) (*os.File, error) {
	root, err := fsroot.Open(rootfs)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fd, err := fsroot.OpenIn(root.Fd(), name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, unix.RESOLVE_NO_XDEV)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// maxEtcFile bounds how much of an image's /etc/passwd or /etc/group is read.
const maxEtcFile = 4 << 20

// readEtc calls fn with the fields of each line of the image's /etc/<file>; a missing
// file has no lines.
func readEtc(rootfs, file string, fn func(f []string) bool) error {
	f, err := openInRoot(rootfs, "/etc/"+file)
	if err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return fmt.Errorf("read /etc/%s of the image: %w", file, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxEtcFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !fn(strings.Split(line, ":")) {
			break
		}
	}
	return nil
}

// UserError is ResolveUser's refusal of the user or of a group: Field is "User"
// (--user, a Dockerfile's USER) or "GroupAdd" (--group-add).
type UserError struct {
	Field string
	Err   error
}

func (e *UserError) Error() string { return e.Err.Error() }
func (e *UserError) Unwrap() error { return e.Err }

// ResolveUser turns Docker's --user (uid, name, uid:gid, name:group) into ids, with
// the user's supplementary groups and those of --group-add (names or numbers), from
// the image's /etc/passwd and /etc/group below rootfs (read confined to it). A
// numeric user or group need not exist (gid 0 then for a user, as Docker does). A
// user or group it cannot find is a *UserError.
func ResolveUser(rootfs, user string, groupAdd []string) (specs.User, error) {
	var u specs.User
	if user == "" {
		user = "0"
	}
	name, group, hasGroup := strings.Cut(user, ":")
	uidKnown := false
	userName := ""
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		u.UID = uint32(n)
		uidKnown = true
	}
	found := false
	err := readEtc(rootfs, "passwd", func(f []string) bool {
		if len(f) < 4 {
			return true
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return true
		}
		if (uidKnown && uint32(uid) == u.UID) || (!uidKnown && f[0] == name) {
			u.UID, u.GID, userName, found = uint32(uid), uint32(gid), f[0], true
			return false
		}
		return true
	})
	if err != nil {
		return u, err
	}
	if !uidKnown && !found {
		return u, &UserError{Field: "User", Err: fmt.Errorf("unable to find user %s: no matching entries in passwd file", name)}
	}
	if hasGroup {
		if u.GID, err = resolveGroup(rootfs, group); err != nil {
			return u, &UserError{Field: "User", Err: err}
		}
	}
	if userName != "" {
		err := readEtc(rootfs, "group", func(f []string) bool {
			if len(f) < 4 {
				return true
			}
			for _, m := range strings.Split(f[3], ",") {
				if m == userName {
					if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(gid) != u.GID {
						u.AdditionalGids = append(u.AdditionalGids, uint32(gid))
					}
				}
			}
			return true
		})
		if err != nil {
			return u, err
		}
	}
	for _, g := range groupAdd {
		gid, err := resolveGroup(rootfs, g)
		if err != nil {
			return u, &UserError{Field: "GroupAdd", Err: err}
		}
		if !slices.Contains(u.AdditionalGids, gid) {
			u.AdditionalGids = append(u.AdditionalGids, gid)
		}
	}
	return u, nil
}

// resolveGroup turns a group name or number into its gid, from the image's
// /etc/group for a name.
func resolveGroup(rootfs, group string) (uint32, error) {
	if n, err := strconv.ParseUint(group, 10, 32); err == nil {
		return uint32(n), nil
	}
	var gid uint32
	found := false
	if err := readEtc(rootfs, "group", func(f []string) bool {
		if len(f) >= 3 && f[0] == group {
			if n, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				gid, found = uint32(n), true
				return false
			}
		}
		return true
	}); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("unable to find group %s: no matching entries in group file", group)
	}
	return gid, nil
}

// HomeOf returns the home directory of uid from the image's /etc/passwd, or "/".
func HomeOf(rootfs string, uid uint32) string {
	home := "/"
	readEtc(rootfs, "passwd", func(f []string) bool {
		if len(f) >= 6 && f[2] == strconv.FormatUint(uint64(uid), 10) {
			home = f[5]
			return false
		}
		return true
	})
	return home
}
