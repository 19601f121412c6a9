package engine

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/runtime"
	"github.com/hullproject/hull/volume"
	"golang.org/x/sys/unix"
)

// Info is what `hull info` and the Docker API's GET /info report: this engine's
// containers and images, and the host they run on. Both doors call Info, so they
// tell the same.
type Info struct {
	Containers, Running, Paused, Stopped int
	Images                               int
	Driver                               string // the snapshotter: overlay, or copy
	LoggingDriver                        string // json-file, the default log driver
	// CgroupVersion is "1" or "2", as docker reports it; CgroupMode says how
	// the host mounts cgroups (legacy, hybrid or unified), as the runtime found it.
	CgroupVersion string
	CgroupMode    string
	// CgroupDriver is cgroupfs: the runtime writes the cgroup files itself
	// (hull's runtime refuses systemd cgroup paths).
	CgroupDriver    string
	KernelVersion   string
	OperatingSystem string // os-release's PRETTY_NAME
	OSType          string // linux
	Architecture    string // uname's machine: x86_64, aarch64
	NCPU            int
	MemTotal        int64
	Name            string // the host's name
	// ID names this engine (its root on this machine) for as long as both
	// live: derived from /etc/machine-id and the root, so nothing is stored.
	ID             string
	Root, StateDir string
	// Runtimes are the runtimes --runtime may name here: hull's own, then the
	// runc-compatible programs found on $PATH.
	Runtimes       []string
	DefaultRuntime string
	// SecurityOptions in docker's form: every container gets docker's default
	// seccomp profile and a cgroup namespace of its own unless told otherwise.
	SecurityOptions []string
}

// knownRuntimes are the runc-compatible runtimes Info looks for on $PATH.
var knownRuntimes = []string{"runc", "crun"}

// Info reports the engine and its host. A part it cannot read stays empty: it
// is a report, not a decision.
func (e *Engine) Info() (*Info, error) {
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	imgs, err := e.Images.List()
	if err != nil {
		return nil, err
	}
	in := &Info{
		Images: len(imgs), Containers: len(list),
		Driver: e.Images.Snapshotter().Name(), LoggingDriver: "json-file", CgroupDriver: "cgroupfs",
		OSType: goruntime.GOOS, NCPU: goruntime.NumCPU(), OperatingSystem: osRelease(),
		Root: e.Root, StateDir: e.StateDir, DefaultRuntime: "hull", Runtimes: []string{"hull"},
		SecurityOptions: []string{"name=seccomp,profile=builtin", "name=cgroupns"},
	}
	for _, c := range list {
		switch {
		case c.State.Status == StatusPaused:
			in.Paused++
		case c.State.Running():
			in.Running++
		default:
			in.Stopped++
		}
	}
	mode := runtime.HostCgroupMode()
	in.CgroupMode, in.CgroupVersion = mode.String(), "1"
	if mode == runtime.CgroupUnified {
		in.CgroupVersion = "2"
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		in.KernelVersion = unix.ByteSliceToString(u.Release[:])
		in.Architecture = unix.ByteSliceToString(u.Machine[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		in.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	in.Name, _ = os.Hostname()
	machine, _ := os.ReadFile("/etc/machine-id")
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(machine)) + "\x00" + e.Root))
	in.ID = fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	for _, name := range knownRuntimes {
		if _, err := exec.LookPath(name); err == nil {
			in.Runtimes = append(in.Runtimes, name)
		}
	}
	return in, nil
}

// osRelease is the host's PRETTY_NAME from os-release, or "".
func osRelease() string {
	for _, f := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				return strings.Trim(v, `"'`)
			}
		}
	}
	return ""
}

// DiskUsage is what `hull system df` and the Docker API's GET /system/df count:
// each image, container and volume with the space it takes.
type DiskUsage struct {
	Images     []ImageUsage
	Containers []ContainerUsage
	Volumes    []VolumeUsage
}

// ImageUsage is one image, its size (its layers', unpacked) and how many
// containers use it.
type ImageUsage struct {
	Image      image.Image
	Size       int64
	Containers int
}

// ContainerUsage is one container and the size of its writable layer.
type ContainerUsage struct {
	Container *Container
	Size      uint64
}

// VolumeUsage is one volume, the size of its data and how many containers
// mount it.
type VolumeUsage struct {
	Volume   *volume.Volume
	Size     uint64
	RefCount int
}

// DiskUsage counts the space of every image, container and volume.
func (e *Engine) DiskUsage() (*DiskUsage, error) {
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	imgs, err := e.Images.List()
	if err != nil {
		return nil, err
	}
	du := &DiskUsage{}
	users := map[string]int{}
	mounts := map[string]int{}
	for _, c := range list {
		users[c.Image]++
		du.Containers = append(du.Containers, ContainerUsage{Container: c, Size: e.ContainerSize(c.ID)})
		for _, m := range c.Mounts {
			if m.Type == volume.TypeVolume {
				mounts[m.Source]++
			}
		}
	}
	for i := range imgs {
		du.Images = append(du.Images, ImageUsage{Image: imgs[i], Size: e.Images.Size(&imgs[i]), Containers: users[imgs[i].ID().String()]})
	}
	// No volume store yet is no volume.
	if s, err := e.Volumes(); err == nil {
		vols, _ := s.List(volume.Filters{})
		for _, v := range vols {
			du.Volumes = append(du.Volumes, VolumeUsage{Volume: v, Size: volume.DiskUsage(v.Mountpoint), RefCount: mounts[v.Name]})
		}
	}
	return du, nil
}
