package network

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParsePort(t *testing.T) {
	for spec, want := range map[string]string{
		"8080:80":                      "8080->80/tcp",
		"127.0.0.1:8080:80/udp":        "127.0.0.1:8080->80/udp",
		"0.0.0.0:53:53/udp":            "53->53/udp",
		"8000-8002:9000-9002":          "8000->9000/tcp 8001->9001/tcp 8002->9002/tcp",
		"10.0.0.1:7000-7001:7000-7001": "10.0.0.1:7000->7000/tcp 10.0.0.1:7001->7001/tcp",
	} {
		ps, err := ParsePort(spec)
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: got %v, want %s", spec, got, want)
		}
	}
	for _, bad := range []string{"80", "0:80", "8080:80/sctp", "8000-8001:80", "8001-8000:80-81", "::1:80:80", "a:b", "70000:80"} {
		if _, err := ParsePort(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	a, _ := ParsePort("8080:80")
	b, _ := ParsePort("127.0.0.1:8080:81")
	c, _ := ParsePort("8080:80/udp")
	if !a[0].Conflicts(b[0]) || a[0].Conflicts(c[0]) {
		t.Error("conflicts")
	}
}

// TestParsePublish: every form of docker's -p that hull publishes, and a clear
// error for the others. A host port of 0 is one Attach picks ("0->"), a host
// range for one container port a free one of the range.
func TestParsePublish(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"80", "0->80/tcp"},
		{":80", "0->80/tcp"},
		{"0:80", "0->80/tcp"},
		{"80/udp", "0->80/udp"},
		{"8080:80", "8080->80/tcp"},
		{"8080:80/udp", "8080->80/udp"},
		{"8080:80/", "8080->80/tcp"}, // docker: no protocol is tcp
		{"127.0.0.1:8080:80", "127.0.0.1:8080->80/tcp"},
		{"127.0.0.1::80", "127.0.0.1:0->80/tcp"},
		{"127.0.0.1:0:80/udp", "127.0.0.1:0->80/udp"},
		{"0.0.0.0:8080:80", "8080->80/tcp"},
		{"8000-8001", "0->8000/tcp 0->8001/tcp"},
		{":8000-8001/udp", "0->8000/udp 0->8001/udp"},
		{"127.0.0.1::8000-8001", "127.0.0.1:0->8000/tcp 127.0.0.1:0->8001/tcp"},
		{"8000-8002:9000-9002", "8000->9000/tcp 8001->9001/tcp 8002->9002/tcp"},
		{"8000-8000:80-80", "8000->80/tcp"},
		{"8000-8010:80", "8000-8010->80/tcp"},
		{"127.0.0.1:8000-8010:80/udp", "127.0.0.1:8000-8010->80/udp"},
		{"10.0.0.1:7000-7001:7000-7001", "10.0.0.1:7000->7000/tcp 10.0.0.1:7001->7001/tcp"},
	} {
		ps, err := ParsePublish(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: got %v, want %s", c.spec, got, c.want)
		}
	}
	for _, c := range []struct{ spec, why string }{
		{"", "no container port"},
		{"8080:", "no container port"},
		{"127.0.0.1:8080:", "no container port"},
		{"8080:80/sctp", "protocol must be tcp or udp"}, // docker's sctp: no nftables rules for it
		{"8080:80/tcp/udp", "protocol must be tcp or udp"},
		{"[::1]:8080:80", `host address "::1" must be IPv4`},                               // hull has no IPv6
		{"[127.0.0.1]:8080:80", `host address "127.0.0.1" must be IPv4, without brackets`}, // docker takes it
		{"::1:8080:80", `host address "::1" must be IPv4`},
		{"[::]::80", `host address "::" must be IPv4`},
		{"::ffff:10.0.0.1:8080:80", "must be IPv4"},
		{"[127.0.0.1:8080:80", "closing bracket"},
		{"localhost:8080:80", `host address "localhost" must be IPv4`},
		{"10.0.0.1:10.0.0.2:8080:80", "must be IPv4"},
		{"127.0.0.1:80", `port "127.0.0.1" must be 1-65535`}, // docker: invalid hostPort
		{"x", `port "x" must be 1-65535`},
		{"8080:0", `port "0" must be 1-65535`},
		{"65536:80", `port "65536" must be 1-65535`},
		{"8080:65536", `port "65536" must be 1-65535`},
		{"0-10:80", `port "0" must be 1-65535`},
		{"-1:80", `port "" must be 1-65535`},
		{"8080-:80", `port "" must be 1-65535`},
		{"8010-8000:80", "range 8010-8000 ends before it starts"},
		{"80-79", "range 80-79 ends before it starts"},
		{"8000:80-81", "host and container ranges differ in length"}, // docker: invalid ranges
		{"8000-8002:80-81", "host and container ranges differ in length"},
	} {
		_, err := ParsePublish(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.why) || !strings.HasPrefix(err.Error(), fmt.Sprintf("invalid port %q: ", c.spec)) {
			t.Errorf("%q: %v, want invalid port %q: ...%s...", c.spec, err, c.spec, c.why)
		}
	}
}

// TestBinding: a request in docker's PortBindings shape, as the engine records
// it, and back.
func TestBinding(t *testing.T) {
	for spec, want := range map[string]string{
		"8080:80":                   "80/tcp  8080",
		"127.0.0.1::80/udp":         "80/udp 127.0.0.1 ",
		"0.0.0.0:8000-8010:80":      "80/tcp  8000-8010",
		"10.0.0.1:8000-8010:80/udp": "80/udp 10.0.0.1 8000-8010",
		"80":                        "80/tcp  ",
		"0:80":                      "80/tcp  ",
		"127.0.0.1:8000-8000:80-80": "80/tcp 127.0.0.1 8000",
	} {
		ps, err := ParsePublish(spec)
		if err != nil || len(ps) != 1 {
			t.Fatalf("%s: %v %v", spec, ps, err)
		}
		k, ip, hp := ps[0].Binding()
		if got := k + " " + ip + " " + hp; got != want {
			t.Errorf("%s: binding %q, want %q", spec, got, want)
		}
		if back, err := ParseBinding(k, ip, hp); err != nil || back != ps[0] {
			t.Errorf("%s: read back %v %v, want %v", spec, back, err, ps[0])
		}
	}
	// Docker API clients write HostIp 0.0.0.0 and keys without a protocol
	if p, err := ParseBinding("80", "0.0.0.0", "8080"); err != nil || p.String() != "8080->80/tcp" {
		t.Errorf("80 0.0.0.0:8080: %v %v", p, err)
	}
	for _, bad := range [][3]string{{"80-81/tcp", "", ""}, {"80/tcp", "::1", ""}, {"x/tcp", "", ""},
		{"80/tcp", "", "x"}, {"80/sctp", "", ""}, {"", "", "8080"}} {
		if p, err := ParseBinding(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("binding %q read as %v", bad, p)
		}
	}
}

// TestPublishAll: -P asks a free port for each exposed port that -p does not
// publish already; a key without protocol is tcp.
func TestPublishAll(t *testing.T) {
	have, _ := ParsePublish("127.0.0.1:7000:7000")
	exposed := map[string]struct{}{"8080/tcp": {}, "53/udp": {}, "9000": {}, "9000/tcp": {}, "7000/tcp": {}, "7000/udp": {}}
	ps, err := PublishAll(exposed, have)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if want := "0->53/udp 0->7000/udp 0->8080/tcp 0->9000/tcp"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if _, err := PublishAll(map[string]struct{}{"80/sctp": {}}, nil); err == nil || !strings.HasPrefix(err.Error(), "image's exposed port: ") {
		t.Errorf("exposed 80/sctp: %v", err)
	}
}

// A port another container publishes has no socket; the picker must skip it
// anyway, every time, not by luck of a random start.
func TestPickPortsSkipPublished(t *testing.T) {
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	base := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if base > 65000 {
		t.Skip("no room above the port the kernel gave")
	}
	lo, hi := base, base+2
	if _, err := bindPort("tcp", netip.Addr{}, hi); err != nil {
		t.Skipf("port %d: %v", hi, err)
	}
	taken := []PortMapping{{HostPort: uint16(lo), ContainerPort: 80, Proto: "tcp"}}
	// lo+1 is bound by someone else
	busy, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(lo+1)))
	if err != nil {
		t.Skipf("port %d: %v", lo+1, err)
	}
	defer busy.Close()
	b := []PortMapping{{HostPort: uint16(lo), HostPortEnd: uint16(hi), ContainerPort: 8080, Proto: "tcp"}}
	for range 30 {
		ports, err := pickPorts(b, taken)
		if err != nil {
			t.Fatal(err)
		}
		if len(ports) != 1 || int(ports[0].HostPort) != hi || ports[0].HostPortEnd != 0 {
			t.Fatalf("%d-%d with %d published and %d bound: %v", lo, hi, lo, lo+1, ports)
		}
	}
	// udp on the same number is another port
	taken[0].Proto = "udp"
	seen := map[uint16]bool{}
	for range 30 {
		ports, err := pickPorts(b, taken)
		if err != nil {
			t.Fatal(err)
		}
		seen[ports[0].HostPort] = true
	}
	if !seen[uint16(lo)] || seen[uint16(lo+1)] {
		t.Errorf("ports picked with only lo+1 bound: %v", seen)
	}
	// every port of the range taken
	taken = append(taken, PortMapping{HostPort: uint16(hi), Proto: "tcp"}, PortMapping{HostPort: uint16(lo), Proto: "tcp"})
	if _, err := pickPorts(b, taken); err == nil {
		t.Error("a range with no free port gave one")
	}
	// a port the kernel hands out for -p :80 is never a published one
	b = []PortMapping{{ContainerPort: 80, Proto: "tcp"}, {ContainerPort: 81, Proto: "tcp"}}
	ports, err := pickPorts(b, taken)
	if err != nil || len(ports) != 2 || ports[0].HostPort == ports[1].HostPort {
		t.Errorf("two random ports: %v %v", ports, err)
	}
	// nor one the same attach asks for by number, later in its list
	b = []PortMapping{{HostPort: uint16(lo), HostPortEnd: uint16(hi), ContainerPort: 80, Proto: "udp"},
		{HostPort: uint16(hi), ContainerPort: 81, Proto: "udp"}, {HostPort: uint16(lo), ContainerPort: 82, Proto: "udp"}}
	taken = nil
	for range 30 {
		ports, err := pickPorts(b, taken)
		if err != nil || ports[0].HostPort != uint16(lo+1) || ports[1] != b[1] || ports[2] != b[2] {
			t.Fatalf("range beside fixed ports of its own: %v %v", ports, err)
		}
	}
}

// TestAttachPicksPorts: Attach picks the host ports requests leave to it under the
// network lock, so attaches racing for one range get distinct ports of it (and
// one finds none left) with no retry; a port picked for port 0 is reported in
// Result.Ports, recorded, and published.
func TestAttachPicksPorts(t *testing.T) {
	m := newManager(t)
	const lo, hi = 17410, 17411
	for p := lo; p <= hi; p++ {
		if _, err := bindPort("tcp", netip.Addr{}, p); err != nil {
			t.Skipf("port %d: %v", p, err)
		}
	}
	req := []PortMapping{{HostPort: lo, HostPortEnd: hi, ContainerPort: 7000, Proto: "tcp"}}
	const n = 3
	nss := make([]string, n)
	for i := range nss {
		nss[i] = newNetns(t)
	}
	res := make([]*Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res[i], errs[i] = m.Attach(nss[i], fmt.Sprint("r", i), DefaultNetwork, AttachOptions{Ports: req})
		})
	}
	wg.Wait()
	got := map[uint16]bool{}
	failed := 0
	for i := range n {
		if errs[i] != nil {
			if !strings.Contains(errs[i].Error(), fmt.Sprintf("no free tcp port in %d-%d", lo, hi)) {
				t.Errorf("attach %d: %v", i, errs[i])
			}
			failed++
			continue
		}
		if ps := res[i].Ports; len(ps) != 1 || ps[0].HostPort < lo || ps[0].HostPort > hi || ps[0].HostPortEnd != 0 {
			t.Errorf("attach %d published %v", i, ps)
		} else {
			got[ps[0].HostPort] = true
		}
	}
	if failed != 1 || len(got) != 2 {
		t.Errorf("%d of %d attaches to %d-%d failed, ports %v", failed, n, lo, hi, got)
	}

	ns := newNetns(t)
	r, err := m.Attach(ns, "any", DefaultNetwork, AttachOptions{Ports: []PortMapping{{ContainerPort: 7000, Proto: "tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Ports) != 1 || r.Ports[0].HostPort == 0 {
		t.Fatalf("port 0 published as %v", r.Ports)
	}
	_, eps, err := m.Inspect(DefaultNetwork)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range eps {
		if e.ContainerID == "any" && (len(e.Ports) != 1 || e.Ports[0] != r.Ports[0]) {
			t.Errorf("lease records %v, Attach returned %v", e.Ports, r.Ports)
		}
	}
	whoServer(t, ns, ":7000")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(r.Ports[0].HostPort)))
	if got, err := who(t, "", "tcp4", addr, 2*time.Second); err != nil || got == "" {
		t.Errorf("%s: %q %v", addr, got, err)
	}
}

// TestParseExpose: docker's --expose PORT[-END][/PROTO], as ExposedPorts keys.
func TestParseExpose(t *testing.T) {
	for in, want := range map[string]string{"80": "80/tcp", "53/udp": "53/udp", "7000-7002/tcp": "7000/tcp 7001/tcp 7002/tcp"} {
		got, err := ParseExpose(in)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("ParseExpose(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "80/sctp", "90-80", "x", "65536", "1.2.3.4:80"} {
		if _, err := ParseExpose(bad); err == nil {
			t.Errorf("ParseExpose(%q) accepted", bad)
		}
	}
}
