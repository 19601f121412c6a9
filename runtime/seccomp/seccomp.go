// Package seccomp compiles the OCI runtime-spec's linux.seccomp into a classic-BPF
// seccomp filter for x86_64 hosts, in pure Go (no libseccomp), and loads it.
//
// # Program shape
//
// The kernel runs the filter on a struct seccomp_data:
//
//	offset 0   int  nr                  syscall number as the task's ABI numbers it
//	offset 4   u32  arch                AUDIT_ARCH_X86_64 or AUDIT_ARCH_I386
//	offset 8   u64  instruction_pointer
//	offset 16  u64  args[6]             little endian: low word at 16+8i, high at 20+8i
//
// An x86_64 kernel reaches the filter through three ABIs, and a filter that looked at
// nr alone could be bypassed through the one it did not expect:
//
//	ABI     seccomp_data.arch   nr
//	x86_64  AUDIT_ARCH_X86_64   syscall_64.tbl, below 0x40000000
//	x32     AUDIT_ARCH_X86_64   syscall_64.tbl common + x32 entries, | __X32_SYSCALL_BIT (0x40000000)
//	i386    AUDIT_ARCH_I386     syscall_32.tbl (int $0x80, sysenter, or a 32-bit process)
//
// So the compiled program is:
//
//	ld arch
//	arch == X86_64 → ld nr; binary search over nr for the x86_64 and x32 numbers
//	arch == I386   → ld nr; binary search over nr for the i386 numbers   (if listed)
//	otherwise      → KILL_PROCESS
//
// The binary search works on ranges of syscall numbers with one outcome (a return
// value, or the argument checks of one syscall), so Docker's allow-list of ~370 names
// becomes a tree a few levels deep rather than a chain of several hundred compares.
//
// # Semantics (decisions, where libseccomp and the spec leave room)
//
//   - The native x86_64 ABI is always filtered, whether or not the profile lists it.
//     SCMP_ARCH_X32 and SCMP_ARCH_X86 add those ABIs with their own number tables.
//     Other architectures named by a profile (SCMP_ARCH_AARCH64, ...) cannot reach an
//     x86_64 kernel and are ignored.
//   - A syscall made through an ABI the profile does not list gets the default action
//     when that action refuses the call, and SECCOMP_RET_KILL_PROCESS when the default
//     is ALLOW or LOG: otherwise a deny-list profile could be bypassed with int $0x80
//     or an x32 number. libseccomp kills in both cases (its "bad arch" action).
//   - Syscalls numbered above the highest number the profile names for an ABI get
//     ENOSYS when the default action is SCMP_ACT_ERRNO, so a libc falls back to an
//     older syscall instead of failing on EPERM (runc's "-ENOSYS stub"): a syscall
//     newer than the profile is one its author could not have meant to refuse with
//     EPERM. Any name counts, whatever its action, and x32's common numbers (below
//     512) and its compat numbers (512 on) are two ranges with a limit each. An ABI
//     the profile names nothing for gets the default action throughout, as in runc.
//   - Names: a name unknown for one listed ABI but known for another is skipped for
//     the ABI that lacks it (chown32 exists for i386 only). A name that is a syscall
//     only on other Linux architectures (arm_fadvise64_64, s390_sthyi, ...) is skipped.
//     A name that is no Linux syscall this package knows is an error: it is most often a
//     typo, and in a deny-list a silently dropped rule fails open.
//   - All conditions of one syscall entry must match (AND), as the runtime-spec says,
//     also when several conditions test the same argument (a range: GE a, LE b). runc
//     instead splits such an entry into one rule per condition (OR); Docker's profile
//     avoids repeating an argument for that reason, so it means the same under both.
//   - Several entries for one syscall are ORed. Entries with conditions are tried
//     first, in profile order, and the first that matches decides; then the syscall's
//     unconditional entry, if any; then the default action. Two unconditional entries
//     with different actions for one syscall are an error (libseccomp refuses them too).
//   - An unconditional entry whose action (and errno) equals the default action is
//     dropped: it cannot change the outcome. A conditional one is kept, as an
//     exception to the syscall's unconditional entry ("deny personality except
//     0xffffffff" under an ALLOW default). runc drops both kinds, because libseccomp
//     refuses a rule with the default action.
//   - Comparisons are unsigned 64-bit. For the i386 ABI only the low 32 bits are
//     compared: the kernel zero-extends the 32-bit registers, so a value written
//     sign-extended (0xffffffffffffffff for -1) still matches, as with libseccomp.
//   - SCMP_CMP_MASKED_EQ matches when arg & value == valueTwo. valueTwo with any other
//     operator is an error rather than silently ignored.
//   - errnoRet defaults to EPERM for SCMP_ACT_ERRNO and is the trace data (default
//     EPERM, as runc) for SCMP_ACT_TRACE; on other actions it is an error.
package seccomp

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"sync"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"
)

//go:generate go run ./internal/gen

// Filter is a compiled seccomp program, ready for Load.
type Filter struct {
	// Prog is the classic-BPF program over struct seccomp_data.
	Prog []unix.SockFilter
	// Flags are the SECCOMP_FILTER_FLAG_* bits Load passes to seccomp(2): the
	// profile's flags, TSYNC always, and NEW_LISTENER (with TSYNC_ESRCH) when the
	// profile uses SCMP_ACT_NOTIFY.
	Flags uint
	// NeedsListener tells that the program returns SECCOMP_RET_USER_NOTIF, so Load
	// returns a listener fd that a supervisor must serve.
	NeedsListener bool
}

// maxInsns is the kernel's BPF_MAXINSNS for classic BPF.
const maxInsns = 4096

// x32Bit is __X32_SYSCALL_BIT: x32 syscalls arrive with AUDIT_ARCH_X86_64 and this
// bit set in nr.
const x32Bit = 0x40000000

// Offsets into struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Features says what Compile takes, for `hullrt features` (runtime-spec's
// features.Seccomp): the actions, operators, architectures and flags that parse,
// action and the assembler accept (TestFeatures compiles a profile with each).
func Features() *features.Seccomp {
	enabled := true
	names := func(v ...any) []string {
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return &features.Seccomp{
		Enabled: &enabled,
		Actions: names(specs.ActAllow, specs.ActErrno, specs.ActKill, specs.ActKillThread, specs.ActKillProcess,
			specs.ActTrap, specs.ActTrace, specs.ActLog, specs.ActNotify),
		Operators: names(specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpGreaterEqual,
			specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual),
		Archs: names(specs.ArchX86_64, specs.ArchX32, specs.ArchX86, specs.ArchARM, specs.ArchAARCH64,
			specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
			specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
			specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
			specs.ArchM68K, specs.ArchSH, specs.ArchSHEB),
		KnownFlags: names("SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow,
			specs.LinuxSeccompFlagWaitKillableRecv),
	}
}

// Validate checks s as Compile does, without keeping the program.
func Validate(s *specs.LinuxSeccomp) error {
	_, err := Compile(s)
	return err
}

// Compile turns s into a seccomp program. It makes no syscalls. Errors name the
// offending field, e.g. `linux.seccomp.syscalls[3].action: unknown action "X"`.
func Compile(s *specs.LinuxSeccomp) (*Filter, error) {
	if s == nil {
		return nil, errors.New("linux.seccomp: no profile")
	}
	if goruntime.GOARCH != "amd64" {
		return nil, fmt.Errorf("linux.seccomp: only x86_64 hosts are supported, not %s", goruntime.GOARCH)
	}
	c := &compiler{}
	if err := c.parse(s); err != nil {
		return nil, err
	}
	prog, err := c.emit()
	if err != nil {
		return nil, err
	}
	f := &Filter{Prog: prog, Flags: c.flags | unix.SECCOMP_FILTER_FLAG_TSYNC, NeedsListener: c.notify}
	if f.NeedsListener {
		// TSYNC reports a thread it could not synchronize by returning its id, which
		// would be ambiguous with the listener fd; TSYNC_ESRCH makes that an error.
		f.Flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}
	return f, nil
}

// Load installs f on the calling process with seccomp(SECCOMP_SET_MODE_FILTER).
// With TSYNC (set by Compile) the filter applies to every thread of the process, so a
// Go program need not care which thread it runs on. The kernel requires no_new_privs
// or CAP_SYS_ADMIN in the caller's user namespace; arranging that is the caller's job.
// Load returns the listener fd (close-on-exec) when f.NeedsListener, else -1.
func (f *Filter) Load() (listenerFd int, err error) {
	if len(f.Prog) == 0 || len(f.Prog) > maxInsns {
		return -1, fmt.Errorf("load seccomp filter: %d instructions, want 1..%d", len(f.Prog), maxInsns)
	}
	prog := unix.SockFprog{Len: uint16(len(f.Prog)), Filter: &f.Prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f.Flags), uintptr(unsafe.Pointer(&prog)))
	goruntime.KeepAlive(f)
	if errno != 0 {
		if errno == unix.EACCES {
			return -1, fmt.Errorf("load seccomp filter: %w (needs no_new_privs or CAP_SYS_ADMIN)", errno)
		}
		return -1, fmt.Errorf("load seccomp filter: %w", errno)
	}
	if f.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
		return int(r), nil
	}
	if r != 0 {
		// Without TSYNC_ESRCH, a TSYNC failure returns the id of the thread that
		// could not be synchronized (it has a diverging filter tree).
		return -1, fmt.Errorf("load seccomp filter: thread %d could not be synchronized", r)
	}
	return -1, nil
}

// abi is one syscall ABI an x86_64 kernel accepts.
type abi int

const (
	abiX86_64 abi = iota
	abiX32
	abiI386
	numABI
)

var abiNames = [numABI]string{"x86_64", "x32", "i386"}

// tables returns the generated name→number tables, by ABI, built on first use:
// as package-level maps they were built at start-up by every process that
// links this package (~1200 entries, 56 KB, ~35 µs before main), `hullrt run`
// without a seccomp profile and hull included.
var tables = sync.OnceValue(func() [numABI]map[string]uint32 {
	return [numABI]map[string]uint32{newSysX86_64(), newSysX32(), newSysI386()}
})

// otherArchNames returns the syscalls of other architectures (generated), built
// on first use like tables.
var otherArchNames = sync.OnceValue(newOtherArchNames)

// armPrivateNames are ARM's private syscalls (__ARM_NR_*), which x/sys does not list
// but Docker's profile names for arm and arm64.
var armPrivateNames = map[string]bool{"breakpoint": true, "cacheflush": true, "set_tls": true, "usr26": true, "usr32": true, "get_tls": true}

// cond is one argument comparison.
type cond struct {
	index    uint
	op       specs.LinuxSeccompOperator
	value    uint64
	valueTwo uint64
}

// rule is one syscall entry's action and conditions, for one syscall.
type rule struct {
	ret   uint32
	conds []cond
	entry int // index in linux.seccomp.syscalls, for errors
}

// compiler holds a parsed profile.
type compiler struct {
	defRet uint32
	flags  uint
	notify bool
	listed [numABI]bool
	// named[abi] are the numbers the profile names, for the ENOSYS stub.
	named [numABI]map[uint32]bool
	// rules[abi][nr] lists the rules for one syscall number of one ABI.
	rules [numABI]map[uint32][]rule
}

func (c *compiler) parse(s *specs.LinuxSeccomp) error {
	var err error
	c.defRet, err = c.action(s.DefaultAction, s.DefaultErrnoRet, "linux.seccomp.defaultAction", "linux.seccomp.defaultErrnoRet")
	if err != nil {
		return err
	}
	c.listed[abiX86_64] = true
	for i, a := range s.Architectures {
		switch a {
		case specs.ArchX86_64:
		case specs.ArchX32:
			c.listed[abiX32] = true
		case specs.ArchX86:
			c.listed[abiI386] = true
		case specs.ArchARM, specs.ArchAARCH64, specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32,
			specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64,
			specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64,
			specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K, specs.ArchSH, specs.ArchSHEB:
			// Syscalls of these architectures never reach an x86_64 kernel.
		default:
			return fmt.Errorf("linux.seccomp.architectures[%d]: unknown architecture %q", i, a)
		}
	}
	for i, fl := range s.Flags {
		switch fl {
		case "SECCOMP_FILTER_FLAG_TSYNC":
			c.flags |= unix.SECCOMP_FILTER_FLAG_TSYNC
		case specs.LinuxSeccompFlagLog:
			c.flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			c.flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			c.flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		default:
			return fmt.Errorf("linux.seccomp.flags[%d]: unknown flag %q", i, fl)
		}
	}
	for a := range c.rules {
		c.rules[a] = map[uint32][]rule{}
		c.named[a] = map[uint32]bool{}
	}
	for i, sc := range s.Syscalls {
		field := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		ret, err := c.action(sc.Action, sc.ErrnoRet, field+".action", field+".errnoRet")
		if err != nil {
			return err
		}
		conds, err := parseArgs(sc.Args, field)
		if err != nil {
			return err
		}
		if len(sc.Names) == 0 {
			return fmt.Errorf("%s.names: no syscall names", field)
		}
		for j, name := range sc.Names {
			if err := checkName(name); err != nil {
				return fmt.Errorf("%s.names[%d]: %w", field, j, err)
			}
			for a := range numABI {
				if nr, ok := tables()[a][name]; ok {
					c.named[a][nr] = true
				}
			}
		}
		if ret == c.defRet && len(conds) == 0 {
			continue
		}
		for _, name := range sc.Names {
			for a := range numABI {
				nr, ok := tables()[a][name]
				if !c.listed[a] || !ok {
					continue
				}
				if err := c.add(a, nr, rule{ret: ret, conds: conds, entry: i}, name); err != nil {
					return fmt.Errorf("%s: %w", field, err)
				}
			}
		}
	}
	return nil
}

// checkName tells whether name is a syscall this package can place: known for some
// x86 ABI, or a syscall of another architecture (skipped).
func checkName(name string) error {
	for a := range numABI {
		if _, ok := tables()[a][name]; ok {
			return nil
		}
	}
	if otherArchNames()[name] || armPrivateNames[name] {
		return nil
	}
	return fmt.Errorf("unknown syscall %q", name)
}

// add records r for syscall nr of ABI a.
func (c *compiler) add(a abi, nr uint32, r rule, name string) error {
	rs := c.rules[a][nr]
	if len(r.conds) == 0 {
		for _, o := range rs {
			if len(o.conds) == 0 {
				// The first unconditional action wins, as in libseccomp (and so
				// runc and crun): podman's stock profile allows setns, clone,
				// unshare... in one entry and denies them again in an entry
				// for containers without CAP_SYS_ADMIN, and expects the allow.
				return nil
			}
		}
	}
	c.rules[a][nr] = append(rs, r)
	return nil
}

// action returns the SECCOMP_RET_* value for act; errnoRet is the errno for ERRNO
// and the data for TRACE.
func (c *compiler) action(act specs.LinuxSeccompAction, errnoRet *uint, field, errnoField string) (uint32, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		if act != specs.ActErrno && act != specs.ActTrace {
			return 0, fmt.Errorf("%s: only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not %q", errnoField, act)
		}
		if *errnoRet > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("%s: %d does not fit in 16 bits", errnoField, *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch act {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		// The kernel caps the errno at MAX_ERRNO (4095); refuse rather than surprise.
		if data > 4095 {
			return 0, fmt.Errorf("%s: errno %d is above 4095", errnoField, data)
		}
		return unix.SECCOMP_RET_ERRNO | data, nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | data, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		c.notify = true
		return unix.SECCOMP_RET_USER_NOTIF, nil
	case "":
		return 0, fmt.Errorf("%s: missing", field)
	}
	return 0, fmt.Errorf("%s: unknown action %q", field, act)
}

func parseArgs(args []specs.LinuxSeccompArg, field string) ([]cond, error) {
	var conds []cond
	for k, a := range args {
		f := fmt.Sprintf("%s.args[%d]", field, k)
		if a.Index >= 6 {
			return nil, fmt.Errorf("%s.index: %d is not an argument index 0..5", f, a.Index)
		}
		switch a.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual:
			if a.ValueTwo != 0 {
				return nil, fmt.Errorf("%s.valueTwo: only valid with SCMP_CMP_MASKED_EQ, not %q", f, a.Op)
			}
		case specs.OpMaskedEqual:
		default:
			return nil, fmt.Errorf("%s.op: unknown operator %q", f, a.Op)
		}
		conds = append(conds, cond{index: a.Index, op: a.Op, value: a.Value, valueTwo: a.ValueTwo})
	}
	return conds, nil
}

// retEnosys is what syscalls newer than the profile get under an ERRNO default.
const retEnosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)

// newerRet returns the action for syscall numbers newer than the profile.
func (c *compiler) newerRet() uint32 {
	if c.defRet&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO {
		return retEnosys
	}
	return c.defRet
}

// unlistedRet returns the action for a syscall through an ABI the profile does not
// list: the default when it refuses, KILL_PROCESS when it would let the call run.
func (c *compiler) unlistedRet() uint32 {
	switch c.defRet {
	case unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_LOG:
		return unix.SECCOMP_RET_KILL_PROCESS
	}
	return c.defRet
}

// seg is a range of syscall numbers with one outcome: a return value, or (lo == hi)
// the rules of one syscall.
type seg struct {
	lo, hi uint32
	ret    uint32
	rules  []rule
}

// upTo lays out the numbers lo..hi of ABI a: up to the highest one the profile
// names there, each with its rules or the default; above it, newerRet.
func (c *compiler) upTo(a abi, lo, hi uint32) []seg {
	last, found := lo, false
	for nr := range c.named[a] {
		if nr >= lo && nr <= hi && (!found || nr > last) {
			last, found = nr, true
		}
	}
	if !found || last == hi {
		return c.segments(a, lo, hi, c.defRet)
	}
	return append(c.segments(a, lo, last, c.defRet), seg{lo: last + 1, hi: hi, ret: c.newerRet()})
}

// segments lays out the numbers of ABI a over [lo, hi]: each number with rules gets
// its own segment, everything else the background ret.
func (c *compiler) segments(a abi, lo, hi, background uint32) []seg {
	var nrs []uint32
	for nr := range c.rules[a] {
		if nr >= lo && nr <= hi {
			nrs = append(nrs, nr)
		}
	}
	slices.Sort(nrs)
	var out []seg
	next := lo
	for _, nr := range nrs {
		if nr > next {
			out = append(out, seg{lo: next, hi: nr - 1, ret: background})
		}
		out = append(out, c.segFor(a, nr))
		next = nr + 1
	}
	if len(nrs) == 0 || nrs[len(nrs)-1] < hi {
		out = append(out, seg{lo: next, hi: hi, ret: background})
	}
	return out
}

// segFor returns the outcome of syscall nr of ABI a, which has rules.
func (c *compiler) segFor(a abi, nr uint32) seg {
	rs := c.rules[a][nr]
	// Conditional rules first, in profile order; the unconditional one (at most one)
	// is the syscall's fallback instead of the default action.
	var conds []rule
	fallback := c.defRet
	for _, r := range rs {
		if len(r.conds) == 0 {
			fallback = r.ret
		} else {
			conds = append(conds, r)
		}
	}
	if len(conds) == 0 {
		return seg{lo: nr, hi: nr, ret: fallback}
	}
	return seg{lo: nr, hi: nr, ret: fallback, rules: conds}
}

// layoutX86_64 returns the segments for arch AUDIT_ARCH_X86_64: the x86_64 numbers,
// then the x32 numbers (or the unlisted-ABI action) from 0x40000000 up.
func (c *compiler) layoutX86_64() []seg {
	segs := c.upTo(abiX86_64, 0, x32Bit-1)
	if !c.listed[abiX32] {
		return append(segs, seg{lo: x32Bit, hi: 0xffffffff, ret: c.unlistedRet()})
	}
	// x32 has the common numbers below 512, where new syscalls appear, then its
	// own compat entries from 512: a limit for each range.
	segs = append(segs, c.upTo(abiX32, x32Bit, x32Bit|511)...)
	return append(segs, c.upTo(abiX32, x32Bit|512, 0xffffffff)...)
}

// layoutI386 returns the segments for arch AUDIT_ARCH_I386.
func (c *compiler) layoutI386() []seg {
	return c.upTo(abiI386, 0, 0xffffffff)
}

// merge joins neighbouring segments with the same plain return value.
func merge(segs []seg) []seg {
	var out []seg
	for _, s := range segs {
		if n := len(out); n > 0 && s.rules == nil && out[n-1].rules == nil && out[n-1].ret == s.ret && out[n-1].hi+1 == s.lo {
			out[n-1].hi = s.hi
			continue
		}
		out = append(out, s)
	}
	return out
}

// emit assembles the program. It is built back to front (see asm).
func (c *compiler) emit() ([]unix.SockFilter, error) {
	a := newAsm()
	a.ret(unix.SECCOMP_RET_KILL_PROCESS) // the last instruction: an arch no x86_64 kernel reports
	i386 := a.ret(c.unlistedRet())
	if c.listed[abiI386] {
		i386 = a.load(offNr, c.tree(a, abiI386, merge(c.layoutI386())))
	}
	x64 := a.load(offNr, c.tree(a, abiX86_64, merge(c.layoutX86_64())))
	isI386 := a.jump(bpfJEQ, unix.AUDIT_ARCH_I386, i386, a.ret(unix.SECCOMP_RET_KILL_PROCESS))
	isX64 := a.jump(bpfJEQ, unix.AUDIT_ARCH_X86_64, x64, isI386)
	a.load(offArch, isX64)
	prog := a.program()
	if len(prog) > maxInsns {
		return nil, fmt.Errorf("linux.seccomp: the filter needs %d instructions, the kernel allows %d", len(prog), maxInsns)
	}
	return prog, nil
}

// tree emits a binary search over segs on the syscall number in A and returns its
// entry. The ABI picks the argument width for the segments' conditions.
func (c *compiler) tree(a *asm, ab abi, segs []seg) label {
	if len(segs) == 1 {
		s := segs[0]
		if s.rules == nil {
			return a.ret(s.ret)
		}
		return c.ruleBlock(a, ab, s)
	}
	m := len(segs) / 2
	right := c.tree(a, ab, segs[m:])
	left := c.tree(a, ab, segs[:m])
	return a.jump(bpfJGE, segs[m].lo, right, left)
}

// ruleBlock emits the argument checks of one syscall: each rule's conditions ANDed,
// the rules tried in order, and s.ret when none matches. Every path ends in a return,
// so the block may clobber A.
func (c *compiler) ruleBlock(a *asm, ab abi, s seg) label {
	next := a.ret(s.ret)
	for i := len(s.rules) - 1; i >= 0; i-- {
		r := s.rules[i]
		t := a.ret(r.ret)
		for k := len(r.conds) - 1; k >= 0; k-- {
			t = a.compare(r.conds[k], ab != abiI386, t, next)
		}
		next = t
	}
	return next
}
