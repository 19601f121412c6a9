package hullrt_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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
