package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/hullproject/hull/runtime/console"
	"github.com/hullproject/hull/runtime/nsenter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOpts are the options of `hullrt exec`.
type ExecOpts struct {
	Process               *specs.Process
	PidFile               string
	ConsoleSocket         string
	PreserveFds           int
	Stdin, Stdout, Stderr *os.File
	// Console receives the pty master in the foreground (see CreateOpts.Console).
	Console func(master *os.File)
}

// ExecDefaults is the process an exec starts from: the container's own, without a
// terminal and without arguments.
func (c *Container) ExecDefaults() specs.Process {
	p := specs.Process{Cwd: "/"}
	if c.Record.Config != nil && c.Record.Config.Process != nil {
		p = *c.Record.Config.Process
	}
	p.Terminal = false
	p.Args = nil
	p.ConsoleSize = nil
	return p
}

// Exec starts a new process in the container's namespaces and cgroup, and returns it
// once it has exec'd the program (its error if it could not). The caller waits for it.
func (c *Container) Exec(o ExecOpts) (*os.Process, error) {
	st := c.Status()
	if st != StatusRunning && st != StatusCreated {
		return nil, fmt.Errorf("cannot exec in a container that is %s", st)
	}
	p := o.Process
	if err := validateProcess(p); err != nil {
		return nil, err
	}
	if p.Terminal && o.ConsoleSocket == "" && o.Console == nil {
		return nil, errors.New("a terminal needs --console-socket when the process is detached")
	}
	exe, err := selfExe()
	if err != nil {
		return nil, err
	}
	parentEnd, childEnd, err := newChannelPair()
	if err != nil {
		return nil, err
	}
	defer parentEnd.close()
	cmd := &exec.Cmd{
		Path:   "/proc/self/fd/" + strconv.Itoa(int(exe.Fd())),
		Args:   []string{"hullrt", "exec"},
		Stdin:  o.Stdin,
		Stdout: o.Stdout,
		Stderr: o.Stderr,
	}
	for i := 0; i < o.PreserveFds; i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved"))
	}
	cmd.Env = []string{nsenter.InitEnv + "=" + strconv.Itoa(3+len(cmd.ExtraFiles))}
	cmd.ExtraFiles = append(cmd.ExtraFiles, childEnd.f)
	traceFd := 0
	if f := c.Trace.File(); f != nil {
		// Above stdio and the preserved descriptors: finish marks it
		// close-on-exec with the rest.
		traceFd = 3 + len(cmd.ExtraFiles)
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	s := &spawnSpec{cmd: cmd, parentOnly: []*os.File{childEnd.f}}
	// Every namespace of init that differs from ours is joined: user first (in the
	// constructor, so the rest are checked against the container's user namespace),
	// mount and time there too since a threaded process cannot join them, and the
	// cgroup namespace (see initCommand); the rest on the parent's thread. A
	// runtime that is not root may join none of those from the host's user
	// namespace (the kernel wants CAP_SYS_ADMIN over the caller's own as well): all
	// are joined in the constructor, after the user namespace, which then forks
	// to enter a joined pid namespace.
	rootless := unprivileged()
	for _, typ := range []string{"user", "mnt", "time", "cgroup", "pid", "net", "ipc", "uts"} {
		f, err := os.Open("/proc/" + strconv.Itoa(c.Record.Pid) + "/ns/" + typ)
		if err != nil {
			if typ == "time" && errors.Is(err, os.ErrNotExist) {
				continue
			}
			s.release()
			return nil, fmt.Errorf("open %s namespace of init: %w", typ, err)
		}
		if sameNamespace(f, typ) {
			f.Close()
			continue
		}
		switch {
		case typ == "user", typ == "mnt", typ == "time", typ == "cgroup", rootless:
			s.childJoins = append(s.childJoins, nsJoin{typ, f})
			s.fork = s.fork || typ == "pid"
		default:
			s.parentJoins = append(s.parentJoins, nsJoin{typ, f})
		}
	}
	// init must still be the process whose namespaces were opened.
	if !c.initAlive() {
		s.release()
		return nil, ErrNotRunning
	}
	if s.fork {
		// The forked process is reparented to us when the intermediate exits,
		// so that we can wait for it as for a child of our own.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			s.release()
			return nil, fmt.Errorf("become subreaper: %w", err)
		}
	}
	s.tr = c.Trace
	err = s.start()
	s.release()
	if err != nil {
		return nil, fmt.Errorf("start exec process: %w", err)
	}
	proc := cmd.Process
	fail := func(err error) (*os.Process, error) {
		proc.Kill()
		if proc != cmd.Process {
			proc.Wait()
		}
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	if s.fork {
		if proc, err = forkedProcess(parentEnd, cmd); err != nil {
			return nil, err
		}
	}
	if c.Record.Cgroup != "" {
		if cg, err := c.cgroup(); err != nil {
			return fail(err)
		} else {
			cg.Trace(c.Trace)
			if err := cg.Apply(proc.Pid); err != nil {
				return fail(err)
			}
		}
	}
	b := &bootstrap{Exec: true, ID: c.ID, Spec: c.Record.Config, Process: *p, Pid: proc.Pid, PreserveFds: o.PreserveFds, Bundle: c.Record.Bundle, TraceFd: traceFd}
	if c.Trace.On() {
		b.SentAt = time.Now().UnixNano()
	}
	inheritAppArmor(&b.Process, c.Record.Config)
	grantCaps(&b.Process, s.joinsUserNS(), logger(c.Log))
	if err := parentEnd.send(message{Type: msgBootstrap, Bootstrap: b}); err != nil {
		return fail(fmt.Errorf("send bootstrap: %w", err))
	}
	// The child answers with its terminal (if any) and then either an error or
	// nothing: its end of the channel is close-on-exec, so EOF means it exec'd.
	for {
		m, fd, err := parentEnd.recv()
		if errors.Is(err, errEOF) {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("read from exec process: %w", err))
		}
		switch m.Type {
		case msgConsole:
			master := os.NewFile(uintptr(fd), "pty-master")
			if err := handOverConsole(master, &specs.Spec{Process: p}, CreateOpts{ConsoleSocket: o.ConsoleSocket, Console: o.Console}); err != nil {
				return fail(err)
			}
		case msgSeccomp:
			if err := c.sendSeccompListener(fd, proc.Pid); err != nil {
				return fail(err)
			}
		case msgError:
			return fail(m.err())
		default:
			return fail(fmt.Errorf("unexpected message %q from exec process", m.Type))
		}
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, proc.Pid); err != nil {
			return fail(err)
		}
	}
	return proc, nil
}

// forkedProcess reads which process nsenter forked (see sync.go), reaps the
// intermediate and returns the forked one.
func forkedProcess(ch *channel, cmd *exec.Cmd) (*os.Process, error) {
	m, _, err := ch.recv()
	if err == nil && (m.Type != msgPid || m.Pid <= 0) {
		err = fmt.Errorf("expected pid, got %q", m.Type)
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("exec process: %w", err)
	}
	cmd.Wait()
	proc, err := os.FindProcess(m.Pid)
	if err != nil {
		return nil, fmt.Errorf("exec process: %w", err)
	}
	return proc, nil
}

// execProcess is the exec'd child's side: it is in the container's namespaces already.
func execProcess(ch *channel, b *bootstrap) error {
	p := &b.Process
	var tty *os.File
	if p.Terminal {
		master, slave, err := console.OpenPty("/dev/ptmx")
		if err != nil {
			return err
		}
		// Sized here: the parent sizes the master too, but nothing makes this
		// process wait for it, and the program may ask before (0x0).
		if cs := p.ConsoleSize; cs != nil {
			_ = console.SetSize(slave, uint16(cs.Height), uint16(cs.Width))
		}
		if err := ch.sendFd(message{Type: msgConsole}, int(master.Fd())); err != nil {
			return err
		}
		master.Close()
		tty = slave
	}
	exe, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return err
	}
	filter, err := loadNotifyFilter(ch, b)
	if err != nil {
		return err
	}
	if err := applyAppArmor(p.ApparmorProfile); err != nil {
		return err
	}
	return finish(p, exe, tty, b, filter)
}
