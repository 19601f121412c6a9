package runtime

import (
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hullproject/hull/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// expandMounts turns the spec's mounts into what the child mounts: bind sources made
// absolute (a relative one is relative to the bundle), and a "cgroup" mount made into
// binds of the container's own cgroup directories, so that the container sees only
// its own cgroup whatever the host's layout.
func expandMounts(spec *specs.Spec, bundle string, cg *cgroups.Manager) []specs.Mount {
	var out []specs.Mount
	for _, m := range spec.Mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			if cg == nil {
				// A rootless container without a cgroup of its own sees the
				// host's cgroups, read-only: every hierarchy mounted there.
				m = specs.Mount{Destination: m.Destination, Type: "bind", Source: "/sys/fs/cgroup", Options: []string{"rbind", "rnosuid", "rnodev", "rnoexec", "rro"}}
				out = append(out, m)
				continue
			}
			out = append(out, cgroupMounts(m, cg)...)
			continue
		}
		if isBind(m) && m.Source != "" && !filepath.IsAbs(m.Source) {
			m.Source = filepath.Join(bundle, m.Source)
		}
		if len(m.UIDMappings)+len(m.GIDMappings) > 0 && !slices.Contains(m.Options, "idmap") && !slices.Contains(m.Options, "ridmap") {
			// Mappings alone are "idmap" (see validateIDMap).
			m.Options = append(slices.Clip(m.Options), "idmap")
		}
		out = append(out, m)
	}
	return out
}

func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// cgroupMounts maps a cgroup mount onto binds. On a cgroup v2 host the container's
// cgroup directory is bound at the destination. On v1 and hybrid hosts the
// destination is a tmpfs holding one directory per hierarchy, named as the host names
// it (cpu, memory, systemd, unified), each a bind of the container's cgroup there;
// the tmpfs is made read-only last if the mount asked for ro.
func cgroupMounts(m specs.Mount, cg *cgroups.Manager) []specs.Mount {
	var opts []string
	ro := false
	for _, o := range m.Options {
		switch o {
		case "ro":
			ro = true
		case "rw", "bind", "rbind":
			continue
		}
		opts = append(opts, o)
	}
	dirs := cg.Dirs()
	if cgroups.HostMode() == cgroups.Unified {
		return []specs.Mount{{Destination: m.Destination, Type: "bind", Source: dirs[""], Options: append([]string{"rbind"}, opts...)}}
	}
	tmpfsOpts := []string{"nosuid", "nodev", "noexec", "mode=755", "size=64k"}
	out := []specs.Mount{{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: tmpfsOpts}}
	keys := make([]string, 0, len(dirs))
	for k := range dirs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.TrimPrefix(k, "name=")
		if k == "" {
			name = "unified"
		}
		out = append(out, specs.Mount{Destination: path.Join(m.Destination, name), Type: "bind", Source: dirs[k], Options: append([]string{"rbind"}, opts...)})
	}
	if ro {
		out = append(out, specs.Mount{Destination: m.Destination, Type: "bind", Options: []string{"remount", "bind", "ro"}})
	}
	return out
}
