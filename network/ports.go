package network

// Published ports: docker's -p grammar, its PortBindings form, -P, and the
// picking of free host ports. Everything that reads or writes a -p value or a
// binding goes through here; the engine only carries the strings in its records.

import (
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// PortMapping is one published port: HostIP:HostPort on the host to ContainerPort
// of the container, for one protocol.
//
// As a request (ParsePublish, ParseBinding, AttachOptions.Ports) it may leave the
// host port to Attach: HostPort 0 asks for a free port, and HostPortEnd (when not
// 0) for a free one of HostPort-HostPortEnd. What Attach returns and records has
// the port it picked and HostPortEnd 0.
type PortMapping struct {
	HostIP        netip.Addr `json:"hostIP,omitzero"` // zero: every local address
	HostPort      uint16     `json:"hostPort"`
	HostPortEnd   uint16     `json:"hostPortEnd,omitzero"`
	ContainerPort uint16     `json:"containerPort"`
	Proto         string     `json:"proto"` // "tcp" or "udp"
}

func (p PortMapping) String() string {
	host := ""
	if p.HostIP.IsValid() {
		host = p.HostIP.String() + ":"
	}
	if p.HostPortEnd != 0 {
		return fmt.Sprintf("%s%d-%d->%d/%s", host, p.HostPort, p.HostPortEnd, p.ContainerPort, p.Proto)
	}
	return fmt.Sprintf("%s%d->%d/%s", host, p.HostPort, p.ContainerPort, p.Proto)
}

// Conflicts tells whether two mappings want the same host port.
func (p PortMapping) Conflicts(q PortMapping) bool {
	return p.Proto == q.Proto && p.HostPort == q.HostPort &&
		(!p.HostIP.IsValid() || !q.HostIP.IsValid() || p.HostIP == q.HostIP)
}

// ParsePublish parses one -p value, docker's
//
//	[ip:][hostPort[-hostPortEnd]:]containerPort[-containerPortEnd][/proto]
//
// into one request per container port, in order. The host address is IPv4,
// 0.0.0.0 or none for every address: hull has no IPv6, and refuses an address in
// docker's brackets (for IPv6) or with colons. The host side:
//
//	none, or 0        a free port for each container port (Attach picks them)
//	ports             as many as the container side has, port to port
//	a range, for a container port written as one port: a free one of the range
//
// The protocol is tcp (the default) or udp; docker's sctp is refused.
func ParsePublish(spec string) ([]PortMapping, error) {
	rest, proto, _ := strings.Cut(spec, "/")
	parts := strings.Split(rest, ":")
	n := len(parts)
	var ip, host string
	switch n {
	case 1:
	case 2:
		host = parts[0]
	default:
		// the address is what stands before the last two: an IPv6 one has colons
		ip, host = strings.Join(parts[:n-2], ":"), parts[n-2]
	}
	ps, err := publish(ip, host, parts[n-1], proto)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q: %w", spec, err)
	}
	return ps, nil
}

// ParsePort is ParsePublish for mappings whose host ports are given: it refuses
// a value that leaves one to Attach (no host port, port 0, a host range for one
// container port).
func ParsePort(spec string) ([]PortMapping, error) {
	ps, err := ParsePublish(spec)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.HostPort == 0 || p.HostPortEnd != 0 {
			return nil, fmt.Errorf("invalid port %q: want [ip:]hostport:containerport, a host port given", spec)
		}
	}
	return ps, nil
}

// Binding is p in the shape of docker's PortBindings (a container's
// HostConfig.PortBindings, also the Docker API's): the key "80/tcp", the host
// address ("" for every address) and the host port ("" for a free one, "8080",
// or "8000-8010" for a free one of the range). ParseBinding reads it back.
func (p PortMapping) Binding() (port, hostIP, hostPort string) {
	port = strconv.Itoa(int(p.ContainerPort)) + "/" + p.Proto
	if p.HostIP.IsValid() {
		hostIP = p.HostIP.String()
	}
	switch {
	case p.HostPortEnd != 0:
		hostPort = fmt.Sprintf("%d-%d", p.HostPort, p.HostPortEnd)
	case p.HostPort != 0:
		hostPort = strconv.Itoa(int(p.HostPort))
	}
	return port, hostIP, hostPort
}

// ParseBinding parses one entry of docker's PortBindings: port is the key
// ("80/tcp"), hostIP and hostPort are a binding's HostIp and HostPort.
func ParseBinding(port, hostIP, hostPort string) (PortMapping, error) {
	num, proto, _ := strings.Cut(port, "/")
	ps, err := publish(hostIP, hostPort, num, proto)
	if err == nil && len(ps) != 1 {
		err = errors.New("want one container port")
	}
	if err != nil {
		return PortMapping{}, fmt.Errorf("invalid port binding %s -> %s: %w", port, net.JoinHostPort(hostIP, hostPort), err)
	}
	return ps[0], nil
}

// PublishAll is -P: a free host port for each port the image exposes (its
// config's ExposedPorts: "80/tcp", "53/udp", "8080" for tcp) that none of
// published is for already.
func PublishAll(exposed map[string]struct{}, published []PortMapping) ([]PortMapping, error) {
	have := map[string]bool{}
	for _, p := range published {
		k, _, _ := p.Binding()
		have[k] = true
	}
	keys := make([]string, 0, len(exposed))
	for k := range exposed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []PortMapping
	for _, k := range keys {
		num, proto, _ := strings.Cut(k, "/")
		if proto == "" {
			proto = "tcp"
		}
		if have[num+"/"+proto] {
			continue
		}
		ps, err := ParsePublish(num + "/" + proto)
		if err != nil {
			return nil, fmt.Errorf("image's exposed port: %w", err)
		}
		for _, p := range ps {
			k, _, _ := p.Binding()
			have[k] = true
		}
		out = append(out, ps...)
	}
	return out, nil
}

// ParseExpose parses one --expose value, docker's PORT[-END][/PROTO], into the
// keys of an image's ExposedPorts ("80/tcp"), one per port of the range.
func ParseExpose(spec string) ([]string, error) {
	ports, proto, _ := strings.Cut(spec, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("invalid --expose %q: protocol must be tcp or udp", spec)
	}
	lo, hi, err := portRange(ports)
	if err != nil {
		return nil, fmt.Errorf("invalid --expose %q: %w", spec, err)
	}
	var out []string
	for p := int(lo); p <= int(hi); p++ {
		out = append(out, strconv.Itoa(p)+"/"+proto)
	}
	return out, nil
}

// publish makes the requests of a -p value or a binding from its parts.
func publish(ip, host, ctr, proto string) ([]PortMapping, error) {
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil, errors.New("protocol must be tcp or udp")
	}
	var hostIP netip.Addr
	if inner, ok := strings.CutPrefix(ip, "["); ok {
		// docker's brackets, for an IPv6 address
		if inner, ok = strings.CutSuffix(inner, "]"); !ok {
			return nil, fmt.Errorf("host address %q lacks its closing bracket", ip)
		}
		return nil, fmt.Errorf("host address %q must be IPv4, without brackets", inner)
	}
	if ip != "" && ip != "0.0.0.0" {
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("host address %q must be IPv4", ip)
		}
		hostIP = a
	}
	if ctr == "" {
		return nil, errors.New("no container port: want [ip:][hostport:]containerport")
	}
	cLo, cHi, err := portRange(ctr)
	if err != nil {
		return nil, err
	}
	var out []PortMapping
	switch {
	case host == "" || host == "0":
		for c := int(cLo); c <= int(cHi); c++ {
			out = append(out, PortMapping{HostIP: hostIP, ContainerPort: uint16(c), Proto: proto})
		}
	case strings.Contains(host, "-") && !strings.Contains(ctr, "-"):
		hLo, hHi, err := portRange(host)
		if err != nil {
			return nil, err
		}
		out = append(out, PortMapping{HostIP: hostIP, HostPort: hLo, HostPortEnd: hHi, ContainerPort: cLo, Proto: proto})
	default:
		hLo, hHi, err := portRange(host)
		if err != nil {
			return nil, err
		}
		if hHi-hLo != cHi-cLo {
			return nil, errors.New("host and container ranges differ in length")
		}
		for i := 0; i <= int(hHi-hLo); i++ {
			out = append(out, PortMapping{HostIP: hostIP, HostPort: hLo + uint16(i), ContainerPort: cLo + uint16(i), Proto: proto})
		}
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

// pickPorts gives the requests that leave the host port to Attach one: a port
// no endpoint publishes (taken), no other request of the attach holds, and that
// binds on the host now. A published port is a DNAT rule with no socket, which a
// bind does not see: hence taken. The test socket is closed again, so another
// program may take the port before a client connects (the DNAT rule then shadows
// it for remote clients). Attach calls it under the network lock, with taken
// from every network's leases, so two attaches never pick the same port.
func pickPorts(reqs, taken []PortMapping) ([]PortMapping, error) {
	held := slices.Clone(taken)
	for _, p := range reqs {
		if p.HostPort != 0 && p.HostPortEnd == 0 {
			held = append(held, p)
		}
	}
	free := func(p PortMapping) bool {
		for _, q := range held {
			if p.Conflicts(q) {
				return false
			}
		}
		_, err := bindPort(p.Proto, p.HostIP, int(p.HostPort))
		return err == nil
	}
	out := make([]PortMapping, 0, len(reqs))
	for _, p := range reqs {
		var err error
		switch {
		case p.HostPortEnd != 0:
			p.HostPort, err = freePortIn(p, free)
			p.HostPortEnd = 0
		case p.HostPort == 0:
			p.HostPort, err = freePort(p, free)
		default:
			out = append(out, p)
			continue
		}
		if err != nil {
			return nil, err
		}
		held = append(held, p)
		out = append(out, p)
	}
	return out, nil
}

// freePortIn picks a free port of HostPort-HostPortEnd, trying them in order from
// a random one on, so that runs of other state roots likely pick different ones.
func freePortIn(p PortMapping, free func(PortMapping) bool) (uint16, error) {
	lo, hi := int(p.HostPort), int(p.HostPortEnd)
	n := hi - lo + 1
	start := mathrand.IntN(n)
	for i := range n {
		p.HostPort = uint16(lo + (start+i)%n)
		if free(p) {
			return p.HostPort, nil
		}
	}
	return 0, fmt.Errorf("no free %s port in %d-%d", p.Proto, lo, hi)
}

// freePort asks the kernel for a port (binding port 0), until it gives one that
// is free.
func freePort(p PortMapping, free func(PortMapping) bool) (uint16, error) {
	for range 20 {
		hp, err := bindPort(p.Proto, p.HostIP, 0)
		if err != nil {
			return 0, err
		}
		if p.HostPort = hp; free(p) {
			return hp, nil
		}
	}
	return 0, fmt.Errorf("no free %s port", p.Proto)
}

// bindPort binds port (0: any) and releases it, returning the port bound.
func bindPort(proto string, ip netip.Addr, port int) (uint16, error) {
	host := "0.0.0.0"
	if ip.IsValid() {
		host = ip.String()
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return 0, fmt.Errorf("find a free udp port: %w", err)
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return 0, fmt.Errorf("find a free tcp port: %w", err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}
