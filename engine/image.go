package engine

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/atomicfile"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// A container's root filesystem is the image store's snapshot whose key is the
// container's ID (Create prepares it, removal deletes it). Export and commit read it
// from the host side: the mounts a container adds (proc, volumes, /etc/hosts) live in
// its own mount namespace and are not part of it, as with docker.
//
// The snapshot is mounted (at the path the bundle's root.path names) only while
// something uses it, as with docker and podman, so that a host of stopped
// containers is not a host of mounts. A user holds <container dir>/rootfs.lock
// shared from before it mounts until it is done (Rootfs): start until the
// container runs, the monitor through each run of it, cp, export. When a user
// is done, when the container ends for good (its monitor; finalize for a dead
// monitor's) and after Create, unmountIdle takes the lock exclusively without
// waiting and unmounts, unless someone holds it (who decides again when done) or
// the record says the container runs (running, paused, or restarting: a resident
// monitor holds no lock, and a restart reuses the mount; who records the end
// decides again after). Those decisions take turns, so the last to come sees the
// last user gone and the last record. Mounting twice at once is the
// snapshotter's to prevent. Commit and the size of a container's changes
// read the snapshot's upper directory: no mount.

// SnapshotKey returns the key of the container's rootfs snapshot.
func (e *Engine) SnapshotKey(ref string) (string, error) {
	c, err := e.Get(ref)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

// Rootfs mounts the container's root filesystem if it is not (after it stopped,
// or a reboot) and returns it with the release that ends this use of it.
func (e *Engine) Rootfs(ref string) (string, func(), error) {
	key, err := e.SnapshotKey(ref)
	if err != nil {
		return "", nil, err
	}
	unlock, err := atomicfile.Lock(e.rootfsLock(key), atomicfile.Shared)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return "", nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, ref)
		}
		return "", nil, fmt.Errorf("container %s: lock its rootfs: %w", ref, err)
	}
	release := func() {
		unlock()
		e.unmountIdle(key)
	}
	rootfs, err := e.Images.Snapshotter().Mount(key)
	if err != nil {
		release()
		return "", nil, fmt.Errorf("container %s: %w", ref, err)
	}
	return rootfs, release, nil
}

// UnmountIdle unmounts a container's rootfs unless a command uses it or the
// container runs (unmountIdle): after a Create with StartNext whose start did not
// come.
func (e *Engine) UnmountIdle(id string) { e.unmountIdle(id) }

func (e *Engine) rootfsLock(id string) string { return filepath.Join(e.dir(id), "rootfs.lock") }

// unmountIdle unmounts the container's rootfs unless a command uses it or the
// container runs. Without waiting for users: one holding the lock decides again
// when done. The deciders take turns (rootfs-idle.lock), so that the rootfs lock
// found taken always means a user: were two to try it at once, one reading a
// record that still said running would keep the lock from the other, the
// monitor that has just recorded the end, and neither would unmount.
func (e *Engine) unmountIdle(id string) error {
	turn, err := flock(filepath.Join(e.dir(id), "rootfs-idle.lock"))
	if err != nil {
		return nil // gone with the container
	}
	defer turn()
	unlock, err := atomicfile.Lock(e.rootfsLock(id), atomicfile.Exclusive|atomicfile.Try)
	if err != nil {
		return nil // in use, or gone with the container
	}
	defer unlock()
	// A start holds the lock until its container runs: none can begin now, and
	// the record tells whether one did.
	c, err := e.load(id)
	if err != nil {
		return nil
	}
	e.refresh(c)
	if c.State.Running() {
		return nil
	}
	return e.Images.Snapshotter().Unmount(id)
}

// Export writes the container's filesystem, running or not, as a tar to w.
func (e *Engine) Export(ref string, w io.Writer) error {
	rootfs, release, err := e.Rootfs(ref)
	if err != nil {
		return err
	}
	defer release()
	if err := image.Export(rootfs, w); err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	return nil
}

// CommitOptions tune Commit.
type CommitOptions struct {
	// Comment goes into the new image's history.
	Comment string
	// Change edits the new image's runtime config after it was taken from the
	// container (--change).
	Change func(*ocispec.ImageConfig) error
}

// Commit makes an image of the container's changes on top of its image and names it
// newRef (may be empty). As docker's, the runtime config is the image's with the
// container's command, entrypoint, environment, user, working directory and labels.
// The container is not paused: changes it makes meanwhile may be caught halfway.
func (e *Engine) Commit(ref, newRef string, o CommitOptions) (*image.Image, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	parent, err := e.Images.Get(c.Image)
	if err != nil {
		return nil, fmt.Errorf("commit %s: image of the container: %w", ref, err)
	}
	pcfg, err := e.Images.Config(parent)
	if err != nil {
		return nil, err
	}
	cfg := pcfg.Config
	cfg.Cmd, cfg.Entrypoint = slices.Clone(c.Config.Cmd), slices.Clone(c.Config.Entrypoint)
	cfg.Env = slices.Clone(c.Config.Env)
	cfg.User, cfg.WorkingDir = c.Config.User, c.Config.WorkingDir
	if len(c.Config.Labels) > 0 {
		cfg.Labels = maps.Clone(cfg.Labels)
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		maps.Copy(cfg.Labels, c.Config.Labels)
	}
	if o.Change != nil {
		if err := o.Change(&cfg); err != nil {
			return nil, err
		}
	}
	// The snapshot's diff is read from its upper (or copied) tree: no mount needed.
	return e.Images.Commit(c.ID, parent.Manifest.String(), newRef, image.ImportOptions{Config: cfg, Comment: o.Comment})
}

// ContainerSize is the size of what the container wrote to its root filesystem (its
// snapshot's changes, measured as a layer tar).
func (e *Engine) ContainerSize(id string) uint64 {
	var n countWriter
	e.Images.Snapshotter().Diff(id, &n)
	return uint64(n)
}

// ContainerSizes are docker's SizeRw and SizeRootFs of a container (ps --size,
// inspect --size): what it wrote (ContainerSize), and that plus its image.
func (e *Engine) ContainerSizes(c *Container) (rw, rootFs uint64) {
	rw = e.ContainerSize(c.ID)
	rootFs = rw
	if img, err := e.Images.Get(c.Image); err == nil {
		rootFs += uint64(e.Images.Size(img))
	}
	return rw, rootFs
}

type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) {
	*w += countWriter(len(p))
	return len(p), nil
}
