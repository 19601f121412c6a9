package dockerapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/hullproject/hull/internal/testutil"
)

// openFDs counts the descriptors process pid holds (/proc/PID/fd).
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// goroutines is the service's NGoroutines, as docker's /info reports it.
func goroutines(t *testing.T, s *dockertest.Service) int {
	t.Helper()
	code, body := raw(t, s, "GET", "/info", "")
	var in struct{ NGoroutines int }
	if err := json.Unmarshal([]byte(body), &in); code != 200 || err != nil || in.NGoroutines == 0 {
		t.Fatalf("/info: %d %v %s", code, err, body)
	}
	return in.NGoroutines
}

// call sends one request with c and checks its status; the body is returned.
func call(c *http.Client, method, path, body string, want int) (string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://docker"+path, rd)
	if err != nil {
		return "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return string(data), fmt.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, bytes.TrimSpace(data))
	}
	return string(data), nil
}

// createBody is a create request for busybox with argv, without a network.
func createBody(argv ...string) string {
	b, _ := json.Marshal(map[string]any{"Image": "busybox", "Cmd": argv, "HostConfig": map[string]any{"NetworkMode": "none"}})
	return string(b)
}

// createdID is the Id of a create answer.
func createdID(body string) (string, error) {
	var out struct{ Id string }
	if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.Id) != 64 {
		return "", fmt.Errorf("create answered %q", body)
	}
	return out.Id, nil
}

// procsUnder lists the processes whose command line names dir (a service's
// root: its monitors), apart from the service itself.
func procsUnder(dir string, service int) []int {
	var out []int
	for _, p := range testutil.Processes() {
		if p.Pid != service && slices.Contains(p.Argv, dir) {
			out = append(out, p.Pid)
		}
	}
	return out
}

// The service killed with -9 while 30 clients create and start containers:
// every container whose create was answered is still there, every one whose
// start was answered still runs, and a service started again on the same roots
// serves them: docker ps and hull ps list the same containers in the same
// states, each can be inspected and started, and removed with nothing left.
func TestServiceKilledMidRun(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	c := s.Client()
	const clients = 30
	var (
		mu               sync.Mutex
		created, started []string
		nStarted         atomic.Int32
		killed           = make(chan struct{})
	)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := call(c, "POST", fmt.Sprintf("/containers/create?name=k%d", i), createBody("sleep", "1000"), 201)
			if err != nil {
				return // the service is gone: the container may or may not exist
			}
			id, err := createdID(body)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			created = append(created, id)
			mu.Unlock()
			if _, err := call(c, "POST", "/containers/"+id+"/start", "", 204); err != nil {
				return
			}
			mu.Lock()
			started = append(started, id)
			mu.Unlock()
			if nStarted.Add(1) == clients/3 {
				close(killed)
			}
		}()
	}
	select {
	case <-killed:
	case <-time.After(20 * time.Second):
		t.Fatal("10 containers did not start in 20 s")
	}
	s.Kill()
	wg.Wait()
	t.Logf("killed after %d creates and %d starts answered", len(created), len(started))

	s2 := dockertest.Start(t, dockertest.Options{Root: s.Root, State: s.State, NoBusybox: true})
	all := func(args ...string) (docker, hull []string) {
		docker = lines(s2.Docker(t, append([]string{"ps", "--no-trunc", "--format", "{{.ID}} {{.State}}"}, args...)...).Ok(t))
		hull = lines(s2.Hull(t, append([]string{"ps", "--no-trunc", "--format", "{{.ID}} {{.State}}"}, args...)...).Ok(t))
		slices.Sort(docker)
		slices.Sort(hull)
		return docker, hull
	}
	// A start the kill interrupted goes on in the container's monitor (it is
	// not the service's child): the states settle once it is done.
	var docker, hull, prev []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		docker, hull = all("-a")
		if slices.Equal(docker, hull) && slices.Equal(docker, prev) || time.Now().After(deadline) {
			break
		}
		prev = docker
	}
	if !slices.Equal(docker, hull) {
		t.Errorf("docker ps -a and hull ps -a differ:\n%v\n%v", docker, hull)
	}
	listed := strings.Join(docker, "\n")
	for _, id := range created {
		if !strings.Contains(listed, id) {
			t.Errorf("container %s, created before the kill, is lost", id)
		}
	}
	for _, id := range started {
		if !strings.Contains(listed, id+" running") {
			t.Errorf("container %s, started before the kill, does not run: %s", id, listed)
		}
	}
	// Each listed one is served: inspected, started if it was not.
	ids := strings.Fields(s2.Docker(t, "ps", "-aq", "--no-trunc").Ok(t))
	for _, id := range ids {
		if out := inspectField(t, s2, id, "{{.Name}}"); !strings.HasPrefix(out, "/k") {
			t.Errorf("inspect %s: name %q", id, out)
		}
		if !slices.Contains(started, id) {
			s2.Docker(t, "start", id).Ok(t)
		}
	}
	docker, hull = all()
	if len(docker) != len(ids) || !slices.Equal(docker, hull) {
		t.Errorf("running after docker start of the rest: docker %v, hull %v, want all %d", docker, hull, len(ids))
	}
	if len(ids) > 0 {
		s2.Docker(t, append([]string{"rm", "-f"}, ids...)...).Ok(t)
	}
	if out := s2.Hull(t, "ps", "-aq").Ok(t); strings.TrimSpace(out) != "" {
		t.Errorf("left after docker rm -f: %s", out)
	}
	if ps := procsUnder(s.Root, s2.Cmd.Process.Pid); len(ps) != 0 {
		t.Errorf("processes under the root after rm -f: %v", ps)
	}
	// No container's directory or snapshot is left, half-made ones included.
	for _, dir := range []string{filepath.Join(s.Root, "containers"), filepath.Join(s.Root, "snapshots")} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if len(e.Name()) == 64 {
				t.Errorf("left after docker rm -f: %s/%s", dir, e.Name())
			}
		}
	}
}

// Malformed bodies (bad JSON, wrong types, a body above the limit, the wrong
// Content-Type) are answered 400 with docker's one-line {"message": ...}, and
// nothing is made: no container, network or volume, no file in the root.
func TestMalformedBodies(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "create", "--network", "none", "--name", "there", "busybox", "true").Ok(t)
	snapshot := func() string {
		var b strings.Builder
		b.WriteString(s.Hull(t, "ps", "-aq", "--no-trunc").Ok(t))
		b.WriteString(s.Hull(t, "network", "ls", "-q").Ok(t))
		b.WriteString(s.Hull(t, "volume", "ls", "-q").Ok(t))
		for _, dir := range []string{s.Root, s.State} {
			filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
				if err == nil && !strings.HasSuffix(path, ".lock") && !strings.HasSuffix(path, ".sock") {
					b.WriteString(path + "\n")
				}
				return nil
			})
		}
		return b.String()
	}
	before := snapshot()
	huge := `{"Image":"busybox","Labels":{"a":"` + strings.Repeat("x", 32<<20) + `"}}`
	for _, tc := range []struct{ method, path, body, ctype string }{
		{"POST", "/containers/create", `{"Image":"busybox",`, ""},
		{"POST", "/containers/create", `{"Image":5}`, ""},
		{"POST", "/containers/create", `{"Image":"busybox","Cmd":[1,2]}`, ""},
		{"POST", "/containers/create", `{"Image":"busybox","HostConfig":{"Memory":"lots"}}`, ""},
		{"POST", "/containers/create", `{"Image":"busybox","HostConfig":{"Binds":"/:/x"}}`, ""},
		{"POST", "/containers/create", `{"Image":"busybox","ExposedPorts":["80/tcp"]}`, ""},
		{"POST", "/containers/create", `[{"Image":"busybox"}]`, ""},
		{"POST", "/containers/create", `"busybox"`, ""},
		{"POST", "/containers/create", ``, ""},
		{"POST", "/containers/create", `{"Image":"busybox"}`, "text/plain"},
		{"POST", "/containers/create", huge, ""},
		{"POST", "/containers/create?name=bad/name", createBody("true"), ""},
		{"POST", "/containers/create", `{"Image":"busybox","HostConfig":{"Binds":["::"]}}`, ""},
		{"POST", "/containers/create", `{"Image":"busybox","HostConfig":{"Memory":-5}}`, ""},
		{"POST", "/containers/create", `{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}`, ""},
		{"POST", "/containers/create", `{"Image":"busybox","HostConfig":{"PortBindings":{"x/tcp":[{"HostPort":"80"}]}}}`, ""},
		{"POST", "/containers/there/update", `{"Memory":"lots"}`, ""},
		{"POST", "/containers/there/update", `{`, ""},
		{"POST", "/networks/create", `{"Name":5}`, ""},
		{"POST", "/networks/create", `{"Name":"n","IPAM":{"Config":"10.0.0.0/24"}}`, ""},
		{"POST", "/networks/create", `{"Name":"n"`, ""},
		{"POST", "/networks/create", `{"Name":"n","IPAM":{"Config":[{"Subnet":"nonsense"}]}}`, ""},
		{"POST", "/volumes/create", `{"Name":["v"]}`, ""},
		{"POST", "/volumes/create", `{"Name":"v","Labels":"x"}`, ""},
		{"POST", "/volumes/create", `{"Name":"v"`, ""},
		{"POST", "/networks/bridge/connect", `{"Container":5}`, ""},
	} {
		req, err := http.NewRequest(tc.method, "http://docker"+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Errorf("%s %s %.40q: %v", tc.method, tc.path, tc.body, err)
			continue
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var msg struct{ Message string }
		json.Unmarshal(data, &msg)
		if resp.StatusCode != 400 || msg.Message == "" || strings.Contains(msg.Message, "\n") {
			t.Errorf("%s %s %.60q: %d %.200s, want 400 and a one-line message", tc.method, tc.path, tc.body, resp.StatusCode, data)
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("the malformed requests changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
