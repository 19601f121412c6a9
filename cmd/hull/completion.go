package main

import (
	"slices"
	"strings"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/volume"
	"github.com/spf13/cobra"
)

// lister names the objects an argument can be (containers, images, ...).
type lister func(e *engine.Engine, toComplete string) ([]string, error)

// containerNames lists containers by name, and by short ID once what is typed is an
// ID's prefix; running: only running (and paused) ones.
func containerNames(running bool) lister {
	return func(e *engine.Engine, toComplete string) ([]string, error) {
		list, err := e.List()
		var out []string
		for _, c := range list {
			if running && !c.State.Running() {
				continue
			}
			out = append(out, c.Name)
			if toComplete != "" && strings.HasPrefix(c.ID, toComplete) {
				out = append(out, c.ID[:12])
			}
		}
		return out, err
	}
}

// imageNames lists image names as people type them: busybox:latest for
// docker.io/library/busybox:latest, unless the registry is being typed.
func imageNames(e *engine.Engine, toComplete string) ([]string, error) {
	imgs, err := e.Images.List()
	var out []string
	for _, img := range imgs {
		for _, n := range img.Names {
			if short := strings.TrimPrefix(n, "docker.io/library/"); strings.HasPrefix(short, toComplete) {
				n = short
			}
			out = append(out, n)
		}
	}
	return out, err
}

func networkNames(e *engine.Engine, _ string) ([]string, error) {
	m, err := e.Networks()
	if err != nil {
		return nil, err
	}
	nets, err := m.List()
	var out []string
	for _, n := range nets {
		out = append(out, n.Name)
	}
	return out, err
}

func volumeNames(e *engine.Engine, _ string) ([]string, error) {
	vs, err := e.Volumes()
	if err != nil {
		return nil, err
	}
	vols, err := vs.List(volume.Filters{})
	var out []string
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out, err
}

func podNames(e *engine.Engine, _ string) ([]string, error) {
	pods, err := e.ListPods()
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out, err
}

// completeArgs completes a command's first argument from first and every later one
// from rest (nil: nothing, as for the command line run inside a container), leaving
// out names already given.
func completeArgs(g *globals, first, rest lister) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		list := first
		if len(args) > 0 {
			list = rest
		}
		if list == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		e, err := openEngine(g)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names, _ := list(e, toComplete)
		var out []cobra.Completion
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) && !slices.Contains(args, n) && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// addCompletions gives the commands' arguments dynamic completion (cobra's
// `hull completion bash|zsh|fish` scripts ask `hull __complete ...`). Commands are
// found by their path, so that one missing (or not there yet) is skipped, and a
// command that sets its own ValidArgsFunction keeps it. Call it once every command
// is added, before the `container` group copies them.
func addCompletions(root *cobra.Command, g *globals) {
	running, all := containerNames(true), containerNames(false)
	img, net, vol, pod := lister(imageNames), lister(networkNames), lister(volumeNames), lister(podNames)
	table := []struct {
		paths       string
		first, rest lister
	}{
		{"exec attach top port", running, nil},
		{"stop kill pause unpause stats", running, running},
		{"logs rename export commit diff", all, nil},
		{"rm start restart inspect wait update", all, all},
		{"run create tag push history", img, nil},
		{"rmi save", img, img},
		{"image:push image:history image:tag", img, nil},
		{"image:rm image:inspect image:save", img, img},
		{"network:rm network:inspect", net, net},
		{"network:connect network:disconnect", net, all},
		{"volume:rm volume:inspect", vol, vol},
		{"pod:top", pod, nil},
		{"pod:rm pod:start pod:stop pod:restart pod:kill pod:pause pod:unpause pod:inspect pod:stats", pod, pod},
	}
	for _, row := range table {
		for _, path := range strings.Fields(row.paths) {
			if c := lookup(root, strings.Split(path, ":")...); c != nil && c.ValidArgsFunction == nil {
				c.ValidArgsFunction = completeArgs(g, row.first, row.rest)
			}
		}
	}
}
