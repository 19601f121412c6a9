package nft

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/hullproject/hull/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// TestApply writes a table, reads it back with nft(8) and removes it again.
func TestApply(t *testing.T) {
	testutil.RequireRoot(t)
	table := fmt.Sprintf("hull-t%d", os.Getpid())
	rs := Ruleset{
		Networks: []Network{
			{Bridge: "hull-aaaa", Subnet: netip.MustParsePrefix("10.213.1.0/24")},
			{Bridge: "hull-bbbb", Subnet: netip.MustParsePrefix("10.213.2.0/24"), Internal: true},
			{Bridge: "hull-cccc", Subnet: netip.MustParsePrefix("10.213.3.0/24"), KeepSource: true},
		},
		Ports: []Port{
			{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.213.1.2"), ContainerPort: 80},
			{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 5353, ContainerIP: netip.MustParseAddr("10.213.1.2"), ContainerPort: 53},

			{Proto: "tcp", HostPort: 8081, ContainerIP: netip.MustParseAddr("10.213.3.2"), ContainerPort: 80},
			{Proto: "tcp", HostPort: 8082, ContainerIP: netip.MustParseAddr("10.213.3.2"), ContainerPort: 81},
		},
	}
	t.Cleanup(func() { _ = Apply(table, Ruleset{}) })
	for i := 0; i < 2; i++ { // twice: the second Apply replaces the first
		if err := Apply(table, rs); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("nft", "list", "table", "inet", table).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	s := string(out)
	for _, want := range []string{
		"fib daddr type local jump ports",
		"tcp dport 8080 dnat ip to 10.213.1.2:80",
		"ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.213.1.2:53",
		`ip saddr 10.213.1.0/24 oifname != "hull-aaaa" masquerade`,
		`oifname "hull-aaaa" ct status dnat ip saddr 127.0.0.0/8 masquerade`,
		`iifname "hull-aaaa" oifname != "hull-aaaa" oifname "hull*" drop`,
		`iifname "hull-bbbb" oifname != "hull-bbbb" drop`,
		`oifname "hull-aaaa" ct status dnat ip saddr 10.213.1.0/24 masquerade`,
		`oifname "hull-cccc" ip saddr 10.213.3.2 ip daddr 10.213.3.2 masquerade`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "10.213.2.0/24 oifname") {
		t.Errorf("internal network masqueraded:\n%s", s)
	}
	if strings.Contains(s, "10.213.3.0/24 masquerade") || strings.Count(s, "ip daddr 10.213.3.2 masquerade") != 1 {
		t.Errorf("network with KeepSource: a container's own port is masqueraded once, others' never:\n%s", s)
	}
	if strings.Count(s, "dnat ip to") != 4 {
		t.Errorf("rules doubled:\n%s", s)
	}
	// incremental: a port and a network go, the rest stays and is not doubled
	rs.Ports, rs.Networks = rs.Ports[:1], rs.Networks[:1]
	if err := Apply(table, rs); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command("nft", "list", "table", "inet", table).CombinedOutput()
	s = string(out)
	if strings.Count(s, "dnat ip to") != 1 || strings.Contains(s, "hull-bbbb") || strings.Count(s, `iifname "hull-aaaa" accept`) != 1 {
		t.Errorf("after removing a port and a network:\n%s", s)
	}
	if err := Apply(table, Ruleset{}); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("nft", "list", "table", "inet", table).Run(); err == nil {
		t.Fatal("table still there after an empty Apply")
	}
	if err := Apply(table, Ruleset{}); err != nil {
		t.Fatalf("deleting a missing table: %v", err)
	}
}

// TestApplyEmptyToMissingTableCommitsNothing: an empty Ruleset for a table that
// is not there is no transaction at all (every `rm` reconciles the networks, and
// a transaction that deletes a table makes the socket's close wait for an RCU
// grace period). The nftables events of the host are watched: the empty Apply
// must make none for its table before those of a marker table, made after it.
func TestApplyEmptyToMissingTableCommitsNothing(t *testing.T) {
	testutil.RequireRoot(t)
	table := fmt.Sprintf("hull-e%d", os.Getpid())
	marker := fmt.Sprintf("hull-m%d", os.Getpid())
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseLasting()
	mon := nftables.NewMonitor(nftables.WithMonitorObject(nftables.MonitorObjectTables), nftables.WithMonitorEventBuffer(1024))
	events, err := c.AddMonitor(mon)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if err := Apply(table, Ruleset{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Apply(marker, Ruleset{}) })
	if err := Apply(marker, Ruleset{Networks: []Network{{Bridge: "hull-mmmm", Subnet: netip.MustParsePrefix("10.213.9.0/24")}}}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("monitor closed before the marker's event")
			}
			tb, _ := ev.Data.(*nftables.Table)
			switch {
			case tb == nil:
			case tb.Name == table:
				t.Fatalf("the empty Apply to a missing table made a transaction: event %d on table %s", ev.Type, tb.Name)
			case tb.Name == marker:
				return
			}
		case <-timeout:
			t.Fatal("no event for the marker table within 10 s")
		}
	}
}
