package seccomp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/engine/spec"
	"github.com/hullproject/hull/internal/int80"
	"github.com/hullproject/hull/internal/testutil"
)

// The integration tests re-execute the test binary as a child that loads a filter
// and then makes syscalls, printing "key=result" lines; the parent checks the lines
// and how the child ended. A filter cannot be removed, so it never goes on the test
// process itself.
const childEnv = "HULL_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if scenario := os.Getenv(childEnv); scenario != "" {
		os.Exit(runChild(scenario))
	}
	os.Exit(testutil.Main(m))
}

// i386 syscall numbers the children use through int $0x80.
const (
	i386Getpid  = 20
	i386Getppid = 64
	i386Mount   = 21
)

// profiles are the children's filters, by scenario.
var profiles = map[string]func() *specs.LinuxSeccomp{
	// A deny-list on x86_64 only: other ABIs are killed.
	"actions": func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: uptr(42)},
				{Names: []string{"getppid"}, Action: specs.ActTrace, ErrnoRet: uptr(7)},
				{Names: []string{"getuid"}, Action: specs.ActLog},
				{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: uptr(43)},
				{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 0xffffffff}}},
				{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: uptr(44), Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpGreaterThan, Value: 0x1_0000_0000}}},
			},
		}
	},
	"kill_process": func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActKillProcess}}}
	},
	"trap": func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActTrap}}}
	},
	"x32_unlisted": func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActErrno}}}
	},
	"i386_unlisted": func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActErrno}}}
	},
	"i386_listed": func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: uptr(42)}}}
	},
	"big":           bigProfile,
	"docker":        spec.DefaultSeccomp,
	"docker_x86_64": func() *specs.LinuxSeccomp { p := spec.DefaultSeccomp(); p.Architectures = nil; return p },
	"notify":        notifyProfile,
}

// bigProfile gives every x86_64 syscall a 64-bit argument check that always holds,
// so that the program needs thousands of instructions and long jumps.
func bigProfile() *specs.LinuxSeccomp {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(42)}
	for name := range sysX86_64 {
		if name != "getpid" {
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 5, Op: specs.OpNotEqual, Value: 0xdead_beef_0000_0001}}})
		}
	}
	return p
}

func notifyProfile() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerMetadata: "test-metadata",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}}}
}

// runChild is the child's side: load the scenario's filter, then make syscalls.
func runChild(scenario string) int {
	goruntime.LockOSThread()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	say := func(key string, v any) { fmt.Fprintf(out, "%s=%v\n", key, v); out.Flush() }
	// sys reports a raw syscall's result as a number or an errno name.
	sys := func(key string, nr uintptr, args ...uintptr) {
		var a [3]uintptr
		copy(a[:], args)
		r, _, errno := unix.RawSyscall(nr, a[0], a[1], a[2])
		if errno != 0 {
			say(key, unix.ErrnoName(errno))
			return
		}
		say(key, r)
	}
	int80sys := func(key string, nr uintptr) {
		r := int80.Syscall(nr, 0, 0, 0)
		if r < 0 && r > -4096 {
			say(key, unix.ErrnoName(unix.Errno(-r)))
			return
		}
		say(key, r)
	}

	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		say("error", err)
		return 1
	}
	f, err := Compile(profiles[scenario]())
	if err != nil {
		say("error", err)
		return 1
	}
	fd, err := f.Load()
	if err != nil {
		say("error", err)
		return 1
	}
	say("loaded", fd >= 0)

	switch scenario {
	case "actions":
		sys("getpid", unix.SYS_GETPID)
		sys("getppid", unix.SYS_GETPPID)
		say("getuid_is_uid", uintptr(os.Getuid()) == mustSys(unix.SYS_GETUID))
		sys("personality_ffffffff", unix.SYS_PERSONALITY, 0xffffffff)
		sys("personality_0", unix.SYS_PERSONALITY, 0)
		sys("getpgid_low", unix.SYS_GETPGID, 0) // 0 > 2^32 is false: allowed
		sys("getpgid_high", unix.SYS_GETPGID, 0x1_0000_0001)
	case "big":
		say("insns", len(f.Prog))
		sys("getpid", unix.SYS_GETPID)
		say("getppid_is_ppid", mustSys(unix.SYS_GETPPID) == uintptr(os.Getppid()))
		say("i386_getppid_is_ppid", int80.Syscall(i386Getppid, 0, 0, 0) == int32(os.Getppid()))
		int80sys("i386_getpid", i386Getpid)
	case "kill_process", "trap":
		say("before", "ok")
		sys("getppid", unix.SYS_GETPPID)
		say("after", "survived")
	case "x32_unlisted":
		say("before", "ok")
		sys("x32_getpid", x32Bit|unix.SYS_GETPID)
		say("after", "survived")
	case "i386_unlisted":
		say("before", "ok")
		int80sys("i386_getpid", i386Getpid)
		say("after", "survived")
	case "i386_listed":
		sys("getpid", unix.SYS_GETPID)
		int80sys("i386_getpid", i386Getpid)
		say("i386_getppid_is_ppid", int80.Syscall(i386Getppid, 0, 0, 0) == int32(os.Getppid()))
	case "docker", "docker_x86_64":
		say("getpid_is_pid", mustSys(unix.SYS_GETPID) == uintptr(os.Getpid()))
		sys("unshare_newuser", unix.SYS_UNSHARE, unix.CLONE_NEWUSER)
		sys("clone3", unix.SYS_CLONE3, 0, 0)
		sys("personality_ffffffff_ok", unix.SYS_PERSONALITY, 0xffffffff)
		sys("personality_addr_no_randomize", unix.SYS_PERSONALITY, 0x0040000)
		sys("mount", unix.SYS_MOUNT, 0, 0, 0)
		sys("nr_400", 400)
		sys("nr_1000", 1000)
		sys("x32_getpid", x32Bit|unix.SYS_GETPID)
		int80sys("i386_mount", i386Mount)
		say("i386_getpid_is_pid", int80.Syscall(i386Getpid, 0, 0, 0) == int32(os.Getpid()))
		sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		say("socket_unix", err == nil)
		unix.Close(sock)
	case "notify":
		path := os.Getenv("HULL_SECCOMP_TEST_LISTENER")
		payload, err := ListenerPayload(notifyProfile(), specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: os.Getpid()}, os.Getpid())
		if err == nil {
			err = SendListener(path, payload, fd)
		}
		if err != nil {
			say("error", err)
			return 1
		}
		unix.Close(fd)
		sys("getppid", unix.SYS_GETPPID)
	}
	return 0
}

func mustSys(nr uintptr) uintptr {
	r, _, _ := unix.RawSyscall(nr, 0, 0, 0)
	return r
}

// child runs scenario in a child process and returns its "key=value" lines and how
// it ended.
func child(t *testing.T, scenario string, env ...string) (map[string]string, *os.ProcessState, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+scenario), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run child: %v", err)
	}
	return parseLines(stdout.String()), cmd.ProcessState, stderr.String()
}

func parseLines(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func want(t *testing.T, got map[string]string, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if got[kv[i]] != kv[i+1] {
			t.Errorf("%s = %q, want %q (all: %v)", kv[i], got[kv[i]], kv[i+1], got)
		}
	}
}

func signaled(ps *os.ProcessState) syscall.Signal {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0
	}
	return ws.Signal()
}

func TestLoadActions(t *testing.T) {
	testutil.RequireRoot(t)
	got, ps, stderr := child(t, "actions")
	if !ps.Success() {
		t.Fatalf("child failed: %v\n%s", ps, stderr)
	}
	want(t, got,
		"loaded", "false",
		"getpid", unix.ErrnoName(42), // ERRNO with errnoRet 42
		"getppid", "ENOSYS", // TRACE without a tracer
		"getuid_is_uid", "true", // LOG lets the call run
		"personality_ffffffff", "0", /* PER_LINUX */ // allowed: returns the persona
		"personality_0", unix.ErrnoName(43),
		"getpgid_low", strconv.Itoa(unix.Getpgrp()), // the child's pgid is the test's
		"getpgid_high", unix.ErrnoName(44),
	)
}

func TestLoadKillProcess(t *testing.T) {
	testutil.RequireRoot(t)
	got, ps, _ := child(t, "kill_process")
	want(t, got, "before", "ok", "after", "")
	if sig := signaled(ps); sig != unix.SIGSYS {
		t.Errorf("child ended with %v, want killed by SIGSYS", ps)
	}
}

func TestLoadTrap(t *testing.T) {
	testutil.RequireRoot(t)
	got, ps, stderr := child(t, "trap")
	want(t, got, "before", "ok", "after", "")
	// SIGSYS is delivered to the thread, and Go's runtime, which has no handler for
	// it, crashes with its message and exit status 2 (not a kill by signal).
	if ps.ExitCode() != 2 || !strings.Contains(stderr, "SIGSYS: bad system call") {
		t.Errorf("child ended with %v and stderr %q, want a Go SIGSYS crash", ps, stderr)
	}
}

func TestLoadX32Unlisted(t *testing.T) {
	testutil.RequireRoot(t)
	got, ps, _ := child(t, "x32_unlisted")
	want(t, got, "before", "ok", "after", "")
	if sig := signaled(ps); sig != unix.SIGSYS {
		t.Errorf("child ended with %v, want killed by SIGSYS", ps)
	}
}

func TestLoadI386(t *testing.T) {
	testutil.RequireRoot(t)
	got, ps, _ := child(t, "i386_unlisted")
	want(t, got, "before", "ok", "after", "")
	if sig := signaled(ps); sig != unix.SIGSYS {
		t.Errorf("i386 unlisted: child ended with %v, want killed by SIGSYS", ps)
	}
	got, ps, stderr := child(t, "i386_listed")
	if !ps.Success() {
		t.Fatalf("child failed: %v\n%s", ps, stderr)
	}
	// getpid is i386 number 20, x86_64 number 39: the rule follows the name.
	want(t, got, "getpid", unix.ErrnoName(42), "i386_getpid", unix.ErrnoName(42), "i386_getppid_is_ppid", "true")
}

func TestLoadDockerProfile(t *testing.T) {
	testutil.RequireRoot(t)
	got, ps, stderr := child(t, "docker")
	if !ps.Success() {
		t.Fatalf("child failed: %v\n%s", ps, stderr)
	}
	want(t, got,
		"getpid_is_pid", "true",
		"unshare_newuser", "EPERM", // the kernel would say EINVAL to a threaded process
		"clone3", "ENOSYS", // the kernel would say EFAULT/EINVAL
		"personality_ffffffff_ok", "0", /* PER_LINUX */
		"personality_addr_no_randomize", "EPERM",
		"mount", "EPERM",
		"nr_400", "EPERM", // a hole in the table: the default action
		"nr_1000", "ENOSYS",
		"x32_getpid", "ENOSYS", // allowed by the filter; this kernel has no x32
		"i386_mount", "EPERM",
		"i386_getpid_is_pid", "true",
		"socket_unix", "true",
	)
	// Without SCMP_ARCH_X32 listed, the x32 call gets the default action.
	got, ps, stderr = child(t, "docker_x86_64")
	if !ps.Success() {
		t.Fatalf("child failed: %v\n%s", ps, stderr)
	}
	want(t, got, "x32_getpid", "EPERM", "i386_mount", "EPERM", "i386_getpid_is_pid", "false")
}

// TestLoadBig loads a program of thousands of instructions, with jumps farther than
// a conditional jump reaches, so the kernel's checker judges the trampolines.
func TestLoadBig(t *testing.T) {
	testutil.RequireRoot(t)
	f := compile(t, bigProfile())
	long := 0
	for _, in := range f.Prog {
		if in.Code == bpfJA && in.K > 255 {
			long++
		}
	}
	if len(f.Prog) < 1500 || long == 0 {
		t.Fatalf("%d instructions, %d long jumps: not big enough", len(f.Prog), long)
	}
	got, ps, stderr := child(t, "big")
	if !ps.Success() {
		t.Fatalf("child failed: %v\n%s", ps, stderr)
	}
	// i386 is not listed and the default refuses: i386 calls get the default.
	want(t, got, "getpid", unix.ErrnoName(42), "getppid_is_ppid", "true", "i386_getppid_is_ppid", "false", "i386_getpid", unix.ErrnoName(42))
	t.Logf("%d instructions, %d long jumps", len(f.Prog), long)
}

func TestLoadNotify(t *testing.T) {
	testutil.RequireRoot(t)
	sock := filepath.Join(t.TempDir(), "listener.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=notify", "HULL_SECCOMP_TEST_LISTENER="+sock)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	// Receive the listener fd and the state, as a seccomp agent would.
	_ = l.SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := l.AcceptUnix()
	if err != nil {
		t.Fatalf("accept: %v\n%s", err, stderr.String())
	}
	defer conn.Close()
	st, fd, err := RecvListener(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if st.Metadata != "test-metadata" || len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName || st.State.ID != "c1" || st.Pid != cmd.Process.Pid {
		t.Errorf("payload %+v", st)
	}

	// Answer every getppid with a made-up value until the child is gone, as a
	// seccomp agent serves: a signal (the Go runtime's preemption signal, say)
	// that interrupts the child's call withdraws its notification (ENOENT from
	// RECV or SEND), and one that lands just as an answer is sent loses the
	// answer even though SEND took it; either way the call restarts as a new
	// notification. Every wait is bounded.
	done := make(chan struct{})
	served := make(chan int, 1)
	go func() {
		answered := 0
		defer func() { served <- answered }()
		for {
			select {
			case <-done:
				return
			default:
			}
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, err := unix.Poll(pfd, 100); err != nil && err != unix.EINTR {
				t.Errorf("poll the listener: %v", err)
				return
			} else if n == 0 || pfd[0].Revents&unix.POLLIN == 0 {
				continue // nothing yet, or POLLHUP: the child is gone
			}
			req, err := RecvNotif(fd)
			if err == unix.ENOENT {
				continue
			}
			if err != nil {
				t.Errorf("SECCOMP_IOCTL_NOTIF_RECV: %v", err)
				return
			}
			if req.Nr != unix.SYS_GETPPID || req.Arch != unix.AUDIT_ARCH_X86_64 || int(req.Pid) == 0 {
				t.Errorf("notification %+v", req)
			}
			err = SendNotifResp(fd, NotifResp{ID: req.ID, Val: 4242})
			if err != nil && err != unix.ENOENT {
				t.Errorf("SECCOMP_IOCTL_NOTIF_SEND: %v", err)
				return
			}
			if err == nil {
				answered++
			}
		}
	}()
	kill := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	err = cmd.Wait()
	close(done)
	answered := <-served
	if !kill.Stop() {
		t.Fatalf("child still waiting after 30 s (answers sent: %d)\n%s", answered, stderr.String())
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	if answered == 0 {
		t.Error("the child's getppid was never answered")
	} else if answered > 1 {
		t.Logf("%d answers sent: the child's call restarted after an answer was taken", answered)
	}
	want(t, parseLines(stdout.String()), "loaded", "true", "getppid", "4242")
}

func TestLoadEmpty(t *testing.T) {
	// An empty program is refused before any syscall, so this is safe to run in the
	// test process itself.
	if _, err := (&Filter{}).Load(); err == nil {
		t.Fatal("empty filter loaded")
	}
}
