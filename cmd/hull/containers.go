package main

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/hullproject/hull/runtime"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/logs"
	"github.com/hullproject/hull/monitor"
	"github.com/hullproject/hull/monitor/resident"
	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/runtime/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

func openEngine(g *globals) (*engine.Engine, error) {
	e, err := engine.New(g.root, g.state)
	if err == nil {
		e.NetDefaults = netDefaults()
		e.Init = os.Getenv("HULL_INIT")
	}
	return e, err
}

func openStore(g *globals) (*image.Store, error) {
	e, err := openEngine(g)
	if err != nil {
		return nil, err
	}
	return e.Images, nil
}

// createFlags are the flags `run` and `create` share.
type createFlags struct {
	o           engine.CreateOptions
	envFiles    []string
	entrypoint  string
	labels      []string
	memory      string
	cpus        float64
	cidfile     string
	stopTimeout int
	limits      limitFlags // manage.go
	pull        string
}

func (f *createFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.SetInterspersed(false)
	fl.StringVar(&f.o.Name, "name", "", "the container's name")
	fl.StringArrayVarP(&f.o.Env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to take it from here)")
	fl.StringArrayVar(&f.envFiles, "env-file", nil, "read environment variables from a file")
	fl.StringVarP(&f.o.WorkingDir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.o.User, "user", "u", "", "user[:group], by name or number")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "replace the image's entrypoint")
	fl.StringVar(&f.o.Hostname, "hostname", "", "the container's host name")
	fl.StringArrayVarP(&f.labels, "label", "l", nil, "set a label (KEY=VALUE)")
	fl.BoolVar(&f.o.ReadOnly, "read-only", false, "mount the root filesystem read-only")
	fl.StringSliceVar(&f.o.CapAdd, "cap-add", nil, "add capabilities")
	fl.StringArrayVar(&f.o.GroupAdd, "group-add", nil, "add a supplementary group, by name or number")
	fl.StringSliceVar(&f.o.CapDrop, "cap-drop", nil, "drop capabilities")
	fl.BoolVar(&f.o.Privileged, "privileged", false, "every capability, no seccomp, no masked paths")
	fl.StringArrayVar(&f.o.SecurityOpt, "security-opt", nil, "seccomp=FILE|unconfined, no-new-privileges")
	fl.StringArrayVar(&f.o.Ulimits, "ulimit", nil, "resource limit NAME=SOFT[:HARD]")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 64m)")
	fl.Float64Var(&f.cpus, "cpus", 0, "number of CPUs")
	fl.Int64Var(&f.o.PidsLimit, "pids-limit", 0, fmt.Sprintf("process limit (-1 for none; default %d)", engine.DefaultPidsLimit))
	fl.StringVar(&f.o.Network, "network", "bridge", "network: bridge (the default network), a network's name, none, host or container:NAME")
	addNetFlags(fl, &f.o.NetOptions)
	addMonitorFlags(fl, &f.o.MonitorOptions) // attach.go
	addSharingFlags(fl, &f.o)                // volume.go
	fl.StringVar(&f.o.Runtime, "runtime", "", "OCI runtime: hull (built in), runc, crun or a path")
	fl.StringArrayVar(&f.o.LogOpts, "log-opt", nil, "log option: max-size=SIZE, max-file=N")
	fl.StringVar(&f.cidfile, "cidfile", "", "write the container's ID to this file")
	fl.StringVar(&f.o.StopSignal, "stop-signal", "", "signal that stops the container (default SIGTERM)")
	fl.IntVar(&f.stopTimeout, "stop-timeout", -1, "seconds to wait for the stop signal before SIGKILL")
	fl.BoolVarP(&f.o.Interactive, "interactive", "i", false, "keep stdin open")
	fl.BoolVarP(&f.o.Tty, "tty", "t", false, "allocate a terminal")
	fl.BoolVar(&f.o.AutoRemove, "rm", false, "remove the container when it exits")
	f.limits.add(fl)
	fl.StringArrayVar(&f.o.Devices, "device", nil, "add a host device: HOST[:CONTAINER][:rwm]")
	fl.StringVar(&f.pull, "pull", "missing", "pull the image: always, missing or never")
	fl.BoolVar(&f.o.Init, "init", false, "run hull-init as PID 1: it forwards signals and reaps zombies [$HULL_INIT]")
}

// options completes the options from the flags and the arguments IMAGE [CMD...].
func (f *createFlags) options(c *cobra.Command, args []string) (engine.CreateOptions, error) {
	o := f.o
	o.Image, o.Cmd = args[0], args[1:]
	if c.Flags().Changed("entrypoint") {
		ep := []string{f.entrypoint}
		o.Entrypoint = &ep
	}
	var env []string
	for _, file := range f.envFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return o, fmt.Errorf("env file: %w", err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				env = append(env, l)
			}
		}
	}
	env = append(env, o.Env...)
	o.Env = nil
	for _, kv := range env {
		if !strings.Contains(kv, "=") {
			v, ok := os.LookupEnv(kv)
			if !ok {
				continue
			}
			kv += "=" + v
		}
		o.Env = append(o.Env, kv)
	}
	if len(f.labels) > 0 {
		o.Labels = map[string]string{}
		for _, l := range f.labels {
			k, v, _ := strings.Cut(l, "=")
			o.Labels[k] = v
		}
	}
	if f.memory != "" {
		n, err := logs.ParseSize(f.memory)
		if err != nil || n <= 0 {
			return o, badUsage(fmt.Errorf("invalid memory %q", f.memory))
		}
		o.Memory = n
	}
	if f.cpus < 0 {
		return o, badUsage(errors.New("--cpus must be positive"))
	}
	o.NanoCPUs = int64(f.cpus * 1e9)
	if o.Tty {
		if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
			o.ConsoleSize = &specs.Box{Height: uint(h), Width: uint(w)}
		}
	}
	if f.stopTimeout >= 0 {
		t := f.stopTimeout
		o.StopTimeout = &t
	}
	sharingOptions(c, &o)
	return o, f.limits.apply(&o)
}

func (f *createFlags) create(e *engine.Engine, c *cobra.Command, args []string) (*engine.Container, error) {
	o, err := f.options(c, args)
	if err != nil {
		return nil, err
	}
	if f.cidfile != "" {
		if _, err := os.Stat(f.cidfile); err == nil {
			return nil, fmt.Errorf("container ID file %s exists", f.cidfile)
		}
	}
	if err := ensureImage(c, e, f.pull, o.Image); err != nil {
		return nil, err
	}
	ctr, err := e.Create(o)
	if err != nil {
		return nil, err
	}
	if f.cidfile != "" {
		if err := os.WriteFile(f.cidfile, []byte(ctr.ID), 0o644); err != nil {
			e.Remove(ctr.ID, true)
			return nil, err
		}
	}
	return ctr, nil
}

// rawTerminal puts hull's terminal in raw mode for a container with a terminal of
// its own, before it starts (its first output must not be cooked twice); the
// returned function restores it.
func rawTerminal(tty bool) func() {
	in := int(os.Stdin.Fd())
	if !tty || !term.IsTerminal(in) {
		return func() {}
	}
	st, err := term.MakeRaw(in)
	if err != nil {
		return func() {}
	}
	return func() { term.Restore(in, st) }
}

// startErr turns a failure to start into run's exit code.
func startErr(err error) error {
	var se *engine.StartError
	if errors.As(err, &se) {
		return &exitError{se.Code, err}
	}
	return &exitError{125, err}
}

func addContainerCommands(root *cobra.Command, g *globals) {
	var detach bool
	var runAttach, startAttachOpts attachOpts
	rf := &createFlags{}
	run := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "create and start a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return &exitError{125, err}
			}
			if !detach {
				// Refused before anything is made.
				if _, err := parseDetachKeys(runAttach.detachKeys); err != nil {
					return &exitError{125, err}
				}
			}
			// The monitor's program starts while the container is made (nil if
			// it cannot be spawned now: the start then spawns its own).
			m, _ := e.SpawnMonitor(!detach)
			c, err := rf.create(e, cmd, args)
			if err != nil {
				m.Abort()
				return &exitError{125, err}
			}
			if detach {
				if _, err := e.StartWith(c.ID, nil, m); err != nil {
					return startErr(err)
				}
				fmt.Println(c.ID)
				return nil
			}
			return startAttached(e, c, rf.o.Interactive, &runAttach, m) // attach.go
		},
	}
	rf.add(run)
	runAttach.add(run.Flags())
	run.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background and print the container's ID")
	root.AddCommand(run)

	cf := &createFlags{}
	create := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "create a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return &exitError{125, err}
			}
			c, err := cf.create(e, cmd, args)
			if err != nil {
				return &exitError{125, err}
			}
			fmt.Println(c.ID)
			return nil
		},
	}
	cf.add(create)
	root.AddCommand(create)

	var startAttach, startInteractive bool
	start := &cobra.Command{
		Use:   "start [-a] CONTAINER...",
		Short: "start containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			if startAttach {
				if len(args) != 1 {
					return badUsage(errors.New("-a takes one container"))
				}
				c, err := e.Get(args[0])
				if err != nil {
					return err
				}
				return startAttached(e, c, startInteractive && c.Config.OpenStdin, &startAttachOpts, nil)
			}
			return eachAtOnce(args, func(a string) error {
				_, err := e.Start(a, nil)
				return err
			})
		},
	}
	start.Flags().BoolVarP(&startAttach, "attach", "a", false, "attach to the output and return the exit code")
	start.Flags().BoolVarP(&startInteractive, "interactive", "i", false, "attach stdin (with -a)")
	startAttachOpts.add(start.Flags())
	root.AddCommand(start)

	var stopTime int
	stop := &cobra.Command{
		Use:   "stop [-t SECONDS] CONTAINER...",
		Short: "stop containers: the stop signal, then SIGKILL after the timeout",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			var t *int
			if cmd.Flags().Changed("time") {
				t = &stopTime
			}
			return eachAtOnce(args, func(a string) error { return e.Stop(a, t) })
		},
	}
	stop.Flags().IntVarP(&stopTime, "time", "t", 10, "seconds to wait before SIGKILL")
	root.AddCommand(stop)

	var killSig string
	kill := &cobra.Command{
		Use:   "kill [-s SIGNAL] CONTAINER...",
		Short: "send a signal to containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			sig, err := runtime.ParseSignal(killSig)
			if err != nil {
				return badUsage(err)
			}
			return eachAtOnce(args, func(a string) error { return e.Kill(a, sig) })
		},
	}
	kill.Flags().StringVarP(&killSig, "signal", "s", "KILL", "signal to send")
	root.AddCommand(kill)

	var rmForce, rmVolumes bool
	rm := &cobra.Command{
		Use:   "rm [-f] [-v] CONTAINER...",
		Short: "remove containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			remove := e.Remove
			if rmVolumes {
				remove = e.RemoveWithVolumes
			}
			return eachAtOnce(args, func(a string) error { return remove(a, rmForce) })
		},
	}
	rm.Flags().BoolVarP(&rmForce, "force", "f", false, "kill a running container first")
	rm.Flags().BoolVarP(&rmVolumes, "volumes", "v", false, "remove the container's anonymous volumes")
	root.AddCommand(rm)

	var psAll, psQuiet, psNoTrunc bool
	var psFormat string
	var psOpts psOptions // manage.go
	ps := &cobra.Command{
		Use:   "ps [-a] [-q] [--no-trunc] [--format TEMPLATE]",
		Short: "list containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			list, err := e.List()
			if err != nil {
				return err
			}
			list, all, err := psOpts.apply(list, psAll)
			if err != nil {
				return badUsage(err)
			}
			return printPs(list, all, psQuiet, psNoTrunc, psFormat)
		},
	}
	ps.Flags().BoolVarP(&psAll, "all", "a", false, "all containers, not only running ones")
	psOpts.add(ps.Flags())
	ps.Flags().BoolVarP(&psQuiet, "quiet", "q", false, "only IDs")
	ps.Flags().BoolVar(&psNoTrunc, "no-trunc", false, "do not truncate")
	ps.Flags().StringVar(&psFormat, "format", "", "Go template: .ID .Image .Command .CreatedAt .RunningFor .Status .State .Names .Labels")
	root.AddCommand(ps)

	var inspFormat string
	inspect := &cobra.Command{
		Use:   "inspect [-f TEMPLATE] CONTAINER...",
		Short: "show containers' records as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			var out []inspectJSON
			for _, a := range args {
				c, err := e.Get(a)
				if err != nil {
					return err
				}
				out = append(out, toInspect(e, c))
			}
			return printJSONOrTemplate(out, inspFormat)
		},
	}
	inspect.Flags().StringVarP(&inspFormat, "format", "f", "", "Go template")
	root.AddCommand(inspect)

	var follow, timestamps bool
	var tail, since, until string
	logsCmd := &cobra.Command{
		Use:   "logs [-f] [--tail N] [-t] [--since TIME] CONTAINER",
		Short: "show a container's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			o := logs.ReadOptions{Tail: -1, Follow: follow}
			if tail != "all" && tail != "" {
				if o.Tail, err = strconv.Atoi(tail); err != nil || o.Tail < 0 {
					return badUsage(fmt.Errorf("--tail %q: want a number or all", tail))
				}
			}
			if since != "" {
				if o.Since, err = parseSince(since); err != nil {
					return badUsage(err)
				}
			}
			var end time.Time
			if until != "" {
				if end, err = parseSince(until); err != nil {
					return badUsage(fmt.Errorf("--until %q: want an RFC 3339 time, a duration or a unix time", until))
				}
			}
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			c, err := e.Get(args[0])
			if err != nil {
				return err
			}
			o.Done = func() bool {
				c, err := e.Get(c.ID)
				return err != nil || !c.State.Running()
			}
			stdout, stderr := bufio.NewWriter(os.Stdout), bufio.NewWriter(os.Stderr)
			defer stdout.Flush()
			defer stderr.Flush()
			return logs.Read(e.LogPath(c.ID), o, func(en logs.Entry) error {
				if !end.IsZero() && en.Time.After(end) {
					return nil
				}
				w := stdout
				if en.Stream == "stderr" {
					w = stderr
				}
				if timestamps {
					w.WriteString(en.Time.Format(time.RFC3339Nano) + " ")
				}
				_, err := w.WriteString(en.Log)
				if follow {
					w.Flush()
				}
				return err
			})
		},
	}
	logsCmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the output until the container stops")
	logsCmd.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	logsCmd.Flags().StringVar(&tail, "tail", "all", "number of lines from the end")
	logsCmd.Flags().StringVar(&since, "since", "", "only lines since a time (RFC 3339) or a duration ago (10m)")
	logsCmd.Flags().StringVar(&until, "until", "", "only lines before a time (RFC 3339) or a duration ago (10m)")
	root.AddCommand(logsCmd)

	var xo engine.ExecOptions
	var xInteractive, xTty bool
	execCmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "run a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return &exitError{125, err}
			}
			o := xo
			o.Args = args[1:]
			o.Tty = xTty
			stdio := ociruntime.IO{Stdout: os.Stdout, Stderr: os.Stderr}
			if xInteractive {
				stdio.Stdin = os.Stdin
			}
			var master *os.File
			if xTty {
				stdio.Console = func(m *os.File) { master = m }
				if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
					o.ConsoleSize = &specs.Box{Height: uint(h), Width: uint(w)}
				}
			}
			if o.Detach {
				stdio.Stdin, stdio.Stdout, stdio.Stderr = nil, nil, nil
			}
			wait, err := e.Exec(args[0], o, stdio)
			if err != nil {
				return &exitError{engine.ExitCodeOf(err), err}
			}
			if master != nil {
				if o.Detach {
					master.Close()
				} else {
					in := os.Stdin
					if !xInteractive {
						in, _ = os.Open(os.DevNull)
					}
					done, restore := console.Proxy(master, in, os.Stdout)
					defer master.Close()
					code, err := wait()
					done()
					restore()
					if err != nil {
						return &exitError{engine.ExitCodeOf(err), err}
					}
					return &exitError{code: code}
				}
			}
			code, err := wait()
			if err != nil {
				return &exitError{engine.ExitCodeOf(err), err}
			}
			return &exitError{code: code}
		},
	}
	execCmd.Flags().SetInterspersed(false)
	execCmd.Flags().BoolVarP(&xo.Detach, "detach", "d", false, "run in the background")
	execCmd.Flags().BoolVarP(&xInteractive, "interactive", "i", false, "keep stdin open")
	execCmd.Flags().BoolVarP(&xTty, "tty", "t", false, "allocate a terminal")
	execCmd.Flags().StringArrayVarP(&xo.Env, "env", "e", nil, "set an environment variable")
	execCmd.Flags().StringVarP(&xo.User, "user", "u", "", "user[:group]")
	execCmd.Flags().StringVarP(&xo.WorkingDir, "workdir", "w", "", "working directory")
	execCmd.Flags().BoolVar(&xo.Privileged, "privileged", false, "every capability for the command")
	root.AddCommand(execCmd)

	root.AddCommand(&cobra.Command{
		Use:   "wait CONTAINER...",
		Short: "wait for containers to stop and print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			return each(args, func(a string) error {
				code, err := e.Wait(a)
				if err != nil {
					return err
				}
				fmt.Println(code)
				return nil
			})
		},
	})

	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "show hull's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Printf("hull version %s (commit %s)\n", version, commit)
		},
	})

	root.AddCommand(&cobra.Command{
		Use:   "info",
		Short: "show what hull runs on",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			list, _ := e.List()
			running := 0
			for _, c := range list {
				if c.State.Running() {
					running++
				}
			}
			imgs, _ := e.Images.List()
			var u unix.Utsname
			unix.Uname(&u)
			cg := "v1 (hybrid)"
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				cg = "v2"
			}
			fmt.Printf("Containers: %d\n Running: %d\n Stopped: %d\nImages: %d\n", len(list), running, len(list)-running, len(imgs))
			fmt.Printf("Storage driver: %s\nLogging driver: json-file\nCgroup version: %s\n", e.Images.Snapshotter().Name(), cg)
			fmt.Printf("Default runtime: hull\nKernel version: %s\nRoot dir: %s\nState dir: %s\n", unix.ByteSliceToString(u.Release[:]), e.Root, e.StateDir)
			return nil
		},
	})

	mon := &cobra.Command{
		Use:    "monitor CONTAINER-ID",
		Short:  "supervise a container (started by run and start)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			attached, _ := cmd.Flags().GetBool("attached")
			return runMonitor(g, args[0], attached)
		},
	}
	mon.Flags().Bool("attached", false, "the starting command stays attached (a foreground start)")
	root.AddCommand(mon)
}

// runMonitor is `hull monitor`: the process that stays beside a running container,
// one per container, so its idle memory is what a host full of containers pays
// (main runs it without building cobra's command tree, which would stay on its heap).
func runMonitor(g *globals, id string, attached bool) error {
	// One P: the monitor waits on a few descriptors, and every P keeps a cache of
	// heap spans and wants a thread.
	goruntime.GOMAXPROCS(1)
	// Creating and starting the container (spec, seccomp filter, mounts) leaves a
	// few MB of garbage that the first GC, due at a 4 MB heap, would leave for a
	// long time in an idle monitor: collect it and give it back to the kernel once
	// the container runs (under load the start may take a few seconds). From then
	// on the heap is about 1.5 MB, and log lines would let garbage grow to 4 MB
	// before each GC: a GC at +25 % keeps a chatty container's monitor ~2 MB
	// smaller, for a GC every few hundred KB of output.
	go func() {
		for _, d := range []time.Duration{time.Second, 10 * time.Second} {
			time.Sleep(d)
			debug.SetGCPercent(25)
			debug.FreeOSMemory()
		}
	}()
	e, err := openEngine(g)
	if err != nil {
		return err
	}
	if err := e.RunMonitor(id, os.NewFile(3, "sync"), attached); err != nil {
		return &exitError{code: 1}
	}
	return nil
}

// resumeMonitor is `hull monitor --resume ID`: the monitor taking its container
// back from hull-monitor, its resident form, which exec'd it with the container's
// state in the environment (monitor/resident).
func resumeMonitor(g *globals) error {
	goruntime.GOMAXPROCS(1)
	// The resident ran without transparent huge pages (engine.handOver); a
	// container this monitor starts again must not inherit that.
	unix.Prctl(unix.PR_SET_THP_DISABLE, 0, 0, 0, 0)
	s, err := resident.Load()
	if err != nil {
		return err
	}
	e, err := openEngine(g)
	if err != nil {
		return err
	}
	if err := monitor.BecomeSubreaper(); err != nil {
		return err
	}
	if err := e.ResumeMonitor(s); err != nil {
		return &exitError{code: 1}
	}
	return nil
}

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

// each runs fn on every argument, reports each failure and fails if any did.
func each(args []string, fn func(string) error) error {
	failed := false
	for _, a := range args {
		if err := fn(a); err != nil {
			fmt.Fprintln(os.Stderr, "hull:", err)
			failed = true
		}
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

// eachAtOnce runs fn on the arguments concurrently, up to 50 at a time as docker
// does: a stop waits out its container's grace period, and fifty of them in turn
// would take fifty grace periods. Like docker it prints, in the arguments' order,
// each argument that succeeded or the error of each that failed, and fails if any
// did.
func eachAtOnce(args []string, fn func(string) error) error {
	done := make([]chan error, len(args))
	for i := range done {
		done[i] = make(chan error, 1)
	}
	go func() {
		sem := make(chan struct{}, 50)
		for i, a := range args {
			sem <- struct{}{}
			go func() {
				done[i] <- fn(a)
				<-sem
			}()
		}
	}()
	failed := false
	for i, a := range args {
		if err := <-done[i]; err != nil {
			fmt.Fprintln(os.Stderr, "hull:", err)
			failed = true
		} else {
			fmt.Println(a)
		}
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time, a duration or a unix time", s)
}

type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, State, Names, Labels string
}

func printPs(list []*engine.Container, all, quiet, noTrunc bool, format string) error {
	l, err := newListing("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES", format, quiet)
	if err != nil {
		return err
	}
	for _, c := range list {
		if !all && !c.State.Running() {
			continue
		}
		id := c.ID
		command := strings.Join(append([]string{c.Path}, c.Args...), " ")
		if !noTrunc {
			id = id[:12]
			if len(command) > 20 {
				command = command[:19] + "…"
			}
		}
		if quiet {
			l.row(id, nil)
			continue
		}
		var labels []string
		for k, v := range c.Config.Labels {
			labels = append(labels, k+"="+v)
		}
		row := psRow{
			ID: id, Image: c.ImageRef, Command: strconv.Quote(command), CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
			RunningFor: ago(c.Created), Status: status(c), State: c.State.Status, Names: c.Name, Labels: strings.Join(labels, ","),
		}
		if err := l.row(id, row, row.ID, row.Image, row.Command, row.RunningFor, row.Status, row.Names); err != nil {
			return err
		}
	}
	return l.flush()
}

func ago(t time.Time) string { return human(time.Since(t)) + " ago" }

func human(d time.Duration) string {
	switch {
	case d < 2*time.Second:
		return "Less than a second"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func status(c *engine.Container) string {
	switch c.State.Status {
	case engine.StatusRunning:
		return "Up " + human(time.Since(c.State.StartedAt)) + healthStatus(c.State.Health)
	case engine.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s", c.State.ExitCode, ago(c.State.FinishedAt))
	case engine.StatusPaused:
		return "Up " + human(time.Since(c.State.StartedAt)) + " (Paused)"
	case engine.StatusExited:
		return fmt.Sprintf("Exited (%d) %s", c.State.ExitCode, ago(c.State.FinishedAt))
	}
	return "Created"
}

// inspectJSON is the Docker-shaped subset `hull inspect` prints.
type inspectJSON struct {
	Id      string    `json:"Id"` // Docker's spelling, for -f {{.Id}}
	Created time.Time `json:"Created"`
	Path    string    `json:"Path"`
	Args    []string  `json:"Args"`
	State   struct {
		Status     string         `json:"Status"`
		Running    bool           `json:"Running"`
		Paused     bool           `json:"Paused"`
		OOMKilled  bool           `json:"OOMKilled"`
		Dead       bool           `json:"Dead"`
		Pid        int            `json:"Pid"`
		ExitCode   int            `json:"ExitCode"`
		Error      string         `json:"Error"`
		StartedAt  time.Time      `json:"StartedAt"`
		FinishedAt time.Time      `json:"FinishedAt"`
		Restarting bool           `json:"Restarting"`
		Health     *engine.Health `json:"Health,omitempty"`
	} `json:"State"`
	Image        string            `json:"Image"`
	RestartCount int               `json:"RestartCount"`
	LogPath      string            `json:"LogPath"`
	Name         string            `json:"Name"`
	Driver       string            `json:"Driver"`
	HostConfig   engine.HostConfig `json:"HostConfig"`
	Config       engine.Config     `json:"Config"`
	// NetworkSettings: see engine/network.go
	NetworkSettings engine.NetworkSettings `json:"NetworkSettings"`
	// Mounts, Pod and Namespaces: see engine/volumes.go, pods.go, namespaces.go
	Mounts     []engine.MountInfo              `json:"Mounts"`
	Pod        string                          `json:"Pod,omitempty"`
	Namespaces map[string]engine.NamespaceInfo `json:"Namespaces,omitempty"`
}

func toInspect(e *engine.Engine, c *engine.Container) inspectJSON {
	var o inspectJSON
	o.Id, o.Created, o.Path, o.Args, o.Image, o.Name = c.ID, c.Created, c.Path, c.Args, c.Image, "/"+c.Name
	o.LogPath, o.Driver = e.LogPath(c.ID), e.Images.Snapshotter().Name()
	s := &o.State
	s.Status, s.Running, s.Paused = c.State.Status, c.State.Running(), c.State.Status == engine.StatusPaused
	s.OOMKilled, s.Pid, s.ExitCode, s.Error = c.State.OOMKilled, c.State.Pid, c.State.ExitCode, c.State.Error
	s.StartedAt, s.FinishedAt = c.State.StartedAt, c.State.FinishedAt
	s.Restarting, s.Health, o.RestartCount = c.State.Status == engine.StatusRestarting, c.State.Health, c.RestartCount
	o.HostConfig, o.Config = c.HostConfig, c.Config
	o.NetworkSettings = c.NetworkSettings
	o.Mounts, o.Pod, o.Namespaces = e.MountInfos(c), c.Pod, e.Namespaces(c)
	if o.Args == nil {
		o.Args = []string{}
	}
	return o
}
