package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/signal"
	"strings"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/network"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// The `hull network` group (create, ls, inspect, rm, prune, connect, disconnect,
// and the hidden dns) and `hull port`. (run's network flags are in run.go.)

func networkCommand(g *globals) *cobra.Command {
	netCmd := &cobra.Command{Use: "network", Short: "manage networks"}
	netCmd.AddCommand(networkCreateCommand(g), networkLsCommand(g), networkInspectCommand(g), networkRmCommand(g),
		networkPruneCommand(g), networkConnectCommand(g), networkDisconnectCommand(g), networkDNSCommand(g))
	return netCmd
}

// withNetworks is withEngine for the network commands: fn gets the engine's
// networks.
func withNetworks(g *globals, fn func(m *network.Manager, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
		m, err := e.Networks()
		if err != nil {
			return err
		}
		return fn(m, cmd, args)
	})
}

func networkCreateCommand(g *globals) *cobra.Command {
	var subnet, gateway, ipRange, driver string
	var internal, attachable bool
	var labels, opts []string
	c := &cobra.Command{
		Use:   "create [--subnet CIDR] [--gateway IP] [--ip-range CIDR] [--internal] [-o K=V] [-l KEY=VALUE] NAME",
		Short: "create a network",
		Args:  cobra.ExactArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			if driver != "bridge" {
				return badUsage(fmt.Errorf("--driver %q: only \"bridge\" is supported", driver))
			}
			o := network.CreateOptions{Subnet: subnet, Gateway: gateway, IPRange: ipRange, Internal: internal, Attachable: attachable}
			for _, l := range labels {
				if o.Labels == nil {
					o.Labels = map[string]string{}
				}
				k, v, _ := strings.Cut(l, "=")
				o.Labels[k] = v
			}
			for _, kv := range opts {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return badUsage(fmt.Errorf("--opt %q: want KEY=VALUE", kv))
				}
				if o.Options == nil {
					o.Options = map[string]string{}
				}
				o.Options[k] = v
			}
			n, err := e.CreateNetwork(args[0], o)
			if err != nil {
				return err
			}
			fmt.Println(n.ID)
			return nil
		}),
	}
	c.Flags().StringVar(&subnet, "subnet", "", "the network's IPv4 subnet (default: the first free one of 10.152.0.0/13 in /24s)")
	c.Flags().StringVar(&gateway, "gateway", "", "the bridge's address (default: the subnet's first)")
	c.Flags().StringVar(&ipRange, "ip-range", "", "hand out addresses from this part of the subnet only")
	c.Flags().BoolVar(&internal, "internal", false, "no traffic leaves the network, no ports published")
	c.Flags().BoolVar(&attachable, "attachable", false, "recorded, as docker's outside swarm")
	c.Flags().StringVarP(&driver, "driver", "d", "bridge", "the network driver")
	c.Flags().StringArrayVarP(&opts, "opt", "o", nil, "a driver option: com.docker.network.bridge.name=hull..., com.docker.network.driver.mtu=N")
	c.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label (KEY=VALUE)")
	return c
}

func networkLsCommand(g *globals) *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	c := &cobra.Command{
		Use:     "ls [-q] [--filter K=V] [--format TEMPLATE]",
		Aliases: []string{"list"},
		Short:   "list networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The filters are judged before the engine is opened.
			f, err := network.ParseFilters(filters, network.ListFilterKeys...)
			if err != nil {
				return badUsage(err)
			}
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			m, err := e.Networks()
			if err != nil {
				return err
			}
			list, err := m.Select(f)
			if err != nil {
				return err
			}
			l, err := newListing("NETWORK ID\tNAME\tDRIVER\tSUBNET\tINTERNAL", format, quiet)
			if err != nil {
				return err
			}
			for _, n := range list {
				subnet := ""
				if n.Subnet.IsValid() {
					subnet = n.Subnet.String()
				}
				row := map[string]any{"ID": n.ID[:12], "Name": n.Name, "Driver": n.Driver, "Subnet": subnet,
					"Internal": n.Internal, "Labels": n.Labels, "Scope": "local"}
				if err := l.row(n.ID[:12], row, n.ID[:12], n.Name, n.Driver, subnet, n.Internal); err != nil {
					return err
				}
			}
			return l.flush()
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only IDs")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "name= (a regular expression), id=, label=, driver=, scope=, type=custom|builtin, dangling=")
	c.Flags().StringVar(&format, "format", "", "Go template: .ID .Name .Driver .Subnet .Internal .Labels .Scope")
	return c
}

func networkInspectCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NETWORK...",
		Short: "show networks and their containers as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			var all []networkJSON
			for _, a := range args {
				o, err := inspectNetwork(e, a)
				if err != nil {
					return err
				}
				all = append(all, o)
			}
			data, _ := json.MarshalIndent(all, "", "    ")
			fmt.Println(string(data))
			return nil
		}),
	}
}

// networkJSON is a network as `hull network inspect` shows it.
type networkJSON struct {
	*network.Network
	// docker's place for the bridge's name, where its users' scripts look
	Options    map[string]string         `json:"Options"`
	Containers map[string]networkCtrJSON `json:"Containers"`
}

// networkCtrJSON is one container of a network, as inspect shows it.
type networkCtrJSON struct {
	Name        string   `json:"Name"`
	IPv4Address string   `json:"IPv4Address"`
	MacAddress  string   `json:"MacAddress"`
	Aliases     []string `json:"Aliases,omitempty"`
	Ports       []string `json:"Ports,omitempty"`
}

// inspectNetwork is the network name as inspect shows it.
// It is found as docker finds one: by ID, name or ID prefix.
func inspectNetwork(e *engine.Engine, name string) (networkJSON, error) {
	i, err := e.LookupNetwork(name)
	if err != nil {
		return networkJSON{}, err
	}
	n := i.Network
	o := networkJSON{Network: n, Options: map[string]string{}, Containers: map[string]networkCtrJSON{}}
	maps.Copy(o.Options, n.Options)
	if n.Bridge != "" {
		o.Options["com.docker.network.bridge.name"] = n.Bridge
	}
	for _, ep := range i.Endpoints {
		c := networkCtrJSON{Name: ep.Name, MacAddress: ep.MAC, Aliases: ep.Aliases}
		if ep.IP.IsValid() {
			c.IPv4Address = fmt.Sprintf("%s/%d", ep.IP, n.Subnet.Bits())
		}
		for _, p := range ep.Ports {
			c.Ports = append(c.Ports, p.String())
		}
		o.Containers[ep.ContainerID] = c
	}
	return o, nil
}

func networkRmCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NETWORK...",
		Aliases: []string{"remove"},
		Short:   "remove networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return each(args, func(a string) error {
				if err := e.RemoveNetwork(a); err != nil {
					return err
				}
				fmt.Println(a)
				return nil
			})
		}),
	}
}

func networkPruneCommand(g *globals) *cobra.Command {
	var filters []string
	c := &cobra.Command{
		Use:   "prune [--filter K=V]",
		Short: "free the addresses of dead containers and remove unused networks",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			f, err := network.ParseFilters(filters, network.PruneFilterKeys...)
			if err != nil {
				return badUsage(err)
			}
			gone, err := e.PruneNetworks(f)
			for _, n := range gone {
				fmt.Println(n)
			}
			return err
		}),
	}
	c.Flags().StringArrayVar(&filters, "filter", nil, "label=, label!=, until= (a time, or a duration ago)")
	return c
}

func networkConnectCommand(g *globals) *cobra.Command {
	var o engine.ConnectOptions
	c := &cobra.Command{
		Use:   "connect [--alias NAME] [--ip IP] NETWORK CONTAINER",
		Short: "connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return e.Connect(args[1], args[0], o)
		}),
	}
	c.Flags().StringArrayVar(&o.Aliases, "alias", nil, "another name of the container on the network")
	c.Flags().StringVar(&o.IP, "ip", "", "the container's IPv4 address on the network")
	return c
}

func networkDisconnectCommand(g *globals) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "disconnect [-f] NETWORK CONTAINER",
		Short: "disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return e.Disconnect(args[1], args[0], force)
		}),
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "remove the endpoint of a container that no longer exists")
	return c
}

func networkDNSCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "dns NETWORK",
		Short:  "serve a network's container names (started by run and start)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: withNetworks(g, func(m *network.Manager, cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
			defer stop()
			err := m.ServeDNS(ctx, args[0], network.ResolverOptions{})
			if errors.Is(err, network.ErrResolverRunning) || errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}),
	}
}

func portCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "list a container's published ports",
		Args:  cobra.RangeArgs(1, 2),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
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
		}),
	}
}
