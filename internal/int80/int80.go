//go:build amd64

// Package int80 makes i386 syscalls from a 64-bit process with `int $0x80`, the
// path a seccomp filter sees as AUDIT_ARCH_I386. The seccomp tests (runtime/seccomp
// in process, test/escape/attack inside a container) use it to prove that a syscall
// through the 32-bit ABI cannot slip past a filter.
package int80

// Syscall makes i386 syscall nr with up to three arguments and returns the kernel's
// 32-bit result (negative errno on failure).
func Syscall(nr, a1, a2, a3 uintptr) int32 {
	return int32(uint32(syscall4(nr, a1, a2, a3)))
}

// syscall4 is in int80_amd64.s.
func syscall4(nr, a1, a2, a3 uintptr) uintptr
