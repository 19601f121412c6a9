package monitor

import (
	"reflect"
	"strings"
	"testing"
)

// The engine writes a monitor's command line (Encode) and cmd/hull reads it back
// (ParseArgs); what is not exactly one of its forms goes to the command tree.
func TestArgs(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, a := range []Args{
		{Root: "/var/lib/hull", State: "/run/hull", ID: id},
		{Root: "/r", State: "/s", ID: NamedLater},
		{Root: "/r", State: "/s", ID: NamedLater, Attached: true},
		{Root: "/r", State: "/s", ID: id, Attached: true},
		{Root: "/r", State: "/s", ID: id, Resume: true},
	} {
		enc := a.Encode()
		got, ok := ParseArgs(enc)
		if !ok || got != a {
			t.Errorf("%+v: encoded %q, parsed back %+v %v", a, enc, got, ok)
		}
	}
	// The forms on the wire, as ps shows them and scripts match them.
	if got := (Args{Root: "/r", State: "/s", ID: NamedLater, Attached: true}).Encode(); !reflect.DeepEqual(got, []string{"--root", "/r", "--state", "/s", "monitor", "--attached", "-"}) {
		t.Errorf("attached: %q", got)
	}
	if got := (Args{Root: "/r", State: "/s", ID: id, Resume: true}).ResidentArgs(); !reflect.DeepEqual(got, []string{"--root", "/r", "--state", "/s", id}) {
		t.Errorf("resident: %q", got)
	}
	for _, argv := range [][]string{
		nil,
		{"run", "-d", "busybox"},
		{"--root", "/r", "--state", "/s", "monitor"},
		{"--root", "/r", "--state", "/s", "ps", id},
		{"--state", "/s", "--root", "/r", "monitor", id},
		{"--root", "/r", "--state", "/s", "monitor", "--detached", id},
		{"--root", "/r", "--state", "/s", "monitor", "--attached", "--resume", id},
		{"--root", "/r", "--state", "/s", "monitor", "--resume", NamedLater},
		{"--root", "/r", "--state", "/s", "monitor", "--attached"},
		{"--root", "/r", "--state", "/s", "monitor", ""},
		{"--root", "/r", "--state", "/s", "monitor", id, "extra"},
	} {
		if a, ok := ParseArgs(argv); ok {
			t.Errorf("%q taken for a monitor's: %+v", argv, a)
		}
	}
}
