package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hullproject/hull/volume"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A container's mounts go through three steps, in this order (the lock contract of
// package volume):
//
//	planMounts   before the record is first written: -v, --mount, --tmpfs,
//	             --volumes-from and the image's VOLUMEs become c.Mounts, every
//	             anonymous volume already named, so the record names all its volumes
//	applyMounts  after the snapshot is prepared: each volume is created (or found),
//	             copied up from the image once, and every mount goes into the spec
//	removeAnonymous  after the record is gone (rm -v, --rm): its anonymous volumes
//
// Store.InUse reads container records without any lock: Remove of a volume holds the
// store's locks while it asks, and the engine may hold a container's lock while it
// calls the store (removeFiles), so taking one here could deadlock.

// VolumeOptions are the mount flags of `hull run` and `hull create`.
type VolumeOptions struct {
	Volumes     []string // -v
	Mounts      []string // --mount
	Tmpfs       []string // --tmpfs
	VolumesFrom []string // --volumes-from CONTAINER[:ro|rw]
	// Warn, if set, receives a note for the user (once each): the z/Z options.
	Warn func(string)
}

// MountRecord is one of a container's mounts as its record keeps it.
type MountRecord struct {
	volume.Mount
	// Anonymous: a volume made for this container (-v /path, --mount without a
	// source, an image VOLUME); `rm -v` and --rm remove it with the container.
	Anonymous bool `json:"Anonymous,omitempty"`
}

// MountInfo is a mount as `hull inspect` shows it: docker's shape.
type MountInfo struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver,omitempty"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

// Volumes opens the engine's volume store, with InUse wired to the container
// records.
func (e *Engine) Volumes() (*volume.Store, error) {
	s, err := volume.Open(e.Root)
	if err != nil {
		return nil, err
	}
	s.InUse = e.volumeUsers
	return s, nil
}

// volumeUsers lists the containers whose records name volume name. It takes no
// lock (see above): records are written by rename, so each read is whole.
func (e *Engine) volumeUsers(name string) ([]string, error) {
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		c, err := e.load(id)
		if err != nil {
			continue // removed meanwhile
		}
		for _, m := range c.Mounts {
			if m.Type == volume.TypeVolume && m.Source == name {
				out = append(out, id[:12])
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func anonymousName() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// planMounts fills c.Mounts from the options (judged in options.go) and the
// image's VOLUMEs, and finds the containers --volumes-from names. Precedence, as
// docker's: the user's -v/--mount/--tmpfs, then --volumes-from, then the image.
func (e *Engine) planMounts(p *createPlan) error {
	c, o := p.c, p.o
	if p.note != "" && o.Warn != nil {
		o.Warn(p.note)
	}
	var r refusals
	taken := map[string]bool{}
	var out []MountRecord
	add := func(m MountRecord) {
		if taken[m.Destination] {
			return
		}
		taken[m.Destination] = true
		if m.Type == volume.TypeVolume && m.Source == "" {
			m.Source, m.Anonymous = anonymousName(), true
		}
		out = append(out, m)
	}
	for _, m := range p.mounts {
		add(MountRecord{Mount: m})
	}
	for _, from := range o.VolumesFrom {
		ref, mode, _ := strings.Cut(from, ":")
		other, err := e.Get(ref)
		if err != nil {
			r.add("VolumesFrom", fmt.Errorf("--volumes-from %s: %w", ref, err))
			continue
		}
		for _, m := range other.Mounts {
			if m.Type == volume.TypeTmpfs {
				continue // a tmpfs is the other container's own
			}
			if mode != "" {
				m.ReadOnly = mode == "ro"
			}
			m.Anonymous = false // the other container's to remove
			add(m)
		}
		c.HostConfig.VolumesFrom = append(c.HostConfig.VolumesFrom, from)
	}
	dests := make([]string, 0, len(p.config.Volumes))
	for d := range p.config.Volumes {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		if !strings.HasPrefix(d, "/") || path.Clean(d) == "/" {
			continue // docker ignores what it cannot mount, too
		}
		add(MountRecord{Mount: volume.Mount{Type: volume.TypeVolume, Destination: path.Clean(d)}})
	}
	// Parents before children, so /data/sub lands on /data's volume, not under it.
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i].Destination, "/") < strings.Count(out[j].Destination, "/")
	})
	c.Mounts = out
	c.HostConfig.Binds = o.Volumes
	return r.err()
}

// applyMounts creates the container's volumes (the record names them already),
// copies each new one up from the image's rootfs, and adds every mount to the spec,
// replacing a default mount on the same destination (-v /x:/etc/hosts, --tmpfs
// /dev/shm). On error the volumes it made for this container are removed again by
// Create's cleanup (removeAnonymous).
func (e *Engine) applyMounts(c *Container, s *specs.Spec, rootfs string) error {
	if len(c.Mounts) == 0 {
		return nil
	}
	vs, err := e.Volumes()
	if err != nil {
		return err
	}
	var extra []specs.Mount
	for _, m := range c.Mounts {
		if m.Type == volume.TypeVolume {
			v, err := vs.Create(m.Source, volume.CreateOptions{Labels: m.Labels, Anonymous: m.Anonymous})
			if err != nil {
				return err
			}
			if !m.NoCopy {
				if err := volume.CopyUp(v, rootfs, m.Destination); err != nil {
					return err
				}
			}
		}
		sm, err := volume.ToOCI(m.Mount, vs)
		if err != nil {
			return err
		}
		extra = append(extra, sm)
	}
	s.Mounts = slices.DeleteFunc(s.Mounts, func(d specs.Mount) bool {
		return slices.ContainsFunc(c.Mounts, func(m MountRecord) bool { return m.Destination == d.Destination })
	})
	s.Mounts = append(s.Mounts, extra...)
	return nil
}

// removeAnonymous removes the anonymous volumes of a container whose record is gone.
// A volume another container uses meanwhile (--volumes-from) stays.
func (e *Engine) removeAnonymous(c *Container) error {
	vs, err := e.Volumes()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range c.Mounts {
		if m.Type == volume.TypeVolume && m.Anonymous {
			if err := vs.Remove(m.Source, true); err != nil && !errors.Is(err, volume.ErrInUse) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// RemoveWithVolumes is Remove, then the container's anonymous volumes (`rm -v`).
func (e *Engine) RemoveWithVolumes(ref string, force bool) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	if err := e.Remove(c.ID, force); err != nil {
		return err
	}
	return e.removeAnonymous(c)
}

// MountInfos is the container's mounts in docker's inspect shape.
func (e *Engine) MountInfos(c *Container) []MountInfo {
	out := []MountInfo{}
	var vs *volume.Store // opened at the first volume: inspect of hundreds without any
	for _, m := range c.Mounts {
		i := MountInfo{Type: string(m.Type), Source: m.Source, Destination: m.Destination, RW: !m.ReadOnly, Propagation: m.Propagation}
		if m.ReadOnly {
			i.Mode = "ro"
		}
		switch m.Type {
		case volume.TypeVolume:
			i.Name, i.Driver, i.Source = m.Source, volume.Driver, ""
			if vs == nil {
				vs, _ = e.Volumes()
			}
			if vs != nil {
				if v, err := vs.Get(m.Source); err == nil {
					i.Source = v.Mountpoint
				}
			}
		case volume.TypeBind:
			if i.Propagation == "" {
				i.Propagation = "rprivate"
			}
		}
		out = append(out, i)
	}
	return out
}

// volEvent records a volume event as docker's: the volume's name and driver.
func (e *Engine) volEvent(action, name string) {
	e.objectEvent("volume", action, name, map[string]string{"driver": volume.Driver})
}

// CreateVolume makes a volume (volume.Store.Create: an existing one is
// returned as it is) and records its create event when it is new. (Two
// concurrent creates of one new name may both record it.)
func (e *Engine) CreateVolume(name string, o volume.CreateOptions) (*volume.Volume, error) {
	s, err := e.Volumes()
	if err != nil {
		return nil, err
	}
	if name != "" {
		if v, err := s.Get(name); err == nil {
			return v, nil
		}
	}
	v, err := s.Create(name, o)
	if err != nil {
		return nil, err
	}
	e.volEvent("create", v.Name)
	return v, nil
}

// RemoveVolume removes a volume (volume.Store.Remove) and records its destroy
// event.
func (e *Engine) RemoveVolume(name string, force bool) error {
	s, err := e.Volumes()
	if err != nil {
		return err
	}
	_, missing := s.Get(name)
	if err := s.Remove(name, force); err != nil {
		return err
	}
	if missing == nil {
		e.volEvent("destroy", name)
	}
	return nil
}

// PruneVolumes removes the unused volumes f selects (volume.Store.Prune) and
// records a destroy event for each.
func (e *Engine) PruneVolumes(f volume.Filters) (volume.PruneReport, error) {
	s, err := e.Volumes()
	if err != nil {
		return volume.PruneReport{}, err
	}
	r, err := s.Prune(f)
	for _, name := range r.VolumesDeleted {
		e.volEvent("destroy", name)
	}
	return r, err
}
