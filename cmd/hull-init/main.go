// The Go runtime's container-aware GOMAXPROCS would keep cgroup files open in the
// container and wake up to re-read them.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// hull-init is the tiny init `hull run --init` puts in a container as its PID 1:
//
//	/sbin/hull-init -- COMMAND [ARG...]
//
// It runs COMMAND as its only child, in a process group of its own, forwards every
// signal it can catch (but SIGCHLD) to that whole group, reaps every process that
// gets reparented to it, and exits when COMMAND exits, with its exit code, or
// 128+N when signal N killed it. Forwarding to the group (tini's -g) makes
// `hull stop` reach a shell's children too, as ctrl-c on a terminal does; a
// process that moves itself to a group of its own is left alone (but COMMAND
// itself always gets the signal).
//
// It is a separate binary, never hull itself, because it is bind-mounted into the
// container (read-only): a container must never get hold of the engine's or the
// runtime's executable. It is kept small: the standard library's lower layers and
// x/sys/unix only, no os/exec, no fmt.
package main

import (
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func fail(code int, msg string) int {
	os.Stderr.WriteString("hull-init: " + msg + "\n")
	return code
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return fail(125, "usage: hull-init -- COMMAND [ARG...]")
	}
	// Outside a pid namespace of its own, orphans would go past it to the real init.
	if os.Getpid() != 1 {
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	// Before the fork, so that no signal (nor the child's SIGCHLD) slips by.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)

	path, ok := lookPath(args[0])
	if !ok {
		return fail(127, "exec "+args[0]+": executable file not found in $PATH")
	}
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		// The child leads a new process group; on a terminal that group becomes the
		// foreground one, so that the command can read it and gets its ctrl-c.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	}
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		attr.Sys.Foreground, attr.Sys.Ctty = true, 0
	}
	child, err := syscall.ForkExec(path, args, attr)
	if err != nil {
		code := 126
		if err == syscall.ENOENT {
			code = 127
		}
		return fail(code, "exec "+args[0]+": "+err.Error())
	}
	for {
		if code, done := reap(child); done {
			return code
		}
		s := (<-sigs).(syscall.Signal)
		// A SIGURG of the Go runtime's own preemption may come through too: its
		// default action is to be ignored, and Go programs expect spurious ones.
		if s != syscall.SIGCHLD {
			// ESRCH: the group is gone and the child's exit is about to be reaped.
			syscall.Kill(-child, s)
			// The command itself, if it left its group (setsid, setpgid).
			if pg, err := syscall.Getpgid(child); err == nil && pg != child {
				syscall.Kill(child, s)
			}
		}
	}
}

// reap collects every exited child, and tells the command's exit code once the
// command itself is among them.
func reap(child int) (int, bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 {
			return 0, false
		}
		if pid != child {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ws.ExitStatus(), true
	}
}

// lookPath finds name in $PATH, as execvp does.
func lookPath(name string) (string, bool) {
	if strings.Contains(name, "/") {
		return name, true
	}
	for _, dir := range strings.Split(os.Getenv("PATH"), ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil && st.Mode&syscall.S_IFMT != syscall.S_IFDIR && syscall.Access(p, unix.X_OK) == nil {
			return p, true
		}
	}
	return "", false
}
