// Package engine is hull's container engine without a daemon: container records,
// spec generation from an image's config and the user's options, and the lifecycle
// verbs. Every verb is a library call made by a short-lived `hull` command; a
// per-container monitor process (package monitor, run as the hidden `hull monitor`)
// is the only thing that stays behind while a container runs.
//
// A container's life:
//
//	e, _ := engine.New(root, state)
//	c, _ := e.Create(engine.CreateOptions{Image: "busybox", Cmd: []string{"echo", "hi"}})
//	h, _ := e.Start(c.ID, &engine.Attach{...})  // forks the monitor; it creates and starts
//	code, _ := h.Wait()                           // the container's exit code
//	_ = e.Remove(c.ID, false)                     // record, snapshot, bundle gone
package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hullproject/hull/runtime"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/ociruntime"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Engine is one engine root (records, images) and state directory (bundles, runtime
// state).
type Engine struct {
	Root     string
	StateDir string
	Images   *image.Store
	// Exe is the hull binary the monitor is started from (`Exe monitor ID`).
	Exe string
	// NetDefaults shape the default network at its first use (engine/network.go).
	NetDefaults NetDefaults
	// Init is the hull-init binary `--init` mounts into a container; "" is
	// hull-init beside Exe (engine/spec.go).
	Init string
}

// New opens the engine below root and state and wires the image store's InUse, so
// that an image a container uses is not removed.
func New(root, state string) (*Engine, error) {
	s, err := image.Open(root)
	if err != nil {
		return nil, err
	}
	exe, _ := os.Executable()
	e := &Engine{Root: root, StateDir: state, Images: s, Exe: exe}
	s.InUse = e.imageUsers
	return e, nil
}

// imageUsers lists the containers that use image id.
func (e *Engine) imageUsers(id digest.Digest) ([]string, error) {
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, cid := range ids {
		if c, err := e.load(cid); err == nil && c.Image == id.String() {
			out = append(out, cid[:12])
		}
	}
	return out, nil
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

	// Network is none, host, container:NAME, or a network: bridge (the default
	// network) or a user network's name; NetOptions are the rest (engine/network.go).
	NetOptions
	VolumeOptions    // engine/volumes.go
	NamespaceOptions // engine/namespaces.go
	MonitorOptions   // engine/restart.go, engine/health.go
}

// Runtime returns the OCI runtime a container uses.
func (e *Engine) Runtime(c *Container) (ociruntime.Runtime, error) {
	return ociruntime.New(c.HostConfig.Runtime, filepath.Join(e.StateDir, "runtime"))
}

// Create makes a container: its record, its rootfs (a snapshot of the image) and its
// bundle. Nothing runs until Start. On error nothing is left.
func (e *Engine) Create(o CreateOptions) (c *Container, err error) {
	if o.Name != "" {
		if err := CheckName(o.Name); err != nil {
			return nil, err
		}
	}
	if o.Network == "container:" || o.Network == "default" {
		return nil, fmt.Errorf("network %q: want none, host, container:NAME or a network", o.Network)
	}
	if o.StopSignal != "" {
		if _, err := runtime.ParseSignal(o.StopSignal); err != nil {
			return nil, err
		}
	}
	logOpts, err := logs.ParseOptions(o.LogOpts)
	if err != nil {
		return nil, err
	}
	if _, err := ociruntime.New(o.Runtime, e.StateDir); err != nil {
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
	id := newID()
	c = &Container{
		ID: id, Name: o.Name, Created: time.Now().UTC(), Image: img.ID().String(), ImageRef: o.Image,
		Config: Config{
			Hostname: o.Hostname, User: o.User, Env: o.Env, WorkingDir: o.WorkingDir, Labels: o.Labels,
			Image: o.Image, Tty: o.Tty, OpenStdin: o.Interactive, StopSignal: o.StopSignal, StopTimeout: o.StopTimeout,
		},
		HostConfig: HostConfig{
			AutoRemove: o.AutoRemove, Privileged: o.Privileged, ReadonlyRootfs: o.ReadOnly,
			CapAdd: o.CapAdd, CapDrop: o.CapDrop, GroupAdd: o.GroupAdd, SecurityOpt: o.SecurityOpt, Ulimits: o.Ulimits,
			Memory: o.Memory, NanoCPUs: o.NanoCPUs, PidsLimit: o.PidsLimit, NetworkMode: o.Network,
			Runtime: o.Runtime, LogConfig: LogConfig{Type: "json-file", Config: map[string]string{}},
			MemorySwap: o.MemorySwap, CpuShares: o.CPUShares, CpusetCpus: o.CpusetCpus,
		},
		State: ContainerState{Status: StatusCreated},
	}
	if c.HostConfig.Devices, err = o.checkLimits(); err != nil {
		return nil, err
	}
	if c.HostConfig.NetworkMode == "" {
		c.HostConfig.NetworkMode = "none"
	}
	if err := e.prepareNetwork(c, &o, &icfg.Config); err != nil {
		return nil, err
	}
	if logOpts.MaxSize > 0 {
		c.HostConfig.LogConfig.Config["max-size"] = fmt.Sprint(logOpts.MaxSize)
	}
	if logOpts.MaxFile > 1 {
		c.HostConfig.LogConfig.Config["max-file"] = fmt.Sprint(logOpts.MaxFile)
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
	c.Config.Entrypoint, c.Config.Cmd = command(&icfg.Config, &o)
	if err := e.planMonitor(c, &o.MonitorOptions, img); err != nil {
		return nil, err
	}
	argv := append(append([]string{}, c.Config.Entrypoint...), c.Config.Cmd...)
	if len(argv) == 0 {
		return nil, errors.New("no command specified")
	}
	c.Path, c.Args = argv[0], argv[1:]
	c.Config.Env = mergeEnv(icfg.Config.Env, o.Env)
	if err := e.planNamespaces(c, &o); err != nil {
		return nil, err
	}
	// Before the record is first written: it must name its volumes (volumes.go).
	if err := e.planMounts(c, &o, &icfg.Config); err != nil {
		return nil, err
	}

	// The record goes in under the names lock, so that two creates cannot take
	// one name.
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
			return nil, fmt.Errorf("the container name %q is already in use by container %s", c.Name, taken)
		}
	}
	if err := os.Mkdir(e.dir(id), 0o711); err != nil {
		unlock()
		return nil, err
	}
	// This record holds the name; the complete one below is the durable one.
	var data []byte
	if data, err = encodeRecord(c); err == nil {
		err = e.writeRecord(id, data, false)
	}
	unlock()
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
	rootfs, err := e.Images.Prepare(id, img.ID().String())
	if err != nil {
		return nil, err
	}
	c.Rootfs = rootfs
	if err := e.writeNetEtc(c, nil, netip.Addr{}, netip.Addr{}); err != nil {
		return nil, err
	}
	spec, err := makeSpec(c, &icfg.Config, rootfs, e.dir(id), &o)
	if err != nil {
		return nil, err
	}
	if o.Init {
		if err := e.addInit(c, spec); err != nil {
			return nil, err
		}
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
	// The rootfs was needed for the user, the copy-up of volumes and the spec;
	// a start mounts it again.
	unlockRootfs()
	e.unmountIdle(id)
	e.event(c, "create")
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

// readSpec reads a container's OCI spec from its bundle, and says where it is.
func (e *Engine) readSpec(id string) (*specs.Spec, string, error) {
	file := filepath.Join(e.bundle(id), "config.json")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, file, err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, file, fmt.Errorf("read %s: %w", file, err)
	}
	return &s, file, nil
}

// ExitCodeOf is the exit code `hull run` and `hull exec` return when the container's
// process could not be started, as Docker's: 127 when the program is not found, 126
// when it cannot be invoked, 125 for any other failure of hull itself. The runtime
// says which (its sentinels, from hull's init or from an external runtime's message
// in ociruntime.Binary).
func ExitCodeOf(err error) int {
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		return 127
	case errors.Is(err, runtime.ErrNotExecutable):
		return 126
	}
	return 125
}

// StartError is a failure to start the container's process, with its exit code.
type StartError struct {
	Code int
	Msg  string
}

func (e *StartError) Error() string { return e.Msg }
