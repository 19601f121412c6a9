package resident

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestHandoverText: every field survives Encode and ParseHandover, whatever
// bytes the container's output and the engine's state hold.
func TestHandoverText(t *testing.T) {
	h := &Handover{
		Exe: "/usr/bin/hull", Args: []string{"/usr/bin/hull", "--root", "/var/lib/my hull", "monitor", "--resume", "abc"},
		ID: "abc", Pid: 4242, Out: 5, Err: -1, Listener: 7, Keep: []int{8, 9}, Clients: []int{11},
		LogPath: "/var/lib/hull/containers/abc/abc-json.log", LogOpts: []string{"max-size=1m", "max-file=3"},
		Pending: map[string][]byte{"stdout": []byte("half a line \"quoted\" \\ \x00\xff\xfe é\t\r"), "stderr": {}},
		Environ: []string{"PATH=/usr/bin:/bin", "EMPTY=", "NL=a\nb"},
		Engine:  []byte(`{"run":2,"startedAt":"2026-12-07T05:00:00Z"}`),
		Reason:  ReasonExited, Code: 137, At: time.Date(2026, 12, 7, 5, 1, 2, 123456789, time.UTC),
	}
	text := h.Encode()
	if strings.ContainsRune(string(text), 0) {
		t.Fatalf("text has a NUL, which no environment variable can hold: %q", text)
	}
	got, err := ParseHandover(string(text))
	if err != nil {
		t.Fatalf("ParseHandover(%q): %v", text, err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Errorf("round trip:\n got %#v\nwant %#v\ntext %s", got, h, text)
	}

	// Nothing set but what a fresh handover has: descriptors stay -1, and no
	// reason, time or engine state appears from nowhere.
	empty := &Handover{Out: -1, Err: -1, Listener: -1}
	if got, err := ParseHandover(string(empty.Encode())); err != nil || !reflect.DeepEqual(got, empty) {
		t.Errorf("round trip of %#v: %#v, %v", empty, got, err)
	}
}

func TestParseHandoverErrors(t *testing.T) {
	for text, want := range map[string]string{
		"pid 12":                "line 1: no newline at the end",
		"pid x\n":               "line 1: pid: want a number",
		"exe /bin/hull\n":       "line 1: exe: want a quoted string",
		"id \"a\"\nfoo 1\n":     `line 2: unknown field "foo"`,
		"pending stdin \"x\"\n": `line 1: pending: unknown stream "stdin"`,
		"pending stdout\n":      "line 1: pending: want a stream and a quoted string",
		// hull-monitor reads no JSON (the engine's monitor sets LegacyJSON).
		"{\"exe\":\"/bin/x\"}\n": "state in the JSON form of an older hull, which this program does not read",
	} {
		if _, err := ParseHandover(text); err == nil || err.Error() != want {
			t.Errorf("ParseHandover(%q): %v, want %q", text, err, want)
		}
	}
}
