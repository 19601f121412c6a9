package engine

import (
	"fmt"
	"net/netip"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/proc"
	"github.com/hullproject/hull/network"
	"github.com/hullproject/hull/network/nft"
	"github.com/hullproject/hull/runtime"
)

// Kernel is a running container as the kernel sees it: read from /proc and /sys
// (through its init, the host pid in the record), not from the spec hull wrote.
// Differs lists where the two disagree, each as one sentence.
type Kernel struct {
	Pid        int                      `json:"pid"`
	Namespaces map[string]NamespaceInfo `json:"namespaces"`
	Cgroups    []runtime.KernelCgroup   `json:"cgroups"`
	// Capabilities are the five sets by name: bounding, effective, permitted,
	// inheritable, ambient.
	Capabilities map[string][]string `json:"capabilities"`
	NoNewPrivs   bool                `json:"noNewPrivs"`
	Seccomp      KernelSeccomp       `json:"seccomp"`
	// Mounts are /proc/PID/mountinfo's: mount points as the container sees them.
	Mounts  []proc.Mount        `json:"mounts"`
	Network []network.Interface `json:"network"`
	// Firewall are the rules of hull's nftables table that concern the
	// container: its published ports, its address, its networks' bridges.
	Firewall []nft.Rule `json:"nftables"`
	Differs  []string   `json:"differsFromSpec"`
}

// KernelSeccomp is a process's seccomp state.
type KernelSeccomp struct {
	Mode    string `json:"mode"` // disabled, strict, filter
	Filters int    `json:"filters"`
}

var seccompModes = map[int]string{0: "disabled", 1: "strict", 2: "filter"}

// Kernel reads the kernel's view of running container ref.
func (e *Engine) Kernel(ref string) (*Kernel, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	pid := c.State.Pid
	if c.State.Status != StatusRunning || pid == 0 {
		return nil, fmt.Errorf("container %s is not running", c.Name)
	}
	k := &Kernel{Pid: pid, Namespaces: e.Namespaces(c)}
	if k.Cgroups, err = runtime.CgroupsOf(pid); err != nil {
		return nil, fmt.Errorf("cgroups of %s: %w", c.Name, err)
	}
	p, err := proc.ReadPrivileges(pid)
	if err != nil {
		return nil, fmt.Errorf("privileges of %s: %w", c.Name, err)
	}
	k.Capabilities = map[string][]string{
		"bounding": capNames(p.Bounding), "effective": capNames(p.Effective), "permitted": capNames(p.Permitted),
		"inheritable": capNames(p.Inheritable), "ambient": capNames(p.Ambient),
	}
	k.NoNewPrivs = p.NoNewPrivs
	k.Seccomp = KernelSeccomp{Mode: seccompModes[p.Seccomp], Filters: p.SeccompFilters}
	if k.Mounts, err = proc.ReadMounts(pid); err != nil {
		return nil, fmt.Errorf("mounts of %s: %w", c.Name, err)
	}
	if k.Network, err = network.Interfaces("/proc/" + strconv.Itoa(pid) + "/ns/net"); err != nil {
		return nil, fmt.Errorf("network of %s: %w", c.Name, err)
	}
	if k.Firewall, err = e.firewallOf(k.Network); err != nil {
		return nil, fmt.Errorf("nftables rules of %s: %w", c.Name, err)
	}
	// The record may be stale by now: the pid must still be the container's.
	if c2, err := e.Get(c.ID); err != nil || c2.State.Pid != pid || c2.State.Status != StatusRunning {
		return nil, fmt.Errorf("container %s stopped while it was read", c.Name)
	}
	spec, _, err := e.readSpec(c.ID)
	if err != nil {
		return nil, err
	}
	k.Differs = k.compare(spec)
	return k, nil
}

// firewallOf lists the rules of hull's table that name one of the addresses or
// bridges of the interfaces: a rule's key (nft.Rule) holds what it is made of.
func (e *Engine) firewallOf(ifs []network.Interface) ([]nft.Rule, error) {
	var words []string
	for _, it := range ifs {
		if it.Bridge != "" {
			words = append(words, it.Bridge)
		}
		for _, a := range it.Addresses {
			if p, err := netip.ParsePrefix(a); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
				words = append(words, p.Addr().String())
			}
		}
	}
	out := []nft.Rule{}
	if len(words) == 0 {
		return out, nil
	}
	m, err := e.Networks()
	if err != nil {
		return nil, err
	}
	rules, err := nft.List(m.Table())
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		for _, f := range strings.Fields(r.Key) {
			host, _, _ := strings.Cut(f, ":") // "10.88.0.2:80"
			if slices.Contains(words, f) || slices.Contains(words, host) {
				out = append(out, r)
				break
			}
		}
	}
	return out, nil
}

func capNames(set uint64) []string {
	n := runtime.CapabilityNames(set)
	if n == nil {
		return []string{}
	}
	return n
}

// compare lists where the kernel's view differs from the spec.
func (k *Kernel) compare(spec *specs.Spec) []string {
	out := []string{}
	if spec.Process != nil {
		if c := spec.Process.Capabilities; c != nil {
			for _, s := range []struct {
				name string
				list []string
			}{{"bounding", c.Bounding}, {"effective", c.Effective}, {"permitted", c.Permitted}, {"inheritable", c.Inheritable}, {"ambient", c.Ambient}} {
				want := slices.Clone(s.list)
				sort.Strings(want)
				got := slices.Clone(k.Capabilities[s.name])
				sort.Strings(got)
				if !slices.Equal(want, got) {
					out = append(out, fmt.Sprintf("capabilities %s: the spec has [%s], the kernel [%s]", s.name, strings.Join(want, " "), strings.Join(got, " ")))
				}
			}
		}
		if spec.Process.NoNewPrivileges != k.NoNewPrivs {
			out = append(out, fmt.Sprintf("no_new_privs: the spec has %v, the kernel %v", spec.Process.NoNewPrivileges, k.NoNewPrivs))
		}
	}
	if spec.Linux == nil {
		return out
	}
	wantMode := "disabled"
	if spec.Linux.Seccomp != nil {
		wantMode = "filter"
	}
	if k.Seccomp.Mode != wantMode {
		out = append(out, fmt.Sprintf("seccomp: the spec means %s, the kernel has %s", wantMode, k.Seccomp.Mode))
	}
	host := nsInodes(os.Getpid())
	for _, ns := range spec.Linux.Namespaces {
		name := procNS[ns.Type]
		info, ok := k.Namespaces[name]
		if name == "" || !ok {
			continue
		}
		if ns.Path != "" {
			var st unix.Stat_t
			if err := unix.Stat(ns.Path, &st); err == nil && st.Ino != info.Inode {
				out = append(out, fmt.Sprintf("%s namespace: the spec joins %s (inode %d), the kernel has inode %d", name, ns.Path, st.Ino, info.Inode))
			}
		} else if host[name] == info.Inode {
			out = append(out, fmt.Sprintf("%s namespace: the spec makes a new one, the kernel has the host's", name))
		}
	}
	if r := spec.Linux.Resources; r != nil {
		if r.Memory != nil && r.Memory.Limit != nil && *r.Memory.Limit > 0 {
			if got, ok := k.file("memory.limit_in_bytes", "memory.max"); ok && got != strconv.FormatInt(*r.Memory.Limit, 10) {
				out = append(out, fmt.Sprintf("memory limit: the spec has %d, the kernel %s", *r.Memory.Limit, got))
			}
		}
		if r.Pids != nil && r.Pids.Limit != nil {
			want := strconv.FormatInt(*r.Pids.Limit, 10)
			if *r.Pids.Limit <= 0 {
				want = "max"
			}
			if got, ok := k.file("pids.max"); ok && got != want {
				out = append(out, fmt.Sprintf("pids limit: the spec has %s, the kernel %s", want, got))
			}
		}
		out = append(out, runtime.CgroupsDiffer(k.Cgroups, r)...)
	}
	return append(out, k.compareMounts(spec)...)
}

// compareMounts lists the spec's mount destinations the container's mount table
// lacks, and the container's mount points that are neither a spec mount nor under
// one (a submount of a recursive bind, /sys/fs/cgroup's hierarchies), nor a masked
// or read-only path (made by the runtime from the spec's lists), nor the root.
// /proc/PID/mountinfo shows points from the container's root, so they compare
// with the spec's destinations as they are.
func (k *Kernel) compareMounts(spec *specs.Spec) []string {
	var out []string
	points := map[string]bool{}
	for _, m := range k.Mounts {
		points[m.Point] = true
	}
	var dests []string
	for _, m := range spec.Mounts {
		d := path.Clean("/" + m.Destination)
		dests = append(dests, d)
		if !points[d] {
			out = append(out, fmt.Sprintf("mount %s (%s from %s): in the spec, not in the container's mount table", d, m.Type, m.Source))
		}
	}
	var made []string
	if spec.Linux != nil {
		made = append(slices.Clone(spec.Linux.MaskedPaths), spec.Linux.ReadonlyPaths...)
	}
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	seen := map[string]bool{}
	for _, m := range k.Mounts {
		if m.Point == "/" || seen[m.Point] || slices.Contains(made, m.Point) ||
			slices.ContainsFunc(dests, func(d string) bool { return d != "/" && under(m.Point, d) }) {
			continue
		}
		seen[m.Point] = true
		out = append(out, fmt.Sprintf("mount %s (%s from %s): in the container's mount table, not in the spec", m.Point, m.FSType, m.Source))
	}
	return out
}

// file is the first of the files that one of the cgroups has.
func (k *Kernel) file(names ...string) (string, bool) {
	for _, n := range names {
		for _, g := range k.Cgroups {
			if v, ok := g.Files[n]; ok {
				return v, true
			}
		}
	}
	return "", false
}
