package dockerapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
)

// composeVersion is the docker compose v2 the suite builds: test/composeplugin's
// go.mod names it (the newest that builds with this machine's Go).
const composeVersion = "v5.6.0"

var (
	composeOnce sync.Once
	composeDir  string
	composeErr  error
)

// composePlugin is the docker compose v2 plugin: $HULL_COMPOSE, or built once
// per test binary from its Go module, test/composeplugin (a module of its own,
// so that compose's dependencies stay out of hull's go.mod; the Go build cache
// keeps it, so a machine pays the build once).
func composePlugin(t *testing.T) string {
	t.Helper()
	composeOnce.Do(func() {
		if bin := os.Getenv("HULL_COMPOSE"); bin != "" {
			composeDir = bin
			return
		}
		dir, err := os.MkdirTemp("", "hull-compose-")
		if err != nil {
			composeErr = err
			return
		}
		composeDir = filepath.Join(dir, "docker-compose")
		cmd := exec.Command("go", "build", "-C", "../composeplugin", "-trimpath", "-o", composeDir,
			"-ldflags", "-w -X github.com/docker/compose/v5/internal.Version="+composeVersion,
			"github.com/docker/compose/v5/cmd")
		// A module of its own: not the build settings of hull's tests.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOEXPERIMENT=", "GOFLAGS=-mod=mod")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			composeErr = fmt.Errorf("build docker compose: %v\n%s", err, out)
			return
		}
		if d := time.Since(start); d > 10*time.Second {
			fmt.Fprintf(os.Stderr, "dockerapi: built docker compose %s in %v\n", composeVersion, d.Round(time.Second))
		}
	})
	if composeErr != nil {
		t.Fatal(composeErr)
	}
	return composeDir
}

// removeComposePlugin removes what composePlugin built.
func removeComposePlugin() {
	if composeDir != "" && os.Getenv("HULL_COMPOSE") == "" {
		os.RemoveAll(filepath.Dir(composeDir))
	}
}

// installCompose puts the plugin in the service's DOCKER_CONFIG/cli-plugins,
// where the docker CLI looks for it.
func installCompose(t *testing.T, s *dockertest.Service) {
	t.Helper()
	bin := composePlugin(t)
	dir := filepath.Join(s.DockerConfig, "cli-plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(dir, "docker-compose")); err != nil {
		t.Fatal(err)
	}
}

// composeFile is a two-service project: web serves on a user network a page
// made of its environment and a bind-mounted file, into a named volume, with a
// health check and a port published on the host's loopback; client starts
// once web is healthy, reaches it by a link's alias (and by its name) and
// keeps what it got in the volume it shares with web.
const composeFile = `
services:
  web:
    image: busybox
    init: true
    command: ["sh", "-c", "echo $$GREETING >/www/index.html; cat /conf/extra.txt >>/www/index.html; echo web ready; exec httpd -f -p 8080 -h /www"]
    environment:
      GREETING: hello from web
    volumes:
      - data:/www
      - ./conf:/conf:ro
    ports:
      - "127.0.0.1:%s:8080"
    networks: [backend]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
      retries: 20
  client:
    image: busybox
    init: true
    command: ["sh", "-c", "wget -q -O /data/fetched http://www:8080/ && echo fetched $$(cat /data/fetched | head -1) && exec sleep 600"]
    links: ["web:www"]
    depends_on:
      web:
        condition: service_healthy
    volumes:
      - data:/data
    networks: [backend]
networks:
  backend: {}
volumes:
  data: {}
`

// composeProject writes the project's directory (compose.yaml and conf/) and
// returns it with the host port web publishes on.
func composeProject(t *testing.T) (dir, port string) {
	t.Helper()
	dir = t.TempDir()
	port = freePort(t)
	if err := os.Mkdir(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "extra.txt"), []byte("from the bind mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(fmt.Sprintf(composeFile, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, port
}

// httpGet is the body of GET url, or "" and the error.
func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// composeLeftovers fails the test if hull's CLI still sees anything of the
// project: a container, a network or a volume.
func composeLeftovers(t *testing.T, s *dockertest.Service, project string) {
	t.Helper()
	if out := s.Hull(t, "ps", "-a", "--format", "{{.Names}}").Ok(t); strings.TrimSpace(out) != "" {
		t.Errorf("containers left after down: %s", out)
	}
	if out := s.Hull(t, "network", "ls", "--format", "{{.Name}}").Ok(t); strings.Contains(out, project) {
		t.Errorf("networks left after down:\n%s", out)
	}
	if out := s.Hull(t, "volume", "ls", "-q").Ok(t); strings.TrimSpace(out) != "" {
		t.Errorf("volumes left after down -v: %s", out)
	}
	checkNoKernelState(t, s)
}

// checkProject checks a project compose brought up: what the host, the
// services' logs and exec and hull's CLI see. compose runs the compose of the
// test on the project; web and client are the containers' names.
func checkProject(t *testing.T, s *dockertest.Service, compose func(args ...string) dockertest.Result, project, port, web, client string) {
	t.Helper()
	// The host reaches web's published port; the page is its environment
	// and the bind-mounted file.
	const page = "hello from web\nfrom the bind mount\n"
	if got, err := httpGet("http://127.0.0.1:" + port + "/"); err != nil || got != page {
		t.Errorf("GET the published port: %q, %v", got, err)
	}
	// client reached web by its link on the network, and wrote what it got
	// into the volume the two share.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := compose("logs", "--no-color", "client").Ok(t)
		if strings.Contains(out, "fetched hello from web") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("compose logs client: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := compose("logs", "--no-color", "web").Ok(t); !strings.Contains(out, "| web ready") {
		t.Errorf("compose logs web: %q", out)
	}
	if out := compose("exec", "-T", "web", "cat", "/www/fetched").Ok(t); out != page {
		t.Errorf("compose exec web cat /www/fetched: %q", out)
	}
	if out := compose("exec", "-T", "client", "sh", "-c", "echo $GREETING; wget -q -O - http://web:8080/").Ok(t); out != "\n"+page {
		t.Errorf("compose exec client: %q", out)
	}
	if r := compose("exec", "-T", "web", "sh", "-c", "exit 7"); r.Code != 7 {
		t.Errorf("compose exec web sh -c 'exit 7': exit %d: %s", r.Code, r.Stderr)
	}

	// hull's CLI sees the project's containers, network and volume, as compose
	// labelled them.
	if got := names(s.Hull(t, "ps", "--format", "{{.Names}}", "--filter", "label=com.docker.compose.project="+project).Ok(t)); got != client+" "+web {
		t.Errorf("hull ps of the project: %q", got)
	}
	if got := names(s.Hull(t, "ps", "--format", "{{.Names}}", "--filter", "label=com.docker.compose.project="+project,
		"--filter", "label=com.docker.compose.service=web").Ok(t)); got != web {
		t.Errorf("hull ps of the project's web: %q", got)
	}
	if out := s.Hull(t, "network", "ls", "--format", "{{.Name}}").Ok(t); !strings.Contains(out, project+"_backend\n") {
		t.Errorf("hull network ls: %q", out)
	}
	if out := s.Hull(t, "volume", "ls", "-q").Ok(t); strings.TrimSpace(out) != project+"_data" {
		t.Errorf("hull volume ls: %q", out)
	}
	if out := s.Hull(t, "inspect", "--format", "{{.State.Health.Status}}", web).Ok(t); strings.TrimSpace(out) != "healthy" {
		t.Errorf("hull inspect web's health: %q", out)
	}
}

// docker compose v2 runs a two-service project on hull with nothing but
// DOCKER_HOST changed, and hull's CLI sees what it made; down -v leaves
// nothing.
func TestCompose(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	installCompose(t, s)
	dir, port := composeProject(t)
	const project = "hullc"
	compose := func(args ...string) dockertest.Result {
		t.Helper()
		return s.Docker(t, append([]string{"compose", "--project-directory", dir, "-p", project}, args...)...)
	}
	if out := s.Docker(t, "compose", "version").Ok(t); !strings.Contains(out, composeVersion) {
		t.Errorf("docker compose version: %s", out)
	}
	compose("up", "-d").Ok(t)

	// ps: both services run, web healthy (client started only after that).
	var ps []struct{ Service, State, Health, Name string }
	for _, l := range strings.Split(strings.TrimSpace(compose("ps", "--format", "json").Ok(t)), "\n") {
		var p struct{ Service, State, Health, Name string }
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatalf("docker compose ps: %v: %s", err, l)
		}
		ps = append(ps, p)
	}
	if len(ps) != 2 || ps[0].Name != project+"-client-1" || ps[0].State != "running" ||
		ps[1].Name != project+"-web-1" || ps[1].State != "running" || ps[1].Health != "healthy" {
		t.Errorf("docker compose ps: %+v", ps)
	}
	checkProject(t, s, compose, project, port, project+"-web-1", project+"-client-1")
	// up again: nothing to change, the same containers.
	ids := s.Hull(t, "ps", "-q", "--no-trunc").Ok(t)
	compose("up", "-d").Ok(t)
	if again := s.Hull(t, "ps", "-q", "--no-trunc").Ok(t); names(again) != names(ids) {
		t.Errorf("docker compose up -d again made other containers: %q, before %q", again, ids)
	}

	links := bridgesOf(t, s) // the project's bridge and veths, gone after down
	compose("down", "-v").Ok(t)
	checkNoKernelState(t, s, links...)
	if out := compose("ps", "-a", "-q").Ok(t); strings.TrimSpace(out) != "" {
		t.Errorf("docker compose ps -a after down: %q", out)
	}
	composeLeftovers(t, s, project)
	if _, err := httpGet("http://127.0.0.1:" + port + "/"); err == nil {
		t.Errorf("the published port still answers after down")
	}
}

// Debian's python docker-compose 1.29.2 runs the same project.
func TestComposePython(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Skip("docker-compose (Debian's 1.29.2) is not installed")
	}
	s := dockertest.Start(t, dockertest.Options{})
	dir, port := composeProject(t)
	const project = "hullp"
	compose := func(args ...string) dockertest.Result {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--project-directory", dir, "-p", project, "-f", filepath.Join(dir, "compose.yaml")}, args...)...)
		cmd.Env = dockertest.DockerEnviron(s.Host, s.DockerConfig)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		r := dockertest.Result{Args: append([]string{"docker-compose"}, args...), Stdout: stdout.String(), Stderr: stderr.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("docker-compose %v: %v", args, err)
		}
		return r
	}
	if out := compose("version", "--short").Ok(t); !strings.HasPrefix(out, "1.") {
		t.Skipf("docker-compose version %s: not the python one", out)
	}
	compose("up", "-d").Ok(t)
	out := compose("ps").Ok(t)
	if !regexp.MustCompile(project+`_web_1 .* Up \(healthy\) +127\.0\.0\.1:`+port+`->8080/tcp`).MatchString(out) ||
		!regexp.MustCompile(project+`_client_1 .* Up`).MatchString(out) {
		t.Errorf("docker-compose ps:\n%s", out)
	}
	checkProject(t, s, compose, project, port, project+"_web_1", project+"_client_1")
	// up again: the project is as the file says, nothing to change (compose
	// compares the network's options with the file's).
	if r := compose("up", "-d"); r.Code != 0 || !strings.Contains(r.Stderr, project+"_web_1 is up-to-date") {
		t.Errorf("docker-compose up -d again: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	links := bridgesOf(t, s)
	compose("down", "-v").Ok(t)
	checkNoKernelState(t, s, links...)
	composeLeftovers(t, s, project)
}

// docker compose build goes through POST /build (docker's classic builder, as
// the CLI falls back to it without buildx), and the service runs what it built.
func TestComposeBuild(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	installCompose(t, s)
	dir := t.TempDir()
	files := map[string]string{
		"Dockerfile":   "FROM busybox\nARG WHO=nobody\nRUN echo built for $WHO > /built\nCMD [\"cat\", \"/built\"]\n",
		"compose.yaml": "services:\n  app:\n    build:\n      context: .\n      args:\n        WHO: compose\n    image: hullc-built:1\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	compose := func(args ...string) dockertest.Result {
		t.Helper()
		// -f, not --project-directory: with -p and no -f, down works from the
		// project's containers alone and knows no service images to remove.
		return s.Docker(t, append([]string{"compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "hullb"}, args...)...)
	}
	if r := compose("build"); r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "Successfully tagged hullc-built:1") {
		t.Fatalf("docker compose build: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if out := s.Hull(t, "images", "--format", "{{.Repository}}:{{.Tag}}").Ok(t); !strings.Contains(out, "hullc-built:1") {
		t.Errorf("hull images after docker compose build:\n%s", out)
	}
	// The second build takes RUN from the cache.
	if r := compose("build"); r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "Using cache") {
		t.Errorf("docker compose build again: exit %d, no cache hit\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if out := compose("run", "--rm", "app").Ok(t); strings.TrimSpace(out) != "built for compose" {
		t.Errorf("docker compose run --rm app: %q", out)
	}
	compose("down", "--rmi", "all").Ok(t)
	if out := s.Hull(t, "images", "--format", "{{.Repository}}:{{.Tag}}").Ok(t); strings.Contains(out, "hullc-built") {
		t.Errorf("docker compose down --rmi all left the image:\n%s", out)
	}
	composeLeftovers(t, s, "hullb")
}
