package network

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// Test pools: 10.212.0.0/22 for default networks, 10.212.4.0/22 for user
// networks, in /24s; kept apart from nextSubnet's 10.213.0.0/16 and from the pools
// hull uses (which the cmd/hull tests exercise), so that no other test meets them.
var (
	testDefaultPool = Pool{netip.MustParsePrefix("10.212.0.0/22"), 24}
	testPool        = Pool{netip.MustParsePrefix("10.212.4.0/22"), 24}
)

// reach attaches a container (a namespace) to network with host port hostPort
// published to its port 7000 and asks its server through 127.0.0.1.
func reach(t *testing.T, m *Manager, id, network, hostPort string) *Result {
	t.Helper()
	ns := newNetns(t)
	ports, err := ParsePort(hostPort + ":7000")
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Attach(ns, id, network, AttachOptions{Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	whoServer(t, ns, ":7000")
	if got, err := who(t, "", "tcp4", "127.0.0.1:"+hostPort, 2*time.Second); err != nil || got == "" {
		t.Fatalf("127.0.0.1:%s published by %s on %s (%s): %q %v", hostPort, id, network, r.IP, got, err)
	}
	return r
}

// TestSubnetAvoidsHost: another engine's bridge holds the first subnet of each of
// hull's pools, and a VPN's route in a routing table of its own covers a third
// range. The default network and a user network created without a subnet take
// the next free ones, and containers on both are reached through their published
// ports; a subnet given that overlaps the bridge, the route or another network is
// refused with an error that names what holds it.
func TestSubnetAvoidsHost(t *testing.T) {
	m := newManagerWith(t, Config{DefaultPools: []Pool{testDefaultPool}, Pools: []Pool{testPool}})
	br := standIn(t, "10.212.0.1/24", "10.212.4.1/24")
	vpn := &netlink.Route{LinkIndex: br.Attrs().Index, Dst: &net.IPNet{IP: net.IPv4(10, 212, 12, 0), Mask: net.CIDRMask(22, 32)},
		Table: 4242, Scope: netlink.SCOPE_LINK}
	if err := netlink.RouteAdd(vpn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.RouteDel(vpn) }) // also gone with the bridge

	d, err := m.Get(DefaultNetwork)
	if err != nil || d.Subnet.String() != "10.212.1.0/24" {
		t.Fatalf("default network %+v %v, want 10.212.1.0/24", d, err)
	}
	u, err := m.Create("u", CreateOptions{})
	if err != nil || u.Subnet.String() != "10.212.5.0/24" {
		t.Fatalf("user network %+v %v, want 10.212.5.0/24", u, err)
	}
	for _, c := range []struct{ subnet, want string }{
		{"10.212.0.0/24", "create network x: subnet 10.212.0.0/24 overlaps 10.212.0.0/24 on " + br.Attrs().Name},
		{"10.212.4.128/25", "create network x: subnet 10.212.4.128/25 overlaps 10.212.4.0/24 on " + br.Attrs().Name},
		{"10.212.13.0/24", "create network x: subnet 10.212.13.0/24 overlaps 10.212.12.0/22 on " + br.Attrs().Name},
		{"10.212.5.128/25", "create network x: subnet 10.212.5.128/25 overlaps network u (10.212.5.0/24)"},
	} {
		if _, err := m.Create("x", CreateOptions{Subnet: c.subnet}); err == nil || err.Error() != c.want {
			t.Errorf("--subnet %s: %v, want %q", c.subnet, err, c.want)
		}
	}
	if _, err := os.Stat(m.netPath("x")); err == nil {
		t.Error("a refused network was written")
	}
	reach(t, m, "c1", DefaultNetwork, "17400")
	reach(t, m, "c2", "u", "17401")
}

// TestSubnetTakenSinceDefined: the host took a network's subnet after the network
// was defined. A default network whose subnet hull chose (one an older hull wrote
// in 10.88.0.0/16, say, before podman came) moves to a free subnet at its next
// first container and keeps its ID and bridge; a user network's first container
// is refused with the interface named, and nothing is left of it.
func TestSubnetTakenSinceDefined(t *testing.T) {
	m := newManagerWith(t, Config{DefaultPools: []Pool{testDefaultPool}, Pools: []Pool{testPool}})
	old := &Network{Name: DefaultNetwork, ID: randomID(), Driver: "bridge", Bridge: m.cfg.DefaultBridge,
		Subnet: netip.MustParsePrefix("10.212.0.0/24"), Gateway: netip.MustParseAddr("10.212.0.1"), Created: time.Now().UTC()}
	if err := writeJSON(m.netPath(DefaultNetwork), old); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create("late", CreateOptions{Subnet: "10.212.8.0/24"}); err != nil {
		t.Fatal(err)
	}
	br := standIn(t, "10.212.0.1/24", "10.212.8.1/24")

	_, err := m.Attach(newNetns(t), "c0", "late", AttachOptions{})
	want := "attach c0 to late: network late: subnet 10.212.8.0/24 overlaps 10.212.8.0/24 on " + br.Attrs().Name
	if err == nil || err.Error() != want {
		t.Errorf("attach to a network whose subnet the host took: %v, want %q", err, want)
	}
	if _, eps, _ := m.Inspect("late"); len(eps) != 0 {
		t.Errorf("leases left: %+v", eps)
	}
	if late, _ := m.Get("late"); late == nil {
		t.Fatal("network late gone")
	} else if _, err := netlink.LinkByName(late.Bridge); err == nil {
		t.Errorf("bridge %s of the refused attach left", late.Bridge)
	}

	r := reach(t, m, "c1", DefaultNetwork, "17402")
	d, err := m.Get(DefaultNetwork)
	if err != nil || d.Subnet.String() != "10.212.1.0/24" || d.ID != old.ID || d.Bridge != old.Bridge || !d.Subnet.Contains(r.IP.Addr()) {
		t.Errorf("default network after the host took its subnet: %+v (attached at %s) %v", d, r.IP, err)
	}

	// a subnet the caller chose is never moved: refused as a user network's
	m2 := newManagerWith(t, Config{DefaultSubnet: "10.212.0.0/24", DefaultBridge: m.cfg.DefaultBridge + "b"})
	if _, err := m2.Get(DefaultNetwork); err == nil || !strings.Contains(err.Error(), "overlaps 10.212.0.0/24 on "+br.Attrs().Name) {
		t.Errorf("a configured default subnet the host holds: %v", err)
	}
}
