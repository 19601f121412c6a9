// Package nft writes hull's nftables table. hull owns exactly one table per state
// root (`inet hull` for the default root) and never reads, flushes or edits anyone
// else's. The table is derived state: Apply rebuilds all of it from a Ruleset in one
// netlink transaction (add table; delete table; add table, chains, rules), so the
// kernel never shows a half-written table, a crashed command leaves nothing that the
// next Apply does not replace, and an empty Ruleset deletes the table. (The chains
// are flushed and refilled rather than the table recreated: see build.)
//
// The table, as `nft list table inet hull` shows it:
//
//	chain prerouting  { type nat hook prerouting priority dstnat;  fib daddr type local jump ports }
//	chain output      { type nat hook output priority dstnat;      fib daddr type local jump ports }
//	chain ports       { one DNAT rule per published port:
//	                    meta nfproto ipv4 meta l4proto tcp [ip daddr H] th dport P dnat ip to C:Q }
//	chain postrouting { type nat hook postrouting priority srcnat; per network N on bridge B:
//	                    ip saddr N oifname != B masquerade                (egress; not internal)
//	                    oifname B ct status dnat ip saddr N masquerade    (hairpin; only without KeepSource)
//	                    oifname B ct status dnat ip saddr 127.0.0.0/8 masquerade (localhost)
//	                    and with KeepSource, per container C that publishes a port:
//	                    oifname B ip saddr C ip daddr C masquerade        (C to itself) }
//	chain forward     { type filter hook forward priority filter; policy accept;
//	                    iifname B oifname B accept                         (within a network, per network)
//	                    ct status dnat accept                              (published ports)
//	                    iifname B oifname != B oifname "hull*" drop        (isolation)
//	                    iifname B oifname != B drop; oifname B iifname != B drop (internal)
//	                    iifname B accept; oifname B accept }
//
// One inet table holds both filter and nat chains (nat in the inet family needs
// kernel 5.2). External clients keep their source address: only DNATed connections
// that come from 127.0.0.0/8, from another network (its egress masquerade), or from
// the same network when it lacks KeepSource are masqueraded.
package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Network is one hull network as the firewall sees it.
type Network struct {
	Bridge   string
	Subnet   netip.Prefix
	Internal bool // no egress, no traffic to or from other interfaces
	// KeepSource: the bridge's bridged frames pass the host's IPv4 netfilter hooks
	// (br_netfilter), so a container that reaches another's published port on the
	// same network need not be masqueraded: the server's reply crosses the bridge
	// straight to the client, and conntrack sees it there to undo the DNAT. Without
	// it the reply would bypass conntrack and reach the client with the server's
	// own address, so such connections are masqueraded (the server sees the
	// gateway). A container reaching itself is masqueraded either way: its own
	// address as the source would be a martian to it.
	KeepSource bool
}

// Port is one published port: traffic to a local address (HostIP, or any when
// zero) on HostPort goes to ContainerIP:ContainerPort.
type Port struct {
	Proto         string // "tcp" or "udp"
	HostIP        netip.Addr
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerPort uint16
}

// Ruleset is everything the table holds.
type Ruleset struct {
	Networks []Network
	Ports    []Port
}

// BridgePrefix starts the name of every hull bridge; isolation drops forwarding from
// one hull bridge to any other whose name starts with it, also across state roots.
const BridgePrefix = "hull"

// Apply makes table hold exactly rs, in one transaction. An empty rs deletes the
// table (and deleting a table that is not there is no error).
func Apply(table string, rs Ruleset) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	if len(rs.Networks) == 0 && len(rs.Ports) == 0 {
		// A missing table stays missing without a transaction: one that deletes a
		// table, even one it added itself, leaves destroy work that the closing
		// of this netlink socket waits for (an RCU grace period, 4-15 ms), and
		// every `rm` reconciles the networks, mostly with none in use.
		if _, err := c.ListTableOfFamily(t.Name, t.Family); errors.Is(err, unix.ENOENT) {
			return nil
		}
		// add-then-delete: deleting a missing table would fail the whole batch,
		// adding an existing one is a no-op, so the pair removes it either way
		c.AddTable(t)
		c.DelTable(t)
	} else if err := sync(c, t, rs); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: write table inet %s: %w", table, err)
	}
	return nil
}

// group is rules that come and go together, tagged in the kernel by a comment
// "hull:<key>"; the key holds everything the rules are made of, so equal keys
// mean equal rules.
type group struct {
	chain string
	key   string
	first bool // must stay ahead of the chain's other rules
	rules [][]expr.Any
}

// sync queues what turns the table's current rules into rs: it reads the tagged
// rules, deletes the groups rs does not have and adds the groups the table lacks.
// Only deletions are expensive (the kernel frees rules after an RCU grace period,
// ~10 ms a transaction, where an addition costs ~0.2 ms), and they happen on detach
// only, so attach stays cheap.
func sync(c *nftables.Conn, t *nftables.Table, rs Ruleset) error {
	want, err := groups(rs)
	if err != nil {
		return err
	}
	have := map[string][]*nftables.Rule{} // by chain + key
	chains := map[string]*nftables.Chain{}
	if _, err := c.ListTableOfFamily(t.Name, t.Family); err == nil {
		for _, name := range chainNames {
			ch := &nftables.Chain{Name: name, Table: t}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				continue // the chain is created below
			}
			chains[name] = ch
			for _, r := range rules {
				comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
				key := strings.TrimPrefix(comment, "hull:")
				r.Table, r.Chain = t, ch
				have[name+" "+key] = append(have[name+" "+key], r)
			}
		}
	}
	if len(chains) != len(chainNames) {
		// re-adding existing chains is no no-op for the clock: the base chains'
		// policy update made every transaction wait ~10 ms
		c.AddTable(t)
		chains = addChains(c, t)
	}
	wanted := map[string]*group{}
	for i := range want {
		wanted[want[i].chain+" "+want[i].key] = &want[i]
	}
	for k, rules := range have {
		if g := wanted[k]; g == nil || len(g.rules) != len(rules) {
			for _, r := range rules {
				if err := c.DelRule(r); err != nil {
					return fmt.Errorf("nftables: delete rule: %w", err)
				}
			}
			delete(have, k)
		}
	}
	for _, g := range want {
		if _, ok := have[g.chain+" "+g.key]; ok {
			continue
		}
		ud := userdata.AppendString(nil, userdata.TypeComment, "hull:"+g.key)
		if g.first {
			for i := len(g.rules) - 1; i >= 0; i-- {
				c.InsertRule(&nftables.Rule{Table: t, Chain: chains[g.chain], Exprs: g.rules[i], UserData: ud})
			}
			continue
		}
		for _, e := range g.rules {
			c.AddRule(&nftables.Rule{Table: t, Chain: chains[g.chain], Exprs: e, UserData: ud})
		}
	}
	return nil
}

var chainNames = []string{"prerouting", "output", "ports", "postrouting", "forward"}

// addChains queues the chains; adding a chain that exists with the same hook is a
// no-op.
func addChains(c *nftables.Conn, t *nftables.Table) map[string]*nftables.Chain {
	accept := nftables.ChainPolicyAccept
	return map[string]*nftables.Chain{
		"prerouting": c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest}),
		"output": c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest}),
		"ports": c.AddChain(&nftables.Chain{Name: "ports", Table: t}),
		"postrouting": c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource}),
		"forward": c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept}),
	}
}

func cat(e ...[]expr.Any) []expr.Any {
	var all []expr.Any
	for _, x := range e {
		all = append(all, x...)
	}
	return all
}

// groups turns rs into the table's rule groups.
func groups(rs Ruleset) ([]group, error) {
	jumpPorts := verdict(expr.VerdictJump, "ports")
	gs := []group{
		{chain: "prerouting", key: "base", rules: [][]expr.Any{cat(localDaddr(), jumpPorts)}},
		{chain: "output", key: "base", rules: [][]expr.Any{cat(localDaddr(), jumpPorts)}},
		{chain: "forward", key: "base", first: true, rules: [][]expr.Any{cat(ctDNAT(), verdict(expr.VerdictAccept, ""))}},
	}
	for _, p := range rs.Ports {
		var proto byte
		switch p.Proto {
		case "tcp":
			proto = unix.IPPROTO_TCP
		case "udp":
			proto = unix.IPPROTO_UDP
		default:
			return nil, fmt.Errorf("port %d: unknown protocol %q", p.HostPort, p.Proto)
		}
		if !p.ContainerIP.Is4() || (p.HostIP.IsValid() && !p.HostIP.Is4()) {
			return nil, fmt.Errorf("port %d: only IPv4 addresses are supported", p.HostPort)
		}
		e := [][]expr.Any{ipv4(), {
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		}}
		host := "*"
		if p.HostIP.IsValid() {
			e = append(e, daddr(p.HostIP))
			host = p.HostIP.String()
		}
		e = append(e, dport(p.HostPort), dnat(p.ContainerIP, p.ContainerPort))
		gs = append(gs, group{chain: "ports", rules: [][]expr.Any{cat(e...)},
			key: fmt.Sprintf("port %s %s:%d %s:%d", p.Proto, host, p.HostPort, p.ContainerIP, p.ContainerPort)})
	}

	loopback := netip.MustParsePrefix("127.0.0.0/8")
	masq := []expr.Any{&expr.Masq{}}
	drop, accept := verdict(expr.VerdictDrop, ""), verdict(expr.VerdictAccept, "")
	for _, n := range rs.Networks {
		key := fmt.Sprintf("net %s %s", n.Bridge, n.Subnet)
		if n.Internal {
			key += " internal"
		}
		if n.KeepSource {
			key += " keepsource"
		}
		oif := ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, n.Bridge)
		post := group{chain: "postrouting", key: key}
		if !n.Internal {
			post.rules = append(post.rules, cat(saddrIn(n.Subnet), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.Bridge), masq))
		}
		if !n.KeepSource {
			post.rules = append(post.rules, cat(oif, ctDNAT(), saddrIn(n.Subnet), masq))
		}
		post.rules = append(post.rules, cat(oif, ctDNAT(), saddrIn(loopback), masq))
		if n.KeepSource {
			// a group per container, so that a container's coming and going
			// adds and deletes its rule only
			seen := map[netip.Addr]bool{}
			for _, p := range rs.Ports {
				if c := p.ContainerIP; n.Subnet.Contains(c) && !seen[c] {
					seen[c] = true
					gs = append(gs, group{chain: "postrouting", key: fmt.Sprintf("self %s %s", n.Bridge, c),
						rules: [][]expr.Any{cat(oif, saddrIn(netip.PrefixFrom(c, 32)), daddr(c), masq)}})
				}
			}
		}

		in := ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, n.Bridge)
		outNot := ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, n.Bridge)
		fwd := group{chain: "forward", key: key}
		if n.Internal {
			fwd.rules = append(fwd.rules,
				cat(in, outNot, drop),
				cat(oif, ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, n.Bridge), drop))
		} else {
			// a prefix compare: only the first len(BridgePrefix) bytes of the name
			hullOut := []expr.Any{
				&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(BridgePrefix)},
			}
			fwd.rules = append(fwd.rules, cat(in, outNot, hullOut, drop))
		}
		fwd.rules = append(fwd.rules, cat(in, accept), cat(oif, accept))
		// Frames bridged between two containers of the network pass this chain
		// too (br_netfilter), each one, the bulk of the traffic: they are
		// accepted by the chain's first rules, on two compares.
		intra := group{chain: "forward", key: "intra " + key, first: true, rules: [][]expr.Any{cat(in, oif, accept)}}
		gs = append(gs, post, fwd, intra)
	}
	return gs, nil
}

func verdict(k expr.VerdictKind, chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: k, Chain: chain}}
}

// ifname compares an interface name; the kernel stores names NUL-padded to IFNAMSIZ,
// so an exact match compares the name plus its terminating NUL.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: append([]byte(name), 0)},
	}
}

func ipv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
}

// localDaddr is `fib daddr type local`: the packet is for one of this host's
// addresses (127.0.0.1, the bridge gateways, the uplink's).
func localDaddr() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func saddrIn(p netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	a := p.Masked().Addr().As4()
	return append(ipv4(),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	)
}

func daddr(a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

func dport(p uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)},
	}
}

// ctDNAT is `ct status dnat`: the connection's destination was rewritten, i.e. it
// came in through a published port.
func ctDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(0x20), // IPS_DST_NAT
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func dnat(ip netip.Addr, port uint16) []expr.Any {
	a := ip.As4()
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: a[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
			RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}
