// The Go runtime's container-aware GOMAXPROCS keeps the cgroup's cpu.cfs_* files
// open for the life of the process; in a container's init that would be a host file
// held open inside the container until execve. hull needs no such tuning.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command hull is the container engine a person types. Each command, or small group
// of related commands, lives in its own file with its flags (command.go holds what
// they share); this one holds the root command, the global flags and docker's
// `hull container VERB` and `hull image VERB` forms.
package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/hullproject/hull/monitor"
	"github.com/hullproject/hull/runtime"
	_ "github.com/hullproject/hull/runtime/nsenter"
	"github.com/spf13/cobra"
)

func init() {
	// hull's own runtime starts a container's init by running this binary again
	// (see runtime.Init); that stage must own the main thread from the start.
	runtime.LockInitThread()
}

// exitError ends hull with a given exit code (run's 125/126/127, the container's own).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a mistake in how hull was called: an unknown flag, a flag's bad
// value, a missing or invalid argument. As docker's, it exits 125 (126 and 127
// stay the container's command's), and main prints the command's usage and where
// its help is.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// badUsage marks err as a usageError; nil stays nil.
func badUsage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// usageArgs makes every argument check below c, cobra's own included, return a
// usageError.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error { return badUsage(check(cmd, args)) }
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

type globals struct {
	root     string
	state    string
	insecure []string // --insecure-registry
}

func main() {
	if runtime.IsInit() {
		runtime.Init()
		return
	}
	// A container's monitor, as the engine starts it (monitor.Args): without
	// cobra, whose command tree would stay on the monitor's heap for good.
	if a, ok := monitor.ParseArgs(os.Args[1:]); ok {
		if err := monitor.Main(a, openMonitorEngine); err != nil {
			fmt.Fprintln(os.Stderr, "hull:", err)
			os.Exit(1)
		}
		return
	}
	g := &globals{}
	cmd := &cobra.Command{
		Use:           "hull",
		Short:         "a daemonless container engine",
		SilenceUsage:  true,
		SilenceErrors: true,
		// --version and -v: docker's one line (`hull version` has the long form).
		Version: version,
	}
	cmd.SetVersionTemplate("hull version {{.Version}}, build " + commit + "\n")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badUsage(err) })
	defRoot := "/var/lib/hull"
	if v := os.Getenv("HULL_ROOT"); v != "" {
		defRoot = v
	}
	cmd.PersistentFlags().StringVar(&g.root, "root", defRoot, "engine state directory (images, layers, containers) [$HULL_ROOT]")
	cmd.PersistentFlags().StringVar(&g.state, "state", "/run/hull", "runtime state directory")
	cmd.PersistentFlags().StringSliceVar(&g.insecure, "insecure-registry", nil, "registry (host:port) that may be spoken to over plain http")
	cmds := topLevel(g)
	if only := commandOnly(os.Args[1:], cmds); only != nil {
		// One command named: only it (and what it uses) is built. The whole
		// tree, with docker's groups and the completions, is ~45 commands and
		// thousands of flags, half a millisecond of every `hull run`'s start.
		cmd.AddCommand(only...)
	} else {
		for _, c := range cmds {
			cmd.AddCommand(c.make())
		}
		// `hull container prune` (lifecycle.go); addGroups adds the group's other verbs.
		groupCommand(cmd, "container", "manage containers").AddCommand(containerPruneCommand(g))
		// Keep these two last: they find the commands added above by name.
		addCompletions(cmd, g) // completion.go
		addGroups(cmd)
	}
	usageArgs(cmd)
	if c, err := cmd.ExecuteC(); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			// docker's form: the error, the usage, where the help is.
			fmt.Fprintf(os.Stderr, "hull: %v\n\nUsage:  %s\n\nRun '%s --help' for more information\n", ue.err, c.UseLine(), c.CommandPath())
			os.Exit(125)
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				printError(ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "hull:", err)
		os.Exit(1)
	}
}

// printError prints hull's error, an error of several (errors.Join: the engine
// refuses every bad option of a create at once) one line each.
func printError(err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok && errors.Join(j.Unwrap()...).Error() == err.Error() {
		for _, err := range j.Unwrap() {
			printError(err)
		}
		return
	}
	fmt.Fprintln(os.Stderr, "hull:", err)
}

// command is a top-level command: the name `hull NAME` calls it by, how it is
// made, and the other top-level commands it runs itself (by name, from the root).
type command struct {
	name string
	make func() *cobra.Command
	uses []string
}

// topLevel lists hull's top-level commands, in the order of its help.
func topLevel(g *globals) []command {
	c := func(name string, mk func(*globals) *cobra.Command, uses ...string) command {
		return command{name, func() *cobra.Command { return mk(g) }, uses}
	}
	return []command{
		c("run", runCommand, "pull"), c("create", createCommand, "pull"), // run.go
		c("start", startCommand), c("stop", stopCommand), c("restart", restartCommand), c("kill", killCommand),
		c("pause", pauseCommand), c("unpause", unpauseCommand), c("wait", waitCommand), c("rm", rmCommand), // lifecycle.go
		c("exec", execCommand), c("attach", attachCommand), c("ps", psCommand), c("inspect", inspectCommand), c("logs", logsCommand),
		c("top", topCommand), c("stats", statsCommand), // top.go
		c("update", updateCommand), c("rename", renameCommand), // update.go
		c("cp", cpCommand), c("export", exportCommand), c("commit", commitCommand), // cp.go, images_container.go
		c("port", portCommand), c("network", networkCommand), // network.go
		{"images", func() *cobra.Command { return imagesCommand(g, "images") }, nil},
		{"rmi", func() *cobra.Command { return rmiCommand(g, "rmi") }, nil},
		c("tag", tagCommand), c("history", historyCommand), c("image", imageCommand), // images.go
		c("pull", pullCommand), c("push", pushCommand), // pull.go
		{"login", loginCommand, nil}, {"logout", logoutCommand, nil}, // login.go
		c("save", saveCommand), c("load", loadCommand), c("import", importCommand), // save.go
		c("volume", volumeCommand), c("pod", podCommand),
		c("events", eventsCommand), c("info", infoCommand), {"version", versionCommand, nil}, c("system", systemCommand), // events.go, system.go
		{"pod-infra", podInfraCommand, nil},                    // hidden: started by hull itself
		c("build", buildCommand), c("builder", builderCommand), // build.go
	}
}

// commandOnly returns the commands to build when args name one top-level command
// that needs no other part of the tree: that command and those it uses. It returns
// nil, for the whole tree, when args name none (help, a flag of the root's own, a
// mistyped name that wants cobra's suggestions), a group that addGroups adds to
// (container, image), or cobra's own commands (help, completion, __complete).
func commandOnly(args []string, cmds []command) []*cobra.Command {
	name := ""
	for i := 0; i < len(args) && name == ""; i++ {
		switch a := args[i]; {
		case a == "--root" || a == "--state" || a == "--insecure-registry":
			i++ // the flag's value
		case strings.HasPrefix(a, "--root=") || strings.HasPrefix(a, "--state=") || strings.HasPrefix(a, "--insecure-registry="):
		case strings.HasPrefix(a, "-"):
			return nil // -h, -v, --help, --version, or a mistake cobra is to report
		default:
			name = a
		}
	}
	if name == "" || name == "image" {
		return nil
	}
	byName := map[string]command{}
	for _, c := range cmds {
		byName[c.name] = c
	}
	top, ok := byName[name]
	if !ok {
		return nil
	}
	out := []*cobra.Command{top.make()}
	for _, u := range top.uses {
		out = append(out, byName[u].make())
	}
	return out
}

// addGroups adds docker's `hull container VERB` and `hull image VERB` forms of the
// top-level commands. A verb whose command does not exist (yet) is skipped, and a
// verb someone already added to the group is kept.
func addGroups(root *cobra.Command) {
	groups := []struct {
		use, short string
		verbs      string // VERB or VERB=COMMAND
	}{
		{"container", "manage containers", "create run start stop restart kill rm ls=ps inspect logs exec wait top " +
			"stats export commit port pause unpause update cp rename attach prune diff"},
		{"image", "manage images", "ls=images rm=rmi pull push tag inspect history save load import prune build"},
	}
	for _, gr := range groups {
		grp := groupCommand(root, gr.use, gr.short)
		for _, v := range strings.Fields(gr.verbs) {
			verb, name, ok := strings.Cut(v, "=")
			if !ok {
				name = verb
			}
			if orig := lookup(root, name); orig != nil && lookup(grp, verb) == nil {
				grp.AddCommand(alias(orig, verb))
			}
		}
	}
}

// groupCommand returns root's command group name, made if it is not there yet.
func groupCommand(root *cobra.Command, name, short string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	grp := &cobra.Command{Use: name, Short: short}
	root.AddCommand(grp)
	return grp
}

// lookup is the command at path below parent, or nil.
func lookup(parent *cobra.Command, path ...string) *cobra.Command {
	c, rest, err := parent.Find(path)
	if err != nil || len(rest) > 0 || c == parent {
		return nil
	}
	return c
}

// alias is a copy of orig called name: the same behaviour, help, completion and
// the very same flags (their values are shared, and only one command runs).
func alias(orig *cobra.Command, name string) *cobra.Command {
	c := &cobra.Command{
		Use:   name + strings.TrimPrefix(orig.Use, orig.Name()),
		Short: orig.Short, Long: orig.Long, Args: orig.Args, Run: orig.Run, RunE: orig.RunE,
		ValidArgsFunction: orig.ValidArgsFunction,
	}
	c.Flags().AddFlagSet(orig.Flags())
	// pflag has no getter for it: run's and exec's `sh -c` must stay arguments.
	if v := reflect.ValueOf(orig.Flags()).Elem().FieldByName("interspersed"); v.IsValid() && !v.Bool() {
		c.Flags().SetInterspersed(false)
	}
	return c
}
