package docker

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/volume"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// POST /containers/create: docker's create body (Config, HostConfig,
// NetworkingConfig) becomes the engine.CreateOptions `hull create` builds from
// its flags, judged by the same Validate and made by the same Create. Docker's
// structured fields are written in the grammars the engine reads (-p, --mount,
// --tmpfs, --restart ...), so that each grammar keeps one home. A field hull
// cannot honour yet is refused with a 400 naming it, never dropped.

// containerCreate answers POST /containers/create?name=&platform=.
func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) error {
	var req container.CreateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Config == nil {
		return badRequestf("config cannot be empty in order to create a container")
	}
	if req.HostConfig == nil {
		req.HostConfig = &container.HostConfig{}
	}
	var warnings []string
	var mu sync.Mutex
	o, extra, err := createOptions(r.URL.Query().Get("name"), &req)
	if err != nil {
		return err
	}
	o.Platform = r.URL.Query().Get("platform")
	o.Warn = func(note string) {
		mu.Lock()
		defer mu.Unlock()
		warnings = append(warnings, note)
	}
	if err := o.Validate(); err != nil {
		return createError(err)
	}
	// docker's CLI pulls on a 404 that says "No such image" and tries again.
	if _, err := s.e.Images.Get(o.Image); err != nil {
		if isNotFound(err) {
			return notFoundf("No such image: %s", o.Image)
		}
		return err
	}
	c, err := s.e.Create(o)
	if err != nil {
		return createError(err)
	}
	// More networks than the one it is created on: connected now, as docker's
	// API 1.44 and later connect every network of EndpointsConfig.
	for _, n := range extra {
		if err := s.e.Connect(c.ID, n.name, n.o); err != nil {
			s.e.Remove(c.ID, true)
			return createError(err)
		}
	}
	if warnings == nil {
		warnings = []string{}
	}
	return writeJSON(w, http.StatusCreated, container.CreateResponse{ID: c.ID, Warnings: warnings})
}

func isNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// extraNetwork is a network of EndpointsConfig beyond the one of NetworkMode.
type extraNetwork struct {
	name string
	o    engine.ConnectOptions
}

// mountedAt tells whether a bind, a mount or a tmpfs of hc is on dst.
func mountedAt(hc *container.HostConfig, dst string) bool {
	dst = path.Clean(dst)
	for _, b := range hc.Binds {
		if m, _, err := volume.ParseVolume(b); err == nil && m.Destination == dst {
			return true
		}
	}
	for t := range hc.Tmpfs {
		if path.Clean(t) == dst {
			return true
		}
	}
	return slices.ContainsFunc(hc.Mounts, func(m mount.Mount) bool { return path.Clean(m.Target) == dst })
}

// refusal is a field of the create body hull cannot honour.
type refusal struct{ field, why string }

// createOptions translates the create body into the engine's options; a field
// hull has no option for, if set, is a 400 naming it.
func createOptions(name string, req *container.CreateRequest) (engine.CreateOptions, []extraNetwork, error) {
	cfg, hc := req.Config, req.HostConfig
	var refused []refusal
	refuse := func(set bool, field, why string) {
		if set {
			refused = append(refused, refusal{field, why})
		}
	}
	o := engine.CreateOptions{
		Name:  strings.TrimPrefix(name, "/"),
		Image: cfg.Image, Cmd: cfg.Cmd, Env: cfg.Env, WorkingDir: cfg.WorkingDir, User: cfg.User,
		Hostname: cfg.Hostname, Labels: cfg.Labels, Tty: cfg.Tty, Interactive: cfg.OpenStdin,
		StopSignal: cfg.StopSignal, StopTimeout: cfg.StopTimeout,
		ReadOnly: hc.ReadonlyRootfs, Privileged: hc.Privileged, CapAdd: hc.CapAdd, CapDrop: hc.CapDrop,
		GroupAdd: hc.GroupAdd, SecurityOpt: hc.SecurityOpt, Runtime: hc.Runtime, AutoRemove: hc.AutoRemove,
		Memory: hc.Memory, NanoCPUs: hc.NanoCPUs, MemorySwap: hc.MemorySwap, CPUShares: hc.CPUShares,
		CpusetCpus: hc.CpusetCpus,
	}
	if o.Image == "" {
		refuse(true, "Config.Image", "an image is required")
	}
	if cfg.Entrypoint != nil {
		ep := cfg.Entrypoint
		if len(ep) == 0 {
			ep = []string{""} // docker's [] and [""]: no entrypoint
		}
		o.Entrypoint = &ep
	}
	o.Domainname = cfg.Domainname
	o.AttachStdin, o.AttachStdout, o.AttachStderr = cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr
	for p := range cfg.ExposedPorts {
		o.ExposedPorts = append(o.ExposedPorts, p.String())
	}
	sort.Strings(o.ExposedPorts)
	// Config.Volumes is `-v /path`: an anonymous volume each, unless a bind,
	// a mount or a tmpfs is on that path already, which docker's daemon lets
	// win (docker-compose 1.29 sends each service volume both here and as a
	// bind).
	for _, p := range sortedKeys(cfg.Volumes) {
		if !mountedAt(hc, p) {
			o.Volumes = append(o.Volumes, p)
		}
	}
	healthOptions(cfg.Healthcheck, &o.MonitorOptions, refuse)

	// HostConfig.
	o.Volumes = append(o.Volumes, hc.Binds...)
	o.VolumesFrom = hc.VolumesFrom
	o.LogDriver, o.LogOpts = hc.LogConfig.Type, keyValues(hc.LogConfig.Config)
	o.Network = string(hc.NetworkMode)
	if o.Network == "" || o.Network == "default" {
		o.Network = "bridge"
	}
	if cfg.NetworkDisabled {
		o.Network = "none"
	}
	o.Publish = publishSpecs(hc)
	o.PublishAll = hc.PublishAllPorts
	switch p := hc.RestartPolicy; {
	case p.Name == "":
	case p.Name == container.RestartPolicyOnFailure && p.MaximumRetryCount > 0:
		o.Restart = fmt.Sprintf("%s:%d", p.Name, p.MaximumRetryCount)
	default:
		o.Restart = string(p.Name)
		refuse(p.MaximumRetryCount != 0 && p.Name != container.RestartPolicyOnFailure, "HostConfig.RestartPolicy.MaximumRetryCount",
			"maximum retry count can only be used with 'on-failure'")
	}
	o.VolumeDriver, o.Isolation, o.StorageOpt = hc.VolumeDriver, string(hc.Isolation), hc.StorageOpt
	if hc.ConsoleSize[0] > 0 && hc.ConsoleSize[1] > 0 {
		o.ConsoleSize = &specs.Box{Height: hc.ConsoleSize[0], Width: hc.ConsoleSize[1]}
	}
	o.Annotations = hc.Annotations
	o.Cgroupns = string(hc.CgroupnsMode)
	for _, a := range hc.DNS {
		o.DNS = append(o.DNS, a.String())
	}
	o.DNSOptions, o.DNSSearch, o.ExtraHosts = hc.DNSOptions, hc.DNSSearch, hc.ExtraHosts
	o.IPC, o.Pid, o.UTS, o.Userns = string(hc.IpcMode), string(hc.PidMode), string(hc.UTSMode), string(hc.UsernsMode)
	refuse(hc.Cgroup != "", "HostConfig.Cgroup", "not supported")
	o.Links, o.OomScoreAdj, o.ShmSize, o.Sysctls = hc.Links, hc.OomScoreAdj, hc.ShmSize, hc.Sysctls
	for _, dst := range sortedKeys(hc.Tmpfs) {
		if opts := hc.Tmpfs[dst]; opts != "" {
			o.Tmpfs = append(o.Tmpfs, dst+":"+opts)
		} else {
			o.Tmpfs = append(o.Tmpfs, dst)
		}
	}
	if hc.Umask != nil {
		o.Umask = fmt.Sprintf("%04o", *hc.Umask)
	}
	// docker's CLI sends both empty for --security-opt systempaths=unconfined,
	// which it takes out of SecurityOpt; lists of other paths are refused.
	if hc.MaskedPaths != nil && len(hc.MaskedPaths) == 0 && hc.ReadonlyPaths != nil && len(hc.ReadonlyPaths) == 0 {
		o.SecurityOpt = append(slices.Clone(o.SecurityOpt), "systempaths=unconfined")
	} else {
		refuse(hc.MaskedPaths != nil, "HostConfig.MaskedPaths", "only empty, with ReadonlyPaths empty too (systempaths=unconfined), is supported")
		refuse(hc.ReadonlyPaths != nil, "HostConfig.ReadonlyPaths", "only empty, with MaskedPaths empty too (systempaths=unconfined), is supported")
	}
	if hc.Init != nil {
		o.Init = *hc.Init
	}
	for _, m := range hc.Mounts {
		if t := m.TmpfsOptions; m.Type == mount.TypeTmpfs && t != nil && len(t.Options) > 0 {
			// --mount has no word for a tmpfs's mount options; --tmpfs has
			spec, err := tmpfsSpec(m)
			if err != nil {
				refuse(true, "HostConfig.Mounts", err.Error())
				continue
			}
			o.Tmpfs = append(o.Tmpfs, spec)
			continue
		}
		spec, err := mountSpec(m)
		if err != nil {
			refuse(true, "HostConfig.Mounts", err.Error())
			continue
		}
		o.Mounts = append(o.Mounts, spec)
	}
	resourceOptions(&hc.Resources, &o, refuse)

	// NetworkingConfig: the network of NetworkMode gets its aliases, address and
	// MAC address; any other is connected after the create.
	var extra []extraNetwork
	if req.NetworkingConfig != nil {
		for _, n := range sortedKeys(req.NetworkingConfig.EndpointsConfig) {
			ep := req.NetworkingConfig.EndpointsConfig[n]
			if ep == nil {
				ep = new(network.EndpointSettings)
			}
			field := "NetworkingConfig.EndpointsConfig." + n
			// docker's CLI and compose send the links of HostConfig.Links
			// here too; hull's links hold on every network the two share
			for _, l := range ep.Links {
				if !slices.Contains(o.Links, l) {
					o.Links = append(o.Links, l)
				}
			}
			refuse(len(ep.DriverOpts) > 0, field+".DriverOpts", "not supported")
			// docker's CLI names the default network "default" when no
			// --network was given.
			if n == o.Network || n == string(hc.NetworkMode) || (n == "default" && o.Network == "bridge") {
				o.NetworkAliases = ep.Aliases
				if ep.IPAMConfig != nil {
					if ep.IPAMConfig.IPv4Address.IsValid() {
						o.IP = ep.IPAMConfig.IPv4Address.String()
					}
					if ep.IPAMConfig.IPv6Address.IsValid() {
						o.IP6 = ep.IPAMConfig.IPv6Address.String()
					}
					for _, a := range ep.IPAMConfig.LinkLocalIPs {
						o.LinkLocalIPs = append(o.LinkLocalIPs, a.String())
					}
				}
				if len(ep.MacAddress) > 0 {
					o.MacAddress = ep.MacAddress.String()
				}
				continue
			}
			// the others are connected after the create, with their aliases,
			// address and MAC address (compose's ipv4_address on each network)
			x := extraNetwork{name: n, o: engine.ConnectOptions{Aliases: ep.Aliases}}
			if ep.IPAMConfig != nil {
				refuse(ep.IPAMConfig.IPv6Address.IsValid() || len(ep.IPAMConfig.LinkLocalIPs) > 0,
					field+".IPAMConfig", "IPv6 and link-local addresses on a network other than NetworkMode's are not supported")
				if ep.IPAMConfig.IPv4Address.IsValid() {
					x.o.IP = ep.IPAMConfig.IPv4Address.String()
				}
			}
			if len(ep.MacAddress) > 0 {
				x.o.MAC = ep.MacAddress.String()
			}
			extra = append(extra, x)
		}
	}
	if len(refused) > 0 {
		var msgs []string
		for _, r := range refused {
			msgs = append(msgs, r.field+": "+r.why)
		}
		return o, nil, badRequestf("%s", strings.Join(msgs, "; "))
	}
	return o, extra, nil
}

// healthOptions puts Config.Healthcheck into the monitor's options: its test in
// docker's form (CMD, CMD-SHELL, NONE, or empty for the image's) and durations.
func healthOptions(h *container.HealthConfig, o *engine.MonitorOptions, refuse func(bool, string, string)) {
	if h == nil {
		return
	}
	switch {
	case len(h.Test) == 0:
	case h.Test[0] == "NONE":
		o.NoHealthcheck = true
	case h.Test[0] == "CMD-SHELL" && len(h.Test) == 2:
		o.HealthCmd = h.Test[1]
	case h.Test[0] == "CMD" && len(h.Test) > 1:
		o.HealthTest = h.Test
	default:
		refuse(true, "Config.Healthcheck.Test", fmt.Sprintf("invalid test %q: want [\"CMD\", ...], [\"CMD-SHELL\", command] or [\"NONE\"]", h.Test))
	}
	if !o.NoHealthcheck {
		o.HealthInterval, o.HealthTimeout, o.HealthStartPeriod, o.HealthRetries = h.Interval, h.Timeout, h.StartPeriod, h.Retries
	}
	if !o.NoHealthcheck {
		o.HealthStartInterval = h.StartInterval
	}
}

// resourceOptions puts HostConfig's Resources beyond the plain numbers into the
// options, the engine's judgement theirs.
func resourceOptions(r *container.Resources, o *engine.CreateOptions, refuse func(bool, string, string)) {
	if r.PidsLimit != nil {
		// docker: 0 and -1 are unlimited; hull: 0 is the default, < 0 none.
		if o.PidsLimit = *r.PidsLimit; o.PidsLimit <= 0 {
			o.PidsLimit = -1
		}
	}
	for _, u := range r.Ulimits {
		if u != nil {
			o.Ulimits = append(o.Ulimits, fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
		}
	}
	for _, d := range r.Devices {
		spec := d.PathOnHost
		if d.PathInContainer != "" {
			spec += ":" + d.PathInContainer
		}
		if d.CgroupPermissions != "" {
			spec += ":" + d.CgroupPermissions
		}
		o.Devices = append(o.Devices, spec)
	}
	o.CgroupParent, o.OomKillDisable = r.CgroupParent, r.OomKillDisable != nil && *r.OomKillDisable
	if r.MemorySwappiness != nil && *r.MemorySwappiness != -1 {
		o.MemorySwappiness = r.MemorySwappiness
	}
	o.CgroupLimits = cgroupLimits(r)
	for _, d := range r.BlkioWeightDevice {
		if d != nil {
			o.BlkioWeightDevice = append(o.BlkioWeightDevice, engine.WeightDevice{Path: d.Path, Weight: d.Weight})
		}
	}
	for _, l := range []struct {
		from []*blkiodev.ThrottleDevice
		to   *[]engine.ThrottleDevice
	}{
		{r.BlkioDeviceReadBps, &o.BlkioDeviceReadBps}, {r.BlkioDeviceWriteBps, &o.BlkioDeviceWriteBps},
		{r.BlkioDeviceReadIOps, &o.BlkioDeviceReadIOps}, {r.BlkioDeviceWriteIOps, &o.BlkioDeviceWriteIOps},
	} {
		for _, d := range l.from {
			if d != nil {
				*l.to = append(*l.to, engine.ThrottleDevice{Path: d.Path, Rate: d.Rate})
			}
		}
	}
	o.DeviceCgroupRules = r.DeviceCgroupRules
	if len(r.DeviceRequests) > 0 {
		o.GPUs = "all" // the engine refuses any: hull has no device drivers
	}
	o.CPUCount, o.CPUPercent, o.IOMaximumBandwidth, o.IOMaximumIOps = r.CPUCount, r.CPUPercent, r.IOMaximumBandwidth, r.IOMaximumIOps
}

// cgroupLimits are the limits of Resources that update changes too.
func cgroupLimits(r *container.Resources) engine.CgroupLimits {
	return engine.CgroupLimits{
		CPUPeriod: r.CPUPeriod, CPUQuota: r.CPUQuota, CPURealtimePeriod: r.CPURealtimePeriod,
		CPURealtimeRuntime: r.CPURealtimeRuntime, CpusetMems: r.CpusetMems, MemoryReservation: r.MemoryReservation,
		BlkioWeight: r.BlkioWeight,
	}
}

// publishSpecs writes PortBindings as -p specs: [ip:][hostPort:]port/proto.
func publishSpecs(hc *container.HostConfig) []string {
	var out []string
	var ports []string
	byName := map[string][]string{}
	for p, bs := range hc.PortBindings {
		name := p.Port() + "/" + string(p.Proto())
		ports = append(ports, name)
		for _, b := range bs {
			spec := name
			switch {
			case b.HostIP.IsValid():
				spec = b.HostIP.String() + ":" + b.HostPort + ":" + name
			case b.HostPort != "":
				spec = b.HostPort + ":" + name
			}
			byName[name] = append(byName[name], spec)
		}
	}
	sort.Strings(ports)
	for _, p := range ports {
		out = append(out, byName[p]...)
	}
	return out
}

// mountSpec writes one of HostConfig.Mounts as a --mount spec (CSV, so that a
// path with a comma survives).
func mountSpec(m mount.Mount) (string, error) {
	switch m.Type {
	case mount.TypeBind, mount.TypeVolume, mount.TypeTmpfs:
	default:
		return "", fmt.Errorf("mount type %q is not supported (bind, volume or tmpfs)", m.Type)
	}
	f := []string{"type=" + string(m.Type), "target=" + m.Target}
	if m.Source != "" {
		f = append(f, "source="+m.Source)
	}
	if m.ReadOnly {
		f = append(f, "readonly")
	}
	if b := m.BindOptions; b != nil {
		switch {
		case b.ReadOnlyNonRecursive:
			return "", fmt.Errorf("mount %s: ReadOnlyNonRecursive is not supported: a read-only bind is read-only all the way down", m.Target)
		case b.ReadOnlyForceRecursive && !m.ReadOnly:
			return "", fmt.Errorf("mount %s: option 'ReadOnlyForceRecursive' requires 'ReadOnly' to be true", m.Target)
		case b.ReadOnlyForceRecursive:
			f = append(f, "bind-recursive=readonly")
		case b.NonRecursive:
			f = append(f, "bind-recursive=disabled")
		}
		// compose sets it for a bind's create_host_path (true unless said)
		if b.CreateMountpoint {
			f = append(f, "bind-create-src")
		}
		if b.Propagation != "" {
			f = append(f, "bind-propagation="+string(b.Propagation))
		}
	}
	if v := m.VolumeOptions; v != nil {
		if v.NoCopy {
			f = append(f, "volume-nocopy")
		}
		for _, k := range sortedKeys(v.Labels) {
			f = append(f, "volume-label="+k+"="+v.Labels[k])
		}
		if v.Subpath != "" {
			return "", fmt.Errorf("mount %s: volume subpath is not supported", m.Target)
		}
		if d := v.DriverConfig; d != nil {
			if len(d.Options) > 0 {
				return "", fmt.Errorf("mount %s: volume driver options are not supported", m.Target)
			}
			if d.Name != "" {
				f = append(f, "volume-driver="+d.Name)
			}
		}
	}
	if t := m.TmpfsOptions; t != nil {
		if t.SizeBytes != 0 {
			f = append(f, "tmpfs-size="+strconv.FormatInt(t.SizeBytes, 10))
		}
		if t.Mode != 0 {
			f = append(f, "tmpfs-mode="+strconv.FormatUint(uint64(tmpfsMode(t.Mode)), 8))
		}
		if len(t.Options) > 0 {
			return "", fmt.Errorf("mount %s: tmpfs options are not supported", m.Target)
		}
	}
	if m.ImageOptions != nil || m.ClusterOptions != nil {
		return "", fmt.Errorf("mount %s: options of another type", m.Target)
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(f)
	cw.Flush()
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// tmpfsSpec writes a tmpfs mount with TmpfsOptions.Options (docker's
// [["noexec"], ["uid", "1000"]]) in --tmpfs's grammar, DEST:OPTS.
func tmpfsSpec(m mount.Mount) (string, error) {
	t := m.TmpfsOptions
	var opts []string
	if t.SizeBytes != 0 {
		opts = append(opts, "size="+strconv.FormatInt(t.SizeBytes, 10))
	}
	if t.Mode != 0 {
		opts = append(opts, "mode="+strconv.FormatUint(uint64(tmpfsMode(t.Mode)), 8))
	}
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	for _, o := range t.Options {
		switch {
		case len(o) == 1 && o[0] != "" && !strings.ContainsAny(o[0], ",:="):
			opts = append(opts, o[0])
		case len(o) == 2 && o[0] != "" && !strings.ContainsAny(o[0]+o[1], ",:="):
			opts = append(opts, o[0]+"="+o[1])
		default:
			return "", fmt.Errorf("mount %s: bad tmpfs option %q", m.Target, o)
		}
	}
	return m.Target + ":" + strings.Join(opts, ","), nil
}

// tmpfsMode is a tmpfs mount's mode as the kernel takes it. docker's daemon
// writes the number it gets (the CLI and compose send 0o1777 as is); a Go
// client may set os.ModeSticky and the other flags instead.
func tmpfsMode(m os.FileMode) uint32 {
	mode := uint32(m & 0o7777)
	for _, b := range []struct {
		flag os.FileMode
		bit  uint32
	}{{os.ModeSticky, 0o1000}, {os.ModeSetgid, 0o2000}, {os.ModeSetuid, 0o4000}} {
		if m&b.flag != 0 {
			mode |= b.bit
		}
	}
	return mode
}

func keyValues(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// createFields are docker's JSON paths of the engine's create options
// (OptionError.Field), for the 400 of a refused option.
var createFields = map[string]string{
	"Name": "name", "Image": "Config.Image", "Cmd": "Config.Cmd", "Entrypoint": "Config.Entrypoint",
	"Env": "Config.Env", "WorkingDir": "Config.WorkingDir", "User": "Config.User", "Hostname": "Config.Hostname",
	"Labels": "Config.Labels", "Tty": "Config.Tty", "Interactive": "Config.OpenStdin",
	"StopSignal": "Config.StopSignal", "StopTimeout": "Config.StopTimeout",
	"HealthCmd": "Config.Healthcheck.Test", "HealthTest": "Config.Healthcheck.Test",
	"HealthInterval": "Config.Healthcheck.Interval", "HealthTimeout": "Config.Healthcheck.Timeout",
	"HealthStartPeriod": "Config.Healthcheck.StartPeriod", "HealthRetries": "Config.Healthcheck.Retries",
	"NoHealthcheck": "Config.Healthcheck.Test",
	"ReadOnly":      "HostConfig.ReadonlyRootfs", "Privileged": "HostConfig.Privileged",
	"CapAdd": "HostConfig.CapAdd", "CapDrop": "HostConfig.CapDrop", "GroupAdd": "HostConfig.GroupAdd",
	"SecurityOpt": "HostConfig.SecurityOpt", "Ulimits": "HostConfig.Ulimits",
	"Memory": "HostConfig.Memory", "NanoCPUs": "HostConfig.NanoCpus", "PidsLimit": "HostConfig.PidsLimit",
	"MemorySwap": "HostConfig.MemorySwap", "CPUShares": "HostConfig.CpuShares", "CpusetCpus": "HostConfig.CpusetCpus",
	"Devices": "HostConfig.Devices", "Network": "HostConfig.NetworkMode", "Runtime": "HostConfig.Runtime",
	"LogOpts": "HostConfig.LogConfig.Config", "AutoRemove": "HostConfig.AutoRemove", "Init": "HostConfig.Init",
	"Restart": "HostConfig.RestartPolicy", "Publish": "HostConfig.PortBindings", "PublishAll": "HostConfig.PublishAllPorts",
	"ExtraHosts": "HostConfig.ExtraHosts", "DNS": "HostConfig.Dns", "DNSSearch": "HostConfig.DnsSearch",
	"DNSOptions": "HostConfig.DnsOptions", "Volumes": "HostConfig.Binds", "Mounts": "HostConfig.Mounts",
	"Tmpfs": "HostConfig.Tmpfs", "VolumesFrom": "HostConfig.VolumesFrom", "Pid": "HostConfig.PidMode",
	"IPC": "HostConfig.IpcMode", "UTS": "HostConfig.UTSMode", "Cgroupns": "HostConfig.CgroupnsMode",
	"Userns": "HostConfig.UsernsMode", "Umask": "HostConfig.Umask",
	"Domainname": "Config.Domainname", "AttachStdin": "Config.AttachStdin", "AttachStdout": "Config.AttachStdout",
	"AttachStderr": "Config.AttachStderr", "ExposedPorts": "Config.ExposedPorts", "Platform": "platform",
	"HealthStartInterval": "Config.Healthcheck.StartInterval",
	"Annotations":         "HostConfig.Annotations", "LogDriver": "HostConfig.LogConfig.Type", "Links": "HostConfig.Links",
	"Isolation": "HostConfig.Isolation", "VolumeDriver": "HostConfig.VolumeDriver", "StorageOpt": "HostConfig.StorageOpt",
	"GPUs": "HostConfig.DeviceRequests", "CPUCount": "HostConfig.CpuCount", "CPUPercent": "HostConfig.CpuPercent",
	"IOMaximumBandwidth": "HostConfig.IOMaximumBandwidth", "IOMaximumIOps": "HostConfig.IOMaximumIOps",
	"CgroupParent": "HostConfig.CgroupParent", "MemorySwappiness": "HostConfig.MemorySwappiness",
	"OomKillDisable": "HostConfig.OomKillDisable", "OomScoreAdj": "HostConfig.OomScoreAdj", "ShmSize": "HostConfig.ShmSize",
	"KernelMemory": "HostConfig.KernelMemory", "BlkioWeightDevice": "HostConfig.BlkioWeightDevice",
	"BlkioDeviceReadBps": "HostConfig.BlkioDeviceReadBps", "BlkioDeviceWriteBps": "HostConfig.BlkioDeviceWriteBps",
	"BlkioDeviceReadIOps": "HostConfig.BlkioDeviceReadIOps", "BlkioDeviceWriteIOps": "HostConfig.BlkioDeviceWriteIOps",
	"DeviceCgroupRules": "HostConfig.DeviceCgroupRules", "Sysctls": "HostConfig.Sysctls",
	"CPUPeriod": "HostConfig.CpuPeriod", "CPUQuota": "HostConfig.CpuQuota", "CPURealtimePeriod": "HostConfig.CpuRealtimePeriod",
	"CPURealtimeRuntime": "HostConfig.CpuRealtimeRuntime", "CpusetMems": "HostConfig.CpusetMems",
	"MemoryReservation": "HostConfig.MemoryReservation", "BlkioWeight": "HostConfig.BlkioWeight",
	"IP6":            "NetworkingConfig.EndpointsConfig.IPAMConfig.IPv6Address",
	"LinkLocalIPs":   "NetworkingConfig.EndpointsConfig.IPAMConfig.LinkLocalIPs",
	"NetworkAliases": "NetworkingConfig.EndpointsConfig.Aliases",
	"IP":             "NetworkingConfig.EndpointsConfig.IPAMConfig.IPv4Address",
	"MacAddress":     "NetworkingConfig.EndpointsConfig.MacAddress",
}

// createError is Validate's or Create's error as docker answers it: refused
// options a 400 naming each field by its JSON path; anything else as it maps.
func createError(err error) error {
	oes := engine.OptionErrors(err)
	if len(oes) == 0 {
		return err
	}
	var msgs []string
	for _, oe := range oes {
		field := createFields[oe.Field]
		if field == "" {
			field = oe.Field
		}
		msgs = append(msgs, field+": "+oe.Err.Error())
	}
	msgs = slices.Compact(msgs)
	return badRequestf("%s", strings.Join(msgs, "; "))
}
