package hullrt_test

import (
	"encoding/binary"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// initThreads creates a container from b and returns how many threads its
// init has while it waits for start.
func initThreads(t *testing.T, e *env, b string) int {
	t.Helper()
	id := cid("cinit")
	e.must("create", "--bundle", b, id)
	defer e.must("delete", "--force", id)
	status, err := os.ReadFile("/proc/" + strconv.Itoa(e.state(id).Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines(string(status)) {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("no Threads in %s", status)
	return 0
}

// TestInitWithoutGo: a container of the default spec (what `hullrt spec` and
// `runc spec` write, without a terminal) gets the C init (runtime/cinit.go): it
// waits for start with one thread, no Go runtime started. HULLRT_GO_INIT, and a
// config the C init does not cover (a createContainer hook here), give the Go
// init, whose runtime has several threads by then.
func TestInitWithoutGo(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"true"}, nil)
	if n := initThreads(t, e, b); n != 1 {
		t.Errorf("init of the default spec has %d threads, want 1 (the C init)", n)
	}
	hooked := e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
	})
	if n := initThreads(t, e, hooked); n < 2 {
		t.Errorf("init with a createContainer hook has %d threads, want the Go init's", n)
	}
	t.Setenv(runtime.GoInitEnv, "1")
	if n := initThreads(t, e, b); n < 2 {
		t.Errorf("init with %s=1 has %d threads, want the Go init's", runtime.GoInitEnv, n)
	}
}

// TestGoInit runs the tests of what init does once more with the Go init
// forced (HULLRT_GO_INIT=1), so that both inits stay covered: the rest of the
// suite mostly takes the C init.
func TestGoInit(t *testing.T) {
	t.Setenv(runtime.GoInitEnv, "1")
	for name, f := range map[string]func(*testing.T){
		"RunExitCode": TestRunExitCode, "Lifecycle": TestLifecycle, "ProcessFields": TestProcessFields,
		"RootCapabilities": TestRootCapabilities, "Mounts": TestMounts, "Devices": TestDevices,
		"MaskedAndReadonlyPaths": TestMaskedAndReadonlyPaths, "Sysctls": TestSysctls,
		"SymlinkedSystemDirs": TestSymlinkedSystemDirs, "BindDestinationSymlink": TestBindDestinationSymlink,
		"MaskedPathSymlink": TestMaskedPathSymlink, "InitDescriptors": TestInitDescriptors,
		"CwdInsideContainer": TestCwdInsideContainer, "StartFailure": TestStartFailure,
		"RunStartFailure": TestRunStartFailure, "SeccompHandProfile": TestSeccompHandProfile,
		"AmbientRaised": TestAmbientRaised, "PeerSpecsRun": TestPeerSpecsRun,
	} {
		t.Run(name, f)
	}
}

// TestCinitBadOps: the C init checks the whole list before it runs any of it,
// and a malformed one (short, too long a string, an unknown operation, not
// ending in execve, ...) is refused with an error on the channel and exit 1.
// hullrt is started as an init would be, on the host, with no namespaces: had
// any operation run, the first (an unshare, a mount) would show.
func TestCinitBadOps(t *testing.T) {
	e32 := func(b []byte, v uint32) []byte { return binary.NativeEndian.AppendUint32(b, v) }
	op := func(code uint32, a uint64, strs ...string) []byte {
		b := e32(e32(nil, code), uint32(len(strs)))
		for _, v := range []uint64{a, 0, 0, 0} {
			b = binary.NativeEndian.AppendUint64(b, v)
		}
		for _, s := range strs {
			b = append(e32(b, uint32(len(s))), s...)
		}
		return b
	}
	head := func(count uint32) []byte { return e32(e32(e32(nil, 0x31504f48), 1), count) }
	const unshare, execve = 1, 31 // cinit.h
	good := append(head(2), append(op(unshare, 0, "x"), op(execve, 1, "exec true", "true")...)...)
	for _, c := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"short header", []byte("HOP1"), "short header"},
		{"bad magic", append([]byte("XXXX"), good[4:]...), "bad magic"},
		{"version", append(append(head(2)[:4], 2, 0, 0, 0), good[8:]...), "unknown version"},
		{"no operation", head(0), "bad count"},
		{"too many", head(1 << 20), "bad count"},
		{"short operation", append(head(2), op(unshare, 0, "x")...), "short operation"},
		{"string past the end", append(head(1), op(execve, 1, "exec true", "true")[:40]...), "short string"},
		{"huge string", append(e32(append(head(1), op(execve, 1)[:4]...), 1), append(make([]byte, 32), 0xff, 0xff, 0xff, 0xff, 'x')...), "short string"},
		{"unknown operation", append(head(2), append(op(99, 0), op(execve, 1, "e", "true")...)...), "unknown operation"},
		{"zero operation", append(head(2), append(op(0, 0), op(execve, 1, "e", "true")...)...), "unknown operation"},
		{"no exec at the end", append(head(1), op(unshare, 0, "x")...), "the list does not end in exec"},
		{"trailing bytes", append(good, 0), "trailing bytes"},
		{"argc too large", append(head(1), op(execve, 2, "e", "true")...), "bad argument count"},
		{"argc overflow", append(head(1), op(execve, 1<<64-1, "e", "true")...), "bad argument count"},
		{"NUL in a string", append(head(1), op(execve, 1, "e", "tr\x00ue")...), "NUL in a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			parent, child := os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child")
			defer parent.Close()
			cmd := exec.Command(hullrtBin, "init")
			cmd.ExtraFiles = []*os.File{child}
			cmd.Env = []string{"_HULL_INIT=3", "_HULL_OPS=1"}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			child.Close()
			if _, err := parent.Write(c.msg); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			n, _ := parent.Read(buf)
			err = cmd.Wait()
			want := `{"type":"error","error":"read operations: ` + c.want
			if !strings.HasPrefix(string(buf[:n]), want) || cmd.ProcessState.ExitCode() != 1 {
				t.Errorf("got %q, exit %v, stderr %q; want %s... and exit 1", buf[:n], err, stderr.String(), want)
			}
		})
	}
}
