package build

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/fsroot"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// stage is one stage being built: its image so far and its layers, its cache key,
// and the snapshot its next step writes into, if one is mounted.
type stage struct {
	bd     *build
	index  int
	name   string
	img    dockerspec.DockerOCIImage
	layers []image.LayerRecord
	// key is the cache key of the stage so far: its base, then every instruction.
	key string
	// args are the ARGs declared in the stage so far, "k=v".
	args []string
	// cmdSet: CMD was set in this stage (ENTRYPOINT then keeps it).
	cmdSet bool
	// created is when the last layer was made (the image's created time).
	created time.Time
	// snap is the snapshot mounted at rootfs over the current layers, or "".
	snap   string
	rootfs string
}

const defaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// runStage builds stage i.
func (bd *build) runStage(i int) (*stage, error) {
	s := &bd.stages[i]
	st := &stage{bd: bd, index: i, name: s.Name}
	bd.step++
	text := "FROM " + bd.bases[i]
	if s.Name != "" {
		text += " AS " + s.Name
	}
	bd.prog.Step(StepInfo{Step: bd.step, Total: bd.total, Stage: s.Name, Text: text})
	bd.line = startLine(s.Location)
	start := time.Now()
	if err := st.from(bd.bases[i]); err != nil {
		return nil, bd.fail(text, err)
	}
	bd.prog.Done(bd.step, StepResult{Duration: time.Since(start), ID: st.key})
	// The base image's ONBUILD triggers run first, as instructions of this stage.
	triggers := st.img.Config.OnBuild
	st.img.Config.OnBuild = nil
	for _, t := range triggers {
		cmd, err := parseLine(t)
		if err != nil {
			return nil, bd.fail("ONBUILD "+t, err)
		}
		if err := st.dispatch(cmd, "ONBUILD "+t, false); err != nil {
			return nil, err
		}
	}
	for _, c := range s.Commands {
		bd.line = startLine(c.Location())
		if err := st.dispatch(c, commandText(c), true); err != nil {
			return nil, err
		}
	}
	if err := st.closeSnap(); err != nil {
		return nil, err
	}
	return st, nil
}

// parseLine parses one instruction (an ONBUILD trigger).
func parseLine(line string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(line))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("trigger %q is not one instruction", line)
	}
	cmd, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return nil, err
	}
	switch cmd.(type) {
	case *instructions.OnbuildCommand:
		return nil, errors.New("chaining ONBUILD via ONBUILD ONBUILD isn't allowed")
	case *instructions.MaintainerCommand:
		return nil, errors.New("MAINTAINER isn't allowed as an ONBUILD trigger")
	}
	return cmd, nil
}

// startLine is the line an instruction starts on (0: not known).
func startLine(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// commandText is an instruction as the Dockerfile has it, on one line.
func commandText(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return strings.Join(strings.Fields(s.String()), " ")
	}
	return strings.ToUpper(c.Name())
}

// fail reports the current step failed.
func (bd *build) fail(text string, err error) error {
	var be *Error
	if errors.As(err, &be) {
		return err
	}
	e := &Error{Step: bd.step, Total: bd.total, File: bd.file, Line: bd.line, Text: text, Err: err}
	var re *runError
	if errors.As(err, &re) {
		e.ExitCode, e.Output = re.code, re.output
	}
	bd.prog.Done(bd.step, StepResult{Err: e})
	return e
}

// from starts the stage on its base: an earlier stage, scratch or an image.
func (st *stage) from(base string) error {
	bd := st.bd
	if j, ok := bd.stageIndex(base, st.index); ok {
		prev := bd.results[j]
		st.img = cloneImage(prev.img)
		st.layers = append([]image.LayerRecord(nil), prev.layers...)
		st.key = prev.key
		st.created = prev.created
		return nil
	}
	if strings.EqualFold(base, "scratch") {
		st.img = dockerspec.DockerOCIImage{Image: ocispec.Image{Platform: hostPlatform}}
		st.img.Config.Env = []string{defaultPathEnv}
		st.key = cacheKey("scratch")
		return nil
	}
	img, err := bd.baseImage(base)
	if err != nil {
		return err
	}
	cfg, err := bd.imageConfig(img)
	if err != nil {
		return err
	}
	st.img = *cfg
	st.img.History = append([]ocispec.History(nil), cfg.History...)
	st.layers = append([]image.LayerRecord(nil), img.Layers...)
	st.key = cacheKey("image", img.Config.String())
	if cfg.Created != nil {
		st.created = *cfg.Created
	}
	if len(st.img.Config.Env) == 0 {
		st.img.Config.Env = []string{defaultPathEnv}
	}
	return nil
}

// cloneImage copies an image config deeply enough for a stage to change it.
func cloneImage(in dockerspec.DockerOCIImage) dockerspec.DockerOCIImage {
	out := in
	c := &out.Config
	c.Env = append([]string(nil), c.Env...)
	c.Entrypoint = append([]string(nil), c.Entrypoint...)
	c.Cmd = append([]string(nil), c.Cmd...)
	c.Shell = append([]string(nil), c.Shell...)
	c.OnBuild = append([]string(nil), c.OnBuild...)
	c.Labels = cloneMap(c.Labels)
	c.ExposedPorts = cloneMap(c.ExposedPorts)
	c.Volumes = cloneMap(c.Volumes)
	out.History = append([]ocispec.History(nil), in.History...)
	if in.Config.Entrypoint == nil {
		c.Entrypoint = nil
	}
	if in.Config.Cmd == nil {
		c.Cmd = nil
	}
	return out
}

func cloneMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// env is what words expand in: the stage's ARGs, then its ENV (which wins).
func (st *stage) env() []string {
	return append(append([]string(nil), st.args...), st.img.Config.Env...)
}

// shell is the stage's shell for shell-form commands.
func (st *stage) shell() []string {
	if len(st.img.Config.Shell) > 0 {
		return st.img.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

// history records an instruction in the image's history.
func (st *stage) history(text string, empty bool) {
	created := st.created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	st.img.History = append(st.img.History, ocispec.History{Created: &created, CreatedBy: text, Comment: "hull build", EmptyLayer: empty})
}

// dispatch runs one instruction; counted says it is a step of its own (an ONBUILD
// trigger is part of FROM's).
func (st *stage) dispatch(c instructions.Command, text string, counted bool) error {
	bd := st.bd
	if counted {
		bd.step++
		bd.prog.Step(StepInfo{Step: bd.step, Total: bd.total, Stage: st.name, Text: text})
	}
	start := time.Now()
	cached, err := st.exec(c, text)
	if err != nil {
		return bd.fail(text, err)
	}
	if counted {
		bd.prog.Done(bd.step, StepResult{Cached: cached, Duration: time.Since(start), ID: st.key})
	}
	return nil
}

// exec runs one instruction, and tells whether its result came from the cache.
func (st *stage) exec(c instructions.Command, text string) (bool, error) {
	// Words are expanded in the stage's ARGs and ENV as they are when the
	// instruction runs (an ENV's own value included, for the next one).
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		env := st.env()
		err := e.Expand(func(w string) (string, error) {
			v, _, err := st.bd.lex.ProcessWord(w, shell.EnvsFromSlice(env))
			return v, err
		})
		if err != nil {
			return false, err
		}
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		env := st.env()
		err := e.ExpandRaw(func(w string) (string, error) {
			lex := shell.NewLex('\\')
			lex.RawQuotes = true
			lex.RawEscapes = true
			v, _, err := lex.ProcessWord(w, shell.EnvsFromSlice(env))
			return v, err
		})
		if err != nil {
			return false, err
		}
	}
	cfg := &st.img.Config
	switch c := c.(type) {
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			v, err := st.bd.argValue(kv, append(append([]string(nil), st.bd.global...), st.env()...))
			if err != nil {
				return false, err
			}
			st.args = setEnv(st.args, kv.Key, v)
		}
		st.key = cacheKey(st.key, text)
		return false, nil
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.MaintainerCommand:
		st.img.Author = c.Maintainer
	case *instructions.WorkdirCommand:
		return st.workdir(c, text)
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.CmdCommand:
		cfg.Cmd = st.commandLine(c.ShellDependantCmdLine)
		st.cmdSet = true
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = st.commandLine(c.ShellDependantCmdLine)
		if !st.cmdSet {
			cfg.Cmd = nil
		}
	case *instructions.ShellCommand:
		cfg.Shell = append([]string(nil), c.Shell...)
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range c.Ports {
			ports, err := expandPorts(p, st)
			if err != nil {
				return false, err
			}
			for _, p := range ports {
				cfg.ExposedPorts[p] = struct{}{}
			}
		}
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return false, errors.New("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.StopSignalCommand:
		if err := checkSignal(c.Signal); err != nil {
			return false, err
		}
		cfg.StopSignal = c.Signal
	case *instructions.HealthCheckCommand:
		hc := *c.Health
		cfg.Healthcheck = &hc
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	case *instructions.RunCommand:
		return st.run(c, text)
	case *instructions.CopyCommand:
		return st.copy(copyCmd{text: text, sd: c.SourcesAndDest, from: c.From, chown: c.Chown, chmod: c.Chmod, link: c.Link, parents: c.Parents, exclude: c.ExcludePatterns})
	case *instructions.AddCommand:
		if c.KeepGitDir != nil || len(c.ExcludePatterns) > 0 {
			return false, errors.New("ADD --keep-git-dir and --exclude are not supported")
		}
		return st.copy(copyCmd{text: text, add: true, sd: c.SourcesAndDest, chown: c.Chown, chmod: c.Chmod, link: c.Link, checksum: c.Checksum, unpack: c.Unpack})
	default:
		return false, fmt.Errorf("instruction %s is not supported", strings.ToUpper(c.Name()))
	}
	st.key = cacheKey(st.key, text)
	st.history(text, true)
	return false, nil
}

// commandLine is CMD's or ENTRYPOINT's argv: exec form as is, shell form run by the
// stage's shell.
func (st *stage) commandLine(c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		return append(append([]string(nil), st.shell()...), strings.Join(c.CmdLine, " "))
	}
	return append([]string{}, c.CmdLine...)
}

// expandPorts reads EXPOSE's "80", "80/udp", "8000-8002/tcp".
func expandPorts(p string, st *stage) ([]string, error) {
	num, proto, ok := strings.Cut(p, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("EXPOSE %s: bad protocol %q", p, proto)
	}
	lo, hi, isRange := strings.Cut(num, "-")
	var a, b int
	if _, err := fmt.Sscanf(lo, "%d", &a); err != nil || a < 0 || a > 65535 || fmt.Sprint(a) != lo {
		return nil, fmt.Errorf("EXPOSE %s: bad port", p)
	}
	b = a
	if isRange {
		if _, err := fmt.Sscanf(hi, "%d", &b); err != nil || b < a || b > 65535 || fmt.Sprint(b) != hi {
			return nil, fmt.Errorf("EXPOSE %s: bad port range", p)
		}
	}
	var out []string
	for i := a; i <= b; i++ {
		out = append(out, fmt.Sprintf("%d/%s", i, proto))
	}
	return out, nil
}

// checkSignal accepts a signal name (with or without SIG) or number.
func checkSignal(s string) error {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n < 1 || n > 64 {
			return fmt.Errorf("STOPSIGNAL %s: bad signal", s)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if unix.SignalNum("SIG"+name) == 0 && !strings.HasPrefix(name, "RTMIN") && !strings.HasPrefix(name, "RTMAX") {
		return fmt.Errorf("STOPSIGNAL %s: unknown signal", s)
	}
	return nil
}

// workdir sets WORKDIR and makes the directory (owned by USER) if the rootfs lacks
// it; that is a layer of its own, cached.
func (st *stage) workdir(c *instructions.WorkdirCommand, text string) (bool, error) {
	wd := c.Path
	if !path.IsAbs(wd) {
		base := st.img.Config.WorkingDir
		if base == "" {
			base = "/"
		}
		wd = path.Join(base, wd)
	}
	wd = path.Clean(wd)
	st.img.Config.WorkingDir = wd
	if wd == "/" {
		st.key = cacheKey(st.key, text)
		st.history(text, true)
		return false, nil
	}
	key := cacheKey(st.key, text, st.img.Config.User)
	return st.layerStep(key, text, func(root *fsroot.Root) error {
		uid, gid, err := st.chownIDs(st.img.Config.User)
		if err != nil {
			return err
		}
		w := &copyWriter{dst: root, uid: uid, gid: gid, parents: map[string]int{}}
		defer w.close()
		return w.mkdirAll(cleanRel(wd))
	})
}

// layerStep runs a step that writes into the rootfs: from the cache when key is
// there (and the cache is used), else by running fn on a snapshot and making its
// changes a layer. Either way the stage moves on to key.
func (st *stage) layerStep(key, text string, fn func(root *fsroot.Root) error) (bool, error) {
	bd := st.bd
	if !bd.o.NoCache {
		if e, ok := bd.cacheGet(key); ok {
			st.closeSnap()
			st.apply(key, text, e)
			return true, nil
		}
	}
	if err := st.openSnap(); err != nil {
		return false, err
	}
	root, err := fsroot.Open(st.rootfs)
	if err != nil {
		return false, err
	}
	err = fn(root)
	root.Close()
	if err != nil {
		st.dropSnap()
		return false, err
	}
	e, err := st.diff(text)
	if err != nil {
		return false, err
	}
	if err := bd.cachePut(key, e); err != nil {
		return false, err
	}
	st.apply(key, text, e)
	return false, nil
}

// apply moves the stage on by a step's result.
func (st *stage) apply(key, text string, e *cacheEntry) {
	st.key = key
	if e.Layer != nil {
		st.layers = append(st.layers, *e.Layer)
		st.created = e.Created
		// The snapshot (if any) is over the old layers: the next step needs one
		// over the new.
		st.closeSnap()
	}
	created := e.Created
	st.img.History = append(st.img.History, ocispec.History{Created: &created, CreatedBy: text, Comment: "hull build", EmptyLayer: e.Layer == nil})
}

// openSnap mounts a writable snapshot over the stage's layers, unless one is.
func (st *stage) openSnap() error {
	if st.snap != "" {
		return nil
	}
	dirs, err := st.bd.layerDirs(st.layers)
	if err != nil {
		return err
	}
	key := st.bd.snapKey("step")
	p, err := st.bd.b.Store.Snapshotter().Prepare(key, dirs)
	if err != nil {
		return err
	}
	st.bd.snaps = append(st.bd.snaps, key)
	st.snap, st.rootfs = key, p
	return nil
}

// closeSnap removes the stage's snapshot, if any.
func (st *stage) closeSnap() error {
	if st.snap == "" {
		return nil
	}
	err := st.bd.b.Store.RemoveSnapshot(st.snap)
	st.bd.snaps = removeString(st.bd.snaps, st.snap)
	st.snap, st.rootfs = "", ""
	return err
}

// dropSnap throws away a failed step's snapshot.
func (st *stage) dropSnap() { st.closeSnap() }

func removeString(list []string, s string) []string {
	for i, v := range list {
		if v == s {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// diff makes the snapshot's changes a layer in the store, or none if nothing
// changed. The snapshot is gone after.
func (st *stage) diff(text string) (*cacheEntry, error) {
	sn := st.bd.b.Store.Snapshotter()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(sn.Diff(st.snap, pw)) }()
	br := newPeekReader(pr)
	e := &cacheEntry{Created: time.Now().UTC(), CreatedBy: text}
	empty, err := br.emptyTar()
	if err != nil {
		pr.CloseWithError(err)
		st.dropSnap()
		return nil, fmt.Errorf("diff: %w", err)
	}
	if !empty {
		l, err := st.bd.b.Store.AddLayer(br)
		if err != nil {
			pr.CloseWithError(err)
			st.dropSnap()
			return nil, err
		}
		e.Layer = &l
	}
	io.Copy(io.Discard, br)
	pr.Close()
	if err := st.closeSnap(); err != nil {
		return nil, err
	}
	return e, nil
}

// chownIDs resolves a user (USER's, or --chown's) in the stage's rootfs; "" is root.
func (st *stage) chownIDs(user string) (int, int, error) {
	if user == "" {
		return 0, 0, nil
	}
	u, err := st.resolveUser(user)
	if err != nil {
		return 0, 0, err
	}
	return int(u[0]), int(u[1]), nil
}

var _ = digest.Canonical
