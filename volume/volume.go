// Package volume owns hull's named volumes (driver "local", the only one), the
// one-time copy of an image's directory into a new volume, and the parsing of
// -v, --mount and --tmpfs into mounts the engine puts in a container's spec.
//
// # On disk
//
// Everything lives under <root>/volumes, where root is the engine's root:
//
//	.lock                 flock of the store: Create, Get, Remove and Prune
//	<name>/volume.json    the Volume (temp, fsync, rename)
//	<name>/_data          the data, the Mountpoint bind-mounted into containers
//	<name>/.lock          flock of one volume: CopyUp, and Remove/Prune of it
//	<name>/.copyup        a copy-up in progress (its entries renamed into _data)
//	.tmp-*                a Create in progress (renamed to <name> when done)
//
// A volume exists exactly when <name>/volume.json does: Create builds the
// directory beside and renames it in. Names match [a-zA-Z0-9][a-zA-Z0-9_.-]*, so
// they never collide with the dot files, and never contain "/" or equal "..".
//
// # Locks and the InUse hook
//
// Lock order: the store's lock, then a volume's. Remove and Prune hold both while
// they ask InUse and delete, so a Get or Create of the name cannot slip between
// the check and the removal. The volume locks are innermost: InUse must not take
// a lock that a caller of the Store may hold (the engine's containers lock), or two
// commands deadlock. The engine's InUse therefore reads container records without
// its lock (they are written by rename, so each read sees a whole record), and the
// engine writes a container's record, naming its volumes, before it calls Create or
// Get for them: a concurrent Remove then either sees the record and refuses, or ran
// before, and Create makes the volume afresh.
//
// # Caller sequence (the engine)
//
//	s, _ := volume.Open(root)
//	s.InUse = func(name string) ([]string, error) { ... container IDs ... }
//	m, note, _ := volume.ParseVolume("data:/var/lib/db")     // or ParseMount, ParseTmpfs
//	if note != "" { print it once }
//	// for each TypeVolume mount, after the container's record names it:
//	v, _ := s.Create(m.Source, volume.CreateOptions{Labels: m.Labels, Anonymous: m.Source == ""})
//	m.Source = v.Name                                         // an anonymous one is named now
//	if !m.NoCopy { _ = volume.CopyUp(v, rootfs, m.Destination) }  // rootfs mounted, not started
//	sm, _ := volume.ToOCI(m, s)                               // into spec.Mounts
//	...
//	_ = s.Remove(name, false)   // rm -v: the container's anonymous volumes, once it is gone
//	r, _ := s.Prune(volume.Filters{})
//
// A Store is safe for concurrent use by goroutines and by processes.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/filter"
)

// Driver is the only volume driver: a directory under the engine's root.
const Driver = "local"

var (
	// ErrNotFound is returned for a name no volume has.
	ErrNotFound = errors.New("no such volume")
	// ErrInUse is returned by Remove for a volume a container uses.
	ErrInUse = errors.New("volume is in use")
)

// Store is the volumes of one engine root.
type Store struct {
	dir string
	// InUse reports the containers (IDs) that use the named volume; the engine sets
	// it. Nil means no volume is ever in use. See the package comment for what it
	// may and may not lock.
	InUse func(name string) ([]string, error)
}

// Volume is one volume, as volume.json holds it.
type Volume struct {
	Name      string            `json:"name"`
	Driver    string            `json:"driver"`
	Labels    map[string]string `json:"labels,omitempty"`
	Options   map[string]string `json:"options,omitempty"` // driver options (ValidateOptions)
	CreatedAt time.Time         `json:"created"`
	// Anonymous: made for one container's -v /path; prune removes it by default.
	Anonymous bool `json:"anonymous,omitempty"`
	// CopiedUp: the volume has been mounted once, and filled from the image then if
	// it was empty; it is never filled again.
	CopiedUp bool `json:"copiedUp,omitempty"`
	// CopyingUp: a copy-up is moving its entries into _data (see CopyUp).
	CopyingUp bool `json:"copyingUp,omitempty"`

	// Mountpoint is the data directory, <root>/volumes/<name>/_data.
	Mountpoint string `json:"-"`
	dir        string // <root>/volumes/<name>
}

// CreateOptions are the options of Create.
type CreateOptions struct {
	Labels map[string]string
	// Options are the local driver's options (docker's --opt): type, device
	// and o, judged by ValidateOptions. With them the container mounts the
	// device itself rather than the volume's directory (see ToOCI).
	Options map[string]string
	// Anonymous marks a volume made for one container (implied by an empty name).
	Anonymous bool
}

// Open opens the store under root (the engine's root), making <root>/volumes.
func Open(root string) (*Store, error) {
	dir := filepath.Join(root, "volumes")
	// 0701, as docker: containers' users reach their _data through a bind mount,
	// never by name, and no one may list the volumes.
	if err := os.MkdirAll(dir, 0o701); err != nil {
		return nil, fmt.Errorf("open volume store: %w", err)
	}
	return &Store{dir: dir}, nil
}

const namePattern = "[a-zA-Z0-9][a-zA-Z0-9_.-]*"

var nameRE = regexp.MustCompile("^" + namePattern + "$")

// ValidName checks a volume name: namePattern, at most 255 bytes (one path
// component), so it can never climb out of the store.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("volume name is empty")
	case strings.Contains(name, "/"):
		return fmt.Errorf("invalid volume name %q: it contains /", name)
	case name == "..":
		return fmt.Errorf("invalid volume name %q", name)
	case len(name) > 255:
		return fmt.Errorf("invalid volume name %.20q...: longer than 255 bytes", name)
	case !nameRE.MatchString(name):
		return fmt.Errorf("invalid volume name %q: it must match %s", name, namePattern)
	}
	return nil
}

// Create makes the volume name and returns it; if it exists it is returned as it
// is (labels unchanged), as docker does. An empty name makes an anonymous volume
// with a random 64-hex name.
func (s *Store) Create(name string, o CreateOptions) (*Volume, error) {
	if name == "" {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		name, o.Anonymous = hex.EncodeToString(b[:]), true
	}
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if err := ValidateOptions(o.Options); err != nil {
		return nil, err
	}
	unlock, err := atomicfile.Lock(filepath.Join(s.dir, ".lock"), atomicfile.Exclusive)
	if err != nil {
		return nil, err
	}
	defer unlock()
	v, err := s.load(name)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return v, err
	}
	tmp, err := os.MkdirTemp(s.dir, ".tmp-")
	if err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	defer os.RemoveAll(tmp) // gone after the rename
	v = &Volume{Name: name, Driver: Driver, Labels: maps(o.Labels), Options: maps(o.Options), CreatedAt: time.Now(), Anonymous: o.Anonymous}
	err = os.Chmod(tmp, 0o701)
	if err == nil {
		err = os.Mkdir(filepath.Join(tmp, "_data"), 0o755)
	}
	if err == nil {
		err = writeJSON(filepath.Join(tmp, "volume.json"), v)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, name))
	}
	if err == nil {
		err = atomicfile.SyncDir(s.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	v.dir = filepath.Join(s.dir, name)
	v.Mountpoint = filepath.Join(v.dir, "_data")
	return v, nil
}

// ValidateOptions judges the local driver's options as docker's does: only
// type, device and o, and type and device each need the other (o needs both).
// The mount itself is tried when a container starts.
func ValidateOptions(opts map[string]string) error {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "type" && k != "device" && k != "o" {
			return fmt.Errorf("invalid option: %q", k)
		}
	}
	_, typ := opts["type"]
	_, dev := opts["device"]
	_, o := opts["o"]
	switch {
	case typ && !dev:
		return errors.New(`missing required option: "device"`)
	case dev && !typ:
		return errors.New(`missing required option: "type"`)
	case o && !(typ && dev):
		return errors.New(`missing required option: "type", "device"`)
	}
	return nil
}

func maps(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Get returns the volume name, or an error wrapping ErrNotFound.
func (s *Store) Get(name string) (*Volume, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	unlock, err := atomicfile.Lock(filepath.Join(s.dir, ".lock"), atomicfile.Exclusive)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.load(name)
}

// load reads a volume (the caller checked the name).
func (s *Store) load(name string) (*Volume, error) {
	return readVolume(filepath.Join(s.dir, name))
}

func readVolume(dir string) (*Volume, error) {
	data, err := os.ReadFile(filepath.Join(dir, "volume.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, filepath.Base(dir))
	}
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("volume %s: %w", filepath.Base(dir), err)
	}
	v.dir = dir
	v.Mountpoint = filepath.Join(dir, "_data")
	return &v, nil
}

// Filters select volumes for List and Prune (docker's --filter).
type Filters struct {
	Names     []string // name=: one of them, a regular expression, matches the name (filter.MatchName)
	Labels    []string // label=: has every key, or key=value
	NotLabels []string // label!=: has none of them
	Driver    string   // driver=
	Dangling  *bool    // dangling=: used by no container (true) or by some (false)
	All       bool     // all=true: Prune removes named volumes too, not only anonymous
}

// ParseFilters reads --filter arguments: name=, label=, label!=, driver=,
// dangling=bool, all=bool.
func ParseFilters(args []string) (Filters, error) {
	var f Filters
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return f, fmt.Errorf("bad filter %q: want key=value", a)
		}
		switch k {
		case "name":
			if err := filter.CheckName(v); err != nil {
				return f, err
			}
			f.Names = append(f.Names, v)
		case "label":
			f.Labels = append(f.Labels, v)
		case "label!":
			f.NotLabels = append(f.NotLabels, v)
		case "driver":
			f.Driver = v
		case "dangling", "all":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, fmt.Errorf("bad filter %q: not a boolean", a)
			}
			if k == "all" {
				f.All = b
			} else {
				f.Dangling = &b
			}
		default:
			return f, fmt.Errorf("unknown filter %q", k)
		}
	}
	return f, nil
}

// match tells whether v passes every filter but Dangling and All.
func (f Filters) match(v *Volume) bool {
	if len(f.Names) > 0 && !slices.ContainsFunc(f.Names, func(n string) bool { return filter.MatchName(n, v.Name) }) {
		return false
	}
	if f.Driver != "" && f.Driver != v.Driver {
		return false
	}
	has := func(l string) bool {
		k, val, withVal := strings.Cut(l, "=")
		got, ok := v.Labels[k]
		return ok && (!withVal || got == val)
	}
	for _, l := range f.Labels {
		if !has(l) {
			return false
		}
	}
	return !slices.ContainsFunc(f.NotLabels, has)
}

// List returns the volumes that pass f, sorted by name. It reads without the
// store's lock (every file is written by rename), so a volume made or removed
// meanwhile may or may not be in it.
func (s *Store) List(f Filters) ([]*Volume, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []*Volume
	for _, e := range ents {
		if !e.IsDir() || ValidName(e.Name()) != nil {
			continue
		}
		v, err := s.load(e.Name())
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if !f.match(v) {
			continue
		}
		if f.Dangling != nil {
			users, err := s.users(v.Name)
			if err != nil {
				return nil, err
			}
			if (len(users) == 0) != *f.Dangling {
				continue
			}
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Info is a volume as `hull volume inspect` prints it: docker's shape.
type Info struct {
	CreatedAt  string            `json:"CreatedAt"`
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
}

// Inspect returns the volume name in docker's inspect shape.
func (s *Store) Inspect(name string) (Info, error) {
	v, err := s.Get(name)
	if err != nil {
		return Info{}, err
	}
	return v.Info(), nil
}

// Info is v in docker's inspect shape.
func (v *Volume) Info() Info {
	i := Info{
		CreatedAt: v.CreatedAt.Format(time.RFC3339), Driver: v.Driver, Labels: maps(v.Labels),
		Mountpoint: v.Mountpoint, Name: v.Name, Options: maps(v.Options), Scope: "local",
	}
	// docker prints {} rather than null for none.
	if i.Labels == nil {
		i.Labels = map[string]string{}
	}
	if i.Options == nil {
		i.Options = map[string]string{}
	}
	return i
}

func (s *Store) users(name string) ([]string, error) {
	if s.InUse == nil {
		return nil, nil
	}
	users, err := s.InUse(name)
	if err != nil {
		return nil, fmt.Errorf("volume %s: find its containers: %w", name, err)
	}
	return users, nil
}

// Remove deletes the volume name and its data. A volume a container uses is
// refused (ErrInUse), force or not; force only makes a missing volume no error,
// as docker's `volume rm -f`. It waits for a copy-up of the volume to finish.
func (s *Store) Remove(name string, force bool) error {
	if err := ValidName(name); err != nil {
		return err
	}
	unlock, err := atomicfile.Lock(filepath.Join(s.dir, ".lock"), atomicfile.Exclusive)
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.load(name)
	if errors.Is(err, ErrNotFound) && force {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.remove(v)
	return err
}

// remove deletes v unless it is in use, under the store's lock; it returns the
// bytes freed.
func (s *Store) remove(v *Volume) (uint64, error) {
	unlockV, err := atomicfile.Lock(filepath.Join(v.dir, ".lock"), atomicfile.Exclusive)
	if err != nil {
		return 0, err
	}
	defer unlockV()
	users, err := s.users(v.Name)
	if err != nil {
		return 0, err
	}
	if len(users) > 0 {
		what := "container " + users[0]
		if len(users) > 1 {
			what = "containers " + strings.Join(users, ", ")
		}
		return 0, fmt.Errorf("remove volume %s: %w by %s", v.Name, ErrInUse, what)
	}
	size := diskUsage(v.Mountpoint)
	// Data first: if it fails half-way, volume.json is still there and the volume
	// can be removed again, rather than leaving data no name reaches. os.RemoveAll
	// never follows a symlink the container left in its data.
	if err := os.RemoveAll(v.Mountpoint); err != nil {
		return 0, fmt.Errorf("remove volume %s: %w", v.Name, err)
	}
	if err := os.RemoveAll(v.dir); err != nil {
		return 0, fmt.Errorf("remove volume %s: %w", v.Name, err)
	}
	return size, nil
}

// DiskUsage is diskUsage, for `hull system df`.
func DiskUsage(dir string) uint64 { return diskUsage(dir) }

// diskUsage adds up the sizes of everything but directories below dir, each inode
// once, as docker counts a volume's size. Errors count as nothing: the number is a
// report, not a decision.
func diskUsage(dir string) uint64 {
	var total uint64
	seen := map[[2]uint64]bool{}
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		total += uint64(fi.Size())
		return nil
	})
	return total
}

// PruneReport is what Prune removed.
type PruneReport struct {
	VolumesDeleted []string
	SpaceReclaimed uint64 // bytes
}

// Prune removes the volumes that pass f and no container uses: anonymous ones
// only, unless f.All, as docker ≥ 23. It also clears what a crashed Create left.
func (s *Store) Prune(f Filters) (PruneReport, error) {
	var r PruneReport
	unlock, err := atomicfile.Lock(filepath.Join(s.dir, ".lock"), atomicfile.Exclusive)
	if err != nil {
		return r, err
	}
	defer unlock()
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return r, fmt.Errorf("prune volumes: %w", err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			// Creates hold the lock while their .tmp- directory exists, so this one's
			// owner is gone.
			_ = os.RemoveAll(filepath.Join(s.dir, e.Name()))
			continue
		}
		if !e.IsDir() || ValidName(e.Name()) != nil {
			continue
		}
		v, err := s.load(e.Name())
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return r, err
		}
		if !f.match(v) || (!v.Anonymous && !f.All) {
			continue
		}
		size, err := s.remove(v)
		if errors.Is(err, ErrInUse) {
			continue
		}
		if err != nil {
			return r, err
		}
		r.VolumesDeleted = append(r.VolumesDeleted, v.Name)
		r.SpaceReclaimed += size
	}
	return r, nil
}

// writeJSON writes v to path atomically (atomicfile.WriteFile).
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o600)
}
