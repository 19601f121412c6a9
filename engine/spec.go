package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hullproject/hull/engine/spec"
	"github.com/hullproject/hull/runtime"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPidsLimit bounds the processes of a container unless --pids-limit says
// otherwise (podman's default; a fork bomb stays inside its container).
const DefaultPidsLimit = 2048

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// command resolves the process arguments Docker's way: --entrypoint replaces the
// image's entrypoint and drops its cmd; args replace the cmd.
func command(img *ocispec.ImageConfig, o *CreateOptions) (entrypoint, cmd []string) {
	entrypoint = img.Entrypoint
	cmd = img.Cmd
	if o.Entrypoint != nil {
		entrypoint = *o.Entrypoint
		cmd = nil
		if len(entrypoint) == 1 && entrypoint[0] == "" {
			entrypoint = nil
		}
	}
	if len(o.Cmd) > 0 {
		cmd = o.Cmd
	}
	return entrypoint, cmd
}

// mergeEnv adds over to base, a later KEY replacing an earlier one in place.
func mergeEnv(base, over []string) []string {
	out := slices.Clone(base)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// capName is a --cap-add or --cap-drop name (with or without CAP_, any case, or
// ALL) as the spec has it, refused unless the kernel has it (all).
func capName(n string, all []string) (string, error) {
	n = strings.ToUpper(n)
	if n == "ALL" {
		return n, nil
	}
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	if !slices.Contains(all, n) {
		return "", fmt.Errorf("unknown capability %q", n)
	}
	return n, nil
}

// capsFor applies --cap-add and --cap-drop (judged in options.go) to the default
// set.
func capsFor(privileged bool, add, drop []string) []string {
	// Everything means everything hull itself holds: asking the kernel for a
	// capability outside the caller's bounding set fails (a sandboxed host may lack
	// some), so --privileged and --cap-add ALL get that set, as podman's do.
	all, held := runtime.Capabilities()
	if privileged {
		return held
	}
	set := map[string]bool{}
	for _, c := range spec.DefaultCaps {
		set[c] = true
	}
	for _, d := range drop {
		n, _ := capName(d, all)
		if n == "ALL" {
			clear(set)
		}
		delete(set, n)
	}
	for _, a := range add {
		n, _ := capName(a, all)
		if n == "ALL" {
			for _, c := range held {
				set[c] = true
			}
		}
		set[n] = n != "ALL"
	}
	var out []string
	for _, c := range all {
		if set[c] {
			out = append(out, c)
		}
	}
	return out
}

// parseUlimit reads Docker's --ulimit name=soft[:hard].
func parseUlimit(s string) (specs.POSIXRlimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return specs.POSIXRlimit{}, fmt.Errorf("ulimit %q: want name=soft[:hard]", s)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	if !hasHard {
		hardS = softS
	}
	parse := func(v string) (uint64, error) {
		if v == "-1" || v == "unlimited" {
			return ^uint64(0), nil
		}
		return strconv.ParseUint(v, 10, 64)
	}
	soft, err1 := parse(softS)
	hard, err2 := parse(hardS)
	if err1 != nil || err2 != nil || soft > hard {
		return specs.POSIXRlimit{}, fmt.Errorf("ulimit %q: bad values", s)
	}
	return specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: soft, Hard: hard}, nil
}

// makeSpec builds the container's OCI spec from the plan (the record, the image
// config and the judged options) and its user, with Docker's defaults: its 14
// capabilities, its seccomp profile for them, masked and read-only /proc and /sys
// paths, a private /dev with a 64 MiB /dev/shm, a pids limit, and new pid, ipc,
// uts, mount, cgroup and (unless --network host) network namespaces.
func makeSpec(p *createPlan, rootfs, recDir string, user specs.User) (*specs.Spec, error) {
	c, img, o := p.c, p.config, p.o
	capList := capsFor(o.Privileged, o.CapAdd, o.CapDrop)
	env := mergeEnv(img.Env, c.Config.Env)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		env = append([]string{defaultPath}, env...)
	}
	env = mergeEnv([]string{"HOSTNAME=" + c.Config.Hostname}, env)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") }) {
		env = append(env, "HOME="+homeOf(rootfs, user.UID))
	}
	if c.Config.Tty {
		env = mergeEnv([]string{"TERM=xterm"}, env)
	}
	cwd := c.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if c.Path == "" {
		return nil, fmt.Errorf("no command specified")
	}
	s := &specs.Spec{
		// Nothing newer than 1.0.2 is used, and older runtimes (crun < 1.9) refuse
		// any version that is not 1.0.x.
		Version:     "1.0.2",
		Root:        &specs.Root{Path: rootfs, Readonly: o.ReadOnly},
		Hostname:    c.Config.Hostname,
		Domainname:  c.Config.Domainname,
		Annotations: o.Annotations,
		Process: &specs.Process{
			Terminal: c.Config.Tty,
			User:     user,
			Args:     append([]string{c.Path}, c.Args...),
			Env:      env,
			Cwd:      cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: capList, Effective: capList, Permitted: capList,
			},
		},
		Mounts: spec.DefaultMounts(),
		Linux: &specs.Linux{
			// Beside the container's own cgroup, not below a shared parent: nothing is
			// left behind when the last container goes.
			CgroupsPath:   "/hull-" + c.ID,
			MaskedPaths:   slices.Clone(runtime.DefaultMaskedPaths),
			ReadonlyPaths: slices.Clone(runtime.DefaultReadonlyPaths),
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			Resources: &specs.LinuxResources{},
		},
	}
	if c.Config.Tty {
		s.Process.ConsoleSize = o.ConsoleSize
	}
	if c.HostConfig.NetworkMode != "host" {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	for _, name := range []string{"hostname", "hosts", "resolv.conf"} {
		s.Mounts = append(s.Mounts, specs.Mount{
			Destination: "/etc/" + name, Type: "bind", Source: filepath.Join(recDir, name),
			Options: []string{"rbind", "rprivate", "nosuid", "nodev", "noexec"},
		})
	}
	r := s.Linux.Resources
	if o.Privileged {
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		for i := range s.Mounts {
			if s.Mounts[i].Type == "sysfs" || s.Mounts[i].Type == "cgroup" {
				s.Mounts[i].Options = slices.DeleteFunc(s.Mounts[i].Options, func(o string) bool { return o == "ro" })
			}
		}
		r.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else {
		r.Devices = spec.DefaultDeviceRules()
	}
	pids := o.PidsLimit
	if pids == 0 {
		pids = DefaultPidsLimit
	}
	if pids > 0 {
		r.Pids = &specs.LinuxPids{Limit: &pids}
	}
	limits := o.resources()
	limits.limit(r)
	if err := addDevices(s, c.HostConfig.Devices); err != nil {
		return nil, err
	}
	applyResourceOptions(s, c.ID, o, &p.resourceSettings)
	s.Process.Rlimits = append(s.Process.Rlimits, p.rlimits...)
	s.Process.NoNewPrivileges = p.noNewPrivileges
	s.Process.User.Umask = p.umask
	if p.systemPathsUnconfined {
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	}
	// --security-opt apparmor=PROFILE, as docker's daemon takes it: applied where
	// the host has AppArmor, and left out where it has not (the runtime would
	// refuse it) or for a privileged container; "unconfined" is no profile.
	if p.apparmor != "" && p.apparmor != "unconfined" && !o.Privileged && runtime.AppArmorEnabled() {
		s.Process.ApparmorProfile = p.apparmor
	}
	switch {
	case o.Privileged || p.seccomp == "unconfined":
	case p.seccomp == "default":
		s.Linux.Seccomp = spec.DefaultSeccompFor(capList)
	default:
		s.Linux.Seccomp = p.profile
	}
	return s, nil
}

// InitPath is where --init's hull-init is mounted in the container (docker's is
// /sbin/docker-init).
const InitPath = "/sbin/hull-init"

// readSeccomp reads the seccomp profile of --security-opt seccomp=FILE.
func readSeccomp(file string) (*specs.LinuxSeccomp, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", file, err)
	}
	if len(p.Architectures) == 0 {
		p.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	}
	return &p, nil
}

// initBinary is the hull-init --init mounts: Engine.Init, or hull-init beside Exe.
func (e *Engine) initBinary() (string, error) {
	bin := e.Init
	if bin == "" {
		bin = filepath.Join(filepath.Dir(e.Exe), "hull-init")
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(bin); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("--init: no hull-init at %s (make build puts it beside hull; or set $HULL_INIT)", bin)
	}
	return bin, nil
}

// addInit makes hull-init (bin) the container's PID 1, running the container's
// command. It is mounted read-only (and nosuid): the container sees it as
// /proc/1/exe and must not be able to write through it to the host's file, which
// every --init container shares.
func addInit(c *Container, s *specs.Spec, bin string) {
	s.Mounts = append(s.Mounts, specs.Mount{
		Destination: InitPath, Type: "bind", Source: bin,
		Options: []string{"bind", "ro", "nosuid", "nodev", "rprivate"},
	})
	s.Process.Args = append([]string{InitPath, "--"}, s.Process.Args...)
	c.HostConfig.Init = true
}
