package cgroups

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Finding a hierarchy's mount by reading /proc/self/mountinfo costs about a
// millisecond of kernel time per read on a host with a few thousand mounts (a node
// running many containers, each with its rootfs and volumes), and create and delete
// each did it once. The hierarchies are nearly always mounted where systemd and
// every distribution mount them, so conventionalMount looks there first and asks
// the kernel about that one mount with statmount(2) (Linux 6.8): its filesystem,
// the cgroup it shows (its root) and its superblock options (a v1 hierarchy's
// controllers). Only a mount that the mountinfo scan would have ranked best (a
// hierarchy's root, under /sys/fs/cgroup) is taken; anything else, or an older
// kernel, falls back to the scan.

// statmount(2) request mask bits and the kernel's struct statmount offsets
// (include/uapi/linux/mount.h); x/sys has only the call's number.
const (
	statmountSBBasic  = 0x1
	statmountMntRoot  = 0x8
	statmountMntPoint = 0x10
	statmountFSType   = 0x20
	statmountMntOpts  = 0x80

	smMask     = 8   // __u64 mask: what the kernel filled in
	smMntOpts  = 4   // __u32 offsets into str[] follow
	smFSType   = 36  //
	smMntRoot  = 104 //
	smMntPoint = 108 //
	smStr      = 512 // sizeof(struct statmount): str[] starts here
)

type mountFacts struct {
	point, root, fstype string
	opts                []string
}

// statmountPath describes the mount whose root is path; ok is false when path is
// not a mount's root, or the kernel cannot say (no statmount, no unique mount ids).
func statmountPath(path string) (mountFacts, bool) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_MNT_ID_UNIQUE, &stx); err != nil {
		return mountFacts{}, false
	}
	if stx.Mask&unix.STATX_MNT_ID_UNIQUE == 0 || stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return mountFacts{}, false
	}
	// struct mnt_id_req (MNT_ID_REQ_SIZE_VER0): size, spare, mnt_id, param.
	var req [24]byte
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint64(req[8:], stx.Mnt_id)
	binary.NativeEndian.PutUint64(req[16:], statmountSBBasic|statmountMntRoot|statmountMntPoint|statmountFSType|statmountMntOpts)
	buf := make([]byte, 4096)
	_, _, e := unix.Syscall6(unix.SYS_STATMOUNT, uintptr(unsafe.Pointer(&req[0])), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
	if e != 0 {
		return mountFacts{}, false
	}
	// The options' bit stays clear when the superblock shows none (a cgroup2
	// mount without nsdelegate, say): then there are none.
	got := binary.NativeEndian.Uint64(buf[smMask:])
	if want := uint64(statmountMntRoot | statmountMntPoint | statmountFSType); got&want != want {
		return mountFacts{}, false
	}
	str := func(off int) string {
		s := buf[smStr+int(binary.NativeEndian.Uint32(buf[off:])):]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return string(s)
	}
	m := mountFacts{point: str(smMntPoint), root: str(smMntRoot), fstype: str(smFSType)}
	if got&statmountMntOpts != 0 {
		m.opts = strings.Split(str(smMntOpts), ",")
	}
	return m, true
}

// conventionalMount finds hierarchy h's mount at its usual place under
// /sys/fs/cgroup, as the best-ranked mount of cgroupMounts would be: a root
// ("/") of the hierarchy, under /sys/fs/cgroup. ok false: look in mountinfo.
func conventionalMount(h *hierarchy) (string, bool) {
	var candidates []string
	if h.v2() {
		candidates = []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}
	} else {
		candidates = []string{"/sys/fs/cgroup/" + strings.TrimPrefix(h.key, "name=")}
	}
	for _, c := range candidates {
		m, ok := statmountPath(c)
		if !ok {
			continue
		}
		if m.root != "/" || !strings.HasPrefix(m.point, "/sys/fs/cgroup") {
			return "", false
		}
		switch {
		case h.v2() && m.fstype == "cgroup2":
			return m.point, true
		case !h.v2() && m.fstype == "cgroup" && containsAll(m.opts, strings.Split(h.key, ",")):
			return m.point, true
		}
	}
	return "", false
}
