package dns

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// upstream is a fake resolver on 127.0.0.1 that answers every A query with one
// fixed address, over UDP and TCP, by the same Server code with a catch-all Lookup.
func upstream(t *testing.T, ip string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Lookup: func(netip.Addr, string) ([]netip.Addr, bool) { return []netip.Addr{netip.MustParseAddr(ip)}, true }}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx, pc, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return pc.LocalAddr().String()
}

func exchange(t *testing.T, proto, addr, name string) Answer {
	t.Helper()
	c, err := net.DialTimeout(proto, addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	q := Query(0x1234, name, TypeA)
	var resp []byte
	if proto == "tcp" {
		if err := writeTCPMsg(c, q); err != nil {
			t.Fatal(err)
		}
		if resp, err = readTCPMsg(c); err != nil {
			t.Fatal(err)
		}
	} else {
		if _, err := c.Write(q); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		resp = buf[:n]
	}
	a, err := ParseAnswer(resp)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != 0x1234 {
		t.Fatalf("id %x", a.ID)
	}
	return a
}

func TestServer(t *testing.T) {
	up := upstream(t, "203.0.113.7")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string][]netip.Addr{"web": {netip.MustParseAddr("10.1.0.2")}, "db.alias": {netip.MustParseAddr("10.1.0.3")}}
	s := &Server{
		Lookup: func(_ netip.Addr, n string) ([]netip.Addr, bool) { ips, ok := names[n]; return ips, ok },
		Upstreams: func(from netip.Addr) []string {
			if from != netip.MustParseAddr("127.0.0.1") {
				t.Errorf("client seen as %s", from)
			}
			return []string{up}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx, pc, l) }()
	defer func() { cancel(); <-done }()
	addr := pc.LocalAddr().String()
	for _, proto := range []string{"udp", "tcp"} {
		a := exchange(t, proto, addr, "WEB.")
		if !a.AA || a.Rcode != 0 || len(a.IPs) != 1 || a.IPs[0].String() != "10.1.0.2" {
			t.Errorf("%s web: %+v", proto, a)
		}
		a = exchange(t, proto, addr, "db.alias")
		if len(a.IPs) != 1 || a.IPs[0].String() != "10.1.0.3" {
			t.Errorf("%s db.alias: %+v", proto, a)
		}
		a = exchange(t, proto, addr, "example.test")
		if len(a.IPs) != 1 || a.IPs[0].String() != "203.0.113.7" {
			t.Errorf("%s relayed: %+v", proto, a)
		}
	}
}

func TestNoUpstream(t *testing.T) {
	s := &Server{Lookup: func(netip.Addr, string) ([]netip.Addr, bool) { return nil, false }}
	resp := s.handle(context.Background(), Query(7, "nowhere.test", TypeA), netip.Addr{}, "udp")
	a, err := ParseAnswer(resp)
	if err != nil || a.Rcode != rcodeNXDomain {
		t.Fatalf("%+v %v", a, err)
	}
	if s.handle(context.Background(), []byte{1, 2, 3}, netip.Addr{}, "udp") != nil {
		t.Fatal("answered garbage")
	}
}
