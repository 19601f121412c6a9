package caps

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func bits(names ...string) uint64 {
	var b uint64
	for _, n := range names {
		b |= 1 << num(n)
	}
	return b
}

func num(n string) int {
	v, ok := names[n]
	if !ok {
		panic(n)
	}
	return v
}

// TestParseUnknown: an unknown name is left out with one warning naming it, however
// many sets list it; the known names still count.
func TestParseUnknown(t *testing.T) {
	s, warnings := Parse(&specs.LinuxCapabilities{
		Bounding:  []string{"CAP_KILL", "CAP_NOPE"},
		Permitted: []string{"CAP_NOPE", "cap_kill"},
		Ambient:   []string{"CAP_ALSO_NOPE"},
	})
	if s.Bounding != bits("CAP_KILL") || s.Permitted != bits("CAP_KILL") || s.Ambient != 0 {
		t.Errorf("sets %+v", s)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "CAP_NOPE, CAP_ALSO_NOPE") {
		t.Errorf("warnings %q", warnings)
	}
	if _, w := Parse(&specs.LinuxCapabilities{Bounding: Names()}); w != nil {
		t.Errorf("every known name: %q", w)
	}
}

// TestGrantable checks each rule Grantable keeps, against runtime-spec's own
// example and the configs runc and crun write.
func TestGrantable(t *testing.T) {
	k := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	all := Supported()
	for _, c := range []struct {
		name     string
		in       Set
		held     uint64
		want     Set
		warnings []string // a substring of each warning, in order
	}{{
		// `runc spec`: ambient without inheritable; nothing can be raised.
		name: "runc spec",
		in:   Set{Bounding: bits(k...), Effective: bits(k...), Permitted: bits(k...), Ambient: bits(k...)},
		held: all,
		want: Set{Bounding: bits(k...), Effective: bits(k...), Permitted: bits(k...)},
		warnings: []string{
			"process.capabilities.ambient: CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE not in both the permitted and inheritable sets",
		},
	}, {
		// runtime-spec's example: ambient within permitted and inheritable stays.
		name: "spec example",
		in: Set{Bounding: bits(k...), Permitted: bits(k...), Inheritable: bits(k...),
			Effective: bits("CAP_AUDIT_WRITE", "CAP_KILL"), Ambient: bits("CAP_NET_BIND_SERVICE")},
		held: all,
		want: Set{Bounding: bits(k...), Permitted: bits(k...), Inheritable: bits(k...),
			Effective: bits("CAP_AUDIT_WRITE", "CAP_KILL"), Ambient: bits("CAP_NET_BIND_SERVICE")},
	}, {
		// A capability the runtime itself lacks goes from every set, once.
		name: "not held",
		in: Set{Bounding: bits("CAP_KILL", "CAP_SYS_RESOURCE"), Permitted: bits("CAP_KILL", "CAP_SYS_RESOURCE"),
			Effective: bits("CAP_SYS_RESOURCE"), Inheritable: bits("CAP_SYS_RESOURCE"), Ambient: bits("CAP_SYS_RESOURCE")},
		held:     all &^ bits("CAP_SYS_RESOURCE"),
		want:     Set{Bounding: bits("CAP_KILL"), Permitted: bits("CAP_KILL")},
		warnings: []string{"process.capabilities: CAP_SYS_RESOURCE not held by the runtime"},
	}, {
		// effective beyond permitted, inheritable beyond bounding; the ambient
		// capability that depended on the dropped inheritable one goes too.
		name: "kernel rules",
		in: Set{Bounding: bits("CAP_KILL"), Permitted: bits("CAP_KILL", "CAP_SYS_ADMIN"),
			Effective: bits("CAP_KILL", "CAP_CHOWN"), Inheritable: bits("CAP_KILL", "CAP_SYS_ADMIN"),
			Ambient: bits("CAP_KILL", "CAP_SYS_ADMIN")},
		held: all,
		want: Set{Bounding: bits("CAP_KILL"), Permitted: bits("CAP_KILL", "CAP_SYS_ADMIN"),
			Effective: bits("CAP_KILL"), Inheritable: bits("CAP_KILL"), Ambient: bits("CAP_KILL")},
		warnings: []string{
			"process.capabilities.effective: CAP_CHOWN not in the permitted set",
			"process.capabilities.inheritable: CAP_SYS_ADMIN not in the bounding set",
			"process.capabilities.ambient: CAP_SYS_ADMIN not in both",
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			got, warnings := c.in.Grantable(c.held)
			if *got != c.want {
				t.Errorf("got %+v, want %+v", *got, c.want)
			}
			if c.in != in {
				t.Errorf("Grantable changed its receiver")
			}
			if len(warnings) != len(c.warnings) {
				t.Fatalf("warnings %q, want %d", warnings, len(c.warnings))
			}
			for i, w := range c.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %q lacks %q", warnings[i], w)
				}
			}
			// Whatever the input, the result keeps the invariants Apply needs.
			if got.Effective&^got.Permitted != 0 || got.Inheritable&^got.Bounding != 0 ||
				got.Ambient&^(got.Permitted&got.Inheritable) != 0 {
				t.Errorf("result breaks an invariant: %+v", *got)
			}
		})
	}
}

// TestSpecRoundTrip: Spec writes back the names Parse reads.
func TestSpecRoundTrip(t *testing.T) {
	in := Set{Bounding: bits("CAP_KILL", "CAP_BPF"), Ambient: bits("CAP_CHOWN")}
	c := in.Spec()
	if !slices.Equal(c.Bounding, []string{"CAP_KILL", "CAP_BPF"}) || c.Effective != nil {
		t.Errorf("spec %+v", c)
	}
	if back, w := Parse(c); *back != in || w != nil {
		t.Errorf("round trip %+v %q", *back, w)
	}
}

// TestLastReadOnce: Last reads cap_last_cap once per process and keeps it (it was
// read for every capability Bounding looked at, ~45 times per `hullrt run`); the
// value is the kernel's, and Bounding agrees with PR_CAPBSET_READ up to it.
func TestLastReadOnce(t *testing.T) {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Skip(err)
	}
	want, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if got := Last(); got != want {
		t.Fatalf("Last() = %d, cap_last_cap %d", got, want)
	}
	// A file that says otherwise: read again, it would give 7.
	other := filepath.Join(t.TempDir(), "cap_last_cap")
	if err := os.WriteFile(other, []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := capLastCapPath
	capLastCapPath = other
	defer func() { capLastCapPath = saved }()
	if got := Last(); got != want {
		t.Errorf("Last() read the file again: %d, want %d", got, want)
	}
	b := Bounding()
	for c := 0; c <= want+1; c++ {
		on, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if (err == nil && on == 1) != (b&(1<<c) != 0) {
			t.Errorf("capability %d: PR_CAPBSET_READ %d %v, Bounding %#x", c, on, err, b)
		}
	}
}
