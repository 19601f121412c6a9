package docker

import (
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/hullproject/hull/engine"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"
)

// GET /containers/json and /containers/{name}/json: hull's record in docker's
// shapes (container.Summary, container.InspectResponse), what docker ps,
// docker inspect, compose and docker-py read.

// containerList answers GET /containers/json?all=&limit=&size=&filters=.
func (s *Server) containerList(w http.ResponseWriter, r *http.Request) error {
	qf, err := queryFilters(r)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit", -1)
	if err != nil {
		return err
	}
	f, err := engine.ParseContainerFilter(qf.flags())
	if err != nil {
		return badRequest(err)
	}
	list, err := s.e.List()
	if err != nil {
		return err
	}
	if err := f.Resolve(list); err != nil {
		return err
	}
	// As docker's: a limit, or a status or exited filter, shows stopped ones too.
	all := queryBool(r, "all") || limit > 0 || f.Filter["status"] != nil || f.Filter["exited"] != nil
	size := queryBool(r, "size")
	out := []container.Summary{}
	for _, c := range list {
		if limit > 0 && len(out) >= limit {
			break
		}
		if (!all && !c.State.Running()) || !f.Match(c) {
			continue
		}
		out = append(out, s.summary(c, size))
	}
	return writeJSON(w, http.StatusOK, out)
}

// summary is c as the container list shows it.
func (s *Server) summary(c *engine.Container, size bool) container.Summary {
	out := container.Summary{
		ID: c.ID, Names: []string{"/" + c.Name}, Image: c.ImageRef, ImageID: c.Image,
		Command: strings.Join(append([]string{c.Path}, c.Args...), " "), Created: c.Created.Unix(),
		Ports: portSummaries(c), Labels: c.Config.Labels, State: container.ContainerState(c.State.Status),
		Status: c.StatusText(time.Now()), Mounts: mountPoints(s.e.MountInfos(c)),
		NetworkSettings: &container.NetworkSettingsSummary{Networks: endpoints(c)},
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.HostConfig.NetworkMode = c.HostConfig.NetworkMode
	if h := c.State.Health; h != nil {
		out.Health = &container.HealthSummary{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
	}
	if size {
		out.SizeRw = int64(s.e.ContainerSize(c.ID))
		out.SizeRootFs = out.SizeRw + s.imageSize(c.Image)
	}
	return out
}

// imageSize is the size of the image id, 0 if it is gone.
func (s *Server) imageSize(id string) int64 {
	du, err := s.e.DiskUsage()
	if err != nil {
		return 0
	}
	for _, u := range du.Images {
		if u.Image.ID().String() == id {
			return u.Size
		}
	}
	return 0
}

// portSummaries are the ports a running container publishes, as docker's
// list shows them (none for one that does not run).
func portSummaries(c *engine.Container) []container.PortSummary {
	out := []container.PortSummary{}
	if !c.State.Running() {
		return out
	}
	ports := c.NetworkSettings.Ports
	for _, key := range sortedKeys(ports) {
		p, err := network.ParsePort(key)
		if err != nil {
			continue
		}
		bs := ports[key]
		if len(bs) == 0 {
			out = append(out, container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
		}
		for _, b := range bs {
			ps := container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())}
			ps.IP, _ = netip.ParseAddr(b.HostIp)
			if n, err := strconv.ParseUint(b.HostPort, 10, 16); err == nil {
				ps.PublicPort = uint16(n)
			}
			out = append(out, ps)
		}
	}
	return out
}

func portMap(m map[string][]engine.PortBinding) network.PortMap {
	out := network.PortMap{}
	for key, bs := range m {
		p, err := network.ParsePort(key)
		if err != nil {
			continue
		}
		list := []network.PortBinding{}
		for _, b := range bs {
			pb := network.PortBinding{HostPort: b.HostPort}
			pb.HostIP, _ = netip.ParseAddr(b.HostIp)
			list = append(list, pb)
		}
		out[p] = list
	}
	return out
}

// endpoints are the container's networks as docker's EndpointSettings.
func endpoints(c *engine.Container) map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	for name, ep := range c.NetworkSettings.Networks {
		if ep == nil {
			continue
		}
		es := &network.EndpointSettings{
			Aliases: ep.Aliases, NetworkID: ep.NetworkID, IPPrefixLen: ep.IPPrefixLen,
			DNSNames: append([]string{c.Name}, ep.Aliases...),
		}
		es.IPAddress, _ = netip.ParseAddr(ep.IPAddress)
		es.Gateway, _ = netip.ParseAddr(ep.Gateway)
		es.MacAddress, _ = parseMAC(ep.MacAddress)
		if ep.IPAMConfig != nil {
			es.IPAMConfig = &network.EndpointIPAMConfig{}
			es.IPAMConfig.IPv4Address, _ = netip.ParseAddr(ep.IPAMConfig.IPv4Address)
		}
		out[name] = es
	}
	return out
}

func parseMAC(s string) (network.HardwareAddr, error) {
	var hw network.HardwareAddr
	if s == "" {
		return nil, nil
	}
	err := hw.UnmarshalText([]byte(s))
	return hw, err
}

func mountPoints(ms []engine.MountInfo) []container.MountPoint {
	out := []container.MountPoint{}
	for _, m := range ms {
		out = append(out, container.MountPoint{
			Type: mount.Type(m.Type), Name: m.Name, Source: m.Source, Destination: m.Destination,
			Driver: m.Driver, Mode: m.Mode, RW: m.RW, Propagation: mount.Propagation(m.Propagation),
		})
	}
	return out
}

// inspectResponse is docker's InspectResponse with what API 1.52 dropped from
// NetworkSettings, which 1.50 clients (docker-py, scripts' {{.NetworkSettings.IPAddress}})
// still read.
type inspectResponse struct {
	container.InspectResponse
	NetworkSettings any
}

// legacyNetworkSettings is NetworkSettings before API 1.52: the primary
// network's address beside the networks.
type legacyNetworkSettings struct {
	container.NetworkSettings
	Bridge                 string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   []legacyAddress
	SecondaryIPv6Addresses []legacyAddress
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
}

// containerInspect answers GET /containers/{name}/json?size=.
func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) error {
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	out := s.inspect(c, queryBool(r, "size"))
	if versionAtLeast(r, "1.52") {
		return writeJSON(w, http.StatusOK, out)
	}
	ns := c.NetworkSettings
	return writeJSON(w, http.StatusOK, inspectResponse{InspectResponse: out, NetworkSettings: legacyNetworkSettings{
		NetworkSettings: *out.NetworkSettings, Gateway: ns.Gateway, IPAddress: ns.IPAddress,
		IPPrefixLen: ns.IPPrefixLen, MacAddress: ns.MacAddress,
	}})
}

// dockerTime is a time as docker's inspect writes it: RFC 3339 with
// nanoseconds, "0001-01-01T00:00:00Z" for none.
func dockerTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (s *Server) inspect(c *engine.Container, size bool) container.InspectResponse {
	st := c.State
	out := container.InspectResponse{
		ID: c.ID, Created: dockerTime(c.Created), Path: c.Path, Args: c.Args,
		State: &container.State{
			Status: container.ContainerState(st.Status), Running: st.Running(), // restarting too, as docker's
			Paused: st.Status == engine.StatusPaused, Restarting: st.Status == engine.StatusRestarting,
			OOMKilled: st.OOMKilled, Pid: st.Pid, ExitCode: st.ExitCode, Error: st.Error,
			StartedAt: dockerTime(st.StartedAt), FinishedAt: dockerTime(st.FinishedAt),
		},
		Image:          c.Image,
		ResolvConfPath: filepath.Join(s.e.Root, "containers", c.ID, "resolv.conf"),
		HostnamePath:   filepath.Join(s.e.Root, "containers", c.ID, "hostname"),
		HostsPath:      filepath.Join(s.e.Root, "containers", c.ID, "hosts"),
		LogPath:        s.e.LogPath(c.ID), Name: "/" + c.Name, RestartCount: c.RestartCount,
		Driver: s.e.Images.Snapshotter().Name(), Platform: "linux",
		HostConfig: hostConfig(c), Mounts: mountPoints(s.e.MountInfos(c)), Config: config(c),
		NetworkSettings: &container.NetworkSettings{
			SandboxKey: c.NetworkSettings.SandboxKey, Ports: portMap(c.NetworkSettings.Ports), Networks: endpoints(c),
		},
		GraphDriver: &storage.DriverData{Name: s.e.Images.Snapshotter().Name(), Data: map[string]string{}},
	}
	if out.Args == nil {
		out.Args = []string{}
	}
	if h := st.Health; h != nil {
		out.State.Health = &container.Health{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak, Log: []*container.HealthcheckResult{}}
		for _, l := range h.Log {
			out.State.Health.Log = append(out.State.Health.Log, &container.HealthcheckResult{Start: l.Start, End: l.End, ExitCode: l.ExitCode, Output: l.Output})
		}
	}
	if size {
		rw := int64(s.e.ContainerSize(c.ID))
		root := rw + s.imageSize(c.Image)
		out.SizeRw, out.SizeRootFs = &rw, &root
	}
	return out
}

// config is the record's Config in docker's shape.
func config(c *engine.Container) *container.Config {
	cc := c.Config
	out := &container.Config{
		Hostname: cc.Hostname, User: cc.User, Env: cc.Env, Cmd: cc.Cmd, Entrypoint: cc.Entrypoint,
		WorkingDir: cc.WorkingDir, Labels: cc.Labels, Image: c.ImageRef, Tty: cc.Tty, OpenStdin: cc.OpenStdin,
		StdinOnce:  cc.OpenStdin,
		StopSignal: cc.StopSignal, StopTimeout: cc.StopTimeout, Domainname: cc.Domainname,
	}
	out.AttachStdin, out.AttachStdout, out.AttachStderr = cc.AttachStdin, cc.AttachStdout, cc.AttachStderr
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if cc.Healthcheck != nil {
		h := cc.Healthcheck
		out.Healthcheck = &container.HealthConfig{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
		}
	}
	ports := cc.ExposedPorts
	if len(ports) == 0 { // a record from before ExposedPorts: -p's
		ports = map[string]struct{}{}
		for key := range c.HostConfig.PortBindings {
			ports[key] = struct{}{}
		}
	}
	for key := range ports {
		if p, err := network.ParsePort(key); err == nil {
			if out.ExposedPorts == nil {
				out.ExposedPorts = network.PortSet{}
			}
			out.ExposedPorts[p] = struct{}{}
		}
	}
	return out
}

// hostConfig is the record's HostConfig in docker's shape.
func hostConfig(c *engine.Container) *container.HostConfig {
	hc := c.HostConfig
	out := &container.HostConfig{
		Binds: hc.Binds, LogConfig: container.LogConfig{Type: "json-file", Config: hc.LogConfig.Config},
		NetworkMode: container.NetworkMode(hc.NetworkMode), PortBindings: portMap(hc.PortBindings),
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(hc.RestartPolicy.Name), MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount},
		AutoRemove:    hc.AutoRemove, VolumesFrom: hc.VolumesFrom, CapAdd: hc.CapAdd, CapDrop: hc.CapDrop,
		CgroupnsMode: container.CgroupnsMode(hc.CgroupnsMode), DNSOptions: hc.DnsOptions, DNSSearch: hc.DnsSearch,
		ExtraHosts: hc.ExtraHosts, GroupAdd: hc.GroupAdd, IpcMode: container.IpcMode(hc.IpcMode),
		PidMode: container.PidMode(hc.PidMode), Privileged: hc.Privileged, PublishAllPorts: hc.PublishAllPorts,
		ReadonlyRootfs: hc.ReadonlyRootfs, SecurityOpt: hc.SecurityOpt, UTSMode: container.UTSMode(hc.UTSMode),
		UsernsMode: container.UsernsMode(hc.UsernsMode), Runtime: hc.Runtime, Init: &hc.Init,
		Links: hc.Links, Annotations: hc.Annotations, Isolation: container.Isolation(hc.Isolation),
		VolumeDriver: hc.VolumeDriver, OomScoreAdj: hc.OomScoreAdj, ShmSize: hc.ShmSize, Sysctls: hc.Sysctls,
		Resources: container.Resources{
			CPUShares: hc.CpuShares, Memory: hc.Memory, NanoCPUs: hc.NanoCPUs, CpusetCpus: hc.CpusetCpus,
			MemorySwap: hc.MemorySwap, CgroupParent: hc.CgroupParent, BlkioWeight: hc.BlkioWeight,
			CPUPeriod: hc.CpuPeriod, CPUQuota: hc.CpuQuota, CPURealtimePeriod: hc.CpuRealtimePeriod,
			CPURealtimeRuntime: hc.CpuRealtimeRuntime, CpusetMems: hc.CpusetMems, DeviceCgroupRules: hc.DeviceCgroupRules,
			MemoryReservation: hc.MemoryReservation, MemorySwappiness: hc.MemorySwappiness, OomKillDisable: &hc.OomKillDisable,
		},
	}
	for _, d := range hc.BlkioWeightDevice {
		out.BlkioWeightDevice = append(out.BlkioWeightDevice, &blkiodev.WeightDevice{Path: d.Path, Weight: d.Weight})
	}
	for _, l := range []struct {
		from []engine.ThrottleDevice
		to   *[]*blkiodev.ThrottleDevice
	}{
		{hc.BlkioDeviceReadBps, &out.BlkioDeviceReadBps}, {hc.BlkioDeviceWriteBps, &out.BlkioDeviceWriteBps},
		{hc.BlkioDeviceReadIOps, &out.BlkioDeviceReadIOps}, {hc.BlkioDeviceWriteIOps, &out.BlkioDeviceWriteIOps},
	} {
		for _, d := range l.from {
			*l.to = append(*l.to, &blkiodev.ThrottleDevice{Path: d.Path, Rate: d.Rate})
		}
	}
	if hc.LogConfig.Type != "" {
		out.LogConfig.Type = hc.LogConfig.Type
	}
	if out.LogConfig.Config == nil {
		out.LogConfig.Config = map[string]string{}
	}
	if out.RestartPolicy.Name == "" {
		out.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	for _, d := range hc.Dns {
		if a, err := netip.ParseAddr(d); err == nil {
			out.DNS = append(out.DNS, a)
		}
	}
	if hc.PidsLimit != 0 {
		p := hc.PidsLimit
		out.PidsLimit = &p
	}
	for _, d := range hc.Devices {
		out.Devices = append(out.Devices, container.DeviceMapping{PathOnHost: d.PathOnHost, PathInContainer: d.PathInContainer, CgroupPermissions: d.CgroupPermissions})
	}
	for _, u := range hc.Ulimits {
		if ul, err := units.ParseUlimit(u); err == nil {
			out.Ulimits = append(out.Ulimits, ul)
		}
	}
	if out.Binds == nil {
		out.Binds = []string{}
	}
	return out
}

// legacyAddress is an address of SecondaryIPAddresses, before API 1.52.
type legacyAddress struct {
	Addr      string
	PrefixLen int
}
