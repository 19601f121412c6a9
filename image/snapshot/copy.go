package snapshot

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hullproject/hull/image/layer"
	"golang.org/x/sys/unix"
)

// Copy builds each snapshot as a full copy of its layers, for hosts where overlayfs
// cannot be used (the store on an overlayfs itself, say). It costs disk and time at
// Prepare, and Diff must rebuild the base to compare against. A View is made
// read-only with a read-only bind mount of the copy onto itself.
type Copy struct{ base }

// NewCopy returns the copying snapshotter keeping snapshots below dir.
func NewCopy(dir string) *Copy { return &Copy{base{dir}} }

func (c *Copy) Name() string { return "copy" }

func (c *Copy) Prepare(key string, layers []string) (string, error) {
	return c.make(key, layers, false)
}

func (c *Copy) View(key string, layers []string) (string, error) {
	return c.make(key, layers, true)
}

func (c *Copy) make(key string, layers []string, ro bool) (string, error) {
	p, err := c.create(key, Info{Key: key, Layers: layers, ReadOnly: ro, Kind: "copy"})
	if err != nil {
		return "", err
	}
	rootfs := filepath.Join(p, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		os.RemoveAll(p)
		return "", err
	}
	if err := build(rootfs, layers); err != nil {
		os.RemoveAll(p)
		return "", fmt.Errorf("snapshot %s: %w", key, err)
	}
	if _, err := c.Mount(key); err != nil {
		os.RemoveAll(p)
		return "", err
	}
	return rootfs, nil
}

// build merges layers, lowest first, into dir.
func build(dir string, layers []string) error {
	for _, l := range layers {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(layer.Write(l, pw, layer.WriteOptions{Overlay: true})) }()
		_, err := layer.ApplyMerge(dir, pr, layer.Limits{})
		pr.CloseWithError(err)
		if err != nil {
			return fmt.Errorf("copy layer %s: %w", l, err)
		}
	}
	return nil
}

func (c *Copy) Mount(key string) (string, error) {
	in, p, err := c.info(key)
	if err != nil {
		return "", err
	}
	rootfs := filepath.Join(p, "rootfs")
	if !in.ReadOnly {
		return rootfs, nil
	}
	unlock, err := lockMount(p)
	if err != nil {
		return "", err
	}
	defer unlock()
	if mounted(rootfs) {
		return rootfs, nil
	}
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("bind %s: %w", rootfs, err)
	}
	if err := unix.Mount("", rootfs, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		unmount(rootfs)
		return "", fmt.Errorf("remount %s read-only: %w", rootfs, err)
	}
	return rootfs, nil
}

func (c *Copy) Unmount(key string) error {
	p, err := c.path(key)
	if err != nil {
		return err
	}
	unlock, err := lockMount(p)
	if err != nil {
		return err
	}
	defer unlock()
	return unmount(filepath.Join(p, "rootfs"))
}

func (c *Copy) Diff(key string, w io.Writer) error {
	in, p, err := c.info(key)
	if err != nil {
		return err
	}
	baseDir, err := os.MkdirTemp(p, ".base-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(baseDir)
	if err := build(baseDir, in.Layers); err != nil {
		return err
	}
	return layer.WriteDiff(baseDir, filepath.Join(p, "rootfs"), w)
}

func (c *Copy) Remove(key string) error {
	p, err := c.path(key)
	if err != nil {
		return err
	}
	if err := unmount(filepath.Join(p, "rootfs")); err != nil {
		return err
	}
	return os.RemoveAll(p)
}
