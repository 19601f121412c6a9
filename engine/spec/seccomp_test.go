package spec

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func allowed(p *specs.LinuxSeccomp, name string) bool {
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow && slices.Contains(sc.Names, name) {
			return true
		}
	}
	return false
}

// Docker's profile follows the capabilities: mount only with CAP_SYS_ADMIN, in
// any spelling of its name.
func TestDefaultSeccompForCaps(t *testing.T) {
	def := DefaultSeccomp()
	if def.DefaultAction != specs.ActErrno || !allowed(def, "read") || allowed(def, "mount") {
		t.Errorf("Docker's default profile: default %s, read %v, mount %v",
			def.DefaultAction, allowed(def, "read"), allowed(def, "mount"))
	}
	if want := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}; !slices.Equal(def.Architectures, want) {
		t.Errorf("architectures %v, want %v", def.Architectures, want)
	}
	for _, caps := range [][]string{{"CAP_SYS_ADMIN"}, {"sys_admin"}, {"Sys_Admin", "CAP_CHOWN"}} {
		if !allowed(DefaultSeccompFor(caps), "mount") {
			t.Errorf("caps %v: mount not allowed", caps)
		}
	}
	// Each call is a new value.
	def.Syscalls = nil
	if len(DefaultSeccomp().Syscalls) == 0 {
		t.Error("a caller's change reached the next profile")
	}
	if len(DefaultCaps) != 14 || !slices.Contains(DefaultCaps, "CAP_NET_BIND_SERVICE") {
		t.Errorf("DefaultCaps %v", DefaultCaps)
	}
}
