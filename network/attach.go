package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hullproject/hull/network/ipam"
	"github.com/hullproject/hull/network/nft"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/trace"
)

// ErrAttached is returned when attaching a container to a network twice.
var ErrAttached = errors.New("container already attached to network")

// AttachOptions are the per-container network settings of `hull run`.
type AttachOptions struct {
	Name    string        // container name, resolvable on user networks
	Aliases []string      // --network-alias
	Ports   []PortMapping // -p requests: Attach picks the host ports they leave to it
	MAC     net.HardwareAddr
	IP      netip.Addr // --ip; zero: the next free address
	DNS     []string   // --dns: upstreams the network's resolver uses for this container
	// Trace records Attach's kernel steps (internal/trace); nil: none.
	Trace *trace.Tracer
}

// Endpoint is a container's lease on a network, the record Detach and Reconcile
// work from.
type Endpoint struct {
	ContainerID string        `json:"containerID"`
	Name        string        `json:"name,omitempty"`
	Aliases     []string      `json:"aliases,omitempty"`
	IP          netip.Addr    `json:"ip"`
	MAC         string        `json:"mac"`
	HostVeth    string        `json:"hostVeth"`
	Interface   string        `json:"interface"`
	Netns       string        `json:"netns"`
	Ports       []PortMapping `json:"ports,omitempty"`
	DNS         []string      `json:"dns,omitempty"`
	Created     time.Time     `json:"created"`
}

// Leases is <root>/networks/leases/<name>.json.
type Leases struct {
	Last      netip.Addr           `json:"last,omitzero"` // most recently leased
	Endpoints map[string]*Endpoint `json:"endpoints"`     // by container ID
}

func (l *Leases) sorted() []Endpoint {
	var out []Endpoint
	for _, e := range l.Endpoints {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out
}

// Result is what Attach did, for the container's record and its /etc files.
type Result struct {
	Network   string
	IP        netip.Prefix // address and the subnet's length
	Gateway   netip.Addr   // the bridge's address; no default route on internal networks
	MAC       net.HardwareAddr
	HostVeth  string
	Interface string // inside the container
	MTU       int
	DNS       bool // the network has a resolver at Gateway:53
	Internal  bool
	Ports     []PortMapping // AttachOptions.Ports, with the host ports picked
}

func (m *Manager) leasesPath(name string) string {
	return filepath.Join(m.dir, "leases", name+".json")
}

func (m *Manager) readLeases(name string) (*Leases, error) {
	l := &Leases{}
	if _, err := readJSON(m.leasesPath(name), l); err != nil {
		if st, serr := os.Stat(m.leasesPath(name)); serr != nil || st.Size() != 0 {
			return nil, err
		}
		// empty: a power loss caught a write that was never fsynced (see
		// writeLeases); no container of it survived the reboot
		l = &Leases{}
	}
	if l.Endpoints == nil {
		l.Endpoints = map[string]*Endpoint{}
	}
	return l, nil
}

// vethName derives the host end's name from network and container, so that the
// link can be found and removed with no other record.
func vethName(networkID, containerID string) string {
	sum := sha256.Sum256([]byte(networkID + "/" + containerID))
	return "veth" + hex.EncodeToString(sum[:4])
}

// testHook, when set by a test, is called at each stage of Attach.
var testHook func(stage string)

func hook(stage string) {
	if testHook != nil {
		testHook(stage)
	}
}

// Attach connects the container whose network namespace is netnsPath to a network:
// a lease, a veth pair (host end veth<8 hex> on the network's bridge, the other end
// created inside the namespace as eth0, or ethN when eth0 is taken), the address,
// lo up, a default route via the gateway (except on internal networks), and the
// firewall rules for opts.Ports, with the free host ports they ask for picked
// (pickPorts). On failure everything done is undone. After a
// crash anywhere in it, Detach or Reconcile cleans up; a second Attach of the same
// container to the same network fails with ErrAttached until then.
//
// Attach takes the state lock only for the lease and firewall step; the veth work
// runs unlocked, so concurrent attaches overlap.
func (m *Manager) Attach(netnsPath, containerID, network string, opts AttachOptions) (*Result, error) {
	if containerID == "" {
		return nil, errors.New("attach: no container id")
	}
	tr := opts.Trace
	t0 := tr.Now()
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("attach %s: open netns %s: %w", containerID, netnsPath, err)
	}
	defer ns.Close()
	// Only the routing family: links, addresses, routes. NewHandleAt with none
	// opens xfrm and netfilter sockets too, and a kernel without xfrm_user
	// (loaded) refuses the whole handle.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("attach %s: netlink in %s: %w", containerID, netnsPath, err)
	}
	defer h.Close()
	links, err := redump(h.LinkList)
	tr.Step(t0, trace.Network, "setns+socket", err, trace.Args{Source: netnsPath, Detail: "a NETLINK_ROUTE socket in the container's namespace; its links listed"})
	if err != nil {
		return nil, fmt.Errorf("attach %s: list links in %s: %w", containerID, netnsPath, err)
	}
	ifname := freeIfname(links)
	hook("opened")

	n, ep, err := m.lease(netnsPath, containerID, network, ifname, opts)
	if err != nil {
		return nil, err
	}
	res, err := m.plumb(ns, h, links, n, ep, tr)
	if err != nil {
		if derr := m.Detach(containerID, network); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, fmt.Errorf("attach %s to %s: %w", containerID, network, err)
	}
	return res, nil
}

// lease is Attach's part under the lock: the address, the record, the bridge and
// the firewall. The record is written before any kernel object exists, so a crash
// at any later point leaves something Reconcile can find.
func (m *Manager) lease(netnsPath, containerID, network, ifname string, opts AttachOptions) (*Network, *Endpoint, error) {
	tr := opts.Trace
	t0 := tr.Now()
	unlock, err := m.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	n, err := m.getLocked(network)
	if err != nil {
		return nil, nil, err
	}
	if n.Internal && len(opts.Ports) > 0 {
		return nil, nil, fmt.Errorf("attach %s: network %s is internal, ports cannot be published", containerID, network)
	}
	l, err := m.readLeases(network)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := l.Endpoints[containerID]; ok {
		return nil, nil, fmt.Errorf("attach %s to %s: %w", containerID, network, ErrAttached)
	}
	if len(l.Endpoints) == 0 {
		if n, err = m.claimLocked(n); err != nil {
			return nil, nil, fmt.Errorf("attach %s to %s: %w", containerID, network, err)
		}
	}
	pool := ipam.Pool{Subnet: n.Subnet, Gateway: n.Gateway, Range: n.IPRange}
	used := map[netip.Addr]bool{}
	for _, e := range l.Endpoints {
		used[e.IP] = true
	}
	ip := opts.IP
	if ip.IsValid() {
		if !pool.Contains(ip) || used[ip] {
			return nil, nil, fmt.Errorf("attach %s: address %s is taken or not in %s", containerID, ip, n.Subnet)
		}
	} else if ip, err = pool.Next(used, l.Last); err != nil {
		return nil, nil, fmt.Errorf("attach %s to %s: %w", containerID, network, err)
	}
	mac := opts.MAC
	if mac == nil {
		// like Docker: 02:42 then the IPv4 address, a locally administered MAC
		// that is stable for an address and unique on the bridge
		a := ip.As4()
		mac = net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
	}
	all, leases, err := m.leasesLocked(map[string]*Leases{network: l})
	if err != nil {
		return nil, nil, err
	}
	// the free ports are picked here, under the lock, from what every endpoint
	// publishes: a concurrent attach sees them in the lease written below
	ports, err := pickPorts(opts.Ports, published(leases))
	if err != nil {
		return nil, nil, fmt.Errorf("attach %s: %w", containerID, err)
	}
	ep := &Endpoint{ContainerID: containerID, Name: opts.Name, Aliases: opts.Aliases, IP: ip,
		MAC: mac.String(), HostVeth: vethName(n.ID, containerID), Interface: ifname,
		Netns: netnsPath, Ports: ports, DNS: opts.DNS, Created: time.Now().UTC()}
	l.Endpoints[containerID] = ep
	l.Last = ip
	// build the rules first: a port conflict fails here, before anything is written
	rs, err := ruleset(all, leases)
	if err != nil {
		return nil, nil, fmt.Errorf("attach %s: %w", containerID, err)
	}
	if err := writeLeases(m.leasesPath(network), l); err != nil {
		return nil, nil, fmt.Errorf("attach %s: write lease: %w", containerID, err)
	}
	if tr.On() {
		tr.Step(t0, trace.Network, "write", nil, trace.Args{File: m.leasesPath(network), Value: ip.String(), Detail: "the address leased from " + n.Subnet.String()})
	}
	hook("leased")
	t0 = tr.Now()
	err = ensureBridge(n)
	tr.Step(t0, trace.Network, "netlink", err, trace.Args{Target: n.Bridge, Type: "bridge", Detail: "RTM_NEWLINK, RTM_NEWADDR, up (if it was not there)"})
	hook("bridge")
	if err == nil {
		t0 = tr.Now()
		err = m.applyLocked(rs)
		tr.Step(t0, trace.Network, "nftables", err, trace.Args{Target: m.cfg.Table, Count: len(rs.Ports), Detail: "hull's table replaced in one transaction (count: published ports)"})
	}
	hook("firewall")
	if err != nil {
		delete(l.Endpoints, containerID)
		_ = writeLeases(m.leasesPath(network), l)
		_ = m.syncLocked()
		return nil, nil, fmt.Errorf("attach %s to %s: %w", containerID, network, err)
	}
	return n, ep, nil
}

// plumb creates the veth pair and configures the container's end.
func (m *Manager) plumb(ns netns.NsHandle, h *netlink.Handle, links []netlink.Link, n *Network, ep *Endpoint, tr *trace.Tracer) (*Result, error) {
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	mac, err := net.ParseMAC(ep.MAC)
	if err != nil {
		return nil, err
	}
	mtu := hostMTU()
	if n.MTU > 0 {
		mtu = n.MTU
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: ep.HostVeth, MTU: mtu, MasterIndex: br.Attrs().Index, Flags: net.FlagUp},
		PeerName:  ep.Interface, PeerHardwareAddr: mac, PeerMTU: uint32(mtu),
		// created straight inside the container's namespace under its final name:
		// no move and no rename, two netlink round trips fewer
		PeerNamespace: netlink.NsFd(int(ns)),
	}
	// EEXIST: either this container's own link from its last run, whose deletion
	// DetachLater left for after the end was reported (still running, or its
	// monitor killed before it), or another container's (a 32-bit name collision),
	// which must not be touched: a link of ours is one no lease names.
	t0 := tr.Now()
	err = netlink.LinkAdd(veth)
	if errors.Is(err, unix.EEXIST) && !m.vethLeased(n, ep) {
		if err = deleteLink(ep.HostVeth); err == nil {
			err = netlink.LinkAdd(veth)
		}
	}
	tr.Step(t0, trace.Network, "netlink", err, trace.Args{Type: "veth", Source: ep.HostVeth, Target: ep.Interface,
		Detail: "RTM_NEWLINK: the pair, one end on the bridge, the other made in the container's namespace"})
	if err != nil {
		return nil, fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
	}
	hook("veth")
	// hairpin: a container that reaches its own published port through the host
	// gets the packet back through the port it came in by, which a bridge refuses
	// to do unless the port is in hairpin mode
	t0 = tr.Now()
	err = netlink.LinkSetHairpin(veth, true)
	tr.Step(t0, trace.Network, "netlink", err, trace.Args{Target: ep.HostVeth, Detail: "hairpin mode on the bridge port"})
	if err != nil {
		return nil, fmt.Errorf("hairpin on %s: %w", ep.HostVeth, err)
	}
	t0 = tr.Now()
	link, err := h.LinkByName(ep.Interface)
	if err != nil {
		return nil, fmt.Errorf("find %s in container: %w", ep.Interface, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ep.IP.AsSlice(), Mask: net.CIDRMask(n.Subnet.Bits(), 32)}}
	err = h.AddrAdd(link, addr)
	if tr.On() {
		tr.Step(t0, trace.Network, "netlink", err, trace.Args{Target: ep.Interface, Value: addr.IPNet.String(), Detail: "RTM_NEWADDR in the container"})
	}
	if err != nil {
		return nil, fmt.Errorf("add %s to %s: %w", addr, ep.Interface, err)
	}
	t0 = tr.Now()
	if err := h.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("set %s up: %w", ep.Interface, err)
	}
	for _, l := range links {
		if l.Attrs().Name == "lo" && l.Attrs().Flags&net.FlagUp == 0 {
			if err := h.LinkSetUp(l); err != nil {
				return nil, fmt.Errorf("set lo up: %w", err)
			}
		}
	}
	tr.Step(t0, trace.Network, "netlink", nil, trace.Args{Target: ep.Interface, Detail: "RTM_NEWLINK IFF_UP in the container (and lo)"})
	hook("configured")
	if !n.Internal {
		t0 = tr.Now()
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: n.Gateway.AsSlice()}
		// a container on several networks keeps the first one's default route
		err := h.RouteAdd(r)
		if tr.On() {
			tr.Step(t0, trace.Network, "netlink", err, trace.Args{Target: "default", Value: "via " + n.Gateway.String(), Detail: "RTM_NEWROUTE in the container"})
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("add default route via %s: %w", n.Gateway, err)
		}
	}
	t0 = tr.Now()
	waitForwarding(ep.HostVeth)
	if tr.On() {
		tr.Step(t0, trace.Network, "wait", nil, trace.Args{File: "/sys/class/net/" + ep.HostVeth + "/brport/state", Detail: "until the bridge port forwards (the kernel's linkwatch)"})
	}
	return &Result{Network: n.Name, IP: netip.PrefixFrom(ep.IP, n.Subnet.Bits()), Gateway: n.Gateway,
		MAC: mac, HostVeth: ep.HostVeth, Interface: ep.Interface, MTU: mtu, DNS: n.DNS, Internal: n.Internal,
		Ports: ep.Ports}, nil
}

// vethLeased tells whether an endpoint of network n other than ep has ep's host
// veth name (or whether it cannot tell).
func (m *Manager) vethLeased(n *Network, ep *Endpoint) bool {
	l, err := m.readLeases(n.Name)
	if err != nil {
		return true
	}
	for id, other := range l.Endpoints {
		if id != ep.ContainerID && other.HostVeth == ep.HostVeth {
			return true
		}
	}
	return false
}

// waitForwarding waits (briefly) until the bridge forwards through the host veth.
// The port turns forwarding only when the kernel's linkwatch work has seen the
// veth's carrier come up, which happens asynchronously after the container's end
// was set up, usually within a millisecond; a packet the container sends before
// that is dropped. A container's very first packet is often an ARP request for
// the gateway, whose retry comes a second later: so Attach returns only once the
// port forwards, and gives up waiting (without failing) after a second.
func waitForwarding(hostVeth string) {
	path := "/sys/class/net/" + hostVeth + "/brport/state"
	deadline := time.Now().Add(time.Second)
	for {
		st, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(st)) == "3" || time.Now().After(deadline) { // BR_STATE_FORWARDING
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func freeIfname(links []netlink.Link) string {
	taken := map[string]bool{}
	for _, l := range links {
		taken[l.Attrs().Name] = true
	}
	for i := 0; ; i++ {
		if name := fmt.Sprintf("eth%d", i); !taken[name] {
			return name
		}
	}
}

// Detach undoes Attach: it deletes the veth pair (when the container's namespace
// is already gone the kernel did), the lease and the container's port rules, and
// the bridge when it was the network's last endpoint. Detaching what is not
// attached, or from a network that no longer exists, is no error.
func (m *Manager) Detach(containerID, network string) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := m.getLocked(network)
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	l, err := m.readLeases(network)
	if err != nil {
		return err
	}
	if err := m.dropLocked(n, l, containerID); err != nil {
		return err
	}
	return m.syncLocked()
}

// DetachLater is Detach that leaves the host's end of the veth pair to the caller:
// it frees the lease and the port rules now, under the lock, and returns the
// link's deletion, which takes the kernel 10-40 ms (unregistering the two net
// devices waits for RCU grace periods) and which nothing waits for: the address is
// free, the container's namespace is dying with the container, and the veth's name
// is its container's alone (vethName; Attach of the same container deletes a
// leftover). The caller runs it once it has reported the container's end. A
// network's last endpoint goes as with Detach, the bridge with it, and the
// function returned does nothing.
func (m *Manager) DetachLater(containerID, network string) (finish func(), err error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	n, err := m.getLocked(network)
	if errors.Is(err, ErrNotFound) {
		return func() {}, nil
	} else if err != nil {
		return nil, err
	}
	l, err := m.readLeases(network)
	if err != nil {
		return nil, err
	}
	if _, ok := l.Endpoints[containerID]; !ok || len(l.Endpoints) == 1 {
		if err := m.dropLocked(n, l, containerID); err != nil {
			return nil, err
		}
		return func() {}, m.syncLocked()
	}
	delete(l.Endpoints, containerID)
	if err := writeLeases(m.leasesPath(n.Name), l); err != nil {
		return nil, fmt.Errorf("detach %s: write leases: %w", containerID, err)
	}
	if err := m.syncLocked(); err != nil {
		return nil, err
	}
	// The link is deleted by its index, which the kernel does not give again
	// soon: a new attach of the same container may have made a veth of the
	// same name by the time the deletion runs.
	name := vethName(n.ID, containerID)
	link, err := netlink.LinkByName(name)
	if err != nil {
		return func() {}, nil // gone with the container's namespace
	}
	index := link.Attrs().Index
	return func() {
		if l, err := netlink.LinkByIndex(index); err == nil && l.Attrs().Name == name {
			netlink.LinkDel(l)
		}
	}, nil
}

// Rename gives a container's endpoints on every network a new name: the
// resolvers answer from the lease files, which they read again when they change.
func (m *Manager) Rename(containerID, name string) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	nets, err := m.listLocked()
	if err != nil {
		return err
	}
	for _, n := range nets {
		l, err := m.readLeases(n.Name)
		if err != nil {
			return err
		}
		if ep, ok := l.Endpoints[containerID]; ok && ep.Name != name {
			ep.Name = name
			if err := writeLeases(m.leasesPath(n.Name), l); err != nil {
				return fmt.Errorf("rename %s on %s: %w", containerID, n.Name, err)
			}
		}
	}
	return nil
}

// dropLocked removes one endpoint's link and lease, and the bridge after the last.
func (m *Manager) dropLocked(n *Network, l *Leases, containerID string) error {
	if err := deleteLink(vethName(n.ID, containerID)); err != nil {
		return fmt.Errorf("detach %s: %w", containerID, err)
	}
	if _, ok := l.Endpoints[containerID]; ok {
		delete(l.Endpoints, containerID)
		if err := writeLeases(m.leasesPath(n.Name), l); err != nil {
			return fmt.Errorf("detach %s: write leases: %w", containerID, err)
		}
	}
	if len(l.Endpoints) == 0 {
		if err := deleteLink(n.Bridge); err != nil {
			return fmt.Errorf("detach %s: %w", containerID, err)
		}
	}
	return nil
}

// Reconcile frees every lease whose container is not in live (after a crash, a
// killed monitor, a reboot), removes bridges of networks left without endpoints
// and links on the others' bridges that no lease names, and rewrites the firewall
// from what remains. engine.PruneNetworks (and so `hull network prune`, `hull rm`)
// calls it.
func (m *Manager) Reconcile(live []string) error {
	alive := map[string]bool{}
	for _, id := range live {
		alive[id] = true
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	all, err := m.listLocked()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range all {
		l, err := m.readLeases(n.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for id := range l.Endpoints {
			if !alive[id] {
				errs = append(errs, m.dropLocked(n, l, id))
			}
		}
		if len(l.Endpoints) == 0 {
			errs = append(errs, deleteLink(n.Bridge))
		} else {
			errs = append(errs, sweepPorts(n, l))
		}
	}
	errs = append(errs, m.syncLocked())
	return errors.Join(errs...)
}

// sweepPorts deletes the links on the network's bridge that no lease names. Attach
// writes the lease before it makes the veth and Detach deletes the veth before the
// lease, so there are none unless the lease file was lost or edited, or a
// DetachLater's deletion is still to come (or never came: its monitor was killed).
func sweepPorts(n *Network, l *Leases) error {
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return nil // no bridge, no ports
	}
	leased := map[string]bool{}
	for _, e := range l.Endpoints {
		leased[e.HostVeth] = true
	}
	links, err := redump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	var errs []error
	for _, link := range links {
		if a := link.Attrs(); a.MasterIndex == br.Attrs().Index && !leased[a.Name] {
			errs = append(errs, deleteLink(a.Name))
		}
	}
	return errors.Join(errs...)
}

// redump runs a netlink dump again when the kernel says the table changed during
// it (NLM_F_DUMP_INTR: other containers' veths and routes come and go all the time).
func redump[T any](list func() ([]T, error)) ([]T, error) {
	for i := 0; ; i++ {
		links, err := list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == 20 {
			return links, err
		}
	}
}

// ruleset builds the firewall from every network (all) and its leases. It fails on
// two endpoints publishing the same host port.
func ruleset(all []*Network, leases []*Leases) (nft.Ruleset, error) {
	var rs nft.Ruleset
	type owner struct {
		p  PortMapping
		id string
	}
	var published []owner
	for i, n := range all {
		l := leases[i]
		if len(l.Endpoints) == 0 {
			continue
		}
		rs.Networks = append(rs.Networks, nft.Network{Bridge: n.Bridge, Subnet: n.Subnet, Internal: n.Internal,
			KeepSource: bridgeNetfilter()})
		for _, e := range l.sorted() {
			for _, p := range e.Ports {
				for _, o := range published {
					if o.p.Conflicts(p) {
						return rs, fmt.Errorf("port %s of %s: host port already published by %s", p, e.ContainerID, o.id)
					}
				}
				published = append(published, owner{p, e.ContainerID})
				rs.Ports = append(rs.Ports, nft.Port{Proto: p.Proto, HostIP: p.HostIP, HostPort: p.HostPort,
					ContainerIP: e.IP, ContainerPort: p.ContainerPort})
			}
		}
	}
	return rs, nil
}

// published returns the host ports every endpoint publishes.
func published(leases []*Leases) []PortMapping {
	var out []PortMapping
	for _, l := range leases {
		for _, e := range l.Endpoints {
			out = append(out, e.Ports...)
		}
	}
	return out
}

// leasesLocked returns every network and its leases (override's where it has them).
func (m *Manager) leasesLocked(override map[string]*Leases) ([]*Network, []*Leases, error) {
	all, err := m.listLocked()
	if err != nil {
		return nil, nil, err
	}
	leases := make([]*Leases, len(all))
	for i, n := range all {
		if leases[i] = override[n.Name]; leases[i] == nil {
			if leases[i], err = m.readLeases(n.Name); err != nil {
				return nil, nil, err
			}
		}
	}
	return all, leases, nil
}

func (m *Manager) syncLocked() error {
	all, leases, err := m.leasesLocked(nil)
	if err != nil {
		return err
	}
	rs, err := ruleset(all, leases)
	if err != nil {
		return err
	}
	return m.applyLocked(rs)
}

func (m *Manager) applyLocked(rs nft.Ruleset) error {
	for _, n := range rs.Networks {
		if !n.Internal {
			if err := m.enableForwarding(); err != nil {
				return err
			}
			break
		}
	}
	return nft.Apply(m.cfg.Table, rs)
}

// enableForwarding turns net.ipv4.ip_forward on when a network with egress gets
// its first endpoint, and records that hull did. hull never turns it off again:
// other state roots and other tools on the host may rely on it by then.
func (m *Manager) enableForwarding() error {
	const knob = "/proc/sys/net/ipv4/ip_forward"
	v, err := os.ReadFile(knob)
	if err != nil {
		return err
	}
	if len(v) > 0 && v[0] == '1' {
		return nil
	}
	if err := os.WriteFile(knob, []byte("1"), 0); err != nil {
		return fmt.Errorf("enable ip forwarding: %w", err)
	}
	note := fmt.Sprintf("net.ipv4.ip_forward was 0; hull set it to 1 at %s\n", time.Now().UTC().Format(time.RFC3339))
	return os.WriteFile(filepath.Join(m.dir, "ip_forward"), []byte(note), 0o644)
}

// bridgeNetfilter tells whether br_netfilter is loaded: then the bridged frames
// of a bridge with nf_call_iptables set (ensureBridge sets it) pass the IPv4
// hooks, and the firewall can keep a container's source address towards another
// container's published port (nft.Network.KeepSource).
func bridgeNetfilter() bool {
	_, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables")
	return err == nil
}

// setBridgeNetfilter sets the bridge's own nf_call_iptables (IFLA_BR_NF_CALL_IPTABLES,
// here through sysfs), so that its bridged frames pass the IPv4 hooks whatever
// the host-wide net.bridge.bridge-nf-call-iptables says, and only this bridge's.
// The file is missing when the kernel has no bridge netfilter at all; then
// bridgeNetfilter is false too.
func setBridgeNetfilter(bridge string) error {
	err := os.WriteFile("/sys/class/net/"+bridge+"/bridge/nf_call_iptables", []byte("1"), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bridge %s: nf_call_iptables: %w", bridge, err)
	}
	return nil
}

// ensureBridge creates the network's bridge with the gateway address, unless it
// is there. Bridges exist only while their network has endpoints.
func ensureBridge(n *Network) error {
	if _, err := netlink.LinkByName(n.Bridge); err == nil {
		return setBridgeNetfilter(n.Bridge) // a bridge made by an older hull
	}
	// a fixed MAC: a bridge without one takes its lowest port's, and changes it as
	// containers come and go, which makes every container re-ARP the gateway
	sum := sha256.Sum256([]byte(n.ID))
	mac := net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge, HardwareAddr: mac}}
	if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create bridge %s: %w", n.Bridge, err)
	}
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("create bridge %s: %w", n.Bridge, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.Gateway.AsSlice(), Mask: net.CIDRMask(n.Subnet.Bits(), 32)}}
	if err := netlink.AddrAdd(link, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %s to bridge %s: %w", addr, n.Bridge, err)
	}
	// route_localnet: a connection to 127.0.0.1:<published port> is DNATed in the
	// output hook and leaves through the bridge still with source 127.0.0.1, which
	// the kernel would drop as a martian; the postrouting chain then masquerades it
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+n.Bridge+"/route_localnet", []byte("1"), 0); err != nil {
		return fmt.Errorf("bridge %s: route_localnet: %w", n.Bridge, err)
	}
	if err := setBridgeNetfilter(n.Bridge); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set bridge %s up: %w", n.Bridge, err)
	}
	return nil
}

// deleteLink deletes a link by name; a missing one is no error.
func deleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	} else if err != nil {
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

var mtuOnce = sync.OnceValue(func() int {
	routes, err := redump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return 1500
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && l.Attrs().MTU > 0 {
				return l.Attrs().MTU
			}
		}
	}
	return 1500
})

// hostMTU is the MTU of the interface the default route leaves by, or 1500: a
// container's packets go out there, and a larger MTU inside would be fragmented.
func hostMTU() int { return mtuOnce() }
