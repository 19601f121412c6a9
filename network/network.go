// Package network owns hull's networks: their definitions, the address leases of
// the containers on them, the kernel wiring (a bridge per network, a veth pair per
// container), the nftables table that NATs, isolates and publishes ports, and name
// resolution (a DNS resolver per user-defined network and the container's
// /etc/hosts, /etc/hostname and /etc/resolv.conf). It talks to the kernel through
// netlink and nftables only; it never runs ip, iptables or nft.
//
// # On disk
//
// Everything lives under <root>/networks, where root is the engine's state root:
//
//	lock                 flock taken by every call that reads-modifies-writes below
//	<name>.json          a Network (written once at create: temp, fsync, rename)
//	leases/<name>.json   the network's Leases: one Endpoint per attached container
//	                     (temp, rename; no fsync, see writeLeases)
//	dns/<name>.lock      flock held by the network's running resolver, its pid inside
//	ip_forward           present when hull turned net.ipv4.ip_forward on (when, why)
//
// The default network "bridge" (bridge hull0, gateway .1, no resolver) is written
// on first use from Config; user networks get a bridge hull-<8 hex of the id> and a
// resolver. A network's subnet, unless given, is the first free one of hull's
// address pools (DefaultPools: the default network's first choice is
// 10.144.0.0/16; NetworkPools: a user network's is 10.152.0.0/24): free means
// that it overlaps no other network of the root and no address or route of the
// host (every table) when the network is defined. A subnet given by the caller
// is refused when it overlaps one of those.
//
// # Kernel state is derived
//
// Bridges, veths and the nftables table follow from those files: a bridge exists
// while its network has an endpoint, a container's host veth has a name derived
// from network and container (veth<8 hex>), and the nftables table (package nft:
// one `inet hull` table per state root, with nat and filter chains) is made to
// match all leases on every attach and detach, and deleted with the last endpoint.
// So Detach works after a killed monitor or after the container's namespace is
// gone, and Reconcile after a crash: both need nothing but the files and the kernel.
//
// # Caller sequence (the engine)
//
//	m, _ := network.New(network.Config{Root: root})
//	ports, _ := network.ParsePublish("8080:80")          // per -p; -P: PublishAll
//	res, _ := m.Attach(netnsPath, id, "bridge", network.AttachOptions{Name: name, Ports: ports})
//	                                                     // res.Ports: with the free host ports picked
//	resolver := netip.Addr{}                             // default bridge: host's servers
//	if res.DNS { resolver = res.Gateway }                // user network: its resolver
//	network.WriteEtc(dir, network.EtcOptions{Hosts: network.HostsOptions{Hostname: h,
//		IPs: []netip.Addr{res.IP.Addr()}}, Resolver: resolver}) // hostname, hosts, resolv.conf
//	if res.DNS { if _, ok := m.ResolverRunning(net); !ok { start `hull network dns <net>` } }
//	...
//	m.Detach(id, "bridge")      // at container stop, idempotent
//	m.Reconcile(liveIDs)        // at engine start or prune: frees the leases of the dead
//
// Attach needs the container's network namespace to exist (the runtime's create,
// before start); the runtime must not make a fresh one afterwards. The resolver's
// lifecycle is described at ServeDNS.
//
// # Limits
//
// IPv4 only. A published port is a DNAT rule, not a socket: a host process already
// listening on the port is shadowed silently for remote clients, and two state roots
// publishing the same port are not detected. Published ports are reachable from
// other networks' containers through a host address, as from anywhere else (those
// are masqueraded by their own network's egress rule). A container that reaches a
// published port of its own network keeps its address when br_netfilter is loaded:
// hull sets nf_call_iptables on its bridges (never the host-wide sysctl), so that
// conntrack sees the server's reply cross the bridge (see nft.Network.KeepSource).
// Without br_netfilter those connections are masqueraded to the gateway.
//
// A Manager is safe for concurrent use by goroutines and by processes.
package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hullproject/hull/network/ipam"
	"github.com/hullproject/hull/network/nft"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/atomicfile"
)

// DefaultNetwork is the name of the network containers join when none is named.
const DefaultNetwork = "bridge"

var (
	// ErrNotFound is returned for a network that does not exist.
	ErrNotFound = errors.New("network not found")
	// ErrExists is returned when creating a network whose name is taken.
	ErrExists = errors.New("network already exists")
	// ErrInUse is returned when removing a network that has containers attached.
	ErrInUse = errors.New("network has active endpoints")
	// ErrInvalid is the kind of a request refused as given: a bad name, subnet,
	// range, option or filter.
	ErrInvalid = errors.New("invalid network request")
	// ErrPredefined is the kind of a change the predefined networks (bridge,
	// host, none) refuse: removal, a connection to host or none.
	ErrPredefined = errors.New("pre-defined network")
)

// kindError is a message of its own that is one of the kinds above.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// invalid makes err's message an ErrInvalid.
func invalid(err error) error {
	if err == nil || errors.Is(err, ErrInvalid) {
		return err
	}
	return &kindError{ErrInvalid, err.Error()}
}

// invalidf is fmt.Errorf's message as an ErrInvalid.
func invalidf(format string, a ...any) error { return invalid(fmt.Errorf(format, a...)) }

// Config says where the state lives and how the default network looks.
type Config struct {
	Root string // engine state root; network state goes to Root/networks
	// DefaultSubnet and DefaultBridge shape the default network when its record
	// is first written; after that the record wins. Defaults: the first free
	// subnet of DefaultPools, "hull0"; the bridge name must start with "hull".
	DefaultSubnet string
	DefaultBridge string
	// DefaultPools and Pools are where the default network (without
	// DefaultSubnet) and a user network created without a subnet take theirs.
	// Defaults: the package's DefaultPools and NetworkPools.
	DefaultPools, Pools []Pool
	// Table names hull's nftables table (family inet). Default: "hull" for the
	// root /var/lib/hull, "hull-<8 hex of the root path>" for any other root, so
	// that two state roots (tests) never rewrite each other's rules.
	Table string
}

// Network is a network's definition, as stored in <root>/networks/<name>.json.
type Network struct {
	Name    string       `json:"name"`
	ID      string       `json:"id"`
	Driver  string       `json:"driver"`
	Bridge  string       `json:"bridge"`
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	// IPRange: the part of Subnet that addresses are leased from, fixed ones
	// (--ip) too; zero: all of it.
	IPRange    netip.Prefix `json:"ipRange,omitzero"`
	Internal   bool         `json:"internal,omitempty"`
	Attachable bool         `json:"attachable,omitempty"` // recorded, as docker's outside swarm
	// MTU of the network's links (com.docker.network.driver.mtu); zero: the
	// MTU of the host's default route's interface.
	MTU    int               `json:"mtu,omitempty"`
	DNS    bool              `json:"dns"` // a resolver answers container names
	Labels map[string]string `json:"labels,omitempty"`
	// Options are the driver options it was created with (docker's -o),
	// as given; see CreateOptions.Options.
	Options map[string]string `json:"options,omitempty"`
	Created time.Time         `json:"created"`
}

// CreateOptions are `hull network create`'s flags.
type CreateOptions struct {
	Subnet     string // empty: the first free subnet of the pools (10.152.N.0/24 first)
	Gateway    string // empty: the subnet's first address
	IPRange    string // empty: all of the subnet; else a range inside Subnet (which it needs)
	Internal   bool
	Attachable bool
	Labels     map[string]string
	// Options are docker's bridge driver options. com.docker.network.bridge.name
	// names the bridge (it must start with BridgePrefix), com.docker.network.driver.mtu
	// sets the MTU of its links; the others hull has
	// no switch for are refused unless they ask for what hull does anyway
	// (enable_icc=true, enable_ip_masquerade=true); keys of no driver hull knows
	// are recorded and shown, as docker's bridge driver does.
	Options map[string]string
}

// Manager does every network operation for one state root.
type Manager struct {
	cfg Config
	dir string
}

// New returns the Manager of cfg.Root, creating its directories.
func New(cfg Config) (*Manager, error) {
	if cfg.Root == "" {
		return nil, errors.New("network: no state root")
	}
	if cfg.DefaultPools == nil {
		cfg.DefaultPools = DefaultPools
	}
	if cfg.Pools == nil {
		cfg.Pools = NetworkPools
	}
	if cfg.DefaultBridge == "" {
		cfg.DefaultBridge = "hull0"
	}
	if !strings.HasPrefix(cfg.DefaultBridge, BridgePrefix) {
		return nil, fmt.Errorf("default bridge %q: name must start with %q", cfg.DefaultBridge, BridgePrefix)
	}
	if cfg.Table == "" {
		cfg.Table = "hull"
		if abs, _ := filepath.Abs(cfg.Root); abs != "/var/lib/hull" {
			sum := sha256.Sum256([]byte(abs))
			cfg.Table = "hull-" + hex.EncodeToString(sum[:4])
		}
	}
	m := &Manager{cfg: cfg, dir: filepath.Join(cfg.Root, "networks")}
	for _, d := range []string{m.dir, filepath.Join(m.dir, "leases"), filepath.Join(m.dir, "dns")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// BridgePrefix starts every hull bridge's name (the firewall's isolation rule
// matches on it).
const BridgePrefix = nft.BridgePrefix

// Table is the name of this root's nftables table (family inet).
func (m *Manager) Table() string { return m.cfg.Table }

func (m *Manager) lock() (func(), error) {
	return atomicfile.Lock(filepath.Join(m.dir, "lock"), atomicfile.Exclusive)
}

func (m *Manager) netPath(name string) string { return filepath.Join(m.dir, name+".json") }

// The length is checked apart: a counted repetition ({0,127}) compiles to 127
// copies of the class, ~120 KB of heap in every hull process from its start.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func validName(name string) error {
	if !nameRE.MatchString(name) || len(name) > 128 {
		return invalidf("invalid network name %q: [a-zA-Z0-9][a-zA-Z0-9_.-]*", name)
	}
	return nil
}

// Create defines a user network. It creates no kernel object: the bridge appears
// with the first container.
func (m *Manager) Create(name string, opts CreateOptions) (*Network, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if IsPredefined(name) {
		return nil, fmt.Errorf("create network %s: %w", name, ErrExists)
	}
	bridge, mtu, err := bridgeOptions(opts.Options)
	if err != nil {
		return nil, fmt.Errorf("create network %s: %w", name, err)
	}
	if opts.IPRange != "" && opts.Subnet == "" {
		return nil, invalidf("create network %s: an ip range needs a subnet", name)
	}
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(m.netPath(name)); err == nil {
		return nil, fmt.Errorf("create network %s: %w", name, ErrExists)
	}
	all, err := m.listLocked()
	if err != nil {
		return nil, err
	}
	for _, o := range all {
		if bridge != "" && o.Bridge == bridge {
			return nil, invalidf("create network %s: bridge %s is network %s's", name, bridge, o.Name)
		}
	}
	pool, err := newPool(opts.Subnet, opts.Gateway, m.cfg.Pools, all)
	if err == nil && opts.IPRange != "" {
		pool, err = pool.WithRange(opts.IPRange)
	}
	if err != nil {
		return nil, invalid(fmt.Errorf("create network %s: %w", name, err))
	}
	id := randomID()
	if bridge == "" {
		bridge = BridgePrefix + "-" + id[:8]
	}
	n := &Network{Name: name, ID: id, Driver: "bridge", Bridge: bridge,
		Subnet: pool.Subnet, Gateway: pool.Gateway, IPRange: pool.Range, Internal: opts.Internal,
		Attachable: opts.Attachable, MTU: mtu, DNS: true, Labels: opts.Labels, Options: opts.Options, Created: time.Now().UTC()}
	if err := writeJSON(m.netPath(name), n); err != nil {
		return nil, fmt.Errorf("create network %s: %w", name, err)
	}
	return n, nil
}

// Get returns a network's definition; the default network is defined on first use.
func (m *Manager) Get(name string) (*Network, error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.getLocked(name)
}

func (m *Manager) getLocked(name string) (*Network, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	var n Network
	ok, err := readJSON(m.netPath(name), &n)
	if err != nil {
		return nil, err
	}
	if ok {
		return &n, nil
	}
	if name != DefaultNetwork {
		return nil, fmt.Errorf("network %s: %w", name, ErrNotFound)
	}
	all, err := m.listLocked()
	if err != nil {
		return nil, err
	}
	pool, err := newPool(m.cfg.DefaultSubnet, "", m.cfg.DefaultPools, all)
	if err != nil {
		return nil, fmt.Errorf("default network: %w", err)
	}
	n = Network{Name: name, ID: randomID(), Driver: "bridge", Bridge: m.cfg.DefaultBridge,
		Subnet: pool.Subnet, Gateway: pool.Gateway, Created: time.Now().UTC()}
	if err := writeJSON(m.netPath(name), &n); err != nil {
		return nil, fmt.Errorf("default network: %w", err)
	}
	return &n, nil
}

// List returns every defined network, sorted by name.
func (m *Manager) List() ([]*Network, error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.listLocked()
}

func (m *Manager) listLocked() ([]*Network, error) {
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, err
	}
	var out []*Network
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		var n Network
		if ok, err := readJSON(filepath.Join(m.dir, e.Name()), &n); err != nil {
			return nil, err
		} else if ok {
			out = append(out, &n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Inspect returns a network and its endpoints.
func (m *Manager) Inspect(name string) (*Network, []Endpoint, error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	n, err := m.getLocked(name)
	if err != nil {
		return nil, nil, err
	}
	l, err := m.readLeases(name)
	if err != nil {
		return nil, nil, err
	}
	return n, l.sorted(), nil
}

// Remove deletes a user network; it refuses while containers are attached.
func (m *Manager) Remove(name string) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.removeLocked(name)
}

func (m *Manager) removeLocked(name string) error {
	if IsPredefined(name) {
		return &kindError{ErrPredefined, name + " is a pre-defined network and cannot be removed"}
	}
	n, err := m.getLocked(name)
	if err != nil {
		return err
	}
	l, err := m.readLeases(name)
	if err != nil {
		return err
	}
	if len(l.Endpoints) > 0 {
		return fmt.Errorf("remove network %s: %w (%d)", name, ErrInUse, len(l.Endpoints))
	}
	// a bridge left by a crash between the last detach and its cleanup
	if err := deleteLink(n.Bridge); err != nil {
		return err
	}
	if err := os.Remove(m.leasesPath(name)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Remove(m.netPath(name))
}

// Prune removes every user network without endpoints that passes f (labels,
// until) and returns their names.
func (m *Manager) Prune(f Filters) ([]string, error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := m.listLocked()
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, n := range all {
		if IsPredefined(n.Name) || !f.match(n) {
			continue
		}
		if err := m.removeLocked(n.Name); errors.Is(err, ErrInUse) {
			continue
		} else if err != nil {
			return gone, err
		}
		gone = append(gone, n.Name)
	}
	return gone, nil
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claimLocked runs before a network's bridge is made, for its first endpoint: it
// checks that the host has not taken the subnet since the network was defined
// (podman's cni-podman0 came up, a VPN connected), since two connected routes for
// one subnet leave every container of the network unreachable. A default network
// whose subnet hull chose (no Config.DefaultSubnet), such as one defined by an
// older hull in 10.88.0.0/16, podman's, moves to the first free subnet of the
// pools instead: with no endpoint, nothing holds the old one. Its name, ID and
// bridge stay.
func (m *Manager) claimLocked(n *Network) (*Network, error) {
	if _, err := netlink.LinkByName(n.Bridge); err == nil {
		return n, nil // the network holds its subnet already
	}
	host, err := hostNets()
	if err != nil {
		return nil, err
	}
	err = checkOverlap(n.Subnet, nil, host)
	if err == nil {
		return n, nil
	}
	if n.Name != DefaultNetwork || m.cfg.DefaultSubnet != "" {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	all, lerr := m.listLocked()
	if lerr != nil {
		return nil, lerr
	}
	var others []*Network
	for _, o := range all {
		if o.Name != n.Name {
			others = append(others, o)
		}
	}
	sub, ferr := freeSubnet(m.cfg.DefaultPools, others, host)
	if ferr != nil {
		return nil, fmt.Errorf("network %s: %w; %w", n.Name, err, ferr)
	}
	pool, perr := ipam.NewPool(sub, "")
	if perr != nil {
		return nil, perr
	}
	moved := *n
	moved.Subnet, moved.Gateway = pool.Subnet, pool.Gateway
	if err := writeJSON(m.netPath(n.Name), &moved); err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	return &moved, nil
}

// Pool is a range networks take their subnets from: the subnets of Size bits that
// Base holds, tried in order (docker's default-address-pools).
type Pool struct {
	Base netip.Prefix
	Size int
}

// hull's pools. The other engines on a host either never look before they take
// their default subnet (podman: 10.88.0.0/16, Kubernetes' and libvirt's fixed
// defaults) or look only at what exists at that moment, and a hull network's
// bridge exists only while the network has containers. So hull keeps out of the
// ranges the others take first: podman's 10.88.0.0/16 and its pool (10.89.0.0/24
// onwards), docker's (172.17.0.0/16..172.31.0.0/16, then 192.168.0.0/16 in /20s),
// libvirt's 192.168.122.0/24, Kubernetes' service range 10.96.0.0/12, the pod
// ranges of flannel (10.244.0.0/16), k3s (10.42.0.0/16, 10.43.0.0/16), microk8s
// (10.1.0.0/16), OpenShift (10.128.0.0/14) and cilium (10.0.0.0/8 from 10.0.0.0/24
// up), and the home and office LANs at the low end of 10/8 and 192.168/16. It
// takes 10.144.0.0/12 instead: the default network a /16 (room for as many
// containers as docker's docker0 and podman's podman network give), user
// networks a /24 each (podman's size). When a VPN or cluster route covers all
// of that (10.0.0.0/8 is a common one), the fallback is 172.16.0.0/12 in /24s:
// docker's networks there are seen when their bridges are up, and docker starts
// at 172.17.
var (
	DefaultPools = []Pool{{netip.MustParsePrefix("10.144.0.0/13"), 16}, {netip.MustParsePrefix("172.16.0.0/12"), 24}}
	NetworkPools = []Pool{{netip.MustParsePrefix("10.152.0.0/13"), 24}, {netip.MustParsePrefix("172.16.0.0/12"), 24}}
)

// newPool returns the subnet and gateway of a network being defined: subnet if
// given, else the first free subnet of pools. Either must overlap none of the
// networks in others and nothing on the host.
func newPool(subnet, gateway string, pools []Pool, others []*Network) (ipam.Pool, error) {
	host, err := hostNets()
	if err != nil {
		return ipam.Pool{}, err
	}
	if subnet == "" {
		if subnet, err = freeSubnet(pools, others, host); err != nil {
			return ipam.Pool{}, err
		}
	}
	pool, err := ipam.NewPool(subnet, gateway)
	if err != nil {
		return ipam.Pool{}, err
	}
	if err := checkOverlap(pool.Subnet, others, host); err != nil {
		return ipam.Pool{}, err
	}
	return pool, nil
}

// freeSubnet picks the first subnet of pools that overlaps no network and nothing
// on the host.
func freeSubnet(pools []Pool, all []*Network, host []hostNet) (string, error) {
	var tried []string
	for _, p := range pools {
		base := p.Base.Masked()
		if !base.Addr().Is4() || p.Size < base.Bits() || p.Size > 30 {
			return "", fmt.Errorf("address pool %s/%d: not an IPv4 range split in subnets of 30 bits or less", p.Base, p.Size)
		}
		tried = append(tried, base.String())
		a := base.Addr().As4()
		first := binary.BigEndian.Uint32(a[:])
		step := uint64(1) << (32 - p.Size)
		for i := uint64(0); i < uint64(1)<<(p.Size-base.Bits()); i++ {
			binary.BigEndian.PutUint32(a[:], first+uint32(i*step))
			sub := netip.PrefixFrom(netip.AddrFrom4(a), p.Size)
			if checkOverlap(sub, all, host) == nil {
				return sub.String(), nil
			}
		}
	}
	return "", fmt.Errorf("no free subnet in %s: the host's addresses and routes or other networks overlap them all", strings.Join(tried, ", "))
}

// hostNet is a range the host uses: an interface's address (masked to its
// prefix) or a route's destination.
type hostNet struct {
	Prefix netip.Prefix
	Link   string // the interface that holds it; "" for a route without one
}

// hostNets lists the host's IPv4 addresses and the destinations of its IPv4 routes
// in every table (policy routing tables of VPNs and CNI plugins too), but the
// default routes.
func hostNets() ([]hostNet, error) {
	links, err := redump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	addrs, err := redump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	// RT_TABLE_UNSPEC with the table filter: every table, not only main
	routes, err := redump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []hostNet
	add := func(n *net.IPNet, link int) {
		if n == nil {
			return
		}
		ones, bits := n.Mask.Size()
		a, ok := netip.AddrFromSlice(n.IP.To4())
		if !ok || bits != 32 || ones == 0 {
			return
		}
		out = append(out, hostNet{netip.PrefixFrom(a, ones).Masked(), names[link]})
	}
	for _, a := range addrs {
		add(a.IPNet, a.LinkIndex)
	}
	for _, r := range routes {
		link := r.LinkIndex
		if link == 0 && len(r.MultiPath) > 0 {
			link = r.MultiPath[0].LinkIndex
		}
		add(r.Dst, link)
	}
	return out, nil
}

// checkOverlap refuses a subnet that overlaps another hull network's or a range
// the host uses: its traffic would go astray.
func checkOverlap(p netip.Prefix, all []*Network, host []hostNet) error {
	for _, n := range all {
		if n.Subnet.Overlaps(p) {
			return fmt.Errorf("subnet %s overlaps network %s (%s)", p, n.Name, n.Subnet)
		}
	}
	for _, h := range host {
		if !h.Prefix.Overlaps(p) {
			continue
		}
		if h.Link == "" {
			return fmt.Errorf("subnet %s overlaps the host's route to %s", p, h.Prefix)
		}
		return fmt.Errorf("subnet %s overlaps %s on %s", p, h.Prefix, h.Link)
	}
	return nil
}
