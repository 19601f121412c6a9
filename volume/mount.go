package volume

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Type is what a Mount mounts.
type Type string

const (
	TypeBind   Type = "bind"   // a host path
	TypeVolume Type = "volume" // a named or anonymous volume of the Store
	TypeTmpfs  Type = "tmpfs"  // a fresh tmpfs
)

// Mount is one parsed -v, --mount or --tmpfs: what the user asked for, before any
// volume is created or host path made. ToOCI turns it into a runtime-spec mount.
type Mount struct {
	Type Type
	// Source is an absolute, cleaned host path (bind), a volume name (volume; ""
	// for an anonymous volume the engine creates and then names here), or "" (tmpfs).
	Source      string
	Destination string // absolute and cleaned, never "/"
	ReadOnly    bool
	// Propagation is a bind's propagation (private, rprivate, shared, rshared,
	// slave, rslave); "" is rprivate, docker's default.
	Propagation string
	// CreateHostPath: a missing bind source is made as a directory (-v does this,
	// --mount type=bind refuses unless bind-create-src).
	CreateHostPath bool
	// NonRecursive binds the source alone, not the mounts below it
	// (bind-recursive=disabled).
	NonRecursive bool
	// NoCopy: the volume is never filled from the image (nocopy, volume-nocopy).
	NoCopy bool
	// Labels are given to the volume if this mount creates it (volume-label).
	Labels map[string]string
	// TmpfsSize is the size limit in bytes; 0 is the kernel's default (half of RAM).
	TmpfsSize int64
	// TmpfsMode is the root directory's permission bits (0o1777); 0 is the
	// kernel's default, 1777.
	TmpfsMode uint32
	// TmpfsOptions are further options of --tmpfs, passed to the mount: exec,
	// uid=, gid=, nr_inodes=, noatime, ...
	TmpfsOptions []string
}

// NoteSELinux is the note ParseVolume returns for the z and Z options; the CLI
// prints it once however many -v flags carry them.
const NoteSELinux = "hull does not relabel for SELinux: the z and Z volume options are ignored"

// ParseVolume parses one -v/--volume:
//
//	/host:/ctr[:opts]   bind mount; a missing host path is made (CreateHostPath)
//	name:/ctr[:opts]    named volume, created on first use
//	/ctr                anonymous volume
//
// opts is a comma-separated list of at most one each of ro|rw, z|Z (accepted and
// ignored: the returned note says so), a propagation (binds only), nocopy (volumes
// only), and consistent|cached|delegated (meaningless on Linux, ignored as docker
// does).
func ParseVolume(spec string) (m Mount, note string, err error) {
	bad := func(format string, a ...any) (Mount, string, error) {
		return Mount{}, "", fmt.Errorf("invalid volume specification %q: %s", spec, fmt.Sprintf(format, a...))
	}
	parts := strings.Split(spec, ":")
	if slices.Contains(parts, "") {
		return bad("empty field")
	}
	var src, dst, opts string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		if isVolumeOption(parts[1]) {
			return bad("options need a source (NAME:%s:%s or /host:%s:%s)", parts[0], parts[1], parts[0], parts[1])
		}
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, opts = parts[0], parts[1], parts[2]
	default:
		return bad("too many colons")
	}
	if dst, err = destination(dst); err != nil {
		return bad("%v", err)
	}
	m = Mount{Type: TypeVolume, Destination: dst}
	switch {
	case src == "":
	case strings.HasPrefix(src, "/"):
		m.Type, m.Source, m.CreateHostPath = TypeBind, path.Clean(src), true
	case ValidName(src) == nil:
		m.Source = src
	default:
		return bad("%q is neither an absolute host path nor a volume name (%s)", src, namePattern)
	}
	if opts == "" {
		return m, "", nil
	}
	seen := map[string]string{} // option class -> the word that set it
	for _, o := range strings.Split(opts, ",") {
		class := ""
		switch o {
		case "ro", "rw":
			class, m.ReadOnly = "access", o == "ro"
		case "z", "Z":
			class, note = "label", NoteSELinux
		case "nocopy":
			if m.Type != TypeVolume {
				return bad("nocopy is only valid for volumes")
			}
			class, m.NoCopy = "copy", true
		case "consistent", "cached", "delegated":
			class = "consistency"
		case "":
			return bad("empty option")
		default:
			if !slices.Contains(propagations, o) {
				return bad("unknown option %q", o)
			}
			if m.Type != TypeBind {
				return bad("propagation %s is only valid for bind mounts", o)
			}
			class, m.Propagation = "propagation", o
		}
		if prev, dup := seen[class]; dup {
			return bad("options %s and %s conflict", prev, o)
		}
		seen[class] = o
	}
	return m, note, nil
}

// isVolumeOption tells whether every word of s is a -v option: "/ctr:ro" is a
// destination with options and no source, which docker refuses.
func isVolumeOption(s string) bool {
	for _, o := range strings.Split(s, ",") {
		switch o {
		case "ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated":
		default:
			if !slices.Contains(propagations, o) {
				return false
			}
		}
	}
	return true
}

var propagations = []string{"private", "rprivate", "shared", "rshared", "slave", "rslave"}

// destination checks and cleans a container path.
func destination(p string) (string, error) {
	if p == "" {
		return "", errors.New("destination is missing")
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("destination %q is not an absolute path", p)
	}
	p = path.Clean(p)
	if p == "/" {
		return "", errors.New("destination cannot be /")
	}
	return p, nil
}

// ParseMount parses one --mount: comma-separated key[=value] fields (CSV, so a
// value with a comma can be quoted, as docker allows):
//
//	type=bind|volume|tmpfs                 default volume
//	source=, src=                          host path (bind), volume name (volume)
//	destination=, dst=, target=            required
//	readonly, ro [=true|false|1|0]
//	bind-propagation=private|rprivate|shared|rshared|slave|rslave
//	bind-recursive=enabled|disabled|readonly, bind-nonrecursive[=bool]
//	bind-create-src[=bool]                 make a missing source directory
//	volume-nocopy[=bool], volume-label=k=v (repeatable), volume-driver=local
//	tmpfs-size=bytes[k|m|g|t], tmpfs-mode=octal
//	consistency=...                        ignored
//
// Keys are case-insensitive; a key given twice, an unknown key and an option of
// another type are errors. A bind's source must exist when the container is made
// (ToOCI checks: "bind source path does not exist").
func ParseMount(spec string) (Mount, error) {
	bad := func(format string, a ...any) (Mount, error) {
		return Mount{}, fmt.Errorf("invalid mount %q: %s", spec, fmt.Sprintf(format, a...))
	}
	r := csv.NewReader(strings.NewReader(spec))
	r.LazyQuotes = true
	fields, err := r.Read()
	if err != nil && err != io.EOF { // EOF: an empty spec, refused below
		return bad("%v", err)
	}
	var (
		m    Mount
		typ  = string(TypeVolume)
		seen = map[string]bool{}
		// the type-specific keys given, in order, to refuse e.g. tmpfs-size on a bind
		owner []string
		types []Type
	)
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		canon := key
		switch key {
		case "src":
			canon = "source"
		case "dst", "target":
			canon = "destination"
		case "ro":
			canon = "readonly"
		}
		if canon == "" {
			return bad("empty field")
		}
		if seen[canon] && canon != "volume-label" {
			return bad("%s given twice", canon)
		}
		seen[canon] = true
		only := func(t Type) { owner, types = append(owner, canon), append(types, t) }
		needVal := func() error {
			if !hasVal || val == "" {
				return fmt.Errorf("%s needs a value", key)
			}
			return nil
		}
		boolVal := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return false, fmt.Errorf("%s=%s: not a boolean", key, val)
			}
			return b, nil
		}
		switch canon {
		case "type":
			err = needVal()
			typ = val
		case "source":
			err = needVal()
			m.Source = val
		case "destination":
			err = needVal()
			m.Destination = val
		case "readonly":
			m.ReadOnly, err = boolVal()
		case "consistency":
			err = needVal()
		case "bind-propagation":
			only(TypeBind)
			if err = needVal(); err == nil && !slices.Contains(propagations, val) {
				err = fmt.Errorf("unknown bind-propagation %q", val)
			}
			m.Propagation = val
		case "bind-recursive":
			only(TypeBind)
			// readonly is what a read-only bind is here already: read-only
			// all the way down, or not made. writable (only the top mount
			// read-only) hull's runtime cannot make.
			switch val {
			case "enabled", "readonly":
			case "disabled":
				m.NonRecursive = true
			case "writable":
				err = errors.New("bind-recursive=writable is not supported: a read-only bind is read-only all the way down")
			default:
				err = fmt.Errorf("unknown bind-recursive %q (enabled, disabled, readonly)", val)
			}
		case "bind-nonrecursive":
			only(TypeBind)
			m.NonRecursive, err = boolVal()
		case "bind-create-src":
			only(TypeBind)
			m.CreateHostPath, err = boolVal()
		case "volume-nocopy":
			only(TypeVolume)
			m.NoCopy, err = boolVal()
		case "volume-label":
			only(TypeVolume)
			if err = needVal(); err != nil {
				break
			}
			k, v, _ := strings.Cut(val, "=")
			if k == "" {
				err = fmt.Errorf("volume-label %q has no key", val)
			} else if _, dup := m.Labels[k]; dup {
				err = fmt.Errorf("volume-label %s given twice", k)
			} else {
				if m.Labels == nil {
					m.Labels = map[string]string{}
				}
				m.Labels[k] = v
			}
		case "volume-driver":
			only(TypeVolume)
			if err = needVal(); err == nil && val != "local" {
				err = fmt.Errorf("volume driver %q is not supported (only local)", val)
			}
		case "tmpfs-size":
			only(TypeTmpfs)
			if err = needVal(); err == nil {
				m.TmpfsSize, err = parseSize(val)
			}
		case "tmpfs-mode":
			only(TypeTmpfs)
			if err = needVal(); err == nil {
				m.TmpfsMode, err = parseMode(val)
			}
		default:
			err = fmt.Errorf("unknown option %q", key)
		}
		if err != nil {
			return bad("%v", err)
		}
	}
	m.Type = Type(typ)
	switch m.Type {
	case TypeBind, TypeVolume, TypeTmpfs:
	default:
		return bad("unknown type %q (bind, volume or tmpfs)", typ)
	}
	for i, key := range owner {
		if types[i] != m.Type {
			return bad("%s is only valid for %s mounts", key, types[i])
		}
	}
	if m.Destination, err = destination(m.Destination); err != nil {
		return bad("%v", err)
	}
	switch m.Type {
	case TypeBind:
		if m.Source == "" {
			return bad("a bind mount needs a source")
		}
		if !strings.HasPrefix(m.Source, "/") {
			return bad("bind source %q is not an absolute path", m.Source)
		}
		m.Source = path.Clean(m.Source)
	case TypeVolume:
		if m.Source != "" {
			if err := ValidName(m.Source); err != nil {
				return bad("%v", err)
			}
		}
	case TypeTmpfs:
		if m.Source != "" {
			return bad("a tmpfs mount takes no source")
		}
	}
	return m, nil
}

// tmpfsFlags are the --tmpfs options passed through as they are; "key=" ones take a
// value. Anything else is refused here rather than by mount(2) at start.
var tmpfsFlags = []string{
	"exec", "noexec", "suid", "nosuid", "dev", "nodev", "atime", "noatime",
	"relatime", "norelatime", "strictatime", "nostrictatime", "diratime", "nodiratime",
	"lazytime", "nolazytime", "sync", "async", "dirsync", "inode32", "inode64", "noswap",
	"uid=", "gid=", "nr_inodes=", "nr_blocks=", "mpol=", "huge=",
}

// ParseTmpfs parses one --tmpfs: /ctr[:opts], opts comma-separated: size=,
// mode= (octal), ro|rw, and the tmpfs and mount options of tmpfsFlags.
func ParseTmpfs(spec string) (Mount, error) {
	bad := func(format string, a ...any) (Mount, error) {
		return Mount{}, fmt.Errorf("invalid tmpfs %q: %s", spec, fmt.Sprintf(format, a...))
	}
	dst, opts, hasOpts := strings.Cut(spec, ":")
	dst, err := destination(dst)
	if err != nil {
		return bad("%v", err)
	}
	m := Mount{Type: TypeTmpfs, Destination: dst}
	if !hasOpts {
		return m, nil
	}
	seen := map[string]bool{}
	for _, o := range strings.Split(opts, ",") {
		key, val, hasVal := strings.Cut(o, "=")
		class := key
		switch key {
		case "ro", "rw":
			class = "ro/rw"
		case "exec", "noexec", "suid", "nosuid", "dev", "nodev":
			class = strings.TrimPrefix(key, "no")
		}
		if seen[class] {
			return bad("option %s given twice", key)
		}
		seen[class] = true
		switch {
		case key == "":
			return bad("empty option")
		case key == "ro" || key == "rw":
			m.ReadOnly = key == "ro"
		case key == "size" && hasVal:
			if m.TmpfsSize, err = parseSize(val); err != nil {
				return bad("%v", err)
			}
		case key == "mode" && hasVal:
			if m.TmpfsMode, err = parseMode(val); err != nil {
				return bad("%v", err)
			}
		case hasVal && val != "" && slices.Contains(tmpfsFlags, key+"="):
			m.TmpfsOptions = append(m.TmpfsOptions, o)
		case !hasVal && slices.Contains(tmpfsFlags, key):
			m.TmpfsOptions = append(m.TmpfsOptions, o)
		default:
			return bad("unknown option %q", o)
		}
	}
	return m, nil
}

// parseSize reads bytes with an optional binary unit: 1024, 64k, 64m, 1g, 1t (a
// trailing b, as in 64mb, is allowed). The kernel's "50%" is not: the size is a
// number of bytes here.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(s)
	t = strings.TrimSuffix(t, "b")
	mult := int64(1)
	if t != "" {
		if i := strings.IndexByte("kmgt", t[len(t)-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q (bytes, or a number with k, m, g or t)", s)
	}
	return n * mult, nil
}

// parseMode reads octal permission bits, sticky/setgid/setuid included.
func parseMode(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("bad mode %q (octal, at most 7777)", s)
	}
	return uint32(n), nil
}

// CheckDestinations refuses two mounts on one container path, which docker
// reports as a duplicate mount point.
func CheckDestinations(ms []Mount) error {
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.Destination] {
			return fmt.Errorf("duplicate mount point: %s", m.Destination)
		}
		seen[m.Destination] = true
	}
	return nil
}

// ToOCI turns m into the runtime-spec mount the engine puts in config.json:
//
//	bind    type bind, the host path, options rbind, ro|rw, propagation (rprivate)
//	volume  type bind, the volume's _data, options rbind, ro|rw, rprivate
//	tmpfs   type tmpfs, options noexec, nosuid, nodev (unless the user's exec, suid
//	        or dev says otherwise), ro|rw, size=, mode=, the user's others
//
// It is also where a bind's host path is checked: a missing one is made as a
// directory when m.CreateHostPath (-v) and is an error otherwise (--mount). A
// volume must already exist in s (the engine creates it, and names an anonymous
// one, before calling ToOCI).
func ToOCI(m Mount, s *Store) (specs.Mount, error) {
	access := "rw"
	if m.ReadOnly {
		access = "ro"
	}
	switch m.Type {
	case TypeBind:
		if _, err := os.Stat(m.Source); errors.Is(err, fs.ErrNotExist) {
			if !m.CreateHostPath {
				return specs.Mount{}, fmt.Errorf("bind source path does not exist: %s", m.Source)
			}
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return specs.Mount{}, fmt.Errorf("create bind source: %w", err)
			}
		} else if err != nil {
			return specs.Mount{}, fmt.Errorf("bind source: %w", err)
		}
		prop := m.Propagation
		if prop == "" {
			prop = "rprivate"
		}
		bind := "rbind"
		if m.NonRecursive {
			bind = "bind"
		}
		return specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source,
			Options: []string{bind, access, prop}}, nil
	case TypeVolume:
		if m.Source == "" {
			return specs.Mount{}, fmt.Errorf("volume on %s has no name: create it first", m.Destination)
		}
		if s == nil {
			return specs.Mount{}, errors.New("volume mount without a volume store")
		}
		v, err := s.Get(m.Source)
		if err != nil {
			return specs.Mount{}, err
		}
		if v.Options["type"] != "" {
			return deviceMount(m, v, access)
		}
		return specs.Mount{Destination: m.Destination, Type: "bind", Source: v.Mountpoint,
			Options: []string{"rbind", access, "rprivate"}}, nil
	case TypeTmpfs:
		// docker's defaults for every tmpfs; the user's own word wins.
		opts := []string{}
		for _, d := range []string{"noexec", "nosuid", "nodev"} {
			if !slices.Contains(m.TmpfsOptions, strings.TrimPrefix(d, "no")) {
				opts = append(opts, d)
			}
		}
		opts = append(opts, access)
		for _, o := range m.TmpfsOptions {
			if o != "exec" && o != "suid" && o != "dev" && !slices.Contains(opts, o) {
				opts = append(opts, o)
			}
		}
		if m.TmpfsSize > 0 {
			opts = append(opts, "size="+strconv.FormatInt(m.TmpfsSize, 10))
		}
		if m.TmpfsMode != 0 {
			opts = append(opts, "mode="+strconv.FormatUint(uint64(m.TmpfsMode), 8))
		}
		return specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	}
	return specs.Mount{}, fmt.Errorf("unknown mount type %q", m.Type)
}

// deviceMount is the mount of a volume made with driver options (docker's
// `volume create --opt type=... --opt device=... --opt o=...`): the device
// itself, mounted by the runtime in the container's mount namespace, rather
// than the volume's directory. "bind" or "rbind" in o binds the device (a host
// path), which must exist; any other type is a filesystem mount of it (tmpfs,
// or a block device or nfs share). Unlike docker's local driver, which mounts
// the device once on _data for all its containers, each container mounts its
// own: a tmpfs volume is per container here.
func deviceMount(m Mount, v *Volume, access string) (specs.Mount, error) {
	dev := v.Options["device"]
	var opts []string
	bind := ""
	for _, o := range strings.Split(v.Options["o"], ",") {
		switch o {
		case "":
		case "bind", "rbind":
			bind = o
		case "ro", "rw":
			if !m.ReadOnly {
				access = o
			}
		default:
			opts = append(opts, o)
		}
	}
	if bind != "" {
		if _, err := os.Stat(dev); err != nil {
			return specs.Mount{}, fmt.Errorf("volume %s: bind source: %w", v.Name, err)
		}
		return specs.Mount{Destination: m.Destination, Type: "bind", Source: dev,
			Options: append([]string{bind, access, "rprivate"}, opts...)}, nil
	}
	return specs.Mount{Destination: m.Destination, Type: v.Options["type"], Source: dev,
		Options: append([]string{access}, opts...)}, nil
}
