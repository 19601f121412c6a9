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
// The default network "bridge" (bridge hull0, 10.88.0.0/16, gateway .1, no
// resolver) is written on first use from Config; user networks get a bridge
// hull-<8 hex of the id>, a resolver, and by default the first free 10.89.N.0/24.
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
//	ports, _ := network.ParsePort("8080:80")             // per -p
//	res, _ := m.Attach(netnsPath, id, "bridge", network.AttachOptions{Name: name, Ports: ports})
//	hosts, _ := network.Hosts(network.HostsOptions{Hostname: h, IPs: []netip.Addr{res.IP.Addr()}})
//	resolver := netip.Addr{}                             // default bridge: host's servers
//	if res.DNS { resolver = res.Gateway }                // user network: its resolver
//	conf := network.ResolvConf(hostResolvConf, resolver, network.ResolvOptions{})
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
	"encoding/hex"
	"errors"
	"fmt"
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
)

// Config says where the state lives and how the default network looks.
type Config struct {
	Root string // engine state root; network state goes to Root/networks
	// DefaultSubnet and DefaultBridge shape the default network when its record
	// is first written; after that the record wins. Defaults "10.88.0.0/16",
	// "hull0"; the bridge name must start with "hull".
	DefaultSubnet string
	DefaultBridge string
	// Table names hull's nftables table (family inet). Default: "hull" for the
	// root /var/lib/hull, "hull-<8 hex of the root path>" for any other root, so
	// that two state roots (tests) never rewrite each other's rules.
	Table string
}

// Network is a network's definition, as stored in <root>/networks/<name>.json.
type Network struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Driver   string            `json:"driver"`
	Bridge   string            `json:"bridge"`
	Subnet   netip.Prefix      `json:"subnet"`
	Gateway  netip.Addr        `json:"gateway"`
	Internal bool              `json:"internal,omitempty"`
	DNS      bool              `json:"dns"` // a resolver answers container names
	Labels   map[string]string `json:"labels,omitempty"`
	Created  time.Time         `json:"created"`
}

// CreateOptions are `hull network create`'s flags.
type CreateOptions struct {
	Subnet   string // empty: the first free 10.89.N.0/24
	Gateway  string // empty: the subnet's first address
	Internal bool
	Labels   map[string]string
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
	if cfg.DefaultSubnet == "" {
		cfg.DefaultSubnet = "10.88.0.0/16"
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

func (m *Manager) lock() (func(), error) { return atomicfile.Lock(filepath.Join(m.dir, "lock")) }

func (m *Manager) netPath(name string) string { return filepath.Join(m.dir, name+".json") }

// The length is checked apart: a counted repetition ({0,127}) compiles to 127
// copies of the class, ~120 KB of heap in every hull process from its start.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func validName(name string) error {
	if !nameRE.MatchString(name) || len(name) > 128 {
		return fmt.Errorf("invalid network name %q: [a-zA-Z0-9][a-zA-Z0-9_.-]*", name)
	}
	return nil
}

// Create defines a user network. It creates no kernel object: the bridge appears
// with the first container.
func (m *Manager) Create(name string, opts CreateOptions) (*Network, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if name == DefaultNetwork || name == "host" || name == "none" {
		return nil, fmt.Errorf("create network %s: %w", name, ErrExists)
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
	subnet := opts.Subnet
	if subnet == "" {
		if subnet, err = freeSubnet(all); err != nil {
			return nil, err
		}
	}
	pool, err := ipam.NewPool(subnet, opts.Gateway)
	if err != nil {
		return nil, fmt.Errorf("create network %s: %w", name, err)
	}
	if err := checkOverlap(pool.Subnet, all); err != nil {
		return nil, fmt.Errorf("create network %s: %w", name, err)
	}
	id := randomID()
	n := &Network{Name: name, ID: id, Driver: "bridge", Bridge: BridgePrefix + "-" + id[:8],
		Subnet: pool.Subnet, Gateway: pool.Gateway, Internal: opts.Internal, DNS: true,
		Labels: opts.Labels, Created: time.Now().UTC()}
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
	pool, err := ipam.NewPool(m.cfg.DefaultSubnet, "")
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
	if name == DefaultNetwork {
		return fmt.Errorf("remove network %s: the default network cannot be removed", name)
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

// Prune removes every user network without endpoints and returns their names.
func (m *Manager) Prune() ([]string, error) {
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
		if n.Name == DefaultNetwork {
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

// freeSubnet picks the first 10.89.N.0/24 that no network and no host route uses.
func freeSubnet(all []*Network) (string, error) {
	for i := 0; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 89, byte(i), 0}), 24)
		if checkOverlap(p, all) == nil {
			return p.String(), nil
		}
	}
	return "", errors.New("no free subnet in 10.89.0.0/16, give --subnet")
}

// checkOverlap refuses a subnet that overlaps another hull network's or a route
// of the host (other than the default route): its traffic would go astray.
func checkOverlap(p netip.Prefix, all []*Network) error {
	for _, n := range all {
		if n.Subnet.Overlaps(p) {
			return fmt.Errorf("subnet %s overlaps network %s (%s)", p, n.Name, n.Subnet)
		}
	}
	routes, err := redump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok || ones == 0 {
			continue
		}
		rp := netip.PrefixFrom(a, ones)
		if rp.Overlaps(p) {
			return fmt.Errorf("subnet %s overlaps the host's route to %s", p, rp)
		}
	}
	return nil
}
