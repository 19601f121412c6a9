// Package cgroups is hull's cgroup manager: it creates one container's cgroup on
// every hierarchy of the host, moves processes into it, applies the OCI
// linux.resources to it, and signals, freezes, measures and removes it.
//
// The host may be Legacy (cgroup v1 only), Hybrid (v1 controllers plus a cgroup2
// hierarchy at /sys/fs/cgroup/unified, which may hold some controllers such as
// hugetlb) or Unified (cgroup2 only). The manager does not branch on the mode: it
// asks, controller by controller, which hierarchy holds it, and uses that
// hierarchy's file names (v1 "memory.limit_in_bytes" or v2 "memory.max"). That
// way a hybrid host whose hugetlb lives on the unified hierarchy needs no special
// case.
//
// Caller sequence (what runtime does): New (or Load from saved state), Apply(pid)
// of the container's init before it execs the user's process, Set(resources),
// then Pids/Kill/Freeze/Thaw/Stats while it runs, and Destroy after the last
// process is gone. A Manager is not safe for concurrent use; the runtime holds the
// container's lock around each call.
package cgroups

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/internal/trace"
)

// Mode is how the host mounts cgroups.
type Mode int

const (
	// Legacy hosts mount only cgroup v1 hierarchies.
	Legacy Mode = iota
	// Hybrid hosts mount v1 controllers plus cgroup2 at /sys/fs/cgroup/unified.
	Hybrid
	// Unified hosts mount only cgroup2, at /sys/fs/cgroup.
	Unified
)

// String names the mode as hull prints it: legacy, hybrid or unified.
func (m Mode) String() string {
	switch m {
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

var (
	modeOnce sync.Once
	hostMode Mode
)

// HostMode tells how this host mounts cgroups. It is detected once, from the
// filesystem magic of /sys/fs/cgroup and /sys/fs/cgroup/unified, as systemd does.
func HostMode() Mode {
	modeOnce.Do(func() {
		hostMode = Legacy
		if isCgroup2("/sys/fs/cgroup") {
			hostMode = Unified
		} else if isCgroup2("/sys/fs/cgroup/unified") {
			hostMode = Hybrid
		}
	})
	return hostMode
}

func isCgroup2(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// hierarchy is one mounted cgroup hierarchy, and the container's cgroup on it.
type hierarchy struct {
	// key names the hierarchy as /proc/self/cgroup does: its v1 controllers
	// ("cpu,cpuacct", "name=systemd"), or "" for the cgroup2 hierarchy.
	key   string
	mount string // where the hierarchy's root is mounted
	// controllers the hierarchy holds: the key's on v1, cgroup.controllers of the
	// root on v2.
	controllers []string
	own         string // the calling process's cgroup on it, from /proc/self/cgroup
	path        string // the container's cgroup, absolute from the hierarchy root
	tr          *trace.Tracer
}

func (h *hierarchy) v2() bool { return h.key == "" }

func (h *hierarchy) dir() string { return filepath.Join(h.mount, h.path) }

func (h *hierarchy) has(controller string) bool {
	for _, c := range h.controllers {
		if c == controller {
			return true
		}
	}
	return false
}

// hierarchies lists the cgroup hierarchies this process sees: one per line of
// /proc/self/cgroup that has a mount in /proc/self/mountinfo. Lines without a mount
// (a v1 hierarchy nobody mounted, "0::/" on a legacy host) are left out.
func hierarchies() ([]hierarchy, error) { return hierarchiesOf("/proc/self/cgroup") }

// hierarchiesOf is hierarchies from a process's cgroup file (own: its cgroups).
func hierarchiesOf(cgroupFile string) ([]hierarchy, error) {
	data, err := atomicfile.ReadFile(cgroupFile)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if hs, ok := conventionalHierarchies(lines); ok {
		return hs, nil
	}
	return scannedHierarchies(lines)
}

// scannedHierarchies is hierarchiesOf through /proc/self/mountinfo.
func scannedHierarchies(lines []string) ([]hierarchy, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	var hs []hierarchy
	for _, line := range lines {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		h := hierarchy{key: parts[1], own: parts[2]}
		for _, mt := range mounts {
			if mt.v2 != h.v2() || (!mt.v2 && !containsAll(mt.opts, strings.Split(h.key, ","))) {
				continue
			}
			h.mount = mt.point
			// Without a cgroup namespace a bind mount of a sub-cgroup shows our
			// path from the real root; make it relative to what is mounted.
			if mt.root != "/" {
				h.own = "/" + strings.TrimPrefix(strings.TrimPrefix(h.own, mt.root), "/")
			}
			break
		}
		if h.mount == "" {
			continue
		}
		hs = append(hs, h.withControllers())
	}
	if len(hs) == 0 {
		return nil, errors.New("no cgroup hierarchy is mounted")
	}
	return hs, nil
}

// conventionalHierarchies is hierarchiesOf without mountinfo, when every line of
// the cgroup file has its hierarchy's root mounted where it usually is
// (conventionalMount); ok false otherwise, and the caller scans mountinfo.
func conventionalHierarchies(lines []string) (hs []hierarchy, ok bool) {
	for _, line := range lines {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		h := hierarchy{key: parts[1], own: parts[2]}
		if h.mount, ok = conventionalMount(&h); !ok {
			return nil, false
		}
		hs = append(hs, h.withControllers())
	}
	return hs, len(hs) > 0
}

// withControllers fills in the controllers h holds.
func (h hierarchy) withControllers() hierarchy {
	if h.v2() {
		c, _ := atomicfile.ReadFile(filepath.Join(h.mount, "cgroup.controllers"))
		h.controllers = strings.Fields(string(c))
	} else {
		h.controllers = strings.Split(h.key, ",")
	}
	return h
}

type cgroupMount struct {
	point, root string
	v2          bool
	opts        []string
}

// cgroupMounts reads the cgroup and cgroup2 mounts from /proc/self/mountinfo,
// preferring for each hierarchy a mount of its root under /sys/fs/cgroup.
func cgroupMounts() ([]cgroupMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root point opts [optional...] - fstype source superopts
		before, after, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pre, post := strings.Fields(before), strings.Fields(after)
		if len(pre) < 5 || len(post) < 3 || (post[0] != "cgroup" && post[0] != "cgroup2") {
			continue
		}
		out = append(out, cgroupMount{point: pre[4], root: pre[3], v2: post[0] == "cgroup2", opts: strings.Split(post[2], ",")})
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out, sc.Err()
}

func rank(m cgroupMount) int {
	r := 0
	if m.root != "/" {
		r += 2
	}
	if !strings.HasPrefix(m.point, "/sys/fs/cgroup") {
		r++
	}
	return r
}

func containsAll(set, want []string) bool {
	for _, w := range want {
		found := false
		for _, s := range set {
			found = found || s == w
		}
		if !found {
			return false
		}
	}
	return true
}

// Manager manages one container's cgroup on every hierarchy of the host.
type Manager struct {
	hs []hierarchy
	// parentOwned is set when the path is the default /hullrt/<id>: Destroy then
	// also removes /hullrt once it is empty, so no trace of hull stays behind.
	parentOwned bool
	// partial is set when the manager leaves some of the host's hierarchies out
	// (Delegated): Path must then name the ones it has.
	partial bool
	// unit is the systemd unit that holds the cgroup (NewSystemd), nil for the
	// cgroupfs driver.
	unit *systemdUnit
}

// DefaultParent is where containers without linux.cgroupsPath get their cgroup.
const DefaultParent = "/hullrt"

// New resolves the OCI linux.cgroupsPath for container id the way runc's cgroupfs
// driver does: an absolute path is taken from each hierarchy's root, and an empty
// one becomes /hullrt/<id>. A relative one hangs below the calling process's own
// cgroup on a v1 hierarchy; on a cgroup v2-only host below the parent of its own
// cgroup (runc's fs2 rule: the caller's own v2 cgroup holds processes, so it
// could not hand controllers down to a child); and on a hybrid host's cgroup2
// hierarchy below its root (runc's fs driver takes the hybrid hierarchy's mount
// point as the caller's cgroup there). Paths that climb out with ".." are
// refused. New reads /proc but creates nothing.
//
// The systemd driver's "slice:prefix:name" is such a relative path too, one
// directory of that literal name: containerd's CRI plugin writes that form for
// any cgroup parent ending in ".slice", with or without --systemd-cgroup, and
// runc without the flag takes it so.
func New(cgroupsPath, id string) (*Manager, error) {
	parentOwned := false
	if cgroupsPath == "" {
		if id == "" || strings.Contains(id, "/") || id == "." || id == ".." {
			return nil, fmt.Errorf("container id %q: not usable as a cgroup name", id)
		}
		cgroupsPath, parentOwned = DefaultParent+"/"+id, true
	}
	clean := filepath.Clean(cgroupsPath)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, fmt.Errorf("linux.cgroupsPath %q: must not leave its parent with \"..\"", cgroupsPath)
	}
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	for i := range hs {
		switch {
		case filepath.IsAbs(clean):
			hs[i].path = clean
		case hs[i].v2() && HostMode() == Hybrid:
			hs[i].path = "/" + clean
		case hs[i].v2():
			hs[i].path = filepath.Join(filepath.Dir(hs[i].own), clean)
		default:
			hs[i].path = filepath.Join(hs[i].own, clean)
		}
		if hs[i].path == "/" {
			return nil, fmt.Errorf("linux.cgroupsPath %q: a container needs its own cgroup, not the root", cgroupsPath)
		}
	}
	return &Manager{hs: hs, parentOwned: parentOwned}, nil
}

// Delegated is New for a runtime that is not root. It manages only the cgroup2
// hierarchy, and only when the caller may make cgroups where the container's goes:
// in a subtree the host delegated to the user (systemd's user@UID.service). Without
// a cgroupsPath the container's cgroup is "hullrt-<id>" beside the caller's own:
// below it would not do, since a cgroup that holds processes (the caller) cannot
// hand controllers down. It returns nil and no error when nothing there is
// writable by the caller.
func Delegated(cgroupsPath, id string) (*Manager, error) {
	if cgroupsPath == "" {
		if id == "" || strings.Contains(id, "/") || id == "." || id == ".." {
			return nil, fmt.Errorf("container id %q: not usable as a cgroup name", id)
		}
		hs, err := hierarchies()
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			if h.v2() {
				cgroupsPath = filepath.Join(filepath.Dir(h.own), "hullrt-"+id)
			}
		}
		if cgroupsPath == "" {
			return nil, nil
		}
	}
	m, err := New(cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	h := m.unified()
	if h == nil {
		return nil, nil
	}
	// The nearest existing ancestor is where the first directory is made, and
	// moving a process in needs its cgroup.procs too (the kernel checks the
	// common ancestor of where the process is and where it goes).
	dir := filepath.Dir(h.dir())
	for ; len(dir) > len(h.mount); dir = filepath.Dir(dir) {
		if _, err := os.Stat(dir); err == nil {
			break
		}
	}
	if unix.Access(dir, unix.W_OK) != nil || unix.Access(filepath.Join(dir, "cgroup.procs"), unix.W_OK) != nil {
		return nil, nil
	}
	return &Manager{hs: []hierarchy{*h}, partial: true}, nil
}

// Load rebuilds the manager of a container from the string its Path returned.
func Load(path string) (*Manager, error) {
	paths := map[string]string{}
	if strings.HasPrefix(path, "{") {
		if err := json.Unmarshal([]byte(path), &paths); err != nil {
			return nil, fmt.Errorf("cgroup path %q: %w", path, err)
		}
	}
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	m := &Manager{}
	if name := paths[unitKey]; name != "" {
		m.unit = &systemdUnit{name: name}
	}
	for _, h := range hs {
		h.path = path
		if len(paths) > 0 {
			h.path = paths[h.key]
		}
		if h.path == "" {
			continue // a hierarchy mounted after the container was made
		}
		if !filepath.IsAbs(h.path) || filepath.Clean(h.path) != h.path || h.path == "/" {
			return nil, fmt.Errorf("cgroup path %q: not a clean absolute path below the root", h.path)
		}
		m.hs = append(m.hs, h)
	}
	m.parentOwned = len(paths) == 0 && filepath.Dir(path) == DefaultParent
	return m, nil
}

// Path is the manager's identity to save in the container's state and hand to
// Load. It is the cgroup's path from the hierarchy roots ("/hullrt/abc") when that
// is the same on every hierarchy, as it is for absolute and default paths.
// Otherwise (a relative path below different own cgroups) it is a JSON object
// mapping each hierarchy, named as in /proc/self/cgroup ("cpu,cpuacct",
// "name=systemd", "" for cgroup2), to its path.
func (m *Manager) Path() string {
	paths := map[string]string{}
	same := m.unit == nil
	for _, h := range m.hs {
		paths[h.key] = h.path
		same = same && h.path == m.hs[0].path
	}
	if m.unit != nil {
		paths[unitKey] = m.unit.name
	}
	if same && len(m.hs) > 0 && !m.partial {
		return m.hs[0].path
	}
	data, _ := json.Marshal(paths)
	return string(data)
}

// Dirs lists the cgroup's directory on every hierarchy, keyed as in Path.
func (m *Manager) Dirs() map[string]string {
	out := map[string]string{}
	for _, h := range m.hs {
		out[h.key] = h.dir()
	}
	return out
}

// find returns the hierarchy that holds controller, preferring v1: on a hybrid
// host a controller sits on exactly one of them, and the v1 one wins if both list
// it (cgroup.controllers of the unified root only lists unbound controllers).
func (m *Manager) find(controller string) *hierarchy {
	var v2 *hierarchy
	for i := range m.hs {
		h := &m.hs[i]
		if h.v2() {
			if h.has(controller) {
				v2 = h
			}
		} else if h.has(controller) {
			return h
		}
	}
	return v2
}

// unified returns the cgroup2 hierarchy, or nil on a legacy host.
func (m *Manager) unified() *hierarchy {
	for i := range m.hs {
		if m.hs[i].v2() {
			return &m.hs[i]
		}
	}
	return nil
}

// Trace records, from now on, each directory the manager makes and each file it
// writes in tr (nil: off).
func (m *Manager) Trace(tr *trace.Tracer) {
	for i := range m.hs {
		m.hs[i].tr = tr
	}
}

// Apply creates the cgroup on every hierarchy and moves pid into it; pid 0 only
// creates it. Under systemd (NewSystemd) pid must be a running process: systemd
// starts the unit with it in, then the cgroup is made on the hierarchies systemd
// left out (v1 controllers it does not manage) and pid moved there too.
func (m *Manager) Apply(pid int) error {
	if m.unit != nil {
		if pid <= 0 {
			return errors.New("systemd cgroup driver: the unit needs a process to start with")
		}
		start := m.hs[0].tr.Now()
		err := m.startUnit(pid)
		if m.hs[0].tr.On() {
			m.hs[0].tr.Step(start, trace.Cgroups, "StartTransientUnit", err, trace.Args{Target: m.unit.name, Detail: "over D-Bus, waiting for JobRemoved"})
		}
		if err != nil {
			return err
		}
		// A scope's cgroup v2 directory is systemd's, with pid in it; the rest
		// (v1 hierarchies systemd does not manage, a slice unit, which holds no
		// process itself) is the runtime's to make and join.
		scope := strings.HasSuffix(m.unit.name, ".scope")
		for i := range m.hs {
			h := &m.hs[i]
			if h.v2() && scope {
				continue
			}
			if err := create(h); err != nil {
				return err
			}
			if err := writeFile(h.dir(), "cgroup.procs", strconv.Itoa(pid)); err != nil {
				return fmt.Errorf("move pid %d: %w", pid, err)
			}
		}
		return nil
	}
	for i := range m.hs {
		h := &m.hs[i]
		start := h.tr.Now()
		err := create(h)
		if h.tr.On() {
			h.tr.Step(start, trace.Cgroups, "mkdir", err, trace.Args{Target: h.dir()})
		}
		if err != nil {
			return err
		}
		if pid > 0 {
			start := h.tr.Now()
			err := writeFile(h.dir(), "cgroup.procs", strconv.Itoa(pid))
			if h.tr.On() {
				h.tr.Step(start, trace.Cgroups, "write", err, trace.Args{File: filepath.Join(h.dir(), "cgroup.procs"), Value: strconv.Itoa(pid)})
			}
			if err != nil {
				return fmt.Errorf("move pid %d: %w", pid, err)
			}
		}
	}
	return nil
}

// create makes the cgroup directory one level at a time, because each level
// needs preparing before it can take a child or a task: on v2 the parent must
// delegate its controllers through cgroup.subtree_control, and a new v1 cpuset
// starts with empty cpuset.cpus/mems that refuse tasks until filled in.
func create(h *hierarchy) error {
	cur := h.mount
	for _, name := range strings.Split(strings.Trim(h.path, "/"), "/") {
		if h.v2() {
			enableControllers(cur, cur == h.mount)
		}
		next := filepath.Join(cur, name)
		if err := os.Mkdir(next, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create cgroup: %w", err)
		}
		if !h.v2() && h.has("cpuset") {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if err := copyIfEmpty(cur, next, f); err != nil {
					return err
				}
			}
		}
		cur = next
	}
	return nil
}

// enableControllers delegates every controller dir has to its children, one at a
// time: a write fails as a whole when one controller cannot be enabled (the "no
// internal processes" rule refuses domain controllers to a cgroup that holds
// tasks), and the others should still be delegated. A controller left out shows
// up later as a Set error naming the field.
//
// A cgroup other than the root that holds processes itself (the parent a
// cgroupsPath names, when it is a cgroup with processes) gets nothing enabled: the kernel would
// still accept the threaded controllers (cpuset, pids, perf_event), but that makes
// it a thread root, whose new children are invalid domains that refuse every
// process with EOPNOTSUPP. Its children then simply have no controllers.
//
// The root is not asked: its cgroup.procs lists every process of the host (0.2 ms
// of kernel time per create with a thousand processes), and the rule above
// exempts it anyway.
func enableControllers(dir string, root bool) {
	if !root && hasProcs(dir) {
		return
	}
	avail, _ := atomicfile.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	on, _ := atomicfile.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	enabled := strings.Fields(string(on))
	for _, c := range strings.Fields(string(avail)) {
		if !containsAll(enabled, []string{c}) {
			_ = writeFile(dir, "cgroup.subtree_control", "+"+c)
		}
	}
}

// hasProcs tells whether the cgroup at dir holds a process. One read of a few
// bytes says so: the file is generated as it is read, and the rest of a long
// list is not needed.
func hasProcs(dir string) bool {
	fd, err := unix.Open(filepath.Join(dir, "cgroup.procs"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var buf [16]byte
	n, _ := unix.Read(fd, buf[:])
	return strings.TrimSpace(string(buf[:max(n, 0)])) != ""
}

func copyIfEmpty(parent, child, file string) error {
	cur, err := readFile(child, file)
	if err != nil || cur != "" {
		return err
	}
	val, err := readFile(parent, file)
	if err != nil {
		return err
	}
	return writeFile(child, file, val)
}

// Exists tells whether the cgroup directory is there on every hierarchy.
func (m *Manager) Exists() bool {
	for _, h := range m.hs {
		if _, err := os.Stat(h.dir()); err != nil {
			return false
		}
	}
	return len(m.hs) > 0
}

// Destroy removes the cgroup, and any cgroups made below it, on every hierarchy.
// A cgroup directory can only be removed with rmdir, children first, and only once
// it has no task: a process that has just been killed may still count for a short
// while, so EBUSY is retried for up to two seconds. A missing directory is success.
func (m *Manager) Destroy() error {
	var errs []error
	if m.unit != nil {
		errs = append(errs, m.stopUnit())
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, h := range m.hs {
		// Under systemd, a directory still there once the unit stopped is on a v1
		// hierarchy systemd does not manage (freezer, hugetlb, ...), where Apply
		// made it and the slices above it: those go too while they are empty.
		// Elsewhere the slices are systemd's.
		ours := m.unit != nil && !h.v2() && exists(&h, ".")
		errs = append(errs, removeTree(h.dir(), deadline))
		if m.parentOwned {
			// Only an empty parent goes; another container's cgroup keeps it.
			_ = unix.Rmdir(filepath.Dir(h.dir()))
		}
		if ours {
			for dir := filepath.Dir(h.dir()); len(dir) > len(h.mount); dir = filepath.Dir(dir) {
				if unix.Rmdir(dir) != nil {
					break // not empty: another container's
				}
			}
		}
	}
	return errors.Join(errs...)
}

func removeTree(dir string, deadline time.Time) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	// deepest first
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		for {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				return fmt.Errorf("remove cgroup %s: %w", d, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// procsHierarchy picks the hierarchy whose cgroup.procs the manager reads: the
// v1 freezer's if there is one, since Kill and Freeze work on it, else cgroup2's.
func (m *Manager) procsHierarchy() *hierarchy {
	if h := m.find("freezer"); h != nil && !h.v2() {
		return h
	}
	if h := m.unified(); h != nil {
		return h
	}
	return &m.hs[0]
}

// Empty tells whether the cgroup holds no process (Pids lists none and can be
// read).
func (m *Manager) Empty() bool {
	pids, err := m.Pids()
	return err == nil && len(pids) == 0
}

// Pids lists every process in the cgroup and the cgroups below it.
func (m *Manager) Pids() ([]int, error) {
	var pids []int
	root := m.procsHierarchy().dir()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		// a child cgroup removed during the walk held nothing more
		if err != nil {
			if p != root && errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := atomicfile.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			// ENODEV: the cgroup is being removed, which it can be only
			// once it holds no process.
			if (p != root && errors.Is(err, os.ErrNotExist)) || errors.Is(err, unix.ENODEV) {
				return nil
			}
			return err
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cgroup pids: %w", err)
	}
	return pids, nil
}

// Kill sends sig to every process in the cgroup. A process may fork between the
// listing of pids and the signal, so the signal is sent with the cgroup frozen,
// where nothing can fork, and for SIGKILL the round is repeated until the cgroup is
// empty. On cgroup2 SIGKILL goes through cgroup.kill, which the kernel applies to
// the whole tree atomically. A cgroup that does not exist has nothing to kill; one
// made on some hierarchies only (its creator killed midway) is killed through the
// hierarchy that lists its processes. One removed meanwhile (its runtime deleting
// it) has nothing left to kill either.
func (m *Manager) Kill(sig unix.Signal) error {
	err := m.kill(sig)
	if err != nil && m.gone() {
		return nil
	}
	return err
}

// gone tells whether the cgroup's process-listing directory no longer exists.
func (m *Manager) gone() bool {
	_, err := os.Stat(m.procsHierarchy().dir())
	return errors.Is(err, os.ErrNotExist)
}

func (m *Manager) kill(sig unix.Signal) error {
	if len(m.hs) == 0 {
		return nil
	}
	if _, err := os.Stat(m.procsHierarchy().dir()); err != nil {
		return nil
	}
	if h := m.procsHierarchy(); h.v2() && sig == unix.SIGKILL {
		err := writeFile(h.dir(), "cgroup.kill", "1")
		if err == nil {
			return m.waitEmpty()
		}
		if errors.Is(err, unix.ENODEV) {
			return nil // being removed: empty already
		}
		if !errors.Is(err, os.ErrNotExist) { // cgroup.kill is new in Linux 5.14
			return err
		}
	}
	for round := 0; round < 200; round++ {
		frozen := m.Freeze() == nil
		pids, err := m.Pids()
		for _, pid := range pids {
			if e := unix.Kill(pid, sig); e != nil && !errors.Is(e, unix.ESRCH) {
				err = errors.Join(err, fmt.Errorf("signal pid %d: %w", pid, e))
			}
		}
		if frozen {
			err = errors.Join(err, m.Thaw())
		}
		if err != nil || sig != unix.SIGKILL || len(pids) == 0 {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("kill cgroup: processes are still there after 2s")
}

func (m *Manager) waitEmpty() error {
	for i := 0; i < 200; i++ {
		pids, err := m.Pids()
		if err != nil || len(pids) == 0 {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("kill cgroup: processes are still there after 2s")
}

// Freeze stops every process in the cgroup and waits until the kernel reports
// them all frozen. The request is repeated while waiting: a v1 freezer can be
// left in FREEZING by a task forked while the freeze ran. And a task the freezer
// cannot stop where it stands (one in the middle of an exec, waiting for its
// other threads to die, which are frozen already) holds the cgroup in FREEZING
// for good: after half a second the cgroup is thawed, which lets it through, and
// frozen again (runc's v1 freezer retries the same way).
func (m *Manager) Freeze() error {
	h := m.procsHierarchy()
	file, on, done := "freezer.state", "FROZEN", func() bool { s, _ := readFile(h.dir(), "freezer.state"); return s == "FROZEN" }
	if h.v2() {
		file, on, done = "cgroup.freeze", "1", func() bool { return m.eventsFrozen(h) }
	}
	for attempt := 0; attempt < 10; attempt++ {
		deadline := time.Now().Add(500 * time.Millisecond)
		for i := 0; time.Now().Before(deadline); i++ {
			if err := writeFile(h.dir(), file, on); err != nil {
				return fmt.Errorf("freeze: %w", err)
			}
			if done() {
				return nil
			}
			time.Sleep(time.Duration(min(i+1, 10)) * time.Millisecond)
		}
		if err := m.Thaw(); err != nil {
			return fmt.Errorf("freeze: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("freeze: the cgroup did not freeze within 5s")
}

func (m *Manager) eventsFrozen(h *hierarchy) bool {
	ev, _ := readKeyed(h.dir(), "cgroup.events")
	return ev["frozen"] == 1
}

// Thaw lets the processes of a frozen cgroup run again.
func (m *Manager) Thaw() error {
	h := m.procsHierarchy()
	file, off := "freezer.state", "THAWED"
	if h.v2() {
		file, off = "cgroup.freeze", "0"
	}
	if err := writeFile(h.dir(), file, off); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	return nil
}

// Frozen tells whether the cgroup is frozen (not merely freezing).
func (m *Manager) Frozen() (bool, error) {
	h := m.procsHierarchy()
	if h.v2() {
		if _, err := os.Stat(filepath.Join(h.dir(), "cgroup.events")); err != nil {
			return false, err
		}
		return m.eventsFrozen(h), nil
	}
	s, err := readFile(h.dir(), "freezer.state")
	return s == "FROZEN", err
}

// writeFile writes one value to a cgroup file in a single write, as the kernel
// parses each write on its own; with open, write and close only (an
// *os.File would also add the kernfs file to the poller and switch it to
// non-blocking and back: 4-5 more syscalls, and create writes ~30 files).
func writeFile(dir, file, val string) error {
	p := filepath.Join(dir, file)
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	for b := []byte(val); len(b) > 0 && err == nil; {
		var n int
		n, err = unix.Write(fd, b)
		switch {
		case err == unix.EINTR:
			err = nil
		case err != nil:
			err = &os.PathError{Op: "write", Path: p, Err: err}
		default:
			b = b[n:]
		}
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: p, Err: cerr}
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", val, p, err)
	}
	return nil
}

func readFile(dir, file string) (string, error) {
	data, err := atomicfile.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(data)), err
}

// readKeyed reads a flat-keyed file ("key value" lines: memory.events, cpu.stat).
func readKeyed(dir, file string) (map[string]uint64, error) {
	data, err := atomicfile.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			out[f[0]], _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	return out, nil
}
