package escape_test

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSysctlSmuggling: a namespaced sysctl whose value carries a second
// "key=value" line must not reach a host-wide sysctl. hullrt refuses it at create
// with a one-line error naming linux.sysctl and leaves no container; any runtime
// must leave the host's core_pattern as it was (guardHost).
func TestSysctlSmuggling(t *testing.T) {
	eachRuntime(t, func(t *testing.T, r *rt) {
		bundle := r.bundle([]string{"/attack", "true"}, func(s *specs.Spec, _ string) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1\nkernel.core_pattern=|/tmp/x"}
		})
		id := newID()
		_, stderr, code := r.run("create", "--bundle", bundle, id)
		if code == 0 {
			defer r.must("delete", "--force", id)
		}
		if r.name != "hullrt" {
			t.Logf("%s create: exit %d: %s", r.name, code, strings.TrimSpace(stderr))
			return
		}
		msg := strings.TrimSpace(stderr)
		if code == 0 {
			t.Fatal("create accepted a sysctl value with a line break")
		}
		if strings.Contains(msg, "\n") || !strings.Contains(msg, "linux.sysctl") {
			t.Errorf("want one line naming linux.sysctl, got %q", msg)
		}
		if out := r.must("list", "-q"); strings.TrimSpace(out) != "" {
			t.Errorf("a refused create left a container: %q", out)
		}
		// The same key with a plain value is fine: the refusal is about the value.
		ok := r.bundle([]string{"/attack", "true"}, func(s *specs.Spec, _ string) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		})
		if _, stderr, code := r.run("create", "--bundle", ok, newID()); code != 0 {
			t.Errorf("create with net.ipv4.ip_forward=1: exit %d: %s", code, stderr)
		}
	})
}
