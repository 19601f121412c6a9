// Package build turns a Dockerfile and its context into an image in hull's store,
// daemonless, the way `docker build` does.
//
// The Dockerfile is read by BuildKit's own packages
// (github.com/moby/buildkit/frontend/dockerfile/{parser,instructions,shell}: parser
// directives, escapes, heredocs, word expansion), so hull reads a Dockerfile exactly
// as Docker does; hull executes it:
//
//   - each stage's rootfs is an overlay snapshot of its base's layers
//     (image/snapshot), made again on top of each new layer;
//   - RUN runs in a container through hull's runtime (ociruntime), with the defaults
//     of `hull run` (Docker's capabilities, seccomp profile, mounts and device rules
//     from engine/spec), no network unless asked, and the stage's env, user, workdir
//     and shell; the snapshot's changes become a layer (image/layer's differ);
//   - COPY and ADD write into the snapshot by descriptor, confined to it and to the
//     source tree (internal/fsroot, copy.go);
//   - every step that makes a layer is cached under a key of (its parent's key, the
//     instruction, its inputs' content) as an image store hold (cache.go): a rebuild
//     of what did not change runs nothing, and `hull builder prune` drops the cache;
//   - the result is an ordinary image of the store, named by Options.Tags;
//   - what a killed build left (a RUN still running, snapshots) is swept by the
//     next build on the same state directory (sweep.go).
//
// # Calling it: the CLI and the Docker API
//
// `hull build` and the Docker API's POST /build (docker's classic builder path, and
// `docker compose build`) make the same call:
//
//	bctx, dockerfile, err := build.ReadContext(body, tmpDir) // the request's tar (plain, gzip, zstd) or a bare Dockerfile
//	if err != nil { ... }                                     // a bad context: nothing was built
//	defer bctx.Close()                                        // removes the unpacked context
//	js := build.JSONProgress(w)                               // docker's JSON messages
//	js.Quiet = q.Get("q") == "1"                              // only the ID (and errors)
//	img, err := b.Build(ctx, build.Options{
//		Context: bctx, Dockerfile: q.Get("dockerfile"), DockerfileData: dockerfile,
//		Tags: q["t"], BuildArgs: args, Target: q.Get("target"), NoCache: ..., Pull: ...,
//		Network: q.Get("networkmode"), Labels: labels, Platform: q.Get("platform"),
//		Progress: js,
//	})
//	js.Fail(err) // the error message, unless a failed step already wrote it
//	// else img.Config is the image ID ({"aux":{"ID":...}} is already in the stream)
//
// Docker builds on its bridge network unless told otherwise (networkmode "default");
// hull's default is none. A handler that wants docker's behaviour passes "bridge"
// for "default" or none given, and sets Builder.AttachNetwork (engine.AttachBuild).
//
// Options.Validate judges the options alone (a handler may call it first, to answer
// 400); Build calls it again. Build's errors: those before the first step (options,
// the Dockerfile's syntax, an unknown target) are plain errors and reach no
// Progress; a step that fails is an *Error (its step, instruction, and for RUN the
// exit code and last output lines) and was reported to Progress.Done first. Cancel
// ctx to stop a build (a client gone): a running RUN is killed, and nothing of the
// build is left (containers, snapshots, mounts; the cache keeps the steps done).
//
// The process that calls Build is the parent of RUN's containers (Builder.Runtime
// is ociruntime.InProcess) and waits for each by its pid: it must not reap children
// it did not start (no wait on any child, no SIGCHLD set to be ignored), and its
// main must hand over to runtime.Init when runtime.IsInit (cmd/hull's does).
// Builds may run at once, in one process or several, on one store.
//
// External libraries: BuildKit's Dockerfile packages, moby/patternmatcher
// (.dockerignore, docker's matching), moby/docker-image-spec (the config's Docker
// fields: healthcheck, onbuild, shell).
package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/ociruntime"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// Builder builds images into one store.
type Builder struct {
	Store *image.Store
	// Runtime runs RUN's containers. It must make their init a child of this
	// process (ociruntime.InProcess does), which waits for it.
	Runtime ociruntime.Runtime
	// StateDir holds RUN's bundles while they run (<StateDir>/build/<id>).
	StateDir string
	// Pull fetches an image FROM or COPY --from names that is not in the store (and
	// every one, with Options.Pull). Nil: local images only.
	Pull func(ctx context.Context, ref, platform string) (*image.Image, error)
	// HTTPClient fetches ADD's URLs; nil is http.DefaultClient.
	HTTPClient *http.Client
	// AttachNetwork attaches the network namespace netnsPath of a RUN container
	// (created, not yet started; id is its ID) to the named network (Options.Network
	// "bridge"), and returns the resolv.conf for it and detach, called once the
	// container is gone. Nil: RUN has no network but none and the host's.
	AttachNetwork func(netnsPath, id, network string) (resolvConf []byte, detach func() error, err error)
}

// Options are one build's.
type Options struct {
	Context *Context
	// Dockerfile is the Dockerfile's path in the context (if empty: "Dockerfile",
	// or "Containerfile" when there is only that, as podman reads it);
	// DockerfileData, if set, is the Dockerfile itself (from stdin, or outside the
	// context).
	Dockerfile     string
	DockerfileData []byte
	Tags           []string
	BuildArgs      map[string]string
	Target         string
	NoCache        bool
	Pull           bool
	// Network is RUN's network: "" or "none" (loopback only), "host", or "bridge"
	// (the default network, through Builder.AttachNetwork).
	Network string
	// ExtraHosts are lines for RUN's /etc/hosts, "name:ip" (docker's --add-host).
	ExtraHosts []string
	Labels     map[string]string
	Platform   string // "" or this host's (linux/amd64)
	// Secrets are RUN --mount=type=secret's: id → content (from a file or an
	// environment variable, `hull build --secret`). They reach no layer and no
	// cache key.
	Secrets map[string][]byte
	// Limits are RUN's (docker build's --memory, --cpu-shares...); the zero
	// value: none.
	Limits   Limits
	Progress Progress
}

// Limits are the cgroup limits and /dev/shm size of RUN's containers, docker's
// classic builder's (docker build --memory, --memory-swap, --cpu-shares,
// --cpuset-cpus, --cpu-period, --cpu-quota, --shm-size; POST /build's memory,
// memswap, cpushares, cpusetcpus, cpuperiod, cpuquota, shmsize). They change
// how a RUN runs, not what it makes: they are in no cache key, as in docker.
type Limits struct {
	Memory     int64 // bytes; 0: none
	MemorySwap int64 // memory and swap in bytes, -1: unlimited swap; 0: docker's twice Memory
	CPUShares  uint64
	CpusetCpus string
	CPUPeriod  uint64 // microseconds
	CPUQuota   int64  // microseconds per period; -1: none
	ShmSize    int64  // bytes; 0: 64 MiB
}

// validate judges the limits as docker does.
func (l *Limits) validate() error {
	switch {
	case l.Memory < 0:
		return errors.New("memory: it must be positive")
	case l.Memory > 0 && l.Memory < 6<<20:
		return errors.New("memory: minimum memory limit allowed is 6MB")
	case l.MemorySwap < -1:
		return errors.New("memory-swap: want bytes or -1")
	case l.MemorySwap > 0 && l.Memory == 0:
		return errors.New("memory-swap: you should always set the memory limit when using the memoryswap limit")
	case l.MemorySwap > 0 && l.MemorySwap < l.Memory:
		return errors.New("memory-swap: minimum memoryswap limit should be larger than memory limit")
	case l.CPUPeriod != 0 && (l.CPUPeriod < 1000 || l.CPUPeriod > 1000000):
		return errors.New("cpu-period: CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case l.CPUQuota < -1 || (l.CPUQuota > 0 && l.CPUQuota < 1000):
		return errors.New("cpu-quota: CPU cfs quota can not be less than 1ms (i.e. 1000), or -1 for none")
	case l.ShmSize < 0:
		return errors.New("shm-size: it must be positive")
	}
	for _, part := range strings.Split(l.CpusetCpus, ",") {
		if l.CpusetCpus == "" {
			break
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || (isRange && (err2 != nil || b < a)) {
			return fmt.Errorf("cpuset-cpus %q: want a list of CPUs, 0-3,5", l.CpusetCpus)
		}
	}
	return nil
}

// Error is a failed step: which, and for RUN its exit code and the last lines of its
// output (they went to the progress as it ran).
type Error struct {
	Step  int
	Total int
	// File and Line are where the instruction is: the Dockerfile's name and the
	// line it starts on (an ONBUILD trigger's: its FROM's).
	File     string
	Line     int
	Text     string // the instruction
	ExitCode int    // RUN's, 0 otherwise
	Output   string // RUN's last output lines
	Err      error
}

func (e *Error) Error() string {
	where := fmt.Sprintf("step %d/%d", e.Step, e.Total)
	if e.Line > 0 {
		where += fmt.Sprintf(" (%s:%d)", e.File, e.Line)
	}
	if e.ExitCode != 0 {
		return fmt.Sprintf("%s: %s: exit code %d", where, e.Text, e.ExitCode)
	}
	return fmt.Sprintf("%s: %s: %v", where, e.Text, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// hostPlatform is the only platform hull builds for: the host's.
var hostPlatform = ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}

func platformString(p ocispec.Platform) string { return p.OS + "/" + p.Architecture }

// checkPlatform accepts "" and the host's platform.
func checkPlatform(p string) error {
	if p == "" || p == platformString(hostPlatform) || p == platformString(hostPlatform)+"/" {
		return nil
	}
	return fmt.Errorf("platform %q: hull builds for this host's platform only (%s)", p, platformString(hostPlatform))
}

// Validate judges the options before any work.
func (o *Options) Validate() error {
	if o.Context == nil {
		return errors.New("no build context")
	}
	if err := checkPlatform(o.Platform); err != nil {
		return err
	}
	switch o.Network {
	case "", "none", "default", "host", "bridge":
	default:
		return fmt.Errorf("network %q: a build's RUN has none, host or bridge", o.Network)
	}
	for _, t := range o.Tags {
		if _, err := image.Normalize(t); err != nil {
			return fmt.Errorf("tag %q: %w", t, err)
		}
	}
	for _, h := range o.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t\n") {
			return fmt.Errorf("add-host %q: want name:ip", h)
		}
		if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
			return fmt.Errorf("add-host %q: %w", h, err)
		}
	}
	if err := o.Limits.validate(); err != nil {
		return err
	}
	for id := range o.Secrets {
		if id == "" || strings.ContainsAny(id, "/\x00") {
			return fmt.Errorf("secret id %q: bad id", id)
		}
	}
	return nil
}

// maxDockerfile bounds the Dockerfile read from the context.
const maxDockerfile = 16 << 20

// build is one build in progress.
type build struct {
	b      *Builder
	o      Options
	ctx    context.Context
	id     string
	lex    *shell.Lex
	stages []instructions.Stage
	// bases are the stages' base names with the global args expanded.
	bases   []string
	global  []string // the global ARGs' values, "k=v"
	results map[int]*stage
	step    int
	total   int
	file    string // the Dockerfile's name, for errors
	line    int    // where the step running starts in it
	// used are the build args some ARG declared.
	used  map[string]bool
	snaps []string // snapshots to remove at the end
	views map[string]string
	n     int
	prog  Progress
}

// Build builds the image the options describe and names it by Options.Tags.
func (b *Builder) Build(ctx context.Context, o Options) (*image.Image, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Network == "bridge" && b.AttachNetwork == nil {
		return nil, errors.New("network bridge: this builder has no networks")
	}
	prog := o.Progress
	if prog == nil {
		prog = QuietProgress()
	}
	data := o.DockerfileData
	name := o.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	if data == nil {
		var err error
		data, err = o.Context.readFile(name, maxDockerfile)
		if errors.Is(err, unix.ENOENT) && o.Dockerfile == "" {
			// podman's name for it, when there is no Dockerfile
			if d, cerr := o.Context.readFile("Containerfile", maxDockerfile); cerr == nil {
				data, name, err = d, "Containerfile", nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("read dockerfile: %w", err)
		}
	}
	if err := o.Context.loadIgnore(cleanRel(name)); err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("dockerfile: %w", err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("dockerfile: %w", err)
	}
	if len(stages) == 0 {
		return nil, errors.New("dockerfile: no FROM instruction")
	}
	idb := make([]byte, 8)
	rand.Read(idb)
	bd := &build{b: b, o: o, ctx: ctx, id: hex.EncodeToString(idb), lex: shell.NewLex(res.EscapeToken),
		stages: stages, results: map[int]*stage{}, used: map[string]bool{}, views: map[string]string{}, prog: prog,
		file: path.Base(name)}
	if err := bd.globalArgs(metaArgs); err != nil {
		return nil, err
	}
	target := len(stages) - 1
	if o.Target != "" {
		i, ok := instructions.HasStage(stages, o.Target)
		if !ok {
			return nil, fmt.Errorf("target stage %q could not be found", o.Target)
		}
		target = i
	}
	needed, err := bd.needed(target)
	if err != nil {
		return nil, err
	}
	for _, i := range needed {
		bd.total += 1 + len(stages[i].Commands)
	}
	// The store's writer lock for the whole build: no GC may take a layer between
	// its making and the hold or image that names it.
	done, err := b.Store.Writer()
	if err != nil {
		return nil, err
	}
	defer done()
	b.Sweep()
	disown, err := b.own(bd.id)
	if err != nil {
		return nil, err
	}
	defer disown()
	defer bd.cleanup()
	var last *stage
	for _, i := range needed {
		st, err := bd.runStage(i)
		if err != nil {
			return nil, err
		}
		bd.results[i] = st
		last = st
	}
	var unused []string
	for k := range o.BuildArgs {
		if !bd.used[k] && !predefinedArgs[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		prog.Message(fmt.Sprintf("[Warning] One or more build-args %v were not consumed", unused))
	}
	img, err := bd.commit(last)
	if err != nil {
		return nil, err
	}
	prog.Result(img.Config.String(), o.Tags)
	return img, nil
}

// predefinedArgs may be given with --build-arg without an ARG to declare them, and
// are not reported unused (Docker's proxy variables).
var predefinedArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// platformArgs are the automatic platform ARGs, in the global scope.
func platformArgs() []string {
	p := platformString(hostPlatform)
	return []string{
		"BUILDPLATFORM=" + p, "BUILDOS=" + hostPlatform.OS, "BUILDARCH=" + hostPlatform.Architecture, "BUILDVARIANT=",
		"TARGETPLATFORM=" + p, "TARGETOS=" + hostPlatform.OS, "TARGETARCH=" + hostPlatform.Architecture, "TARGETVARIANT=",
	}
}

// globalArgs evaluates the ARGs before the first FROM, and the stages' base names.
func (bd *build) globalArgs(meta []instructions.ArgCommand) error {
	bd.global = platformArgs()
	for _, a := range meta {
		for _, kv := range a.Args {
			v, err := bd.argValue(kv, bd.global)
			if err != nil {
				return err
			}
			bd.global = setEnv(bd.global, kv.Key, v)
		}
	}
	for i := range bd.stages {
		s := &bd.stages[i]
		base, err := bd.lex.ProcessWordWithMatches(s.BaseName, shell.EnvsFromSlice(bd.global))
		if err != nil {
			return fmt.Errorf("FROM %s: %w", s.BaseName, err)
		}
		if base.Result == "" {
			return fmt.Errorf("FROM %s: base name expands to nothing", s.BaseName)
		}
		bd.bases = append(bd.bases, base.Result)
		if s.Platform != "" {
			p, err := bd.lex.ProcessWordWithMatches(s.Platform, shell.EnvsFromSlice(bd.global))
			if err != nil {
				return fmt.Errorf("FROM --platform=%s: %w", s.Platform, err)
			}
			if err := checkPlatform(p.Result); err != nil {
				return fmt.Errorf("FROM %s: %w", s.BaseName, err)
			}
		}
	}
	return nil
}

// argValue is an ARG's value: its build arg, else its default expanded in env, else
// (no default) what env has (a global ARG redeclared in a stage).
func (bd *build) argValue(kv instructions.KeyValuePairOptional, env []string) (string, error) {
	if v, ok := bd.o.BuildArgs[kv.Key]; ok {
		bd.used[kv.Key] = true
		return v, nil
	}
	if kv.Value != nil {
		v, _, err := bd.lex.ProcessWord(*kv.Value, shell.EnvsFromSlice(env))
		if err != nil {
			return "", fmt.Errorf("ARG %s: %w", kv.Key, err)
		}
		return v, nil
	}
	if v, ok := getEnv(env, kv.Key); ok {
		return v, nil
	}
	return "", nil
}

// stageIndex finds the stage a FROM or --from names: by name, or by number.
func (bd *build) stageIndex(name string, before int) (int, bool) {
	for i := 0; i < before; i++ {
		if bd.stages[i].Name != "" && strings.EqualFold(bd.stages[i].Name, name) {
			return i, true
		}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < before {
		return n, true
	}
	return -1, false
}

// needed lists, in file order, the stages the target needs: itself, its base if a
// stage, and every stage a COPY --from or RUN --mount from= names, recursively.
func (bd *build) needed(target int) ([]int, error) {
	need := map[int]bool{}
	var visit func(i int) error
	visit = func(i int) error {
		if need[i] {
			return nil
		}
		need[i] = true
		if j, ok := bd.stageIndex(bd.bases[i], i); ok {
			if err := visit(j); err != nil {
				return err
			}
		}
		for _, c := range bd.stages[i].Commands {
			for _, from := range fromRefs(c) {
				if j, ok := bd.stageIndex(from, i); ok {
					if err := visit(j); err != nil {
						return err
					}
				} else if _, later := bd.stageIndex(from, len(bd.stages)); later {
					return fmt.Errorf("stage %q is used before it is defined", from)
				}
			}
		}
		return nil
	}
	if err := visit(target); err != nil {
		return nil, err
	}
	var out []int
	for i := range bd.stages {
		if need[i] {
			out = append(out, i)
		}
	}
	return out, nil
}

// fromRefs are the stages or images an instruction reads from.
func fromRefs(c instructions.Command) []string {
	switch c := c.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			return []string{c.From}
		}
	case *instructions.RunCommand:
		var out []string
		// Mounts are known once expanded; a copy is expanded to look at them.
		cp := *c
		if err := cp.Expand(func(w string) (string, error) { return w, nil }); err == nil {
			for _, m := range instructions.GetMounts(&cp) {
				if m.From != "" {
					out = append(out, m.From)
				}
			}
		}
		return out
	}
	return nil
}

// getEnv finds key in a "k=v" list (the last one wins).
func getEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(env[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}

// setEnv sets key in a "k=v" list, in place of an earlier one.
func setEnv(env []string, key, value string) []string {
	out := slices.Clone(env)
	for i, kv := range out {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			out[i] = key + "=" + value
			return out
		}
	}
	return append(out, key+"="+value)
}

// commit writes the final stage's image and names it.
func (bd *build) commit(st *stage) (*image.Image, error) {
	cfg := st.img
	for k, v := range bd.o.Labels {
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		cfg.Config.Labels[k] = v
	}
	cfg.RootFS = ocispec.RootFS{Type: "layers"}
	for _, l := range st.layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
	}
	created := st.created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	cfg.Created = &created
	cfg.Platform = hostPlatform
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return bd.b.Store.NewImage(data, st.layers, bd.o.Tags...)
}

// cleanup removes the snapshots the build made.
func (bd *build) cleanup() {
	for _, k := range bd.snaps {
		bd.b.Store.RemoveSnapshot(k)
	}
	bd.snaps = nil
}

// snapKey names a new snapshot of this build.
func (bd *build) snapKey(kind string) string {
	bd.n++
	return fmt.Sprintf("build-%s-%s%d", bd.id, kind, bd.n)
}

// layerDirs are the store's directories of layers, lowest first.
func (bd *build) layerDirs(layers []image.LayerRecord) ([]string, error) {
	var dirs []string
	for _, l := range layers {
		if !bd.b.Store.HasLayer(l.DiffID) {
			return nil, fmt.Errorf("layer %s is missing from the store", l.DiffID)
		}
		dirs = append(dirs, bd.b.Store.LayerFS(l.DiffID))
	}
	return dirs, nil
}

// view mounts a read-only snapshot of layers (a stage's or an image's rootfs, for
// COPY --from and RUN --mount from=), once per build.
func (bd *build) view(name string, layers []image.LayerRecord) (string, error) {
	if p, ok := bd.views[name]; ok {
		return p, nil
	}
	dirs, err := bd.layerDirs(layers)
	if err != nil {
		return "", err
	}
	key := bd.snapKey("view")
	p, err := bd.b.Store.Snapshotter().View(key, dirs)
	if err != nil {
		return "", err
	}
	bd.snaps = append(bd.snaps, key)
	bd.views[name] = p
	return p, nil
}

// baseImage finds (or pulls) an image FROM or --from names.
func (bd *build) baseImage(ref string) (*image.Image, error) {
	if !bd.o.Pull {
		img, err := bd.b.Store.Get(ref)
		if err == nil {
			return img, nil
		}
		if !errors.Is(err, image.ErrNotFound) || bd.b.Pull == nil {
			return nil, err
		}
	}
	if bd.b.Pull == nil {
		return nil, fmt.Errorf("image %s: --pull needs a registry", ref)
	}
	return bd.b.Pull(bd.ctx, ref, bd.o.Platform)
}

// imageConfig reads an image's config with Docker's fields.
func (bd *build) imageConfig(img *image.Image) (*dockerspec.DockerOCIImage, error) {
	data, err := bd.b.Store.ReadBlob(img.Config, 32<<20)
	if err != nil {
		return nil, err
	}
	var c dockerspec.DockerOCIImage
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("image config %s: %w", img.Config, err)
	}
	return &c, nil
}

// bundleDir is where RUN's bundle lives while it runs.
func (bd *build) bundleDir(id string) string {
	return filepath.Join(bd.b.StateDir, "build", id)
}
