// Package dockertest runs `hull system service` for the Docker API's test
// suites, with the real clients beside it. A suite's package uses it as
//
//	func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }
//
//	func TestRun(t *testing.T) {
//		s := dockertest.Start(t, dockertest.Options{})   // temporary --root and --state, busybox imported
//		out := s.Docker(t, "run", "--rm", "busybox", "echo", "hi").Ok(t)
//		hullOut := s.Hull(t, "ps", "-a").Ok(t)            // the same engine through hull's CLI
//	}
//
// Start builds hull once per test binary (or takes $HULL, with hull-monitor and
// hull-init beside it), starts the service on <state>/docker.sock and returns once
// it answers /_ping. Its cleanup removes every container (hull rm -f), stops the
// service with SIGTERM and fails the test if the service does not exit 0, if the
// socket is left, or if a mount under the roots is left. Main adds the host-wide
// leak check of internal/testutil.
package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/testutil"
)

var (
	buildOnce sync.Once
	buildDir  string
	hullBin   string
	buildErr  error
)

// Main runs the package's tests with internal/testutil's leak check, and
// removes the build Binary made.
func Main(m *testing.M) int {
	code := testutil.Main(m)
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// Binary is the hull binary the suites run: $HULL (with hull-monitor and
// hull-init beside it), or this module's, built once the way `make build`
// builds it.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if bin := os.Getenv("HULL"); bin != "" {
			hullBin = bin
			_, buildErr = os.Stat(filepath.Join(filepath.Dir(bin), "hull-monitor"))
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "hull-dockertest-"); buildErr != nil {
			return
		}
		hullBin = filepath.Join(buildDir, "hull")
		if _, buildErr = testutil.Monitor(buildDir); buildErr != nil {
			return
		}
		for _, b := range []struct {
			out, pkg string
			env      []string
			flags    []string
		}{
			{"hull", "./cmd/hull", []string{"CGO_ENABLED=1"}, []string{"-tags", "osusergo,netgo"}},
			{"hull-init", "./cmd/hull-init", []string{"CGO_ENABLED=0"}, nil},
		} {
			args := append([]string{"build", "-o", filepath.Join(buildDir, b.out)}, b.flags...)
			cmd := exec.Command("go", append(args, "github.com/hullproject/hull/"+strings.TrimPrefix(b.pkg, "./"))...)
			cmd.Env = append(os.Environ(), b.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", b.out, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return hullBin
}

// Options shape one service.
type Options struct {
	// URI is what the service serves on; "" is unix://<state>/docker.sock.
	URI string
	// Args are more arguments to `hull system service` (--timeout, --tlsverify...).
	Args []string
	// Root and State are the engine's; "" is a new temporary directory each.
	Root, State string
	// NoBusybox: no busybox image (Start imports the host's busybox as "busybox").
	NoBusybox bool
	// Env is added to the service's environment (and to Hull's).
	Env []string
	// Activate is a listening socket passed to the service by socket
	// activation, as systemd passes it: fd 3, LISTEN_FDS=1, LISTEN_PID the
	// service's. URI then names it (for Host) and is not given to the service.
	Activate *os.File
	// Inherit are passed to the service from fd 3 on (after Activate), open
	// across the exec as a careless parent leaves descriptors.
	Inherit []*os.File
	// NoWait returns at once, not when the service answers /_ping (its Host is
	// then only known when URI is given).
	NoWait bool
}

// Service is one running `hull system service`.
type Service struct {
	Bin, Root, State string
	// Host is the DOCKER_HOST of the service: its URI.
	Host string
	Cmd  *exec.Cmd
	env  []string
	// DockerConfig is the DOCKER_CONFIG the docker CLI gets: a temporary directory.
	DockerConfig string

	stderr  syncBuffer
	exited  chan struct{}
	stopped atomic.Bool
}

// subnetN makes each service's default network subnet its own.
var subnetN atomic.Int32

// Subnet is a default-network subnet for one service: 10.215.N.0/24, apart
// from cmd/hull's tests (10.214) that may run at the same time.
func Subnet() string {
	return fmt.Sprintf("10.215.%d.0/24", (os.Getpid()*7+int(subnetN.Add(1)))%250+1)
}

// Start starts `hull system service` on temporary roots (see Options) and
// registers its stop and checks with t.Cleanup.
func Start(t testing.TB, o Options) *Service {
	t.Helper()
	testutil.RequireRoot(t)
	if _, err := os.Stat(testutil.Busybox); err != nil && !o.NoBusybox {
		t.Skip("busybox-static not installed")
	}
	s := &Service{Bin: Binary(t), Root: o.Root, State: o.State, exited: make(chan struct{}), DockerConfig: t.TempDir()}
	if s.Root == "" {
		s.Root = t.TempDir()
	}
	if s.State == "" {
		s.State = t.TempDir()
	}
	s.Host = o.URI
	if s.Host == "" {
		s.Host = "unix://" + filepath.Join(s.State, "docker.sock")
	}
	s.env = append([]string{"HULL_DEFAULT_SUBNET=" + Subnet()}, o.Env...)
	if !o.NoBusybox {
		st, err := image.Open(s.Root)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := image.BusyboxImage(context.Background(), st, "busybox"); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--root", s.Root, "--state", s.State, "system", "service"}
	args = append(args, o.Args...)
	if o.URI != "" && o.Activate == nil {
		args = append(args, o.URI)
	}
	argv := []string{s.Bin}
	if o.Activate != nil {
		// LISTEN_PID is the service's own pid: the shell's, which exec keeps.
		argv = []string{"sh", "-c", `export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@"`, "sh", s.Bin}
	}
	s.Cmd = exec.Command(argv[0], append(argv[1:], args...)...)
	s.Cmd.Env = append(os.Environ(), s.env...)
	s.Cmd.Stderr = &s.stderr
	if o.Activate != nil {
		s.Cmd.ExtraFiles = []*os.File{o.Activate}
	}
	s.Cmd.ExtraFiles = append(s.Cmd.ExtraFiles, o.Inherit...)
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.Cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.cleanup(t) })
	if o.NoWait {
		return s
	}
	if err := s.WaitReady(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// WaitReady waits until the service answers /_ping.
func (s *Service) WaitReady(timeout time.Duration) error {
	c := s.Client()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get("http://docker/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("hull system service exited (%v): %s", s.Cmd.ProcessState, s.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hull system service does not answer on %s after %v: %v\n%s", s.Host, timeout, err, s.Stderr())
		}
	}
}

// Client is an HTTP client that reaches the service whatever its URI: use it
// with any host, "http://docker/v1.50/info". Not for TLS.
func (s *Service) Client() *http.Client {
	network, addr, _ := strings.Cut(s.Host, "://")
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}}
}

// Stderr is what the service has written to its stderr so far.
func (s *Service) Stderr() string { return s.stderr.String() }

// Exited is closed when the service has exited.
func (s *Service) Exited() <-chan struct{} { return s.exited }

// Wait waits up to timeout for the service to exit by itself and returns its
// exit code (-1 when killed by a signal).
func (s *Service) Wait(timeout time.Duration) (int, error) {
	select {
	case <-s.exited:
		s.stopped.Store(true)
		return s.Cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("hull system service still runs after %v", timeout)
	}
}

// Stop sends SIGTERM and waits for the service's exit (10 s at most); its exit
// code.
func (s *Service) Stop() (int, error) {
	s.Cmd.Process.Signal(syscall.SIGTERM)
	return s.Wait(10 * time.Second)
}

// Kill kills the service with SIGKILL, as a crash would, and waits for it.
func (s *Service) Kill() {
	s.Cmd.Process.Kill()
	<-s.exited
	s.stopped.Store(true)
}

func (s *Service) cleanup(t testing.TB) {
	t.Helper()
	if out, _, _ := s.hull("ps", "-aq", "--no-trunc"); out != "" {
		for _, id := range strings.Fields(out) {
			if _, stderr, code := s.hull("rm", "-f", id); code != 0 {
				t.Errorf("cleanup: hull rm -f %s: %s", id, stderr)
			}
		}
	}
	if !s.stopped.Load() {
		code, err := s.Stop()
		if err != nil {
			s.Cmd.Process.Kill()
			<-s.exited
			t.Errorf("cleanup: %v\n%s", err, s.Stderr())
		} else if code != 0 {
			t.Errorf("cleanup: hull system service exited %d after SIGTERM:\n%s", code, s.Stderr())
		}
		if path, ok := strings.CutPrefix(s.Host, "unix://"); ok {
			if _, err := os.Lstat(path); err == nil {
				t.Errorf("cleanup: the socket %s is left after a clean stop", path)
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, root := range []string{s.Root, s.State} {
		if strings.Contains(string(mounts), root+"/") {
			t.Errorf("cleanup: mounts left under %s", root)
		}
	}
}

// Result is what a command did.
type Result struct {
	Args           []string
	Stdout, Stderr string
	Code           int
}

// Ok fails the test unless the command exited 0, and returns its stdout.
func (r Result) Ok(t testing.TB) string {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// Fails fails the test if the command exited 0, and returns its stderr.
func (r Result) Fails(t testing.TB) string {
	t.Helper()
	if r.Code == 0 {
		t.Fatalf("%s: exit 0, want a failure\n%s", strings.Join(r.Args, " "), r.Stdout)
	}
	return r.Stderr
}

func (s *Service) hull(args ...string) (string, string, int) {
	r := run(nil, append(os.Environ(), s.env...), s.Bin, append([]string{"--root", s.Root, "--state", s.State}, args...)...)
	return r.Stdout, r.Stderr, r.Code
}

// Hull runs hull's own CLI on the service's roots.
func (s *Service) Hull(t testing.TB, args ...string) Result {
	t.Helper()
	return run(t, append(os.Environ(), s.env...), s.Bin, append([]string{"--root", s.Root, "--state", s.State}, args...)...)
}

// DockerBin is the docker CLI the suites run: $DOCKER, else docker on $PATH.
func DockerBin(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("DOCKER"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("the docker CLI is not installed")
	}
	return bin
}

// Docker runs the docker CLI against the service: DOCKER_HOST set, a
// DOCKER_CONFIG of its own, and nothing of the caller's docker environment.
func (s *Service) Docker(t testing.TB, args ...string) Result {
	t.Helper()
	return s.DockerEnv(t, nil, args...)
}

// DockerEnv is Docker with more environment (DOCKER_API_VERSION=...).
func (s *Service) DockerEnv(t testing.TB, env []string, args ...string) Result {
	t.Helper()
	return run(t, DockerEnviron(s.Host, s.DockerConfig, env...), DockerBin(t), args...)
}

// DockerEnviron is the environment for a docker client of host: this process's,
// without its DOCKER_* variables, with DOCKER_HOST, DOCKER_CONFIG and env.
func DockerEnviron(host, config string, env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") {
			out = append(out, kv)
		}
	}
	return append(append(out, "DOCKER_HOST="+host, "DOCKER_CONFIG="+config), env...)
}

// run runs a command (60 s at most) and returns what it did.
func run(t testing.TB, env []string, bin string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Args: append([]string{filepath.Base(bin)}, args...), Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		if t != nil {
			t.Fatalf("%s: %v", strings.Join(r.Args, " "), err)
		}
		r.Code = -1
	}
	return r
}

// syncBuffer is a bytes.Buffer for a writer and readers in other goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)

// Inheritable lists the descriptors of process pid above stdio that are not
// close-on-exec, each as "fd N (what it is)": what anything pid starts (a
// container's monitor) would hold open.
func Inheritable(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		if fd <= 2 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "flags:"); ok {
				if flags, _ := strconv.ParseUint(strings.TrimSpace(v), 8, 64); flags&syscall.O_CLOEXEC == 0 {
					target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
					out = append(out, fmt.Sprintf("fd %d (%s)", fd, target))
				}
			}
		}
	}
	return out, nil
}
