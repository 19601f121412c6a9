// Package caps applies the five capability sets of an OCI process.
//
// Capabilities belong to a thread, not a process: capset(2) changes only the calling
// thread, and execve(2) computes the new program's sets from the thread that calls
// it. Every function here therefore acts on the calling thread, and the caller must
// hold runtime.LockOSThread from Apply until execve.
package caps

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// names maps every capability the kernel knows, by its OCI name, to its number.
var names = map[string]int{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// Names lists every capability name this package knows, in number order.
func Names() []string {
	out := make([]string, len(names))
	for n, v := range names {
		out[v] = n
	}
	return out
}

// lastCap is the kernel's cap_last_cap once read (0: not yet): a kernel constant,
// and `hullrt run` asked for it ~45 times, one open, read and close of /proc each.
var lastCap atomic.Int32

// capLastCapPath is where the kernel tells its highest capability (a variable for
// the test that checks it is read once).
var capLastCapPath = "/proc/sys/kernel/cap_last_cap"

// Last is the highest capability the running kernel supports.
func Last() int {
	if l := lastCap.Load(); l > 0 {
		return int(l)
	}
	last, err := strconv.Atoi(readFile(capLastCapPath))
	if err != nil || last <= 0 {
		// Not kept: /proc may be readable on a later call.
		return len(names) - 1
	}
	lastCap.Store(int32(last))
	return last
}

// Set is the parsed form of specs.LinuxCapabilities: one bit per capability.
type Set struct {
	Bounding, Effective, Inheritable, Permitted, Ambient uint64
}

// Parse reads c into bit sets. A name this package does not know is left out, with a
// warning for the caller to log: runtime-spec wants a value that cannot be mapped to
// the kernel logged, not refused (runc and crun skip it the same way).
func Parse(c *specs.LinuxCapabilities) (s *Set, warnings []string) {
	s = &Set{}
	if c == nil {
		return s, nil
	}
	var unknown []string
	for _, set := range []struct {
		list []string
		dst  *uint64
	}{
		{c.Bounding, &s.Bounding}, {c.Effective, &s.Effective}, {c.Inheritable, &s.Inheritable},
		{c.Permitted, &s.Permitted}, {c.Ambient, &s.Ambient},
	} {
		for _, n := range set.list {
			v, ok := names[strings.ToUpper(n)]
			if !ok {
				if !slices.Contains(unknown, n) {
					unknown = append(unknown, n)
				}
				continue
			}
			*set.dst |= 1 << v
		}
	}
	if len(unknown) > 0 {
		warnings = append(warnings, fmt.Sprintf("process.capabilities: %s not a known capability; left out", strings.Join(unknown, ", ")))
	}
	return s, warnings
}

// Supported is the set of every capability the running kernel knows (0 to Last).
func Supported() uint64 {
	last := Last()
	if last >= 63 {
		return ^uint64(0)
	}
	return 1<<(last+1) - 1
}

// Bounding reads the bounding set of the calling thread.
func Bounding() uint64 {
	var b uint64
	last := Last()
	for c := 0; c <= last; c++ {
		if on, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); on == 1 {
			b |= 1 << c
		}
	}
	return b
}

// Grantable returns the part of s that a process can be given whose bounding and
// permitted sets hold held when it applies s, and a warning for each capability it
// leaves out, naming the set and why. Apply cannot fail on what it returns, and it
// keeps the kernel's rules even where the kernel would not check them:
//
//   - nothing the kernel does not support, nothing outside held;
//   - effective within permitted (capset(2) refuses more);
//   - inheritable within bounding: a root program gets its inheritable set as
//     permitted at execve, and an ambient capability survives execve whatever
//     the bounding set says, so an inheritable one outside it would escape it;
//   - ambient within permitted and inheritable (PR_CAP_AMBIENT_RAISE refuses more).
//
// This is runtime-spec's rule: a capability that cannot be granted is logged as a
// warning, and the container runs without it. (runc 1.1 and crun leave out an
// ambient capability they cannot raise without a word, and fail on the others.)
func (s *Set) Grantable(held uint64) (*Set, []string) {
	g := *s
	all := []*uint64{&g.Bounding, &g.Effective, &g.Inheritable, &g.Permitted, &g.Ambient}
	var warnings []string
	dropEverywhere := func(allowed uint64, why string) {
		var lost uint64
		for _, bits := range all {
			lost |= *bits &^ allowed
			*bits &= allowed
		}
		if lost != 0 {
			warnings = append(warnings, fmt.Sprintf("process.capabilities: %s %s; left out", strings.Join(List(lost), ", "), why))
		}
	}
	drop := func(set string, bits *uint64, allowed uint64, why string) {
		if lost := *bits &^ allowed; lost != 0 {
			warnings = append(warnings, fmt.Sprintf("process.capabilities.%s: %s %s; left out", set, strings.Join(List(lost), ", "), why))
			*bits &= allowed
		}
	}
	dropEverywhere(Supported(), "not supported by this kernel")
	dropEverywhere(held, "not held by the runtime (outside its bounding set)")
	drop("effective", &g.Effective, g.Permitted, "not in the permitted set")
	drop("inheritable", &g.Inheritable, g.Bounding, "not in the bounding set")
	drop("ambient", &g.Ambient, g.Permitted&g.Inheritable, "not in both the permitted and inheritable sets")
	return &g, warnings
}

// Spec turns s back into the runtime-spec's lists of names.
func (s *Set) Spec() *specs.LinuxCapabilities {
	return &specs.LinuxCapabilities{
		Bounding: List(s.Bounding), Effective: List(s.Effective), Inheritable: List(s.Inheritable),
		Permitted: List(s.Permitted), Ambient: List(s.Ambient),
	}
}

// DropBounding removes from the bounding set every capability not in s.Bounding. It
// needs CAP_SETPCAP, so it runs before the process changes its user.
func (s *Set) DropBounding() error {
	last := Last()
	for c := 0; c <= last; c++ {
		if s.Bounding&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			// EINVAL: the kernel does not know this capability; nothing to drop.
			if err == unix.EINVAL {
				continue
			}
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	return nil
}

// Apply sets the effective, permitted and inheritable sets of the calling thread and
// raises the ambient set. Call it after the user change (with PR_SET_KEEPCAPS set
// across the change, so the permitted set survives it), on a set from Grantable: the
// kernel refuses the whole capset for one capability that cannot be granted.
func (s *Set) Apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := 0; i < 2; i++ {
		data[i].Effective = uint32(s.Effective >> (32 * i))
		data[i].Permitted = uint32(s.Permitted >> (32 * i))
		data[i].Inheritable = uint32(s.Inheritable >> (32 * i))
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	// The ambient set is cleared first so that nothing inherited from the runtime's
	// own process survives; then each requested capability is raised. The kernel
	// requires it to be both permitted and inheritable (Grantable sees to that).
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for c := 0; c < 64; c++ {
		if s.Ambient&(1<<c) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %d: %w", c, err)
		}
	}
	return nil
}

// Current reads the sets of the calling thread.
func Current() (*Set, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, fmt.Errorf("capget: %w", err)
	}
	s := &Set{}
	for i := 0; i < 2; i++ {
		s.Effective |= uint64(data[i].Effective) << (32 * i)
		s.Permitted |= uint64(data[i].Permitted) << (32 * i)
		s.Inheritable |= uint64(data[i].Inheritable) << (32 * i)
	}
	s.Bounding = Bounding()
	for c := 0; c <= Last(); c++ {
		if on, _ := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(c), 0, 0); on == 1 {
			s.Ambient |= 1 << c
		}
	}
	return s, nil
}

// List turns a bit set back into names, for diagnostics and `hull` output.
func List(bits uint64) []string {
	var out []string
	for n, v := range names {
		if bits&(1<<v) != 0 {
			out = append(out, n)
		}
	}
	return sortByNumber(out)
}

func sortByNumber(l []string) []string {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && names[l[j]] < names[l[j-1]]; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
	return l
}

func readFile(p string) string {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	buf := make([]byte, 64)
	n, _ := unix.Read(fd, buf)
	if n < 0 {
		return ""
	}
	return strings.TrimSpace(string(buf[:n]))
}
