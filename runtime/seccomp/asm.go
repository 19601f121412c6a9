package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Classic BPF opcodes the filter uses.
const (
	bpfLdAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS  // A = seccomp_data[k]
	bpfAnd   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K // A &= k
	bpfJA    = unix.BPF_JMP | unix.BPF_JA               // pc += k
	bpfJEQ   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K // pc += A == k ? jt : jf
	bpfJGT   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K // unsigned
	bpfJGE   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K // unsigned
	bpfRet   = unix.BPF_RET | unix.BPF_K                // return k
)

// label names an emitted instruction by its distance from the program's end.
type label int

// asm builds a program back to front. Classic BPF only jumps forward, so emitting
// the targets first means every jump's distance is known when the jump is written:
// an instruction at label p jumping to label t skips p-t-1 instructions, however
// much is emitted before them later. Conditional jumps reach at most 255
// instructions; a farther target gets a trampoline (`ja`, 32-bit offset) or, for a
// return, a copy of the return.
type asm struct {
	ins  []unix.SockFilter // ins[0] is the program's last instruction
	rets map[uint32]label  // the nearest return of each value
}

func newAsm() *asm { return &asm{rets: map[uint32]label{}} }

// next is the label the next emitted instruction gets.
func (a *asm) next() label { return label(len(a.ins)) }

func (a *asm) add(code uint16, jt, jf uint8, k uint32) label {
	a.ins = append(a.ins, unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k})
	return label(len(a.ins) - 1)
}

// program returns the instructions front to back.
func (a *asm) program() []unix.SockFilter {
	p := make([]unix.SockFilter, len(a.ins))
	for i, in := range a.ins {
		p[len(a.ins)-1-i] = in
	}
	return p
}

// ret returns a label that returns k, reusing an earlier one.
func (a *asm) ret(k uint32) label {
	if l, ok := a.rets[k]; ok {
		return l
	}
	l := a.add(bpfRet, 0, 0, k)
	a.rets[k] = l
	return l
}

// fallTo makes the next emitted instruction continue at l: by falling through when
// l is the instruction just emitted, else with a jump.
func (a *asm) fallTo(l label) {
	if l != a.next()-1 {
		a.add(bpfJA, 0, 0, uint32(a.next()-l-1))
	}
}

// load emits A = seccomp_data[off], continuing at next.
func (a *asm) load(off uint32, next label) label {
	a.fallTo(next)
	return a.add(bpfLdAbs, 0, 0, off)
}

// and emits A &= k, continuing at next.
func (a *asm) and(k uint32, next label) label {
	a.fallTo(next)
	return a.add(bpfAnd, 0, 0, k)
}

// near returns a label for t that a conditional jump emitted next can reach.
func (a *asm) near(t label) label {
	if a.next()-t-1 <= 255 {
		return t
	}
	if in := a.ins[t]; in.Code == bpfRet {
		l := a.add(bpfRet, 0, 0, in.K)
		a.rets[in.K] = l
		return l
	}
	return a.add(bpfJA, 0, 0, uint32(a.next()-t-1))
}

// jump emits a conditional jump on A against k.
func (a *asm) jump(code uint16, k uint32, jt, jf label) label {
	if jt == jf {
		return jt
	}
	jf = a.near(jf)
	jt = a.near(jt)
	// near may have emitted a trampoline for jt after jf was checked.
	jf = a.near(jf)
	p := a.next()
	return a.add(code, uint8(p-jt-1), uint8(p-jf-1), k)
}

// compare emits the 64-bit unsigned test of one condition, going to t when it
// holds and to f otherwise. BPF registers are 32 bits, so the high words decide
// unless they are equal, then the low words; wide is false for the i386 ABI, whose
// arguments are 32-bit, and compares the low words only.
func (a *asm) compare(c cond, wide bool, t, f label) label {
	lo := offArgs + 8*uint32(c.index)
	hi := lo + 4
	v, vhi := uint32(c.value), uint32(c.value>>32)
	m, mhi := uint32(c.value), uint32(c.value>>32)       // MASKED_EQ: value is the mask,
	d, dhi := uint32(c.valueTwo), uint32(c.valueTwo>>32) // valueTwo the datum

	// The low words, reached when the high words are equal (or not compared).
	var loTest label
	switch c.op {
	case specs.OpEqualTo:
		loTest = a.load(lo, a.jump(bpfJEQ, v, t, f))
	case specs.OpNotEqual:
		loTest = a.load(lo, a.jump(bpfJEQ, v, f, t))
	case specs.OpGreaterThan:
		loTest = a.load(lo, a.jump(bpfJGT, v, t, f))
	case specs.OpGreaterEqual:
		loTest = a.load(lo, a.jump(bpfJGE, v, t, f))
	case specs.OpLessThan:
		loTest = a.load(lo, a.jump(bpfJGE, v, f, t))
	case specs.OpLessEqual:
		loTest = a.load(lo, a.jump(bpfJGT, v, f, t))
	case specs.OpMaskedEqual:
		loTest = a.load(lo, a.and(m, a.jump(bpfJEQ, d, t, f)))
	default:
		panic("seccomp: unchecked operator " + string(c.op))
	}
	if !wide {
		return loTest
	}

	// The high words: decide when they differ, else go on to the low words.
	switch c.op {
	case specs.OpEqualTo:
		return a.load(hi, a.jump(bpfJEQ, vhi, loTest, f))
	case specs.OpNotEqual:
		return a.load(hi, a.jump(bpfJEQ, vhi, loTest, t))
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		return a.load(hi, a.jump(bpfJGT, vhi, t, a.jump(bpfJEQ, vhi, loTest, f)))
	case specs.OpLessThan, specs.OpLessEqual:
		return a.load(hi, a.jump(bpfJGT, vhi, f, a.jump(bpfJEQ, vhi, loTest, t)))
	default: // specs.OpMaskedEqual
		if mhi == 0 && dhi == 0 {
			// (high & 0) == 0 always holds: no need to look at the high word.
			return loTest
		}
		return a.load(hi, a.and(mhi, a.jump(bpfJEQ, dhi, loTest, f)))
	}
}
