package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/internal/trace"
)

// A pod is a group of containers that share namespaces (by default net, ipc and
// uts; pid on request): they reach each other on localhost, see one host name and,
// sharing pid, each other's processes.
//
// # The infra process
//
// The shared namespaces must outlive any one container, so a pod holds them with
// an infra process of hull's own: `hull pod-infra HOSTNAME`, the hull binary
// re-executed in new net, ipc, uts, pid and mount namespaces (clone flags of the
// fork, not the runtime), and the pod's containers join them by
// /proc/<infra pid>/ns/<type> (see namespaces.go). Why not a container run through
// the runtime, as podman's pause container: that needs a program inside a rootfs,
// and hull has no image to take one from; its own binary is linked dynamically
// when built by `go build` (cgo, for runtime/nsenter), so it cannot run alone in an
// empty root. The infra runs nothing of anyone's, and before it reports ready it
// shuts itself in:
//
//	sethostname, lo up        the pod's uts and net namespaces set up
//	/ made rprivate           nothing it mounts reaches the host
//	pivot_root into a fresh   its root (/proc/<pid>/root, which a container sharing
//	read-only tmpfs, old      its pid namespace and holding CAP_SYS_PTRACE could
//	root detached             open) is an empty directory, not the host's /
//	setgroups, setgid,        no capability left, so even a container that may
//	setuid 65534              ptrace it gains nothing by doing so
//	no_new_privs
//
// Once it is ready, a pod that shares net has the infra's namespace attached to its
// network with its published ports (podnet.go); killing the infra detaches it.
//
// Then, as init of the pod's pid namespace, it reaps the orphans the pod's
// containers leave, and waits to be killed. Killing it ends the namespaces that no
// container holds any more (a shared pid namespace ends with all its processes).
//
// # On disk
//
// <root>/pods/<id>/pod.json (temp, fsync, rename) and its flock <root>/pods/<id>/lock,
// held while the infra is started or killed; names are unique under <root>/pods.lock.
// A container belongs to a pod when its record says so (Container.Pod): the pod
// record keeps no list that could disagree with the containers'.

// Pod is hull's record of one pod.
type Pod struct {
	ID       string            `json:"Id"`
	Name     string            `json:"Name"`
	Created  time.Time         `json:"Created"`
	Hostname string            `json:"Hostname"`
	Share    []string          `json:"Share"` // namespace types: net, ipc, uts, pid
	Ports    []string          `json:"Ports,omitempty"`
	Labels   map[string]string `json:"Labels,omitempty"`
	Infra    Infra             `json:"Infra"`
	// Network is the network the infra's namespace joins when the pod shares net
	// ("" or "none": loopback only); NetworkSettings what it got (podnet.go).
	Network         string           `json:"Network,omitempty"`
	NetworkSettings *PodNetworkState `json:"NetworkSettings,omitempty"`
}

// Infra is the pod's infra process: pid and start time (clock ticks since boot),
// so that a recycled pid is never taken for it.
type Infra struct {
	Pid   int    `json:"Pid"`
	Start uint64 `json:"Start"`
}

// Pod statuses.
const (
	PodCreated  = "Created"  // the infra never ran
	PodRunning  = "Running"  // the infra and every container run
	PodDegraded = "Degraded" // the infra runs, some container does not
	PodStopped  = "Stopped"  // the infra does not run
)

// PodOptions are the options of `hull pod create`.
type PodOptions struct {
	Name     string
	Hostname string
	Share    []string // nil: net, ipc, uts
	Ports    []string
	Labels   map[string]string
	Network  string // "": the default network when the pod shares net; "none": loopback only
}

var podShares = []string{"net", "ipc", "uts", "pid"}

func (e *Engine) podsDir() string         { return filepath.Join(e.Root, "pods") }
func (e *Engine) podDir(id string) string { return filepath.Join(e.Root, "pods", id) }

func (e *Engine) loadPod(id string) (*Pod, error) {
	data, err := os.ReadFile(filepath.Join(e.podDir(id), "pod.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchPod, id)
	}
	if err != nil {
		return nil, err
	}
	var p Pod
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("pod %s: damaged record: %w", id, err)
	}
	return &p, nil
}

func (e *Engine) savePod(p *Pod) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(e.podDir(p.ID), "pod.json"), data, 0o600)
}

// ErrNoSuchPod is returned when no pod matches a name or ID prefix.
var ErrNoSuchPod = errors.New("no such pod")

// CreatePod makes a pod's record; its infra starts with the pod (StartPod) or its
// first container.
func (e *Engine) CreatePod(o PodOptions) (*Pod, error) {
	if o.Name != "" {
		if err := CheckName(o.Name); err != nil {
			return nil, err
		}
	}
	share := o.Share
	if share == nil {
		share = []string{"net", "ipc", "uts"}
	}
	share = slices.Clone(share)
	for _, s := range share {
		if !slices.Contains(podShares, s) {
			return nil, fmt.Errorf("--share %q: want some of %s", s, strings.Join(podShares, ","))
		}
	}
	sort.Strings(share)
	share = slices.Compact(share)
	netName, err := e.podNetworkOption(share, o)
	if err != nil {
		return nil, err
	}
	p := &Pod{ID: newID(), Name: o.Name, Created: time.Now().UTC(), Hostname: o.Hostname, Share: share, Ports: o.Ports, Labels: o.Labels, Network: netName}
	if err := os.MkdirAll(e.podsDir(), 0o711); err != nil {
		return nil, err
	}
	unlock, err := flock(filepath.Join(e.Root, "pods.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if p.Name == "" {
		for p.Name == "" || e.podNameTaken(p.Name) {
			b := []byte(newID())
			p.Name = adjectives[int(b[0])%len(adjectives)] + "_" + nouns[int(b[1])%len(nouns)] + "_pod_" + string(b[2:6])
		}
	} else if e.podNameTaken(p.Name) {
		return nil, conflictf("the pod name %q is already in use", p.Name)
	}
	if p.Hostname == "" {
		p.Hostname = p.Name
	}
	t0 := e.Trace.Now()
	err = os.Mkdir(e.podDir(p.ID), 0o711)
	if err == nil {
		if err = e.savePod(p); err != nil {
			os.RemoveAll(e.podDir(p.ID))
		}
	}
	e.Trace.Step(t0, trace.Process, "mkdir+write", err, trace.Args{File: "pod.json",
		Detail: "the pod's record only: its infra and namespaces are made when it starts (pod start, or its first container's)"})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (e *Engine) podNameTaken(name string) bool {
	pods, _ := e.ListPods()
	return slices.ContainsFunc(pods, func(p *Pod) bool { return p.Name == name })
}

// ListPods returns every pod, newest first.
func (e *Engine) ListPods() ([]*Pod, error) {
	ents, err := os.ReadDir(e.podsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Pod
	for _, d := range ents {
		if !d.IsDir() || !idRE.MatchString(d.Name()) {
			continue
		}
		if p, err := e.loadPod(d.Name()); err == nil {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// GetPod finds a pod by full ID, unique ID prefix or name.
func (e *Engine) GetPod(ref string) (*Pod, error) {
	pods, err := e.ListPods()
	if err != nil {
		return nil, err
	}
	var byPrefix []*Pod
	for _, p := range pods {
		if p.Name == ref || p.ID == ref {
			return p, nil
		}
		if ref != "" && strings.HasPrefix(p.ID, ref) {
			byPrefix = append(byPrefix, p)
		}
	}
	switch len(byPrefix) {
	case 1:
		return byPrefix[0], nil
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNoSuchPod, ref)
	}
	return nil, fmt.Errorf("pod id prefix %s is ambiguous: %d pods match", ref, len(byPrefix))
}

// PodContainers returns the pod's containers, newest first.
func (e *Engine) PodContainers(p *Pod) ([]*Container, error) {
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list, func(c *Container) bool { return c.Pod != p.ID }), nil
}

// PodStatus derives the pod's status from its infra and its containers.
func (e *Engine) PodStatus(p *Pod) string {
	if !proc.Alive(p.Infra.Pid, p.Infra.Start) {
		if p.Infra.Start == 0 {
			return PodCreated
		}
		return PodStopped
	}
	cs, _ := e.PodContainers(p)
	for _, c := range cs {
		if c.State.Status != StatusRunning {
			return PodDegraded
		}
	}
	return PodRunning
}

// startInfra starts the pod's infra process unless it runs.
func (e *Engine) startInfra(id string) error {
	unlock, err := flock(filepath.Join(e.podDir(id), "lock"))
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNoSuchPod, id)
	}
	defer unlock()
	p, err := e.loadPod(id)
	if err != nil {
		return err
	}
	if proc.Alive(p.Infra.Pid, p.Infra.Start) {
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(e.Exe, "pod-infra", p.Hostname)
	cmd.ExtraFiles = []*os.File{w}
	if f := e.Trace.File(); f != nil {
		// The infra records its own steps into the same file (trace.Inherit),
		// on fd 4, and closes it before it reports: it never holds it after.
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		cmd.Env = append(os.Environ(), trace.FdEnv+"=4")
	}
	cmd.Dir = "/"
	const cloneflags = unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWPID
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: cloneflags}
	t0 := e.Trace.Now()
	err = cmd.Start()
	e.Trace.Step(t0, trace.Namespaces, "clone+execve", err, trace.Args{Source: e.Exe, Flags: cloneflags, FlagSet: trace.CloneFlags,
		Detail: "the pod's infra (hull pod-infra): the process whose namespaces the pod's containers join"})
	if err != nil {
		w.Close()
		return fmt.Errorf("start pod %s: %w", p.Name, err)
	}
	w.Close()
	t0 = e.Trace.Now()
	msg, _ := io.ReadAll(io.LimitReader(r, 4096))
	e.Trace.Step(t0, trace.Process, "wait", nil, trace.Args{Detail: "for the infra's report (its steps are its own records)"})
	if string(msg) != "ok" {
		cmd.Process.Kill()
		cmd.Wait()
		if len(msg) == 0 {
			msg = []byte("it died")
		}
		return fmt.Errorf("start pod %s: infra: %s", p.Name, msg)
	}
	start, err := proc.StartTime(cmd.Process.Pid)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	// Reaped here if this process lives on; otherwise re-parented to init.
	go cmd.Wait()
	p.Infra = Infra{Pid: cmd.Process.Pid, Start: start}
	t0 = e.Trace.Now()
	err = e.savePod(p)
	e.Trace.Step(t0, trace.Process, "write", err, trace.Args{File: "pod.json", Detail: "the pod's record, with its infra"})
	if err != nil {
		unix.Kill(p.Infra.Pid, unix.SIGKILL)
		return err
	}
	if err := e.podNetworkUp(p, fmt.Sprintf("/proc/%d/ns/net", p.Infra.Pid)); err != nil {
		e.killInfraLocked(p)
		return err
	}
	return nil
}

// killInfra kills the pod's infra process (its lock is taken here).
func (e *Engine) killInfra(id string) error {
	unlock, err := flock(filepath.Join(e.podDir(id), "lock"))
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNoSuchPod, id)
	}
	defer unlock()
	p, err := e.loadPod(id)
	if err != nil {
		return err
	}
	return e.killInfraLocked(p)
}

// killInfraLocked kills the infra, then frees the pod's network (also when the
// infra was found dead: its lease may be left).
func (e *Engine) killInfraLocked(p *Pod) error {
	if err := e.killInfraProcess(p); err != nil {
		return err
	}
	return e.podNetworkDown(p)
}

func (e *Engine) killInfraProcess(p *Pod) error {
	// By pidfd, opened and then checked, so a recycled pid is never signalled.
	pidfd, err := proc.Open(p.Infra.Pid, p.Infra.Start)
	if err != nil {
		return nil // gone
	}
	defer pidfd.Close()
	if err := pidfd.Signal(unix.SIGKILL); err != nil && err != unix.ESRCH {
		return fmt.Errorf("kill pod %s infra: %w", p.Name, err)
	}
	if !pidfd.Wait(10 * time.Second) {
		return fmt.Errorf("pod %s: infra process %d did not die", p.Name, p.Infra.Pid)
	}
	return nil
}

// eachContainer runs fn on the pod's containers at once, and joins their errors.
func (e *Engine) eachContainer(p *Pod, fn func(c *Container) error) error {
	cs, err := e.PodContainers(p)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(c); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("container %s: %w", c.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// StartPod starts the pod's infra, then every container of it that does not run.
func (e *Engine) StartPod(ref string) (*Pod, error) {
	p, err := e.GetPod(ref)
	if err != nil {
		return nil, err
	}
	if err := e.startInfra(p.ID); err != nil {
		return p, err
	}
	return p, e.eachContainer(p, func(c *Container) error {
		if c.State.Running() {
			return nil
		}
		_, err := e.Start(c.ID, nil)
		return err
	})
}

// StopPod stops every container of the pod (Stop's signal and timeout), then kills
// its infra.
func (e *Engine) StopPod(ref string, timeout *int) (*Pod, error) {
	p, err := e.GetPod(ref)
	if err != nil {
		return nil, err
	}
	err = e.eachContainer(p, func(c *Container) error { return e.Stop(c.ID, timeout) })
	return p, errors.Join(err, e.killInfra(p.ID))
}

// KillPod sends sig to every running container of the pod.
func (e *Engine) KillPod(ref string, sig unix.Signal) (*Pod, error) {
	p, err := e.GetPod(ref)
	if err != nil {
		return nil, err
	}
	return p, e.eachContainer(p, func(c *Container) error {
		if !c.State.Running() {
			return nil
		}
		return e.Kill(c.ID, sig)
	})
}

// RemovePod removes the pod: its containers (and their anonymous volumes), its
// infra, its record. A pod with a running container is refused unless force.
func (e *Engine) RemovePod(ref string, force bool) (*Pod, error) {
	p, err := e.GetPod(ref)
	if err != nil {
		return nil, err
	}
	if !force {
		cs, err := e.PodContainers(p)
		if err != nil {
			return p, err
		}
		for _, c := range cs {
			if c.State.Running() {
				return p, fmt.Errorf("cannot remove pod %s: container %s is running: stop the pod first, or use force", p.Name, c.Name)
			}
		}
	}
	if err := e.eachContainer(p, func(c *Container) error { return e.RemoveWithVolumes(c.ID, true) }); err != nil {
		return p, err
	}
	if err := e.killInfra(p.ID); err != nil {
		return p, err
	}
	// A container created into the pod meanwhile would be left without its pod:
	// look once more under the names lock, which Create takes too.
	unlock, err := flock(filepath.Join(e.Root, "containers.lock"))
	if err != nil {
		return p, err
	}
	defer unlock()
	if cs, _ := e.PodContainers(p); len(cs) > 0 {
		return p, fmt.Errorf("cannot remove pod %s: container %s was added meanwhile", p.Name, cs[0].Name)
	}
	return p, os.RemoveAll(e.podDir(p.ID))
}

// RunPodInfra is the body of `hull pod-infra HOSTNAME` (see the comment at the top
// of this file), started by startInfra in the pod's new namespaces. It reports
// "ok", or what failed, on status, and then never returns unless told to stop by
// SIGTERM or SIGINT.
func RunPodInfra(hostname string, status *os.File) error {
	// The trace of `hull pod start --explain` (or a run's that starts the pod),
	// closed before the report: the infra lives on and must not hold it.
	tr := trace.Inherit("infra")
	fail := func(what string, err error) error {
		tr.Close()
		err = fmt.Errorf("%s: %w", what, err)
		status.WriteString(err.Error())
		status.Close()
		return err
	}
	t0 := tr.Now()
	err := unix.Sethostname([]byte(hostname))
	tr.Step(t0, trace.Namespaces, "sethostname", err, trace.Args{Value: hostname, Detail: "in the pod's new UTS namespace"})
	if err != nil {
		return fail("sethostname", err)
	}
	t0 = tr.Now()
	err = loopbackUp()
	tr.Step(t0, trace.Network, "ioctl", err, trace.Args{Target: "lo", Detail: "SIOCSIFFLAGS IFF_UP, in the pod's new network namespace"})
	if err != nil {
		return fail("bring lo up", err)
	}
	t0 = tr.Now()
	err = shutIn()
	tr.Step(t0, trace.Rootfs, "mount+pivot_root+umount2", err, trace.Args{Type: "tmpfs", Target: "/",
		Detail: "/ made private, an empty tmpfs pivoted to, the host's tree detached, remounted read-only"})
	if err != nil {
		return fail("empty root", err)
	}
	// syscall.Setuid and friends change every thread of the process (Go's setxid
	// broadcast), so no thread keeps a capability.
	t0 = tr.Now()
	err = syscall.Setgroups(nil)
	if err == nil {
		err = syscall.Setgid(65534)
	}
	if err == nil {
		err = syscall.Setuid(65534)
	}
	tr.Step(t0, trace.Capabilities, "setgroups+setgid+setuid", err, trace.Args{Value: "65534:65534",
		Detail: "nobody: every capability dropped with root"})
	if err != nil {
		return fail("setuid", err)
	}
	t0 = tr.Now()
	err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	tr.Step(t0, trace.Capabilities, "prctl", err, trace.Args{Value: "PR_SET_NO_NEW_PRIVS"})
	if err != nil {
		return fail("no_new_privs", err)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT)
	tr.Close()
	status.WriteString("ok")
	status.Close()
	for s := range sigs {
		if s != unix.SIGCHLD {
			return nil
		}
		// As init of the pod's pid namespace it inherits the orphans of the pod's
		// processes; reap them all.
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	return nil
}

// loopbackUp brings lo of the new network namespace up: the pod's containers talk
// over it.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// shutIn makes the infra's root an empty read-only tmpfs, in its own mount
// namespace, with the host's tree detached.
func shutIn() error {
	// Private first: the mounts below must not propagate to the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	// Any directory will do as the mount point: this namespace is the infra's only.
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0555"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	if err := unix.Chdir("/tmp"); err != nil {
		return err
	}
	// pivot_root(".", "."): the old root is stacked on the new one and detached
	// next, with no directory needed to park it (runc's trick).
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("remount read-only: %w", err)
	}
	return nil
}
