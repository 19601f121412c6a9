package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/internal/filter"
	"github.com/hullproject/hull/network"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// netDefaults reads the default network's shape for a fresh engine root from the
// environment: HULL_DEFAULT_SUBNET and HULL_DEFAULT_BRIDGE (used when the default
// network is first written; after that its record wins). The tests give each of
// their roots a subnet of its own this way.
func netDefaults() engine.NetDefaults {
	return engine.NetDefaults{Subnet: os.Getenv("HULL_DEFAULT_SUBNET"), Bridge: os.Getenv("HULL_DEFAULT_BRIDGE")}
}

// addNetFlags adds the network flags of run and create.
func addNetFlags(fl *pflag.FlagSet, o *engine.NetOptions) {
	fl.StringArrayVar(&o.NetworkAliases, "network-alias", nil, "another name of the container on its network")
	fl.StringArrayVarP(&o.Publish, "publish", "p", nil, "publish a port: [ip:][hostport:]containerport[/tcp|udp], ranges with -")
	fl.BoolVarP(&o.PublishAll, "publish-all", "P", false, "publish every port the image exposes on a free host port")
	fl.StringArrayVar(&o.ExtraHosts, "add-host", nil, "add a line to /etc/hosts (name:ip, ip may be host-gateway)")
	fl.StringArrayVar(&o.DNS, "dns", nil, "a DNS server")
	fl.StringArrayVar(&o.DNSSearch, "dns-search", nil, "a DNS search domain")
	fl.StringArrayVar(&o.DNSOptions, "dns-option", nil, "a resolv.conf option")
	fl.StringVar(&o.IP, "ip", "", "the container's IPv4 address on its network")
	fl.StringVar(&o.MacAddress, "mac-address", "", "the container's MAC address on its network")
}

func addNetworkCommands(root *cobra.Command, g *globals) {
	netCmd := &cobra.Command{Use: "network", Short: "manage networks"}
	root.AddCommand(netCmd)

	var subnet, gateway string
	var internal bool
	var labels []string
	create := &cobra.Command{
		Use:   "create [--subnet CIDR] [--gateway IP] [--internal] [-l KEY=VALUE] NAME",
		Short: "create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks(g)
			if err != nil {
				return err
			}
			o := network.CreateOptions{Subnet: subnet, Gateway: gateway, Internal: internal}
			for _, l := range labels {
				if o.Labels == nil {
					o.Labels = map[string]string{}
				}
				k, v, _ := strings.Cut(l, "=")
				o.Labels[k] = v
			}
			n, err := m.Create(args[0], o)
			if err != nil {
				return err
			}
			fmt.Println(n.ID)
			return nil
		},
	}
	create.Flags().StringVar(&subnet, "subnet", "", "the network's IPv4 subnet (default: the first free one of 10.152.0.0/13 in /24s)")
	create.Flags().StringVar(&gateway, "gateway", "", "the bridge's address (default: the subnet's first)")
	create.Flags().BoolVar(&internal, "internal", false, "no traffic leaves the network, no ports published")
	create.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label (KEY=VALUE)")
	netCmd.AddCommand(create)

	var lsQuiet bool
	var lsFormat string
	var lsFilters []string
	ls := &cobra.Command{
		Use:     "ls [-q] [--filter K=V] [--format TEMPLATE]",
		Aliases: []string{"list"},
		Short:   "list networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(lsFilters, "name", "id", "label", "driver")
			if err != nil {
				return err
			}
			m, err := openNetworks(g)
			if err != nil {
				return err
			}
			if _, err := m.Get(network.DefaultNetwork); err != nil {
				return err
			}
			list, err := m.List()
			if err != nil {
				return err
			}
			l, err := newListing("NETWORK ID\tNAME\tDRIVER\tSUBNET\tINTERNAL", lsFormat, lsQuiet)
			if err != nil {
				return err
			}
			for _, n := range list {
				if !f.Match("name", func(v string) bool { return filter.MatchName(v, n.Name) }) ||
					!f.Match("id", func(v string) bool { return strings.HasPrefix(n.ID, v) }) ||
					!f.Match("label", func(v string) bool { return engine.HasLabel(n.Labels, v) }) ||
					!f.Match("driver", func(v string) bool { return v == n.Driver }) {
					continue
				}
				row := map[string]any{"ID": n.ID[:12], "Name": n.Name, "Driver": n.Driver, "Subnet": n.Subnet.String(),
					"Internal": n.Internal, "Labels": n.Labels}
				if err := l.row(n.ID[:12], row, n.ID[:12], n.Name, n.Driver, n.Subnet, n.Internal); err != nil {
					return err
				}
			}
			return l.flush()
		},
	}
	ls.Flags().BoolVarP(&lsQuiet, "quiet", "q", false, "only IDs")
	ls.Flags().StringArrayVarP(&lsFilters, "filter", "f", nil, "name= (a regular expression), id=, label=, driver=")
	ls.Flags().StringVar(&lsFormat, "format", "", "Go template: .ID .Name .Driver .Subnet .Internal .Labels")
	netCmd.AddCommand(ls)

	netCmd.AddCommand(&cobra.Command{
		Use:   "inspect NETWORK...",
		Short: "show networks and their containers as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks(g)
			if err != nil {
				return err
			}
			type ctr struct {
				Name        string   `json:"Name"`
				IPv4Address string   `json:"IPv4Address"`
				MacAddress  string   `json:"MacAddress"`
				Aliases     []string `json:"Aliases,omitempty"`
				Ports       []string `json:"Ports,omitempty"`
			}
			type out struct {
				*network.Network
				// docker's place for the bridge's name, where its users' scripts look
				Options    map[string]string `json:"Options"`
				Containers map[string]ctr    `json:"Containers"`
			}
			var all []out
			for _, a := range args {
				n, eps, err := m.Inspect(a)
				if err != nil {
					return err
				}
				o := out{Network: n, Options: map[string]string{"com.docker.network.bridge.name": n.Bridge}, Containers: map[string]ctr{}}
				for _, ep := range eps {
					c := ctr{Name: ep.Name, IPv4Address: fmt.Sprintf("%s/%d", ep.IP, n.Subnet.Bits()), MacAddress: ep.MAC, Aliases: ep.Aliases}
					for _, p := range ep.Ports {
						c.Ports = append(c.Ports, p.String())
					}
					o.Containers[ep.ContainerID] = c
				}
				all = append(all, o)
			}
			data, _ := json.MarshalIndent(all, "", "    ")
			fmt.Println(string(data))
			return nil
		},
	})

	netCmd.AddCommand(&cobra.Command{
		Use:     "rm NETWORK...",
		Aliases: []string{"remove"},
		Short:   "remove networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			return each(args, func(a string) error {
				if err := e.RemoveNetwork(a); err != nil {
					return err
				}
				fmt.Println(a)
				return nil
			})
		},
	})

	netCmd.AddCommand(&cobra.Command{
		Use:   "prune",
		Short: "free the addresses of dead containers and remove unused networks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			gone, err := e.PruneNetworks()
			for _, n := range gone {
				fmt.Println(n)
			}
			return err
		},
	})

	var aliases []string
	connect := &cobra.Command{
		Use:   "connect [--alias NAME] NETWORK CONTAINER",
		Short: "connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			return e.Connect(args[1], args[0], aliases)
		},
	}
	connect.Flags().StringArrayVar(&aliases, "alias", nil, "another name of the container on the network")
	netCmd.AddCommand(connect)

	netCmd.AddCommand(&cobra.Command{
		Use:   "disconnect NETWORK CONTAINER",
		Short: "disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			return e.Disconnect(args[1], args[0])
		},
	})

	netCmd.AddCommand(&cobra.Command{
		Use:    "dns NETWORK",
		Short:  "serve a network's container names (started by run and start)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks(g)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
			defer stop()
			err = m.ServeDNS(ctx, args[0], network.ResolverOptions{})
			if errors.Is(err, network.ErrResolverRunning) || errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	})

	root.AddCommand(&cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "list a container's published ports",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			only := ""
			if len(args) == 2 {
				only = args[1]
			}
			lines, err := e.ContainerPorts(args[0], only)
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Println(l)
			}
			return nil
		},
	})
}

func openNetworks(g *globals) (*network.Manager, error) {
	e, err := openEngine(g)
	if err != nil {
		return nil, err
	}
	return e.Networks()
}
