package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/volume"
	"github.com/spf13/cobra"
)

// `hull inspect`: a container's record, Docker-shaped.

func inspectCommand(g *globals) *cobra.Command {
	var format, typ string
	var size, kernel bool
	c := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID...",
		Short: "show containers', images', networks' and volumes' records as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			types := []string{"container", "image", "network", "volume"}
			switch typ {
			case "":
			case "container", "image", "network", "volume":
				types = []string{typ}
			default:
				return badUsage(fmt.Errorf("%q is not a valid value for --type", typ))
			}
			if kernel {
				if typ != "" && typ != "container" {
					return badUsage(fmt.Errorf("--kernel shows containers only, not --type %s", typ))
				}
				types = []string{"container"}
			}
			// One census for every name: each is resolved, and each running
			// container's namespaces compared, without reading every record again.
			// Several names at a time: reading hundreds of records and /proc
			// files, one's system calls overlap another's decoding. The first
			// error in the order of the names is the one reported, as one by one.
			// Without a template, each object is encoded there too (as
			// printJSONOrTemplate's Encoder would, indented one level into the
			// array): with hundreds, the JSON is megabytes.
			census := e.NewCensus()
			out := make([]any, len(args))
			errs := make([]error, len(args))
			encoded := make([][]byte, len(args))
			engine.ForEach(len(args), func(i int) {
				out[i], errs[i] = inspectObject(e, census, args[i], types, size, kernel)
				if errs[i] == nil && format == "" {
					encoded[i], errs[i] = json.MarshalIndent(out[i], "    ", "    ")
				}
			})
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
			if format != "" {
				return printJSONOrTemplate(out, format)
			}
			w := bufio.NewWriterSize(os.Stdout, 64<<10)
			w.WriteString("[\n")
			for i, b := range encoded {
				w.WriteString("    ")
				w.Write(b)
				if i < len(encoded)-1 {
					w.WriteString(",")
				}
				w.WriteString("\n")
			}
			w.WriteString("]\n")
			return w.Flush()
		}),
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Go template")
	c.Flags().StringVar(&typ, "type", "", "only this kind of object: container, image, network or volume")
	c.Flags().BoolVarP(&size, "size", "s", false, "a container's sizes too: SizeRw, SizeRootFs")
	c.Flags().BoolVar(&kernel, "kernel", false, "add the Kernel section: the running container as /proc and /sys show it (namespaces, cgroups, capabilities, seccomp, mounts, network), and where that differs from its spec")
	return c
}

// inspectObject is the first object of types named name, as inspect shows it;
// docker's order when no --type says: container, image, network, volume.
func inspectObject(e *engine.Engine, census *engine.Census, name string, types []string, size, kernel bool) (any, error) {
	var err error
	for _, t := range types {
		var v any
		switch t {
		case "container":
			var c *engine.Container
			if c, err = census.Get(name); err == nil {
				o := toInspect(e, census, c)
				if size {
					rw, rootFs := e.ContainerSizes(c)
					o.SizeRw, o.SizeRootFs = &rw, &rootFs
				}
				if kernel {
					if o.Kernel, err = e.Kernel(c.ID); err != nil {
						return nil, err
					}
				}
				v = o
			}
		case "image":
			v, err = e.Images.Inspect(name)
		case "network":
			v, err = inspectNetwork(e, name)
		case "volume":
			var s *volume.Store
			if s, err = e.Volumes(); err == nil {
				v, err = s.Inspect(name)
			}
		}
		if err == nil {
			return v, nil
		}
	}
	if len(types) > 1 {
		return nil, fmt.Errorf("no such object: %s", name)
	}
	return nil, err
}

// inspectJSON is the Docker-shaped subset `hull inspect` prints.
type inspectJSON struct {
	Id      string    `json:"Id"` // Docker's spelling, for -f {{.Id}}
	Created time.Time `json:"Created"`
	Path    string    `json:"Path"`
	Args    []string  `json:"Args"`
	State   struct {
		Status     string         `json:"Status"`
		Running    bool           `json:"Running"`
		Paused     bool           `json:"Paused"`
		OOMKilled  bool           `json:"OOMKilled"`
		Dead       bool           `json:"Dead"`
		Pid        int            `json:"Pid"`
		ExitCode   int            `json:"ExitCode"`
		Error      string         `json:"Error"`
		StartedAt  time.Time      `json:"StartedAt"`
		FinishedAt time.Time      `json:"FinishedAt"`
		Restarting bool           `json:"Restarting"`
		Health     *engine.Health `json:"Health,omitempty"`
	} `json:"State"`
	Image        string            `json:"Image"`
	RestartCount int               `json:"RestartCount"`
	LogPath      string            `json:"LogPath"`
	Name         string            `json:"Name"`
	Driver       string            `json:"Driver"`
	HostConfig   engine.HostConfig `json:"HostConfig"`
	Config       engine.Config     `json:"Config"`
	// NetworkSettings: see engine/network.go
	NetworkSettings engine.NetworkSettings `json:"NetworkSettings"`
	// Mounts, Pod and Namespaces: see engine/volumes.go, pods.go, namespaces.go
	Mounts     []engine.MountInfo              `json:"Mounts"`
	Pod        string                          `json:"Pod,omitempty"`
	Namespaces map[string]engine.NamespaceInfo `json:"Namespaces,omitempty"`
	// SizeRw and SizeRootFs: with --size, as docker's.
	SizeRw     *uint64 `json:"SizeRw,omitempty"`
	SizeRootFs *uint64 `json:"SizeRootFs,omitempty"`
	// Kernel: see engine/kernel.go (--kernel)
	Kernel *engine.Kernel `json:"Kernel,omitempty"`
}

func toInspect(e *engine.Engine, census *engine.Census, c *engine.Container) inspectJSON {
	var o inspectJSON
	o.Id, o.Created, o.Path, o.Args, o.Image, o.Name = c.ID, c.Created, c.Path, c.Args, c.Image, "/"+c.Name
	o.LogPath, o.Driver = e.LogPath(c.ID), e.Images.Snapshotter().Name()
	if c.HostConfig.LogConfig.Type == engine.LogNone {
		o.LogPath = "" // docker's: no log file
	}
	s := &o.State
	s.Status, s.Running, s.Paused = c.State.Status, c.State.Running(), c.State.Status == engine.StatusPaused
	s.OOMKilled, s.Pid, s.ExitCode, s.Error = c.State.OOMKilled, c.State.Pid, c.State.ExitCode, c.State.Error
	s.StartedAt, s.FinishedAt = c.State.StartedAt, c.State.FinishedAt
	s.Restarting, s.Health, o.RestartCount = c.State.Status == engine.StatusRestarting, c.State.Health, c.RestartCount
	o.HostConfig, o.Config = c.HostConfig, c.Config
	o.NetworkSettings = c.NetworkSettings
	o.Mounts, o.Pod, o.Namespaces = e.MountInfos(c), c.Pod, census.Namespaces(c)
	if o.Args == nil {
		o.Args = []string{}
	}
	return o
}
