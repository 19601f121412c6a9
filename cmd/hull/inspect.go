package main

import (
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/spf13/cobra"
)

// `hull inspect`: a container's record, Docker-shaped.

func inspectCommand(g *globals) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "inspect [-f TEMPLATE] CONTAINER...",
		Short: "show containers' records as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			var out []inspectJSON
			for _, a := range args {
				ctr, err := e.Get(a)
				if err != nil {
					return err
				}
				out = append(out, toInspect(e, ctr))
			}
			return printJSONOrTemplate(out, format)
		}),
	}
	c.Flags().StringVarP(&format, "format", "f", "", "Go template")
	return c
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
}

func toInspect(e *engine.Engine, c *engine.Container) inspectJSON {
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
	o.Mounts, o.Pod, o.Namespaces = e.MountInfos(c), c.Pod, e.Namespaces(c)
	if o.Args == nil {
		o.Args = []string{}
	}
	return o
}
