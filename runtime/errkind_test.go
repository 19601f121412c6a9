package runtime

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestErrorKindCrossesChannel: an error of init reaches the parent, over the sync
// socket and through exec.fifo, with its text unchanged and its kind found by
// errors.Is; an error that only says "no such file or directory" about something
// else (a mount's source) has no kind.
func TestErrorKindCrossesChannel(t *testing.T) {
	cases := []struct {
		err  error
		want error // the sentinel errors.Is must find, nil for none
	}{
		{programError(fmt.Errorf("exec %q: %w", "/nosuch", unix.ENOENT)), ErrNotFound},
		{withKind(fmt.Errorf("exec %q: executable file not found in $PATH", "nosuch"), kindNotFound), ErrNotFound},
		{programError(fmt.Errorf("exec %q: %w", "/etc", unix.EISDIR)), ErrNotExecutable},
		{programError(fmt.Errorf("exec %q: %w", "/etc/passwd", unix.EACCES)), ErrNotExecutable},
		{programError(fmt.Errorf("exec %s: %w", "/garbage", unix.ENOEXEC)), ErrNotExecutable},
		{programError(fmt.Errorf("process.cwd %s: %w", "/gone", unix.ENOENT)), ErrNotFound},
		{programError(fmt.Errorf("exec %q: %w", "/etc/passwd/x", unix.ENOTDIR)), nil},
		{fmt.Errorf("mount /x: bind source: stat /gone: %w", unix.ENOENT), nil},
		{errors.New("cgroup: permission denied"), nil},
	}
	parent, child, err := newChannelPair()
	if err != nil {
		t.Fatal(err)
	}
	defer parent.close()
	defer child.close()
	for _, c := range cases {
		if err := child.send(errorMessage(c.err)); err != nil {
			t.Fatal(err)
		}
		m, _, err := parent.recv()
		if err != nil {
			t.Fatal(err)
		}
		fifo := parseFifo(encodeFifoError(c.err))
		for how, got := range map[string]error{"sync socket": m.err(), "exec.fifo": fifo} {
			if got.Error() != c.err.Error() {
				t.Errorf("%s: text %q, want %q", how, got, c.err)
			}
			for _, s := range []error{ErrNotFound, ErrNotExecutable} {
				if errors.Is(got, s) != (s == c.want) {
					t.Errorf("%s: %q: errors.Is(%v) is %v", how, got, s, errors.Is(got, s))
				}
			}
		}
	}
}

// TestErrorKindWire: the kinds' names on the wire, and a name this build does not
// know (an init of another version) read as no kind, the error's text kept.
func TestErrorKindWire(t *testing.T) {
	for k, name := range map[errorKind]string{kindOther: "", kindNotFound: "not-found", kindNotExecutable: "not-executable"} {
		if k.Encode() != name || parseErrorKind(name) != k {
			t.Errorf("kind %d: %q", k, k.Encode())
		}
	}
	err := parseFifo([]byte(`{"type":"error","error":"exec x: something new","kind":"not-invented-yet"}`))
	if err.Error() != "exec x: something new" || kindOf(err) != kindOther {
		t.Errorf("unknown kind: %q, kind %d", err, kindOf(err))
	}
	if got := string(encodeFifoError(errors.New("boom"))); got != `{"type":"error","error":"boom"}` {
		t.Errorf("an error of no kind is sent as %s", got)
	}
}

// TestLookPathKinds: lookPath's errors, on this host's files, keep their text and
// carry the kind execve's errno gives.
func TestLookPathKinds(t *testing.T) {
	dir := t.TempDir()
	plain := dir + "/plain"
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, msg string
		want      error
	}{
		{"no-such-program-here", `exec "no-such-program-here": executable file not found in $PATH`, ErrNotFound},
		{dir + "/gone", `exec "` + dir + `/gone": no such file or directory`, ErrNotFound},
		{dir, `exec "` + dir + `": is a directory`, ErrNotExecutable},
		{plain, `exec "` + plain + `": permission denied`, ErrNotExecutable},
		{plain + "/x", `exec "` + plain + `/x": not a directory`, nil},
	} {
		_, err := lookPath(c.name, []string{"PATH=" + dir})
		if err == nil || err.Error() != c.msg {
			t.Errorf("%s: %v, want %q", c.name, err, c.msg)
			continue
		}
		if got := kinds[kindOf(err)].err; got != c.want {
			t.Errorf("%s: kind %v, want %v", c.name, got, c.want)
		}
	}
}
