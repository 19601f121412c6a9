package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHosts(t *testing.T) {
	out, err := Hosts(HostsOptions{Hostname: "web", Domain: "example.test",
		IPs:         []netip.Addr{netip.MustParseAddr("10.88.0.2")},
		ExtraHosts:  []string{"db:10.1.2.3", "gw:host-gateway", "v6:[fd00::1]", "eq=10.9.9.9"},
		HostGateway: netip.MustParseAddr("10.88.0.1"),
		Links:       []HostsLink{{IP: netip.MustParseAddr("10.88.0.9"), Names: []string{"database", "0123456789ab", "db"}}}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.1.2.3\tdb\n", "10.88.0.1\tgw\n", "fd00::1\tv6\n",
		"10.9.9.9\teq\n", "10.88.0.2\tweb.example.test web\n", "10.88.0.9\tdatabase 0123456789ab db\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("hosts lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range []string{"nocolon", "x:notanip", ":1.2.3.4"} {
		if _, err := Hosts(HostsOptions{ExtraHosts: []string{bad}}); err == nil {
			t.Errorf("--add-host %q accepted", bad)
		}
	}
	if _, err := Hosts(HostsOptions{ExtraHosts: []string{"gw:host-gateway"}}); err == nil {
		t.Error("host-gateway without a gateway accepted")
	}
	if string(Hostname("web")) != "web\n" {
		t.Error("hostname")
	}
}

func TestResolvConf(t *testing.T) {
	host := []byte("# generated\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nnameserver ::1\nsearch corp.test\noptions edns0\n")
	// default bridge: the host's, minus loopback nameservers
	got := string(ResolvConf(host, netip.Addr{}, ResolvOptions{}))
	if got != "search corp.test\nnameserver 10.255.255.53\noptions edns0\n" {
		t.Errorf("default bridge:\n%s", got)
	}
	// --dns, --dns-search, --dns-option replace the host's
	got = string(ResolvConf(host, netip.Addr{}, ResolvOptions{Nameservers: []string{"10.0.0.53"}, Search: []string{"a.test", "b.test"}, Options: []string{"ndots:2"}}))
	if got != "search a.test b.test\nnameserver 10.0.0.53\noptions ndots:2\n" {
		t.Errorf("with flags:\n%s", got)
	}
	// user network: only the network's resolver, ndots:0
	got = string(ResolvConf(host, netip.MustParseAddr("10.89.0.1"), ResolvOptions{Nameservers: []string{"10.0.0.53"}}))
	if got != "search corp.test\nnameserver 10.89.0.1\noptions ndots:0 edns0\n" {
		t.Errorf("user network:\n%s", got)
	}
}

// TestWriteEtc: the three files of a container, rewritten in place (a bind mount
// holds the inode): on a network, before its addresses are known, and in the
// host's namespace (the host's files plus the flags).
func TestWriteEtc(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hosts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(filepath.Join(dir, "hosts"))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	gw := netip.MustParseAddr("10.88.0.1")
	o := EtcOptions{Hosts: HostsOptions{Hostname: "web", IPs: []netip.Addr{netip.MustParseAddr("10.88.0.2"), netip.MustParseAddr("10.89.0.2")},
		ExtraHosts: []string{"db:10.1.2.3", "gw:host-gateway"}, HostGateway: gw},
		Resolv: ResolvOptions{Search: []string{"a.test"}}, Resolver: netip.MustParseAddr("10.89.0.1")}
	if err := WriteEtc(dir, o); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(filepath.Join(dir, "hosts")); !os.SameFile(before, after) {
		t.Error("hosts replaced, not rewritten in place")
	}
	want := loopbackHosts + ip6Hosts + "10.1.2.3\tdb\n10.88.0.1\tgw\n10.88.0.2\tweb\n10.89.0.2\tweb\n"
	if got := read("hosts"); got != want {
		t.Errorf("hosts:\n%s\nwant:\n%s", got, want)
	}
	if got, want := read("resolv.conf"), string(ResolvConf(hostResolv, o.Resolver, o.Resolv)); got != want {
		t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, want)
	}
	if got := read("hostname"); got != "web\n" {
		t.Errorf("hostname %q", got)
	}
	// at create, no address yet: the name on 127.0.1.1, last
	o.Hosts.IPs = nil
	if err := WriteEtc(dir, o); err != nil {
		t.Fatal(err)
	}
	if got, want := read("hosts"), loopbackHosts+ip6Hosts+"10.1.2.3\tdb\n10.88.0.1\tgw\n127.0.1.1\tweb\n"; got != want {
		t.Errorf("hosts without addresses:\n%s\nwant:\n%s", got, want)
	}
	// the host's namespace: its files, --add-host appended, host-gateway the host itself
	hostHosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Skip(err)
	}
	o = EtcOptions{Hosts: HostsOptions{Hostname: "web", ExtraHosts: []string{"db:10.1.2.3", "gw:host-gateway"}}, HostNetwork: true}
	if err := WriteEtc(dir, o); err != nil {
		t.Fatal(err)
	}
	if got, want := read("hosts"), string(hostHosts)+"10.1.2.3\tdb\n127.0.0.1\tgw\n"; got != want {
		t.Errorf("host's namespace, hosts:\n%s\nwant:\n%s", got, want)
	}
	if got := read("resolv.conf"); got != string(hostResolv) {
		t.Errorf("host's namespace, resolv.conf:\n%s\nwant the host's:\n%s", got, hostResolv)
	}
	o.Resolv.Nameservers = []string{"10.0.0.53"}
	if err := WriteEtc(dir, o); err != nil {
		t.Fatal(err)
	}
	if got, want := read("resolv.conf"), string(ResolvConf(hostResolv, netip.Addr{}, o.Resolv)); got != want || !strings.Contains(got, "nameserver 10.0.0.53\n") {
		t.Errorf("host's namespace with --dns, resolv.conf:\n%s\nwant:\n%s", got, want)
	}
	// a bad --add-host writes nothing
	o.Hosts.ExtraHosts = []string{"nocolon"}
	if err := WriteEtc(dir, o); err == nil {
		t.Error("bad --add-host written")
	}
}
