package runtime

import "testing"

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"TERM": 15, "SIGKILL": 9, "hup": 1, "10": 10} {
		if s, err := ParseSignal(in); err != nil || int(s) != want {
			t.Errorf("%s: %d %v", in, s, err)
		}
	}
	if _, err := ParseSignal("NOPE"); err == nil {
		t.Error("bad signal accepted")
	}
}
