package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/build"
	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/image/layer"
	"github.com/hullproject/hull/ociruntime"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// `hull build` (package build) and `hull builder prune`.

type buildFlags struct {
	tags      []string
	file      string
	buildArgs []string
	target    string
	noCache   bool
	pull      bool
	network   string
	labels    []string
	platform  string
	quiet     bool
	iidfile   string
	outputs   []string
	progress  string
	secrets   []string
	addHosts  []string
	// RUN's limits, docker build's
	memory, memorySwap, shmSize string
	cpuShares, cpuQuota         int64
	cpuPeriod                   uint64
	cpusetCpus                  string
}

func buildCommand(g *globals) *cobra.Command {
	var f buildFlags
	c := &cobra.Command{
		Use:   "build [OPTIONS] CONTEXT",
		Short: "build an image from a Dockerfile",
		Long: "Build an image from a Dockerfile. CONTEXT is a directory, a tar archive (plain or\n" +
			"compressed), or - for a tar or a Dockerfile on stdin.",
		Args: cobra.ExactArgs(1),
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			return runBuild(g, e, &f, args[0])
		}),
	}
	fl := c.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name (and tag) of the image, NAME[:TAG]")
	fl.StringVarP(&f.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile; - for stdin)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "a build argument, KEY=VALUE (KEY alone: from the environment)")
	fl.StringVar(&f.target, "target", "", "the stage to build")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the layer cache")
	fl.BoolVar(&f.pull, "pull", false, "pull every image FROM names")
	fl.StringVar(&f.network, "network", "none", "RUN's network: none, host or bridge")
	fl.StringArrayVar(&f.labels, "label", nil, "a label of the image, KEY=VALUE")
	fl.StringVar(&f.platform, "platform", "", "the target platform (this host's only)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress; print the image ID")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to this file")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "also write the image: type=oci|docker|tar,dest=FILE (- for stdout), or its files: type=local,dest=DIR (short: -o DIR, -o -)")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto, plain, tty or quiet")
	fl.StringArrayVar(&f.secrets, "secret", nil, "a secret for RUN --mount=type=secret: id=ID[,src=FILE|,env=VAR]")
	fl.StringArrayVar(&f.addHosts, "add-host", nil, "a line for RUN's /etc/hosts, NAME:IP")
	fl.StringVarP(&f.memory, "memory", "m", "", "RUN's memory limit (e.g. 64m)")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "RUN's memory plus swap limit (e.g. 128m; -1 for unlimited swap)")
	fl.StringVar(&f.shmSize, "shm-size", "", "size of RUN's /dev/shm (default 64m)")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "RUN's CPU shares (relative weight)")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs RUN runs on (0-3, 0,1)")
	fl.Uint64Var(&f.cpuPeriod, "cpu-period", 0, "RUN's CFS period in microseconds")
	fl.Int64Var(&f.cpuQuota, "cpu-quota", 0, "RUN's CFS quota in microseconds")
	// docker's classic builder's flags that scripts still pass and that mean
	// nothing here: hull keeps no intermediate container (--rm, --force-rm) and
	// sends the context to no daemon (--compress).
	fl.Bool("rm", true, "")
	fl.Bool("force-rm", false, "")
	fl.Bool("compress", false, "")
	for _, n := range []string{"rm", "force-rm", "compress"} {
		fl.MarkHidden(n)
	}
	return c
}

// maxSecret bounds a secret's size.
const maxSecret = 1 << 20

// readSecret reads one --secret as docker (buildx) takes it:
// id=ID[,type=file|env][,src=FILE|,env=VAR]. With neither src nor env, the
// environment variable named ID if it is set, else the file named ID.
func readSecret(s string) (string, []byte, error) {
	var id, typ, src, env string
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "id":
			id = v
		case "type":
			typ = v
		case "src", "source":
			src = v
		case "env":
			env = v
		default:
			return "", nil, fmt.Errorf("--secret %q: unknown key %q", s, k)
		}
	}
	if id == "" {
		return "", nil, fmt.Errorf("--secret %q: want id=ID[,src=FILE|,env=VAR]", s)
	}
	switch typ {
	case "":
		switch {
		case src != "" && env != "":
			return "", nil, fmt.Errorf("--secret %q: src and env both given", s)
		case src == "" && env == "":
			if _, ok := os.LookupEnv(id); ok {
				env = id
			} else {
				src = id
			}
		}
	case "env":
		if env == "" {
			env = src
		}
		if env == "" {
			env = id
		}
		src = ""
	case "file":
		if src == "" {
			src = id
		}
		env = ""
	default:
		return "", nil, fmt.Errorf("--secret %q: type must be file or env", s)
	}
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", nil, fmt.Errorf("--secret %s: environment variable %s is not set", id, env)
		}
		return id, []byte(v), nil
	}
	file, err := os.Open(src)
	if err != nil {
		return "", nil, fmt.Errorf("--secret %s: %w", id, err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxSecret+1))
	if err == nil && len(data) > maxSecret {
		err = fmt.Errorf("larger than %d bytes", maxSecret)
	}
	if err != nil {
		return "", nil, fmt.Errorf("--secret %s: %w", id, err)
	}
	return id, data, nil
}

// buildOutput is one -o.
type buildOutput struct{ typ, dest string }

func parseOutput(s string) (buildOutput, error) {
	var o buildOutput
	if !strings.Contains(s, "=") {
		// buildx's short forms: -o DIR (the files), -o - (a tar of them on stdout)
		if s == "-" {
			return buildOutput{typ: "tar", dest: "-"}, nil
		}
		return buildOutput{typ: "local", dest: s}, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("--output %q: want type=oci|docker|tar|local,dest=PATH", s)
		}
		switch k {
		case "type":
			o.typ = v
		case "dest":
			o.dest = v
		default:
			return o, fmt.Errorf("--output %q: unknown key %q", s, k)
		}
	}
	switch o.typ {
	case "oci", "docker", "tar", "local":
	default:
		return o, fmt.Errorf("--output %q: type must be oci, docker, tar or local", s)
	}
	if o.dest == "" {
		return o, fmt.Errorf("--output %q: dest is needed", s)
	}
	if o.typ == "local" && o.dest == "-" {
		return o, fmt.Errorf("--output %q: a local output is a directory, not stdout", s)
	}
	return o, nil
}

// flagKeyValues reads KEY=VALUE flags; a KEY alone takes its value from the environment
// if env is set (docker's --build-arg), else is an error.
func flagKeyValues(flag string, list []string, env bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("--%s %q: want KEY=VALUE", flag, kv)
		}
		if !ok {
			if !env {
				return nil, fmt.Errorf("--%s %q: want KEY=VALUE", flag, kv)
			}
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

func runBuild(g *globals, e *engine.Engine, f *buildFlags, contextArg string) error {
	args, err := flagKeyValues("build-arg", f.buildArgs, true)
	if err != nil {
		return badUsage(err)
	}
	labels, err := flagKeyValues("label", f.labels, false)
	if err != nil {
		return badUsage(err)
	}
	secrets := map[string][]byte{}
	for _, s := range f.secrets {
		id, data, err := readSecret(s)
		if err != nil {
			return badUsage(err)
		}
		secrets[id] = data
	}
	limits := build.Limits{CpusetCpus: f.cpusetCpus, CPUPeriod: f.cpuPeriod, CPUQuota: f.cpuQuota}
	if f.cpuShares < 0 {
		return badUsage(fmt.Errorf("invalid --cpu-shares %d: it must be positive", f.cpuShares))
	}
	limits.CPUShares = uint64(f.cpuShares)
	if limits.Memory, err = parseMemory("--memory", f.memory, false); err != nil {
		return err
	}
	if limits.MemorySwap, err = parseMemory("--memory-swap", f.memorySwap, true); err != nil {
		return err
	}
	if limits.ShmSize, err = parseMemory("--shm-size", f.shmSize, false); err != nil {
		return err
	}
	var outputs []buildOutput
	for _, o := range f.outputs {
		out, err := parseOutput(o)
		if err != nil {
			return badUsage(err)
		}
		outputs = append(outputs, out)
	}
	var prog build.Progress
	mode := f.progress
	if f.quiet {
		mode = "quiet"
	}
	switch mode {
	case "auto":
		if term.IsTerminal(int(os.Stderr.Fd())) {
			prog = build.TTYProgress(os.Stderr)
		} else {
			prog = build.PlainProgress(os.Stderr)
		}
	case "tty":
		prog = build.TTYProgress(os.Stderr)
	case "plain":
		prog = build.PlainProgress(os.Stderr)
	case "quiet":
		prog = build.QuietProgress()
	default:
		return badUsage(fmt.Errorf("--progress %q: want auto, plain, tty or quiet", f.progress))
	}
	opts := build.Options{Tags: f.tags, BuildArgs: args, Target: f.target, NoCache: f.noCache, Pull: f.pull,
		Network: f.network, Labels: labels, Platform: f.platform, Secrets: secrets, ExtraHosts: f.addHosts, Limits: limits, Progress: prog}

	// The context: a directory, a tar file, or stdin (a tar or a Dockerfile).
	tmp := filepath.Join(g.state, "build")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	var bctx *build.Context
	isDir := false // the context is a directory: -f is a path from here
	switch st, err := os.Stat(contextArg); {
	case contextArg == "-":
		if f.file == "-" {
			return badUsage(errors.New("the context and the Dockerfile cannot both be stdin"))
		}
		c, df, err := build.ReadContext(bufio.NewReader(os.Stdin), tmp)
		if err != nil {
			return err
		}
		if df != nil && f.file != "" {
			c.Close()
			return badUsage(errors.New("ambiguous Dockerfile source: both stdin and -f name a Dockerfile"))
		}
		bctx, opts.DockerfileData = c, df
	case err != nil:
		return fmt.Errorf("build context: %w", err)
	case st.IsDir():
		if bctx, err = build.DirContext(contextArg); err != nil {
			return err
		}
		isDir = true
	default:
		file, err := os.Open(contextArg)
		if err != nil {
			return err
		}
		c, df, err := build.ReadContext(file, tmp)
		file.Close()
		if err != nil {
			return err
		}
		if df != nil {
			c.Close()
			return fmt.Errorf("build context %s: not a directory nor a tar archive", contextArg)
		}
		bctx = c
	}
	defer bctx.Close()
	opts.Context = bctx
	switch {
	case f.file == "-":
		data, err := io.ReadAll(io.LimitReader(os.Stdin, 16<<20))
		if err != nil {
			return err
		}
		opts.DockerfileData = data
	case f.file != "" && isDir:
		// docker's rule: -f is a path from here, and may lie outside the context.
		abs, _ := filepath.Abs(f.file)
		ctxAbs, _ := filepath.Abs(bctx.Dir())
		if rel, err := filepath.Rel(ctxAbs, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			opts.Dockerfile = rel
		} else {
			data, err := os.ReadFile(f.file)
			if err != nil {
				return fmt.Errorf("read dockerfile: %w", err)
			}
			opts.DockerfileData = data
		}
	case f.file != "":
		opts.Dockerfile = f.file // a tar context, on stdin or in a file: a path inside it
	}
	b, err := newBuilder(g, e)
	if err != nil {
		return err
	}
	b.Pull = func(ctx context.Context, ref, platform string) (*image.Image, error) {
		if platform == "" {
			platform = "linux/" + goruntime.GOARCH
		}
		return e.Images.Pull(ctx, ref, image.PullOptions{RegistryOptions: registryOptions(g), Platform: platform})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	img, err := b.Build(ctx, opts)
	if err != nil {
		var be *build.Error
		if errors.As(err, &be) && be.ExitCode != 0 {
			if be.Output != "" && mode == "quiet" {
				fmt.Fprintln(os.Stderr, be.Output)
			}
			return &exitError{code: 1, err: err}
		}
		return err
	}
	_ = start
	id := img.Config.String()
	if f.quiet {
		fmt.Println(id)
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(id), 0o644); err != nil {
			return err
		}
	}
	for _, o := range outputs {
		name := id
		if len(f.tags) > 0 && (o.typ == "oci" || o.typ == "docker") {
			name = f.tags[0] // the archive names the image
		}
		if err := writeOutput(e, o, name); err != nil {
			return err
		}
	}
	return nil
}

// newBuilder is the builder of `hull build` and of the Docker API's POST /build
// (`hull system service`): RUN runs in-process, its containers children of this
// process; no Pull (each caller sets its own, with its credentials).
func newBuilder(g *globals, e *engine.Engine) (*build.Builder, error) {
	rt, err := ociruntime.New("hull", filepath.Join(g.state, "runtime"))
	if err != nil {
		return nil, err
	}
	return &build.Builder{Store: e.Images, Runtime: rt, StateDir: g.state, AttachNetwork: e.AttachBuild}, nil
}

// writeOutput writes the image built (-o): as an image archive (type=oci|docker),
// or its files, merged from its layers, as a tar (type=tar) or into a directory
// (type=local; by package layer's confined unpacker: a symlink in the image never
// leads a write out of dest).
func writeOutput(e *engine.Engine, o buildOutput, id string) error {
	if o.typ == "local" {
		if err := os.MkdirAll(o.dest, 0o755); err != nil {
			return fmt.Errorf("--output %s: %w", o.dest, err)
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(exportFiles(e, id, pw)) }()
		_, err := layer.ApplyMerge(o.dest, pr, layer.DefaultLimits)
		pr.CloseWithError(err)
		if err != nil {
			return fmt.Errorf("--output %s: %w", o.dest, err)
		}
		return nil
	}
	var w io.Writer = os.Stdout
	if o.dest != "-" {
		file, err := os.Create(o.dest)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	var err error
	if o.typ == "tar" {
		err = exportFiles(e, id, w)
	} else {
		err = e.Images.Save(w, []string{id}, o.typ)
	}
	if err != nil {
		return fmt.Errorf("--output %s: %w", o.dest, err)
	}
	return nil
}

// exportFiles writes the files of image ref as a tar, from a read-only view of it.
func exportFiles(e *engine.Engine, ref string, w io.Writer) error {
	key := fmt.Sprintf("output-%d", os.Getpid())
	view, err := e.Images.View(key, ref)
	if err != nil {
		return err
	}
	defer e.Images.RemoveSnapshot(key)
	return image.Export(view, w)
}

func builderCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "builder", Short: "manage the build cache"}
	var all bool
	var keep time.Duration
	prune := &cobra.Command{
		Use:   "prune",
		Short: "remove the build cache",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(e *engine.Engine, cmd *cobra.Command, args []string) error {
			// what killed builds left first: their snapshots hold layers too
			rt, err := ociruntime.New("hull", filepath.Join(g.state, "runtime"))
			if err != nil {
				return err
			}
			(&build.Builder{Store: e.Images, Runtime: rt, StateDir: g.state}).Sweep()
			r, err := build.Prune(e.Images, build.PruneOptions{KeepNewerThan: keep})
			if err != nil {
				return err
			}
			fmt.Printf("Deleted build cache objects: %d\nTotal reclaimed space: %s\n", r.Entries, humanSize(r.Reclaimed))
			return nil
		}),
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "remove all of the cache (the only kind there is)")
	prune.Flags().BoolP("force", "f", false, "do not ask (hull never asks)")
	prune.Flags().DurationVar(&keep, "keep-duration", 0, "keep what is younger than this")
	c.AddCommand(prune)
	return c
}
