package engine

// A pod's network: "ports are published at the pod".
//
// A pod that shares net (the default) has its infra's namespace attached to one
// network (`pod create --network`, default: the default network; "none" keeps
// loopback only) when the infra starts, with the pod's -p ports, through the same
// network.Manager.Attach as a container: the pod's ID is the endpoint, its name the
// DNS name. Its containers (network mode "pod:<id>") join that namespace and never
// attach themselves (networkKind "pod"); at each start their /etc/hosts and
// /etc/resolv.conf are written for the pod's address and resolver. Killing the
// infra (pod stop, pod rm, a failed start) detaches it; Detach is idempotent, and
// reconcileNetworks counts a pod whose infra runs as live.

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/network"
)

// PodNetworkState is what a running pod got from its network.
type PodNetworkState struct {
	IPAddress   string                   `json:"IPAddress"`
	IPPrefixLen int                      `json:"IPPrefixLen"`
	Gateway     string                   `json:"Gateway"`
	MacAddress  string                   `json:"MacAddress"`
	Resolver    string                   `json:"Resolver,omitempty"` // the network's resolver, if it has one
	Ports       map[string][]PortBinding `json:"Ports,omitempty"`
}

// podNetworkOption checks the network and ports of `pod create` and returns the
// network to record ("" when the pod does not share net).
func (e *Engine) podNetworkOption(share []string, o PodOptions) (string, error) {
	name := o.Network
	if !slices.Contains(share, "net") {
		if len(o.Ports) > 0 {
			return "", errors.New("publishing a pod's ports (-p) needs --share net")
		}
		if name != "" && name != "none" {
			return "", fmt.Errorf("--network %s needs --share net", name)
		}
		return "", nil
	}
	switch {
	case name == "":
		name = "bridge"
	case name == "host" || strings.Contains(name, ":"):
		return "", fmt.Errorf("--network %s: a pod has a namespace of its own; want a network's name or none", name)
	case name == "none":
		if len(o.Ports) > 0 {
			return "", errors.New("publishing a pod's ports (-p) needs a network, not --network none")
		}
		return name, nil
	}
	m, err := e.Networks()
	if err != nil {
		return "", err
	}
	if _, err := m.Get(name); err != nil {
		return "", err
	}
	if _, err := parsePublish(o.Ports); err != nil {
		return "", err
	}
	return name, nil
}

// podAttached tells whether the pod's namespace is to be on a network.
func podAttached(p *Pod) bool {
	return slices.Contains(p.Share, "net") && p.Network != "" && p.Network != "none"
}

// podNetworkUp attaches the infra's namespace to the pod's network with its
// ports, and records what it got. The pod's lock is held. On error nothing of it
// is left.
func (e *Engine) podNetworkUp(p *Pod, netns string) error {
	if !podAttached(p) {
		return nil
	}
	t0 := e.Trace.Now()
	unlock, err := e.reconcileLock(atomicfile.Shared)
	if err != nil {
		return err
	}
	defer unlock()
	m, err := e.Networks()
	if err != nil {
		return err
	}
	// A lease of an infra that died by itself.
	err = m.Detach(p.ID, p.Network)
	e.Trace.Step(t0, trace.Network, "flock+detach", err, trace.Args{Target: p.Network,
		Detail: "the networks' reconcile lock; a lease left by an infra that died, freed"})
	if err != nil {
		return err
	}
	ports, err := parsePublish(p.Ports)
	if err != nil {
		return err
	}
	res, err := m.Attach(netns, p.ID, p.Network, network.AttachOptions{Name: p.Name, Ports: ports, Trace: e.Trace})
	if err != nil {
		return fmt.Errorf("pod %s: %w", p.Name, err)
	}
	if res.DNS {
		t0 = e.Trace.Now()
		err := e.ensureResolver(m, p.Network, res.Gateway)
		e.Trace.Step(t0, trace.Network, "resolver", err, trace.Args{Target: p.Network, Value: res.Gateway.String(), Detail: "the network's DNS resolver, started unless it runs"})
		if err != nil {
			m.Detach(p.ID, p.Network)
			return err
		}
	}
	st := &PodNetworkState{IPAddress: res.IP.Addr().String(), IPPrefixLen: res.IP.Bits(), MacAddress: res.MAC.String()}
	if res.DNS {
		st.Resolver = res.Gateway.String()
	}
	if !res.Internal {
		st.Gateway = res.Gateway.String()
	}
	st.Ports = portsOf(nil, res.Ports)
	p.NetworkSettings = st
	if err := e.savePod(p); err != nil {
		m.Detach(p.ID, p.Network)
		return err
	}
	return nil
}

// podNetworkDown detaches the pod's namespace from its network (what is not
// attached is no error) and clears the record's addresses. The pod's lock is held.
func (e *Engine) podNetworkDown(p *Pod) error {
	if !podAttached(p) {
		return nil
	}
	m, err := e.Networks()
	if err != nil {
		return err
	}
	if err := m.Detach(p.ID, p.Network); err != nil {
		return fmt.Errorf("pod %s: %w", p.Name, err)
	}
	if p.NetworkSettings != nil {
		p.NetworkSettings = nil
		return e.savePod(p)
	}
	return nil
}

// podNetEtc writes the /etc/hosts and /etc/resolv.conf of a container that joins
// its pod's network namespace, for the pod's address and resolver (its infra
// runs: prepareStart started it).
func (e *Engine) podNetEtc(c *Container) error {
	id, ok := strings.CutPrefix(c.HostConfig.NetworkMode, "pod:")
	if !ok {
		return nil
	}
	p, err := e.loadPod(id)
	if err != nil {
		return err
	}
	st := p.NetworkSettings
	if st == nil {
		return nil // loopback only: the files of create stay
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(st.IPAddress); err == nil {
		ips = append(ips, ip)
	}
	gw, _ := netip.ParseAddr(st.Gateway)
	resolver, _ := netip.ParseAddr(st.Resolver)
	return e.writeNetEtc(c, ips, gw, resolver)
}

// livePods lists the pods whose infra runs, for reconcileNetworks.
func (e *Engine) livePods() []string {
	pods, _ := e.ListPods()
	var out []string
	for _, p := range pods {
		if proc.Alive(p.Infra.Pid, p.Infra.Start) {
			out = append(out, p.ID)
		}
	}
	return out
}
