package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/logs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// `hull run` and `hull create`, and the flags they share.

func runCommand(g *globals) *cobra.Command {
	var detach bool
	var attach attachOpts
	var explain string
	f := &createFlags{}
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "create and start a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine125(g, explained(&explain, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			if !detach {
				// Refused before anything is made.
				if _, err := parseDetachKeys(attach.detachKeys); err != nil {
					return &exitError{125, err}
				}
			}
			if detach && len(f.attach) > 0 {
				return badUsage(errors.New("conflicting options: cannot specify both --attach and --detach"))
			}
			f.detached = detach
			f.startNext = true
			// The monitor's program starts while the container is made (nil if
			// it cannot be spawned now: the start then spawns its own).
			m, _ := e.SpawnMonitor(!detach)
			ctr, err := f.create(e, cmd, args)
			if err != nil {
				m.Abort()
				return &exitError{125, err}
			}
			if detach {
				if _, err := e.StartWith(ctr.ID, nil, m); err != nil {
					return startErr(err)
				}
				fmt.Println(ctr.ID)
				return nil
			}
			err = startAttached(e, ctr, streams{ctr.Config.AttachStdin, ctr.Config.AttachStdout, ctr.Config.AttachStderr}, &attach, m) // attach.go
			if err != nil {
				// The rootfs stayed mounted for the start (StartNext), which
				// may not have come (StartWith unmounts it when it fails).
				e.UnmountIdle(ctr.ID)
			}
			return err
		})),
	}
	f.add(c)
	addExplainFlag(c.Flags(), &explain)
	attach.add(c.Flags())
	c.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background and print the container's ID")
	return c
}

func createCommand(g *globals) *cobra.Command {
	f := &createFlags{}
	var explain string
	c := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "create a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine125(g, explained(&explain, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			ctr, err := f.create(e, cmd, args)
			if err != nil {
				return &exitError{125, err}
			}
			fmt.Println(ctr.ID)
			return nil
		})),
	}
	f.add(c)
	addExplainFlag(c.Flags(), &explain)
	return c
}

// startErr turns a failure to start into run's exit code.
func startErr(err error) error {
	var se *engine.StartError
	if errors.As(err, &se) {
		return &exitError{se.Code, err}
	}
	return &exitError{125, err}
}

// createFlags are the flags `run` and `create` share.
type createFlags struct {
	o           engine.CreateOptions
	envFiles    []string
	entrypoint  string
	labels      []string
	labelFiles  []string
	memory      string
	cpus        float64
	cidfile     string
	startNext   bool // run: the start follows the create (CreateOptions.StartNext)
	stopTimeout int
	limits      limitFlags
	pull        string
	more        moreFlags // runflags.go
	attach      []string  // -a
	detached    bool      // run -d
}

func (f *createFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.SetInterspersed(false)
	fl.StringVar(&f.o.Name, "name", "", "the container's name")
	fl.StringArrayVarP(&f.o.Env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to take it from here)")
	fl.StringArrayVar(&f.envFiles, "env-file", nil, "read environment variables from a file")
	fl.StringVarP(&f.o.WorkingDir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.o.User, "user", "u", "", "user[:group], by name or number")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "replace the image's entrypoint")
	// -h is docker's --hostname here; --help has no short form (cobra's would
	// take -h).
	fl.Bool("help", false, "help for "+c.Name())
	fl.StringVarP(&f.o.Hostname, "hostname", "h", "", "the container's host name")
	fl.StringArrayVarP(&f.labels, "label", "l", nil, "set a label (KEY=VALUE)")
	fl.StringArrayVar(&f.labelFiles, "label-file", nil, "read labels from a file of KEY=VALUE lines")
	fl.StringArrayVarP(&f.attach, "attach", "a", nil, "attach to STDIN, STDOUT or STDERR (default: stdout and stderr, and stdin with -i)")
	fl.BoolVar(&f.o.ReadOnly, "read-only", false, "mount the root filesystem read-only")
	fl.StringSliceVar(&f.o.CapAdd, "cap-add", nil, "add capabilities")
	fl.StringArrayVar(&f.o.GroupAdd, "group-add", nil, "add a supplementary group, by name or number")
	fl.StringVar(&f.o.Umask, "umask", "", "the container process's umask, octal (0022)")
	fl.StringSliceVar(&f.o.CapDrop, "cap-drop", nil, "drop capabilities")
	fl.BoolVar(&f.o.Privileged, "privileged", false, "every capability, no seccomp, no masked paths")
	fl.StringArrayVar(&f.o.SecurityOpt, "security-opt", nil, "seccomp=FILE|unconfined, no-new-privileges[=BOOL], systempaths=unconfined, apparmor=PROFILE|unconfined (applied where the host has AppArmor)")
	fl.StringArrayVar(&f.o.Ulimits, "ulimit", nil, "resource limit NAME=SOFT[:HARD]")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 64m)")
	fl.Float64Var(&f.cpus, "cpus", 0, "number of CPUs")
	fl.Int64Var(&f.o.PidsLimit, "pids-limit", 0, fmt.Sprintf("process limit (-1 for none; default %d)", engine.DefaultPidsLimit))
	fl.StringVar(&f.o.Network, "network", "bridge", "network: bridge (the default network), a network's name, none, host or container:NAME")
	addNetFlags(fl, &f.o.NetOptions)
	addMonitorFlags(fl, &f.o.MonitorOptions)
	addSharingFlags(fl, &f.o)
	fl.StringVar(&f.o.Runtime, "runtime", "", "OCI runtime: hull (built in), runc, crun or a path")
	fl.StringArrayVar(&f.o.LogOpts, "log-opt", nil, "log option: max-size=SIZE, max-file=N")
	fl.StringVar(&f.cidfile, "cidfile", "", "write the container's ID to this file")
	fl.StringVar(&f.o.StopSignal, "stop-signal", "", "signal that stops the container (default SIGTERM)")
	fl.IntVar(&f.stopTimeout, "stop-timeout", -1, "seconds to wait for the stop signal before SIGKILL")
	fl.BoolVarP(&f.o.Interactive, "interactive", "i", false, "keep stdin open")
	fl.BoolVarP(&f.o.Tty, "tty", "t", false, "allocate a terminal")
	fl.BoolVar(&f.o.AutoRemove, "rm", false, "remove the container when it exits")
	f.limits.add(fl)
	fl.StringArrayVar(&f.o.Devices, "device", nil, "add a host device: HOST[:CONTAINER][:rwm]")
	fl.StringVar(&f.pull, "pull", "missing", "pull the image: always, missing or never")
	fl.BoolVar(&f.o.Init, "init", false, "run hull-init as PID 1: it forwards signals and reaps zombies [$HULL_INIT]")
	f.more.add(fl, &f.o)
}

// addNetFlags adds the network flags of run and create.
func addNetFlags(fl *pflag.FlagSet, o *engine.NetOptions) {
	fl.StringArrayVar(&o.NetworkAliases, "network-alias", nil, "another name of the container on its network")
	fl.StringArrayVarP(&o.Publish, "publish", "p", nil, "publish a port: [ip:][hostport:]containerport[/tcp|udp], ranges with -")
	fl.BoolVarP(&o.PublishAll, "publish-all", "P", false, "publish every port the image exposes on a free host port")
	fl.StringArrayVar(&o.ExtraHosts, "add-host", nil, "add a line to /etc/hosts (name:ip, ip may be host-gateway)")
	fl.StringArrayVar(&o.DNS, "dns", nil, "a DNS server")
	fl.StringArrayVar(&o.DNSSearch, "dns-search", nil, "a DNS search domain")
	fl.StringArrayVar(&o.DNSOptions, "dns-option", nil, "a resolv.conf option")
	fl.StringVar(&o.IP, "ip", "", "the container's IPv4 address on its network")
	fl.StringVar(&o.MacAddress, "mac-address", "", "the container's MAC address on its network")
	fl.StringArrayVar(&o.ExposedPorts, "expose", nil, "expose a port or a range of ports: PORT[-END][/tcp|udp]")
	fl.StringArrayVar(&o.Links, "link", nil, "legacy link to another container, NAME[:ALIAS]: an /etc/hosts line")
	fl.StringVar(&o.IP6, "ip6", "", "IPv6 address (not supported: hull's networks are IPv4)")
	fl.StringArrayVar(&o.LinkLocalIPs, "link-local-ip", nil, "link-local addresses (not supported)")
}

// addMonitorFlags adds the create flags the container's monitor applies.
func addMonitorFlags(fl *pflag.FlagSet, o *engine.MonitorOptions) {
	fl.StringVar(&o.Restart, "restart", "no", "restart policy: no, on-failure[:N], always or unless-stopped (not after a reboot: hull has no daemon)")
	fl.StringVar(&o.HealthCmd, "health-cmd", "", "command to run to check health (with /bin/sh -c)")
	fl.DurationVar(&o.HealthInterval, "health-interval", 0, "time between health checks (default 30s)")
	fl.DurationVar(&o.HealthTimeout, "health-timeout", 0, "maximum time a health check may take (default 30s)")
	fl.DurationVar(&o.HealthStartPeriod, "health-start-period", 0, "time to start before failed checks count (default 0s)")
	fl.DurationVar(&o.HealthStartInterval, "health-start-interval", 0, "time between checks during the start period (default 5s)")
	fl.IntVar(&o.HealthRetries, "health-retries", 0, "failures in a row that make it unhealthy (default 3)")
	fl.BoolVar(&o.NoHealthcheck, "no-healthcheck", false, "disable the image's health check")
}

// addSharingFlags adds the volume, mount and namespace flags of run and create.
func addSharingFlags(fl *pflag.FlagSet, o *engine.CreateOptions) {
	fl.StringArrayVarP(&o.Volumes, "volume", "v", nil, "mount a volume: /host:/ctr[:ro|rw][,z|Z], NAME:/ctr[:opts] or /ctr (anonymous)")
	fl.StringArrayVar(&o.Mounts, "mount", nil, "mount: type=bind|volume|tmpfs,source=...,target=...[,readonly]")
	fl.StringArrayVar(&o.Tmpfs, "tmpfs", nil, "mount a tmpfs: /ctr[:size=64m,mode=1777,...]")
	fl.StringArrayVar(&o.VolumesFrom, "volumes-from", nil, "mount another container's volumes: CONTAINER[:ro|rw]")
	fl.StringVar(&o.Pid, "pid", "", "pid namespace: host or container:NAME")
	fl.StringVar(&o.IPC, "ipc", "", "ipc namespace: private, shareable, host or container:NAME")
	fl.StringVar(&o.UTS, "uts", "", "uts namespace: host or container:NAME")
	fl.StringVar(&o.Cgroupns, "cgroupns", "", "cgroup namespace: private or host")
	fl.StringVar(&o.Userns, "userns", "", "user namespace: host (others are not supported yet)")
	fl.StringVar(&o.Pod, "pod", "", "run the container in a pod: it joins the pod's shared namespaces")
}

// limitFlags are the resource flags run, create and update share beyond -m, --cpus
// and --pids-limit.
type limitFlags struct {
	memorySwap        string
	cpuShares         int64
	cpusetCpus        string
	memoryReservation string
	more              engine.CgroupLimits // the flags that need no parsing
}

func (f *limitFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit (e.g. 128m; -1 for unlimited swap)")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs to run on (0-3, 0,1)")
	fl.StringVar(&f.more.CpusetMems, "cpuset-mems", "", "memory nodes to allow (0-3, 0,1)")
	fl.Int64Var(&f.more.CPUPeriod, "cpu-period", 0, "CPU CFS period, in microseconds")
	fl.Int64Var(&f.more.CPUQuota, "cpu-quota", 0, "CPU CFS quota, in microseconds per period (-1 for none)")
	fl.Int64Var(&f.more.CPURealtimePeriod, "cpu-rt-period", 0, "CPU real-time period, in microseconds (cgroup v1)")
	fl.Int64Var(&f.more.CPURealtimeRuntime, "cpu-rt-runtime", 0, "CPU real-time runtime, in microseconds (cgroup v1)")
	fl.StringVar(&f.memoryReservation, "memory-reservation", "", "memory soft limit (e.g. 32m)")
	fl.Uint16Var(&f.more.BlkioWeight, "blkio-weight", 0, "block IO weight, 10 to 1000 (0: none)")
}

// cgroupLimits are the flags' limits beyond memory, swap, CPU shares and CPUs.
func (f *limitFlags) cgroupLimits() (engine.CgroupLimits, error) {
	l := f.more
	var err error
	l.MemoryReservation, err = parseMemory("--memory-reservation", f.memoryReservation, false)
	return l, err
}

// apply puts the flags into the create options.
func (f *limitFlags) apply(o *engine.CreateOptions) error {
	swap, err := parseMemory("--memory-swap", f.memorySwap, true)
	if err != nil {
		return err
	}
	o.MemorySwap, o.CPUShares, o.CpusetCpus = swap, f.cpuShares, f.cpusetCpus
	o.CgroupLimits, err = f.cgroupLimits()
	return err
}

// parseMemory reads a size (64m) or, with minusOne, -1 for unlimited.
func parseMemory(flag, s string, minusOne bool) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if s == "-1" && minusOne {
		return -1, nil
	}
	n, err := logs.ParseSize(s)
	if err != nil || n <= 0 {
		return 0, badUsage(fmt.Errorf("invalid %s %q: want a size such as 64m", flag, s))
	}
	return n, nil
}

// options completes the options from the flags and the arguments IMAGE [CMD...].
func (f *createFlags) options(c *cobra.Command, args []string) (engine.CreateOptions, error) {
	o := f.o
	o.StartNext = f.startNext
	o.Image, o.Cmd = args[0], args[1:]
	if c.Flags().Changed("entrypoint") {
		ep := []string{f.entrypoint}
		o.Entrypoint = &ep
	}
	var err error
	if o.Env, err = envOf(f.envFiles, o.Env); err != nil {
		return o, err
	}
	labels, err := readKVFiles(f.labelFiles, nil)
	if err != nil {
		return o, err
	}
	if labels = append(labels, f.labels...); len(labels) > 0 {
		o.Labels = map[string]string{}
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			o.Labels[k] = v
		}
	}
	if err := f.attachOptions(&o); err != nil {
		return o, err
	}
	if err := f.more.apply(c, &o); err != nil {
		return o, err
	}
	if f.memory != "" {
		n, err := logs.ParseSize(f.memory)
		if err != nil || n <= 0 {
			return o, badUsage(fmt.Errorf("invalid memory %q", f.memory))
		}
		o.Memory = n
	}
	o.NanoCPUs = int64(f.cpus * 1e9)
	if o.Tty {
		if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
			o.ConsoleSize = &specs.Box{Height: uint(h), Width: uint(w)}
		}
	}
	if f.stopTimeout >= 0 {
		t := f.stopTimeout
		o.StopTimeout = &t
	}
	sharingOptions(c, &o)
	return o, f.limits.apply(&o)
}

// sharingOptions completes the options of addSharingFlags.
func sharingOptions(c *cobra.Command, o *engine.CreateOptions) {
	o.Warn = func(note string) { fmt.Fprintln(os.Stderr, "hull: "+note) }
	// A pod sharing its network decides it, unless the user said otherwise.
	if o.Pod != "" && !c.Flags().Changed("network") {
		o.Network = ""
	}
}

func (f *createFlags) create(e *engine.Engine, c *cobra.Command, args []string) (*engine.Container, error) {
	o, err := f.options(c, args)
	if err != nil {
		return nil, err
	}
	// Refused before the pull; Create judges them again, and the rest.
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if f.cidfile != "" {
		if _, err := os.Stat(f.cidfile); err == nil {
			return nil, fmt.Errorf("container ID file %s exists", f.cidfile)
		}
	}
	if f.more.useAPISocket {
		if err := useAPISocket(c, &o); err != nil {
			return nil, err
		}
	}
	if err := ensureImage(c, e, f.pull, o.Image, o.Platform, f.more.quiet); err != nil {
		return nil, err
	}
	ctr, err := e.Create(o)
	if err != nil {
		return nil, err
	}
	if f.cidfile != "" {
		if err := os.WriteFile(f.cidfile, []byte(ctr.ID), 0o644); err != nil {
			e.Remove(ctr.ID, true)
			return nil, err
		}
	}
	return ctr, nil
}

// ensureImage applies run's and create's --pull (always, missing or never) with
// the pull command itself; its report goes to stderr, as docker's, so that stdout
// keeps only the container's ID or output.
// With quiet (run -q), nothing is said: docker's -q suppresses the pull output.
func ensureImage(c *cobra.Command, e *engine.Engine, policy, ref, platform string, quiet bool) error {
	switch policy {
	case "never":
		return nil
	case "", "missing":
		if _, err := e.Images.Get(ref); err == nil {
			return nil
		}
		if !quiet {
			fmt.Fprintf(os.Stderr, "Unable to find image '%s' locally\n", ref)
		}
	case "always":
	default:
		return badUsage(fmt.Errorf("invalid pull policy %q: want always, missing or never", policy))
	}
	pull, _, err := c.Root().Find([]string{"pull"})
	if err != nil || pull.Name() != "pull" {
		return errors.New("no pull command")
	}
	stdout := os.Stdout
	os.Stdout = os.Stderr
	if quiet {
		if os.Stdout, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
			os.Stdout = stdout
			return err
		}
		defer os.Stdout.Close()
	}
	defer func() { os.Stdout = stdout }()
	pull.Flags().Set("quiet", "true")
	if platform != "" {
		pull.Flags().Set("platform", platform)
	}
	return pull.RunE(pull, []string{ref})
}
