package cgroups

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestDeviceFilterReplaces: a second filter replaces the first (one program stays
// attached, a new one), and a program the verifier refuses is an error naming it.
func TestDeviceFilterReplaces(t *testing.T) {
	m := newManager(t)
	u := m.unified()
	if u == nil {
		t.Skip("no cgroup2 hierarchy")
	}
	fd, err := unix.Open(u.dir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var seen []uint32
	for i := range 3 {
		if err := attachDeviceFilter(u.dir(), append(deviceRules, rule(false, "c", 1, int64(i), "w"))); err != nil {
			t.Fatal(err)
		}
		ids, err := deviceFilters(fd)
		if err != nil || len(ids) != 1 || slices.Contains(seen, ids[0]) {
			t.Fatalf("after attach %d: programs %v, %v (earlier %v): want one, new", i, ids, err, seen)
		}
		seen = append(seen, ids[0])
	}
	// No exit: the verifier refuses a program that falls off its end.
	if _, err := loadDeviceFilter([]bpfInsn{ins(bpfMov64Imm, r0, 0, 0, 1)}); err == nil || !strings.Contains(err.Error(), "verifier") {
		t.Errorf("a program without exit: %v, want the verifier's refusal", err)
	}
}

// TestDeviceFilterEncoding: deviceFilter's hand-encoded program is, byte for byte,
// the one github.com/cilium/ebpf's assembler made from the same rules (the code
// before this package dropped the library, kept below), for every list of the
// device tests and for random lists.
func TestDeviceFilterEncoding(t *testing.T) {
	lists := [][]specs.LinuxDeviceCgroup{nil}
	for _, c := range deviceLists {
		lists = append(lists, c.rules)
	}
	rng := rand.New(rand.NewSource(1))
	types := []string{"", "a", "b", "c"}
	access := []string{"r", "w", "m", "rw", "rm", "wm", "rwm"}
	for range 500 {
		var l []specs.LinuxDeviceCgroup
		for range rng.Intn(8) {
			major, minor := int64(rng.Intn(4))-1, int64(rng.Intn(4))-1
			l = append(l, rule(rng.Intn(2) == 0, types[rng.Intn(len(types))], major, minor, access[rng.Intn(len(access))]))
		}
		lists = append(lists, l)
	}
	for i, rules := range lists {
		var want bytes.Buffer
		if err := ciliumDeviceFilter(rules).Marshal(&want, binary.LittleEndian); err != nil {
			t.Fatalf("list %d: cilium: %v", i, err)
		}
		var got bytes.Buffer
		if err := binary.Write(&got, binary.LittleEndian, deviceFilter(rules)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("list %d %s:\n got %x\nwant %x\ncilium:\n%v", i, fmt.Sprint(rules), got.Bytes(), want.Bytes(), ciliumDeviceFilter(rules))
		}
	}
}

func ciliumDeviceFilter(rules []specs.LinuxDeviceCgroup) asm.Instructions {
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
		if r.Major != nil && *r.Major != anyNumber {
			block = append(block, asm.JNE.Imm(asm.R4, int32(*r.Major), next))
		}
		if r.Minor != nil && *r.Minor != anyNumber {
			block = append(block, asm.JNE.Imm(asm.R5, int32(*r.Minor), next))
		}
		acc := accessBits(r.Access)
		verdict := int32(0)
		switch {
		case acc == accAll:
			// Decides all that is left, whichever way.
		case r.Allow:
			verdict = 1
			block = append(block, asm.And.Imm32(asm.R3, ^acc&accAll), asm.JNE.Imm(asm.R3, 0, next))
		default:
			block = append(block, asm.Mov.Reg32(asm.R6, asm.R3), asm.And.Imm32(asm.R6, acc), asm.JEq.Imm(asm.R6, 0, next))
		}
		if r.Allow {
			verdict = 1
		}
		unconditional := len(block) == 0
		block = append(block, asm.Mov.Imm(asm.R0, verdict), asm.Return())
		block[0] = block[0].WithSymbol(fmt.Sprintf("rule%d", i))
		insns = append(insns, block...)
		if unconditional {
			// The verifier refuses unreachable code: nothing after a rule that
			// decides every access to every device can run.
			return insns
		}
	}
	return append(insns, asm.Mov.Imm(asm.R0, 1).WithSymbol("rule-1"), asm.Return())
}
