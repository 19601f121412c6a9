package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hullproject/hull/internal/proc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A container's pid, ipc, uts, network and cgroup namespaces each follow a mode in
// its record (HostConfig.PidMode, IpcMode, UTSMode, NetworkMode, CgroupnsMode):
//
//	mode                     spec entry
//	"", private, shareable,  a new namespace (none, bridge and named networks are
//	none, any network name   the network code's to wire; namespaces.go only makes them)
//	host                     no entry: the host's namespace
//	container:<id>           joined: /proc/<that container's init pid>/ns/<type>
//	pod:<id>                 joined: /proc/<the pod's infra pid>/ns/<type>
//
// A joined namespace's path is only known while its owner runs, and changes when it
// restarts, so Create writes a path that does not exist (the runtime refuses it,
// failing closed) and Start (prepareStart) writes the owner's current one.

// NamespaceOptions are the namespace flags of `hull run` and `hull create`.
type NamespaceOptions struct {
	Pid      string // --pid: host or container:NAME
	IPC      string // --ipc: private, shareable, host or container:NAME
	UTS      string // --uts: host or container:NAME
	Cgroupns string // --cgroupns: private or host
	Userns   string // --userns: host only, for now
	Pod      string // --pod: join the pod's shared namespaces
}

// SharingHostConfig is the volume and namespace part of HostConfig, in Docker's
// shape (see volumes.go and this file).
type SharingHostConfig struct {
	Binds        []string `json:"Binds"`
	VolumesFrom  []string `json:"VolumesFrom"`
	PidMode      string   `json:"PidMode"`
	IpcMode      string   `json:"IpcMode"`
	UTSMode      string   `json:"UTSMode"`
	CgroupnsMode string   `json:"CgroupnsMode"`
	UsernsMode   string   `json:"UsernsMode"`
}

// nsTypes are the namespace types a mode chooses.
var nsTypes = []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace, specs.CgroupNamespace}

// procNS is each type's name under /proc/<pid>/ns.
var procNS = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts",
	specs.NetworkNamespace: "net", specs.CgroupNamespace: "cgroup", specs.MountNamespace: "mnt",
	specs.UserNamespace: "user",
}

// joinAtStart is the placeholder path of a joined namespace until Start.
const joinAtStart = "/nonexistent/hull-joins-at-start/"

// modeOf is c's mode for namespace type t.
func modeOf(c *Container, t specs.LinuxNamespaceType) string {
	h := &c.HostConfig
	switch t {
	case specs.PIDNamespace:
		return h.PidMode
	case specs.IPCNamespace:
		return h.IpcMode
	case specs.UTSNamespace:
		return h.UTSMode
	case specs.NetworkNamespace:
		return h.NetworkMode
	case specs.CgroupNamespace:
		return h.CgroupnsMode
	}
	return ""
}

// joins tells whether a mode joins another's namespace.
func joins(mode string) bool {
	return strings.HasPrefix(mode, "container:") || strings.HasPrefix(mode, "pod:")
}

// JoinsNetwork tells whether a network mode is another's namespace (host,
// container:<id>, pod:<id>): the network code leaves such a container alone.
func JoinsNetwork(mode string) bool { return mode == "host" || joins(mode) }

// namespaceFor returns the spec entry of namespace type t for c; ok is false when c
// uses the host's (no entry).
func namespaceFor(c *Container, t specs.LinuxNamespaceType) (ns specs.LinuxNamespace, ok bool) {
	mode := modeOf(c, t)
	switch {
	case mode == "host":
		return specs.LinuxNamespace{}, false
	case joins(mode):
		return specs.LinuxNamespace{Type: t, Path: joinAtStart + procNS[t]}, true
	}
	return specs.LinuxNamespace{Type: t}, true
}

// planNamespaces records the namespace options (judged in options.go) as modes, a
// container named by its ID, so that a rename cannot change what is joined; and
// judges what needs the containers or the pod they name.
func (e *Engine) planNamespaces(c *Container, o *CreateOptions) error {
	var r refusals
	h := &c.HostConfig
	h.UsernsMode = o.Userns
	join := func(field, flag, mode string) string {
		ref, ok := strings.CutPrefix(mode, "container:")
		if !ok {
			return mode
		}
		id, err := e.Resolve(ref)
		if err != nil {
			r.add(field, fmt.Errorf("--%s %s: %w", flag, mode, err))
			return ""
		}
		return "container:" + id
	}
	h.PidMode = join("Pid", "pid", o.Pid)
	h.IpcMode = join("IPC", "ipc", o.IPC)
	h.UTSMode = join("UTS", "uts", o.UTS)
	h.CgroupnsMode = o.Cgroupns
	if o.Pod != "" {
		p, err := e.GetPod(o.Pod)
		if err != nil {
			r.add("Pod", err)
			return r.err()
		}
		c.Pod = p.ID
		for _, t := range p.Share {
			mode := "pod:" + p.ID
			switch t {
			case "pid":
				r.add("Pid", setJoin(&h.PidMode, o.Pid, "pid", mode))
			case "ipc":
				r.add("IPC", setJoin(&h.IpcMode, o.IPC, "ipc", mode))
			case "uts":
				r.add("UTS", setJoin(&h.UTSMode, o.UTS, "uts", mode))
			case "net":
				net := o.Network
				if net == "none" {
					net = "" // the flag's default
				}
				r.add("Network", setJoin(&h.NetworkMode, net, "network", mode))
			}
		}
		if strings.HasPrefix(h.UTSMode, "pod:") {
			if o.Hostname != "" {
				r.add("Hostname", errors.New("--hostname conflicts with --pod: the pod's uts namespace is shared"))
			}
			c.Config.Hostname = p.Hostname
		}
	}
	// --hostname with these is refused by the options' judgement.
	switch {
	case h.UTSMode == "host":
		c.Config.Hostname, _ = os.Hostname()
	case strings.HasPrefix(h.UTSMode, "container:"):
		other, err := e.load(strings.TrimPrefix(h.UTSMode, "container:"))
		if err != nil {
			r.add("UTS", err)
			break
		}
		c.Config.Hostname = other.Config.Hostname
	}
	return r.err()
}

func setJoin(dst *string, given, flag, mode string) error {
	if given != "" && given != "private" {
		return fmt.Errorf("--%s %s conflicts with --pod, which shares the %s namespace", flag, given, flag)
	}
	*dst = mode
	return nil
}

// applyNamespaces puts c's namespace modes into its spec, and keeps the runtime
// from setting a host name in a uts namespace that is not the container's own.
func applyNamespaces(c *Container, s *specs.Spec) {
	kept := slices.DeleteFunc(slices.Clone(s.Linux.Namespaces), func(ns specs.LinuxNamespace) bool {
		return slices.Contains(nsTypes, ns.Type)
	})
	for _, t := range nsTypes {
		ns, ok := namespaceFor(c, t)
		if !ok {
			continue
		}
		// A path the network code set (--network container:) stays; Start
		// refreshes it all the same.
		if i := slices.IndexFunc(s.Linux.Namespaces, func(o specs.LinuxNamespace) bool { return o.Type == t }); i >= 0 && ns.Path != "" && s.Linux.Namespaces[i].Path != "" {
			ns.Path = s.Linux.Namespaces[i].Path
		}
		kept = append(kept, ns)
	}
	s.Linux.Namespaces = kept
	if ns, ok := namespaceFor(c, specs.UTSNamespace); !ok || ns.Path != "" {
		s.Hostname, s.Domainname = "", ""
	}
}

// prepareStart writes the current paths of the namespaces c joins into its bundle,
// starting its pod's infra process first if it is not running.
func (e *Engine) prepareStart(c *Container) error {
	var joined []specs.LinuxNamespaceType
	for _, t := range nsTypes {
		if joins(modeOf(c, t)) {
			joined = append(joined, t)
		}
	}
	if len(joined) == 0 {
		return nil
	}
	// Before the process exists: inspect finds who shares a namespace by the index.
	if err := e.indexJoins(c); err != nil {
		return fmt.Errorf("the join index: %w", err)
	}
	if c.Pod != "" {
		if err := e.startInfra(c.Pod); err != nil {
			return err
		}
		if err := e.podNetEtc(c); err != nil {
			return err
		}
	}
	s, file, err := e.readSpec(c.ID)
	if err != nil {
		return err
	}
	for i, ns := range s.Linux.Namespaces {
		if !slices.Contains(joined, ns.Type) {
			continue
		}
		pid, err := e.ownerPid(modeOf(c, ns.Type))
		if err != nil {
			return fmt.Errorf("cannot join the %s namespace: %w", procNS[ns.Type], err)
		}
		s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", pid, procNS[ns.Type])
	}
	return writeJSON(file, s)
}

// ownerPid is the pid whose namespaces a joining mode names.
func (e *Engine) ownerPid(mode string) (int, error) {
	if id, ok := strings.CutPrefix(mode, "container:"); ok {
		other, err := e.Get(id)
		if err != nil {
			return 0, err
		}
		if other.State.Status != StatusRunning || other.State.Pid == 0 {
			return 0, fmt.Errorf("container %s is not running", other.Name)
		}
		return other.State.Pid, nil
	}
	id := strings.TrimPrefix(mode, "pod:")
	p, err := e.loadPod(id)
	if err != nil {
		return 0, err
	}
	if !proc.Alive(p.Infra.Pid, p.Infra.Start) {
		return 0, fmt.Errorf("pod %s is not running", p.Name)
	}
	return p.Infra.Pid, nil
}

// NamespaceInfo is one of a running container's namespaces, as `hull inspect` shows
// it: its inode (the namespace's identity), whether the container made it, and who
// else is in it: the running containers by name and the pods' infra processes as
// "pod:NAME" that are in it by joining (container:X, pod:X, one after the other),
// or, for a namespace that is the host's (hull's own: --pid host and the like, the
// user namespace of every container), "host" alone. The containers that are merely
// in the host's namespace too are not listed: that is every container without a
// namespace of its own of that type, the same for each, and would make each
// inspect read every record.
type NamespaceInfo struct {
	Inode      uint64   `json:"inode"`
	Owned      bool     `json:"owned"`
	SharedWith []string `json:"sharedWith"`
}

func nsInodes(pid int) map[string]uint64 {
	out := map[string]uint64{}
	// Each looked up in the directory, opened once, rather than each by its
	// whole path; and its link read ("net:[4026531840]"), which names the inode
	// without the nsfs file a stat of the link's target makes the kernel find or
	// make: inspect of hundreds does this for every one.
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return out
	}
	defer unix.Close(dir)
	buf := make([]byte, 64)
	for _, name := range procNS {
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			continue
		}
		link := string(buf[:n])
		num, ok := strings.CutPrefix(link, name+":[")
		if num, ok2 := strings.CutSuffix(num, "]"); ok && ok2 {
			if ino, err := strconv.ParseUint(num, 10, 64); err == nil {
				out[name] = ino
			}
		}
	}
	return out
}

// Namespaces tells, for a running container, which namespaces it is in and with
// whom it shares them; nil when it does not run. To show several, use one Census.
func (e *Engine) Namespaces(c *Container) map[string]NamespaceInfo {
	return e.NewCensus().Namespaces(c)
}

// Namespaces is Engine.Namespaces, reading each record it needs once per census.
func (s *Census) Namespaces(c *Container) map[string]NamespaceInfo {
	if c.State.Status != StatusRunning || c.State.Pid == 0 {
		return nil
	}
	mine := nsInodes(c.State.Pid)
	if len(mine) == 0 {
		return nil
	}
	s.nsMu.Lock()
	defer s.nsMu.Unlock()
	if s.host == nil {
		s.host = nsInodes(os.Getpid())
		s.members, s.pods, s.joiners = map[string]*censusEntry{}, map[string]*Pod{}, map[string][]string{}
		// A root whose joiners a hull without the index started gets it now.
		s.e.ensureJoinIndex()
	}
	// c as read and made truthful by the caller: the first the searches meet.
	s.members[c.ID] = &censusEntry{c: c, ino: mine}
	out := map[string]NamespaceInfo{}
	for name, ino := range mine {
		info := NamespaceInfo{Inode: ino, SharedWith: []string{}, Owned: ownsNamespace(c, name)}
		// "host" is where hull itself runs: what --pid host and the like give.
		// (A record that says c made it is not taken on trust: the inodes decide.)
		if s.host[name] == ino {
			info.SharedWith = append(info.SharedWith, "host")
		} else if t, ok := nsTypeOf(name); ok {
			info.SharedWith = s.sharers(c, t, name, ino)
		}
		out[name] = info
	}
	return out
}

// nsTypeOf is the type of namespace name (procNS's) when a mode can join it.
func nsTypeOf(name string) (specs.LinuxNamespaceType, bool) {
	for _, t := range nsTypes {
		if procNS[t] == name {
			return t, true
		}
	}
	return "", false
}

// sharers are the names of those in c's namespace of type t (inode ino, not the
// host's), in order: only joins of that type put two in one namespace, so they are
// in c's component of the join graph of type t, whose edges are the modes
// ("container:ID", "pod:ID", up from the joiner) and the join index's entries
// (down from the target). The component is walked through stopped and removed
// containers too (two that joined one that stopped still share its namespace);
// those listed are the running ones, and the pods' live infra processes, whose
// namespace has the inode.
func (s *Census) sharers(c *Container, t specs.LinuxNamespaceType, name string, ino uint64) []string {
	out := []string{}
	start := "container:" + c.ID
	seen := map[string]bool{start: true}
	queue := []string{start}
	visit := func(node string) {
		if !seen[node] {
			seen[node] = true
			queue = append(queue, node)
		}
	}
	for len(queue) > 0 {
		node := queue[0]
		queue = queue[1:]
		kind, id, _ := strings.Cut(node, ":")
		if kind == "container" {
			if en := s.member(id); en != nil {
				if m := modeOf(en.c, t); joins(m) {
					visit(m)
				}
				if id != c.ID && en.c.State.Status == StatusRunning && en.c.State.Pid != 0 && en.ns(name) == ino {
					out = append(out, en.c.Name)
				}
			}
		} else if p := s.pod(id); p != nil && proc.Alive(p.Infra.Pid, p.Infra.Start) && nsInodes(p.Infra.Pid)[name] == ino {
			out = append(out, "pod:"+p.Name)
		}
		joiners, ok := s.joiners[id]
		if !ok {
			joiners = s.e.joiners(id)
			s.joiners[id] = joiners
		}
		for _, j := range joiners {
			en := s.member(j)
			if en == nil {
				// rm died between the record and the entry: the entry goes
				if _, err := os.Stat(filepath.Join(s.e.dir(j), "config.json")); errors.Is(err, os.ErrNotExist) {
					os.Remove(filepath.Join(s.e.joinsDir(), id, j))
				}
				continue
			}
			if !slices.Contains(joinTargets(en.c), id) {
				// never joined it (modes do not change): not an entry rm will take
				os.Remove(filepath.Join(s.e.joinsDir(), id, j))
				continue
			}
			if modeOf(en.c, t) == node {
				visit("container:" + j)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ownsNamespace tells whether c's namespace name (procNS's) is one made for c
// when it started: the mount namespace always is, the user namespace never (hull
// runs containers in its own), the others when their mode neither joins one nor
// is the host's.
func ownsNamespace(c *Container, name string) bool {
	switch name {
	case "mnt":
		return true
	case "user":
		return false
	}
	for t, n := range procNS {
		if n == name {
			ns, ok := namespaceFor(c, t)
			return ok && ns.Path == ""
		}
	}
	return false
}
