package dockerapi

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
	"golang.org/x/sys/unix"
)

// freePort is a loopback TCP port nobody listens on (as far as one can tell).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// hullService runs `hull system service args...` on fresh roots and returns its
// exit code and stderr; it must end within timeout.
func hullService(t *testing.T, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(dockertest.Binary(t), append([]string{"--root", t.TempDir(), "--state", t.TempDir(), "system", "service"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("hull system service %v still ran after %v", args, timeout)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// The socket is the default one's kind: 0660, group docker where it exists.
func TestSocketMode(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	path := strings.TrimPrefix(s.Host, "unix://")
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Mode&0o777 != 0o660 || st.Uid != 0 {
		t.Errorf("socket mode %o uid %d", st.Mode, st.Uid)
	}
	if g, err := user.LookupGroup("docker"); err == nil {
		if gid, _ := strconv.Atoi(g.Gid); st.Gid != uint32(gid) {
			t.Errorf("socket group %d, docker is %d", st.Gid, gid)
		}
	}
	// Nothing but the socket and its lock is left in the directory.
	ents, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range ents {
		if n := e.Name(); n != "docker.sock" && n != "docker.sock.lock" && n != "runtime" && n != "containers" && n != "networks" {
			t.Errorf("left beside the socket: %s", n)
		}
	}
}

// A service killed with -9 leaves its socket; the next one replaces it, and
// the containers of the engine are still there.
func TestKilledServiceSocketReplaced(t *testing.T) {
	first := dockertest.Start(t, dockertest.Options{})
	first.Hull(t, "create", "--network", "none", "--name", "kept", "busybox", "true").Ok(t)
	first.Kill()
	sock := strings.TrimPrefix(first.Host, "unix://")
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("no socket left by the killed service: %v", err)
	}
	second := dockertest.Start(t, dockertest.Options{Root: first.Root, State: first.State, NoBusybox: true})
	if out := second.Docker(t, "info", "--format", "{{.Containers}}").Ok(t); strings.TrimSpace(out) != "1" {
		t.Errorf("containers after the restart: %s", out)
	}
}

// One service per socket: a second one is refused at start, whether the first
// is hull's (its lock) or anything else answering on the path.
func TestAlreadyServing(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	code, stderr := hullService(t, 10*time.Second, s.Host)
	if code != 125 || !strings.Contains(stderr, "already serving") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("a second service on %s: exit %d: %q", s.Host, code, stderr)
	}
	// The first one still serves.
	s.Docker(t, "version").Ok(t)

	// A socket some other program listens on.
	path := filepath.Join(t.TempDir(), "other.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, stderr = hullService(t, 10*time.Second, "unix://"+path)
	if code != 125 || !strings.Contains(stderr, "already serving: another service answers on it") {
		t.Errorf("on a socket another program serves: exit %d: %q", code, stderr)
	}
	// A path that is not a socket is not replaced.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("data"), 0o600)
	code, stderr = hullService(t, 10*time.Second, "unix://"+file)
	if data, _ := os.ReadFile(file); code != 125 || !strings.Contains(stderr, "exists and is not a socket") || string(data) != "data" {
		t.Errorf("on a regular file: exit %d: %q", code, stderr)
	}
}

// tcp:// without TLS only on loopback: anywhere else is refused at start with
// one line and exit 125.
func TestTCPWithoutTLS(t *testing.T) {
	for _, uri := range []string{"tcp://0.0.0.0:" + freePort(t), "tcp://:" + freePort(t), "tcp://[::]:" + freePort(t)} {
		code, stderr := hullService(t, 10*time.Second, uri)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 125 || len(lines) != 1 || !strings.Contains(stderr, "refusing to serve the API on") || !strings.Contains(stderr, "--tlsverify") {
			t.Errorf("%s: exit %d: %q", uri, code, stderr)
		}
	}
	uri := "tcp://127.0.0.1:" + freePort(t)
	s := dockertest.Start(t, dockertest.Options{URI: uri, NoBusybox: true})
	if !strings.Contains(s.Stderr(), "warning: serving the API on "+uri+" without TLS") {
		t.Errorf("no warning on stderr:\n%s", s.Stderr())
	}
	if out := s.Docker(t, "version", "--format", "{{.Server.APIVersion}}").Ok(t); strings.TrimSpace(out) != "1.50" {
		t.Errorf("docker version over %s: %s", uri, out)
	}
}

// --tlsverify: a client with a certificate the CA signed is served, one
// without is refused; the docker CLI with DOCKER_TLS_VERIFY works.
func TestTLS(t *testing.T) {
	c := dockertest.MakeCerts(t)
	host := "127.0.0.1:" + freePort(t)
	s := dockertest.Start(t, dockertest.Options{
		URI: "tcp://" + host, NoBusybox: true, NoWait: true,
		Args: []string{"--tlsverify", "--tlscacert", c.CA, "--tlscert", c.ServerCert, "--tlskey", c.ServerKey},
	})
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(c.CA)
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client(cert).Get("https://" + host + "/_ping")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TLS answer: %v\n%s", err, s.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := client().Get("https://" + host + "/_ping"); err == nil {
		t.Error("a client without a certificate was served")
	}
	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + host + "/_ping"); err == nil {
		t.Error("TLS 1.1 was served")
	}
	out := s.DockerEnv(t, []string{"DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + c.Dir}, "version", "--format", "{{.Server.APIVersion}}").Ok(t)
	if strings.TrimSpace(out) != "1.50" {
		t.Errorf("docker --tlsverify version: %s", out)
	}
	// docker with the CA but no client certificate of its own.
	noCert := t.TempDir()
	os.WriteFile(filepath.Join(noCert, "ca.pem"), ca, 0o600)
	s.DockerEnv(t, []string{"DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + noCert}, "version").Fails(t)
	// TLS flags are checked before anything is served.
	if code, stderr := hullService(t, 10*time.Second, "--tlsverify", "tcp://127.0.0.1:"+freePort(t)); code != 125 || !strings.Contains(stderr, "--tlsverify needs --tlscacert, --tlscert and --tlskey") {
		t.Errorf("--tlsverify alone: exit %d: %q", code, stderr)
	}
}

// Socket activation: the service serves the socket it is given as fd 3
// (LISTEN_FDS=1, LISTEN_PID its own), and, so started, exits after 5 idle
// seconds as podman's does.
func TestSocketActivation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activated.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // f is a dup: the socket stays open
	defer f.Close()
	s := dockertest.Start(t, dockertest.Options{URI: "unix://" + path, NoBusybox: true, NoWait: true, Activate: f})
	f.Close()
	if err := s.WaitReady(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out := s.Docker(t, "version", "--format", "{{.Server.APIVersion}}").Ok(t); strings.TrimSpace(out) != "1.50" {
		t.Errorf("docker version: %s", out)
	}
	checkCloexec(t, s.Cmd.Process.Pid)
	code, err := s.Wait(15 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("socket-activated service, idle: exit %d, %v\n%s", code, err, s.Stderr())
	}
	if d := time.Since(start); d < 4*time.Second || d > 9*time.Second {
		t.Errorf("exited after %v idle, want about 5s", d)
	}
}

// --timeout N: the service exits 0 after N seconds with no request in flight
// and no stream open; an open events stream keeps it.
func TestIdleTimeout(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{NoBusybox: true, Args: []string{"--timeout", "1"}})
	events := exec.Command(dockertest.DockerBin(t), "events")
	events.Env = dockertest.DockerEnviron(s.Host, s.DockerConfig)
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Exited():
		t.Fatalf("exited with a stream open:\n%s", s.Stderr())
	case <-time.After(3 * time.Second):
	}
	events.Process.Kill()
	events.Wait()
	start := time.Now()
	code, err := s.Wait(10 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("idle: exit %d, %v\n%s", code, err, s.Stderr())
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 4*time.Second {
		t.Errorf("exited %v after the last stream ended, want about 1s", d)
	}
	if _, err := os.Lstat(strings.TrimPrefix(s.Host, "unix://")); err == nil {
		t.Error("the socket is left after the idle exit")
	}
}

// SIGTERM and SIGINT stop the service at once, open streams included; exit 0,
// the socket gone.
func TestSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			s := dockertest.Start(t, dockertest.Options{NoBusybox: true})
			events := exec.Command(dockertest.DockerBin(t), "events")
			events.Env = dockertest.DockerEnviron(s.Host, s.DockerConfig)
			if err := events.Start(); err != nil {
				t.Fatal(err)
			}
			defer events.Wait()
			defer events.Process.Kill()
			time.Sleep(300 * time.Millisecond)
			start := time.Now()
			s.Cmd.Process.Signal(sig)
			code, err := s.Wait(10 * time.Second)
			if err != nil || code != 0 {
				t.Fatalf("exit %d, %v\n%s", code, err, s.Stderr())
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v to stop with an events stream open", d)
			}
			if _, err := os.Lstat(strings.TrimPrefix(s.Host, "unix://")); err == nil {
				t.Error("the socket is left")
			}
		})
	}
}

// No descriptor of the service outlives an exec: a container's monitor, which
// the service starts, holds neither the API's socket nor anything else of it,
// not even what a careless parent left open to the service.
func TestServiceFdsCloseOnExec(t *testing.T) {
	leaked, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer leaked.Close()
	s := dockertest.Start(t, dockertest.Options{Inherit: []*os.File{leaked}})
	s.Docker(t, "info").Ok(t)
	checkCloexec(t, s.Cmd.Process.Pid)
}

// checkCloexec fails unless every descriptor of pid above 2 is close-on-exec.
func checkCloexec(t *testing.T, pid int) {
	t.Helper()
	fds, err := dockertest.Inheritable(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		t.Errorf("%s of the service is inherited by what it starts", fd)
	}
}
