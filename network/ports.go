package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// PortMapping is one published port: HostIP:HostPort on the host to ContainerPort
// of the container, for one protocol.
type PortMapping struct {
	HostIP        netip.Addr `json:"hostIP,omitzero"` // zero: every local address
	HostPort      uint16     `json:"hostPort"`
	ContainerPort uint16     `json:"containerPort"`
	Proto         string     `json:"proto"` // "tcp" or "udp"
}

func (p PortMapping) String() string {
	host := ""
	if p.HostIP.IsValid() {
		host = p.HostIP.String() + ":"
	}
	return fmt.Sprintf("%s%d->%d/%s", host, p.HostPort, p.ContainerPort, p.Proto)
}

// Conflicts tells whether two mappings want the same host port.
func (p PortMapping) Conflicts(q PortMapping) bool {
	return p.Proto == q.Proto && p.HostPort == q.HostPort &&
		(!p.HostIP.IsValid() || !q.HostIP.IsValid() || p.HostIP == q.HostIP)
}

// ParsePort parses one -p value, `[ip:]host[-end]:container[-end][/tcp|udp]`, and
// expands a range into one mapping per port. Both sides of a range have the same
// length; a single container port with a host range is refused, as it would be
// ambiguous. hull needs the host port: it does not pick free ones.
func ParsePort(spec string) ([]PortMapping, error) {
	bad := func(why string) error { return fmt.Errorf("invalid port %q: %s", spec, why) }
	rest, proto, _ := strings.Cut(spec, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil, bad("protocol must be tcp or udp")
	}
	var ipStr, hostStr, ctrStr string
	switch parts := strings.Split(rest, ":"); len(parts) {
	case 2:
		hostStr, ctrStr = parts[0], parts[1]
	case 3:
		ipStr, hostStr, ctrStr = parts[0], parts[1], parts[2]
	default:
		return nil, bad("want [ip:]hostport:containerport")
	}
	var ip netip.Addr
	if ipStr != "" && ipStr != "0.0.0.0" {
		var err error
		if ip, err = netip.ParseAddr(ipStr); err != nil || !ip.Is4() {
			return nil, bad("host address must be IPv4")
		}
	}
	hLo, hHi, err := portRange(hostStr)
	if err != nil {
		return nil, bad(err.Error())
	}
	cLo, cHi, err := portRange(ctrStr)
	if err != nil {
		return nil, bad(err.Error())
	}
	if hHi-hLo != cHi-cLo {
		return nil, bad("host and container ranges differ in length")
	}
	var out []PortMapping
	for i := 0; i <= int(hHi-hLo); i++ {
		out = append(out, PortMapping{HostIP: ip, HostPort: hLo + uint16(i), ContainerPort: cLo + uint16(i), Proto: proto})
	}
	return out, nil
}

func portRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = port(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = port(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s ends before it starts", s)
		}
	}
	return lo, hi, nil
}

func port(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q must be 1-65535", s)
	}
	return uint16(n), nil
}
