package ipam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestNewPool(t *testing.T) {
	p, err := NewPool("10.88.0.0/16", "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Gateway.String() != "10.88.0.1" || p.Broadcast().String() != "10.88.255.255" {
		t.Fatalf("got gateway %s broadcast %s", p.Gateway, p.Broadcast())
	}
	for _, bad := range [][2]string{
		{"10.88.0.1/16", ""}, {"10.88.0.0/31", ""}, {"fd00::/64", ""},
		{"10.88.0.0/24", "10.88.0.255"}, {"10.88.0.0/24", "10.89.0.1"}, {"10.88.0.0/24", "10.88.0.0"},
	} {
		if _, err := NewPool(bad[0], bad[1]); err == nil {
			t.Errorf("NewPool(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestNextExhaustsAndWraps(t *testing.T) {
	p, err := NewPool("10.1.2.0/29", "10.1.2.6")
	if err != nil {
		t.Fatal(err)
	}
	used := map[netip.Addr]bool{}
	var last netip.Addr
	var got []string
	for {
		a, err := p.Next(used, last)
		if errors.Is(err, ErrExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		used[a], last = true, a
		got = append(got, a.String())
	}
	// .0 network, .6 gateway, .7 broadcast are never handed out; the walk starts
	// after the gateway and wraps around
	want := []string{"10.1.2.1", "10.1.2.2", "10.1.2.3", "10.1.2.4", "10.1.2.5"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// a released address comes back only after the others
	delete(used, netip.MustParseAddr("10.1.2.2"))
	if a, _ := p.Next(used, last); a.String() != "10.1.2.2" {
		t.Fatalf("after release got %s", a)
	}
}

// An ip range is where Next hands addresses out from, wrapping inside it, and
// all Contains takes (a fixed --ip), as docker's.
func TestRange(t *testing.T) {
	p, err := NewPool("10.1.0.0/24", "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.WithRange("10.1.0.128/30")
	if err != nil {
		t.Fatal(err)
	}
	used := map[netip.Addr]bool{}
	var last netip.Addr
	var got []string
	for {
		a, err := r.Next(used, last)
		if errors.Is(err, ErrExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		used[a], last = true, a
		got = append(got, a.String())
	}
	if want := "10.1.0.128 10.1.0.129 10.1.0.130 10.1.0.131"; strings.Join(got, " ") != want {
		t.Errorf("range handed out %v, want %s", got, want)
	}
	delete(used, netip.MustParseAddr("10.1.0.129"))
	if a, err := r.Next(used, last); err != nil || a.String() != "10.1.0.129" {
		t.Errorf("after a release: %v %v", a, err)
	}
	if r.Contains(netip.MustParseAddr("10.1.0.7")) || !r.Contains(netip.MustParseAddr("10.1.0.130")) {
		t.Error("Contains does not keep to the range")
	}
	// a range starting at the network address skips it and the gateway
	r, err = p.WithRange("10.1.0.0/30")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := r.Next(nil, netip.Addr{}); err != nil || a.String() != "10.1.0.2" {
		t.Errorf("first of 10.1.0.0/30: %v %v", a, err)
	}
	for _, bad := range []string{"10.2.0.0/28", "10.1.0.0/23", "10.1.0.1/30", "fd00::/64", "nope", "10.1.0.0/32"} {
		if _, err := p.WithRange(bad); err == nil {
			t.Errorf("WithRange(%q) accepted", bad)
		}
	}
}
