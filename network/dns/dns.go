// Package dns is the small resolver hull runs for each user-defined network. It
// answers A queries for names the network knows (containers' names, aliases and
// short IDs) with authority, and relays every other query unchanged to an upstream
// resolver, over the transport it came in on (UDP or TCP). It parses only what it
// must: the header and the one question. The network package decides where it
// listens and what it knows; see network.ServeDNS for the lifecycle.
package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Server answers and relays DNS queries.
type Server struct {
	// Lookup returns the addresses of a name (lower-case, no trailing dot) the
	// client at from may know and whether it knows it; a known name is never
	// relayed.
	Lookup func(from netip.Addr, name string) ([]netip.Addr, bool)
	// Upstreams returns the resolvers ("ip" or "ip:port") to relay a query from
	// the client at from to; none means the query fails with SERVFAIL.
	Upstreams func(from netip.Addr) []string
	// Timeout bounds one relayed exchange with one upstream; default 2s.
	Timeout time.Duration
	// TTL of answers, in seconds; default 10: containers come and go.
	TTL uint32
	Log *slog.Logger
}

const (
	typeA   = 1
	typeANY = 255
	classIN = 1

	rcodeServFail = 2
	rcodeNXDomain = 3
	rcodeNotImp   = 4
)

// Serve answers on udp and tcp (either may be nil) until ctx ends, then closes
// them.
func (s *Server) Serve(ctx context.Context, udp net.PacketConn, tcp net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		if udp != nil {
			udp.Close()
		}
		if tcp != nil {
			tcp.Close()
		}
	})
	defer stop()
	errc := make(chan error, 2)
	if udp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- s.serveUDP(ctx, udp) }()
	}
	if tcp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- s.serveTCP(ctx, tcp) }()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

func (s *Server) serveUDP(ctx context.Context, pc net.PacketConn) error {
	buf := make([]byte, 65535)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		q := append([]byte(nil), buf[:n]...)
		from := addrOf(addr)
		go func() {
			if resp := s.handle(ctx, q, from, "udp"); resp != nil {
				_, _ = pc.WriteTo(resp, addr)
			}
		}()
	}
}

func (s *Server) serveTCP(ctx context.Context, l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			from := addrOf(c.RemoteAddr())
			for {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				q, err := readTCPMsg(c)
				if err != nil {
					return
				}
				resp := s.handle(ctx, q, from, "tcp")
				if resp == nil || writeTCPMsg(c, resp) != nil {
					return
				}
			}
		}()
	}
}

func addrOf(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func readTCPMsg(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err := io.ReadFull(r, msg)
	return msg, err
}

func writeTCPMsg(w io.Writer, msg []byte) error {
	out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(msg)), uint16(len(msg)))
	_, err := w.Write(append(out, msg...))
	return err
}

// question is the parsed header and first question of a query.
type question struct {
	id     uint16
	flags  uint16
	name   string // lower-case, no trailing dot
	qtype  uint16
	qclass uint16
	end    int // offset just past the question
}

var errFormat = errors.New("malformed dns message")

func parse(msg []byte) (question, error) {
	var q question
	if len(msg) < 12 {
		return q, errFormat
	}
	q.id = binary.BigEndian.Uint16(msg[0:])
	q.flags = binary.BigEndian.Uint16(msg[2:])
	if binary.BigEndian.Uint16(msg[4:]) != 1 {
		return q, errFormat
	}
	var labels []string
	i := 12
	for {
		if i >= len(msg) {
			return q, errFormat
		}
		l := int(msg[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(msg) { // compression pointers have no place in a question
			return q, errFormat
		}
		labels = append(labels, string(msg[i:i+l]))
		i += l
	}
	if i+4 > len(msg) {
		return q, errFormat
	}
	q.name = strings.ToLower(strings.Join(labels, "."))
	q.qtype = binary.BigEndian.Uint16(msg[i:])
	q.qclass = binary.BigEndian.Uint16(msg[i+2:])
	q.end = i + 4
	return q, nil
}

// handle returns the response to one query, or nil to stay silent (garbage).
func (s *Server) handle(ctx context.Context, msg []byte, from netip.Addr, proto string) []byte {
	q, err := parse(msg)
	if err != nil {
		if len(msg) >= 12 && msg[2]&0x80 == 0 {
			return reply(msg, q, rcodeNotImp, nil, 0, 12)
		}
		return nil
	}
	if q.flags&0x8000 != 0 { // a response, not a query
		return nil
	}
	if opcode := (q.flags >> 11) & 0xf; opcode != 0 {
		return reply(msg, q, rcodeNotImp, nil, 0, q.end)
	}
	if ips, ok := s.Lookup(from, q.name); ok && q.qclass == classIN {
		var answer []netip.Addr
		if q.qtype == typeA || q.qtype == typeANY {
			for _, ip := range ips {
				if ip.Is4() {
					answer = append(answer, ip)
				}
			}
		}
		ttl := s.TTL
		if ttl == 0 {
			ttl = 10
		}
		return reply(msg, q, 0, answer, ttl, q.end)
	}
	var ups []string
	if s.Upstreams != nil {
		ups = s.Upstreams(from)
	}
	for _, up := range ups {
		resp, err := s.relay(ctx, msg, up, proto)
		if err == nil {
			return resp
		}
		s.log().Debug("dns relay failed", "upstream", up, "name", q.name, "err", err)
	}
	if len(ups) == 0 {
		return reply(msg, q, rcodeNXDomain, nil, 0, q.end)
	}
	return reply(msg, q, rcodeServFail, nil, 0, q.end)
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// reply builds a response carrying the query's question and answers for it.
func reply(query []byte, q question, rcode uint16, ips []netip.Addr, ttl uint32, qend int) []byte {
	resp := make([]byte, 0, qend+16*len(ips))
	resp = append(resp, query[:qend]...)
	// QR, the query's opcode and RD, RA, AA when answering ourselves
	flags := uint16(0x8000) | (q.flags & 0x7900) | 0x0080 | rcode
	if rcode == 0 {
		flags |= 0x0400
	}
	binary.BigEndian.PutUint16(resp[2:], flags)
	qd := uint16(1)
	if qend == 12 {
		qd = 0
	}
	binary.BigEndian.PutUint16(resp[4:], qd)
	binary.BigEndian.PutUint16(resp[6:], uint16(len(ips)))
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 0) // the query's EDNS OPT is not echoed
	for _, ip := range ips {
		a := ip.As4()
		resp = append(resp, 0xc0, 12) // pointer to the question's name
		resp = binary.BigEndian.AppendUint16(resp, typeA)
		resp = binary.BigEndian.AppendUint16(resp, classIN)
		resp = binary.BigEndian.AppendUint32(resp, ttl)
		resp = binary.BigEndian.AppendUint16(resp, 4)
		resp = append(resp, a[:]...)
	}
	return resp
}

// relay sends the query unchanged to one upstream and returns its response.
func (s *Server) relay(ctx context.Context, msg []byte, upstream, proto string) ([]byte, error) {
	if _, _, err := net.SplitHostPort(upstream); err != nil {
		upstream = net.JoinHostPort(upstream, "53")
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, proto, upstream)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	if proto == "tcp" {
		if err := writeTCPMsg(c, msg); err != nil {
			return nil, err
		}
		return readTCPMsg(c)
	}
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		// a response to someone else's ID is not ours (and not a spoof we take)
		if n >= 12 && buf[0] == msg[0] && buf[1] == msg[1] {
			return buf[:n], nil
		}
	}
}

// Query builds a query for name (type A, recursion desired): for tests and tools.
func Query(id uint16, name string, qtype uint16) []byte {
	msg := binary.BigEndian.AppendUint16(nil, id)
	msg = append(msg, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		msg = append(msg, byte(len(l)))
		msg = append(msg, l...)
	}
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint16(msg, qtype)
	return binary.BigEndian.AppendUint16(msg, classIN)
}

// Answer is a parsed response: its rcode and the A records of its answer section.
type Answer struct {
	ID    uint16
	Rcode int
	AA    bool
	IPs   []netip.Addr
}

// ParseAnswer reads a response's rcode and A records: for tests and tools.
func ParseAnswer(msg []byte) (Answer, error) {
	q, err := parse(msg)
	if err != nil {
		return Answer{}, err
	}
	a := Answer{ID: q.id, Rcode: int(q.flags & 0xf), AA: q.flags&0x0400 != 0}
	an := int(binary.BigEndian.Uint16(msg[6:]))
	i := q.end
	for k := 0; k < an; k++ {
		// skip the owner name: labels or a pointer
		for i < len(msg) {
			if msg[i] == 0 {
				i++
				break
			}
			if msg[i]&0xc0 == 0xc0 {
				i += 2
				break
			}
			i += int(msg[i]) + 1
		}
		if i+10 > len(msg) {
			return a, errFormat
		}
		typ := binary.BigEndian.Uint16(msg[i:])
		rdlen := int(binary.BigEndian.Uint16(msg[i+8:]))
		i += 10
		if i+rdlen > len(msg) {
			return a, errFormat
		}
		if typ == typeA && rdlen == 4 {
			a.IPs = append(a.IPs, netip.AddrFrom4([4]byte(msg[i:i+4])))
		}
		i += rdlen
	}
	return a, nil
}

// TypeA is the query type of an IPv4 address record.
const TypeA = typeA
