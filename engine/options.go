package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/network"
	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/runtime"
	"github.com/hullproject/hull/volume"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The options of create, update and exec, and the one place they are judged.
//
// Every option a front door can give (hull's flags, the Docker API's JSON) is judged
// here, before any work: Validate returns every refusal at once (errors.Join), each
// an *OptionError that names the field it came from. Create, Update and Exec call it
// themselves; a front door calls it first when it has work of its own to do before
// (run's pull). The grammars are their owners' (network.ParsePublish,
// volume.ParseVolume, logs.ParseOptions, ParseRestartPolicy, ParseDevice ...).
//
// What needs more than the options Create's plan judges (create.go), still before
// anything is written: the image's config (its command, health check, exposed
// ports), the containers, pods and networks the options name, and the host files
// they name (a seccomp profile, hull-init). After that a create fails only for the
// host (disk, mounts, the kernel), and for the one judgement that needs the image's
// files: the user and groups, looked up in its /etc/passwd and /etc/group once its
// rootfs is mounted.

// OptionError is the refusal of one option. Field is the option's name in
// CreateOptions, UpdateOptions or ExecOptions (a promoted field by its own name:
// Memory, Publish, HealthInterval ...), from which each front door names it in its
// own words (the Docker API's HostConfig.Memory). The text is hull's own, as
// before: it names the CLI's flag where that helps (invalid --dns "x").
type OptionError struct {
	Field string
	Err   error
}

func (e *OptionError) Error() string { return e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

// OptionErrors lists the refusals of options in err, in order: each of a join
// (Validate's and Create's errors), or the one err wraps; none if it holds none.
func OptionErrors(err error) []*OptionError {
	var out []*OptionError
	var walk func(error)
	walk = func(err error) {
		var oe *OptionError
		switch x := err.(type) {
		case nil:
		case *OptionError:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, err := range x.Unwrap() {
				walk(err)
			}
		default:
			if errors.As(err, &oe) {
				out = append(out, oe)
			}
		}
	}
	walk(err)
	return out
}

// refusals collects the refusals of one judgement.
type refusals []error

// add records err, unless nil, as a refusal of field.
func (r *refusals) add(field string, err error) {
	if err != nil {
		*r = append(*r, &OptionError{Field: field, Err: err})
	}
}

// err is every refusal, or nil.
func (r refusals) err() error { return joinErrors(r) }

// joinErrors is errors.Join, but one error is itself.
func joinErrors(errs []error) error {
	errs = slices.DeleteFunc(slices.Clone(errs), func(err error) bool { return err == nil })
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// CreateOptions are the options of `hull create` and `hull run`.
type CreateOptions struct {
	Name        string
	Image       string
	Cmd         []string
	Entrypoint  *[]string // nil: the image's; [""]: none
	Env         []string
	WorkingDir  string
	User        string
	Hostname    string
	Labels      map[string]string
	Tty         bool
	ConsoleSize *specs.Box // the terminal's initial size (rows=Height, columns=Width)
	Interactive bool
	ReadOnly    bool
	Privileged  bool
	CapAdd      []string
	GroupAdd    []string // supplementary groups of every process, by name or number
	Umask       string   // --umask: the container process's umask, octal ("0022"); "" the runtime's
	CapDrop     []string
	SecurityOpt []string
	Ulimits     []string
	Memory      int64
	NanoCPUs    int64
	PidsLimit   int64    // 0: DefaultPidsLimit; < 0: none
	MemorySwap  int64    // memory plus swap; -1: unlimited (engine/resources.go)
	CPUShares   int64    // relative CPU weight
	CpusetCpus  string   // CPUs to run on (0-3,5)
	Devices     []string // HOST[:CONTAINER][:rwm]
	Network     string
	Runtime     string
	LogOpts     []string
	AutoRemove  bool
	StopSignal  string
	StopTimeout *int
	Init        bool // hull-init as PID 1 (engine/spec.go)
	// StartNext says the caller starts the container right after Create (run):
	// its rootfs stays mounted for the start, which unmounts it if the start
	// fails, where Create would unmount it and the start mount it again (an
	// overlay's unmount syncs its upper filesystem). A caller that does not get
	// to the start calls UnmountIdle.
	StartNext bool

	// Annotations are the OCI annotations of the container's bundle, its
	// config.json (--annotation KEY=VALUE; HostConfig.Annotations).
	Annotations map[string]string
	// Domainname is the container's NIS domain name (--domainname;
	// Config.Domainname), set in its own uts namespace; /etc/hosts names it
	// hostname.domainname first.
	Domainname string
	// LogDriver is where the container's output goes (--log-driver;
	// HostConfig.LogConfig.Type): json-file (the default); local, the same file
	// with docker's local driver's defaults (max-size=20m, max-file=5); or none,
	// nothing kept (logs refuses, as docker's). Others (journald, syslog ...) are
	// refused. LogOpts are its options (HostConfig.LogConfig.Config, as
	// KEY=VALUE), which none ignores as docker's does.
	LogDriver string
	// AttachStdin, AttachStdout and AttachStderr are the streams run attaches to
	// (-a; Config.AttachStdin, AttachStdout, AttachStderr), as the record shows
	// them; the engine itself attaches nothing.
	AttachStdin, AttachStdout, AttachStderr bool
	// Platform is the platform the image must be for, os/arch[/variant]
	// (--platform; the create call's platform parameter): linux only, and the
	// image's own.
	Platform string

	// Options docker has for other hosts or drivers, refused by name (or, where
	// docker drops them with a warning on Linux, dropped so):
	Isolation    string            // --isolation; HostConfig.Isolation: "" or default only, as docker on Linux
	VolumeDriver string            // --volume-driver; HostConfig.VolumeDriver: "" or local only
	StorageOpt   map[string]string // --storage-opt; HostConfig.StorageOpt: refused, overlay snapshots take none
	// GPUs is --gpus; the Docker API sends HostConfig.DeviceRequests instead:
	// map a non-empty list to any value here. Refused: hull has no GPU support.
	GPUs string
	// CPUCount and CPUPercent (--cpu-count, --cpu-percent; HostConfig.CpuCount,
	// CpuPercent) are Windows' only: dropped with a warning, as docker drops them
	// on Linux. IOMaximumBandwidth and IOMaximumIOps (--io-maxbandwidth,
	// --io-maxiops; HostConfig.IOMaximumBandwidth, IOMaximumIOps) are refused, as
	// docker refuses them on Linux.
	CPUCount, CPUPercent              int64
	IOMaximumBandwidth, IOMaximumIOps uint64

	// Network is none, host, container:NAME, or a network: bridge (the default
	// network) or a user network's name; NetOptions are the rest (engine/network.go).
	NetOptions
	VolumeOptions    // engine/volumes.go
	NamespaceOptions // engine/namespaces.go
	MonitorOptions   // engine/restart.go, engine/health.go
	ResourceOptions  // engine/resourceopts.go, engine/resources.go
}

// createSettings are create's options as Create uses them, parsed once by their
// judgement.
type createSettings struct {
	logs    logs.Options
	devices []DeviceMapping
	restart RestartPolicy
	ports   []network.PortMapping // -p
	ip      netip.Addr            // --ip
	mac     net.HardwareAddr      // --mac-address
	mounts  []volume.Mount        // -v, --mount and --tmpfs, in that order
	note    string                // for Warn: the first of -v's notes
	rlimits []specs.POSIXRlimit
	// noNewPrivileges, seccomp, apparmor and systemPathsUnconfined are
	// --security-opt's; seccomp is "default", "unconfined" or a profile's file;
	// apparmor a loaded profile's name or "unconfined".
	noNewPrivileges       bool
	seccomp               string
	apparmor              string
	systemPathsUnconfined bool    // systempaths=unconfined: no masked or read-only /proc and /sys paths
	umask                 *uint32 // --umask
	resourceSettings
	exposed  []string // --expose and -p's ports, "80/tcp"
	links    []Link   // --link
	platform platform // --platform
}

// Validate judges the options by themselves, and against this host where they
// name a part of it (a device, CPUs, a runtime): every refusal at once. Create
// calls it, then judges the rest against the image and the engine's containers,
// pods and networks.
func (o *CreateOptions) Validate() error {
	_, err := o.parse()
	return err
}

// parse is Validate, with the options parsed.
func (o *CreateOptions) parse() (*createSettings, error) {
	s := &createSettings{}
	var r refusals
	if o.Name != "" {
		r.add("Name", CheckName(o.Name))
	}
	if o.Network == "container:" || o.Network == "default" {
		r.add("Network", fmt.Errorf("network %q: want none, host, container:NAME or a network", o.Network))
	}
	if o.StopSignal != "" {
		_, err := runtime.ParseSignal(o.StopSignal)
		r.add("StopSignal", err)
	}
	o.parseLogs(s, &r)
	_, err := ociruntime.New(o.Runtime, "")
	r.add("Runtime", err)
	limits := o.resources()
	limits.validate(&r)
	r.add("MemorySwap", limits.checkSwap(o.Memory))
	r.add("MemoryReservation", limits.checkReservation(o.MemoryReservation, o.Memory))
	o.parseResources(s, &r)
	for _, d := range o.Devices {
		m, err := ParseDevice(d)
		if err != nil {
			r.add("Devices", err)
			continue
		}
		s.devices = append(s.devices, m)
	}
	o.parseNetwork(s, &r)
	o.parseMonitor(s, &r)
	o.parseNamespaces(&r)
	o.parseMounts(s, &r)
	o.parseSecurity(s, &r)
	o.parseOthers(s, &r)
	return s, r.err()
}

// parseLogs judges --log-driver and --log-opt (package logs has the options'
// grammar).
func (o *CreateOptions) parseLogs(s *createSettings, r *refusals) {
	var err error
	switch o.LogDriver {
	case "", LogJSONFile:
		s.logs, err = logs.ParseOptions(o.LogOpts)
	case LogLocal:
		// docker's local driver keeps 5 files of 20 MiB unless told otherwise
		s.logs, err = logs.ParseOptions(append([]string{"max-size=20m", "max-file=5"}, o.LogOpts...))
	case LogNone:
		// no options, as docker's none driver ignores them
	default:
		r.add("LogDriver", fmt.Errorf("log driver %q is not supported: hull keeps logs with json-file, local or none", o.LogDriver))
		return
	}
	r.add("LogOpts", err)
}

// parseOthers judges the options of docker's other doors: annotations, the
// domain name, --platform, and those hull refuses or drops by name.
func (o *CreateOptions) parseOthers(s *createSettings, r *refusals) {
	for k := range o.Annotations {
		if k == "" {
			r.add("Annotations", errors.New("invalid --annotation: the key is empty"))
		}
	}
	for k := range o.Labels {
		if strings.TrimSpace(k) == "" {
			r.add("Labels", errors.New("invalid --label: the name is empty"))
		}
	}
	switch {
	case o.Domainname == "":
	case len(o.Domainname) > 255 || strings.ContainsAny(o.Domainname, "\x00\n/ "):
		r.add("Domainname", fmt.Errorf("invalid --domainname %q", o.Domainname))
	case o.UTS == "host" || strings.HasPrefix(o.UTS, "container:"):
		r.add("Domainname", fmt.Errorf("conflicting options: --domainname and --uts %s", o.UTS))
	}
	if o.Platform != "" {
		var err error
		s.platform, err = parsePlatform(o.Platform)
		r.add("Platform", err)
	}
	if o.Isolation != "" && o.Isolation != "default" {
		r.add("Isolation", fmt.Errorf("invalid --isolation %q: on Linux only default is supported", o.Isolation))
	}
	if o.VolumeDriver != "" && o.VolumeDriver != "local" {
		r.add("VolumeDriver", fmt.Errorf("volume driver %q is not supported: hull has the local driver only", o.VolumeDriver))
	}
	if len(o.StorageOpt) > 0 {
		r.add("StorageOpt", errors.New("--storage-opt is not supported: hull's overlay snapshots take no per-container storage options"))
	}
	if o.GPUs != "" {
		r.add("GPUs", errors.New("--gpus is not supported: hull has no GPU device support"))
	}
	if o.IOMaximumBandwidth != 0 || o.IOMaximumIOps != 0 {
		field := "IOMaximumBandwidth"
		if o.IOMaximumBandwidth == 0 {
			field = "IOMaximumIOps"
		}
		r.add(field, errors.New("invalid QoS settings: linux does not support --io-maxbandwidth or --io-maxiops"))
	}
}

// parseNetwork judges the network options (engine/network.go).
func (o *CreateOptions) parseNetwork(s *createSettings, r *refusals) {
	mode := o.Network
	if mode == "" {
		mode = "none"
	}
	kind := networkKind(mode)
	for _, d := range o.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			r.add("DNS", fmt.Errorf("invalid --dns %q: %w", d, err))
		}
	}
	if len(o.ExtraHosts) > 0 {
		_, err := network.Hosts(network.HostsOptions{ExtraHosts: o.ExtraHosts, HostGateway: netip.IPv4Unspecified()})
		r.add("ExtraHosts", err)
	}
	for _, e := range o.ExposedPorts {
		keys, err := network.ParseExpose(e)
		r.add("ExposedPorts", err)
		s.exposed = append(s.exposed, keys...)
	}
	for _, l := range o.Links {
		link, err := ParseLink(l)
		r.add("Links", err)
		if err == nil {
			s.links = append(s.links, link)
		}
	}
	if len(o.Links) > 0 && (kind == "host" || kind == "container") {
		r.add("Links", fmt.Errorf("conflicting options: --network %s cannot be used with --link", mode))
	}
	if o.IP6 != "" {
		r.add("IP6", fmt.Errorf("invalid --ip6 %q: hull's networks are IPv4 only", o.IP6))
	}
	if len(o.LinkLocalIPs) > 0 {
		r.add("LinkLocalIPs", errors.New("--link-local-ip is not supported: hull's networks have no link-local addresses"))
	}
	if kind != "network" && (len(o.Publish) > 0 || o.PublishAll || len(o.NetworkAliases) > 0 || o.IP != "" || o.MacAddress != "") {
		r.add("Network", fmt.Errorf("--network %s: ports, aliases, --ip and --mac-address need a network", mode))
	}
	if kind == "container" && (o.Hostname != "" || o.Domainname != "" || len(o.ExtraHosts) > 0 || len(o.DNS) > 0 || len(o.DNSSearch) > 0) {
		r.add("Network", fmt.Errorf("--network %s: the other container's hostname, hosts and DNS are used", mode))
	}
	if o.IP != "" {
		if a, err := netip.ParseAddr(o.IP); err != nil || !a.Is4() {
			r.add("IP", fmt.Errorf("invalid --ip %q: want an IPv4 address", o.IP))
		} else {
			s.ip = a
		}
	}
	if o.MacAddress != "" {
		if hw, err := net.ParseMAC(o.MacAddress); err != nil || len(hw) != 6 || hw[0]&1 != 0 {
			r.add("MacAddress", fmt.Errorf("invalid --mac-address %q: want a unicast ethernet address", o.MacAddress))
		} else {
			s.mac = hw
		}
	}
	for _, p := range o.Publish {
		ps, err := network.ParsePublish(p)
		r.add("Publish", err)
		s.ports = append(s.ports, ps...)
	}
}

// parseMonitor judges the restart policy and the health check's options
// (engine/restart.go, engine/health.go).
func (o *CreateOptions) parseMonitor(s *createSettings, r *refusals) {
	p, err := ParseRestartPolicy(o.Restart)
	r.add("Restart", err)
	if err == nil && p.Name != RestartNo && o.AutoRemove {
		r.add("Restart", errors.New("conflicting options: --restart and --rm"))
	}
	s.restart = p
	for _, d := range []struct {
		field, flag string
		d           time.Duration
	}{
		{"HealthInterval", "interval", o.HealthInterval},
		{"HealthTimeout", "timeout", o.HealthTimeout},
		{"HealthStartPeriod", "start-period", o.HealthStartPeriod},
		{"HealthStartInterval", "start-interval", o.HealthStartInterval},
	} {
		if d.d < 0 || (d.d > 0 && d.d < time.Millisecond) {
			r.add(d.field, fmt.Errorf("--health-%s must be at least 1ms", d.flag))
		}
	}
	if o.HealthRetries < 0 {
		r.add("HealthRetries", errors.New("--health-retries cannot be negative"))
	}
	if len(o.HealthTest) > 0 && (o.HealthTest[0] != "CMD" || len(o.HealthTest) < 2) {
		r.add("HealthTest", fmt.Errorf("invalid health check %q: want CMD and a command", o.HealthTest))
	}
	if o.NoHealthcheck && (o.HealthCmd != "" || len(o.HealthTest) > 0 || o.HealthInterval != 0 || o.HealthTimeout != 0 || o.HealthStartPeriod != 0 || o.HealthStartInterval != 0 || o.HealthRetries != 0) {
		r.add("NoHealthcheck", errors.New("conflicting options: --no-healthcheck and --health-*"))
	}
}

// parseNamespaces judges the namespace modes (engine/namespaces.go); the
// containers and the pod they name are the plan's to find.
func (o *CreateOptions) parseNamespaces(r *refusals) {
	switch o.Userns {
	case "", "host":
	default:
		r.add("Userns", errors.New("user namespaces in hull run are not supported yet"))
	}
	mode := func(field, flag, mode string, allowed ...string) {
		if mode != "" && !strings.HasPrefix(mode, "container:") && !slices.Contains(allowed, mode) {
			r.add(field, fmt.Errorf("--%s %q: want %s or container:NAME", flag, mode, strings.Join(allowed, ", ")))
		}
	}
	mode("Pid", "pid", o.Pid, "host", "private")
	mode("IPC", "ipc", o.IPC, "host", "private", "shareable")
	mode("UTS", "uts", o.UTS, "host", "private")
	switch o.Cgroupns {
	case "", "private", "host":
	default:
		r.add("Cgroupns", fmt.Errorf("--cgroupns %q: want host or private", o.Cgroupns))
	}
	switch {
	case o.Hostname == "":
	case o.UTS == "host":
		r.add("Hostname", errors.New("conflicting options: --hostname and --uts host"))
	case strings.HasPrefix(o.UTS, "container:"):
		r.add("Hostname", errors.New("conflicting options: --hostname and --uts container"))
	}
}

// parseMounts judges -v, --mount, --tmpfs and --volumes-from's modes
// (engine/volumes.go); the containers --volumes-from names are the plan's to find.
func (o *CreateOptions) parseMounts(s *createSettings, r *refusals) {
	var fields []string // of each of s.mounts
	for _, v := range o.Volumes {
		m, note, err := volume.ParseVolume(v)
		if err != nil {
			r.add("Volumes", err)
			continue
		}
		if s.note == "" {
			s.note = note
		}
		s.mounts, fields = append(s.mounts, m), append(fields, "Volumes")
	}
	for _, v := range o.Mounts {
		m, err := volume.ParseMount(v)
		if err != nil {
			r.add("Mounts", err)
			continue
		}
		s.mounts, fields = append(s.mounts, m), append(fields, "Mounts")
	}
	for _, v := range o.Tmpfs {
		m, err := volume.ParseTmpfs(v)
		if err != nil {
			r.add("Tmpfs", err)
			continue
		}
		s.mounts, fields = append(s.mounts, m), append(fields, "Tmpfs")
	}
	// The refusal names the option of the first mount that repeats a destination.
	for i := range s.mounts {
		if err := volume.CheckDestinations(s.mounts[:i+1]); err != nil {
			r.add(fields[i], err)
			break
		}
	}
	for _, from := range o.VolumesFrom {
		switch _, mode, _ := strings.Cut(from, ":"); mode {
		case "", "ro", "rw":
		default:
			r.add("VolumesFrom", fmt.Errorf("--volumes-from %s: mode must be ro or rw", from))
		}
	}
}

// parseSecurity judges the capabilities, ulimits and security options
// (engine/spec.go).
func (o *CreateOptions) parseSecurity(s *createSettings, r *refusals) {
	// --privileged gets every capability, whatever these say.
	if !o.Privileged && len(o.CapAdd)+len(o.CapDrop) > 0 {
		all, _ := runtime.Capabilities()
		for _, c := range o.CapAdd {
			_, err := capName(c, all)
			r.add("CapAdd", err)
		}
		for _, c := range o.CapDrop {
			_, err := capName(c, all)
			r.add("CapDrop", err)
		}
	}
	for _, u := range o.Ulimits {
		rl, err := parseUlimit(u)
		if err != nil {
			r.add("Ulimits", err)
			continue
		}
		s.rlimits = append(s.rlimits, rl)
	}
	if o.Umask != "" {
		if m, err := strconv.ParseUint(o.Umask, 8, 32); err != nil || m > 0o777 {
			r.add("Umask", fmt.Errorf("--umask %q: want an octal mode of at most 0777", o.Umask))
		} else {
			u := uint32(m)
			s.umask = &u
		}
	}
	s.seccomp = "default"
	for _, opt := range o.SecurityOpt {
		// docker's daemon still takes KEY:VALUE where there is no "=", as
		// compose files often write no-new-privileges:true.
		k, v, ok := strings.Cut(opt, "=")
		if !ok {
			k, v, _ = strings.Cut(opt, ":")
		}
		nnp, err := strconv.ParseBool(v)
		switch {
		case k == "no-new-privileges" && (v == "" || err == nil):
			s.noNewPrivileges = v == "" || nnp
		case k == "seccomp" && v != "":
			s.seccomp = v
		case k == "apparmor" && v != "":
			s.apparmor = v
		case k == "systempaths" && v == "unconfined":
			s.systemPathsUnconfined = true
		default:
			r.add("SecurityOpt", fmt.Errorf("unsupported --security-opt %q", opt))
		}
	}
}

// Validate judges update's options by themselves: every refusal at once. What
// depends on the container (the memory limit in force, --rm) Update judges.
func (o *UpdateOptions) Validate() error {
	_, err := o.parse()
	return err
}

// parse is Validate, with the restart policy parsed.
func (o *UpdateOptions) parse() (RestartPolicy, error) {
	var r refusals
	o.Resources.validate(&r)
	var p RestartPolicy
	if o.Restart != "" {
		var err error
		p, err = ParseRestartPolicy(o.Restart)
		r.add("Restart", err)
	}
	return p, r.err()
}

// Validate judges exec's options by themselves.
func (o *ExecOptions) Validate() error {
	var r refusals
	if len(o.Args) == 0 {
		r.add("Args", errors.New("exec needs a command"))
	}
	if _, err := ParseDetachKeys(o.DetachKeys); err != nil {
		r.add("DetachKeys", err)
	}
	return r.err()
}
