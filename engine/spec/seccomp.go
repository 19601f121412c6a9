// Package spec holds the engine's policy for the OCI specs it writes: Docker's
// defaults (capabilities, seccomp profile, mounts, device rules) and the lookup of
// a user in an image's /etc/passwd, that `hull run` applies, and that anything else
// building a container the way Docker does (the Dockerfile builder's RUN) must apply
// the same. It is data and pure functions: it imports no engine verb and no runtime
// part (runtime/seccomp compiles whatever profile it is given; the choice of
// Docker's is the engine's).
package spec

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultCaps is Docker's default capability set (14), the one DefaultSeccomp
// assumes.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// DefaultSeccomp returns Docker's default seccomp profile for an x86_64 container
// with Docker's default capabilities (DefaultCaps).
func DefaultSeccomp() *specs.LinuxSeccomp {
	return DefaultSeccompFor(DefaultCaps)
}

// DefaultSeccompFor returns Docker's default seccomp profile (from
// github.com/moby/profiles/seccomp) for an x86_64 container whose bounding set is
// caps, resolved the way Docker resolves it: an entry with includes.caps is kept
// only when the container has all those capabilities (CAP_SYS_ADMIN adds mount,
// unshare, setns, clone with namespace flags, ...), one with excludes.caps is
// dropped when it has any of them; includes/excludes by architecture are resolved
// for amd64 and by kernel version for the running kernel. Capability names may be
// given with or without the CAP_ prefix, in any case.
//
// The profile lists SCMP_ARCH_X86_64, SCMP_ARCH_X86 and SCMP_ARCH_X32, as Docker's
// does on x86_64. Each call returns a new value the caller may modify.
func DefaultSeccompFor(caps []string) *specs.LinuxSeccomp {
	have := map[string]bool{}
	for _, c := range caps {
		c = strings.ToUpper(c)
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		have[c] = true
	}
	p := mobyseccomp.DefaultProfile()
	out := p.LinuxSeccomp
	out.Syscalls = nil
	out.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	for _, s := range p.Syscalls {
		if !keep(s, have) {
			continue
		}
		sc := s.LinuxSyscall
		if s.Name != "" && len(sc.Names) == 0 {
			sc.Names = []string{s.Name}
		}
		out.Syscalls = append(out.Syscalls, sc)
	}
	return &out
}

// keep applies an entry's includes and excludes for amd64, the running kernel and
// the capabilities in have.
func keep(s *mobyseccomp.Syscall, have map[string]bool) bool {
	const arch = "amd64" // Docker's name for x86_64 in these filters
	if in := s.Includes; in != nil {
		if len(in.Arches) > 0 && !slices.Contains(in.Arches, arch) {
			return false
		}
		for _, c := range in.Caps {
			if !have[c] {
				return false
			}
		}
		if in.MinKernel != nil && !kernelAtLeast(in.MinKernel.Kernel, in.MinKernel.Major) {
			return false
		}
	}
	if ex := s.Excludes; ex != nil {
		if slices.Contains(ex.Arches, arch) {
			return false
		}
		for _, c := range ex.Caps {
			if have[c] {
				return false
			}
		}
		if ex.MinKernel != nil && kernelAtLeast(ex.MinKernel.Kernel, ex.MinKernel.Major) {
			return false
		}
	}
	return true
}

// kernelVersion is the running kernel's version and patch level, read once.
var kernelVersion = sync.OnceValues(func() (uint64, uint64) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return 0, 0
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	major, err1 := strconv.ParseUint(parts[0], 10, 64)
	minor, err2 := strconv.ParseUint(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return major, minor
})

// kernelAtLeast tells whether the running kernel is at least major.minor. A kernel
// whose release string cannot be read counts as new enough: hull needs kernels far
// newer than any version Docker's profile tests for.
func kernelAtLeast(major, minor uint64) bool {
	k, m := kernelVersion()
	if k == 0 {
		return true
	}
	return k > major || k == major && m >= minor
}
