package engine

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/filter"
	"github.com/hullproject/hull/volume"
)

// Container is hull's record of one container.
//
// On disk it is <root>/containers/<id>/config.json, written to a temporary file,
// fsynced and renamed (a reader sees the old record or the new one, never half of
// one), beside <id>-json.log and the files bind-mounted into the container (hostname,
// hosts, resolv.conf). Whoever changes a record holds the flock on
// <root>/containers/<id>/lock and re-reads the record after taking it (Engine.update);
// readers take no lock. Names are unique: create checks them under
// <root>/containers.lock.
//
// The OCI bundle lives in <root>/containers/<id>/bundle (config.json; root.path is
// the image snapshot's rootfs, mounted again by Start after a reboot): like podman's
// userdata it must outlive /run, or a container could not start after a reboot. The
// runtime's state, which a reboot rightly ends, is in <state>/runtime/<runtime name>.
//
// State.Status is what the monitor last wrote. While it says "running" the monitor
// must be alive (pid and start time, so a recycled pid is not taken for it); when it
// is not, the status is derived from the runtime (see Engine.refresh), so a monitor
// killed with SIGKILL leaves `hull ps` truthful.
type Container struct {
	ID         string         `json:"Id"`
	Name       string         `json:"Name"`
	Created    time.Time      `json:"Created"`
	Image      string         `json:"Image"`    // the image's ID (config digest)
	ImageRef   string         `json:"ImageRef"` // the name given to run/create
	Path       string         `json:"Path"`
	Args       []string       `json:"Args"`
	Config     Config         `json:"Config"`
	HostConfig HostConfig     `json:"HostConfig"`
	State      ContainerState `json:"State"`
	Rootfs     string         `json:"Rootfs"`
	// NetworkSettings: the container's networks and, while it runs, its addresses
	// (engine/network.go).
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
	// Mounts are the container's volumes, binds and tmpfs mounts; every volume is
	// named here before it is created (engine/volumes.go).
	Mounts []MountRecord `json:"Mounts,omitempty"`
	// Pod is the ID of the pod the container belongs to (engine/pods.go).
	Pod string `json:"Pod,omitempty"`
	// RestartCount counts the monitor's restarts since the last start by the user;
	// HasBeenManuallyStopped says the user stopped or killed it, so that it is not
	// restarted (monitor/restart.go). Both as Docker's.
	RestartCount           int  `json:"RestartCount"`
	HasBeenManuallyStopped bool `json:"HasBeenManuallyStopped"`
}

// Config is the part of the record Docker calls Config.
type Config struct {
	Hostname   string `json:"Hostname"`
	Domainname string `json:"Domainname"`
	User       string `json:"User"`
	// AttachStdin, AttachStdout and AttachStderr are the streams run attached
	// (docker's -a), as docker's record has them.
	AttachStdin  bool `json:"AttachStdin"`
	AttachStdout bool `json:"AttachStdout"`
	AttachStderr bool `json:"AttachStderr"`
	// ExposedPorts are the image's, --expose's and -p's ports ("80/tcp": {}).
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Entrypoint   []string            `json:"Entrypoint"`
	WorkingDir   string              `json:"WorkingDir"`
	Labels       map[string]string   `json:"Labels"`
	Image        string              `json:"Image"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	StopTimeout  *int                `json:"StopTimeout,omitempty"`
	Healthcheck  *HealthConfig       `json:"Healthcheck,omitempty"` // monitor/health.go
}

// HostConfig is the part Docker calls HostConfig.
type HostConfig struct {
	AutoRemove     bool            `json:"AutoRemove"`
	Privileged     bool            `json:"Privileged"`
	ReadonlyRootfs bool            `json:"ReadonlyRootfs"`
	CapAdd         []string        `json:"CapAdd"`
	CapDrop        []string        `json:"CapDrop"`
	GroupAdd       []string        `json:"GroupAdd"`
	Umask          string          `json:"Umask,omitempty"` // octal, as --umask gave it
	SecurityOpt    []string        `json:"SecurityOpt"`
	Ulimits        []string        `json:"Ulimits"`
	Memory         int64           `json:"Memory"`
	NanoCPUs       int64           `json:"NanoCpus"`
	PidsLimit      int64           `json:"PidsLimit"`
	MemorySwap     int64           `json:"MemorySwap"` // engine/resources.go
	CpuShares      int64           `json:"CpuShares"`
	CpusetCpus     string          `json:"CpusetCpus"`
	Devices        []DeviceMapping `json:"Devices"`
	NetworkMode    string          `json:"NetworkMode"`
	Runtime        string          `json:"Runtime"`
	LogConfig      LogConfig       `json:"LogConfig"`
	Init           bool            `json:"Init,omitempty"`
	RestartPolicy  RestartPolicy   `json:"RestartPolicy"` // monitor/restart.go
	// Links are --link's, as docker shows them: "/NAME:/THIS/ALIAS".
	Links        []string          `json:"Links"`
	Annotations  map[string]string `json:"Annotations,omitempty"`
	Isolation    string            `json:"Isolation"`
	VolumeDriver string            `json:"VolumeDriver"`

	NetHostConfig      // engine/network.go
	SharingHostConfig  // engine/volumes.go, engine/namespaces.go
	ResourceHostConfig // engine/resourceopts.go
}

// The log drivers (CreateOptions.LogDriver): LogLocal keeps the json-file
// format, with docker's local driver's rotation defaults; LogNone keeps nothing.
const (
	LogJSONFile = "json-file"
	LogLocal    = "local"
	LogNone     = "none"
)

// LogConfig is the log driver and its options.
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// Status values of a container.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusExited  = "exited"
	StatusPaused  = "paused"
	// StatusRestarting: the container ended and its monitor waits to restart it.
	StatusRestarting = "restarting"
)

// ContainerState is the container's state as the record keeps it.
type ContainerState struct {
	Status       string    `json:"Status"`
	Pid          int       `json:"Pid"`
	ExitCode     int       `json:"ExitCode"`
	OOMKilled    bool      `json:"OOMKilled"`
	Error        string    `json:"Error"`
	StartedAt    time.Time `json:"StartedAt"`
	FinishedAt   time.Time `json:"FinishedAt"`
	MonitorPid   int       `json:"MonitorPid"`
	MonitorStart uint64    `json:"MonitorStart"`
	// Stopping records the signal stop/kill sent, so that the exit code can be
	// told (128+signal) when the monitor is gone and cannot report it.
	Stopping int `json:"Stopping,omitempty"`
	// Health is the health check's state, while the container has one (monitor/health.go).
	Health *Health `json:"Health,omitempty"`
}

// Running tells whether the status is running, paused or restarting (as Docker's:
// a restarting container is stopped, removed or waited for like a running one).
func (s ContainerState) Running() bool {
	return s.Status == StatusRunning || s.Status == StatusPaused || s.Status == StatusRestarting
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// CheckName refuses names that are not usable: Docker's rule, which also keeps out
// "/", "." and "..".
func CheckName(name string) error {
	if !nameRE.MatchString(name) || len(name) > 128 {
		return fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-]* are allowed", name)
	}
	return nil
}

// Rename gives a container a new name, unique as create's are.
func (e *Engine) Rename(ref, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	unlock, err := flock(filepath.Join(e.Root, "containers.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	id, err := e.Resolve(ref)
	if err != nil {
		return err
	}
	if taken, _ := e.Resolve(name); taken != "" {
		if other, err := e.load(taken); err == nil && other.Name == name {
			if taken == id {
				return conflictf("container %s is already named %s", ref, name)
			}
			return conflictf("the container name %q is already in use by container %s", name, taken)
		}
	}
	old := ""
	c, err := e.update(id, func(c *Container) error {
		old, c.Name = c.Name, name
		return nil
	})
	if err != nil {
		return err
	}
	// Its addresses on user networks answer to the new name at once.
	if c.netAttached() {
		m, err := e.Networks()
		if err == nil {
			err = m.Rename(id, name)
		}
		if err != nil {
			return fmt.Errorf("rename %s on its networks: %w", old, err)
		}
	}
	e.event(c, "rename", "oldName", "/"+old)
	return nil
}

// ErrNoSuchContainer is returned when no container matches a name or ID prefix.
var ErrNoSuchContainer = errors.New("no such container")

var idRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (e *Engine) containersDir() string     { return filepath.Join(e.Root, "containers") }
func (e *Engine) dir(id string) string      { return filepath.Join(e.Root, "containers", id) }
func (e *Engine) stateDir(id string) string { return filepath.Join(e.StateDir, "containers", id) }
func (e *Engine) bundle(id string) string   { return filepath.Join(e.Root, "containers", id, "bundle") }

// LogPath is the container's json-file log.
func (e *Engine) LogPath(id string) string { return filepath.Join(e.dir(id), id+"-json.log") }

// load reads a record.
func (e *Engine) load(id string) (*Container, error) {
	c, _, err := e.loadRaw(id)
	return c, err
}

// loadRaw is load that also returns the record as stored.
func (e *Engine) loadRaw(id string) (*Container, []byte, error) {
	data, err := e.readRecord(id)
	if err != nil {
		return nil, nil, err
	}
	var c Container
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, nil, fmt.Errorf("container %s: damaged record: %w", id, err)
	}
	return &c, data, nil
}

// readRecord reads a record as stored; a missing one is ErrNoSuchContainer.
func (e *Engine) readRecord(id string) ([]byte, error) {
	data, err := atomicfile.ReadFile(filepath.Join(e.dir(id), "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, id)
	}
	return data, err
}

// recordName reads a record's name and nothing else: encodeRecord writes Id and
// Name first, so the decoder stops after a few tokens instead of decoding the
// whole record (any order is read right, only slower).
func (e *Engine) recordName(id string) (string, error) {
	data, err := e.readRecord(id)
	if err != nil {
		return "", err
	}
	damaged := func(err error) error { return fmt.Errorf("container %s: damaged record: %w", id, err) }
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", damaged(fmt.Errorf("not an object: %v", err))
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return "", damaged(err)
		}
		if k == "Name" {
			v, err := dec.Token()
			name, ok := v.(string)
			if err != nil || !ok {
				return "", damaged(fmt.Errorf("bad Name: %v", err))
			}
			return name, nil
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", damaged(err)
		}
	}
	return "", nil
}

// save writes a record: temp file, fsync, rename.
func (e *Engine) save(c *Container) error {
	data, err := encodeRecord(c)
	if err != nil {
		return err
	}
	return e.writeRecord(c.ID, data, true)
}

func encodeRecord(c *Container) ([]byte, error) { return json.MarshalIndent(c, "", "  ") }

// writeRecord replaces a record with data, durably or not (atomicfile.Replace).
func (e *Engine) writeRecord(id string, data []byte, durable bool) error {
	name := filepath.Join(e.dir(id), "config.json")
	if durable {
		return atomicfile.WriteFile(name, data, 0o600)
	}
	return atomicfile.Replace(name, data, 0o600)
}

// flock takes an exclusive lock on file (created if missing).
func flock(file string) (func(), error) { return atomicfile.Lock(file, atomicfile.Exclusive) }

// lock takes a container's lock. A record removed meanwhile is reported as gone.
func (e *Engine) lock(id string) (func(), error) {
	unlock, err := flock(filepath.Join(e.dir(id), "lock"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, id)
		}
		return nil, fmt.Errorf("lock container %s: %w", id, err)
	}
	if _, err := os.Stat(filepath.Join(e.dir(id), "config.json")); err != nil {
		unlock()
		return nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, id)
	}
	return unlock, nil
}

// update changes a record under its lock: fn gets the fresh record.
func (e *Engine) update(id string, fn func(c *Container) error) (*Container, error) {
	return e.updateSync(id, func(c *Container) (bool, error) { return true, fn(c) })
}

// updateSync is update whose fn also says whether the change is written durably
// (fsync): not when the record's removal follows at once (atomicfile.Replace).
func (e *Engine) updateSync(id string, fn func(c *Container) (durable bool, err error)) (*Container, error) {
	unlock, err := e.lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, old, err := e.loadRaw(id)
	if err != nil {
		return nil, err
	}
	durable, err := fn(c)
	if err != nil {
		return c, err
	}
	data, err := encodeRecord(c)
	if err != nil {
		return c, err
	}
	if bytes.Equal(data, old) {
		return c, nil // nothing changed: no write, no fsync
	}
	return c, e.writeRecord(c.ID, data, durable)
}

// ids lists the IDs of every record.
func (e *Engine) ids() ([]string, error) {
	ents, err := os.ReadDir(e.containersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ents {
		if d.IsDir() && idRE.MatchString(d.Name()) && !e.reapHalfMade(d.Name()) {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// creatingFile marks a container whose Create has not finished: the creator holds
// an exclusive flock on it from before the first record is written until the
// complete one is, and then removes it. A marker nobody holds is a Create whose
// process died half-way (hull killed, `hull system service` killed with -9): the
// container was never answered to anyone, and what it made is removed.
func (e *Engine) creatingFile(id string) string { return filepath.Join(e.dir(id), "creating") }

// lockCreating makes container id's creating marker, already locked: it is
// locked under another name and renamed into place, so that a reaper never
// finds a live Create's marker between its creation and its flock.
func (e *Engine) lockCreating(id string) (func(), error) {
	tmp := e.creatingFile(id) + ".new"
	unlock, err := flock(tmp)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, e.creatingFile(id)); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// reapHalfMade removes container id if its Create died half-way (creatingFile),
// and tells whether it did. A Create still running holds the marker's lock: that
// container is kept, as is every container without a marker.
func (e *Engine) reapHalfMade(id string) bool {
	marker := e.creatingFile(id)
	var st unix.Stat_t
	if unix.Lstat(marker, &st) != nil {
		return false
	}
	// Opened without O_CREAT: a marker its finished Create removed meanwhile
	// must not come back.
	fd, err := unix.Open(marker, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if atomicfile.LockFd(fd, atomicfile.Exclusive|atomicfile.Try) != nil {
		return false // its Create runs, or another reaper has it
	}
	// The lock may be the one a finished Create dropped after removing the
	// marker: only the marker still at its path is a dead Create's.
	var held unix.Stat_t
	if unix.Fstat(fd, &held) != nil || unix.Lstat(marker, &st) != nil || st.Ino != held.Ino || st.Dev != held.Dev {
		return false
	}
	// The record goes before the directory, so that a reaper that dies here
	// leaves a directory without a record, which List sweeps, never a
	// record without its marker.
	rec, _ := e.load(id)
	if rec != nil && rec.Rootfs != "" {
		// The complete record (Create sets Rootfs after the first one) was
		// written durably, and the marker's removal, not synced, was lost.
		os.Remove(marker)
		return false
	}
	e.Images.RemoveSnapshot(id)
	os.RemoveAll(e.stateDir(id))
	if rec != nil {
		e.removeAnonymous(rec)
	}
	if err := os.Remove(filepath.Join(e.dir(id), "config.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false
	}
	os.RemoveAll(e.dir(id))
	return true
}

// Resolve finds a container by full ID, unique ID prefix, or name (with or without
// Docker's leading "/").
func (e *Engine) Resolve(ref string) (string, error) {
	id, _, err := e.resolve(ref)
	return id, err
}

// resolve is Resolve that also returns the record when it read it whole (a name
// whose hint holds, names.go), nil otherwise.
func (e *Engine) resolve(ref string) (string, *Container, error) {
	if idRE.MatchString(ref) {
		if _, err := os.Stat(e.dir(ref)); err == nil {
			return ref, nil, nil
		}
	}
	if c, ok := e.hinted(ref); ok {
		return c.ID, c, nil
	}
	ids, err := e.ids()
	if err != nil {
		return "", nil, err
	}
	name := strings.TrimPrefix(ref, "/")
	var byPrefix []string
	for _, id := range ids {
		if n, err := e.recordName(id); err == nil && n == name {
			e.hint(name, id)
			return id, nil, nil
		}
		if strings.HasPrefix(id, ref) {
			byPrefix = append(byPrefix, id)
		}
	}
	switch {
	case len(byPrefix) == 1 && ref != "":
		return byPrefix[0], nil, nil
	case len(byPrefix) > 1 && ref != "":
		return "", nil, fmt.Errorf("container id prefix %s is ambiguous: %d containers match", ref, len(byPrefix))
	}
	return "", nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, ref)
}

// Get returns a container's record with its status made truthful (see refresh).
func (e *Engine) Get(ref string) (*Container, error) {
	id, c, err := e.resolve(ref)
	if err != nil {
		return nil, err
	}
	if c == nil { // not read whole by a name's hint: read now
		if c, err = e.load(id); err != nil {
			return nil, err
		}
	}
	e.refresh(c)
	return c, nil
}

// List returns every container, newest first.
func (e *Engine) List() ([]*Container, error) {
	e.sweepTrash()
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	// Several records at a time (forEach): with hundreds, one's reading and
	// decoding overlaps another's.
	list := make([]*Container, len(ids))
	forEach(len(ids), func(i int) {
		c, err := e.load(ids[i])
		if errors.Is(err, ErrNoSuchContainer) {
			e.sweep(ids[i])
		}
		if err != nil {
			return // removed meanwhile, or damaged
		}
		e.refresh(c)
		list[i] = c
	})
	var out []*Container
	for _, c := range list {
		if c != nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// ForEach is forEach, for the commands that show many objects (inspect).
func ForEach(n int, f func(i int)) { forEach(n, f) }

// forEach calls f(0) ... f(n-1), several at a time: reading hundreds of records
// or /proc files, one goroutine's system calls and decoding overlap another's.
func forEach(n int, f func(i int)) {
	workers := min(n, max(2, goruntime.GOMAXPROCS(0)))
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// ContainerFilter is `ps --filter`, docker's container list filters: status, name
// (a regular expression, internal/filter), id (a prefix), label (KEY or
// KEY=VALUE), exited (an exit code), ancestor (the image's name, or a prefix of
// its ID), network (a network's name, or the mode: host, none), health
// (starting, healthy, unhealthy or none), volume (a volume's name or a mount's
// destination), publish and expose (PORT[/PROTO] or a range: a port published
// while it runs, a port exposed), is-task (false: none is a swarm task), and
// before and since (a container's name or ID: created before it, after it;
// Resolve finds them).
type ContainerFilter struct {
	Filter
	before, since *time.Time
}

// ParseContainerFilter reads --filter KEY=VALUE flags.
func ParseContainerFilter(args []string) (ContainerFilter, error) {
	f := ContainerFilter{Filter: Filter{}}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			return f, fmt.Errorf("bad filter %q: want KEY=VALUE", a)
		case k == "health" && !slices.Contains([]string{HealthStarting, HealthHealthy, HealthUnhealthy, "none"}, v):
			return f, fmt.Errorf("invalid filter 'health=%s'", v)
		case k == "status" && !slices.Contains([]string{StatusCreated, StatusRunning, StatusPaused, StatusExited, "restarting", "removing", "dead"}, v):
			return f, fmt.Errorf("invalid filter 'status=%s'", v)
		case k == "exited":
			if _, err := strconv.Atoi(v); err != nil {
				return f, fmt.Errorf("invalid filter 'exited=%s'", v)
			}
		case k == "name":
			if err := filter.CheckName(v); err != nil {
				return f, err
			}
		case k == "is-task" && v != "true" && v != "false":
			return f, fmt.Errorf("invalid filter 'is-task=%s'", v)
		case !slices.Contains([]string{"status", "name", "id", "label", "exited", "ancestor", "network", "health", "before", "since",
			"volume", "publish", "expose", "is-task"}, k):
			return f, fmt.Errorf("invalid filter %q", k)
		}
		f.Filter[k] = append(f.Filter[k], v)
	}
	return f, nil
}

// Match tells whether c passes the filter (Resolve it first for before and
// since).
func (f ContainerFilter) Match(c *Container) bool {
	match := f.Filter.Match
	return match("status", func(v string) bool { return v == c.State.Status }) &&
		// docker's names start with "/", and it matches both forms: name=^web$
		// and name=^/web$ select web.
		match("name", func(v string) bool { return filter.MatchName(v, c.Name) || filter.MatchName(v, "/"+c.Name) }) &&
		match("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		f.MatchAll("label", func(v string) bool { return HasLabel(c.Config.Labels, v) }) &&
		match("exited", func(v string) bool {
			return c.State.Status == StatusExited && strconv.Itoa(c.State.ExitCode) == v
		}) &&
		match("ancestor", func(v string) bool {
			return v == c.ImageRef || strings.HasPrefix(c.Image, v) || strings.HasPrefix(c.Image, "sha256:"+v)
		}) &&
		match("network", func(v string) bool {
			_, on := c.NetworkSettings.Networks[v]
			return on || v == c.HostConfig.NetworkMode
		}) &&
		match("health", func(v string) bool {
			if c.State.Health == nil || c.Config.Healthcheck == nil || len(c.Config.Healthcheck.Test) == 0 || c.Config.Healthcheck.Test[0] == "NONE" {
				return v == "none"
			}
			return v == c.State.Health.Status
		}) &&
		match("volume", func(v string) bool {
			return slices.ContainsFunc(c.Mounts, func(m MountRecord) bool {
				return (m.Type == volume.TypeVolume && m.Source == v) || m.Destination == v
			})
		}) &&
		match("publish", func(v string) bool { return matchPort(v, c.NetworkSettings.Ports, true) }) &&
		match("expose", func(v string) bool { return matchPort(v, c.Config.ExposedPorts, false) }) &&
		// No container of hull's is a swarm task.
		match("is-task", func(v string) bool { return v == "false" }) &&
		(f.before == nil || c.Created.Before(*f.before)) &&
		(f.since == nil || c.Created.After(*f.since))
}

// matchPort tells whether ports (keys "80/tcp") hold v, docker's PORT[/PROTO]
// or a range START-END[/PROTO]; the protocol is tcp when not given. With
// published, only ports bound to a host port count.
func matchPort[V any](v string, ports map[string]V, published bool) bool {
	spec, proto, _ := strings.Cut(v, "/")
	if proto == "" {
		proto = "tcp"
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil {
		return false
	}
	for key, bound := range ports {
		port, p, _ := strings.Cut(key, "/")
		n, err := strconv.Atoi(port)
		if err != nil || p != proto || n < a || n > b {
			continue
		}
		if bs, ok := any(bound).([]PortBinding); published && (!ok || len(bs) == 0) {
			continue
		}
		return true
	}
	return false
}

// Resolve finds the containers before and since name in list (every
// container): ErrNoSuchContainer if one is not there.
func (f *ContainerFilter) Resolve(list []*Container) error {
	find := func(ref string) (*time.Time, error) {
		var byPrefix []*Container
		for _, c := range list {
			if c.Name == strings.TrimPrefix(ref, "/") || c.ID == ref {
				return &c.Created, nil
			}
			if strings.HasPrefix(c.ID, ref) {
				byPrefix = append(byPrefix, c)
			}
		}
		if len(byPrefix) == 1 {
			return &byPrefix[0].Created, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, ref)
	}
	for _, k := range []string{"before", "since"} {
		vs := f.Filter[k]
		if len(vs) == 0 {
			continue
		}
		// docker takes the last one given.
		t, ferr := find(vs[len(vs)-1])
		if ferr != nil {
			return ferr
		}
		if k == "before" {
			f.before = t
		} else {
			f.since = t
		}
	}
	return nil
}

// sweep removes a record directory without a record: a create killed between
// making the directory and saving the record in it, or a removal whose record is
// gone and whose snapshot is not yet (removeRecord: a monitor of a --rm container
// finishes it after it has reported the end, or died before). Create makes the
// directory and saves the record under the names lock, so a directory still
// without a record under that lock is no create's in progress.
func (e *Engine) sweep(id string) {
	unlock, err := flock(filepath.Join(e.Root, "containers.lock"))
	if err != nil {
		return
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(e.dir(id), "config.json")); errors.Is(err, os.ErrNotExist) {
		e.removeLeft(id)
	}
}
