package engine

import "testing"

// Docker's event filter keys: what its CLI and the API's clients send.
func TestEventFilter(t *testing.T) {
	ev := &Event{
		Type: "container", Action: "health_status: healthy", From: "busybox", Scope: "local",
		Actor: Actor{ID: "abc123", Attributes: map[string]string{"name": "web", "tier": "front"}},
	}
	for _, c := range []struct {
		flags []string
		want  bool
	}{
		{nil, true},
		{[]string{"container=web"}, true},
		{[]string{"container=abc"}, true},
		{[]string{"container=db"}, false},
		{[]string{"event=health_status"}, true},
		{[]string{"event=health_status: healthy"}, true},
		{[]string{"event=health"}, false},
		{[]string{"type=container", "scope=local"}, true},
		{[]string{"scope=swarm"}, false},
		{[]string{"type=network"}, false},
		{[]string{"network=web"}, true}, // as docker's: the actor's name, whatever its type
		{[]string{"volume=data"}, false},
		{[]string{"label=tier=front", "image=busybox"}, true},
		{[]string{"label=tier=back"}, false},
		{[]string{"label=tier=front", "label=name=db"}, false}, // every label, as docker's
		{[]string{"label=tier=front", "label=name=web"}, true},
	} {
		f, err := ParseEventFilter(c.flags)
		if err != nil {
			t.Errorf("%v: %v", c.flags, err)
			continue
		}
		if got := f.Match(ev); got != c.want {
			t.Errorf("%v: %v, want %v", c.flags, got, c.want)
		}
	}
	for _, bad := range [][]string{{"colour=red"}, {"container"}} {
		if _, err := ParseEventFilter(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
