package build

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/hullproject/hull/engine/spec"
	"github.com/hullproject/hull/internal/fsroot"
	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/runtime"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runError is a RUN whose command failed.
type runError struct {
	code   int
	output string
}

func (e *runError) Error() string {
	if e.output != "" {
		return fmt.Sprintf("exit code %d: %s", e.code, e.output)
	}
	return fmt.Sprintf("exit code %d", e.code)
}

// runSpec is what one RUN runs, judged before the cache is asked.
type runSpec struct {
	args    []string
	env     []string
	network string
	mounts  []runMount
	files   map[string]string // /dev/pipes/<name> → content (a heredoc script)
}

// runMount is one --mount, its source resolved.
type runMount struct {
	m      *instructions.Mount
	source string // host path (bind, cache)
	secret []byte // a secret's content
	key    string // what the cache key takes of it
	rw     bool
}

// run runs a RUN instruction.
func (st *stage) run(c *instructions.RunCommand, text string) (bool, error) {
	if sec := instructions.GetSecurity(c); sec != "" && sec != instructions.SecuritySandbox {
		return false, fmt.Errorf("RUN --security=%s is not supported", sec)
	}
	if len(instructions.GetDevices(c)) > 0 {
		return false, errors.New("RUN --device is not supported")
	}
	rs := &runSpec{files: map[string]string{}}
	args := c.CmdLine
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return false, fmt.Errorf("parsing produced an invalid run command: %v", args)
		}
		// BuildKit's rules (dockerfile2llb's dispatchRun): a lone heredoc is the
		// script, run by its #! line from a file if it has one, else by the shell;
		// anything else is given to the shell whole.
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if strings.HasPrefix(data, "#!") {
				name := path.Base(c.Files[0].Name)
				rs.files["/dev/pipes/"+name] = data
				args = []string{"/dev/pipes/" + name}
				c.PrependShell = false
			} else {
				args = []string{data}
			}
		} else {
			var b strings.Builder
			b.WriteString(args[0])
			for _, f := range c.Files {
				b.WriteByte('\n')
				b.WriteString(f.Data)
				b.WriteString(f.Name)
			}
			args = []string{b.String()}
		}
	}
	if c.PrependShell {
		args = append(append([]string(nil), st.shell()...), strings.Join(args, " "))
	}
	rs.args = args
	rs.env = st.runEnv()
	switch n := instructions.GetNetwork(c); n {
	case instructions.NetworkDefault:
		rs.network = st.bd.o.Network
	case instructions.NetworkNone:
		rs.network = "none"
	case instructions.NetworkHost:
		if st.bd.o.Network != "host" {
			return false, errors.New("RUN --network=host needs the build's --network host")
		}
		rs.network = "host"
	}
	if rs.network == "" || rs.network == "default" {
		rs.network = "none"
	}
	for _, m := range instructions.GetMounts(c) {
		rm, err := st.mount(m)
		if err != nil {
			return false, err
		}
		if rm != nil {
			rs.mounts = append(rs.mounts, *rm)
		}
	}
	parts := []string{st.key, text, strings.Join(rs.args, "\x00"), strings.Join(rs.env, "\x00"),
		st.img.Config.User, st.img.Config.WorkingDir, rs.network, strings.Join(st.bd.o.ExtraHosts, "\x00")}
	for _, m := range rs.mounts {
		parts = append(parts, m.key)
	}
	key := cacheKey(parts...)
	return st.layerStep(key, text, func(root *fsroot.Root) error {
		return st.runContainer(root, rs)
	})
}

// runEnv is RUN's environment: the build args in force (the stage's ARGs, and the
// proxy variables given), then the image's env, which wins.
func (st *stage) runEnv() []string {
	var env []string
	keys := make([]string, 0, len(st.bd.o.BuildArgs))
	for k := range st.bd.o.BuildArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if predefinedArgs[k] {
			env = setEnv(env, k, st.bd.o.BuildArgs[k])
		}
	}
	for _, kv := range st.args {
		k, v, _ := strings.Cut(kv, "=")
		env = setEnv(env, k, v)
	}
	for _, kv := range st.img.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = setEnv(env, k, v)
	}
	if _, ok := getEnv(env, "PATH"); !ok {
		env = append([]string{defaultPathEnv}, env...)
	}
	return env
}

// mount judges one RUN --mount and finds its source.
func (st *stage) mount(m *instructions.Mount) (*runMount, error) {
	target := m.Target
	if target != "" && !path.IsAbs(target) {
		target = path.Join(orRoot(st.img.Config.WorkingDir), target)
	}
	m.Target = path.Clean(target)
	bd := st.bd
	switch m.Type {
	case instructions.MountTypeBind:
		if m.Target == "" || m.Target == "/" {
			return nil, errors.New("--mount=type=bind needs a target")
		}
		src, key, err := st.bindSource(m.From, m.Source)
		if err != nil {
			return nil, err
		}
		return &runMount{m: m, source: src, key: "bind " + m.Target + " " + key, rw: !m.ReadOnly}, nil
	case instructions.MountTypeCache:
		if m.From != "" {
			return nil, errors.New("--mount=type=cache,from= is not supported")
		}
		id := m.CacheID
		if id == "" {
			id = m.Target
		}
		dir := filepath.Join(bd.b.Store.Root(), "buildcache-mounts", cacheKey("cache", id))
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return nil, err
		}
		mode := uint32(0o755)
		if m.Mode != nil {
			mode = uint32(*m.Mode)
		}
		if err := os.Mkdir(dir, os.FileMode(mode)); err == nil {
			uid, gid := 0, 0
			if m.UID != nil {
				uid = int(*m.UID)
			}
			if m.GID != nil {
				gid = int(*m.GID)
			}
			os.Chmod(dir, os.FileMode(mode)|modeBits(mode))
			os.Lchown(dir, uid, gid)
		} else if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		// The cache's content is not an input: a RUN that hits the layer cache
		// does not run, whatever the cache mount holds (BuildKit's rule).
		return &runMount{m: m, source: dir, key: "cache " + m.Target, rw: !m.ReadOnly}, nil
	case instructions.MountTypeTmpfs:
		return &runMount{m: m, key: fmt.Sprintf("tmpfs %s %d", m.Target, m.SizeLimit)}, nil
	case instructions.MountTypeSecret:
		id := m.CacheID
		if id == "" {
			id = path.Base(m.Target)
		}
		data, ok := bd.o.Secrets[id]
		if !ok {
			if m.Required {
				return nil, fmt.Errorf("secret %s: no --secret with that id", id)
			}
			return nil, nil
		}
		if m.Target == "" || m.Target == "." {
			m.Target = "/run/secrets/" + id
		}
		if m.Env != nil && m.Target == "." {
			m.Target = ""
		}
		// The secret's content is not an input either, and never reaches a layer.
		return &runMount{m: m, secret: data, key: "secret " + id + " " + m.Target}, nil
	case instructions.MountTypeSSH:
		return nil, errors.New("RUN --mount=type=ssh is not supported")
	}
	return nil, fmt.Errorf("mount type %q is not supported", m.Type)
}

// modeBits keeps the set-id and sticky bits of a mode for os.Chmod.
func modeBits(m uint32) os.FileMode {
	var out os.FileMode
	if m&unix.S_ISUID != 0 {
		out |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		out |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		out |= os.ModeSticky
	}
	return out
}

func orRoot(wd string) string {
	if wd == "" {
		return "/"
	}
	return wd
}

// bindSource resolves a bind mount's source inside its tree (the context, a stage's
// or an image's rootfs) and returns its host path and what it adds to the cache key.
// The path is the kernel's name of the resolved directory (/proc/self/fd's link),
// so that no symlink in the tree leads the mount out of it.
func (st *stage) bindSource(from, src string) (string, string, error) {
	t, key, err := st.sourceTree(from)
	if err != nil {
		return "", "", err
	}
	defer t.root.Close()
	rel := cleanRel(src)
	fd, err := t.root.Open(rel, unix.O_PATH)
	if err != nil {
		return "", "", fmt.Errorf("mount source %q: %w", src, err)
	}
	defer unix.Close(fd)
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", "", err
	}
	if from == "" {
		// The context's content is an input.
		var stt unix.Stat_t
		unix.Fstat(fd, &stt)
		p := &copyPlan{}
		if stt.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = p.walk(t, rel, "", true)
		} else {
			p.items = append(p.items, copyItem{src: rel, dst: path.Base(rel), st: stt})
		}
		if err != nil {
			return "", "", err
		}
		d, err := p.digest(t)
		if err != nil {
			return "", "", err
		}
		key = "context " + rel + " " + d
	}
	return real, key + " " + rel, nil
}

// runContainer runs RUN's command in a container on the stage's snapshot, as `hull
// run` would: Docker's capabilities, seccomp profile, mounts and device rules, new
// pid, ipc, uts, mount and cgroup namespaces, and a network namespace with only
// loopback, or attached to the bridge, unless the network is the host's. Its output goes to the progress. The
// mount points the runtime had to make in the rootfs (for /etc/hosts, a --mount
// target, ...) are removed after, so they are not in the layer.
func (st *stage) runContainer(root *fsroot.Root, rs *runSpec) error {
	bd := st.bd
	user, err := st.resolveUser(orUser(st.img.Config.User))
	if err != nil {
		return err
	}
	env := rs.env
	if _, ok := getEnv(env, "HOME"); !ok {
		env = append(env, "HOME="+spec.HomeOf(st.rootfs, user[0]))
	}
	bd.n++
	id := fmt.Sprintf("build-%s-%d", bd.id, bd.n)
	bundle := bd.bundleDir(id)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(bundle)
	hostname := id
	if len(hostname) > 12 {
		hostname = bd.id[:12]
	}
	s := &specs.Spec{
		Version:  "1.0.2",
		Root:     &specs.Root{Path: st.rootfs},
		Hostname: hostname,
		Process: &specs.Process{
			User: specs.User{UID: user[0], GID: user[1], AdditionalGids: user[2:]},
			Args: rs.args,
			Env:  env,
			Cwd:  orRoot(st.img.Config.WorkingDir),
			Capabilities: &specs.LinuxCapabilities{
				Bounding: spec.DefaultCaps, Effective: spec.DefaultCaps, Permitted: spec.DefaultCaps,
			},
		},
		Mounts: spec.DefaultMounts(),
		Linux: &specs.Linux{
			CgroupsPath:   "/hull-" + id,
			MaskedPaths:   slices.Clone(runtime.DefaultMaskedPaths),
			ReadonlyPaths: slices.Clone(runtime.DefaultReadonlyPaths),
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			Resources: &specs.LinuxResources{Devices: spec.DefaultDeviceRules()},
			Seccomp:   spec.DefaultSeccomp(),
		},
	}
	applyLimits(s, &bd.o.Limits)
	if rs.network != "host" {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	etc := map[string]string{"hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + hostname + "\n"}
	if rs.network == "bridge" {
		etc["resolv.conf"] = "" // written once attached (start)
	}
	if rs.network == "host" {
		etc = map[string]string{}
		for _, n := range []string{"hosts", "resolv.conf"} {
			if data, err := os.ReadFile("/etc/" + n); err == nil {
				etc[n] = string(data)
			}
		}
	}
	for _, h := range st.bd.o.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":") // checked by Options.Validate
		etc["hosts"] += strings.Trim(ip, "[]") + "\t" + name + "\n"
	}
	for n, content := range etc {
		p := filepath.Join(bundle, n)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/" + n, Type: "bind", Source: p,
			Options: []string{"rbind", "rprivate", "nosuid", "nodev", "noexec", "ro"}})
	}
	for name, content := range rs.files {
		p := filepath.Join(bundle, path.Base(name))
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			return err
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: name, Type: "bind", Source: p, Options: []string{"rbind", "ro"}})
	}
	cleanupRW, err := st.addMounts(s, rs, bundle, &env)
	defer cleanupRW()
	if err != nil {
		return err
	}
	s.Process.Env = env
	// The mount points that the rootfs lacks, to remove after the run.
	var made []string
	for _, m := range s.Mounts {
		if p := firstMissing(root, m.Destination); p != "" && !slices.Contains(made, p) {
			made = append(made, p)
		}
	}
	if p := firstMissing(root, s.Process.Cwd); p != "" {
		// Docker makes the working directory if it is missing; it stays.
		if fd, err := root.MkdirAll(s.Process.Cwd, 0o755); err == nil {
			unix.Close(fd)
		}
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return err
	}
	code, out, err := st.start(id, bundle, rs.network)
	if rerr := removeMade(root, made); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	if code != 0 {
		return &runError{code: code, output: out}
	}
	return nil
}

// applyLimits puts the build's limits for RUN into its spec.
func applyLimits(s *specs.Spec, l *Limits) {
	r := s.Linux.Resources
	if l.Memory > 0 {
		r.Memory = &specs.LinuxMemory{Limit: &l.Memory}
		if l.MemorySwap != 0 {
			r.Memory.Swap = &l.MemorySwap
		}
	}
	if l.CPUShares != 0 || l.CpusetCpus != "" || l.CPUPeriod != 0 || l.CPUQuota != 0 {
		r.CPU = &specs.LinuxCPU{Cpus: l.CpusetCpus}
		if l.CPUShares != 0 {
			r.CPU.Shares = &l.CPUShares
		}
		if l.CPUPeriod != 0 {
			r.CPU.Period = &l.CPUPeriod
		}
		if l.CPUQuota != 0 {
			r.CPU.Quota = &l.CPUQuota
		}
	}
	if l.ShmSize > 0 {
		for i := range s.Mounts {
			if s.Mounts[i].Destination != "/dev/shm" {
				continue
			}
			for j, opt := range s.Mounts[i].Options {
				if strings.HasPrefix(opt, "size=") {
					s.Mounts[i].Options[j] = "size=" + strconv.FormatInt(l.ShmSize, 10)
				}
			}
		}
	}
}

func orUser(u string) string {
	if u == "" {
		return "0"
	}
	return u
}

// addMounts adds RUN's --mounts to the spec; secrets given as env go to env.
func (st *stage) addMounts(s *specs.Spec, rs *runSpec, bundle string, env *[]string) (func(), error) {
	var cleanups []func()
	done := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	for i, rm := range rs.mounts {
		m := rm.m
		switch m.Type {
		case instructions.MountTypeBind:
			src := rm.source
			if rm.rw {
				// Writes to a rw bind mount are thrown away (BuildKit's rule):
				// they go to an overlay over the source, removed after the run.
				key := st.bd.snapKey("bind")
				p, err := st.bd.b.Store.Snapshotter().Prepare(key, []string{src})
				if err != nil {
					fi, serr := os.Stat(src)
					if serr != nil || fi.IsDir() {
						return done, fmt.Errorf("--mount=type=bind,rw: %w", err)
					}
					return done, errors.New("--mount=type=bind,rw of a file is not supported")
				}
				st.bd.snaps = append(st.bd.snaps, key)
				cleanups = append(cleanups, func() {
					st.bd.b.Store.RemoveSnapshot(key)
					st.bd.snaps = removeString(st.bd.snaps, key)
				})
				src = p
			}
			opts := []string{"rbind", "rprivate"}
			if !rm.rw {
				opts = append(opts, "ro")
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: src, Options: opts})
		case instructions.MountTypeCache:
			opts := []string{"rbind", "rprivate"}
			if !rm.rw {
				opts = append(opts, "ro")
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: rm.source, Options: opts})
		case instructions.MountTypeTmpfs:
			opts := []string{"nosuid", "nodev"}
			if m.SizeLimit > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.SizeLimit, 10))
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case instructions.MountTypeSecret:
			data := rm.secret
			if m.Env != nil {
				*env = setEnv(*env, *m.Env, string(data))
			}
			if m.Target == "" {
				continue
			}
			mode := uint32(0o400)
			if m.Mode != nil {
				mode = uint32(*m.Mode)
			}
			p := filepath.Join(bundle, fmt.Sprintf("secret-%d", i))
			if err := os.WriteFile(p, data, 0o400); err != nil {
				return done, err
			}
			uid, gid := 0, 0
			if m.UID != nil {
				uid = int(*m.UID)
			}
			if m.GID != nil {
				gid = int(*m.GID)
			}
			os.Chown(p, uid, gid)
			os.Chmod(p, os.FileMode(mode&0o777))
			s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: p,
				Options: []string{"rbind", "rprivate", "ro", "nosuid", "nodev", "noexec"}})
		}
	}
	return done, nil
}

// firstMissing returns the first component of p (absolute, in root) that root
// lacks, or "" if p exists.
func firstMissing(root *fsroot.Root, p string) string {
	p = path.Clean("/" + p)
	if _, err := root.Lstat(p); err == nil {
		return ""
	}
	cur := "/"
	for _, c := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		cur = path.Join(cur, c)
		if _, err := root.Lstat(cur); err != nil {
			return cur
		}
	}
	return ""
}

// removeMade removes the mount points the runtime made (an empty file, or
// directories holding nothing but such), deepest first.
func removeMade(root *fsroot.Root, made []string) error {
	sort.Slice(made, func(i, j int) bool { return len(made[i]) > len(made[j]) })
	for _, p := range made {
		if err := removeEmpty(root, p); err != nil {
			return fmt.Errorf("remove mount point %s: %w", p, err)
		}
	}
	return nil
}

func removeEmpty(root *fsroot.Root, p string) error {
	dir, base := path.Split(p)
	pfd, err := root.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return nil
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if st.Size == 0 {
			return unix.Unlinkat(pfd, base, 0)
		}
	case unix.S_IFDIR:
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		names, _ := f.Readdirnames(-1)
		f.Close()
		for _, n := range names {
			if err := removeEmpty(root, path.Join(p, n)); err != nil {
				return err
			}
		}
		err = unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
		if errors.Is(err, unix.ENOTEMPTY) {
			return nil // the command put something there: it stays
		}
		return err
	}
	return nil
}

// maxOutputTail is how much of a failed RUN's output its error keeps.
const maxOutputTail = 4 << 10

// start creates, starts and waits for the container, streaming its output to the
// progress; the container is deleted whatever happens.
//
// On a network (bridge), the container is attached between its creation and its
// start, and detached once it is deleted; its resolv.conf, bind-mounted from the
// bundle, is written in place then (the mount holds the file's inode).
func (st *stage) start(id, bundle, network string) (code int, output string, err error) {
	bd := st.bd
	rt := bd.b.Runtime
	r, w, err := os.Pipe()
	if err != nil {
		return -1, "", err
	}
	defer r.Close()
	pid, err := rt.Create(id, bundle, ociruntime.IO{Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		rt.Delete(id, true)
		return -1, "", err
	}
	var detach func() error
	defer func() {
		if detach != nil {
			if derr := detach(); err == nil && derr != nil {
				err = fmt.Errorf("detach from %s: %w", network, derr)
			}
		}
	}()
	defer rt.Delete(id, true)
	if network == "bridge" {
		resolv, d, err := bd.b.AttachNetwork(fmt.Sprintf("/proc/%d/ns/net", pid), id, network)
		if err == nil {
			detach = d
			err = os.WriteFile(filepath.Join(bundle, "resolv.conf"), resolv, 0o644)
		}
		if err != nil {
			rt.Kill(id, unix.SIGKILL, true)
			reap(pid)
			return -1, "", err
		}
	}
	tail := &tailBuffer{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		br := bufio.NewReaderSize(r, 32<<10)
		buf := make([]byte, 32<<10)
		for {
			n, err := br.Read(buf)
			if n > 0 {
				tail.Write(buf[:n])
				bd.prog.Output(bd.step, buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	stop := context.AfterFunc(bd.ctx, func() { rt.Kill(id, unix.SIGKILL, true) })
	defer stop()
	if err := rt.Start(id); err != nil {
		rt.Kill(id, unix.SIGKILL, true)
		reap(pid)
		<-copied
		return -1, "", err
	}
	code = reap(pid)
	<-copied
	if bd.ctx.Err() != nil {
		// the cause the caller gave (context.WithCancelCause), else Canceled
		return -1, "", context.Cause(bd.ctx)
	}
	return code, tail.String(), nil
}

// reap waits for the container's init (a child of this process) and returns its exit
// code, 128+signal if killed.
func reap(pid int) int {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// tailBuffer keeps the last maxOutputTail bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2*maxOutputTail {
		t.b = append([]byte(nil), t.b[len(t.b)-maxOutputTail:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	b := t.b
	if len(b) > maxOutputTail {
		b = b[len(b)-maxOutputTail:]
	}
	return strings.TrimSpace(string(b))
}

var _ io.Writer = (*tailBuffer)(nil)
