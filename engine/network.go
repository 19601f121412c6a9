package engine

// A container's networking, as the engine drives package network.
//
// Modes (HostConfig.NetworkMode): "none" (a namespace with lo only), "host" (the
// host's namespace), "container:<name>" (the named container's namespace, by its
// init's /proc/<pid>/ns/net in the spec, and its /etc files), and any other value
// names a network: "bridge" (the default network) or a user network.
//
// Sequence of a container on a network:
//
//	create   the record gets HostConfig.PortBindings, Dns..., and
//	         NetworkSettings.Networks[name] (aliases); /etc files are written
//	monitor  runtime create → networkUp (Attach to every network of the record
//	         through /proc/<init pid>/ns/net, free host ports picked, /etc/hosts and
//	         /etc/resolv.conf rewritten in place (the bind mounts keep the inode),
//	         a resolver started per network that has one) → runtime start
//	exit     the monitor calls networkDown: Detach from every network
//	rm       Detach again (idempotent; covers a killed monitor), then Reconcile
//	         with the live containers (covers leases of containers gone otherwise)
//
// The namespace is the init process's own, not a bind mount under the state
// directory: it lives exactly as long as the container, and nothing is left to
// unmount when a monitor is killed.
//
// Reconcile must not free the lease of a container that is attaching right now
// (its record may not say "running" yet). So networkUp holds a shared flock on
// <root>/networks.reconcile from before it marks the record with its monitor's pid
// until its attach is recorded, and reconcileNetworks takes it exclusively while it
// collects the live IDs and reconciles.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/network"
	"github.com/hullproject/hull/network/ipam"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NetOptions are the network flags of `hull run` and `hull create`.
type NetOptions struct {
	NetworkAliases []string // --network-alias, on the --network named
	Publish        []string // -p [ip:][host[-end]:]container[-end][/tcp|udp]
	PublishAll     bool     // -P: every port the image exposes, on a free host port
	ExtraHosts     []string // --add-host name:ip
	DNS            []string // --dns
	DNSSearch      []string // --dns-search
	DNSOptions     []string // --dns-option
	IP             string   // --ip: the address on the --network named
	MacAddress     string   // --mac-address: eth0's, on the --network named
	// ExposedPorts are ports the container exposes beside the image's
	// (--expose PORT[-END][/PROTO]; Config.ExposedPorts' keys): inspect shows
	// them, -P publishes them.
	ExposedPorts []string
	// Links are docker's legacy links, NAME[:ALIAS] (--link; HostConfig.Links,
	// which shows them as "/NAME:/THIS/ALIAS"). hull writes them as /etc/hosts
	// lines, "IP ALIAS ID NAME", for the linked container's address on a
	// network the two share, at each start: on the default network as docker
	// did, and on a user network too, where docker's link is an alias only this
	// container resolves. Not done: docker's link environment variables
	// (ALIAS_PORT_80_TCP ...), and rewriting the lines when the linked container
	// restarts with another address. On the default network the linked
	// container must run at create, as docker's.
	Links []string
	// IP6 (--ip6; EndpointSettings.IPAMConfig.IPv6Address) and LinkLocalIPs
	// (--link-local-ip; EndpointSettings.IPAMConfig.LinkLocalIPs) are refused:
	// hull's networks are IPv4, without link-local addresses.
	IP6          string
	LinkLocalIPs []string
}

// Link is one --link: the container linked to, by name, and its alias here.
type Link struct{ Name, Alias string }

// ParseLink reads docker's --link NAME[:ALIAS], or HostConfig.Links' record
// form /NAME:/THIS/ALIAS.
func ParseLink(s string) (Link, error) {
	name, alias, ok := strings.Cut(s, ":")
	if !ok {
		alias = name
	}
	name = strings.TrimPrefix(name, "/")
	if strings.HasPrefix(alias, "/") {
		alias = alias[strings.LastIndexByte(alias, '/')+1:]
	}
	if CheckName(name) != nil || CheckName(alias) != nil {
		return Link{}, fmt.Errorf("invalid --link %q: want NAME[:ALIAS]", s)
	}
	return Link{Name: name, Alias: alias}, nil
}

// NetHostConfig is the network part of HostConfig, in Docker's shape.
type NetHostConfig struct {
	// PortBindings by "port/proto"; an empty HostPort asks for a free port at start.
	PortBindings    map[string][]PortBinding `json:"PortBindings"`
	PublishAllPorts bool                     `json:"PublishAllPorts"`
	ExtraHosts      []string                 `json:"ExtraHosts"`
	Dns             []string                 `json:"Dns"`
	DnsSearch       []string                 `json:"DnsSearch"`
	DnsOptions      []string                 `json:"DnsOptions"`
}

// PortBinding is one host side of a published port.
type PortBinding struct {
	HostIp   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// NetworkSettings is the record's view of the container's networks: what it is
// configured to join (Networks' keys, Aliases) and, while it runs, what it got.
type NetworkSettings struct {
	IPAddress   string                       `json:"IPAddress"`
	IPPrefixLen int                          `json:"IPPrefixLen"`
	Gateway     string                       `json:"Gateway"`
	MacAddress  string                       `json:"MacAddress"`
	SandboxKey  string                       `json:"SandboxKey"`
	Ports       map[string][]PortBinding     `json:"Ports"`
	Networks    map[string]*EndpointSettings `json:"Networks"`
}

// EndpointSettings is the container on one network.
type EndpointSettings struct {
	IPAMConfig  *EndpointIPAMConfig `json:"IPAMConfig"` // what the user asked for; nil: nothing
	Aliases     []string            `json:"Aliases"`
	NetworkID   string              `json:"NetworkID"`
	IPAddress   string              `json:"IPAddress"`
	IPPrefixLen int                 `json:"IPPrefixLen"`
	Gateway     string              `json:"Gateway"`
	MacAddress  string              `json:"MacAddress"`
}

// EndpointIPAMConfig is a container's fixed address and MAC on a network (--ip,
// --mac-address); they hold across restarts.
type EndpointIPAMConfig struct {
	IPv4Address string `json:"IPv4Address,omitempty"`
	MacAddress  string `json:"MacAddress,omitempty"`
}

// NetDefaults shape the default network when its record is first written (after
// that the record wins); zero values take package network's defaults, except that
// an engine root other than /var/lib/hull gets a bridge of its own, named after
// the root, so that two roots never delete each other's bridge.
type NetDefaults struct {
	Subnet string
	Bridge string
}

// Networks returns the engine's network manager (state below the engine root).
func (e *Engine) Networks() (*network.Manager, error) {
	cfg := network.Config{Root: e.Root, DefaultSubnet: e.NetDefaults.Subnet, DefaultBridge: e.NetDefaults.Bridge}
	if cfg.DefaultBridge == "" {
		if abs, _ := filepath.Abs(e.Root); abs != "/var/lib/hull" {
			sum := sha256.Sum256([]byte(abs))
			cfg.DefaultBridge = "hull0" + hex.EncodeToString(sum[:4])
		}
	}
	return network.New(cfg)
}

// networkKind tells what a network mode is.
func networkKind(mode string) string {
	switch {
	case mode == "none" || mode == "host":
		return mode
	case strings.HasPrefix(mode, "container:"):
		return "container"
	case strings.HasPrefix(mode, "pod:"):
		return "pod" // the pod's namespace, attached by the pod (podnet.go)
	}
	return "network"
}

// planNetwork records the network options in a new record, and judges what needs
// the container (--network container:) or the network they name, or the ports the
// image exposes (-P).
func (e *Engine) planNetwork(p *createPlan) error {
	c, o := p.c, p.o
	mode := c.HostConfig.NetworkMode
	hc := &c.HostConfig.NetHostConfig
	hc.ExtraHosts, hc.Dns, hc.DnsSearch, hc.DnsOptions = o.ExtraHosts, o.DNS, o.DNSSearch, o.DNSOptions
	refuse := func(err error) error { return &OptionError{Field: "Network", Err: err} }
	switch networkKind(mode) {
	case "container":
		other, err := e.Get(strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return refuse(err)
		}
		// It need not run yet, as docker's: compose creates a service with
		// network_mode service:web after web's create, before its start.
		// The start joins it (prepareStart), and fails if it does not run.
		if k := networkKind(other.HostConfig.NetworkMode); k == "container" || k == "host" {
			return refuse(fmt.Errorf("--network %s: container %s has network mode %s", mode, other.Name, other.HostConfig.NetworkMode))
		}
		c.HostConfig.NetworkMode = "container:" + other.ID
		c.Config.Hostname = other.Config.Hostname
		return nil
	case "network":
		m, err := e.Networks()
		if err != nil {
			return err
		}
		n, err := m.Get(mode)
		if errors.Is(err, network.ErrNotFound) || errors.Is(err, network.ErrInvalid) {
			// docker's --network takes an ID or ID prefix too; the record
			// keeps the name, which every later step goes by
			var i network.Info
			if i, err = m.Lookup(mode); err == nil {
				if n = i.Network; n.Name == "host" || n.Name == "none" {
					return refuse(fmt.Errorf("--network %s: network %s is a network mode: name it", mode, n.Name))
				}
				mode, c.HostConfig.NetworkMode = n.Name, n.Name
			}
		}
		if err != nil {
			return refuse(err)
		}
		ipam, err := endpointConfig(n, p.ip, p.mac)
		if err != nil {
			return err
		}
		c.NetworkSettings.Networks = map[string]*EndpointSettings{mode: {IPAMConfig: ipam, Aliases: o.NetworkAliases, NetworkID: n.ID}}
	}
	hc.PublishAllPorts = o.PublishAll
	ports := p.ports
	if o.PublishAll {
		all, err := network.PublishAll(c.Config.ExposedPorts, ports)
		if err != nil {
			return &OptionError{Field: "PublishAll", Err: err}
		}
		ports = append(ports, all...)
	}
	hc.PortBindings = portBindings(ports)
	return nil
}

// exposedPorts is Config.ExposedPorts: the image's ports, --expose's and -p's, as
// docker's record has them; nil if none.
func exposedPorts(image map[string]struct{}, expose []string, published []network.PortMapping) map[string]struct{} {
	out := map[string]struct{}{}
	for k := range image {
		if !strings.Contains(k, "/") {
			k += "/tcp"
		}
		out[k] = struct{}{}
	}
	for _, k := range expose {
		out[k] = struct{}{}
	}
	for _, p := range published {
		k, _, _ := p.Binding()
		out[k] = struct{}{}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// planLinks judges the containers --link names: each must exist; on the default
// network, as docker's legacy links, it must run.
func (e *Engine) planLinks(p *createPlan) error {
	var r refusals
	for _, l := range p.links {
		other, err := e.Get(l.Name)
		if err != nil {
			r.add("Links", fmt.Errorf("--link %s: %w", l.Name, err))
			continue
		}
		if p.c.HostConfig.NetworkMode == network.DefaultNetwork && other.State.Status != StatusRunning {
			r.add("Links", fmt.Errorf("cannot link to a non running container: /%s AS /%s", other.Name, l.Alias))
		}
	}
	return r.err()
}

// linkHosts are the /etc/hosts lines of c's links: "IP ALIAS ID NAME" for each
// linked container that runs with an address on one of c's networks.
func (e *Engine) linkHosts(c *Container) []network.HostsLink {
	var out []network.HostsLink
	for _, rec := range c.HostConfig.Links {
		l, err := ParseLink(rec)
		if err != nil {
			continue
		}
		other, err := e.Get(l.Name)
		if err != nil || other.State.Status != StatusRunning {
			continue
		}
		for _, name := range c.netNames() {
			ep := other.NetworkSettings.Networks[name]
			if ep == nil || ep.IPAddress == "" {
				continue
			}
			ip, err := netip.ParseAddr(ep.IPAddress)
			if err != nil {
				continue
			}
			names := []string{l.Alias}
			for _, n := range []string{other.ID[:12], other.Name} {
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
			out = append(out, network.HostsLink{IP: ip, Names: names})
			break
		}
	}
	return out
}

// endpointConfig judges --ip against the network, and records it and
// --mac-address (the options judged them). Whether the address is free is known
// only when the container starts (Attach).
func endpointConfig(n *network.Network, ip netip.Addr, mac net.HardwareAddr) (*EndpointIPAMConfig, error) {
	if !ip.IsValid() && mac == nil {
		return nil, nil
	}
	cfg := &EndpointIPAMConfig{}
	if ip.IsValid() {
		if !(ipam.Pool{Subnet: n.Subnet, Gateway: n.Gateway, Range: n.IPRange}).Contains(ip) {
			where := n.Subnet.String()
			if n.IPRange.IsValid() {
				where += ", ip range " + n.IPRange.String()
			}
			return nil, &OptionError{Field: "IP", Err: fmt.Errorf("invalid --ip %s: not a host address of network %s (%s, gateway %s)", ip, n.Name, where, n.Gateway)}
		}
		cfg.IPv4Address = ip.String()
	}
	if mac != nil {
		cfg.MacAddress = mac.String()
	}
	return cfg, nil
}

// parsePublish parses -p values (package network has the grammar).
func parsePublish(specs []string) ([]network.PortMapping, error) {
	var out []network.PortMapping
	for _, spec := range specs {
		ps, err := network.ParsePublish(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// portBindings records port requests in the record's shape (nil: none); a host
// port left to Attach is "" or a range.
func portBindings(ports []network.PortMapping) map[string][]PortBinding {
	if len(ports) == 0 {
		return nil
	}
	out := map[string][]PortBinding{}
	for _, p := range ports {
		k, ip, hp := p.Binding()
		out[k] = append(out[k], PortBinding{HostIp: ip, HostPort: hp})
	}
	return out
}

// portRequests reads the record's bindings back into requests for Attach, in
// the order of their keys.
func portRequests(b map[string][]PortBinding) ([]network.PortMapping, error) {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []network.PortMapping
	for _, k := range keys {
		for _, pb := range b[k] {
			p, err := network.ParseBinding(k, pb.HostIp, pb.HostPort)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// netSpec makes the spec join another container's network namespace and use its
// /etc files, for --network container:<id>.
func (e *Engine) netSpec(c *Container, s *specs.Spec) error {
	if networkKind(c.HostConfig.NetworkMode) != "container" {
		return nil
	}
	other, err := e.load(strings.TrimPrefix(c.HostConfig.NetworkMode, "container:"))
	if err != nil {
		return err
	}
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/net", other.State.Pid)
		}
	}
	for i := range s.Mounts {
		if name, ok := strings.CutPrefix(s.Mounts[i].Destination, "/etc/"); ok && s.Mounts[i].Type == "bind" &&
			(name == "hosts" || name == "resolv.conf" || name == "hostname") {
			s.Mounts[i].Source = filepath.Join(e.dir(other.ID), name)
		}
	}
	return nil
}

// writeNetEtc writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf (network.WriteEtc: in place, for the bind mounts). ips are its
// addresses; resolver is a network resolver's address (invalid: none). A
// container in another's namespace has that one's files mounted; its own are
// written all the same.
func (e *Engine) writeNetEtc(c *Container, ips []netip.Addr, gateway, resolver netip.Addr) error {
	hc := c.HostConfig.NetHostConfig
	kind := networkKind(c.HostConfig.NetworkMode)
	if !gateway.IsValid() && kind == "network" {
		// before the attach (create): the primary network's, for host-gateway
		if m, err := e.Networks(); err == nil {
			if n, err := m.Get(c.HostConfig.NetworkMode); err == nil && !n.Internal {
				gateway = n.Gateway
			}
		}
	}
	return network.WriteEtc(e.dir(c.ID), network.EtcOptions{
		Hosts: network.HostsOptions{Hostname: c.Config.Hostname, Domain: c.Config.Domainname, IPs: ips,
			ExtraHosts: hc.ExtraHosts, HostGateway: gateway, Links: e.linkHosts(c)},
		Resolv:      network.ResolvOptions{Nameservers: hc.Dns, Search: hc.DnsSearch, Options: hc.DnsOptions},
		Resolver:    resolver,
		HostNetwork: kind == "host",
	})
}

// netNames lists the networks of a container, its primary network first.
func (c *Container) netNames() []string {
	var out []string
	for name := range c.NetworkSettings.Networks {
		if name != c.HostConfig.NetworkMode {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	if _, ok := c.NetworkSettings.Networks[c.HostConfig.NetworkMode]; ok {
		out = append([]string{c.HostConfig.NetworkMode}, out...)
	}
	return out
}

// reconcileLock takes <root>/networks.reconcile: shared by attaches, exclusive
// for reconcileNetworks.
func (e *Engine) reconcileLock(mode atomicfile.Mode) (func(), error) {
	return atomicfile.Lock(filepath.Join(e.Root, "networks.reconcile"), mode)
}

// networkUp attaches the container whose init (host pid) was just created to its
// networks, before it starts. It runs in the container's monitor. On error nothing
// of it is left.
func (e *Engine) networkUp(id string, pid int) error {
	t0 := e.Trace.Now()
	c, err := e.load(id)
	if err != nil {
		return err
	}
	if networkKind(c.HostConfig.NetworkMode) != "network" || len(c.NetworkSettings.Networks) == 0 {
		return nil
	}
	unlock, err := e.reconcileLock(atomicfile.Shared)
	if err != nil {
		return err
	}
	defer unlock()
	myStart, _ := proc.StartTime(os.Getpid())
	if _, err := e.update(id, func(c *Container) error {
		c.State.MonitorPid, c.State.MonitorStart = os.Getpid(), myStart
		return nil
	}); err != nil {
		return err
	}
	m, err := e.Networks()
	if err != nil {
		return err
	}
	netns := fmt.Sprintf("/proc/%d/ns/net", pid)
	e.Trace.Step(t0, trace.Process, "write", nil, trace.Args{File: "container.json", Detail: "the monitor's pid, under the networks' reconcile lock"})
	var done []string
	results := map[string]*network.Result{}
	var ports []network.PortMapping
	for i, name := range c.netNames() {
		o := attachOptions(c, name)
		o.Trace = e.Trace
		if i == 0 {
			// the published ports are on the primary network
			if o.Ports, err = portRequests(c.HostConfig.PortBindings); err != nil {
				return err
			}
		}
		res, err := m.Attach(netns, id, name, o)
		if err != nil {
			for _, d := range done {
				m.Detach(id, d)
			}
			return err
		}
		done = append(done, name)
		results[name] = res
		if i == 0 {
			ports = res.Ports
		}
	}
	t0 = e.Trace.Now()
	err = e.afterAttach(m, c, results)
	e.Trace.Step(t0, trace.Network, "write", err, trace.Args{File: "hosts, resolv.conf", Detail: "the container's addresses; its networks' resolvers"})
	if err != nil {
		for _, d := range done {
			m.Detach(id, d)
		}
		return err
	}
	t0 = e.Trace.Now()
	_, err = e.update(id, func(c *Container) error {
		c.NetworkSettings.SandboxKey = netns
		c.NetworkSettings.Ports = portsOf(c.HostConfig.PortBindings, ports)
		for name, res := range results {
			if ep := c.NetworkSettings.Networks[name]; ep != nil {
				setEndpoint(ep, res)
			}
		}
		c.NetworkSettings.primary(c.HostConfig.NetworkMode)
		return nil
	})
	e.Trace.Step(t0, trace.Process, "write", err, trace.Args{File: "container.json", Detail: "the endpoints"})
	if err != nil {
		for _, d := range done {
			m.Detach(id, d)
		}
	}
	return err
}

// afterAttach writes the /etc files for the container's current addresses and
// starts the resolvers its networks need.
func (e *Engine) afterAttach(m *network.Manager, c *Container, results map[string]*network.Result) error {
	var ips []netip.Addr
	var gateway, resolver netip.Addr
	names := c.netNames()
	for _, name := range names {
		res := results[name]
		if res == nil {
			if ep := c.NetworkSettings.Networks[name]; ep != nil && ep.IPAddress != "" {
				ip, _ := netip.ParseAddr(ep.IPAddress)
				gw, _ := netip.ParseAddr(ep.Gateway)
				res = &network.Result{IP: netip.PrefixFrom(ip, ep.IPPrefixLen), Gateway: gw}
				if n, err := m.Get(name); err == nil {
					res.DNS = n.DNS
				}
			}
		}
		if res == nil {
			continue
		}
		ips = append(ips, res.IP.Addr())
		if !gateway.IsValid() {
			gateway = res.Gateway
		}
		if res.DNS && !resolver.IsValid() {
			resolver = res.Gateway
		}
	}
	if err := e.writeNetEtc(c, ips, gateway, resolver); err != nil {
		return err
	}
	for _, name := range names {
		if res := results[name]; res != nil && res.DNS {
			if err := e.ensureResolver(m, name, res.Gateway); err != nil {
				return err
			}
		}
	}
	return nil
}

func attachOptions(c *Container, name string) network.AttachOptions {
	o := network.AttachOptions{Name: c.Name, DNS: c.HostConfig.Dns}
	if ep := c.NetworkSettings.Networks[name]; ep != nil {
		o.Aliases = ep.Aliases
		if cfg := ep.IPAMConfig; cfg != nil {
			// checked at create
			o.IP, _ = netip.ParseAddr(cfg.IPv4Address)
			o.MAC, _ = net.ParseMAC(cfg.MacAddress)
		}
	}
	return o
}

// portsOf is NetworkSettings.Ports: the ports Attach published, by key, each
// key of bindings at least with none.
func portsOf(bindings map[string][]PortBinding, ports []network.PortMapping) map[string][]PortBinding {
	out := map[string][]PortBinding{}
	for k := range bindings {
		out[k] = nil
	}
	for _, p := range ports {
		k, ip, hp := p.Binding()
		if ip == "" {
			ip = "0.0.0.0"
		}
		out[k] = append(out[k], PortBinding{HostIp: ip, HostPort: hp})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func setEndpoint(ep *EndpointSettings, res *network.Result) {
	if res == nil {
		ep.IPAddress, ep.IPPrefixLen, ep.Gateway, ep.MacAddress = "", 0, "", ""
		return
	}
	ep.IPAddress, ep.IPPrefixLen = res.IP.Addr().String(), res.IP.Bits()
	ep.MacAddress = res.MAC.String()
	if !res.Internal {
		ep.Gateway = res.Gateway.String()
	}
}

// primary copies the primary network's addresses to the top level, as Docker does.
func (s *NetworkSettings) primary(mode string) {
	s.IPAddress, s.IPPrefixLen, s.Gateway, s.MacAddress = "", 0, "", ""
	if ep := s.Networks[mode]; ep != nil {
		s.IPAddress, s.IPPrefixLen, s.Gateway, s.MacAddress = ep.IPAddress, ep.IPPrefixLen, ep.Gateway, ep.MacAddress
	}
}

// ensureResolver starts the network's resolver (`hull network dns NAME`, detached
// like a monitor) unless it runs, and waits until it answers on TCP, so that the
// container's first lookup does not race it.
func (e *Engine) ensureResolver(m *network.Manager, name string, gw netip.Addr) error {
	if _, ok := m.ResolverRunning(name); !ok {
		cmd := exec.Command(e.Exe, "--root", e.Root, "--state", e.StateDir, "network", "dns", name)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		cmd.Dir = "/"
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start the resolver of %s: %w", name, err)
		}
		// Not waited for: it ends by itself once its network is empty; whoever
		// outlives it (init, or a monitor's reaping loop) reaps it.
		cmd.Process.Release()
	}
	addr := net.JoinHostPort(gw.String(), "53")
	deadline := time.Now().Add(2 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp4", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the resolver of %s does not answer: %w", name, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// networkDown detaches a container that ended from its networks and clears the
// record's addresses. It runs in the monitor, after the container's end. It
// returns what is left to do, which nothing waits for: the veth pairs' deletion
// (network.DetachLater), for the monitor to run once it has reported the end.
func (e *Engine) networkDown(id string) (finish func()) {
	finish = func() {}
	c, err := e.load(id)
	if err != nil {
		return finish
	}
	if networkKind(c.HostConfig.NetworkMode) == "network" && len(c.NetworkSettings.Networks) > 0 {
		if m, err := e.Networks(); err == nil {
			var later []func()
			for _, name := range c.netNames() {
				if f, err := m.DetachLater(c.ID, name); err == nil {
					later = append(later, f)
				}
			}
			finish = func() {
				for _, f := range later {
					f()
				}
			}
		}
	}
	e.update(id, func(c *Container) error {
		for _, ep := range c.NetworkSettings.Networks {
			setEndpoint(ep, nil)
		}
		c.NetworkSettings.primary(c.HostConfig.NetworkMode)
		c.NetworkSettings.Ports, c.NetworkSettings.SandboxKey = nil, ""
		return nil
	})
	return finish
}

// netAttached tells whether the record says the container holds addresses: its
// monitor was killed before it could detach. (One killed in the middle of its
// attach, before the record says so, is left to reconcileNetworks.)
func (c *Container) netAttached() bool {
	for _, ep := range c.NetworkSettings.Networks {
		if ep.IPAddress != "" {
			return true
		}
	}
	return false
}

// detachNetworks frees the container's leases, veths and port rules. It needs
// nothing but the record and the network state, so it works after a killed
// monitor; detaching what is not attached is no error.
func (e *Engine) detachNetworks(c *Container) error {
	if networkKind(c.HostConfig.NetworkMode) != "network" || len(c.NetworkSettings.Networks) == 0 {
		return nil
	}
	m, err := e.Networks()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range c.netNames() {
		errs = append(errs, m.Detach(c.ID, name))
	}
	return errors.Join(errs...)
}

// reconcileNetworks frees every lease whose container (or pod's infra) is not
// alive: after a killed monitor, a crash or a reboot. The callers of one process
// that ask at the same time share a pass (reconciler).
func (e *Engine) reconcileNetworks() error {
	return e.reconciler.do(e.reconcileNetworksNow)
}

// reconciler lets concurrent callers of a process share one reconcile pass: a
// pass reads every record under the exclusive reconcile lock, so `rm` of 50
// containers at once made 50 passes, one after the other, and 1,450 record reads
// (0.74 s of which 0.15 s CPU: mostly waiting for the lock). A caller joins the
// pass that has not started yet, or, if none waits, makes one and runs it when the
// one running now is done; a pass that started before a caller asked never
// answers it, so what the caller changed before it asked is seen.
type reconciler struct {
	mu   sync.Mutex
	next *reconcilePass // the pass that has not started, if one waits
	run  sync.Mutex     // held for a pass
}

type reconcilePass struct {
	done    chan struct{}
	err     error
	waiters int // callers sharing it beside the one that runs it (for the test)
}

// waiting is how many callers wait for the pass that has not started.
func (r *reconciler) waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next == nil {
		return 0
	}
	return r.next.waiters
}

func (r *reconciler) do(pass func() error) error {
	r.mu.Lock()
	p := r.next
	if p != nil {
		p.waiters++
		r.mu.Unlock()
		<-p.done
		return p.err
	}
	p = &reconcilePass{done: make(chan struct{})}
	r.next = p
	r.mu.Unlock()
	r.run.Lock()
	// Starting: whoever asks from now on needs a pass of its own.
	r.mu.Lock()
	r.next = nil
	r.mu.Unlock()
	p.err = pass()
	r.run.Unlock()
	close(p.done)
	return p.err
}

func (e *Engine) reconcileNetworksNow() error {
	unlock, err := e.reconcileLock(atomicfile.Exclusive)
	if err != nil {
		return err
	}
	defer unlock()
	ids, err := e.ids()
	if err != nil {
		return err
	}
	var live []string
	for _, id := range ids {
		c, err := e.load(id)
		if err != nil {
			continue
		}
		e.refresh(c)
		if c.State.Running() || proc.Alive(c.State.MonitorPid, c.State.MonitorStart) {
			live = append(live, id)
		}
	}
	live = append(live, e.livePods()...)
	live = append(live, e.liveBuilds()...)
	m, err := e.Networks()
	if err != nil {
		return err
	}
	return m.Reconcile(live)
}

// netEvent records a network event as docker's: the network's ID, its name
// and driver (type), and kv's attributes (the container of a connect).
func (e *Engine) netEvent(action string, n *network.Network, kv ...string) {
	attrs := map[string]string{"name": n.Name, "type": n.Driver}
	for i := 0; i+1 < len(kv); i += 2 {
		attrs[kv[i]] = kv[i+1]
	}
	e.objectEvent("network", action, n.ID, attrs)
}

// LookupNetwork finds a network by ID, name or ID prefix (network.Lookup), with
// the containers on it: the endpoints of a bridge network, and for host and
// none, which have no endpoints, the running containers of that network mode,
// as docker's inspect shows them.
func (e *Engine) LookupNetwork(ref string) (network.Info, error) {
	m, err := e.Networks()
	if err != nil {
		return network.Info{}, err
	}
	i, err := m.Lookup(ref)
	if err != nil || (i.Name != "host" && i.Name != "none") {
		return i, err
	}
	list, err := e.List()
	if err != nil {
		return network.Info{}, err
	}
	for _, c := range list {
		if c.HostConfig.NetworkMode == i.Name && c.State.Running() {
			i.Endpoints = append(i.Endpoints, network.Endpoint{ContainerID: c.ID, Name: c.Name})
		}
	}
	return i, nil
}

// CreateNetwork defines a user network (network.Manager.Create) and records
// its create event.
func (e *Engine) CreateNetwork(name string, o network.CreateOptions) (*network.Network, error) {
	m, err := e.Networks()
	if err != nil {
		return nil, err
	}
	n, err := m.Create(name, o)
	if err != nil {
		return nil, err
	}
	e.netEvent("create", n)
	return n, nil
}

// PruneNetworks frees the leases of dead containers and removes every user network
// without containers that passes f (label, label!, until); it returns the names
// removed.
func (e *Engine) PruneNetworks(f network.Filters) ([]string, error) {
	if err := e.reconcileNetworks(); err != nil {
		return nil, err
	}
	m, err := e.Networks()
	if err != nil {
		return nil, err
	}
	before, err := m.List()
	if err != nil {
		return nil, err
	}
	gone, err := m.Prune(f)
	for _, n := range before {
		if slices.Contains(gone, n.Name) {
			e.netEvent("destroy", n)
		}
	}
	return gone, err
}

// RemoveNetwork removes a user network, named by name, ID or ID prefix. One
// that only dead containers still hold (their leases) is freed first.
func (e *Engine) RemoveNetwork(ref string) error {
	m, err := e.Networks()
	if err != nil {
		return err
	}
	n, err := m.Lookup(ref)
	if err != nil {
		return err
	}
	err = m.Remove(n.Name)
	if errors.Is(err, network.ErrInUse) {
		if err = e.reconcileNetworks(); err == nil {
			err = m.Remove(n.Name)
		}
	}
	if err == nil {
		e.netEvent("destroy", n.Network)
	}
	return err
}

// ConnectOptions are a container's settings on a network it is connected to:
// `hull network connect`'s flags, the Docker API's EndpointConfig.
type ConnectOptions struct {
	Aliases []string // more names on the network (user networks only)
	IP      string   // a fixed IPv4 address in the network's subnet (user networks only)
	MAC     string   // a fixed MAC address
}

// Connect attaches a container to one more network (named by name, ID or ID
// prefix): now when it runs, at its next start otherwise. A stopped container
// connected already keeps its settings and this is no error, as docker's; a
// running one is refused (network.ErrAttached). The refusals of options are
// OptionErrors. As docker's, only a container attached now has a connect event.
func (e *Engine) Connect(ref, netRef string, o ConnectOptions) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	m, err := e.Networks()
	if err != nil {
		return err
	}
	info, err := m.Lookup(netRef)
	if err != nil {
		return err
	}
	n, name := info.Network, info.Name
	refuse := func(format string, a ...any) error {
		return &OptionError{Field: "EndpointConfig", Err: fmt.Errorf(format, a...)}
	}
	switch kind := networkKind(c.HostConfig.NetworkMode); {
	case name == "host" || name == "none":
		return refuse("container %s cannot be connected to network %s: it is a network mode, given at create", c.Name, name)
	case kind != "network":
		return refuse("container %s has network mode %s: it cannot be connected to any other network", c.Name, c.HostConfig.NetworkMode)
	}
	var ip netip.Addr
	var mac net.HardwareAddr
	if o.IP != "" {
		if ip, err = netip.ParseAddr(o.IP); err != nil || !ip.Is4() {
			return refuse("invalid IPv4 address: %s", o.IP)
		}
	}
	if o.MAC != "" {
		if mac, err = net.ParseMAC(o.MAC); err != nil {
			return refuse("invalid MAC address %s", o.MAC)
		}
	}
	if name == network.DefaultNetwork {
		if ip.IsValid() {
			return refuse("user specified IP address is supported on user defined networks only")
		}
		if len(o.Aliases) > 0 {
			return refuse("network-scoped alias is supported only for containers in user defined networks")
		}
	}
	cfg, err := endpointConfig(n, ip, mac)
	if err != nil {
		return refuse("%w", err)
	}
	unlock, err := e.reconcileLock(atomicfile.Shared)
	if err != nil {
		return err
	}
	defer unlock()
	// a paused container has its namespace as a running one has
	running := c.State.Running() && c.State.Pid > 0
	if _, ok := c.NetworkSettings.Networks[name]; ok {
		if !running {
			return nil // docker's "avoid duplicate config"
		}
		return &kindError{network.ErrAttached, fmt.Sprintf("endpoint with name %s already exists in network %s", c.Name, name)}
	}
	var res *network.Result
	if running {
		ao := attachOptions(c, name)
		ao.Aliases = o.Aliases
		if cfg != nil {
			ao.IP, ao.MAC = ip, mac
		}
		if res, err = m.Attach(fmt.Sprintf("/proc/%d/ns/net", c.State.Pid), c.ID, name, ao); err != nil {
			return err
		}
	}
	id := c.ID
	c, err = e.update(id, func(c *Container) error {
		if c.NetworkSettings.Networks == nil {
			c.NetworkSettings.Networks = map[string]*EndpointSettings{}
		}
		ep := &EndpointSettings{IPAMConfig: cfg, Aliases: o.Aliases, NetworkID: n.ID}
		if res != nil {
			setEndpoint(ep, res)
		}
		c.NetworkSettings.Networks[name] = ep
		return nil
	})
	if err != nil {
		if res != nil {
			m.Detach(id, name)
		}
		return err
	}
	if res != nil {
		e.netEvent("connect", n, "container", c.ID)
		return e.afterAttach(m, c, map[string]*network.Result{name: res})
	}
	return nil
}

// Disconnect detaches a container from a network (named by name, ID or ID
// prefix) and forgets it. With force, a container that no longer exists is
// taken by its name or ID on the network, and its endpoint removed, as
// docker's --force does.
func (e *Engine) Disconnect(ref, netRef string, force bool) error {
	m, err := e.Networks()
	if err != nil {
		return err
	}
	info, err := m.Lookup(netRef)
	if err != nil {
		return err
	}
	name := info.Name
	c, err := e.Get(ref)
	if errors.Is(err, ErrNoSuchContainer) && force {
		for _, ep := range info.Endpoints {
			if ep.Name == ref || strings.HasPrefix(ep.ContainerID, ref) {
				if err := m.Detach(ep.ContainerID, name); err != nil {
					return err
				}
				e.netEvent("disconnect", info.Network, "container", ep.ContainerID)
				return nil
			}
		}
		return err
	}
	if err != nil {
		return err
	}
	if c.HostConfig.NetworkMode == "host" && name == "host" {
		return &OptionError{Field: "Network", Err: errors.New("cannot disconnect container from host network - container was created in host network mode")}
	}
	if _, ok := c.NetworkSettings.Networks[name]; !ok {
		return fmt.Errorf("container %s is not connected to network %s", c.Name, name)
	}
	running := c.State.Running() && c.State.Pid > 0
	if err := m.Detach(c.ID, name); err != nil {
		return err
	}
	c, err = e.update(c.ID, func(c *Container) error {
		delete(c.NetworkSettings.Networks, name)
		c.NetworkSettings.primary(c.HostConfig.NetworkMode)
		return nil
	})
	if err != nil {
		return err
	}
	if running {
		e.netEvent("disconnect", info.Network, "container", c.ID)
	}
	if c.State.Running() {
		return e.afterAttach(m, c, nil)
	}
	return nil
}

// ContainerPorts lists a container's published ports as `hull port` prints them,
// "80/tcp -> 0.0.0.0:32768", optionally for one "port[/proto]" only.
func (e *Engine) ContainerPorts(ref, only string) ([]string, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	if only != "" && !strings.Contains(only, "/") {
		only += "/tcp"
	}
	var keys []string
	for k := range c.NetworkSettings.Ports {
		if only == "" || k == only {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		na, _ := strconv.Atoi(strings.Split(a, "/")[0])
		nb, _ := strconv.Atoi(strings.Split(b, "/")[0])
		if na != nb {
			return na - nb
		}
		return strings.Compare(a, b)
	})
	var out []string
	for _, k := range keys {
		for _, b := range c.NetworkSettings.Ports[k] {
			if only != "" {
				out = append(out, net.JoinHostPort(b.HostIp, b.HostPort))
			} else {
				out = append(out, k+" -> "+net.JoinHostPort(b.HostIp, b.HostPort))
			}
		}
	}
	if only != "" && len(out) == 0 {
		return nil, fmt.Errorf("no public port %s published for %s", only, c.Name)
	}
	return out, nil
}
