package filter

import "testing"

func TestMatchName(t *testing.T) {
	for _, c := range []struct {
		v, name string
		want    bool
	}{
		{"web", "web", true},
		{"web", "myweb1", true}, // unanchored, as docker's
		{"^web$", "web", true},
		{"^web$", "myweb1", false},
		{"^web$", "web1", false},
		{"w.b", "web", true},
		{"^db|^web", "web-2", true},
		{"^db|^web", "myweb", false},
		{"a.b", "a.b", true},
		{"[", "[", true}, // an invalid expression still matches an equal name
		{"[", "x[", false},
	} {
		if got := MatchName(c.v, c.name); got != c.want {
			t.Errorf("MatchName(%q, %q) = %v, want %v", c.v, c.name, got, c.want)
		}
	}
	if err := CheckName("^web-[0-9]+$"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"[", "(", "a**", `\`} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}
