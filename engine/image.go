package engine

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/hullproject/hull/image"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A container's root filesystem is the image store's snapshot whose key is the
// container's ID (Create prepares it, removal deletes it). Export and commit read it
// from the host side: the mounts a container adds (proc, volumes, /etc/hosts) live in
// its own mount namespace and are not part of it, as with docker.

// SnapshotKey returns the key of the container's rootfs snapshot.
func (e *Engine) SnapshotKey(ref string) (string, error) {
	c, err := e.Get(ref)
	if err != nil {
		return "", err
	}
	return c.ID, nil
}

// Rootfs returns the container's mounted root filesystem, mounting its snapshot again
// if it is not (mounts do not survive a reboot; the snapshot does).
func (e *Engine) Rootfs(ref string) (string, error) {
	key, err := e.SnapshotKey(ref)
	if err != nil {
		return "", err
	}
	rootfs, err := e.Images.Snapshotter().Mount(key)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", ref, err)
	}
	return rootfs, nil
}

// Export writes the container's filesystem, running or not, as a tar to w.
func (e *Engine) Export(ref string, w io.Writer) error {
	rootfs, err := e.Rootfs(ref)
	if err != nil {
		return err
	}
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
