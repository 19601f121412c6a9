package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/internal/filter"
	"github.com/hullproject/hull/runtime"
	"github.com/spf13/cobra"
)

// podJSON is a pod as `hull pod inspect` prints it.
type podJSON struct {
	*engine.Pod
	State      string         `json:"State"`
	Containers []podContainer `json:"Containers"`
}

type podContainer struct {
	Id    string `json:"Id"`
	Name  string `json:"Name"`
	State string `json:"State"`
}

func podInfo(e *engine.Engine, p *engine.Pod) podJSON {
	out := podJSON{Pod: p, State: e.PodStatus(p), Containers: []podContainer{}}
	cs, _ := e.PodContainers(p)
	for _, c := range cs {
		out.Containers = append(out.Containers, podContainer{Id: c.ID, Name: c.Name, State: c.State.Status})
	}
	return out
}

func podCommand(g *globals) *cobra.Command {
	pod := &cobra.Command{Use: "pod", Short: "manage pods: containers that share namespaces"}
	pod.AddCommand(podTopCommand(g), podStatsCommand(g)) // top.go
	pod.AddCommand(podCreateCommand(g), podLsCommand(g), podInspectCommand(g), podStartCommand(g), podStopCommand(g),
		podRestartCommand(g), podKillCommand(g), podRmCommand(g))
	return pod
}

func podCreateCommand(g *globals) *cobra.Command {
	var co engine.PodOptions
	var share string
	var labels []string
	var explain string
	c := &cobra.Command{
		Use:   "create [--name NAME] [--hostname H] [--share net,ipc,uts,pid] [--network NAME] [-p PORT] [--explain]",
		Short: "create a pod",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, explained(&explain, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			o := co
			if cmd.Flags().Changed("share") {
				o.Share = []string{}
				for _, s := range strings.Split(share, ",") {
					if s = strings.TrimSpace(s); s != "" {
						o.Share = append(o.Share, s)
					}
				}
			}
			if len(labels) > 0 {
				o.Labels = map[string]string{}
				for _, l := range labels {
					k, v, _ := strings.Cut(l, "=")
					o.Labels[k] = v
				}
			}
			p, err := e.CreatePod(o)
			if err != nil {
				return err
			}
			fmt.Println(p.ID)
			return nil
		})),
	}
	addExplainFlag(c.Flags(), &explain)
	c.Flags().StringVar(&co.Name, "name", "", "the pod's name")
	c.Flags().StringVar(&co.Hostname, "hostname", "", "the pod's host name (default: its name)")
	c.Flags().StringVar(&share, "share", "net,ipc,uts", "namespaces the pod's containers share: net, ipc, uts, pid")
	c.Flags().StringVar(&co.Network, "network", "", "the network the pod joins when it shares net: a network's name (default: bridge, the default network) or none (loopback only)")
	c.Flags().StringArrayVarP(&co.Ports, "publish", "p", nil, "publish a port of the pod: [ip:][hostport:]port[/tcp|udp]")
	c.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label (KEY=VALUE)")
	return c
}

func podLsCommand(g *globals) *cobra.Command {
	var quiet bool
	var filters []string
	c := &cobra.Command{
		Use:     "ls [-q] [--filter K=V]",
		Aliases: []string{"list", "ps"},
		Short:   "list pods",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The filters are judged before the engine is opened.
			f, err := parseFilters(filters, "name", "id", "label")
			if err != nil {
				return err
			}
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			pods, err := e.ListPods()
			if err != nil {
				return err
			}
			l, _ := newListing("POD ID\tNAME\tSTATUS\tCREATED\t# OF CONTAINERS", "", quiet)
			for _, p := range pods {
				if !f.Match("name", func(v string) bool { return filter.MatchName(v, p.Name) }) ||
					!f.Match("id", func(v string) bool { return strings.HasPrefix(p.ID, v) }) ||
					!f.Match("label", func(v string) bool { return engine.HasLabel(p.Labels, v) }) {
					continue
				}
				if quiet {
					l.row(p.ID[:12], nil)
					continue
				}
				cs, _ := e.PodContainers(p)
				l.row(p.ID[:12], nil, p.ID[:12], p.Name, e.PodStatus(p), ago(p.Created), len(cs))
			}
			return l.flush()
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only IDs")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "name= (a regular expression), id=, label=")
	return c
}

func podInspectCommand(g *globals) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "inspect [-f TEMPLATE] POD...",
		Short: "show pods as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			var out []podJSON
			for _, a := range args {
				p, err := e.GetPod(a)
				if err != nil {
					return err
				}
				out = append(out, podInfo(e, p))
			}
			return printJSONOrTemplate(out, format)
		}),
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Go template")
	return c
}

// onEachPod makes the RunE of a pod verb: fn on each pod named in turn, each
// pod's ID on success.
func onEachPod(g *globals, fn func(e *engine.Engine, cmd *cobra.Command, ref string) (*engine.Pod, error)) func(*cobra.Command, []string) error {
	return withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
		return each(args, func(a string) error {
			p, err := fn(e, cmd, a)
			if err != nil {
				return err
			}
			fmt.Println(p.ID)
			return nil
		})
	})
}

func podStartCommand(g *globals) *cobra.Command {
	var explain string
	c := &cobra.Command{
		Use:   "start [--explain] POD...",
		Short: "start pods: their infra, then their containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, explained(&explain, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return each(args, func(a string) error {
				p, err := e.StartPod(a)
				if err != nil {
					return err
				}
				fmt.Println(p.ID)
				return nil
			})
		})),
	}
	addExplainFlag(c.Flags(), &explain)
	return c
}

func podStopCommand(g *globals) *cobra.Command {
	var t int
	c := &cobra.Command{
		Use:   "stop [-t SECONDS] POD...",
		Short: "stop pods: their containers, then their infra",
		Args:  cobra.MinimumNArgs(1),
		RunE: onEachPod(g, func(e *engine.Engine, cmd *cobra.Command, ref string) (*engine.Pod, error) {
			return e.StopPod(ref, timeFlag(cmd, &t))
		}),
	}
	c.Flags().IntVarP(&t, "time", "t", 10, "seconds to wait before SIGKILL")
	return c
}

func podRestartCommand(g *globals) *cobra.Command {
	var t int
	c := &cobra.Command{
		Use:   "restart [-t SECONDS] POD...",
		Short: "stop and start pods",
		Args:  cobra.MinimumNArgs(1),
		RunE: onEachPod(g, func(e *engine.Engine, cmd *cobra.Command, ref string) (*engine.Pod, error) {
			if _, err := e.StopPod(ref, timeFlag(cmd, &t)); err != nil {
				return nil, err
			}
			return e.StartPod(ref)
		}),
	}
	c.Flags().IntVarP(&t, "time", "t", 10, "seconds to wait before SIGKILL")
	return c
}

func podKillCommand(g *globals) *cobra.Command {
	var signal string
	c := &cobra.Command{
		Use:   "kill [-s SIGNAL] POD...",
		Short: "send a signal to the containers of pods",
		Args:  cobra.MinimumNArgs(1),
		RunE: onEachPod(g, func(e *engine.Engine, _ *cobra.Command, ref string) (*engine.Pod, error) {
			sig, err := runtime.ParseSignal(signal)
			if err != nil {
				return nil, err
			}
			return e.KillPod(ref, sig)
		}),
	}
	c.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send")
	return c
}

func podRmCommand(g *globals) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "rm [-f] POD...",
		Short: "remove pods with their containers (-f: running ones too)",
		Args:  cobra.MinimumNArgs(1),
		RunE: onEachPod(g, func(e *engine.Engine, _ *cobra.Command, ref string) (*engine.Pod, error) {
			return e.RemovePod(ref, force)
		}),
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "kill running containers first")
	return c
}

// podInfraCommand is the process that holds a pod's namespaces.
func podInfraCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "pod-infra HOSTNAME",
		Short:  "hold a pod's namespaces (started by hull)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			status := os.NewFile(3, "status")
			if status == nil {
				return errors.New("pod-infra is started by hull")
			}
			if err := engine.RunPodInfra(args[0], status); err != nil {
				return &exitError{code: 1}
			}
			return nil
		},
	}
}
