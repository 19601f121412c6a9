package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hullproject/hull/runtime"
	"github.com/hullproject/hull/runtime/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var commands = []command{
	{"create", "[flags] ID", cmdCreate},
	{"start", "ID", cmdStart},
	{"run", "[flags] ID", cmdRun},
	{"exec", "[flags] ID [COMMAND [ARG...]]", cmdExec},
	{"state", "ID", cmdState},
	{"list", "[--format table|json] [-q]", cmdList},
	{"kill", "[--all] ID [SIGNAL]", cmdKill},
	{"delete", "[--force] ID", cmdDelete},
	{"ps", "[--format table|json] ID [PS ARGS...]", cmdPs},
	{"pause", "ID", cmdPause},
	{"resume", "ID", cmdResume},
	{"update", "[flags] ID", cmdUpdate},
	{"events", "[--stats] [--interval D] ID", cmdEvents},
	{"spec", "[--bundle DIR] [--rootless]", cmdSpec},
	{"features", "", cmdFeatures},
	{"checkpoint", "ID (not supported)", cmdCheckpoint("checkpoint")},
	{"restore", "ID (not supported)", cmdCheckpoint("restore")},
}

// cmdCheckpoint answers runc's checkpoint and restore, which containerd's shim
// calls for CRI's CheckpointContainer and for restores: hullrt has no CRIU, and
// says so (after the "does not exist" a missing container gets, as runc does).
// The flags runc takes are accepted, and ignored.
func cmdCheckpoint(name string) func(fs *flag.FlagSet) func([]string) error {
	return func(fs *flag.FlagSet) func([]string) error {
		for _, f := range []string{"image-path", "work-path", "parent-path", "page-server", "manage-cgroups-mode", "empty-ns", "bundle", "b", "console-socket", "pid-file", "lsm-profile", "lsm-mount-context", "status-fd"} {
			fs.String(f, "", "ignored")
		}
		for _, f := range []string{"leave-running", "tcp-established", "ext-unix-sk", "shell-job", "lazy-pages", "file-locks", "pre-dump", "auto-dedup", "detach", "d", "no-subreaper", "no-pivot"} {
			fs.Bool(f, false, "ignored")
		}
		return func(args []string) error {
			if name == "checkpoint" && len(args) == 1 {
				if _, err := loadID(args[0]); err != nil {
					return err
				}
			}
			return fmt.Errorf("%s: not supported: hullrt cannot checkpoint or restore containers (it has no CRIU support)", name)
		}
	}
}

// strs is a repeatable string flag.
type strs []string

func (s *strs) String() string     { return strings.Join(*s, ",") }
func (s *strs) Set(v string) error { *s = append(*s, v); return nil }

func oneID(args []string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("expects exactly one container id, got %d arguments", len(args))
	}
	return args[0], nil
}

func load(args []string) (*runtime.Container, error) {
	id, err := oneID(args)
	if err != nil {
		return nil, err
	}
	return loadID(id)
}

// loadID loads the container id, logging its warnings where hullrt logs.
func loadID(id string) (*runtime.Container, error) {
	c, err := runtime.Load(g.root, id)
	if err != nil {
		return nil, err
	}
	c.Log = warnLog()
	return c, nil
}

// createFlags are shared by create and run.
func createFlags(fs *flag.FlagSet, o *runtime.CreateOpts) {
	fs.StringVar(&o.Bundle, "bundle", ".", "bundle directory")
	fs.StringVar(&o.Bundle, "b", ".", "bundle directory")
	fs.StringVar(&o.PidFile, "pid-file", "", "write the init's pid here")
	fs.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket to send the pty master to")
	fs.BoolVar(&o.NoPivot, "no-pivot", false, "use MS_MOVE and chroot instead of pivot_root")
	fs.BoolVar(&o.NoNewKeyring, "no-new-keyring", false, "keep the caller's session keyring")
	fs.IntVar(&o.PreserveFds, "preserve-fds", 0, "pass this many extra fds (from 3) to the container")
}

func cmdCreate(fs *flag.FlagSet) func([]string) error {
	var o runtime.CreateOpts
	createFlags(fs, &o)
	return func(args []string) error {
		id, err := oneID(args)
		if err != nil {
			return err
		}
		o.Root, o.ID, o.Rootless, o.SystemdCgroup, o.Log = g.root, id, g.isRootless, g.systemdCgroup, warnLog()
		o.Stdin, o.Stdout, o.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := prepareFds(o.PreserveFds); err != nil {
			return err
		}
		if o.Trace, err = openTrace("create"); err != nil {
			return err
		}
		defer o.Trace.Close()
		_, err = runtime.Create(o)
		return err
	}
}

func prepareFds(n int) error {
	if n < 0 {
		return errors.New("--preserve-fds must not be negative")
	}
	return runtime.MarkInheritedCloexec(n)
}

func cmdStart(fs *flag.FlagSet) func([]string) error {
	return func(args []string) error {
		c, err := load(args)
		if err != nil {
			return err
		}
		if c.Trace, err = openTrace("start"); err != nil {
			return err
		}
		defer c.Trace.Close()
		return c.Start()
	}
}

func cmdRun(fs *flag.FlagSet) func([]string) error {
	var o runtime.CreateOpts
	var detach, keep bool
	createFlags(fs, &o)
	fs.BoolVar(&detach, "detach", false, "do not wait for the container")
	fs.BoolVar(&detach, "d", false, "do not wait for the container")
	fs.BoolVar(&keep, "keep", false, "do not delete the container after it exits")
	return func(args []string) error {
		id, err := oneID(args)
		if err != nil {
			return err
		}
		o.Root, o.ID, o.Rootless, o.SystemdCgroup, o.Log = g.root, id, g.isRootless, g.systemdCgroup, warnLog()
		o.Stdin, o.Stdout, o.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := prepareFds(o.PreserveFds); err != nil {
			return err
		}
		if o.Trace, err = openTrace("create"); err != nil {
			return err
		}
		defer o.Trace.Close()
		// Signals that arrive while the container starts are kept for it.
		fg := attach(detach, o.ConsoleSocket, &o.Console, true)
		c, err := runtime.Create(o)
		if err != nil {
			return err
		}
		c.Trace = o.Trace.As("start")
		fg.caught()
		if err := c.Start(); err != nil {
			c.Delete(true)
			return err
		}
		if detach {
			return nil
		}
		code, err := fg.wait(c.Wait, func(s unix.Signal) { c.Kill(s, false) })
		c.Trace = o.Trace.As("delete")
		if !keep {
			if derr := c.Delete(true); err == nil && derr != nil {
				err = derr
			}
		}
		if err != nil {
			return err
		}
		return exitCode(code)
	}
}

// foreground is what run and exec share while they stay attached: the terminal,
// when the process gets one and no console socket takes it, and the signals to
// forward. A nil *foreground (detached) does nothing.
type foreground struct {
	master *os.File
	sigs   chan os.Signal
	all    chan struct{} // closed once every signal is caught
}

// attach starts catching signals and, without a console socket, sets console to
// receive the pty master; it returns nil when detached.
//
// The signals stay caught until the command exits: one that comes while run
// deletes its container goes to nobody instead of cutting the deletion short,
// and signal.Stop would cost a round trip to Go's signal thread per signal
// (0.14 ms) on the way out.
//
// Catching every signal is itself ~0.7 ms: Go enables each of some 60 with a
// round trip to the thread that keeps its signal mask. With background set,
// the ones a person or a supervisor sends (sigsFirst) are caught before attach
// returns and the rest in a goroutine, beside the container's creation on
// another CPU; caught waits for them, and run calls it before the start, so
// from the start on every signal is forwarded, as before.
func attach(detach bool, consoleSocket string, console *func(*os.File), background bool) *foreground {
	if detach {
		return nil
	}
	f := &foreground{sigs: make(chan os.Signal, 64), all: make(chan struct{})}
	if consoleSocket == "" {
		*console = func(m *os.File) { f.master = m }
	}
	if !background {
		signal.Notify(f.sigs)
		close(f.all)
		return f
	}
	signal.Notify(f.sigs, sigsFirst...)
	go func() {
		signal.Notify(f.sigs)
		close(f.all)
	}()
	return f
}

// sigsFirst are caught before run creates its container: a signal Go does
// not catch yet ends the process by its default action, and these are the
// ones sent to a foreground runtime (a terminal's, kill's and a supervisor's).
var sigsFirst = []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2}

// caught returns once every signal is caught.
func (f *foreground) caught() {
	if f != nil {
		<-f.all
	}
}

// wait proxies the terminal (if any), forwards signals to the process with kill, and
// returns its exit code.
func (f *foreground) wait(wait func() (int, error), kill func(unix.Signal)) (int, error) {
	var drain, restore func()
	if f.master != nil {
		drain, restore = console.Proxy(f.master, os.Stdin, os.Stdout)
	}
	go func() {
		for s := range f.sigs {
			sig := s.(unix.Signal)
			switch sig {
			case unix.SIGCHLD, unix.SIGWINCH, unix.SIGURG, unix.SIGPIPE:
				continue
			}
			kill(sig)
		}
	}()
	code, err := wait()
	if f.master != nil {
		drain()
		restore()
		f.master.Close()
	}
	return code, err
}

func cmdExec(fs *flag.FlagSet) func([]string) error {
	var o runtime.ExecOpts
	var processFile, cwd, user, apparmor, label string
	var env, capsAdd, gids strs
	var tty, detach, noNewPrivs bool
	fs.StringVar(&processFile, "process", "", "process.json to run")
	fs.StringVar(&processFile, "p", "", "process.json to run")
	fs.BoolVar(&detach, "detach", false, "do not wait for the process")
	fs.BoolVar(&detach, "d", false, "do not wait for the process")
	fs.StringVar(&o.PidFile, "pid-file", "", "write the process's pid here")
	fs.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket to send the pty master to")
	fs.BoolVar(&tty, "tty", false, "allocate a terminal")
	fs.BoolVar(&tty, "t", false, "allocate a terminal")
	fs.StringVar(&cwd, "cwd", "", "working directory")
	fs.Var(&env, "env", "NAME=VALUE to add")
	fs.Var(&env, "e", "NAME=VALUE to add")
	fs.StringVar(&user, "user", "", "UID[:GID]")
	fs.StringVar(&user, "u", "", "UID[:GID]")
	fs.Var(&gids, "additional-gids", "additional group")
	fs.Var(&gids, "g", "additional group")
	fs.Var(&capsAdd, "cap", "capability to add")
	fs.Var(&capsAdd, "c", "capability to add")
	fs.BoolVar(&noNewPrivs, "no-new-privs", false, "set no_new_privs")
	fs.StringVar(&apparmor, "apparmor", "", "AppArmor profile")
	fs.StringVar(&label, "process-label", "", "SELinux label")
	fs.IntVar(&o.PreserveFds, "preserve-fds", 0, "pass this many extra fds (from 3)")
	return func(args []string) error {
		if len(args) == 0 {
			return errors.New("expects a container id")
		}
		c, err := loadID(args[0])
		if err != nil {
			return err
		}
		p := c.ExecDefaults()
		if processFile != "" {
			data, err := os.ReadFile(processFile)
			if err != nil {
				return fmt.Errorf("--process: %w", err)
			}
			p = specs.Process{}
			if err := json.Unmarshal(data, &p); err != nil {
				return fmt.Errorf("--process: %w", err)
			}
		} else {
			if len(args) < 2 {
				return errors.New("exec needs a command or --process")
			}
			p.Args = args[1:]
			p.Terminal = tty
		}
		if cwd != "" {
			p.Cwd = cwd
		}
		p.Env = append(p.Env, env...)
		if user != "" {
			if err := parseUser(user, &p.User); err != nil {
				return err
			}
		}
		for _, g := range gids {
			n, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return fmt.Errorf("--additional-gids %q: not a number", g)
			}
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
		}
		if len(capsAdd) > 0 {
			if p.Capabilities == nil {
				p.Capabilities = &specs.LinuxCapabilities{}
			}
			pc := p.Capabilities
			pc.Bounding = append(pc.Bounding, capsAdd...)
			pc.Effective = append(pc.Effective, capsAdd...)
			pc.Permitted = append(pc.Permitted, capsAdd...)
			// Ambient too, so that a user other than root keeps them, where the
			// spec has an inheritable set they can come from (as runc does).
			if pc.Inheritable != nil {
				pc.Ambient = append(pc.Ambient, capsAdd...)
			}
		}
		if noNewPrivs {
			p.NoNewPrivileges = true
		}
		if apparmor != "" {
			p.ApparmorProfile = apparmor
		}
		if label != "" {
			p.SelinuxLabel = label
		}
		if err := prepareFds(o.PreserveFds); err != nil {
			return err
		}
		o.Process = &p
		o.Stdin, o.Stdout, o.Stderr = os.Stdin, os.Stdout, os.Stderr
		if c.Trace, err = openTrace("exec"); err != nil {
			return err
		}
		defer c.Trace.Close()
		fg := attach(detach, o.ConsoleSocket, &o.Console, false)
		proc, err := c.Exec(o)
		if err != nil {
			return err
		}
		if detach {
			return nil
		}
		wait := func() (int, error) {
			st, err := proc.Wait()
			if err != nil {
				return -1, err
			}
			return runtime.ExitCode(st), nil
		}
		code, err := fg.wait(wait, func(s unix.Signal) { proc.Signal(s) })
		if err != nil {
			return err
		}
		return exitCode(code)
	}
}

// parseUser reads "uid[:gid]" (numbers only: names would be looked up in the host's
// /etc/passwd, which says nothing about the container's users).
func parseUser(s string, u *specs.User) error {
	uidS, gidS, hasGid := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(uidS, 10, 32)
	if err != nil || uid == 1<<32-1 {
		return fmt.Errorf("--user %q: not UID[:GID]", s)
	}
	u.UID = uint32(uid)
	if hasGid {
		gid, err := strconv.ParseUint(gidS, 10, 32)
		if err != nil || gid == 1<<32-1 {
			return fmt.Errorf("--user %q: not UID[:GID]", s)
		}
		u.GID = uint32(gid)
	}
	return nil
}

func cmdState(fs *flag.FlagSet) func([]string) error {
	return func(args []string) error {
		c, err := load(args)
		if err != nil {
			return err
		}
		if c.Record.Damaged {
			return fmt.Errorf("container %s: state is damaged; delete it with --force", c.ID)
		}
		return printJSON(c.OCI())
	}
}

func printJSON(v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(data))
	return err
}

func cmdList(fs *flag.FlagSet) func([]string) error {
	var format string
	var quiet bool
	fs.StringVar(&format, "format", "table", "table or json")
	fs.StringVar(&format, "f", "table", "table or json")
	fs.BoolVar(&quiet, "quiet", false, "ids only")
	fs.BoolVar(&quiet, "q", false, "ids only")
	return func(args []string) error {
		if len(args) != 0 {
			return errors.New("list takes no arguments")
		}
		list, err := runtime.List(g.root)
		if err != nil {
			return err
		}
		for _, c := range list {
			if c.Record.Damaged {
				warnLog().Warn(fmt.Sprintf("container %s: state is damaged (shown as stopped); delete it with --force", c.ID))
			}
		}
		if quiet {
			for _, c := range list {
				fmt.Println(c.ID)
			}
			return nil
		}
		states := make([]runtime.OCIState, 0, len(list))
		for _, c := range list {
			s := c.OCI()
			s.Owner = owner(filepath.Join(g.root, c.ID))
			states = append(states, s)
		}
		switch format {
		case "json":
			data, err := json.Marshal(states)
			if err != nil {
				return err
			}
			fmt.Println(string(data))
		case "table":
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return w.Flush()
		default:
			return fmt.Errorf("--format %q: must be table or json", format)
		}
		return nil
	}
}

func cmdKill(fs *flag.FlagSet) func([]string) error {
	var all bool
	fs.BoolVar(&all, "all", false, "signal every process in the container")
	fs.BoolVar(&all, "a", false, "signal every process in the container")
	return func(args []string) error {
		if len(args) < 1 || len(args) > 2 {
			return errors.New("kill expects ID [SIGNAL]")
		}
		sig := unix.SIGTERM
		if len(args) == 2 {
			var err error
			if sig, err = runtime.ParseSignal(args[1]); err != nil {
				return err
			}
		}
		c, err := runtime.Load(g.root, args[0])
		if err != nil {
			return err
		}
		return c.Kill(sig, all)
	}
}

func cmdDelete(fs *flag.FlagSet) func([]string) error {
	var force bool
	fs.BoolVar(&force, "force", false, "kill a running container first")
	fs.BoolVar(&force, "f", false, "kill a running container first")
	return func(args []string) error {
		c, err := load(args)
		if err != nil {
			if force && errors.Is(err, runtime.ErrNotExist) {
				return nil
			}
			return err
		}
		if c.Trace, err = openTrace("delete"); err != nil {
			return err
		}
		defer c.Trace.Close()
		return c.Delete(force)
	}
}

func cmdPs(fs *flag.FlagSet) func([]string) error {
	var format string
	fs.StringVar(&format, "format", "table", "table or json")
	fs.StringVar(&format, "f", "table", "table or json")
	return func(args []string) error {
		if len(args) < 1 {
			return errors.New("ps expects a container id")
		}
		c, err := runtime.Load(g.root, args[0])
		if err != nil {
			return err
		}
		pids, err := c.Pids()
		if err != nil {
			return err
		}
		switch format {
		case "json":
			if pids == nil {
				pids = []int{}
			}
			data, _ := json.Marshal(pids)
			fmt.Println(string(data))
			return nil
		case "table":
		default:
			return fmt.Errorf("--format %q: must be table or json", format)
		}
		psArgs := args[1:]
		if len(psArgs) == 0 {
			psArgs = []string{"-ef"}
		}
		out, err := exec.Command("ps", psArgs...).Output()
		if err != nil {
			return fmt.Errorf("ps: %w", err)
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		col := -1
		for i, f := range strings.Fields(lines[0]) {
			if f == "PID" {
				col = i
			}
		}
		if col < 0 {
			return errors.New("ps output has no PID column")
		}
		in := map[string]bool{}
		for _, p := range pids {
			in[strconv.Itoa(p)] = true
		}
		fmt.Println(lines[0])
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) > col && in[f[col]] {
				fmt.Println(l)
			}
		}
		return nil
	}
}

func cmdPause(fs *flag.FlagSet) func([]string) error {
	return func(args []string) error {
		c, err := load(args)
		if err != nil {
			return err
		}
		return c.Pause()
	}
}

func cmdResume(fs *flag.FlagSet) func([]string) error {
	return func(args []string) error {
		c, err := load(args)
		if err != nil {
			return err
		}
		return c.Resume()
	}
}

func cmdSpec(fs *flag.FlagSet) func([]string) error {
	var bundle string
	var rootless bool
	fs.StringVar(&bundle, "bundle", "", "write config.json here")
	fs.StringVar(&bundle, "b", "", "write config.json here")
	fs.BoolVar(&rootless, "rootless", false, "a spec for a rootless container")
	return func(args []string) error {
		if len(args) != 0 {
			return errors.New("spec takes no arguments")
		}
		name := filepath.Join(bundle, "config.json")
		if _, err := os.Stat(name); err == nil {
			return fmt.Errorf("%s exists; remove it first", name)
		}
		data, err := json.MarshalIndent(runtime.DefaultSpec(rootless), "", "\t")
		if err != nil {
			return err
		}
		return os.WriteFile(name, append(data, '\n'), 0o666)
	}
}

func cmdFeatures(fs *flag.FlagSet) func([]string) error {
	return func(args []string) error {
		if len(args) != 0 {
			return errors.New("features takes no arguments")
		}
		return printJSON(runtime.Features())
	}
}

func specVersion() string { return specs.Version }

// owner names the user who owns a container's state directory, as runc's list
// does: the user name, or "#UID" when the uid has no name.
func owner(dir string) string {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return ""
	}
	id := strconv.Itoa(int(st.Uid))
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "#" + id
}
