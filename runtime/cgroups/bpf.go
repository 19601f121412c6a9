package cgroups

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The cgroup2 device filter is a few eBPF instructions and five bpf(2) commands,
// written here rather than with a library: github.com/cilium/ebpf, which this
// package used, brought 20 package initialisers and 1.1 MB into every binary that
// links this package (hullrt, hull), run at each start and faulted in, for hosts
// where the filter is rarely made (cgroup v1 has a devices controller).

// bpfInsn is struct bpf_insn.
type bpfInsn struct {
	Code uint8
	Regs uint8 // dst_reg in the low four bits, src_reg in the high four
	Off  int16
	Imm  int32
}

// The instructions deviceFilter uses (linux/bpf_common.h, linux/bpf.h).
const (
	bpfLdxMemW  = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	bpfMov32Reg = 0xbc // BPF_ALU | BPF_MOV | BPF_X: dst = (u32)src
	bpfAnd32Imm = 0x54 // BPF_ALU | BPF_AND | BPF_K: dst = (u32)dst & imm
	bpfRsh32Imm = 0x74 // BPF_ALU | BPF_RSH | BPF_K: dst = (u32)dst >> imm
	bpfMov64Imm = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
	bpfJneImm   = 0x55 // BPF_JMP | BPF_JNE | BPF_K: if dst != imm, pc += off
	bpfJeqImm   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K: if dst == imm, pc += off
	bpfExit     = 0x95 // BPF_JMP | BPF_EXIT: return r0
)

// Registers.
const (
	r0 = iota
	r1
	r2
	r3
	r4
	r5
	r6
)

func ins(code, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{Code: code, Regs: dst | src<<4, Off: off, Imm: imm}
}

// deviceFilter compiles the rules into a cgroup device program with the meaning of
// allowedAccess. It keeps in R3 the part of the access asked for that no rule has
// decided yet and tests the rules from last to first: a deny rule that names the
// device and any of that part denies; an allow rule that names the device takes
// its own access out of it, and allows once nothing is left. Past all rules, what
// is left is allowed.
//
// Each rule is a block whose failed tests jump to the start of the next block
// (the rule before it, or the final allow): an offset counted from the
// instruction after the jump to the end of the block.
func deviceFilter(rules []specs.LinuxDeviceCgroup) []bpfInsn {
	insns := []bpfInsn{
		ins(bpfLdxMemW, r2, r1, 0, 0), // access_type
		ins(bpfMov32Reg, r3, r2, 0, 0),
		ins(bpfAnd32Imm, r2, 0, 0, 0xffff), // R2 = type
		ins(bpfRsh32Imm, r3, 0, 0, 16),     // R3 = access
		ins(bpfLdxMemW, r4, r1, 4, 0),      // major
		ins(bpfLdxMemW, r5, r1, 8, 0),      // minor
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		var block []bpfInsn
		jumps := []int{} // indexes in block of the jumps to the next block
		jump := func(in bpfInsn) {
			jumps = append(jumps, len(block))
			block = append(block, in)
		}
		switch r.Type {
		case "b":
			jump(ins(bpfJneImm, r2, 0, 0, devBlock))
		case "c":
			jump(ins(bpfJneImm, r2, 0, 0, devChar))
		}
		if r.Major != nil && *r.Major != anyNumber {
			jump(ins(bpfJneImm, r4, 0, 0, int32(*r.Major)))
		}
		if r.Minor != nil && *r.Minor != anyNumber {
			jump(ins(bpfJneImm, r5, 0, 0, int32(*r.Minor)))
		}
		acc := accessBits(r.Access)
		switch {
		case acc == accAll:
			// Decides all that is left, whichever way.
		case r.Allow:
			block = append(block, ins(bpfAnd32Imm, r3, 0, 0, ^acc&accAll))
			jump(ins(bpfJneImm, r3, 0, 0, 0))
		default:
			block = append(block, ins(bpfMov32Reg, r6, r3, 0, 0), ins(bpfAnd32Imm, r6, 0, 0, acc))
			jump(ins(bpfJeqImm, r6, 0, 0, 0))
		}
		verdict := int32(0)
		if r.Allow {
			verdict = 1
		}
		unconditional := len(block) == 0
		block = append(block, ins(bpfMov64Imm, r0, 0, 0, verdict), ins(bpfExit, 0, 0, 0, 0))
		for _, j := range jumps {
			block[j].Off = int16(len(block) - j - 1)
		}
		insns = append(insns, block...)
		if unconditional {
			// The verifier refuses unreachable code: nothing after a rule that
			// decides every access to every device can run.
			return insns
		}
	}
	return append(insns, ins(bpfMov64Imm, r0, 0, 0, 1), ins(bpfExit, 0, 0, 0, 0))
}

// bpf is the bpf(2) system call with attr, a struct of the union bpf_attr.
func bpf[T any](cmd int, attr *T) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// The parts of union bpf_attr used here, as linux/bpf.h lays them out.
type (
	progLoadAttr struct {
		ProgType    uint32
		InsnCnt     uint32
		Insns       uint64
		License     uint64
		LogLevel    uint32
		LogSize     uint32
		LogBuf      uint64
		KernVersion uint32
		ProgFlags   uint32
	}
	progAttachAttr struct {
		TargetFd     uint32
		AttachBpfFd  uint32
		AttachType   uint32
		AttachFlags  uint32
		ReplaceBpfFd uint32
	}
	progQueryAttr struct {
		TargetFd    uint32
		AttachType  uint32
		QueryFlags  uint32
		AttachFlags uint32
		ProgIDs     uint64
		ProgCnt     uint32
		_           uint32
	}
	progGetFdByIDAttr struct {
		ProgID    uint32
		NextID    uint32
		OpenFlags uint32
	}
)

// loadDeviceFilter loads insns as a BPF_PROG_TYPE_CGROUP_DEVICE program and
// returns its descriptor (close-on-exec, as the kernel makes every bpf
// descriptor). A program the verifier refuses is loaded again with its log, for
// the error.
func loadDeviceFilter(insns []bpfInsn) (int, error) {
	license := []byte("Apache-2.0\x00")
	attr := progLoadAttr{
		ProgType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		InsnCnt:  uint32(len(insns)),
		Insns:    uint64(uintptr(unsafe.Pointer(&insns[0]))),
		License:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	fd, err := bpf(unix.BPF_PROG_LOAD, &attr)
	if err != nil && (err == unix.EACCES || err == unix.EINVAL) {
		log := make([]byte, 64<<10)
		attr.LogLevel, attr.LogSize, attr.LogBuf = 1, uint32(len(log)), uint64(uintptr(unsafe.Pointer(&log[0])))
		if _, lerr := bpf(unix.BPF_PROG_LOAD, &attr); lerr != nil {
			if l := strings.TrimSpace(string(log[:max(0, strings.IndexByte(string(log), 0))])); l != "" {
				err = fmt.Errorf("%w: verifier: %s", err, l)
			}
		}
		runtime.KeepAlive(log)
	}
	runtime.KeepAlive(insns)
	runtime.KeepAlive(license)
	return fd, err
}

// deviceFilters lists the ids of the device programs attached to the cgroup.
func deviceFilters(cgroupFd int) ([]uint32, error) {
	ids := make([]uint32, 16)
	for {
		attr := progQueryAttr{TargetFd: uint32(cgroupFd), AttachType: unix.BPF_CGROUP_DEVICE,
			ProgIDs: uint64(uintptr(unsafe.Pointer(&ids[0]))), ProgCnt: uint32(len(ids))}
		_, err := bpf(unix.BPF_PROG_QUERY, &attr)
		runtime.KeepAlive(ids)
		if err == unix.ENOSPC && int(attr.ProgCnt) > len(ids) {
			ids = make([]uint32, attr.ProgCnt)
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:attr.ProgCnt], nil
	}
}

// attachDeviceFilter loads the rules as a program and attaches it to the cgroup2
// directory. BPF_PROG_ATTACH (not a bpf_link) keeps the program attached after
// hull exits, tied to the cgroup's life; BPF_F_ALLOW_MULTI lets it coexist with the
// programs of ancestors (systemd's), all of which must allow an access. The new
// program is attached before the old ones are detached, so an update never leaves
// the container without a filter.
func attachDeviceFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	prog, err := loadDeviceFilter(deviceFilter(rules))
	if err != nil {
		return fmt.Errorf("load device filter: %w", err)
	}
	defer unix.Close(prog)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup: %w", err)
	}
	defer unix.Close(fd)
	old, err := deviceFilters(fd)
	if err != nil {
		return fmt.Errorf("query device filters of %s: %w", dir, err)
	}
	_, err = bpf(unix.BPF_PROG_ATTACH, &progAttachAttr{TargetFd: uint32(fd), AttachBpfFd: uint32(prog),
		AttachType: unix.BPF_CGROUP_DEVICE, AttachFlags: unix.BPF_F_ALLOW_MULTI})
	if err != nil {
		return fmt.Errorf("attach device filter to %s: %w", dir, err)
	}
	var errs []error
	for _, id := range old {
		errs = append(errs, detach(fd, id))
	}
	return errors.Join(errs...)
}

func detach(fd int, id uint32) error {
	p, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, &progGetFdByIDAttr{ProgID: id})
	if err != nil {
		return fmt.Errorf("old device filter %d: %w", id, err)
	}
	defer unix.Close(p)
	_, err = bpf(unix.BPF_PROG_DETACH, &progAttachAttr{TargetFd: uint32(fd), AttachBpfFd: uint32(p), AttachType: unix.BPF_CGROUP_DEVICE})
	if err != nil {
		return fmt.Errorf("detach old device filter %d: %w", id, err)
	}
	return nil
}
