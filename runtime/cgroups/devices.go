package cgroups

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setDevices applies the device rules: through the v1 devices controller where
// the host has one, else as an eBPF program on the cgroup2 directory.
//
// Both follow the OCI meaning: the rules are read in order, the last one that
// matches an access decides, and an access no rule matches is allowed (a new
// cgroup allows everything its parent allows). So a list starting with a deny-all
// rule is an allow-list.
func (m *Manager) setDevices(r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	if h := m.find("devices"); h != nil && !h.v2() {
		return setDevicesV1(h, r.Devices)
	}
	u := m.unified()
	if u == nil {
		return fieldErr("devices", "the devices controller is not available on this host")
	}
	if err := attachDeviceFilter(u.dir(), r.Devices); err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	return nil
}

// setDevicesV1 writes each rule to devices.allow or devices.deny. The kernel reads
// a rule of type "a" as "reset to allow or deny everything" whatever its numbers
// and access say, so a narrower "a" rule is written as the same rule for block and
// for char devices.
//
// A known gap: a deny-all rule first cuts off every device until the allow rules
// that follow are written, which a running container may notice during an update.
func setDevicesV1(h *hierarchy, rules []specs.LinuxDeviceCgroup) error {
	for i, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		major, minor, access := devNum(r.Major), devNum(r.Minor), r.Access
		if access == "" {
			access = "rwm"
		}
		var lines []string
		switch {
		case r.Type == "a" || r.Type == "":
			if major == "*" && minor == "*" && strings.Count(access, "")-1 == 3 {
				lines = []string{"a"}
			} else {
				lines = []string{"b " + major + ":" + minor + " " + access, "c " + major + ":" + minor + " " + access}
			}
		default:
			lines = []string{r.Type + " " + major + ":" + minor + " " + access}
		}
		for _, l := range lines {
			if err := put(fmt.Sprintf("devices[%d]", i), h, file, l); err != nil {
				return err
			}
		}
	}
	return nil
}

func devNum(n *int64) string {
	if n == nil || *n == -1 {
		return "*"
	}
	return itoa(*n)
}

// Values the kernel passes a BPF_PROG_TYPE_CGROUP_DEVICE program in struct
// bpf_cgroup_dev_ctx: access_type holds the type in its low 16 bits and the access
// in its high 16 bits; major and minor follow as u32s.
const (
	devBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devChar  = 2 // BPF_DEVCG_DEV_CHAR
	accMknod = 1 // BPF_DEVCG_ACC_MKNOD
	accRead  = 2 // BPF_DEVCG_ACC_READ
	accWrite = 4 // BPF_DEVCG_ACC_WRITE
)

func accessBits(s string) int32 {
	if s == "" {
		s = "rwm"
	}
	var bits int32
	for _, c := range s {
		bits |= map[rune]int32{'m': accMknod, 'r': accRead, 'w': accWrite}[c]
	}
	return bits
}

// deviceFilter compiles the rules into a cgroup device program. It tests the
// rules from last to first and returns the verdict of the first that matches, so
// the last matching rule wins; past all of them it allows. An allow rule matches
// only an access wholly within its own ("rw" does not allow "rwm"); a deny rule
// matches an access that asks for any of its bits ("w" denies "rw").
func deviceFilter(rules []specs.LinuxDeviceCgroup) asm.Instructions {
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word), // access_type
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.And.Imm32(asm.R2, 0xffff),            // R2 = type
		asm.RSh.Imm32(asm.R3, 16),                // R3 = access
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word), // major
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word), // minor
	}
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		next := fmt.Sprintf("rule%d", i-1)
		var block asm.Instructions
		switch r.Type {
		case "b":
			block = append(block, asm.JNE.Imm(asm.R2, devBlock, next))
		case "c":
			block = append(block, asm.JNE.Imm(asm.R2, devChar, next))
		}
		if acc := accessBits(r.Access); acc != accMknod|accRead|accWrite {
			block = append(block, asm.Mov.Reg32(asm.R6, asm.R3))
			if r.Allow {
				block = append(block, asm.And.Imm32(asm.R6, ^acc&7), asm.JNE.Imm(asm.R6, 0, next))
			} else {
				block = append(block, asm.And.Imm32(asm.R6, acc), asm.JEq.Imm(asm.R6, 0, next))
			}
		}
		if r.Major != nil && *r.Major != -1 {
			block = append(block, asm.JNE.Imm(asm.R4, int32(*r.Major), next))
		}
		if r.Minor != nil && *r.Minor != -1 {
			block = append(block, asm.JNE.Imm(asm.R5, int32(*r.Minor), next))
		}
		verdict := int32(0)
		if r.Allow {
			verdict = 1
		}
		unconditional := len(block) == 0
		block = append(block, asm.Mov.Imm(asm.R0, verdict), asm.Return())
		block[0] = block[0].WithSymbol(fmt.Sprintf("rule%d", i))
		insns = append(insns, block...)
		if unconditional {
			// The verifier refuses unreachable code: nothing after a rule that
			// matches everything can run.
			return insns
		}
	}
	return append(insns, asm.Mov.Imm(asm.R0, 1).WithSymbol("rule-1"), asm.Return())
}

// attachDeviceFilter loads the rules as a program and attaches it to the cgroup2
// directory. BPF_PROG_ATTACH (not a bpf_link) keeps the program attached after
// hull exits, tied to the cgroup's life; BPF_F_ALLOW_MULTI lets it coexist with the
// programs of ancestors (systemd's), all of which must allow an access. The new
// program is attached before the old ones are detached, so an update never leaves
// the container without a filter.
func attachDeviceFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.CGroupDevice,
		Instructions: deviceFilter(rules),
		License:      "Apache-2.0",
	})
	if err != nil {
		return fmt.Errorf("load device filter: %w", err)
	}
	defer prog.Close()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup: %w", err)
	}
	defer unix.Close(fd)
	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("query device filters of %s: %w", dir, err)
	}
	err = link.RawAttachProgram(link.RawAttachProgramOptions{Target: fd, Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI})
	if err != nil {
		return fmt.Errorf("attach device filter to %s: %w", dir, err)
	}
	var errs []error
	for _, p := range old.Programs {
		errs = append(errs, detach(fd, p.ID))
	}
	return errors.Join(errs...)
}

func detach(fd int, id ebpf.ProgramID) error {
	p, err := ebpf.NewProgramFromID(id)
	if err != nil {
		return fmt.Errorf("old device filter %d: %w", id, err)
	}
	defer p.Close()
	if err := link.RawDetachProgram(link.RawDetachProgramOptions{Target: fd, Program: p, Attach: ebpf.AttachCGroupDevice}); err != nil {
		return fmt.Errorf("detach old device filter %d: %w", id, err)
	}
	return nil
}
