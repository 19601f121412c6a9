package dockerapi

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
)

// field is the value of "Name: value" in hull info's or docker info's text.
func field(t *testing.T, text, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `:\s*(.*)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %q in:\n%s", name, text)
	}
	return strings.TrimSpace(m[1])
}

func TestDockerVersion(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	out := s.Docker(t, "version", "--format", "{{json .Server}}").Ok(t)
	var v struct {
		Version, APIVersion, MinAPIVersion, Os, Arch, KernelVersion, GitCommit string
		Platform                                                               struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	hullVersion := s.Hull(t, "version").Ok(t) // hull version X (commit Y)
	if v.APIVersion != "1.50" || v.MinAPIVersion != "1.24" || v.Os != "linux" || v.Platform.Name != "hull" ||
		!strings.Contains(hullVersion, "version "+v.Version+" ") || !strings.Contains(hullVersion, "commit "+v.GitCommit+")") {
		t.Errorf("docker version: %+v\nhull version: %s", v, hullVersion)
	}
	uname, _ := exec.Command("uname", "-r").Output()
	if v.KernelVersion != strings.TrimSpace(string(uname)) {
		t.Errorf("kernel %q, uname -r %q", v.KernelVersion, uname)
	}
	// The plain form, as a user reads it.
	if out := s.Docker(t, "version").Ok(t); !strings.Contains(out, "Server: hull") || !strings.Contains(out, "API version:      1.50 (minimum version 1.24)") {
		t.Errorf("docker version:\n%s", out)
	}
}

// docker info says what hull info says, on the same roots.
func TestDockerInfo(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "create", "--network", "none", "--name", "c1", "busybox", "true").Ok(t)
	d := s.Docker(t, "info").Ok(t)
	h := s.Hull(t, "info").Ok(t)
	for _, c := range []struct{ docker, hull string }{
		{"Containers", "Containers"}, {"Running", "Running"}, {"Paused", "Paused"}, {"Stopped", "Stopped"},
		{"Images", "Images"}, {"Storage Driver", "Storage driver"}, {"Logging Driver", "Logging driver"},
		{"Kernel Version", "Kernel version"}, {"Docker Root Dir", "Root dir"}, {"Default Runtime", "Default runtime"},
	} {
		if dv, hv := field(t, d, c.docker), field(t, h, c.hull); dv != hv {
			t.Errorf("docker info %s: %q, hull info %s: %q", c.docker, dv, c.hull, hv)
		}
	}
	if field(t, d, "Containers") != "1" || field(t, d, "Docker Root Dir") != s.Root {
		t.Errorf("docker info:\n%s", d)
	}
	cg := field(t, h, "Cgroup version") // v2, or v1 (hybrid)
	if dv := field(t, d, "Cgroup Version"); dv != strings.TrimPrefix(strings.Fields(cg)[0], "v") {
		t.Errorf("docker info Cgroup Version %q, hull info %q", dv, cg)
	}
	if strings.Contains(d, "WARNING") || strings.Contains(d, "ERROR") {
		t.Errorf("docker info warns:\n%s", d)
	}
}

// docker system df counts what hull system df counts.
func TestDockerSystemDF(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "create", "--network", "none", "busybox", "true").Ok(t)
	s.Hull(t, "volume", "create", "data").Ok(t)
	rows := func(out string) map[string][]string {
		m := map[string][]string{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), -1)
			m[f[0]] = f[1:]
		}
		return m
	}
	d := rows(s.Docker(t, "system", "df").Ok(t))
	h := rows(s.Hull(t, "system", "df").Ok(t))
	for _, typ := range []string{"Images", "Containers", "Local Volumes"} {
		// TOTAL and ACTIVE; the sizes are rounded by each its own way.
		if len(d[typ]) < 2 || len(h[typ]) < 2 || d[typ][0] != h[typ][0] || d[typ][1] != h[typ][1] {
			t.Errorf("%s: docker %v, hull %v", typ, d[typ], h[typ])
		}
	}
	if d["Images"][0] != "1" || d["Containers"][0] != "1" || d["Local Volumes"][0] != "1" || d["Images"][1] != "1" {
		t.Errorf("docker system df: %v", d)
	}
}

// An event of a container run by hull's own CLI shows in docker events.
func TestDockerEvents(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	since := time.Now().Add(-time.Second).Unix()
	s.Hull(t, "run", "--network", "none", "--name", "ev1", "busybox", "true").Ok(t)
	s.Hull(t, "rm", "ev1").Ok(t)
	until := time.Now().Add(time.Second).Unix()
	out := s.Docker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until),
		"--filter", "container=ev1", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}").Ok(t)
	want := []string{"container create ev1", "container start ev1", "container die ev1", "container destroy ev1"}
	got := strings.Split(strings.TrimSpace(out), "\n")
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("docker events lacks %q:\n%s", w, out)
		}
	}
	// Filtered out by event type.
	out = s.Docker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--filter", "event=die", "--format", "{{.Action}}").Ok(t)
	if strings.TrimSpace(out) != "die" {
		t.Errorf("--filter event=die:\n%s", out)
	}
	// hull's own CLI sees the same.
	hout := s.Hull(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--filter", "event=die", "--format", "{{.Action}}").Ok(t)
	if hout != out {
		t.Errorf("hull events %q, docker events %q", hout, out)
	}
}

// What the service refuses, as docker's daemon does.
func TestRefusals(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	resp, err := s.Client().Get("http://docker/v1.50/no/such/endpoint")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || strings.TrimSpace(string(body)) != `{"message":"page not found: GET /v1.50/no/such/endpoint"}` {
		t.Errorf("unknown endpoint: %s %s", resp.Status, body)
	}
	r := s.DockerEnv(t, []string{"DOCKER_API_VERSION=9.99"}, "version")
	if stderr := r.Fails(t); !strings.Contains(stderr, "client version 9.99 is too new. Maximum supported API version is 1.50") {
		t.Errorf("DOCKER_API_VERSION=9.99 docker version: %s", stderr)
	}
}

func TestDockerPy(t *testing.T) {
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		t.Skip("docker-py (python3 -c 'import docker') is not installed")
	}
	s := dockertest.Start(t, dockertest.Options{})
	script := `
import docker, json, sys
c = docker.DockerClient(base_url=sys.argv[1])
print(json.dumps({"ping": c.ping(), "version": c.version(), "info": c.info(), "df": c.df()}))
`
	out, err := exec.Command("python3", "-c", script, s.Host).CombinedOutput()
	if err != nil {
		t.Fatalf("docker-py: %v\n%s", err, out)
	}
	var got struct {
		Ping    bool
		Version struct{ ApiVersion, Version string }
		Info    struct {
			Images        int
			DockerRootDir string
		}
		DF struct{ Images []struct{ Id string } }
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !got.Ping || got.Version.ApiVersion != "1.50" || got.Info.Images != 1 || got.Info.DockerRootDir != s.Root || len(got.DF.Images) != 1 {
		t.Errorf("docker-py: %s", out)
	}
}
