package runtime

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/hullproject/hull/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCompileInitTakesValidatedFilter: Create compiles a spec's seccomp profile
// once. validate keeps the program it compiled to check the profile, and the C
// init's compiler puts that program in init's operations rather than compiling
// the profile again (a second compile was 0.4 ms of every start).
func TestCompileInitTakesValidatedFilter(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	profile := func(allowed string) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls:      []specs.LinuxSyscall{{Names: []string{allowed}, Action: specs.ActAllow}},
		}
	}
	spec := &specs.Spec{
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: []string{"true"}, Cwd: "/"},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}},
			Seccomp:    profile("getpid"),
		},
	}
	var validated *seccomp.Filter
	if err := validate(spec, bundle, &validated); err != nil {
		t.Fatal(err)
	}
	own, err := seccomp.Compile(spec.Linux.Seccomp)
	if err != nil {
		t.Fatal(err)
	}
	if validated == nil || !bytes.Equal(progBytes(validated), progBytes(own)) {
		t.Fatalf("validate kept %v, want the profile's program", validated)
	}
	// A program that differs from the profile's shows which one init gets.
	other, err := seccomp.Compile(profile("getppid"))
	if err != nil {
		t.Fatal(err)
	}
	ops, err := compileInit(&bootstrap{Spec: spec, Process: *spec.Process, Rootfs: filepath.Join(bundle, "rootfs"), filter: other})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ops, progBytes(other)) || bytes.Contains(ops, progBytes(own)) {
		t.Error("compileInit compiled the profile again instead of taking the validated program")
	}
	// Without one (hullrt's exec, a caller that did not validate), it compiles.
	if ops, err = compileInit(&bootstrap{Spec: spec, Process: *spec.Process, Rootfs: filepath.Join(bundle, "rootfs")}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ops, progBytes(own)) {
		t.Error("compileInit without a validated program left seccomp out")
	}
}

// progBytes is f's program as init's operations carry it.
func progBytes(f *seccomp.Filter) []byte {
	var b []byte
	for _, ins := range f.Prog {
		b = binary.NativeEndian.AppendUint16(b, ins.Code)
		b = append(b, ins.Jt, ins.Jf)
		b = binary.NativeEndian.AppendUint32(b, ins.K)
	}
	return b
}
