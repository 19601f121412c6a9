package ociruntime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/runtime"
	"github.com/hullproject/hull/runtime/console"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Binary is a runc-compatible runtime command (runc, crun, hullrt), invoked the way
// containerd's runc shim and conmon invoke it:
//
//	<bin> --root <root> create --bundle B --pid-file P <id>   (stdio: the container's)
//	<bin> --root <root> start|state|kill|delete <id>
//	<bin> --root <root> exec --process P.json [--detach] <id>
//
// `create` exits once init waits for start; init is then re-parented to the caller's
// nearest subreaper, which is why the monitor makes itself one.
type Binary struct {
	Path string // the command
	Root string // its --root
}

func (b *Binary) Name() string { return filepath.Base(b.Path) }

// run runs the command with args and returns its stdout; its stderr (runc logs
// there, or the last JSON log line) becomes the error.
func (b *Binary) run(o *IO, args ...string) ([]byte, error) {
	cmd := exec.Command(b.Path, append([]string{"--root", b.Root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if o != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.Bytes(), b.failed(args[0], runtimeMessage(msg))
	}
	return out.Bytes(), nil
}

// failed is the error of the runtime's command cmd that said msg: the runtime's
// text, in which errors.Is finds runtime.ErrNotFound or runtime.ErrNotExecutable
// when msg says so (programErrorKind).
func (b *Binary) failed(cmd, msg string) error {
	return &runtimeError{msg: fmt.Sprintf("%s %s: %s", b.Name(), cmd, msg), kind: programErrorKind(msg)}
}

type runtimeError struct {
	msg  string
	kind error // nil, runtime.ErrNotFound or runtime.ErrNotExecutable
}

func (e *runtimeError) Error() string { return e.msg }
func (e *runtimeError) Unwrap() error { return e.kind }

// programErrorKind reads in the message of a runc-compatible runtime whether the
// process it was to start failed because its program (or its working directory) is
// not there (runtime.ErrNotFound) or cannot be executed (runtime.ErrNotExecutable),
// the kinds hull's own init sends beside its error. runc and crun say it only in
// text, after the place that failed; the errno at the end decides, as in init:
//
//	runc 1.1   exec: "x": executable file not found in $PATH
//	           exec: "/x": stat /x: no such file or directory
//	           exec: "/etc": permission denied             (a directory, or no x bit;
//	                                                        is a directory since Go 1.20)
//	           chdir to cwd ("/x") set in config.json failed: no such file or directory
//	crun 1.8   executable file `x` not found in $PATH: No such file or directory
//	           open executable: Permission denied          (no x bit)
//	           open executable: Operation not permitted    (a directory)
//	           exec container process (missing dynamic library?) `/x`: No such file or directory
//	           exec: Exec format error                     (exec)
//	           chdir `/x`: No such file or directory
//	hullrt     exec "x": executable file not found in $PATH
//	           exec "/etc": is a directory,  exec /x: exec format error
//	           process.cwd /x: no such file or directory
//
// The same errno about anything else (a mount's missing source) is no kind: the
// runtime's own failure.
func programErrorKind(msg string) error {
	m := strings.ToLower(strings.TrimSpace(msg))
	i := strings.LastIndex(m, ": ")
	if i < 0 {
		return nil
	}
	place, errno := m[:i], m[i+2:]
	// The place names the program's lookup, its execve or the working directory...
	program := false
	for _, p := range []string{`exec: "`, `exec "`, "executable file", "open executable", "exec container process", "chdir to cwd (", "chdir `", "process.cwd"} {
		program = program || strings.Contains(place, p)
	}
	// ... or ends with execve's own step: "exec /x" (hullrt), "exec" (crun).
	last := place
	if j := strings.LastIndex(place, ": "); j >= 0 {
		last = place[j+2:]
	}
	program = program || last == "exec" || strings.HasPrefix(last, "exec ") && last != "exec failed"
	switch {
	case !program:
		return nil
	case strings.Contains(m, "not found in $path"), errno == "no such file or directory":
		return runtime.ErrNotFound
	case errno == "permission denied", errno == "is a directory", errno == "exec format error",
		errno == "operation not permitted" && strings.HasSuffix(place, "open executable"):
		return runtime.ErrNotExecutable
	}
	return nil
}

// runtimeMessage pulls the msg out of runc's logrus lines
// (time="..." level=error msg="...").
func runtimeMessage(s string) string {
	lines := strings.Split(s, "\n")
	last := lines[len(lines)-1]
	if i := strings.Index(last, `msg="`); i >= 0 {
		m := last[i+5:]
		if j := strings.LastIndex(m, `"`); j >= 0 {
			m = m[:j]
		}
		if u, err := strconv.Unquote(`"` + m + `"`); err == nil {
			return u
		}
		return m
	}
	return last
}

func (b *Binary) Create(id, bundle string, o IO) (int, error) {
	if err := os.MkdirAll(b.Root, 0o711); err != nil {
		return 0, err
	}
	o, done, err := o.devNull()
	if err != nil {
		return 0, err
	}
	defer done()
	pidFile := filepath.Join(bundle, "init.pid")
	// runc hands its own stdio to init; a separate stderr pipe would then not be the
	// container's, so runc's own errors are read from its --log file instead.
	logFile := filepath.Join(bundle, "runtime.log")
	os.Remove(logFile)
	args := []string{"--root", b.Root, "--log", logFile, "--log-format", "json", "create", "--bundle", bundle, "--pid-file", pidFile}
	cs, err := listenConsole(o.Console)
	if err != nil {
		return 0, err
	}
	if cs != nil {
		defer cs.close()
		args = append(args, "--console-socket", cs.path)
	}
	cmd := exec.Command(b.Path, append(args, id)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if err := cmd.Run(); err != nil {
		return 0, b.failed("create", lastLogError(logFile, err))
	}
	if cs != nil {
		if err := cs.wait(); err != nil {
			return 0, fmt.Errorf("%s create: %w", b.Name(), err)
		}
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("%s create: pid file: %w", b.Name(), err)
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// lastLogError returns the msg of the last error line of a JSON runtime log, or
// err's text when there is none.
func lastLogError(file string, err error) string {
	if msg := logError(file); msg != "" {
		return msg
	}
	return err.Error()
}

// logError returns the msg of the last error line of a JSON runtime log.
func logError(file string) string {
	data, _ := os.ReadFile(file)
	msg := ""
	for _, l := range strings.Split(string(data), "\n") {
		var e struct{ Level, Msg string }
		if json.Unmarshal([]byte(l), &e) == nil && e.Level == "error" {
			msg = e.Msg
		}
	}
	return msg
}

func (b *Binary) Start(id string) error {
	_, err := b.run(nil, "start", id)
	return err
}

func (b *Binary) State(id string) (specs.State, error) {
	out, err := b.run(nil, "state", id)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "not exist") {
			return specs.State{}, ErrNotExist
		}
		return specs.State{}, err
	}
	var s specs.State
	if err := json.Unmarshal(out, &s); err != nil {
		return specs.State{}, fmt.Errorf("%s state: %w", b.Name(), err)
	}
	if s.Status == specs.StateStopped {
		s.Pid = 0
	}
	return s, nil
}

func (b *Binary) Kill(id string, sig unix.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := b.run(nil, append(args, id, strconv.Itoa(int(sig)))...)
	return err
}

func (b *Binary) Delete(id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := b.run(nil, append(args, id)...)
	if err != nil && strings.Contains(err.Error(), "not exist") {
		return nil
	}
	return err
}

func (b *Binary) Exec(id string, p *specs.Process, o IO, detach bool) (func() (int, error), error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "hull-exec-*.json")
	if err != nil {
		return nil, err
	}
	logFile := f.Name() + ".log"
	cleanup := func() { os.Remove(f.Name()); os.Remove(logFile) }
	_, err = f.Write(data)
	f.Close()
	if err != nil {
		cleanup()
		return nil, err
	}
	o, done, err := o.devNull()
	if err != nil {
		cleanup()
		return nil, err
	}
	defer done()
	args := []string{"--root", b.Root, "--log", logFile, "--log-format", "json", "exec", "--process", f.Name()}
	if detach {
		args = append(args, "--detach")
	}
	// In the foreground runc proxies the terminal itself, between the pty and its
	// own stdio; only a detached exec sends the master to a console socket.
	toMaster := o.Console
	if !detach {
		toMaster = nil
	}
	cs, err := listenConsole(toMaster)
	if err != nil {
		cleanup()
		return nil, err
	}
	if cs != nil {
		defer cs.close()
		args = append(args, "--console-socket", cs.path)
	}
	cmd := exec.Command(b.Path, append(args, id)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if o.OwnTerminal && p.Terminal && !detach && o.Console != nil {
		// runc's stdio: a pty of its own, its controlling terminal in a session
		// of its own, sized as the process's will be (runc copies the size).
		master, slave, err := console.OpenPty("/dev/ptmx")
		if err != nil {
			cleanup()
			return nil, err
		}
		defer slave.Close() // runc's once it started
		if cs := p.ConsoleSize; cs != nil {
			console.SetSize(master, uint16(cs.Height), uint16(cs.Width))
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		o.Console(master)
	}
	if detach {
		defer cleanup()
		if err := cmd.Run(); err != nil {
			return nil, b.failed("exec", lastLogError(logFile, err))
		}
		return func() (int, error) { return 0, nil }, nil
	}
	// In the foreground runc waits for the process and exits with its status; an
	// error of runc itself shows in its log. The process file is read by runc at
	// once, so it may go when this returns.
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, err
	}
	if cs != nil {
		if err := cs.wait(); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			cleanup()
			return nil, b.failed("exec", lastLogError(logFile, err))
		}
	}
	return func() (int, error) {
		err := cmd.Wait()
		defer cleanup()
		if msg := logError(logFile); msg != "" && err != nil {
			return -1, b.failed("exec", msg)
		}
		if err == nil {
			return 0, nil
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ee.ExitCode(), nil
		}
		return -1, err
	}, nil
}

var _ Runtime = (*Binary)(nil)

// consoleSocket is the --console-socket a runc-compatible runtime sends a pty master
// to (SCM_RIGHTS), in a private directory: the socket path must stay below the
// 108 bytes of sun_path, which a bundle path may not.
type consoleSocket struct {
	dir, path string
	l         *net.UnixListener
	done      chan error
}

func listenConsole(fn func(*os.File)) (*consoleSocket, error) {
	if fn == nil {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "hull-console-")
	if err != nil {
		return nil, err
	}
	cs := &consoleSocket{dir: dir, path: filepath.Join(dir, "s"), done: make(chan error, 1)}
	cs.l, err = net.ListenUnix("unix", &net.UnixAddr{Name: cs.path, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("console socket: %w", err)
	}
	go func() {
		conn, err := cs.l.AcceptUnix()
		if err != nil {
			cs.done <- fmt.Errorf("console socket: %w", err)
			return
		}
		defer conn.Close()
		f, err := conn.File()
		if err != nil {
			cs.done <- err
			return
		}
		defer f.Close()
		master, err := console.RecvFd(f)
		if err != nil {
			cs.done <- err
			return
		}
		fn(master)
		cs.done <- nil
	}()
	return cs, nil
}

// wait waits for the master (the runtime has sent it by the time it returned).
func (cs *consoleSocket) wait() error {
	select {
	case err := <-cs.done:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("the runtime sent no terminal")
	}
}

func (cs *consoleSocket) close() {
	cs.l.Close()
	os.RemoveAll(cs.dir)
}

// Pause, Resume and Update are runc's `pause`, `resume` and `update --resources -`
// (the resources as JSON on stdin), which crun and hullrt accept too.
func (b *Binary) Pause(id string) error {
	_, err := b.run(nil, "pause", id)
	return err
}

func (b *Binary) Resume(id string) error {
	_, err := b.run(nil, "resume", id)
	return err
}

func (b *Binary) Update(id string, r *specs.LinuxResources) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	cmd := exec.Command(b.Path, "--root", b.Root, "update", "--resources", "-", id)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := string(bytes.TrimSpace(out))
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%s update: %s", b.Name(), runtimeMessage(msg))
	}
	return nil
}

// Pids and Stats ask the binary as containerd does (`ps --format json`, `events
// --stats`), whose answers have the same shape as the runtime library's.
func (b *Binary) Pids(id string) ([]int, error) {
	out, err := b.run(nil, "ps", "--format", "json", id)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("%s ps: %w", b.Name(), err)
	}
	return pids, nil
}

func (b *Binary) Stats(id string) (*runtime.Stats, error) {
	out, err := b.run(nil, "events", "--stats", id)
	if err != nil {
		return nil, err
	}
	var ev struct {
		Type string         `json:"type"`
		Data *runtime.Stats `json:"data"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		return nil, fmt.Errorf("%s events: %w", b.Name(), err)
	}
	if ev.Type != "stats" || ev.Data == nil {
		return nil, fmt.Errorf("%s events: no stats in %q", b.Name(), out)
	}
	return ev.Data, nil
}
