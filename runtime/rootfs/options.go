package rootfs

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Options is a mount's option list split the way the kernel takes it.
type Options struct {
	Flags       uintptr // MS_* flags for mount(2), without propagation
	Clear       uintptr // flags an option turned off explicitly ("rw", "suid", ...)
	Propagation []uintptr
	Data        string // what the filesystem parses ("size=64m,mode=755")
	Bind        bool
	Recursive   bool
	// RecSet and RecClear are MOUNT_ATTR_* bits to set and clear on the mount and
	// on every mount below it: the runtime-spec's (1.1) "rro", "rnosuid", ...
	// options. The plain ones ("ro", "nosuid") change the top mount alone, so a
	// read-only "rbind" keeps what is mounted below it as it was (runc's
	// reading, and what Kubernetes' non-recursive read-only mounts rely on).
	RecSet, RecClear uint64
	// IDMap asks for an id-mapped mount ("idmap"); RecursiveIDMap maps the mounts
	// below it too ("ridmap").
	IDMap, RecursiveIDMap bool
}

var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"defaults":      {false, 0},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"suid":          {true, unix.MS_NOSUID},
	"nosuid":        {false, unix.MS_NOSUID},
	"dev":           {true, unix.MS_NODEV},
	"nodev":         {false, unix.MS_NODEV},
	"exec":          {true, unix.MS_NOEXEC},
	"noexec":        {false, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"remount":       {false, unix.MS_REMOUNT},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"atime":         {true, unix.MS_NOATIME},
	"noatime":       {false, unix.MS_NOATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"silent":        {false, unix.MS_SILENT},
	"loud":          {true, unix.MS_SILENT},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
}

// recursiveOptions are the runtime-spec's recursive mount options, runc's list:
// each sets or clears one attribute on the whole tree with mount_setattr(2) and
// AT_RECURSIVE.
var recursiveOptions = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// RecursiveOptions lists the recursive mount options ParseOptions knows.
func RecursiveOptions() []string {
	out := make([]string, 0, len(recursiveOptions))
	for o := range recursiveOptions {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// Propagation parses one propagation word ("rslave", "private", ...).
func Propagation(word string) (uintptr, error) {
	if f, ok := propagationOptions[word]; ok {
		return f, nil
	}
	return 0, fmt.Errorf("unknown propagation %q", word)
}

// ParseOptions splits a mount's options into flags, propagation and data. Options the
// kernel's generic mount code does not know are the filesystem's, and go to Data.
func ParseOptions(opts []string) (Options, error) {
	var o Options
	var data []string
	for _, opt := range opts {
		switch {
		case opt == "bind":
			o.Bind = true
		case opt == "rbind":
			o.Bind, o.Recursive = true, true
		case opt == "idmap":
			o.IDMap = true
		case opt == "ridmap":
			o.IDMap, o.RecursiveIDMap = true, true
		case opt == "tmpcopyup":
			return o, fmt.Errorf("mount option %q is not supported", opt)
		default:
			if f, ok := flagOptions[opt]; ok {
				if f.clear {
					o.Flags &^= f.flag
					o.Clear |= f.flag
				} else {
					o.Flags |= f.flag
					o.Clear &^= f.flag
				}
				continue
			}
			if r, ok := recursiveOptions[opt]; ok {
				if r.clear {
					o.RecSet &^= r.attr
					o.RecClear |= r.attr
				} else {
					o.RecSet |= r.attr
					o.RecClear &^= r.attr
					// An access-time mode is one value in a 3-bit field:
					// mount_setattr wants the whole field cleared to set
					// one (relatime is 0, so it is only that clearing).
					if r.attr&unix.MOUNT_ATTR__ATIME == r.attr {
						o.RecClear |= unix.MOUNT_ATTR__ATIME
					}
				}
				continue
			}
			if p, ok := propagationOptions[opt]; ok {
				o.Propagation = append(o.Propagation, p)
				continue
			}
			if opt == "" || strings.ContainsAny(opt, "\x00") {
				return o, fmt.Errorf("bad mount option %q", opt)
			}
			data = append(data, opt)
		}
	}
	o.Data = strings.Join(data, ",")
	return o, nil
}

// attrs converts MS_* flags into the MOUNT_ATTR_* bits of mount_setattr(2): what a
// bind mount can change about itself.
func attrs(flags uintptr) (set uint64) {
	if flags&unix.MS_RDONLY != 0 {
		set |= unix.MOUNT_ATTR_RDONLY
	}
	if flags&unix.MS_NOSUID != 0 {
		set |= unix.MOUNT_ATTR_NOSUID
	}
	if flags&unix.MS_NODEV != 0 {
		set |= unix.MOUNT_ATTR_NODEV
	}
	if flags&unix.MS_NOEXEC != 0 {
		set |= unix.MOUNT_ATTR_NOEXEC
	}
	if flags&unix.MS_NODIRATIME != 0 {
		set |= unix.MOUNT_ATTR_NODIRATIME
	}
	if flags&unix.MS_NOSYMFOLLOW != 0 {
		set |= unix.MOUNT_ATTR_NOSYMFOLLOW
	}
	return set
}

// atime picks the one access-time mode the flags ask for, if any.
func atime(flags uintptr) (uint64, bool) {
	switch {
	case flags&unix.MS_NOATIME != 0:
		return unix.MOUNT_ATTR_NOATIME, true
	case flags&unix.MS_STRICTATIME != 0:
		return unix.MOUNT_ATTR_STRICTATIME, true
	case flags&unix.MS_RELATIME != 0:
		return unix.MOUNT_ATTR_RELATIME, true
	}
	return 0, false
}

// BindAttrs are the attributes a bind's detached copy gets on its top mount
// (setAttrs), for a caller that makes the mount itself (runtime's C init).
func (o Options) BindAttrs() (set, clr uint64) {
	set, clr = attrs(o.Flags), attrs(o.Clear)
	if a, ok := atime(o.Flags); ok {
		set |= a
		clr |= unix.MOUNT_ATTR__ATIME
	}
	return set, clr
}

// RemountAttrs are the attributes a remount sets and clears (remount).
func (o Options) RemountAttrs() (set, clr uint64) { return attrs(o.Flags), attrs(o.Clear) }
