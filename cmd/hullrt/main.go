// The Go runtime's container-aware GOMAXPROCS keeps the cgroup's cpu.cfs_* files
// open for the life of the process; in a container's init that would be a host file
// held open inside the container until execve. hull needs no such tuning.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command hullrt is an OCI runtime with runc's command line: create, start, run,
// exec, state, list, kill, delete, ps, pause, resume, spec, features.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/runtime"
	_ "github.com/hullproject/hull/runtime/nsenter"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func init() {
	// The init stage must stay on the main thread from the very start; see Init.
	runtime.LockInitThread()
}

// globals are the flags before the command name.
type globals struct {
	root          string
	log           string
	logFormat     string
	debug         bool
	systemdCgroup bool
	rootless      string
	isRootless    bool // --rootless decided: auto is rootless when not root, as runc's
	trace         string
}

var g globals
var logger *slog.Logger

type command struct {
	name  string
	usage string
	setup func(fs *flag.FlagSet) func(args []string) error
}

func main() {
	if runtime.IsInit() {
		runtime.Init()
		return
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("hullrt", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	defaultRoot := "/run/hullrt"
	if os.Geteuid() != 0 {
		if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
			defaultRoot = dir + "/hullrt"
		}
	}
	fs.StringVar(&g.root, "root", defaultRoot, "state directory")
	fs.StringVar(&g.log, "log", "", "log file")
	fs.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&g.debug, "debug", false, "debug logging")
	fs.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "use systemd to manage cgroups")
	fs.StringVar(&g.rootless, "rootless", "auto", "rootless mode: true, false or auto")
	fs.StringVar(&g.trace, "trace", os.Getenv(trace.Env), "append the kernel steps of create, start, run, exec and delete to this file, as JSON lines (also "+trace.Env+")")
	var showVersion, help bool
	fs.BoolVar(&showVersion, "version", false, "print the version")
	fs.BoolVar(&showVersion, "v", false, "print the version")
	fs.BoolVar(&help, "help", false, "show help")
	fs.BoolVar(&help, "h", false, "show help")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, "hullrt:", err)
		return 1
	}
	if showVersion {
		fmt.Printf("hullrt version %s\ncommit: %s\nspec: %s\n", version, commit, specVersion())
		return 0
	}
	if err := setupLog(); err != nil {
		fmt.Fprintln(os.Stderr, "hullrt:", err)
		return 1
	}
	rest := fs.Args()
	if help || len(rest) == 0 {
		usage(os.Stdout)
		return 0
	}
	switch g.rootless {
	case "true", "false":
		g.isRootless = g.rootless == "true"
	case "auto":
		g.isRootless = os.Geteuid() != 0 || runtime.InUserNS()
	default:
		return fail(fmt.Errorf("--rootless %q: must be true, false or auto", g.rootless))
	}
	if g.logFormat != "text" && g.logFormat != "json" {
		return fail(fmt.Errorf("--log-format %q: must be text or json", g.logFormat))
	}
	for _, c := range commands {
		if c.name != rest[0] {
			continue
		}
		cfs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		cfs.SetOutput(io.Discard)
		var chelp bool
		cfs.BoolVar(&chelp, "help", false, "")
		cfs.BoolVar(&chelp, "h", false, "")
		do := c.setup(cfs)
		if err := cfs.Parse(rest[1:]); err != nil {
			return fail(fmt.Errorf("%s: %w", c.name, err))
		}
		if chelp {
			fmt.Printf("usage: hullrt %s %s\n\nflags:\n", c.name, c.usage)
			cfs.SetOutput(os.Stdout)
			cfs.PrintDefaults()
			return 0
		}
		if err := do(cfs.Args()); err != nil {
			var ec exitCode
			if errors.As(err, &ec) {
				return int(ec)
			}
			return fail(err)
		}
		return 0
	}
	return fail(fmt.Errorf("no such command %q", rest[0]))
}

// exitCode is returned by run and exec to exit with the container's status.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// fail reports err on stderr and, with --log, in the log; it returns the exit code.
func fail(err error) int {
	msg := err.Error()
	if logger != nil {
		logger.Error(msg)
	}
	fmt.Fprintln(os.Stderr, "hullrt: "+msg)
	return 1
}

// openTrace opens --trace for the command proc; nil when not tracing. The caller
// closes it.
func openTrace(proc string) (*trace.Tracer, error) {
	if g.trace == "" {
		return nil, nil
	}
	return trace.Open(g.trace, proc)
}

// setupLog opens --log. The json format writes one object per line with a lower-case
// level ({"level":"error","msg":...,"time":...}): containerd's shim reads the last
// error out of this file and matches the level exactly.
func setupLog() error {
	if g.log == "" {
		return nil
	}
	f, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
	if err != nil {
		return fmt.Errorf("--log: %w", err)
	}
	logger = newLogger(f)
	logger.Log(context.Background(), slog.LevelDebug, "hullrt", "args", os.Args)
	return nil
}

// newLogger logs to w in --log-format. Levels are written as runc's logrus writes
// them: lower case, and "warning" for a warning.
func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.LevelKey && len(groups) == 0 {
			l := strings.ToLower(a.Value.String())
			if l == "warn" {
				l = "warning"
			}
			return slog.String(slog.LevelKey, l)
		}
		return a
	}}
	if g.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// warnLog is where the runtime's warnings go: the --log file, or stderr without
// one (as runc logs them).
func warnLog() *slog.Logger {
	if logger != nil {
		return logger
	}
	return newLogger(os.Stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hullrt [global flags] COMMAND [flags] [args]")
	fmt.Fprintln(w, "\nan OCI container runtime, command-line compatible with runc\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nglobal flags: --root DIR, --log FILE, --log-format text|json, --debug, --version")
}
