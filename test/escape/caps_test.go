package escape_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestCapabilities: root in the container has exactly Docker's capabilities, with
// nothing inheritable or ambient, from run and from exec.
func TestCapabilities(t *testing.T) {
	want := map[string]string{
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000",
		"CapPrm": dockerCapMask, "CapEff": dockerCapMask, "CapBnd": dockerCapMask,
	}
	eachRuntime(t, func(t *testing.T, r *rt) {
		out, stderr, code := r.runFg(r.bundle([]string{"/attack", "status"}, nil))
		if code != 0 {
			t.Fatalf("run: exit %d: %s", code, stderr)
		}
		expect(t, keyValues(out), want)
		id, _ := r.start(r.bundle([]string{"/bin/sleep", "600"}, nil))
		expect(t, keyValues(r.must("exec", id, "/attack", "status")), want)
	})
}

// TestNoNewPrivileges: a non-root user (uid 1000, no effective or permitted
// capabilities, no_new_privs) gains nothing by executing a setuid-root copy of the
// helper or a copy that carries file capabilities: the uids and capability sets stay
// those of the plain helper.
func TestNoNewPrivileges(t *testing.T) {
	eachRuntime(t, func(t *testing.T, r *rt) {
		bundle := r.bundle(nil, func(s *specs.Spec, rootfs string) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.NoNewPrivileges = true
			s.Process.Capabilities.Effective = nil
			s.Process.Capabilities.Permitted = nil
			attack := readFile(t, filepath.Join(rootfs, "attack"))
			// A setuid-root copy.
			suid := filepath.Join(rootfs, "attack-suid")
			if err := os.WriteFile(suid, []byte(attack), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := unix.Chmod(suid, 0o4755); err != nil { // os.Chmod would drop the bit
				t.Fatal(err)
			}
			// A copy with file capabilities (VFS_CAP_REVISION_2): CAP_CHOWN,
			// CAP_DAC_OVERRIDE and CAP_NET_RAW permitted and effective -- all in
			// the bounding set, so only no_new_privs stands in the way.
			fcap := filepath.Join(rootfs, "attack-fcap")
			if err := os.WriteFile(fcap, []byte(attack), 0o755); err != nil {
				t.Fatal(err)
			}
			perm := uint32(1<<unix.CAP_CHOWN | 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_NET_RAW)
			xattr := make([]byte, 20)
			le32(xattr[0:], 0x02000000|1) // revision 2, effective
			le32(xattr[4:], perm)
			if err := unix.Setxattr(fcap, "security.capability", xattr, 0); err != nil {
				t.Fatal(err)
			}
			s.Process.Args = script([][]string{{"plain", "status"}, {"suid", "/attack-suid", "status"}, {"fcap", "/attack-fcap", "status"}})
		})
		out, stderr, code := r.runFg(bundle)
		if code != 0 {
			t.Fatalf("run: exit %d: %s", code, stderr)
		}
		got := results(out)
		plain := got["plain"]
		if !strings.Contains(plain, "Uid=1000 1000 1000 1000") || !strings.Contains(plain, "CapEff=0000000000000000") {
			t.Fatalf("the plain helper does not run as an unprivileged uid 1000: %s", plain)
		}
		if !strings.Contains(plain, "NoNewPrivs=1") {
			t.Errorf("no_new_privs is not set: %s", plain)
		}
		for _, c := range []string{"suid", "fcap"} {
			if got[c] != plain {
				t.Errorf("%s: credentials changed:\n got %s\nwant %s", c, got[c], plain)
			}
		}
	})
}

func le32(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }

// TestSupplementaryGroups: the process has exactly the configured additional groups
// -- no stray 0 from the runtime's own, which here are 0 and 4242 -- from run and
// from exec, as root and as a user.
func TestSupplementaryGroups(t *testing.T) {
	eachRuntime(t, func(t *testing.T, r *rt) {
		for name, user := range map[string]specs.User{
			"root": {UID: 0, GID: 0, AdditionalGids: []uint32{10, 20}},
			"user": {UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}},
		} {
			t.Run(name, func(t *testing.T) {
				r := r.sub(t)
				r.groups = []uint32{0, 4242}
				edit := func(s *specs.Spec, _ string) { s.Process.User = user }
				out, stderr, code := r.runFg(r.bundle([]string{"/attack", "status"}, edit))
				if code != 0 {
					t.Fatalf("run: exit %d: %s", code, stderr)
				}
				if g := keyValues(out)["Groups"]; g != "10 20" {
					t.Errorf("run: Groups: %q, want \"10 20\"", g)
				}
				id, _ := r.start(r.bundle([]string{"/bin/sleep", "600"}, edit))
				if g := keyValues(r.must("exec", id, "/attack", "status"))["Groups"]; g != "10 20" {
					t.Errorf("exec: Groups: %q, want \"10 20\"", g)
				}
			})
		}
	})
}
