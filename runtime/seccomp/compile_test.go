package seccomp

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hullproject/hull/engine/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The generated tables, by name, for the tests (the package builds them lazily).
var (
	sysX86_64 = tables()[abiX86_64]
	sysX32    = tables()[abiX32]
	sysI386   = tables()[abiI386]
)

// input is one struct seccomp_data, as far as the filter reads it.
type input struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

func (in input) String() string {
	return fmt.Sprintf("arch=%#x nr=%#x args=%#x", in.arch, in.nr, in.args[:3])
}

// bytes lays the input out as the kernel's struct seccomp_data (little endian).
func (in input) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], in.nr)
	binary.LittleEndian.PutUint32(b[4:], in.arch)
	for i, a := range in.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// run interprets prog over in like the kernel's classic-BPF seccomp filter does,
// failing t on anything the kernel's checker would refuse (unknown opcode, a load
// outside seccomp_data or unaligned, a jump out of the program, no return).
func run(t testing.TB, prog []unix.SockFilter, in input) uint32 {
	t.Helper()
	if len(prog) == 0 || len(prog) > maxInsns {
		t.Fatalf("program has %d instructions", len(prog))
	}
	if prog[len(prog)-1].Code != bpfRet {
		t.Fatalf("last instruction %+v is not a return", prog[len(prog)-1])
	}
	data := in.bytes()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		ins := prog[pc]
		jump := func(cond bool) {
			off := int(ins.Jf)
			if cond {
				off = int(ins.Jt)
			}
			pc += off
			if pc+1 >= len(prog) {
				t.Fatalf("pc %d: jump past the end", pc)
			}
		}
		switch ins.Code {
		case bpfLdAbs:
			if ins.K%4 != 0 || ins.K+4 > uint32(len(data)) {
				t.Fatalf("pc %d: load at %d", pc, ins.K)
			}
			a = binary.LittleEndian.Uint32(data[ins.K:])
		case bpfAnd:
			a &= ins.K
		case bpfJA:
			pc += int(ins.K)
			if pc+1 >= len(prog) {
				t.Fatalf("pc %d: ja past the end", pc)
			}
		case bpfJEQ:
			jump(a == ins.K)
		case bpfJGT:
			jump(a > ins.K)
		case bpfJGE:
			jump(a >= ins.K)
		case bpfRet:
			return ins.K
		default:
			t.Fatalf("pc %d: opcode %#x", pc, ins.Code)
		}
	}
	t.Fatal("fell off the end of the program")
	return 0
}

const (
	archX86_64 = unix.AUDIT_ARCH_X86_64
	archI386   = unix.AUDIT_ARCH_I386

	retAllow       = unix.SECCOMP_RET_ALLOW
	retEPERM       = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retKillProcess = unix.SECCOMP_RET_KILL_PROCESS
)

func errnoRet(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }
func uptr(v uint) *uint            { return &v }

func compile(t testing.TB, s *specs.LinuxSeccomp) *Filter {
	t.Helper()
	f, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// x64, x32 and i386 build inputs for one ABI, by syscall name.
func x64(name string, args ...uint64) input { return mk(archX86_64, sysX86_64, name, args) }
func x32(name string, args ...uint64) input { return mk(archX86_64, sysX32, name, args) }
func i386(name string, args ...uint64) input {
	return mk(archI386, sysI386, name, args)
}

func mk(arch uint32, table map[string]uint32, name string, args []uint64) input {
	nr, ok := table[name]
	if !ok {
		panic("no syscall " + name)
	}
	in := input{arch: arch, nr: nr}
	copy(in.args[:], args)
	return in
}

type expect struct {
	in   input
	want uint32
}

func check(t *testing.T, f *Filter, cases []expect) {
	t.Helper()
	for _, c := range cases {
		if got := run(t, f.Prog, c.in); got != c.want {
			t.Errorf("%v: got %#x, want %#x", c.in, got, c.want)
		}
	}
}

func TestTables(t *testing.T) {
	// The newest syscalls must be present, with the kernel's numbers (syscall_64.tbl
	// and syscall_32.tbl share numbers from 403 on).
	for name, nr := range map[string]uint32{
		"futex_waitv": 449, "cachestat": 451, "map_shadow_stack": 453, "statmount": 457,
		"listmount": 458, "lsm_get_self_attr": 459, "lsm_set_self_attr": 460,
		"lsm_list_modules": 461, "mseal": 462, "setxattrat": 463, "getxattrat": 464,
		"listxattrat": 465, "removexattrat": 466, "open_tree_attr": 467,
		"file_getattr": 468, "file_setattr": 469, "uretprobe": 335, "clone3": 435,
	} {
		if got, ok := sysX86_64[name]; !ok || got != nr {
			t.Errorf("x86_64 %s = %d, %v; want %d", name, got, ok, nr)
		}
	}
	for name, nr := range map[string]uint32{"read": 3, "socketcall": 102, "chown32": 212, "clone": 120, "mseal": 462, "file_setattr": 469, "clone3": 435} {
		if got := sysI386[name]; got != nr {
			t.Errorf("i386 %s = %d, want %d", name, got, nr)
		}
	}
	for name, nr := range map[string]uint32{"read": 0, "execve": 520, "ioctl": 514, "pwritev2": 547, "mseal": 462, "clone3": 435} {
		if got := sysX32[name]; got != x32Bit|nr {
			t.Errorf("x32 %s = %#x, want %#x", name, got, x32Bit|nr)
		}
	}
	if _, ok := sysI386["uretprobe"]; ok {
		t.Error("i386 has uretprobe, an x86_64-only syscall")
	}
	if _, ok := sysX32["uretprobe"]; ok {
		t.Error("x32 has uretprobe, an x86_64-only syscall")
	}
}

func TestDockerProfile(t *testing.T) {
	p := spec.DefaultSeccomp()
	f := compile(t, p)
	t.Logf("Docker's default profile: %d instructions", len(f.Prog))
	enosys := errnoRet(unix.ENOSYS)
	const nsFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP
	check(t, f, []expect{
		{x64("read"), retAllow},
		{x64("getpid"), retAllow},
		{x64("execve"), retAllow},
		{x64("chroot"), retAllow}, // CAP_SYS_CHROOT is a Docker default capability
		{x64("mount"), retEPERM},
		{x64("unshare", unix.CLONE_NEWUSER), retEPERM},
		{x64("kexec_load"), retEPERM},
		{x64("bpf"), retEPERM},
		{x64("open_by_handle_at"), retEPERM},
		// clone: allowed unless a namespace flag is set.
		{x64("clone", uint64(unix.SIGCHLD)), retAllow},
		{x64("clone", unix.CLONE_VM|unix.CLONE_THREAD|0xffff_ffff_0000_0000), retAllow},
		{x64("clone", unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)), retEPERM},
		{x64("clone", nsFlags), retEPERM},
		// clone3 gets ENOSYS so that libcs fall back to clone.
		{x64("clone3"), enosys},
		// personality: only the four listed values.
		{x64("personality", 0), retAllow},
		{x64("personality", 8), retAllow},
		{x64("personality", 0x20008), retAllow},
		{x64("personality", 0xffffffff), retAllow},
		{x64("personality", 0x0040000 /* ADDR_NO_RANDOMIZE */), retEPERM},
		{x64("personality", 0x1_0000_0000), retEPERM},         // low word matches 0, high does not
		{x64("personality", 0xffff_ffff_ffff_ffff), retEPERM}, // 64-bit compare on x86_64
		// socket: AF_UNIX and AF_INET are allowed, with the domain compared in 64 bits.
		{x64("socket", unix.AF_UNIX), retAllow},
		{x64("socket", unix.AF_INET6), retAllow},
		{x64("socket", 0x1_0000_0001), retEPERM},
		// Newest syscalls in the profile.
		{x64("mseal"), retAllow},
		{x64("listmount"), retAllow},
		{x64("statmount"), retAllow},
		{x64("cachestat"), retAllow},
		{x64("futex_waitv"), retAllow},
		{x64("map_shadow_stack"), retAllow},
		{x64("setxattrat"), retAllow},
		{x64("uretprobe"), retAllow},
		{x64("file_getattr"), enosys},        // newer than moby/profiles v0.3.0
		{x64("open_tree_attr"), enosys},      // the first number above the profile's last
		{x64("removexattrat"), retAllow},     // the profile's last x86_64 number
		{x64("lsm_get_self_attr"), retEPERM}, // needs CAP_SYS_ADMIN
		// Unlisted numbers below the profile's last get the default; beyond it ENOSYS.
		{input{arch: archX86_64, nr: 400}, retEPERM},
		{input{arch: archX86_64, nr: 472 /* above every syscall this package knows */}, enosys},
		{input{arch: archX86_64, nr: 1000}, enosys},
		{input{arch: archX86_64, nr: x32Bit - 1}, enosys},
		// x32 is listed: its own numbers, with the 64-only ones refused.
		{x32("read"), retAllow},
		{x32("execve"), retAllow},
		{input{arch: archX86_64, nr: x32Bit | 59}, retEPERM}, // x86_64's execve number is not x32's
		{x32("mount"), retEPERM},
		{x32("clone", unix.CLONE_NEWUSER), retEPERM},
		{x32("clone3"), enosys},
		{input{arch: archX86_64, nr: x32Bit | 500}, enosys},
		{input{arch: archX86_64, nr: x32Bit | 548}, enosys},
		{input{arch: archX86_64, nr: 0xffffffff}, enosys},
		// i386 is listed: its own numbers.
		{i386("getpid"), retAllow},
		{i386("socketcall"), retAllow},
		{i386("chown32"), retAllow},
		{i386("mount"), retEPERM},
		{i386("clone", unix.CLONE_NEWUSER), retEPERM},
		{i386("clone", uint64(unix.SIGCHLD)), retAllow},
		{i386("personality", 0xffffffff), retAllow},
		// i386 arguments are 32-bit: the high word is not compared.
		{i386("personality", 0xffff_ffff_ffff_ffff), retAllow},
		{i386("clone3"), enosys},
		{input{arch: archI386, nr: 1000}, enosys},
		// An architecture an x86_64 kernel never reports.
		{input{arch: unix.AUDIT_ARCH_AARCH64, nr: 63}, retKillProcess},
	})
}

func TestDockerProfileCaps(t *testing.T) {
	f := compile(t, spec.DefaultSeccompFor([]string{"sys_admin", "CAP_SYS_PTRACE"}))
	check(t, f, []expect{
		{x64("mount"), retAllow},
		{x64("unshare", unix.CLONE_NEWUSER), retAllow},
		{x64("clone", unix.CLONE_NEWUSER), retAllow},
		{x64("clone3"), retAllow},
		{x64("lsm_get_self_attr"), retAllow},
		{x64("kcmp"), retAllow},
		{x64("chroot"), retEPERM}, // CAP_SYS_CHROOT not given
		{x64("kexec_load"), retEPERM},
	})
	all := []string{"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT", "CAP_SYS_MODULE", "CAP_SYS_PACCT",
		"CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_SYS_NICE",
		"CAP_SYSLOG", "CAP_BPF", "CAP_PERFMON", "CAP_DAC_READ_SEARCH"}
	for _, caps := range [][]string{nil, all} {
		p := spec.DefaultSeccompFor(caps)
		f := compile(t, p)
		t.Logf("Docker's profile with caps %v: %d instructions", caps, len(f.Prog))
		// Every name of the profile is an x86_64 syscall, or a syscall of another
		// architecture (Docker lists send, recv and riscv_hwprobe unconditionally).
		var skipped []string
		for _, sc := range p.Syscalls {
			for _, name := range sc.Names {
				if _, ok := sysX86_64[name]; !ok {
					skipped = append(skipped, name)
					if _, ok := sysI386[name]; !ok && !otherArchNames()[name] {
						t.Errorf("profile name %q is no known syscall", name)
					}
				}
			}
		}
		t.Logf("names not on x86_64: %v", skipped)
	}
}

// TestCompare checks every operator against Go's own uint64 comparison, with
// values whose high or low words differ by one, and random ones.
func TestCompare(t *testing.T) {
	const v = 0x0000_0001_0000_0005
	values := []uint64{0, 1, 4, 5, 6, 0xffffffff, 0x1_0000_0000, v - 1, v, v + 1,
		0x0000_0000_0000_0005, 0x0000_0002_0000_0005, 0x0000_0001_ffff_ffff, 0x0000_0002_0000_0000,
		0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff, 0xffff_ffff_0000_0005}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		values = append(values, rnd.Uint64(), v&0xffff_ffff_0000_0000|uint64(rnd.Uint32()), uint64(rnd.Uint32())<<32|5)
	}
	ops := map[specs.LinuxSeccompOperator]func(a, b uint64) bool{
		specs.OpEqualTo:      func(a, b uint64) bool { return a == b },
		specs.OpNotEqual:     func(a, b uint64) bool { return a != b },
		specs.OpLessThan:     func(a, b uint64) bool { return a < b },
		specs.OpLessEqual:    func(a, b uint64) bool { return a <= b },
		specs.OpGreaterThan:  func(a, b uint64) bool { return a > b },
		specs.OpGreaterEqual: func(a, b uint64) bool { return a >= b },
	}
	for op, fn := range ops {
		for _, val := range []uint64{v, 0, 0xffff_ffff_ffff_ffff, 0xffffffff, 0x1_0000_0000} {
			for _, idx := range []uint{0, 3, 5} {
				f := compile(t, &specs.LinuxSeccomp{
					DefaultAction: specs.ActErrno,
					Architectures: []specs.Arch{specs.ArchX86},
					Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow,
						Args: []specs.LinuxSeccompArg{{Index: idx, Op: op, Value: val}}}},
				})
				for _, a := range values {
					in := x64("getpid")
					in.args[idx] = a
					want := retEPERM
					if fn(a, val) {
						want = retAllow
					}
					if got := run(t, f.Prog, in); got != want {
						t.Errorf("x86_64: arg%d=%#x %s %#x: got %#x, want %#x", idx, a, op, val, got, want)
					}
					// i386 compares the low words only.
					in = i386("getpid")
					in.args[idx] = a
					want = retEPERM
					if fn(a&0xffffffff, val&0xffffffff) {
						want = retAllow
					}
					if got := run(t, f.Prog, in); got != want {
						t.Errorf("i386: arg%d=%#x %s %#x: got %#x, want %#x", idx, a, op, val, got, want)
					}
				}
			}
		}
	}
	// MASKED_EQ: arg & value == valueTwo, in 64 bits.
	for _, mv := range [][2]uint64{{0xff, 0x05}, {0xffff_0000_0000_00ff, 0x1234_0000_0000_0005}, {0x1_0000_0000, 0x1_0000_0000}, {0x1_0000_0000, 0}, {0xff, 0x100}} {
		f := compile(t, &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpMaskedEqual, Value: mv[0], ValueTwo: mv[1]}}}},
		})
		for _, a := range append(values, mv[1], mv[1]|0xff00, mv[1]^0x1_0000_0000) {
			want := retEPERM
			if a&mv[0] == mv[1] {
				want = retAllow
			}
			if got := run(t, f.Prog, x64("getpid", 0, a)); got != want {
				t.Errorf("arg1=%#x & %#x == %#x: got %#x, want %#x", a, mv[0], mv[1], got, want)
			}
		}
	}
}

func TestActions(t *testing.T) {
	for _, c := range []struct {
		act   specs.LinuxSeccompAction
		errno *uint
		want  uint32
	}{
		{specs.ActAllow, nil, retAllow},
		{specs.ActErrno, nil, retEPERM},
		{specs.ActErrno, uptr(42), errnoRet(42)},
		{specs.ActErrno, uptr(0), unix.SECCOMP_RET_ERRNO},
		{specs.ActKill, nil, unix.SECCOMP_RET_KILL_THREAD},
		{specs.ActKillThread, nil, unix.SECCOMP_RET_KILL_THREAD},
		{specs.ActKillProcess, nil, retKillProcess},
		{specs.ActTrap, nil, unix.SECCOMP_RET_TRAP},
		{specs.ActTrace, nil, unix.SECCOMP_RET_TRACE | 1},
		{specs.ActTrace, uptr(0x1234), unix.SECCOMP_RET_TRACE | 0x1234},
		{specs.ActLog, nil, unix.SECCOMP_RET_LOG},
		{specs.ActNotify, nil, unix.SECCOMP_RET_USER_NOTIF},
	} {
		// As a rule's action under a default of ERRNO 99, and as the default action.
		f := compile(t, &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(99),
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: c.act, ErrnoRet: c.errno}},
		})
		// read is below the profile's only name, getppid above it: newer, ENOSYS.
		check(t, f, []expect{{x64("getpid"), c.want}, {x64("read"), errnoRet(99)}, {x64("getppid"), errnoRet(unix.ENOSYS)}})
		wantNotify := c.act == specs.ActNotify
		if f.NeedsListener != wantNotify || (f.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0) != wantNotify {
			t.Errorf("%s: NeedsListener %v, flags %#x", c.act, f.NeedsListener, f.Flags)
		}
		// A profile that names no syscall has no ENOSYS stub (nor has runc's).
		f = compile(t, &specs.LinuxSeccomp{DefaultAction: c.act, DefaultErrnoRet: c.errno})
		check(t, f, []expect{{x64("getpid"), c.want}, {input{arch: archX86_64, nr: 1000}, c.want}})
	}
}

func TestFlags(t *testing.T) {
	f := compile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{
		"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv}})
	want := uint(unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	if f.Flags != want {
		t.Errorf("flags %#x, want %#x", f.Flags, want)
	}
	f = compile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow})
	if f.Flags != unix.SECCOMP_FILTER_FLAG_TSYNC {
		t.Errorf("flags %#x, want TSYNC only", f.Flags)
	}
}

// TestUnlistedABI checks what a syscall through an ABI the profile does not list
// gets: the default action when it refuses, KILL_PROCESS when it would allow.
func TestUnlistedABI(t *testing.T) {
	deny := []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActErrno}}
	allowList := compile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(42),
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow}}})
	check(t, allowList, []expect{
		{x64("getpid"), retAllow},
		{x32("getpid"), errnoRet(42)},
		{i386("getpid"), errnoRet(42)},
		{input{arch: archX86_64, nr: 0xffffffff}, errnoRet(42)},
	})
	for _, def := range []specs.LinuxSeccompAction{specs.ActAllow, specs.ActLog} {
		denyList := compile(t, &specs.LinuxSeccomp{DefaultAction: def, Syscalls: deny})
		check(t, denyList, []expect{
			{x64("mount"), retEPERM},
			{x32("mount"), retKillProcess},
			{i386("mount"), retKillProcess},
			{i386("getpid"), retKillProcess},
		})
	}
	// Listed, the deny-list applies through each ABI's own numbers.
	denyList := compile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: deny,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64}})
	check(t, denyList, []expect{
		{x64("mount"), retEPERM},
		{x32("mount"), retEPERM},
		{i386("mount"), retEPERM},
		{i386("getpid"), retAllow},
		{input{arch: archX86_64, nr: 5000}, retAllow}, // no ENOSYS stub without an ERRNO default
	})
}

func TestRuleSemantics(t *testing.T) {
	f := compile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			// A range on one argument: both conditions must hold (AND).
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpGreaterEqual, Value: 10}, {Index: 0, Op: specs.OpLessEqual, Value: 20}}},
			// Conditions on two arguments: AND; a second entry: OR.
			{Names: []string{"write"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: 1}, {Index: 2, Op: specs.OpLessThan, Value: 100}}},
			{Names: []string{"write"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: 2}}},
			// Conditional entries win over the unconditional one, whatever the order.
			{Names: []string{"kill"}, Action: specs.ActAllow},
			{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: uptr(13), Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: 1}}},
			// The first matching conditional entry decides.
			{Names: []string{"close"}, Action: specs.ActErrno, ErrnoRet: uptr(5), Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpLessThan, Value: 3}}},
			{Names: []string{"close"}, Action: specs.ActErrno, ErrnoRet: uptr(6), Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpLessThan, Value: 10}}},
			// An unconditional entry with the default action is dropped; a
			// conditional one is an exception to the unconditional entry.
			{Names: []string{"getpid"}, Action: specs.ActErrno},
			{Names: []string{"getpid"}, Action: specs.ActAllow},
			{Names: []string{"getppid"}, Action: specs.ActAllow},
			{Names: []string{"getppid"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: 7}}},
			// Of two unconditional entries the first decides, as in libseccomp:
			// podman's profile allows setns and denies it again without
			// CAP_SYS_ADMIN.
			{Names: []string{"setns"}, Action: specs.ActAllow},
			{Names: []string{"setns"}, Action: specs.ActErrno, ErrnoRet: uptr(1)},
			// Names of other ABIs and architectures are skipped.
			{Names: []string{"chown32", "arm_fadvise64_64", "breakpoint", "s390_sthyi", "getuid"}, Action: specs.ActAllow},
		},
	})
	check(t, f, []expect{
		{x64("read", 9), retEPERM},
		{x64("read", 10), retAllow},
		{x64("read", 20), retAllow},
		{x64("read", 21), retEPERM},
		{x64("write", 1, 0, 99), retAllow},
		{x64("write", 1, 0, 100), retEPERM},
		{x64("write", 2, 0, 1000), retAllow},
		{x64("write", 3), retEPERM},
		{x64("kill", 1), errnoRet(13)},
		{x64("kill", 2), retAllow},
		{x64("close", 1), errnoRet(5)},
		{x64("close", 5), errnoRet(6)},
		{x64("close", 50), retEPERM},
		{x64("getpid"), retAllow},
		{x64("getppid", 6), retAllow},
		{x64("getppid", 7), retEPERM},
		{x64("getuid"), retAllow},
		{x64("setns"), retAllow},
	})
}

func TestErrors(t *testing.T) {
	ok := specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow}
	for _, c := range []struct {
		s    specs.LinuxSeccomp
		want string
	}{
		{specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"}, `linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"`},
		{specs.LinuxSeccomp{}, `linux.seccomp.defaultAction: missing`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uptr(1)}, `linux.seccomp.defaultErrnoRet: only valid with`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(5000)}, `linux.seccomp.defaultErrnoRet: errno 5000 is above 4095`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}, `linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_VAX"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_FOO"}}, `linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_FOO"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{ok, ok, ok, {Names: []string{"read"}, Action: "SCMP_ACT_FOO"}}}, `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "opne"}, Action: specs.ActAllow}}}, `linux.seccomp.syscalls[0].names[1]: unknown syscall "opne"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Action: specs.ActAllow}}}, `linux.seccomp.syscalls[0].names: no syscall names`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, ErrnoRet: uptr(1)}}}, `linux.seccomp.syscalls[0].errnoRet: only valid with`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, `linux.seccomp.syscalls[0].args[0].index: 6 is not an argument index`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_FOO"}}}}}, `linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_FOO"`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Op: specs.OpEqualTo, ValueTwo: 1}}}}}, `linux.seccomp.syscalls[0].args[0].valueTwo: only valid with SCMP_CMP_MASKED_EQ`},
	} {
		err := Validate(&c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if err := Validate(nil); err == nil {
		t.Error("nil profile accepted")
	}
}

// TestTooLarge checks that a profile over the kernel's 4096 instructions is refused.
func TestTooLarge(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for name := range sysX86_64 {
		var args []specs.LinuxSeccompArg
		for i := range 6 {
			args = append(args, specs.LinuxSeccompArg{Index: uint(i), Op: specs.OpEqualTo, Value: 1 << 40})
		}
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow, Args: args})
	}
	_, err := Compile(s)
	if err == nil || !strings.Contains(err.Error(), "the kernel allows 4096") {
		t.Fatalf("got %v, want a size error", err)
	}
}

// model is the documented semantics of a profile, written directly: the compiled
// program must agree with it on every input.
func model(s *specs.LinuxSeccomp, in input) uint32 {
	act := func(a specs.LinuxSeccompAction, e *uint) uint32 {
		data := uint32(1)
		if e != nil {
			data = uint32(*e)
		}
		switch a {
		case specs.ActAllow:
			return retAllow
		case specs.ActErrno:
			return unix.SECCOMP_RET_ERRNO | data
		case specs.ActTrace:
			return unix.SECCOMP_RET_TRACE | data
		case specs.ActKillProcess:
			return retKillProcess
		case specs.ActLog:
			return unix.SECCOMP_RET_LOG
		}
		panic(a)
	}
	def := act(s.DefaultAction, s.DefaultErrnoRet)
	unlisted := def
	if def == retAllow || def == unix.SECCOMP_RET_LOG {
		unlisted = retKillProcess
	}
	newer := def
	if s.DefaultAction == specs.ActErrno {
		newer = errnoRet(unix.ENOSYS)
	}
	// last is the highest number the profile names in [lo, hi] of table, if any.
	last := func(table map[string]uint32, lo, hi uint32) (uint32, bool) {
		var m uint32
		found := false
		for _, sc := range s.Syscalls {
			for _, n := range sc.Names {
				if nr, ok := table[n]; ok && nr >= lo && nr <= hi && (!found || nr > m) {
					m, found = nr, true
				}
			}
		}
		return m, found
	}
	var table map[string]uint32
	var lo, hi uint32
	wide := true
	switch {
	case in.arch == archX86_64 && in.nr < x32Bit:
		table, lo, hi = sysX86_64, 0, x32Bit-1
	case in.arch == archX86_64:
		if !slices.Contains(s.Architectures, specs.ArchX32) {
			return unlisted
		}
		table, lo, hi = sysX32, x32Bit, x32Bit|511
		if in.nr >= x32Bit|512 {
			lo, hi = x32Bit|512, 0xffffffff
		}
	case in.arch == archI386:
		if !slices.Contains(s.Architectures, specs.ArchX86) {
			return unlisted
		}
		table, lo, hi, wide = sysI386, 0, 0xffffffff, false
	default:
		return retKillProcess
	}
	if m, ok := last(table, lo, hi); ok && in.nr > m {
		return newer
	}
	name := ""
	for n, nr := range table {
		if nr == in.nr {
			name = n
		}
	}
	if name == "" {
		return def
	}
	fallback := def
	for _, sc := range s.Syscalls {
		r := act(sc.Action, sc.ErrnoRet)
		if !slices.Contains(sc.Names, name) {
			continue
		}
		if len(sc.Args) == 0 {
			if r != def && fallback == def {
				fallback = r
			}
			continue
		}
		match := true
		for _, a := range sc.Args {
			x, v, v2 := in.args[a.Index], a.Value, a.ValueTwo
			if !wide {
				x, v, v2 = x&0xffffffff, v&0xffffffff, v2&0xffffffff
			}
			switch a.Op {
			case specs.OpEqualTo:
				match = match && x == v
			case specs.OpNotEqual:
				match = match && x != v
			case specs.OpLessThan:
				match = match && x < v
			case specs.OpLessEqual:
				match = match && x <= v
			case specs.OpGreaterThan:
				match = match && x > v
			case specs.OpGreaterEqual:
				match = match && x >= v
			case specs.OpMaskedEqual:
				match = match && x&v == v2
			}
		}
		if match {
			return r
		}
	}
	return fallback
}

// TestRandomProfiles compares compiled programs with the model on random profiles,
// large enough to need long jumps (trampolines), and random inputs.
func TestRandomProfiles(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var names []string
	for n := range sysX86_64 {
		names = append(names, n)
	}
	for n := range sysI386 {
		if _, ok := sysX86_64[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	vals := []uint64{0, 1, 2, 0xffffffff, 0x1_0000_0000, 0x1_0000_0001, 0xffff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 42}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}
	acts := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActTrace, specs.ActKillProcess, specs.ActLog}
	arches := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	maxLen := 0
	for range 300 {
		s := &specs.LinuxSeccomp{DefaultAction: acts[rnd.IntN(len(acts))]}
		if s.DefaultAction == specs.ActErrno && rnd.IntN(2) == 0 {
			s.DefaultErrnoRet = uptr(uint(rnd.IntN(100)))
		}
		for _, a := range arches {
			if rnd.IntN(2) == 0 {
				s.Architectures = append(s.Architectures, a)
			}
		}
		uncond := map[string]bool{}
		for range rnd.IntN(50) {
			sc := specs.LinuxSyscall{Action: acts[rnd.IntN(len(acts))]}
			if sc.Action == specs.ActErrno || sc.Action == specs.ActTrace {
				sc.ErrnoRet = uptr(uint(rnd.IntN(3)))
			}
			for range 1 + rnd.IntN(4) {
				sc.Names = append(sc.Names, names[rnd.IntN(len(names))])
			}
			for range rnd.IntN(4) {
				a := specs.LinuxSeccompArg{Index: uint(rnd.IntN(3)), Op: ops[rnd.IntN(len(ops))], Value: vals[rnd.IntN(len(vals))]}
				if a.Op == specs.OpMaskedEqual {
					a.ValueTwo = vals[rnd.IntN(len(vals))]
				}
				sc.Args = append(sc.Args, a)
			}
			if len(sc.Args) == 0 {
				// Keep unconditional entries free of conflicts.
				sc.Names = slices.DeleteFunc(sc.Names, func(n string) bool { return uncond[n] })
				if len(sc.Names) == 0 {
					continue
				}
				for _, n := range sc.Names {
					uncond[n] = true
				}
			}
			s.Syscalls = append(s.Syscalls, sc)
		}
		f, err := Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		maxLen = max(maxLen, len(f.Prog))
		for range 400 {
			in := input{arch: archX86_64}
			switch rnd.IntN(8) {
			case 0:
				in.arch = archI386
				in.nr = uint32(rnd.IntN(500))
			case 1:
				in.nr = x32Bit | uint32(rnd.IntN(600))
			case 2:
				in.nr = rnd.Uint32()
			case 3:
				in.arch = rnd.Uint32()
			default:
				in.nr = uint32(rnd.IntN(480))
			}
			for i := range 3 {
				in.args[i] = vals[rnd.IntN(len(vals))]
			}
			if got, want := run(t, f.Prog, in), model(s, in); got != want {
				t.Fatalf("profile %+v\n%v: got %#x, want %#x", s, in, got, want)
			}
		}
	}
	t.Logf("largest random program: %d instructions", maxLen)
}

func BenchmarkCompileDocker(b *testing.B) {
	p := spec.DefaultSeccomp()
	var n int
	for b.Loop() {
		f, err := Compile(p)
		if err != nil {
			b.Fatal(err)
		}
		n = len(f.Prog)
	}
	b.ReportMetric(float64(n), "insns")
}

// TestFeatures: every action, operator, architecture and flag that Features
// lists (hullrt features) compiles.
func TestFeatures(t *testing.T) {
	f := Features()
	if f.Enabled == nil || !*f.Enabled || len(f.Actions) == 0 || len(f.Operators) == 0 || len(f.Archs) == 0 || len(f.KnownFlags) == 0 {
		t.Fatalf("features: %+v", f)
	}
	for _, a := range f.Actions {
		if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid"}, Action: specs.LinuxSeccompAction(a)}}}); err != nil {
			t.Errorf("action %s: %v", a, err)
		}
	}
	for _, op := range f.Operators {
		arg := specs.LinuxSeccompArg{Index: 0, Value: 8, Op: specs.LinuxSeccompOperator(op)}
		if arg.Op == specs.OpMaskedEqual {
			arg.ValueTwo = 8
		}
		if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{arg}}}}); err != nil {
			t.Errorf("operator %s: %v", op, err)
		}
	}
	for _, a := range f.Archs {
		if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.Arch(a)}}); err != nil {
			t.Errorf("architecture %s: %v", a, err)
		}
	}
	for _, fl := range f.KnownFlags {
		if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(fl)}}); err != nil {
			t.Errorf("flag %s: %v", fl, err)
		}
	}
}
