package docker

import (
	"net/http"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"
)

// routesSystem registers what is about the engine as a whole.
func (s *Server) routesSystem(rt *router) {
	rt.handle("GET", "/_ping", s.ping)
	rt.handle("HEAD", "/_ping", s.ping)
	rt.handle("GET", "/version", s.version)
	rt.handle("GET", "/info", s.info)
	rt.handle("GET", "/events", s.events)
	rt.handle("GET", "/system/df", s.systemDF)
}

// ping answers GET and HEAD /_ping: "OK", and what a client negotiates with.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	// 1: the classic builder's protocol (POST /build), not BuildKit's session.
	h.Set("Builder-Version", "1")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	_, err := w.Write([]byte("OK"))
	return err
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// version answers GET /version.
func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	v := system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "hull"},
		Version:       s.o.Version,
		APIVersion:    MaxAPIVersion,
		MinAPIVersion: MinAPIVersion,
		GitCommit:     s.o.Commit,
		GoVersion:     goruntime.Version(),
		Os:            goruntime.GOOS,
		Arch:          goruntime.GOARCH,
		KernelVersion: kernelVersion(),
	}
	v.Components = []system.ComponentVersion{{
		Name: "Engine", Version: v.Version,
		Details: map[string]string{
			"ApiVersion": v.APIVersion, "MinAPIVersion": v.MinAPIVersion, "GitCommit": v.GitCommit,
			"GoVersion": v.GoVersion, "Os": v.Os, "Arch": v.Arch, "KernelVersion": v.KernelVersion,
			"Experimental": "false",
		},
	}}
	return writeJSON(w, http.StatusOK, v)
}

// info answers GET /info from engine.Info, what `hull info` shows.
func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	in, err := s.e.Info()
	if err != nil {
		return err
	}
	out := system.Info{
		ID: in.ID, Name: in.Name,
		Containers: in.Containers, ContainersRunning: in.Running, ContainersPaused: in.Paused, ContainersStopped: in.Stopped,
		Images: in.Images, Driver: in.Driver, LoggingDriver: in.LoggingDriver,
		CgroupDriver: in.CgroupDriver, CgroupVersion: in.CgroupVersion,
		KernelVersion: in.KernelVersion, OperatingSystem: in.OperatingSystem, OSType: in.OSType, Architecture: in.Architecture,
		NCPU: in.NCPU, MemTotal: in.MemTotal, DockerRootDir: in.Root,
		ServerVersion: s.o.Version, DefaultRuntime: in.DefaultRuntime, SecurityOptions: in.SecurityOptions,
		Runtimes: map[string]system.RuntimeWithStatus{},
		// What hull's containers get: the engine writes these limits into every spec.
		MemoryLimit: true, SwapLimit: true, CPUCfsPeriod: true, CPUCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true,
		IPv4Forwarding:     readSysctl("/proc/sys/net/ipv4/ip_forward") == "1",
		NEventsListener:    int(s.listeners.Load()),
		NGoroutines:        goruntime.NumGoroutine(),
		NFd:                openFds(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		IndexServerAddress: "https://index.docker.io/v1/",
		InitBinary:         "hull-init",
		// Containers do not need this process: each keeps its own monitor, so
		// they live on when the service stops, as with docker's live-restore.
		LiveRestoreEnabled: true,
		Isolation:          "",
		Swarm:              swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		Plugins: system.PluginsInfo{
			Volume: []string{"local"}, Network: []string{"bridge", "host", "none"}, Log: []string{in.LoggingDriver},
		},
		FirewallBackend: &system.FirewallInfo{Driver: "nftables"},
		Labels:          []string{},
		Warnings:        []string{},
	}
	for _, name := range in.Runtimes {
		out.Runtimes[name] = system.RuntimeWithStatus{Runtime: system.Runtime{Path: name}}
	}
	return writeJSON(w, http.StatusOK, out)
}

func readSysctl(file string) string {
	data, _ := os.ReadFile(file)
	return strings.TrimSpace(string(data))
}

func openFds() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// eventMessage is an event as API 1.50 sends it: moby's events.Message with
// the status, id and from fields that API 1.52 dropped.
type eventMessage struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	events.Message
}

// events answers GET /events: the engine's events (engine/events.go) as a JSON
// stream, filtered, from since (without it, from now) until until (without it,
// until the client goes away).
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	f, err := queryFilters(r)
	if err != nil {
		return err
	}
	o := engine.EventOptions{Follow: true, Since: time.Now()}
	if o.Filter, err = engine.ParseEventFilter(f.flags()); err != nil {
		return badRequest(err)
	}
	since, ok, err := queryTime(r, "since")
	if err != nil {
		return err
	}
	if ok {
		o.Since = since
	}
	if o.Until, _, err = queryTime(r, "until"); err != nil {
		return err
	}
	o.Stop = s.stopping(r)
	s.listeners.Add(1)
	defer s.listeners.Add(-1)
	js := newJSONStream(w)
	js.Begin()
	legacy := !versionAtLeast(r, "1.52")
	return s.e.Events(o, func(ev engine.Event) error {
		m := eventMessage{Message: events.Message{
			Type: events.Type(ev.Type), Action: events.Action(ev.Action),
			Actor: events.Actor{ID: ev.Actor.ID, Attributes: ev.Actor.Attributes},
			Scope: ev.Scope, Time: ev.Time, TimeNano: ev.TimeNano,
		}}
		if legacy {
			m.Status, m.ID, m.From = ev.Status, ev.ID, ev.From
		}
		return js.Send(m)
	})
}

// diskUsage is GET /system/df's answer up to API 1.51: moby's types for each
// object, in the envelope docker 28 clients read (moby's module keeps only the
// 1.52 form, system.DiskUsage).
type diskUsage struct {
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
}

// systemDF answers GET /system/df from engine.DiskUsage, what `hull system df`
// counts; type=container|image|volume|build-cache (repeated) asks for some only.
func (s *Server) systemDF(w http.ResponseWriter, r *http.Request) error {
	types := r.URL.Query()["type"]
	for _, t := range types {
		switch system.DiskUsageObject(t) {
		case system.ContainerObject, system.ImageObject, system.VolumeObject, system.BuildCacheObject:
		default:
			return badRequestf("unknown object type: %s", t)
		}
	}
	want := func(t system.DiskUsageObject) bool {
		return len(types) == 0 || slices.Contains(types, string(t))
	}
	du, err := s.e.DiskUsage()
	if err != nil {
		return err
	}
	out := diskUsage{Images: []image.Summary{}, Containers: []container.Summary{}, Volumes: []volume.Volume{}, BuildCache: []build.CacheRecord{}}
	imageSize := map[string]int64{}
	if want(system.ImageObject) {
		for _, u := range du.Images {
			out.LayersSize += u.Size
			imageSize[u.Image.ID().String()] = u.Size
			out.Images = append(out.Images, image.Summary{
				ID: u.Image.ID().String(), RepoTags: u.Image.Names, RepoDigests: []string{},
				Created: u.Image.Added.Unix(), Size: u.Size, Containers: int64(u.Containers),
				Labels: map[string]string{},
			})
		}
	}
	if want(system.ContainerObject) {
		for _, u := range du.Containers {
			c := u.Container
			out.Containers = append(out.Containers, container.Summary{
				ID: c.ID, Names: []string{"/" + c.Name}, Image: c.ImageRef, ImageID: c.Image,
				Command: strings.Join(append([]string{c.Path}, c.Args...), " "), Created: c.Created.Unix(),
				SizeRw: int64(u.Size), SizeRootFs: int64(u.Size) + imageSize[c.Image],
				Labels: c.Config.Labels, State: container.ContainerState(c.State.Status), Status: c.State.Status,
			})
		}
	}
	if want(system.VolumeObject) {
		for _, u := range du.Volumes {
			v := u.Volume
			out.Volumes = append(out.Volumes, volume.Volume{
				Name: v.Name, Driver: v.Driver, Labels: v.Labels, Options: v.Options, Mountpoint: v.Mountpoint,
				CreatedAt: v.CreatedAt.Format(time.RFC3339), Scope: "local",
				UsageData: &volume.UsageData{Size: int64(u.Size), RefCount: int64(u.RefCount)},
			})
		}
	}
	return writeJSON(w, http.StatusOK, out)
}
