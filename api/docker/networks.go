package docker

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"

	"github.com/hullproject/hull/engine"
	hullnet "github.com/hullproject/hull/network"
	"github.com/moby/moby/api/types/network"
)

// routesNetworks registers networks: create, list, inspect, connect, disconnect, delete, prune.
func (s *Server) routesNetworks(rt *router) {
	rt.handle("GET", "/networks", s.networkList)
	rt.handle("POST", "/networks/create", s.networkCreate)
	rt.handle("POST", "/networks/prune", s.networkPrune)
	rt.handle("GET", "/networks/{id}", s.networkInspect)
	rt.handle("DELETE", "/networks/{id}", s.networkDelete)
	rt.handle("POST", "/networks/{id}/connect", s.networkConnect)
	rt.handle("POST", "/networks/{id}/disconnect", s.networkDisconnect)
}

// networkFilters reads the filters parameter with the keys given, as hull
// network ls and prune read their --filter flags.
func networkFilters(r *http.Request, keys ...string) (hullnet.Filters, error) {
	f, err := queryFilters(r)
	if err != nil {
		return hullnet.Filters{}, err
	}
	return hullnet.ParseFilters(f.flags(), keys...)
}

// apiNetwork is a network in docker's inspect shape; its containers (the
// running ones, with their endpoints) only when withContainers.
func apiNetwork(i hullnet.Info, withContainers bool) network.Inspect {
	n := i.Network
	out := network.Inspect{Network: network.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		IPAM:     network.IPAM{Driver: "default", Config: []network.IPAMConfig{}},
		Internal: n.Internal, Attachable: n.Attachable,
		Options: map[string]string{}, Labels: map[string]string{},
	}, Containers: map[string]network.EndpointResource{}}
	maps.Copy(out.Labels, n.Labels)
	if n.Driver == "bridge" {
		out.EnableIPv4 = true
		out.IPAM.Options = map[string]string{}
		out.IPAM.Config = append(out.IPAM.Config, network.IPAMConfig{Subnet: n.Subnet, Gateway: n.Gateway, IPRange: n.IPRange})
		maps.Copy(out.Options, n.Options)
		// The options given at create only, as docker's: docker-compose 1.29
		// recreates a network whose options are not its file's. The default
		// network shows its bridge, where docker's users' scripts look for
		// docker0.
		if n.Name == hullnet.DefaultNetwork {
			out.Options["com.docker.network.bridge.name"] = n.Bridge
			out.Options["com.docker.network.bridge.default_bridge"] = "true"
		}
	}
	if withContainers {
		for _, ep := range i.Endpoints {
			er := network.EndpointResource{Name: ep.Name, EndpointID: hullnet.EndpointID(n.ID, ep.ContainerID)}
			if ep.IP.IsValid() { // host and none give none
				mac, _ := net.ParseMAC(ep.MAC)
				er.MacAddress, er.IPv4Address = network.HardwareAddr(mac), netip.PrefixFrom(ep.IP, n.Subnet.Bits())
			}
			out.Containers[ep.ContainerID] = er
		}
	}
	return out
}

// networkList answers GET /networks: every network, the predefined ones
// too, filtered by name, id, label, driver, scope, type and dangling. Like
// docker's, a list does not name the containers (inspect does); before API
// 1.52 each entry carries their empty map all the same.
func (s *Server) networkList(w http.ResponseWriter, r *http.Request) error {
	f, err := networkFilters(r, hullnet.ListFilterKeys...)
	if err != nil {
		return err
	}
	m, err := s.e.Networks()
	if err != nil {
		return err
	}
	list, err := m.Select(f)
	if err != nil {
		return err
	}
	if versionAtLeast(r, "1.52") {
		out := []network.Summary{}
		for _, i := range list {
			out = append(out, network.Summary{Network: apiNetwork(i, false).Network})
		}
		return writeJSON(w, http.StatusOK, out)
	}
	out := []network.Inspect{}
	for _, i := range list {
		out = append(out, apiNetwork(i, false))
	}
	return writeJSON(w, http.StatusOK, out)
}

// networkInspect answers GET /networks/{id}: by full ID, name or ID prefix.
func (s *Server) networkInspect(w http.ResponseWriter, r *http.Request) error {
	i, err := s.e.LookupNetwork(r.PathValue("id"))
	if err != nil {
		return err
	}
	if sc := r.URL.Query().Get("scope"); sc != "" && sc != "local" {
		return notFoundf("network %s not found", r.PathValue("id"))
	}
	return writeJSON(w, http.StatusOK, apiNetwork(i, true))
}

// networkCreate answers POST /networks/create: a bridge network, with docker's
// IPAM config (one IPv4 subnet, gateway, ip range), Internal, Attachable,
// bridge options and labels. What hull has no such network for is refused:
// IPv6, other drivers, swarm's settings.
func (s *Server) networkCreate(w http.ResponseWriter, r *http.Request) error {
	var req network.CreateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	o, err := networkCreateOptions(req)
	if err != nil {
		return err
	}
	n, err := s.e.CreateNetwork(req.Name, o)
	if errors.Is(err, hullnet.ErrExists) {
		return conflictf("network with name %s already exists", req.Name)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, network.CreateResponse{ID: n.ID})
}

// networkCreateOptions judges a network create request's settings and makes them hull's.
func networkCreateOptions(req network.CreateRequest) (hullnet.CreateOptions, error) {
	var o hullnet.CreateOptions
	switch req.Driver {
	case "", "bridge":
	case "host", "null":
		return o, &httpError{http.StatusForbidden, fmt.Errorf("only one instance of %q network is allowed", req.Driver)}
	case "overlay":
		return o, errNoSwarm
	case "macvlan", "ipvlan":
		return o, badRequestf("network driver %s is not supported: hull's networks are bridges", req.Driver)
	default:
		return o, notFoundf("plugin %q not found", req.Driver)
	}
	switch {
	case req.Name == "":
		return o, badRequestf("a network needs a name")
	case req.Scope != "" && req.Scope != "local":
		return o, badRequestf("scope %s is not supported: hull's networks are local", req.Scope)
	case req.EnableIPv6 != nil && *req.EnableIPv6:
		return o, badRequestf("IPv6 is not supported: hull's networks are IPv4 only")
	case req.EnableIPv4 != nil && !*req.EnableIPv4:
		return o, badRequestf("IPv4 cannot be disabled: hull's networks are IPv4 only")
	case req.Ingress || req.ConfigOnly || req.ConfigFrom != nil && req.ConfigFrom.Network != "":
		return o, badRequestf("ingress and config-only networks are swarm's: hull has none")
	}
	if ipam := req.IPAM; ipam != nil {
		switch {
		case ipam.Driver != "" && ipam.Driver != "default":
			return o, notFoundf("plugin %q not found", ipam.Driver)
		case len(ipam.Options) > 0:
			return o, badRequestf("IPAM options are not supported")
		}
		var v4 int
		for _, c := range ipam.Config {
			switch {
			case c.Subnet.IsValid() && !c.Subnet.Addr().Is4() || c.Gateway.IsValid() && !c.Gateway.Is4():
				return o, badRequestf("IPv6 is not supported: hull's networks are IPv4 only")
			case len(c.AuxAddress) > 0:
				return o, badRequestf("auxiliary addresses are not supported")
			case v4 > 0:
				return o, badRequestf("a network has one IPv4 subnet in hull")
			}
			v4++
			if c.Subnet.IsValid() {
				o.Subnet = c.Subnet.String()
			}
			if c.Gateway.IsValid() {
				o.Gateway = c.Gateway.String()
			}
			if c.IPRange.IsValid() {
				o.IPRange = c.IPRange.String()
			}
		}
	}
	o.Internal, o.Attachable, o.Labels, o.Options = req.Internal, req.Attachable, req.Labels, req.Options
	return o, nil
}

// networkDelete answers DELETE /networks/{id}: 403 for a network with
// running containers, as for a predefined one.
func (s *Server) networkDelete(w http.ResponseWriter, r *http.Request) error {
	m, err := s.e.Networks()
	if err != nil {
		return err
	}
	i, err := m.Lookup(r.PathValue("id"))
	if err != nil {
		return err
	}
	err = s.e.RemoveNetwork(i.ID)
	if errors.Is(err, hullnet.ErrInUse) {
		return &httpError{http.StatusForbidden, fmt.Errorf("error while removing network: network %s id %s has active endpoints", i.Name, i.ID)}
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// networkPrune answers POST /networks/prune: the user networks without
// containers that pass label, label! and until.
func (s *Server) networkPrune(w http.ResponseWriter, r *http.Request) error {
	f, err := networkFilters(r, hullnet.PruneFilterKeys...)
	if err != nil {
		return err
	}
	gone, err := s.e.PruneNetworks(f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: gone})
}

// networkConnect answers POST /networks/{id}/connect: a running container is
// attached at once, a stopped one at its next start.
func (s *Server) networkConnect(w http.ResponseWriter, r *http.Request) error {
	var req network.ConnectRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Container == "" {
		return badRequestf("no container to connect")
	}
	var o engine.ConnectOptions
	if ep := req.EndpointConfig; ep != nil {
		switch {
		case ep.IPAMConfig != nil && (ep.IPAMConfig.IPv6Address.IsValid() || len(ep.IPAMConfig.LinkLocalIPs) > 0):
			return badRequestf("IPv6 and link-local addresses are not supported: hull's networks are IPv4 only")
		case len(ep.Links) > 0 && !s.hasLinks(req.Container, ep.Links):
			// docker-compose 1.29 connects with the links the create gave
			// already; hull's links hold on every network the two share
			return badRequestf("links are not supported: containers on a user network reach each other by name and alias")
		case len(ep.DriverOpts) > 0:
			return badRequestf("endpoint driver options are not supported")
		case ep.GwPriority != 0:
			return badRequestf("a gateway priority is not supported: the default route is the first network's")
		}
		o.Aliases = ep.Aliases
		if ep.IPAMConfig != nil && ep.IPAMConfig.IPv4Address.IsValid() {
			o.IP = ep.IPAMConfig.IPv4Address.String()
		}
		if len(ep.MacAddress) > 0 {
			o.MAC = ep.MacAddress.String()
		}
	}
	err := s.e.Connect(req.Container, r.PathValue("id"), o)
	if errors.Is(err, hullnet.ErrAttached) {
		// docker's libnetwork answers this one 403
		return &httpError{http.StatusForbidden, err}
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// hasLinks tells whether the container ref has every link of links already
// (given as NAME:ALIAS or as docker's /NAME:/THIS/ALIAS record).
func (s *Server) hasLinks(ref string, links []string) bool {
	c, err := s.e.Get(ref)
	if err != nil {
		return false
	}
	for _, l := range links {
		want, err := engine.ParseLink(l)
		if err != nil || !slices.ContainsFunc(c.HostConfig.Links, func(h string) bool {
			got, err := engine.ParseLink(h)
			return err == nil && got == want
		}) {
			return false
		}
	}
	return true
}

// networkDisconnect answers POST /networks/{id}/disconnect.
func (s *Server) networkDisconnect(w http.ResponseWriter, r *http.Request) error {
	var req network.DisconnectRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Container == "" {
		return badRequestf("no container to disconnect")
	}
	if err := s.e.Disconnect(req.Container, r.PathValue("id"), req.Force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
