package network

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func names(list []Info) string {
	var out []string
	for _, i := range list {
		out = append(out, i.Name)
	}
	return strings.Join(out, ",")
}

// Select lists the predefined networks beside the user's and filters as
// docker's daemon does; Lookup finds a network by ID, name or ID prefix.
func TestSelectAndLookup(t *testing.T) {
	m := newManager(t)
	front, err := m.Create("front", CreateOptions{Subnet: nextSubnet(), Labels: map[string]string{"tier": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create("back", CreateOptions{Subnet: nextSubnet(), Labels: map[string]string{"tier": "db", "keep": ""}}); err != nil {
		t.Fatal(err)
	}
	all, err := m.Select(Filters{})
	if err != nil || names(all) != "back,bridge,front,host,none" {
		t.Fatalf("select: %s %v", names(all), err)
	}
	host, none := all[3], all[4]
	if host.Driver != "host" || none.Driver != "null" || len(host.ID) != 64 || host.ID == none.ID {
		t.Errorf("host %+v none %+v", host.Network, none.Network)
	}
	// their IDs are stable
	if again, _ := m.Lookup("host"); again.ID != host.ID {
		t.Errorf("host's ID changed: %s, %s", host.ID, again.ID)
	}

	ns := newNetns(t)
	if _, err := m.Attach(ns, "c1", "front", AttachOptions{Name: "web1"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"type=custom"}, "back,front"},
		{[]string{"type=builtin"}, "bridge,host,none"},
		{[]string{"type=builtin", "type=custom"}, "back,bridge,front,host,none"},
		{[]string{"dangling=true"}, "back"},
		{[]string{"dangling=0"}, "bridge,front,host,none"},
		{[]string{"label=tier"}, "back,front"},
		{[]string{"label=tier=db"}, "back"},
		{[]string{"label=tier", "label=keep"}, "back"},
		{[]string{"driver=bridge"}, "back,bridge,front"},
		{[]string{"driver=null"}, "none"},
		{[]string{"name=ront"}, "front"},
		{[]string{"name=^b"}, "back,bridge"},
		{[]string{"id=" + front.ID[:5]}, "front"},
		{[]string{"scope=local", "name=^none$"}, "none"},
		{[]string{"scope=swarm"}, ""},
	} {
		f, err := ParseFilters(c.args, ListFilterKeys...)
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		got, err := m.Select(f)
		if err != nil || names(got) != c.want {
			t.Errorf("%v: %s %v, want %s", c.args, names(got), err, c.want)
		}
	}
	i, err := m.Lookup("front")
	if err != nil || i.ID != front.ID || len(i.Endpoints) != 1 || i.Endpoints[0].Name != "web1" {
		t.Errorf("lookup front: %+v %v", i, err)
	}
	for _, ref := range []string{front.ID, front.ID[:12]} {
		if i, err := m.Lookup(ref); err != nil || i.Name != "front" {
			t.Errorf("lookup %s: %v %v", ref, i.Name, err)
		}
	}
	if _, err := m.Lookup("nosuch"); !errors.Is(err, ErrNotFound) || err.Error() != "network nosuch not found" {
		t.Errorf("lookup nosuch: %v", err)
	}
	if _, err := m.Lookup(""); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookup of nothing: %v", err)
	}
	if err := m.Detach("c1", "front"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"bridge", "host", "none"} {
		if err := m.Remove(n); !errors.Is(err, ErrPredefined) || err.Error() != n+" is a pre-defined network and cannot be removed" {
			t.Errorf("remove %s: %v", n, err)
		}
	}
}

func TestParseFilters(t *testing.T) {
	for _, c := range []struct {
		args []string
		keys []string
		err  string
	}{
		{[]string{"bogus=1"}, ListFilterKeys, "invalid filter 'bogus'"},
		{[]string{"until=1h"}, ListFilterKeys, "invalid filter 'until'"},
		{[]string{"dangling=true"}, PruneFilterKeys, "invalid filter 'dangling'"},
		{[]string{"type=other"}, ListFilterKeys, "invalid filter: 'type'='other'"},
		{[]string{"dangling=yes"}, ListFilterKeys, `invalid value for filter 'dangling'`},
		{[]string{"dangling=true", "dangling=false"}, ListFilterKeys, `got more than one value for filter key "dangling"`},
		{[]string{"name=["}, ListFilterKeys, "invalid filter 'name=['"},
		{[]string{"until=yesterday"}, PruneFilterKeys, "invalid filter 'until=yesterday'"},
		{[]string{"label"}, PruneFilterKeys, "bad filter"},
	} {
		_, err := ParseFilters(c.args, c.keys...)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: %v, want %q", c.args, err, c.err)
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Time{
		"10m":                  now.Add(-10 * time.Minute),
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 500000000),
		"2025-06-01T10:00:00Z": time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC),
		"2025-06-01":           time.Date(2025, 6, 1, 0, 0, 0, 0, time.Local),
	} {
		if got, err := parseUntil(v, now); err != nil || !got.Equal(want) {
			t.Errorf("until=%s: %v %v, want %v", v, got, err, want)
		}
	}
}

// Prune takes label, label! and until.
func TestPruneFilters(t *testing.T) {
	m := newManager(t)
	for _, n := range []struct {
		name   string
		labels map[string]string
	}{{"old", map[string]string{"env": "test"}}, {"kept", map[string]string{"keep": "1"}}, {"plain", nil}} {
		if _, err := m.Create(n.name, CreateOptions{Subnet: nextSubnet(), Labels: n.labels}); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := ParseFilters([]string{"until=1h"}, PruneFilterKeys...)
	if gone, err := m.Prune(f); err != nil || len(gone) != 0 {
		t.Errorf("until=1h pruned %v %v", gone, err)
	}
	f, _ = ParseFilters([]string{"label=env=test"}, PruneFilterKeys...)
	if gone, err := m.Prune(f); err != nil || !slices.Equal(gone, []string{"old"}) {
		t.Errorf("label=env=test pruned %v %v", gone, err)
	}
	f, _ = ParseFilters([]string{"label!=keep", "until=" + time.Now().Add(time.Minute).Format(time.RFC3339)}, PruneFilterKeys...)
	if gone, err := m.Prune(f); err != nil || !slices.Equal(gone, []string{"plain"}) {
		t.Errorf("label!=keep pruned %v %v", gone, err)
	}
	if _, err := m.Get(DefaultNetwork); err != nil {
		t.Errorf("prune removed the default network: %v", err)
	}
}

// docker's create options: an ip range addresses are leased from, a bridge
// name, the bridge options hull honours, and clear refusals of the others.
func TestCreateOptions(t *testing.T) {
	m := newManager(t)
	sub := nextSubnet() // 10.213.N.0/24
	rng := strings.TrimSuffix(sub, "0/24") + "64/28"
	br := fmt.Sprintf("hullo%d", os.Getpid()%100000)
	n, err := m.Create("opts", CreateOptions{Subnet: sub, IPRange: rng, Attachable: true,
		Options: map[string]string{"com.docker.network.bridge.name": br, "com.docker.network.bridge.enable_icc": "true", "custom.key": "v",
			"com.docker.network.driver.mtu": "1280"}})
	if err != nil {
		t.Fatal(err)
	}
	if n.Bridge != br || n.IPRange.String() != rng || !n.Attachable || n.Options["custom.key"] != "v" {
		t.Errorf("created %+v", n)
	}
	ns := newNetns(t)
	res, err := m.Attach(ns, "c1", "opts", AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.IP.Addr().String(); got != strings.TrimSuffix(sub, "0/24")+"64" {
		t.Errorf("first address of range %s: %s", rng, got)
	}
	// both ends of the veth have the network's MTU, and so the bridge
	if veth, err := netlink.LinkByName(res.HostVeth); err != nil || veth.Attrs().MTU != 1280 || res.MTU != 1280 {
		t.Errorf("host veth: %v %v, result MTU %d", veth, err, res.MTU)
	}
	if out, err := exec.Command("nsenter", "--net="+ns, "ip", "-o", "link", "show", res.Interface).Output(); err != nil || !strings.Contains(string(out), " mtu 1280 ") {
		t.Errorf("container's %s MTU: %q %v", res.Interface, out, err)
	}
	if b, err := netlink.LinkByName(br); err != nil || b.Attrs().MTU != 1280 {
		t.Errorf("bridge MTU: %v %v", b, err)
	}
	if _, err := netlink.LinkByName(br); err != nil {
		t.Errorf("bridge %s: %v", br, err)
	}
	if err := m.Detach("c1", "opts"); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(br); err == nil {
		t.Errorf("bridge %s left after the last detach", br)
	}
	for _, c := range []struct {
		o   CreateOptions
		err string
	}{
		{CreateOptions{IPRange: "10.213.250.0/28"}, "an ip range needs a subnet"},
		{CreateOptions{Subnet: nextSubnet(), IPRange: "10.99.0.0/28"}, "is not inside subnet"},
		{CreateOptions{Options: map[string]string{"com.docker.network.bridge.name": "docker1"}}, `starting with "hull"`},
		{CreateOptions{Options: map[string]string{"com.docker.network.bridge.name": "hull-much-too-long"}}, "at most 15 characters"},
		{CreateOptions{Options: map[string]string{"com.docker.network.bridge.name": br}}, "bridge " + br + " is network opts's"},
		{CreateOptions{Options: map[string]string{"com.docker.network.bridge.enable_icc": "false"}}, "enable_icc=false is not supported"},
		{CreateOptions{Options: map[string]string{"com.docker.network.driver.mtu": "9"}}, "an MTU from 68 to 65535"},
		{CreateOptions{Options: map[string]string{"com.docker.network.bridge.inhibit_ipv4": "true"}}, "com.docker.network.bridge.inhibit_ipv4 is not supported"},
	} {
		_, err := m.Create("bad", c.o)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.err)
		}
	}
	if _, err := os.Stat(m.netPath("bad")); err == nil {
		t.Error("a refused create left its record")
	}
	if _, err := m.Create("bad name", CreateOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := m.Create("host", CreateOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("create host: %v", err)
	}
}
