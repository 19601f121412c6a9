// Package ipam does the address arithmetic of hull's networks: parsing a subnet,
// choosing its gateway and picking the next free address. It keeps no state: the
// leases themselves live in the network package's lease file, read and written under
// that package's file lock, so that two processes never hand out the same address.
package ipam

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrExhausted is returned when every usable address of a subnet is leased.
var ErrExhausted = errors.New("no free address")

// Pool is one IPv4 subnet and its gateway.
type Pool struct {
	Subnet  netip.Prefix // masked, e.g. 10.88.0.0/16
	Gateway netip.Addr   // inside Subnet, never handed out
	// Range, when valid, is the part of Subnet addresses are leased from
	// (docker's --ip-range): Next's and Contains'.
	Range netip.Prefix
}

// NewPool parses subnet ("10.88.0.0/16") and gateway (empty: the subnet's first
// host address) and checks that they fit together.
func NewPool(subnet, gateway string) (Pool, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return Pool{}, fmt.Errorf("subnet %q: %w", subnet, err)
	}
	if !p.Addr().Is4() {
		return Pool{}, fmt.Errorf("subnet %q: only IPv4 subnets are supported", subnet)
	}
	if p.Bits() > 30 {
		return Pool{}, fmt.Errorf("subnet %q: too small, need at least a /30", subnet)
	}
	if p.Masked() != p {
		return Pool{}, fmt.Errorf("subnet %q: host bits set, did you mean %s", subnet, p.Masked())
	}
	var gw netip.Addr
	if gateway == "" {
		gw = p.Addr().Next()
	} else if gw, err = netip.ParseAddr(gateway); err != nil {
		return Pool{}, fmt.Errorf("gateway %q: %w", gateway, err)
	}
	pool := Pool{Subnet: p, Gateway: gw}
	if !pool.usable(gw) {
		return Pool{}, fmt.Errorf("gateway %s is not a host address of %s", gw, p)
	}
	return pool, nil
}

// Broadcast is the subnet's last address.
func (p Pool) Broadcast() netip.Addr {
	a := p.Subnet.Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-p.Subnet.Bits()) - 1)
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a)
}

// usable tells whether a is a host address of the subnet: not the network address
// and not the broadcast address.
func (p Pool) usable(a netip.Addr) bool {
	return p.Subnet.Contains(a) && a != p.Subnet.Addr() && a != p.Broadcast()
}

// Contains tells whether a may be leased: a host address that is not the
// gateway, inside the range if there is one (docker takes a fixed address only
// from the range too).
func (p Pool) Contains(a netip.Addr) bool {
	return p.usable(a) && a != p.Gateway && (!p.Range.IsValid() || p.Range.Contains(a))
}

// Next picks a free address. It starts after last (the address handed out most
// recently, or the zero Addr), so a released address is not reused at once: a
// container that just went away may still be in someone's ARP or DNS cache.
func (p Pool) Next(used map[netip.Addr]bool, last netip.Addr) (netip.Addr, error) {
	dom := p.Subnet
	if p.Range.IsValid() {
		dom = p.Range
	}
	size := 1 << (32 - dom.Bits())
	a := last
	if !dom.Contains(a) {
		a = p.Gateway
		if !dom.Contains(a) {
			a = dom.Addr().Prev()
		}
	}
	for i := 0; i < size; i++ {
		a = a.Next()
		if !dom.Contains(a) {
			a = dom.Addr()
		}
		if p.Contains(a) && !used[a] {
			return a, nil
		}
	}
	if p.Range.IsValid() {
		return netip.Addr{}, fmt.Errorf("ip range %s of subnet %s: %w", p.Range, p.Subnet, ErrExhausted)
	}
	return netip.Addr{}, fmt.Errorf("subnet %s: %w", p.Subnet, ErrExhausted)
}

// WithRange is p handing out addresses only from r (docker's --ip-range), a
// range inside the subnet with at least one address to lease.
func (p Pool) WithRange(r string) (Pool, error) {
	rp, err := netip.ParsePrefix(r)
	if err != nil {
		return Pool{}, fmt.Errorf("ip range %q: %w", r, err)
	}
	if rp.Masked() != rp {
		return Pool{}, fmt.Errorf("ip range %q: host bits set, did you mean %s", r, rp.Masked())
	}
	if !rp.Addr().Is4() || rp.Bits() < p.Subnet.Bits() || !p.Subnet.Contains(rp.Addr()) {
		return Pool{}, fmt.Errorf("ip range %s is not inside subnet %s", rp, p.Subnet)
	}
	p.Range = rp
	if _, err := p.Next(nil, netip.Addr{}); err != nil {
		return Pool{}, fmt.Errorf("ip range %s: no address to lease in it", rp)
	}
	return p, nil
}
