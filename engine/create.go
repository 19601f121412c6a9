package engine

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/trace"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Create goes in two steps. plan judges the options (CreateOptions.Validate, in
// options.go), resolves the image, and judges what needs the image's config or the
// engine's other containers, pods and networks, collecting every refusal; it
// writes nothing. create then makes the planned container: record, rootfs,
// /etc files, volumes, bundle. It can fail only for the host, and for the user
// and groups, which need the image's files.

// createPlan is a container Create has judged and will make: its record (complete
// but for its rootfs, and its name if the options give none) and what its spec
// takes from the options and the image.
type createPlan struct {
	c      *Container
	img    *image.Image
	config *ocispec.ImageConfig // the image's
	o      *CreateOptions
	*createSettings
	profile *specs.LinuxSeccomp // --security-opt seccomp=FILE, read
	init    string              // hull-init, for --init
}

// Create makes a container: its record, its rootfs (a snapshot of the image) and its
// bundle. Nothing runs until Start. Bad options are refused, all at once (each an
// *OptionError), before anything is made; on any error nothing is left.
func (e *Engine) Create(o CreateOptions) (*Container, error) {
	t0 := e.Trace.Now()
	p, err := e.plan(&o)
	e.Trace.Step(t0, trace.Image, "read", err, trace.Args{Source: o.Image, Detail: "the image's config, and every option judged against it"})
	if err != nil {
		return nil, err
	}
	return e.create(p)
}

// plan judges the options, the image and what they name, and returns the container
// to make, or every refusal.
func (e *Engine) plan(o *CreateOptions) (*createPlan, error) {
	set, err := o.parse()
	if err != nil {
		return nil, err
	}
	img, err := e.Images.Get(o.Image)
	if err != nil {
		return nil, err
	}
	icfg, err := e.Images.Config(img)
	if err != nil {
		return nil, err
	}
	var errs []error
	if set.platform.os != "" && !set.platform.matches(icfg.Platform) {
		errs = append(errs, &OptionError{Field: "Platform", Err: fmt.Errorf("image with reference %s was found but its platform (%s) does not match the specified platform (%s)",
			o.Image, platformOf(icfg.Platform), set.platform)})
	}
	// What the host cannot apply is dropped, with a warning, before the record
	// says it is in force.
	o.dropUnsupported(set)
	if o.CPUCount != 0 || o.CPUPercent != 0 {
		note(o.Warn, "linux does not support CPU count or percent (Windows only): --cpu-count and --cpu-percent discarded")
	}
	logDriver := cmp.Or(o.LogDriver, LogJSONFile)
	id := newID()
	c := &Container{
		ID: id, Name: o.Name, Created: time.Now().UTC(), Image: img.ID().String(), ImageRef: o.Image,
		Config: Config{
			Hostname: o.Hostname, Domainname: o.Domainname, User: o.User, Env: o.Env, WorkingDir: o.WorkingDir, Labels: o.Labels,
			Image: o.Image, Tty: o.Tty, OpenStdin: o.Interactive, StopSignal: o.StopSignal, StopTimeout: o.StopTimeout,
			AttachStdin: o.AttachStdin, AttachStdout: o.AttachStdout, AttachStderr: o.AttachStderr,
		},
		HostConfig: HostConfig{
			AutoRemove: o.AutoRemove, Privileged: o.Privileged, ReadonlyRootfs: o.ReadOnly,
			CapAdd: o.CapAdd, CapDrop: o.CapDrop, GroupAdd: o.GroupAdd, Umask: o.Umask, SecurityOpt: o.SecurityOpt, Ulimits: o.Ulimits,
			Memory: o.Memory, NanoCPUs: o.NanoCPUs, PidsLimit: o.PidsLimit, NetworkMode: o.Network,
			Runtime: o.Runtime, LogConfig: LogConfig{Type: logDriver, Config: map[string]string{}},
			MemorySwap: o.MemorySwap, CpuShares: o.CPUShares, CpusetCpus: o.CpusetCpus,
			Devices: set.devices, Annotations: o.Annotations, Isolation: o.Isolation, VolumeDriver: o.VolumeDriver,
			ResourceHostConfig: o.resourceHostConfig(),
		},
		State: ContainerState{Status: StatusCreated},
	}
	c.Config.ExposedPorts = exposedPorts(icfg.Config.ExposedPorts, set.exposed, set.ports)
	p := &createPlan{c: c, img: img, config: &icfg.Config, o: o, createSettings: set}
	if c.HostConfig.NetworkMode == "" {
		c.HostConfig.NetworkMode = "none"
	}
	errs = append(errs, e.planNetwork(p))
	errs = append(errs, e.planLinks(p))
	if set.logs.MaxSize > 0 && logDriver != LogNone {
		c.HostConfig.LogConfig.Config["max-size"] = fmt.Sprint(set.logs.MaxSize)
	}
	if set.logs.MaxFile > 1 && logDriver != LogNone {
		c.HostConfig.LogConfig.Config["max-file"] = fmt.Sprint(set.logs.MaxFile)
	}
	if c.Config.WorkingDir == "" {
		c.Config.WorkingDir = icfg.Config.WorkingDir
	}
	if c.Config.User == "" {
		c.Config.User = icfg.Config.User
	}
	if c.Config.Hostname == "" {
		if o.Network == "host" {
			c.Config.Hostname, _ = os.Hostname()
		} else {
			c.Config.Hostname = id[:12]
		}
	}
	if c.Config.StopSignal == "" {
		c.Config.StopSignal = icfg.Config.StopSignal
	}
	c.Config.Entrypoint, c.Config.Cmd = command(&icfg.Config, o)
	errs = append(errs, e.planMonitor(p))
	if argv := append(append([]string{}, c.Config.Entrypoint...), c.Config.Cmd...); len(argv) == 0 {
		errs = append(errs, &OptionError{Field: "Cmd", Err: errors.New("no command specified")})
	} else {
		c.Path, c.Args = argv[0], argv[1:]
	}
	c.Config.Env = mergeEnv(icfg.Config.Env, o.Env)
	errs = append(errs, e.planNamespaces(c, o))
	// Before the record is first written: it must name its volumes (volumes.go).
	errs = append(errs, e.planMounts(p))
	if !o.Privileged && set.seccomp != "default" && set.seccomp != "unconfined" {
		if p.profile, err = readSeccomp(set.seccomp); err != nil {
			errs = append(errs, &OptionError{Field: "SecurityOpt", Err: err})
		}
	}
	if o.Init {
		if p.init, err = e.initBinary(); err != nil {
			errs = append(errs, &OptionError{Field: "Init", Err: err})
		}
	}
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	return p, nil
}

// create makes the container p plans. On error nothing of it is left.
func (e *Engine) create(p *createPlan) (c *Container, err error) {
	c = p.c
	id := c.ID
	// The record goes in under the names lock, so that two creates cannot take
	// one name.
	t0 := e.Trace.Now()
	if err := os.MkdirAll(e.containersDir(), 0o711); err != nil {
		return nil, err
	}
	unlock, err := flock(filepath.Join(e.Root, "containers.lock"))
	if err != nil {
		return nil, err
	}
	if c.Name == "" {
		c.Name = e.freeName()
	} else if taken, _ := e.Resolve(c.Name); taken != "" {
		if other, err := e.load(taken); err == nil && other.Name == c.Name {
			unlock()
			return nil, conflictf("the container name %q is already in use by container %s", c.Name, taken)
		}
	}
	// The links as docker's record has them, now that the name is known.
	for _, l := range p.links {
		c.HostConfig.Links = append(c.HostConfig.Links, "/"+l.Name+":/"+c.Name+"/"+l.Alias)
	}
	if err := os.Mkdir(e.dir(id), 0o711); err != nil {
		unlock()
		return nil, err
	}
	// Held until the complete record is written (creatingFile): were this
	// process killed before, the next listing removes the half-made container.
	unlockCreating, err := e.lockCreating(id)
	if err != nil {
		os.RemoveAll(e.dir(id))
		unlock()
		return nil, err
	}
	defer unlockCreating()
	// This record holds the name; the complete one below is the durable one.
	var data []byte
	if data, err = encodeRecord(c); err == nil {
		err = e.writeRecord(id, data, false)
	}
	unlock()
	e.Trace.Step(t0, trace.Process, "write", err, trace.Args{File: "container.json", Detail: "the record, under the names lock"})
	rec := c // c, the result, is nil by the time the deferred cleanup runs
	defer func() {
		if err != nil {
			e.Images.RemoveSnapshot(id)
			os.RemoveAll(e.stateDir(id))
			os.RemoveAll(e.dir(id))
			e.removeAnonymous(rec)
		}
	}()
	if err != nil {
		return nil, err
	}
	// The record is visible from here: a cp or export of this container may mount
	// its rootfs too and, done with it, unmount it under the copy-up of volumes
	// below. So Create holds the rootfs in use, as every user does (image.go),
	// from before it is mounted until Create is done.
	unlockRootfs, err := atomicfile.Lock(e.rootfsLock(id), atomicfile.Shared)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			unlockRootfs()
		}
	}()
	t0 = e.Trace.Now()
	rootfs, err := e.Images.Prepare(id, p.img.ID().String())
	e.Trace.Step(t0, trace.Rootfs, "mount", err, trace.Args{Type: "overlay", Target: rootfs, Detail: "a snapshot of the image's layers, mounted"})
	if err != nil {
		return nil, err
	}
	c.Rootfs = rootfs
	// The one judgement that needs the image's files.
	t0 = e.Trace.Now()
	user, err := resolveUser(rootfs, c.Config.User, c.HostConfig.GroupAdd)
	e.Trace.Step(t0, trace.Process, "openat2", err, trace.Args{File: "/etc/passwd, /etc/group", Detail: "the user, in the image (RESOLVE_IN_ROOT)"})
	if err != nil {
		return nil, err
	}
	t0 = e.Trace.Now()
	err = e.writeNetEtc(c, nil, netip.Addr{}, netip.Addr{})
	e.Trace.Step(t0, trace.Network, "write", err, trace.Args{File: "hosts, hostname, resolv.conf"})
	if err != nil {
		return nil, err
	}
	t0 = e.Trace.Now()
	spec, err := makeSpec(p, rootfs, e.dir(id), user)
	if err != nil {
		return nil, err
	}
	if p.o.Init {
		addInit(c, spec, p.init)
	}
	if err := e.netSpec(c, spec); err != nil {
		return nil, err
	}
	applyNamespaces(c, spec)
	if err := e.applyMounts(c, spec, rootfs); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(e.bundle(id), 0o711); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(e.bundle(id), "config.json"), spec); err != nil {
		return nil, err
	}
	if err := e.save(c); err != nil {
		return nil, err
	}
	// Not synced: a marker back after a power loss beside this durable record
	// (its Rootfs set) is only removed (reapHalfMade).
	if err := os.Remove(e.creatingFile(id)); err != nil {
		return nil, err
	}
	e.Trace.Step(t0, trace.Process, "write", nil, trace.Args{File: "config.json, container.json", Detail: "the OCI spec (volumes copied up), the record"})
	// The rootfs was needed for the user, the copy-up of volumes and the spec;
	// a start mounts it again, unless it comes right after (StartNext).
	unlockRootfs()
	if !p.o.StartNext {
		t0 = e.Trace.Now()
		e.unmountIdle(id)
		e.Trace.Step(t0, trace.Rootfs, "umount2", nil, trace.Args{Target: rootfs, Detail: "until the start (nobody else uses it)"})
	}
	t0 = e.Trace.Now()
	e.event(c, "create")
	e.Trace.Step(t0, trace.Process, "write", nil, trace.Args{File: "events", Value: "create"})
	return c, nil
}

var adjectives = []string{"brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nimble", "proud", "quiet", "sharp", "tender", "vivid", "witty", "zealous"}
var nouns = []string{"hopper", "lovelace", "turing", "ritchie", "thompson", "torvalds", "knuth", "liskov", "hamilton", "kay", "pike", "cerf", "babbage", "noether", "curie", "shannon"}

// freeName picks an unused adjective_noun name (the names lock is held).
func (e *Engine) freeName() string {
	for i := 0; ; i++ {
		b := []byte(newID())
		n := adjectives[int(b[0])%len(adjectives)] + "_" + nouns[int(b[1])%len(nouns)]
		if i > 10 {
			n += "_" + string(b[2:6])
		}
		if id, _ := e.Resolve(n); id == "" {
			return n
		}
	}
}
