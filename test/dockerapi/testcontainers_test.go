package dockerapi

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Testcontainers for Go runs containers on hull as its users' test suites do,
// with nothing but DOCKER_HOST changed (and Ryuk, its reaper, off: no image of
// it here). It keeps the Docker host it found for the life of the process, so
// the whole suite is this one test on one service.
func TestTestcontainers(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	t.Setenv("DOCKER_HOST", s.Host)
	t.Setenv("DOCKER_CONFIG", s.DockerConfig)
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// Its progress lines in the test's log, not on stderr.
	tclog.SetDefault(tclog.TestLogger(t))
	defer tclog.SetDefault(tclog.NewNoopLogger())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	nw, err := network.New(ctx)
	if err != nil {
		t.Fatalf("network.New: %v", err)
	}
	// web serves a page copied in before it starts, once its log says so, its
	// port listens, a command in it succeeds, its page answers and its health
	// check passes. Both
	// containers end on the SIGTERM of Terminate's stop.
	web, err := testcontainers.Run(ctx, "busybox",
		testcontainers.WithCmd("sh", "-c", "trap 'exit 0' TERM; echo starting; mkdir /www; cp /conf/index.html /www/; echo serving; httpd -f -p 8080 -h /www & wait"),
		testcontainers.WithExposedPorts("8080/tcp"),
		testcontainers.WithEnv(map[string]string{"GREETING": "hi"}),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: strings.NewReader("hello from testcontainers\n"), ContainerFilePath: "/conf/index.html", FileMode: 0o644}),
		network.WithNetwork([]string{"web"}, nw),
		testcontainers.WithConfigModifier(func(c *container.Config) {
			c.Healthcheck = &container.HealthConfig{Test: []string{"CMD", "test", "-f", "/www/index.html"}, Interval: 200 * time.Millisecond}
		}),
		testcontainers.WithWaitStrategyAndDeadline(30*time.Second,
			wait.ForLog("serving"), wait.ForListeningPort("8080/tcp"),
			wait.ForExec([]string{"test", "-f", "/www/index.html"}), wait.ForHTTP("/").WithPort("8080/tcp"),
			wait.ForHealthCheck()),
	)
	if err != nil {
		testcontainers.CleanupContainer(t, web)
		nw.Remove(ctx)
		t.Fatalf("run web: %v", err)
	}
	// The host reaches the published port.
	endpoint, err := web.PortEndpoint(ctx, "8080/tcp", "http")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := httpGet(endpoint + "/"); err != nil || got != "hello from testcontainers\n" {
		t.Errorf("GET %s: %q, %v", endpoint, got, err)
	}
	// Exec, with its output and exit code.
	code, r, err := web.Exec(ctx, []string{"sh", "-c", "echo $GREETING; echo oops >&2; exit 3"}, tcexec.Multiplexed())
	if out, _ := io.ReadAll(r); err != nil || code != 3 || string(out) != "hi\noops\n" {
		t.Errorf("exec: %d %q %v", code, out, err)
	}
	// Logs.
	rc, err := web.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := io.ReadAll(rc)
	rc.Close()
	if string(logs) != "starting\nserving\n" {
		t.Errorf("logs: %q", logs)
	}
	// Files in and out of the running container.
	if err := web.CopyToContainer(ctx, []byte("a new page\n"), "/www/new.html", 0o644); err != nil {
		t.Fatalf("CopyToContainer: %v", err)
	}
	if got, err := httpGet(endpoint + "/new.html"); err != nil || got != "a new page\n" {
		t.Errorf("GET the copied page: %q, %v", got, err)
	}
	if rc, err := web.CopyFileFromContainer(ctx, "/www/new.html"); err != nil {
		t.Errorf("CopyFileFromContainer: %v", err)
	} else {
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "a new page\n" {
			t.Errorf("CopyFileFromContainer: %q", b)
		}
	}
	if aliases, err := web.NetworkAliases(ctx); err != nil || !strings.Contains(strings.Join(aliases[nw.Name], " "), "web") {
		t.Errorf("network aliases: %v %v", aliases, err)
	}

	// A second container reaches web by its alias on the network.
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:      "busybox",
			Cmd:        []string{"sh", "-c", "trap 'exit 0' TERM; wget -q -O - http://web:8080/ && sleep 600 & wait"},
			Networks:   []string{nw.Name},
			WaitingFor: wait.ForLog("hello from testcontainers").WithStartupTimeout(30 * time.Second),
		},
		Started: true,
	})
	client, _ := ctr.(*testcontainers.DockerContainer)
	if err != nil {
		testcontainers.CleanupContainer(t, client)
		testcontainers.CleanupContainer(t, web)
		nw.Remove(ctx)
		t.Fatalf("run client: %v", err)
	}

	// hull's CLI sees both, on the network, labelled as Testcontainers' own.
	if got := names(s.Hull(t, "ps", "--format", "{{.Names}}", "--filter", "network="+nw.Name, "--filter", "label=org.testcontainers=true").Ok(t)); len(strings.Fields(got)) != 2 {
		t.Errorf("hull ps: %q", got)
	}
	links := bridgesOf(t, s)
	for _, c := range []*testcontainers.DockerContainer{client, web} {
		if err := c.Terminate(ctx); err != nil {
			t.Errorf("terminate: %v", err)
		}
	}
	if err := nw.Remove(ctx); err != nil {
		t.Errorf("network remove: %v", err)
	}
	if out := s.Hull(t, "ps", "-a", "-q").Ok(t); out != "" {
		t.Errorf("containers left: %s", out)
	}
	if out := s.Hull(t, "network", "ls", "--format", "{{.Name}}").Ok(t); strings.Contains(out, nw.Name) {
		t.Errorf("network left:\n%s", out)
	}
	if out := s.Hull(t, "volume", "ls", "-q").Ok(t); out != "" {
		t.Errorf("volumes left: %s", out)
	}
	checkNoKernelState(t, s, links...)
}
