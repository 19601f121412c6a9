package main

import (
	"errors"
	"fmt"
	"github.com/hullproject/hull/runtime"
	"os"
	"strings"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/internal/filter"
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

func addPodCommands(root *cobra.Command, g *globals) {
	pod := &cobra.Command{Use: "pod", Short: "manage pods: containers that share namespaces"}
	root.AddCommand(pod)
	addPodTopCommands(pod, g) // top.go

	var co engine.PodOptions
	var share string
	var labels []string
	create := &cobra.Command{
		Use:   "create [--name NAME] [--hostname H] [--share net,ipc,uts,pid] [--network NAME] [-p PORT]",
		Short: "create a pod",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
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
		},
	}
	create.Flags().StringVar(&co.Name, "name", "", "the pod's name")
	create.Flags().StringVar(&co.Hostname, "hostname", "", "the pod's host name (default: its name)")
	create.Flags().StringVar(&share, "share", "net,ipc,uts", "namespaces the pod's containers share: net, ipc, uts, pid")
	create.Flags().StringVar(&co.Network, "network", "", "the network the pod joins when it shares net: a network's name (default: bridge, the default network) or none (loopback only)")
	create.Flags().StringArrayVarP(&co.Ports, "publish", "p", nil, "publish a port of the pod: [ip:][hostport:]port[/tcp|udp]")
	create.Flags().StringArrayVarP(&labels, "label", "l", nil, "set a label (KEY=VALUE)")
	pod.AddCommand(create)

	var lsQuiet bool
	var lsFilters []string
	ls := &cobra.Command{
		Use:     "ls [-q] [--filter K=V]",
		Aliases: []string{"list", "ps"},
		Short:   "list pods",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(lsFilters, "name", "id", "label")
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
			l, _ := newListing("POD ID\tNAME\tSTATUS\tCREATED\t# OF CONTAINERS", "", lsQuiet)
			for _, p := range pods {
				if !f.Match("name", func(v string) bool { return filter.MatchName(v, p.Name) }) ||
					!f.Match("id", func(v string) bool { return strings.HasPrefix(p.ID, v) }) ||
					!f.Match("label", func(v string) bool { return engine.HasLabel(p.Labels, v) }) {
					continue
				}
				if lsQuiet {
					l.row(p.ID[:12], nil)
					continue
				}
				cs, _ := e.PodContainers(p)
				l.row(p.ID[:12], nil, p.ID[:12], p.Name, e.PodStatus(p), ago(p.Created), len(cs))
			}
			return l.flush()
		},
	}
	ls.Flags().BoolVarP(&lsQuiet, "quiet", "q", false, "only IDs")
	ls.Flags().StringArrayVarP(&lsFilters, "filter", "f", nil, "name= (a regular expression), id=, label=")
	pod.AddCommand(ls)

	var inspFormat string
	inspect := &cobra.Command{
		Use:   "inspect [-f TEMPLATE] POD...",
		Short: "show pods as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			var out []podJSON
			for _, a := range args {
				p, err := e.GetPod(a)
				if err != nil {
					return err
				}
				out = append(out, podInfo(e, p))
			}
			return printJSONOrTemplate(out, inspFormat)
		},
	}
	inspect.Flags().StringVarP(&inspFormat, "format", "f", "", "Go template")
	pod.AddCommand(inspect)

	// verb makes a command that applies fn to each pod named.
	verb := func(use, short string, fn func(e *engine.Engine, ref string) (*engine.Pod, error)) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				e, err := openEngine(g)
				if err != nil {
					return err
				}
				return each(args, func(a string) error {
					p, err := fn(e, a)
					if err != nil {
						return err
					}
					fmt.Println(p.ID)
					return nil
				})
			},
		}
	}
	pod.AddCommand(verb("start POD...", "start pods: their infra, then their containers",
		func(e *engine.Engine, ref string) (*engine.Pod, error) { return e.StartPod(ref) }))

	var stopTime int
	var stopCmd, restartCmd *cobra.Command
	timeout := func(c *cobra.Command) *int {
		if c.Flags().Changed("time") {
			return &stopTime
		}
		return nil
	}
	stopCmd = verb("stop [-t SECONDS] POD...", "stop pods: their containers, then their infra",
		func(e *engine.Engine, ref string) (*engine.Pod, error) { return e.StopPod(ref, timeout(stopCmd)) })
	stopCmd.Flags().IntVarP(&stopTime, "time", "t", 10, "seconds to wait before SIGKILL")
	pod.AddCommand(stopCmd)
	restartCmd = verb("restart [-t SECONDS] POD...", "stop and start pods",
		func(e *engine.Engine, ref string) (*engine.Pod, error) {
			if _, err := e.StopPod(ref, timeout(restartCmd)); err != nil {
				return nil, err
			}
			return e.StartPod(ref)
		})
	restartCmd.Flags().IntVarP(&stopTime, "time", "t", 10, "seconds to wait before SIGKILL")
	pod.AddCommand(restartCmd)

	var killSig string
	kill := verb("kill [-s SIGNAL] POD...", "send a signal to the containers of pods",
		func(e *engine.Engine, ref string) (*engine.Pod, error) {
			sig, err := runtime.ParseSignal(killSig)
			if err != nil {
				return nil, err
			}
			return e.KillPod(ref, sig)
		})
	kill.Flags().StringVarP(&killSig, "signal", "s", "KILL", "signal to send")
	pod.AddCommand(kill)

	var rmForce bool
	rm := verb("rm [-f] POD...", "remove pods with their containers (-f: running ones too)",
		func(e *engine.Engine, ref string) (*engine.Pod, error) { return e.RemovePod(ref, rmForce) })
	rm.Flags().BoolVarP(&rmForce, "force", "f", false, "kill running containers first")
	pod.AddCommand(rm)

	root.AddCommand(&cobra.Command{
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
	})
}
