package network

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/network/dns"
)

// fakeUpstream is an upstream resolver the test runs on 127.0.0.1: it answers
// every name with ip.
func fakeUpstream(t *testing.T, ip string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := &dns.Server{Lookup: func(netip.Addr, string) ([]netip.Addr, bool) { return []netip.Addr{netip.MustParseAddr(ip)}, true }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx, pc, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return pc.LocalAddr().String()
}

// lookup asks the resolver at server for name's A records from inside nsPath.
func lookup(t *testing.T, nsPath, proto, server, name string) (dns.Answer, error) {
	t.Helper()
	var c net.Conn
	var err error
	inNetns(t, nsPath, func() { c, err = net.DialTimeout(proto, server, time.Second) })
	if err != nil {
		return dns.Answer{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	q := dns.Query(42, name, dns.TypeA)
	if proto == "tcp4" {
		q = append([]byte{byte(len(q) >> 8), byte(len(q))}, q...)
	}
	if _, err := c.Write(q); err != nil {
		return dns.Answer{}, err
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return dns.Answer{}, err
	}
	if proto == "tcp4" {
		buf, n = buf[2:], n-2
	}
	return dns.ParseAnswer(buf[:n])
}

// TestDNS runs a network's resolver and resolves from inside its containers:
// names and aliases of the network, a short container ID, names forwarded to an
// upstream resolver the test runs on 127.0.0.1 (and to a container's own --dns
// upstream), and it stops by itself when the network empties.
func TestDNS(t *testing.T) {
	m := newManager(t)
	n, err := m.Create("dnsnet", CreateOptions{Subnet: nextSubnet()})
	if err != nil {
		t.Fatal(err)
	}
	up := fakeUpstream(t, "203.0.113.9")
	own := fakeUpstream(t, "203.0.113.10")
	a, b := newNetns(t), newNetns(t)
	idA := strings.Repeat("a1", 32)
	ra, err := m.Attach(a, idA, "dnsnet", AttachOptions{Name: "alpha", Aliases: []string{"db", "Primary.DB"}})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := m.Attach(b, "bbbb", "dnsnet", AttachOptions{Name: "beta", DNS: []string{own}})
	if err != nil {
		t.Fatal(err)
	}
	if !ra.DNS {
		t.Fatal("user network without resolver")
	}
	served := make(chan error, 1)
	go func() {
		served <- m.ServeDNS(ctxT(t), "dnsnet", ResolverOptions{Upstreams: []string{up}, Linger: 200 * time.Millisecond})
	}()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, ok := m.ResolverRunning("dnsnet"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("resolver did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.ServeDNS(context.Background(), "dnsnet", ResolverOptions{}); !errors.Is(err, ErrResolverRunning) {
		t.Fatalf("second resolver: %v", err)
	}
	server := net.JoinHostPort(n.Gateway.String(), "53")
	for _, c := range []struct{ from, proto, name, want string }{
		{b, "udp4", "alpha", ra.IP.Addr().String()},
		{b, "tcp4", "alpha.", ra.IP.Addr().String()},
		{b, "udp4", "db", ra.IP.Addr().String()},
		{b, "udp4", "primary.db", ra.IP.Addr().String()},
		{b, "udp4", idA[:12], ra.IP.Addr().String()},
		{a, "udp4", "beta", rb.IP.Addr().String()},
		{a, "udp4", "elsewhere.test", "203.0.113.9"},  // relayed to the network's upstream
		{a, "tcp4", "elsewhere.test", "203.0.113.9"},  // the same over TCP
		{b, "udp4", "elsewhere.test", "203.0.113.10"}, // beta's own --dns upstream
	} {
		ans, err := lookup(t, c.from, c.proto, server, c.name)
		if err != nil || len(ans.IPs) != 1 || ans.IPs[0].String() != c.want {
			t.Errorf("%s %s: %+v %v, want %s", c.proto, c.name, ans, err, c.want)
		}
	}

	// the container's resolv.conf points at the resolver
	rc := string(ResolvConf([]byte("nameserver 127.0.0.53\nsearch example.test\n"), rb.Gateway, ResolvOptions{}))
	if !strings.Contains(rc, "nameserver "+n.Gateway.String()+"\n") || strings.Contains(rc, "127.0.0.53") {
		t.Errorf("resolv.conf:\n%s", rc)
	}

	// with the network empty the resolver exits by itself
	if err := m.Detach(idA, "dnsnet"); err != nil {
		t.Fatal(err)
	}
	if err := m.Detach("bbbb", "dnsnet"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("resolver still running on an empty network")
	}
	if _, ok := m.ResolverRunning("dnsnet"); ok {
		t.Fatal("resolver lock still held")
	}
}

// TestDNSAcrossNetworks: a network's resolver answers a container that is on
// other networks too with their names, as docker's resolver does (a compose
// proxy on a front and a back network reaches the back's services), and
// nobody else: a container on the first network only does not learn them.
func TestDNSAcrossNetworks(t *testing.T) {
	m := newManager(t)
	front, err := m.Create("front", CreateOptions{Subnet: nextSubnet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create("back", CreateOptions{Subnet: nextSubnet()}); err != nil {
		t.Fatal(err)
	}
	proxy, web, app := newNetns(t), newNetns(t), newNetns(t)
	idProxy, idWeb, idApp := strings.Repeat("p", 64), strings.Repeat("w", 64), strings.Repeat("a", 64)
	for _, a := range []struct{ ns, id, net, name string }{
		{proxy, idProxy, "front", "proxy"}, {proxy, idProxy, "back", "proxy"},
		{web, idWeb, "front", "web"}, {app, idApp, "back", "app"},
	} {
		if _, err := m.Attach(a.ns, a.id, a.net, AttachOptions{Name: a.name, Aliases: []string{a.name + "-alias"}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Detach(a.id, a.net) })
	}
	appIP := ""
	if l, err := m.readLeases("back"); err == nil {
		appIP = l.Endpoints[idApp].IP.String()
	}
	go m.ServeDNS(ctxT(t), "front", ResolverOptions{Upstreams: []string{}, Linger: time.Minute})
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, ok := m.ResolverRunning("front"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("resolver did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	server := net.JoinHostPort(front.Gateway.String(), "53")
	for _, name := range []string{"app", "app-alias"} {
		if ans, err := lookup(t, proxy, "udp4", server, name); err != nil || len(ans.IPs) != 1 || ans.IPs[0].String() != appIP {
			t.Errorf("proxy asks front's resolver for %s: %+v %v, want %s", name, ans, err, appIP)
		}
		if ans, err := lookup(t, web, "udp4", server, name); err != nil || len(ans.IPs) != 0 || ans.Rcode != 3 {
			t.Errorf("web (front only) asks for %s: %+v %v, want NXDOMAIN", name, ans, err)
		}
	}
}
