package engine

import (
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/hullproject/hull/network"
)

// A port another container publishes has no socket; the picker must skip it
// anyway, every time, not by luck of a random start.
func TestPortMappingsSkipPublished(t *testing.T) {
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
	taken := []network.PortMapping{{HostPort: uint16(lo), ContainerPort: 80, Proto: "tcp"}}
	// lo+1 is bound by someone else
	busy, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(lo+1)))
	if err != nil {
		t.Skipf("port %d: %v", lo+1, err)
	}
	defer busy.Close()
	b := map[string][]PortBinding{"8080/tcp": {{HostPort: strconv.Itoa(lo) + "-" + strconv.Itoa(hi)}}}
	for range 30 {
		ports, random, err := portMappings(b, taken)
		if err != nil {
			t.Fatal(err)
		}
		if !random || len(ports) != 1 || int(ports[0].HostPort) != hi {
			t.Fatalf("%d-%d with %d published and %d bound: %v", lo, hi, lo, lo+1, ports)
		}
	}
	// udp on the same number is another port
	taken[0].Proto = "udp"
	seen := map[uint16]bool{}
	for range 30 {
		ports, _, err := portMappings(b, taken)
		if err != nil {
			t.Fatal(err)
		}
		seen[ports[0].HostPort] = true
	}
	if !seen[uint16(lo)] || seen[uint16(lo+1)] {
		t.Errorf("ports picked with only lo+1 bound: %v", seen)
	}
	// every port of the range taken
	taken = append(taken, network.PortMapping{HostPort: uint16(hi), Proto: "tcp"}, network.PortMapping{HostPort: uint16(lo), Proto: "tcp"})
	if _, _, err := portMappings(b, taken); err == nil {
		t.Error("a range with no free port gave one")
	}
	// a port the kernel hands out for -p :80 is never a published one
	b = map[string][]PortBinding{"80/tcp": {{HostPort: ""}}, "81/tcp": {{HostPort: ""}}}
	ports, _, err := portMappings(b, taken)
	if err != nil || len(ports) != 2 || ports[0].HostPort == ports[1].HostPort {
		t.Errorf("two random ports: %v %v", ports, err)
	}
}
