package network

import (
	"fmt"
	"net"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Interface is a network interface as the kernel shows it inside a network
// namespace, and for a veth the peer it is paired with in this process's
// namespace (the host's) and that peer's bridge.
type Interface struct {
	Name      string   `json:"name"`
	Index     int      `json:"index"`
	Kind      string   `json:"kind"` // "veth", "device" (lo), ...
	MAC       string   `json:"mac,omitempty"`
	MTU       int      `json:"mtu"`
	Up        bool     `json:"up"`
	Addresses []string `json:"addresses"` // CIDR
	HostPeer  string   `json:"hostPeer,omitempty"`
	Bridge    string   `json:"bridge,omitempty"`
}

// Interfaces lists the interfaces of the network namespace at netnsPath (e.g.
// /proc/PID/ns/net), read by netlink.
func Interfaces(netnsPath string) ([]Interface, error) {
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", netnsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", netnsPath, err)
	}
	defer h.Close()
	links, err := redump(h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links in %s: %w", netnsPath, err)
	}
	var out []Interface
	for _, l := range links {
		a := l.Attrs()
		it := Interface{Name: a.Name, Index: a.Index, Kind: l.Type(), MTU: a.MTU, Up: a.Flags&net.FlagUp != 0, Addresses: []string{}}
		if len(a.HardwareAddr) > 0 {
			it.MAC = a.HardwareAddr.String()
		}
		addrs, err := h.AddrList(l, unix.AF_UNSPEC)
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", a.Name, err)
		}
		for _, ad := range addrs {
			it.Addresses = append(it.Addresses, ad.IPNet.String())
		}
		// A veth's IFLA_LINK is its peer's index, in the peer's namespace: here
		// the host's when the engine made the pair. The peer must point back.
		if it.Kind == "veth" && a.ParentIndex > 0 {
			if peer, err := netlink.LinkByIndex(a.ParentIndex); err == nil && peer.Type() == "veth" && peer.Attrs().ParentIndex == a.Index {
				it.HostPeer = peer.Attrs().Name
				if m := peer.Attrs().MasterIndex; m > 0 {
					if br, err := netlink.LinkByIndex(m); err == nil {
						it.Bridge = br.Attrs().Name
					}
				}
			}
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, nil
}
