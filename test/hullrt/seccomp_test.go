package hullrt_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hullproject/hull/engine/spec"
	"github.com/hullproject/hull/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The seccomp tests prove from inside a container what the runtime's filter does:
// the container runs under a hand-written profile, and the escape suite's helper
// (test/escape/attack, copied into the rootfs as /attack) makes exact system calls
// -- raw numbers and arguments, through the x86_64, x32 and i386 (int $0x80) ABIs,
// on a thread of its own -- and prints what came back. A shell script runs one
// probe per line and reports "@NAME STATUS OUTPUT", STATUS being the probe's exit
// status as the shell sees it (159 = killed by SIGSYS).

// attackBin builds the helper once per test binary, next to the shared rootfs (the
// directory TestMain removes), and copies it there from $HULL_ATTACK when that is
// set: the cgroup v2 VM has no Go, its harness ships a build (test/vm/run.sh).
var attackBin = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(sharedRootfs), "attack")
	if built := os.Getenv("HULL_ATTACK"); built != "" {
		data, err := os.ReadFile(built)
		if err == nil {
			err = os.WriteFile(bin, data, 0o755)
		}
		return bin, err
	}
	cmd := exec.Command("go", "build", "-o", bin, "github.com/hullproject/hull/test/escape/attack")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the attack helper: %v: %s", err, out)
	}
	return bin, nil
})

// attackRootfs is a private busybox rootfs holding the helper as /attack.
func attackRootfs(t *testing.T) string {
	t.Helper()
	bin, err := attackBin()
	if err != nil {
		t.Fatal(err)
	}
	rootfs := ownRootfs(t)
	if err := os.Link(bin, filepath.Join(rootfs, "attack")); err != nil {
		t.Fatal(err)
	}
	return rootfs
}

// probe is a shell command run in the container, and what it must print.
type probe struct {
	name, cmd string
	// want is "STATUS OUTPUT" with the output's words joined by one space; a
	// trailing "*" makes it a prefix.
	want string
}

// probeScript is the shell script that runs probes, one "@NAME STATUS OUTPUT" line
// each. set -f: a Go crash report's [brackets] must not be globbed.
func probeScript(probes []probe) []string {
	var b strings.Builder
	b.WriteString("set -f\n")
	for _, p := range probes {
		fmt.Fprintf(&b, "o=$(%s 2>&1); echo @%s $? $o\n", p.cmd, p.name)
	}
	return []string{"sh", "-c", b.String()}
}

// checkProbes compares the script's output with each probe's want.
func checkProbes(t *testing.T, out string, probes []probe) {
	t.Helper()
	got := map[string]string{}
	for _, l := range lines(out) {
		if name, v, ok := strings.Cut(strings.TrimPrefix(l, "@"), " "); ok && strings.HasPrefix(l, "@") {
			got[name] = v
		}
	}
	for _, p := range probes {
		g, ok := got[p.name]
		switch {
		case !ok:
			t.Errorf("%s (%s): no result in %q", p.name, p.cmd, out)
		case strings.HasSuffix(p.want, "*") && strings.HasPrefix(g, strings.TrimSuffix(p.want, "*")):
		case g != p.want:
			t.Errorf("%s (%s): got %q, want %q", p.name, p.cmd, g, p.want)
		}
	}
}

// errno is what the helper prints for a call that failed with e.
func errno(e unix.Errno) string { return "0 errno=" + unix.ErrnoName(e) }

func uintp(v uint) *uint { return &v }

// cond is a one-condition argument list.
func cond(index uint, op specs.LinuxSeccompOperator, value, valueTwo uint64) []specs.LinuxSeccompArg {
	return []specs.LinuxSeccompArg{{Index: index, Op: op, Value: value, ValueTwo: valueTwo}}
}

// Syscall numbers of the other ABIs the probes use.
const (
	x32Bit      = 0x40000000
	i386Mount   = 21
	i386Getppid = 64
)

// handProfile is a deny-list with one syscall per action and argument conditions
// on getsid and getpgid, each rule with its own errno so that the program sees
// which one matched. All comparison values have a nonzero high word: a filter that
// compared only the low 32 bits would answer differently. Nothing here is a call
// that busybox, the helper's Go runtime or the runtime's last steps before execve
// make on their own.
func handProfile() *specs.LinuxSeccomp {
	errnoRule := func(name string, e uint, args []specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: uintp(e), Args: args}
	}
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Flags:         []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
		Syscalls: []specs.LinuxSyscall{
			errnoRule("sched_getscheduler", 42, nil),
			{Names: []string{"getpriority"}, Action: specs.ActTrace},
			{Names: []string{"getcpu"}, Action: specs.ActLog},
			{Names: []string{"umask"}, Action: specs.ActTrap},
			{Names: []string{"sync"}, Action: specs.ActKill},
			{Names: []string{"syncfs"}, Action: specs.ActKillThread},
			{Names: []string{"vhangup"}, Action: specs.ActKillProcess},
			errnoRule("mount", 43, nil),
			errnoRule("getsid", 101, cond(1, specs.OpEqualTo, 0x1_0000_0002, 0)),
			errnoRule("getsid", 102, cond(2, specs.OpNotEqual, 0x1_0000_0002, 0)),
			errnoRule("getsid", 103, cond(3, specs.OpGreaterThan, 0x1_0000_0000, 0)),
			errnoRule("getsid", 104, cond(4, specs.OpGreaterEqual, 0x2_0000_0000, 0)),
			errnoRule("getsid", 105, cond(5, specs.OpLessThan, 0x1_0000_0000, 0)),
			errnoRule("getpgid", 106, cond(1, specs.OpLessEqual, 0x1_0000_0000, 0)),
			errnoRule("getpgid", 107, cond(2, specs.OpMaskedEqual, 0xff00_0000_0000_00ff, 0x1200_0000_0000_0034)),
			// Two conditions on one argument: both must hold (a range).
			errnoRule("getpgid", 108, []specs.LinuxSeccompArg{
				{Index: 3, Op: specs.OpGreaterEqual, Value: 0x10}, {Index: 3, Op: specs.OpLessEqual, Value: 0x20}}),
		},
	}
}

// getsid and getpgid are probe commands for those calls: args replaces some of the
// neutral values, under which no rule matches, by argument index (arg0, the pid,
// stays 0: the caller).
func getsid(args map[int]string) string {
	a := []string{"0", "0", "0x100000002", "0", "0", "0x100000000"}
	for i, v := range args {
		a[i] = v
	}
	return "/attack sys " + strconv.Itoa(unix.SYS_GETSID) + " " + strings.Join(a, " ")
}

func getpgid(args map[int]string) string {
	a := []string{"0", "0x100000001", "0", "0"}
	for i, v := range args {
		a[i] = v
	}
	return "/attack sys " + strconv.Itoa(unix.SYS_GETPGID) + " " + strings.Join(a, " ")
}

// handProbes are the probes for handProfile.
func handProbes() []probe {
	sys := func(nr int, args ...string) string {
		return strings.Join(append([]string{"/attack", "sys", strconv.Itoa(nr)}, args...), " ")
	}
	thread := func(nr int, args ...string) string {
		return strings.Join(append([]string{"/attack", "systhread", strconv.Itoa(nr)}, args...), " ")
	}
	const allowed = "0 ret=*"
	return []probe{
		// Actions.
		{"allow", sys(unix.SYS_GETPID), allowed},
		{"errno_ret", sys(unix.SYS_SCHED_GETSCHEDULER, "0"), errno(42)},
		{"trace_no_tracer", sys(unix.SYS_GETPRIORITY, "0", "0"), errno(unix.ENOSYS)}, // the kernel's answer
		{"log", sys(unix.SYS_GETCPU, "0", "0", "0"), "0 ret=0"},
		// TRAP: SIGSYS reaches the shell's handler, and the shell goes on.
		{"trap_handler", "trap 'echo trapped' SYS; umask 022; echo after", "0 trapped after"},
		// KILL and KILL_THREAD kill the calling thread: a single-threaded
		// program dies of SIGSYS; a thread of the Go helper dies alone.
		{"kill_single", "sync", "159"},
		{"kill_thread", thread(unix.SYS_SYNC), "0 thread=killed process=alive"},
		{"kill_thread_single", "sync -f /", "159"},
		{"kill_thread_thread", thread(unix.SYS_SYNCFS, "0"), "0 thread=killed process=alive"},
		// KILL_PROCESS takes every thread.
		{"kill_process", thread(unix.SYS_VHANGUP), "159"},

		// Conditions, each against values that differ only in the high word.
		{"neutral_getsid", getsid(nil), allowed},
		{"eq", getsid(map[int]string{1: "0x100000002"}), errno(101)},
		{"eq_low_word", getsid(map[int]string{1: "0x2"}), allowed},
		{"eq_high_word", getsid(map[int]string{1: "0x200000002"}), allowed},
		{"ne", getsid(map[int]string{2: "0x2"}), errno(102)},
		{"ne_high_word", getsid(map[int]string{2: "0x200000002"}), errno(102)},
		{"gt", getsid(map[int]string{3: "0x100000001"}), errno(103)},
		{"gt_equal", getsid(map[int]string{3: "0x100000000"}), allowed},
		{"gt_low_word", getsid(map[int]string{3: "0xffffffff"}), allowed},
		{"ge", getsid(map[int]string{4: "0x200000000"}), errno(104)},
		{"ge_above", getsid(map[int]string{4: "0x200000001"}), errno(104)},
		{"ge_below", getsid(map[int]string{4: "0x1ffffffff"}), allowed},
		{"lt", getsid(map[int]string{5: "0xffffffff"}), errno(105)},
		{"lt_equal", getsid(map[int]string{5: "0x100000000"}), allowed},
		{"lt_above", getsid(map[int]string{5: "0x100000001"}), allowed},
		{"neutral_getpgid", getpgid(nil), allowed},
		{"le", getpgid(map[int]string{1: "0x100000000"}), errno(106)},
		{"le_low_word", getpgid(map[int]string{1: "0xffffffff"}), errno(106)},
		{"le_above", getpgid(map[int]string{1: "0x200000000"}), allowed},
		{"masked_eq", getpgid(map[int]string{2: "0x12abcdef56789a34"}), errno(107)},
		{"masked_eq_high_word", getpgid(map[int]string{2: "0x1300000000000034"}), allowed},
		{"masked_eq_low_word", getpgid(map[int]string{2: "0x1200000000000035"}), allowed},
		{"range", getpgid(map[int]string{3: "0x15"}), errno(108)},
		{"range_below", getpgid(map[int]string{3: "0x5"}), allowed},
		{"range_above", getpgid(map[int]string{3: "0x25"}), allowed},
		{"range_high_word", getpgid(map[int]string{3: "0x100000015"}), allowed},

		// The deny rule on mount holds through every ABI (x32: this kernel has no
		// x32, it would say ENOSYS; the filter answers first), while i386 calls
		// do work (getppid agrees with the x86_64 one).
		{"mount_x86_64", sys(unix.SYS_MOUNT, "0", "0", "0"), errno(43)},
		{"mount_i386", fmt.Sprintf("/attack int80 %d 0 0 0", i386Mount), errno(43)},
		{"mount_x32", sys(x32Bit|unix.SYS_MOUNT, "0", "0", "0"), errno(43)},
		{"getppid_x86_64", sys(unix.SYS_GETPPID), allowed},
		{"getppid_i386", fmt.Sprintf("/attack int80 %d", i386Getppid), allowed},
	}
}

// checkPpid checks that the x86_64 and the i386 getppid said the same.
func checkPpid(t *testing.T, out string) {
	t.Helper()
	var x64, i386 string
	for _, l := range lines(out) {
		if v, ok := strings.CutPrefix(l, "@getppid_x86_64 "); ok {
			x64 = v
		} else if v, ok := strings.CutPrefix(l, "@getppid_i386 "); ok {
			i386 = v
		}
	}
	if x64 == "" || x64 != i386 {
		t.Errorf("getppid through x86_64 %q and through int $0x80 %q differ", x64, i386)
	}
}

// TestSeccompHandProfile runs handProbes under handProfile in the container's init
// (with and without no_new_privs, which moves the filter's loading) and in an
// exec'd process, which gets the filter of its own.
func TestSeccompHandProfile(t *testing.T) {
	probes := handProbes()
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprintf("run/nnp=%v", nnp), func(t *testing.T) {
			e := newEnv(t)
			rootfs := attackRootfs(t)
			b := e.bundle(probeScript(probes), func(s *specs.Spec) {
				s.Root.Path = rootfs
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = handProfile()
			})
			out := e.runOut(b, cid("sc-hand"))
			checkProbes(t, out, probes)
			checkPpid(t, out)
		})
	}
	t.Run("exec", func(t *testing.T) {
		e := newEnv(t)
		rootfs := attackRootfs(t)
		b := e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Linux.Seccomp = handProfile()
		})
		id := cid("sc-hand-exec")
		e.startDetached(b, id)
		out := e.must(append([]string{"exec", id}, probeScript(probes)...)...)
		checkProbes(t, out, probes)
		checkPpid(t, out)
	})
	// The program itself killed: hullrt reports what a shell would, 128+SIGSYS.
	t.Run("init-killed", func(t *testing.T) {
		e := newEnv(t)
		rootfs := attackRootfs(t)
		b := e.bundle([]string{"/attack", "systhread", strconv.Itoa(unix.SYS_VHANGUP)}, func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Linux.Seccomp = handProfile()
		})
		out, stderr, code := e.runIn(b, nil, "run", cid("sc-killed"))
		if code != 128+int(unix.SIGSYS) || out != "" {
			t.Errorf("run: exit %d, stdout %q, stderr %q; want 159 and nothing printed", code, out, stderr)
		}
	})
}

// TestSeccompTrapGo: TRAP in a Go program reaches the Go runtime's SIGSYS handler,
// which reports a SIGSYS from seccomp (si_code SYS_SECCOMP = 1) and exits 2.
func TestSeccompTrapGo(t *testing.T) {
	e := newEnv(t)
	rootfs := attackRootfs(t)
	b := e.bundle([]string{"/attack", "sys", strconv.Itoa(unix.SYS_UMASK), "0"}, func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Linux.Seccomp = handProfile()
	})
	out, stderr, code := e.runIn(b, nil, "run", cid("sc-trap"))
	if code != 2 || !strings.Contains(out+stderr, "SIGSYS: bad system call") || !strings.Contains(out+stderr, "sigcode=1") {
		t.Errorf("run: exit %d, output %q %q; want a Go SIGSYS report with sigcode=1 and exit 2", code, out, truncate(stderr))
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// TestSeccompUnlistedABI: with only x86_64 listed and an ALLOW default, a call
// through int $0x80 or with an x32 number would slip past every rule; the filter
// kills it instead.
func TestSeccompUnlistedABI(t *testing.T) {
	e := newEnv(t)
	rootfs := attackRootfs(t)
	probes := []probe{
		{"mount_x86_64", "/attack sys " + strconv.Itoa(unix.SYS_MOUNT) + " 0 0 0", errno(43)},
		{"getppid_i386", fmt.Sprintf("/attack int80 %d", i386Getppid), "159"},
		{"mount_i386", fmt.Sprintf("/attack int80 %d 0 0 0", i386Mount), "159"},
		{"getpid_x32", fmt.Sprintf("/attack sys %#x", x32Bit|unix.SYS_GETPID), "159"},
	}
	b := e.bundle(probeScript(probes), func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActErrno, ErrnoRet: uintp(43)}}}
	})
	checkProbes(t, e.runOut(b, cid("sc-abi")), probes)
}

// dockerProbes are the probes for Docker's default profile, whose default action is
// SCMP_ACT_ERRNO with defaultErrno: syscalls newer than the profile -- above the
// highest number it names, per ABI -- get ENOSYS instead, so that a libc falls back
// to an older call (clone3 has an explicit ENOSYS rule).
func dockerProbes(defaultErrno unix.Errno) []probe {
	return []probe{
		{"allow", "/attack sys " + strconv.Itoa(unix.SYS_GETPID), "0 ret=*"},
		{"default", "/attack sys " + strconv.Itoa(unix.SYS_NFSSERVCTL), errno(defaultErrno)},
		{"mount", "/attack sys " + strconv.Itoa(unix.SYS_MOUNT) + " 0 0 0", errno(defaultErrno)},
		{"mount_i386", fmt.Sprintf("/attack int80 %d 0 0 0", i386Mount), errno(defaultErrno)},
		{"clone3", "/attack sys " + strconv.Itoa(unix.SYS_CLONE3) + " 0 0", errno(unix.ENOSYS)},
		// file_getattr (Linux 6.17) is newer than moby/profiles v0.3.0.
		{"newer_file_getattr", "/attack sys 468 0 0 0 0 0", errno(unix.ENOSYS)},
		{"newer_1000", "/attack sys 1000", errno(unix.ENOSYS)},
		{"newer_i386_1000", "/attack int80 1000", errno(unix.ENOSYS)},
		{"newer_x32_1000", fmt.Sprintf("/attack sys %#x", x32Bit|1000), errno(unix.ENOSYS)},
	}
}

// TestSeccompDockerProfile runs dockerProbes under Docker's default profile as the
// engine applies it (spec.DefaultSeccomp), and under the same profile with a
// defaultErrnoRet of its own and an ALLOW rule added for acct: the call then
// reaches the kernel, which refuses it for want of CAP_SYS_PACCT (EPERM, not the
// default's EADDRNOTAVAIL). Both in init and in an exec'd process.
func TestSeccompDockerProfile(t *testing.T) {
	custom := func() *specs.LinuxSeccomp {
		p := spec.DefaultSeccomp()
		p.DefaultErrnoRet = uintp(uint(unix.EADDRNOTAVAIL))
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"acct"}, Action: specs.ActAllow})
		return p
	}
	customProbes := append(dockerProbes(unix.EADDRNOTAVAIL),
		probe{"allow_acct", "/attack sys " + strconv.Itoa(unix.SYS_ACCT) + " 0", errno(unix.EPERM)})
	for _, c := range []struct {
		name    string
		profile func() *specs.LinuxSeccomp
		probes  []probe
	}{
		{"docker", spec.DefaultSeccomp, dockerProbes(unix.EPERM)},
		{"defaultErrnoRet", custom, customProbes},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			rootfs := attackRootfs(t)
			b := e.bundle(probeScript(c.probes), func(s *specs.Spec) {
				s.Root.Path = rootfs
				s.Linux.Seccomp = c.profile()
			})
			checkProbes(t, e.runOut(b, cid("sc-"+c.name)), c.probes)

			b = e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) {
				s.Root.Path = rootfs
				s.Linux.Seccomp = c.profile()
			})
			id := cid("sc-exec-" + c.name)
			e.startDetached(b, id)
			checkProbes(t, e.must(append([]string{"exec", id}, probeScript(c.probes)...)...), c.probes)
		})
	}
}

// agent is a seccomp agent on a unix socket, as linux.seccomp.listenerPath names
// it: it receives each container process's state with the notify fd (SCM_RIGHTS),
// answers sched_getscheduler with a made-up 4242, and lets every other call run.
type agent struct {
	path   string
	states chan specs.ContainerProcessState
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newAgent(t *testing.T) *agent {
	t.Helper()
	a := &agent{path: filepath.Join(t.TempDir(), "agent.sock"), states: make(chan specs.ContainerProcessState, 8), stop: make(chan struct{})}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return // closed at cleanup
			}
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				a.serve(t, c)
			}()
		}
	}()
	t.Cleanup(func() {
		close(a.stop)
		l.Close()
		a.wg.Wait()
	})
	return a
}

// serve reads one state message and its fd, then answers notifications until the
// processes under the filter are gone (POLLHUP) or the test ends.
func (a *agent) serve(t *testing.T, c *net.UnixConn) {
	defer c.Close()
	st, fd, err := seccomp.RecvListener(c)
	if err != nil {
		t.Errorf("agent: %v", err)
		return
	}
	defer unix.Close(fd)
	a.states <- st
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if err == unix.EINTR || (err == nil && n == 0) {
			// Interrupted (the Go runtime preempts with SIGURG) or timed out: no
			// revents to read. Taking EINTR for a hang-up closed the listener, and
			// the next notified call then failed with ENOSYS.
			continue
		}
		if err != nil {
			t.Errorf("agent: poll: %v", err)
			return
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			return // POLLHUP: every process under this filter is gone
		}
		req, err := seccomp.RecvNotif(fd)
		if err == unix.ENOENT {
			continue // withdrawn: the caller was interrupted and will call again
		}
		if err != nil {
			t.Errorf("agent: receive: %v", err)
			return
		}
		resp := seccomp.NotifResp{ID: req.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		if req.Nr == unix.SYS_SCHED_GETSCHEDULER && req.Arch == unix.AUDIT_ARCH_X86_64 {
			resp = seccomp.NotifResp{ID: req.ID, Val: 4242}
		}
		if err := seccomp.SendNotifResp(fd, resp); err != nil && err != unix.ENOENT {
			t.Errorf("agent: answer: %v", err)
			return
		}
	}
}

// next returns the next state the agent received.
func (a *agent) next(t *testing.T) specs.ContainerProcessState {
	t.Helper()
	select {
	case st := <-a.states:
		return st
	case <-time.After(20 * time.Second):
		t.Fatal("the agent never got a notify fd")
		return specs.ContainerProcessState{}
	}
}

// TestSeccompNotify: SCMP_ACT_NOTIFY with listenerPath. The runtime sends the
// notify fd of init, then of an exec'd process, with the container's state, to the
// test's agent; the program inside sees the agent's made-up return value.
func TestSeccompNotify(t *testing.T) {
	e := newEnv(t)
	a := newAgent(t)
	rootfs := attackRootfs(t)
	profile := &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     a.path,
		ListenerMetadata: "hull-test",
		Syscalls:         []specs.LinuxSyscall{{Names: []string{"sched_getscheduler"}, Action: specs.ActNotify}},
	}
	probes := []probe{
		{"notified", "/attack sys " + strconv.Itoa(unix.SYS_SCHED_GETSCHEDULER) + " 0", "0 ret=4242"},
		{"not_notified", "/attack sys " + strconv.Itoa(unix.SYS_GETPID), "0 ret=*"},
	}
	checkState := func(st specs.ContainerProcessState, id string, pid int) {
		t.Helper()
		if !slices.Equal(st.Fds, []string{specs.SeccompFdName}) || st.Metadata != "hull-test" || st.State.ID != id || (pid != 0 && st.Pid != pid) {
			t.Errorf("agent got %+v, want fds [%s], metadata hull-test, container %s, pid %d", st, specs.SeccompFdName, id, pid)
		}
	}

	// init, in the foreground: its state comes while it is being created.
	b := e.bundle(probeScript(probes), func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Linux.Seccomp = profile
	})
	id := cid("sc-notify")
	checkProbes(t, e.runOut(b, id), probes)
	if st := a.next(t); st.State.Status != specs.StateCreating {
		t.Errorf("init's state: status %q, want creating", st.State.Status)
	} else {
		checkState(st, id, 0)
	}

	// An exec'd process gets a filter, and so a notify fd, of its own.
	b = e.bundle([]string{"sleep", "100"}, func(s *specs.Spec) {
		s.Root.Path = rootfs
		s.Linux.Seccomp = profile
	})
	id = cid("sc-notify-exec")
	initPid := e.startDetached(b, id)
	checkState(a.next(t), id, initPid)
	checkProbes(t, e.must(append([]string{"exec", id}, probeScript(probes)...)...), probes)
	if st := a.next(t); st.Pid == initPid {
		t.Errorf("the exec'd process's state names init's pid %d", initPid)
	} else {
		checkState(st, id, 0)
	}
}
