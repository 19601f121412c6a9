//go:build cgo

// Package cgo proves that a statically linked cgo test binary (the way
// runtime/nsenter is built) runs in the cgroup v2 test VM.
package cgo

/*
#include <unistd.h>
#include <sys/syscall.h>

static int hull_vm_getpid(void) { return (int)syscall(SYS_getpid); }
static int hull_vm_add(int a, int b) { return a + b; }
*/
import "C"

// Getpid asks C for the pid.
func Getpid() int { return int(C.hull_vm_getpid()) }

// Add adds in C.
func Add(a, b int) int { return int(C.hull_vm_add(C.int(a), C.int(b))) }
