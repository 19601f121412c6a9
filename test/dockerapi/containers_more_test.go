package dockerapi

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
)

// names is a ps's output of names, sorted.
func names(out string) string {
	f := strings.Fields(out)
	sort.Strings(f)
	return strings.Join(f, " ")
}

// docker ps --filter selects what hull ps --filter selects, on the same roots.
func TestDockerPsFilters(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "create", "--name", "a", "--network", "none", "-l", "tier=web", "busybox", "true").Ok(t)
	s.Docker(t, "run", "-d", "--name", "b", "--network", "none", "-l", "tier=db", "busybox", "sleep", "300").Ok(t)
	s.Docker(t, "run", "-d", "--name", "c", "--network", "none", "busybox", "sh", "-c", "exit 3").Ok(t)
	s.Docker(t, "wait", "c").Ok(t)
	s.Docker(t, "create", "--name", "d", "busybox", "true").Ok(t) // the default network
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "b"},
		{[]string{"-a"}, "a b c d"},
		{[]string{"-a", "--filter", "label=tier"}, "a b"},
		{[]string{"-a", "--filter", "label=tier=db"}, "b"},
		{[]string{"-a", "--filter", "label=tier", "--filter", "label=tier=db"}, "b"}, // every label
		{[]string{"--filter", "status=exited"}, "c"},
		{[]string{"--filter", "status=created"}, "a d"},
		{[]string{"--filter", "exited=3"}, "c"},
		{[]string{"-a", "--filter", "name=^/?[ab]$"}, "a b"},
		{[]string{"-a", "--filter", "ancestor=busybox", "--filter", "label=tier=web"}, "a"},
		{[]string{"-a", "--filter", "network=none"}, "a b c"},
		{[]string{"-a", "--filter", "before=c"}, "a b"},
		{[]string{"-a", "--filter", "since=b"}, "c d"},
		{[]string{"-n", "2"}, "c d"},
	} {
		args := append([]string{"ps", "--format", "{{.Names}}"}, c.args...)
		if got := names(s.Docker(t, args...).Ok(t)); got != c.want {
			t.Errorf("docker ps %v: %q, want %q", c.args, got, c.want)
		}
		hargs := append([]string{"ps", "--format", "{{.Names}}"}, c.args...)
		if got := names(s.Hull(t, hargs...).Ok(t)); got != c.want {
			t.Errorf("hull ps %v: %q, want %q", c.args, got, c.want)
		}
	}
	// volume, publish, expose, on a container of their own.
	s.Docker(t, "run", "-d", "--name", "e", "-v", "vol1:/v", "-p", "127.0.0.1::80", "--expose", "7000/udp", "busybox", "sleep", "300").Ok(t)
	for _, f := range []string{"volume=vol1", "volume=/v", "publish=80", "publish=80/tcp", "expose=7000/udp", "is-task=false"} {
		if got := names(s.Docker(t, "ps", "--format", "{{.Names}}", "--filter", f, "--filter", "name=^/?[be]$").Ok(t)); got != "e" && f != "is-task=false" {
			t.Errorf("docker ps --filter %s: %q, want e", f, got)
		} else if f == "is-task=false" && got != "b e" {
			t.Errorf("docker ps --filter %s: %q, want b e", f, got)
		}
	}
	if got := names(s.Docker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", "publish=81").Ok(t)); got != "" {
		t.Errorf("docker ps --filter publish=81: %q", got)
	}
	s.Docker(t, "rm", "-f", "-v", "e").Ok(t)
	s.Hull(t, "volume", "rm", "vol1").Ok(t)
	id := strings.TrimSpace(s.Docker(t, "ps", "-q", "--no-trunc", "--filter", "name=b").Ok(t))
	if got := names(s.Docker(t, "ps", "--format", "{{.Names}}", "--filter", "id="+id[:8]).Ok(t)); got != "b" {
		t.Errorf("id filter: %q", got)
	}
	if out := s.Docker(t, "ps", "--format", "{{.Status}}|{{.Image}}|{{.Command}}|{{.Labels}}", "--filter", "name=b").Ok(t); !strings.HasPrefix(out, "Up ") ||
		!strings.Contains(out, "|busybox|\"sleep 300\"|tier=db") {
		t.Errorf("docker ps row: %q", out)
	}
	if msg := s.Docker(t, "ps", "--filter", "colour=red").Fails(t); !strings.Contains(msg, "colour") {
		t.Errorf("bad filter: %s", msg)
	}
	if code, body := raw(t, s, "GET", `/v1.50/containers/json?filters={"since":["nope"]}`, ""); code != http.StatusNotFound {
		t.Errorf("since=nope: %d %s", code, body)
	}
	// size=1: the writable layer's size.
	s.Hull(t, "exec", "b", "sh", "-c", "head -c 100000 /dev/zero > /big").Ok(t)
	var list []struct {
		Names  []string
		SizeRw int64
	}
	_, body := raw(t, s, "GET", `/v1.50/containers/json?size=1&filters={"name":["b"]}`, "")
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 1 || list[0].SizeRw < 100000 {
		t.Errorf("size=1: %s", body)
	}
}

// top, stats, rename and update, through the docker CLI.
func TestDockerTopStatsRenameUpdate(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "run", "-d", "--name", "w", "--network", "none", "-m", "64m", "busybox", "sleep", "300").Ok(t)
	top := s.Docker(t, "top", "w").Ok(t)
	if !strings.Contains(top, "PID") || !strings.Contains(top, "sleep 300") {
		t.Errorf("docker top:\n%s", top)
	}
	if top := s.Docker(t, "top", "w", "-o", "pid,comm").Ok(t); !strings.Contains(top, "COMMAND") || !strings.Contains(top, "sleep") || strings.Contains(top, "sleep 300") {
		t.Errorf("docker top -o pid,comm:\n%s", top)
	}
	var topJSON struct {
		Titles    []string
		Processes [][]string
	}
	_, body := raw(t, s, "GET", "/v1.50/containers/w/top?ps_args=-ef", "")
	if err := json.Unmarshal([]byte(body), &topJSON); err != nil || len(topJSON.Processes) != 1 || len(topJSON.Processes[0]) != len(topJSON.Titles) ||
		topJSON.Processes[0][len(topJSON.Titles)-1] != "sleep 300" {
		t.Errorf("top: %s", body)
	}
	stats := s.Docker(t, "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "w").Ok(t)
	if f := strings.Fields(stats); len(f) < 5 || f[0] != "w" || f[3] != "64MiB" || f[4] != "1" {
		t.Errorf("docker stats --no-stream: %q", stats)
	}
	var st struct {
		Name     string
		Read     string
		CPUStats struct {
			SystemUsage uint64 `json:"system_cpu_usage"`
			OnlineCPUs  int    `json:"online_cpus"`
		} `json:"cpu_stats"`
		PreCPUStats struct {
			SystemUsage uint64 `json:"system_cpu_usage"`
		} `json:"precpu_stats"`
		MemoryStats struct{ Usage, Limit uint64 } `json:"memory_stats"`
		PidsStats   struct{ Current int }         `json:"pids_stats"`
	}
	_, body = raw(t, s, "GET", "/v1.50/containers/w/stats?stream=false", "")
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Name != "/w" || st.CPUStats.OnlineCPUs == 0 ||
		st.CPUStats.SystemUsage <= st.PreCPUStats.SystemUsage || st.PreCPUStats.SystemUsage == 0 || st.MemoryStats.Limit != 64<<20 || st.PidsStats.Current != 1 {
		t.Errorf("stats stream=false: %s", body)
	}
	st.PreCPUStats.SystemUsage = 0
	_, body = raw(t, s, "GET", "/v1.50/containers/w/stats?stream=false&one-shot=true", "")
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.PreCPUStats.SystemUsage != 0 || st.CPUStats.SystemUsage == 0 {
		t.Errorf("stats one-shot: %s", body)
	}
	// The stream: a sample a second, each with the one before as precpu.
	resp, err := s.Client().Get("http://docker/v1.50/containers/w/stats")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(resp.Body)
	var first, second struct {
		Read    time.Time
		PreRead time.Time
	}
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil || !second.PreRead.Equal(first.Read) || second.Read.Sub(first.Read) < 900*time.Millisecond {
		t.Errorf("stats stream: %+v then %+v, %v", first, second, err)
	}
	resp.Body.Close()
	if code, _ := raw(t, s, "GET", "/v1.50/containers/w/stats?one-shot=true", ""); code != http.StatusBadRequest {
		t.Errorf("stats stream and one-shot: %d", code)
	}

	s.Docker(t, "update", "--memory", "128m", "--memory-swap", "256m", "--restart", "always", "w").Ok(t)
	if got := inspectField(t, s, "w", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}"); got != "134217728 always" {
		t.Errorf("after docker update: %s", got)
	}
	if stats := s.Docker(t, "stats", "--no-stream", "--format", "{{.MemUsage}}", "w").Ok(t); !strings.Contains(stats, "/ 128MiB") {
		t.Errorf("the new limit in stats: %q", stats)
	}
	if msg := s.Docker(t, "update", "--memory", "1k", "w").Fails(t); !strings.Contains(msg, "Memory") {
		t.Errorf("update --memory 1k: %s", msg)
	}
	s.Docker(t, "rename", "w", "w2").Ok(t)
	if out := s.Hull(t, "ps", "--format", "{{.Names}}").Ok(t); strings.TrimSpace(out) != "w2" {
		t.Errorf("hull ps after docker rename: %q", out)
	}
	s.Docker(t, "create", "--name", "other", "--network", "none", "busybox", "true").Ok(t)
	if code, _ := raw(t, s, "POST", "/v1.50/containers/w2/rename?name=other", ""); code != http.StatusConflict {
		t.Errorf("rename to a name in use: %d, want 409", code)
	}
	if code, _ := raw(t, s, "POST", "/v1.50/containers/w2/rename?name=a/b", ""); code != http.StatusBadRequest {
		t.Errorf("rename to a bad name: %d, want 400", code)
	}
	s.Docker(t, "stop", "-t", "0", "w2").Ok(t)
	if code, body := raw(t, s, "GET", "/v1.50/containers/w2/top", ""); code != http.StatusConflict {
		t.Errorf("top of a stopped container: %d %s, want 409", code, body)
	}
	// A stopped container's stats: docker's empty sample.
	if out := s.Docker(t, "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "w2").Ok(t); !strings.HasPrefix(out, "w2 0B / 0B") {
		t.Errorf("stats of a stopped container: %q", out)
	}
}

// docker cp both ways, docker diff, docker export and docker commit.
func TestDockerFiles(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "run", "-d", "--name", "f", "--network", "none", "busybox", "sh", "-c", "echo hi > /made; rm /bin/ls; sleep 300").Ok(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in.txt"), []byte("to the container\n"), 0o644)
	os.MkdirAll(filepath.Join(host, "dir/sub"), 0o755)
	os.WriteFile(filepath.Join(host, "dir/sub/x"), []byte("x\n"), 0o644)
	s.Docker(t, "cp", filepath.Join(host, "in.txt"), "f:/tmp/").Ok(t)
	s.Docker(t, "cp", filepath.Join(host, "dir"), "f:/tmp/dir").Ok(t)
	if out := s.Hull(t, "exec", "f", "cat", "/tmp/in.txt", "/tmp/dir/sub/x").Ok(t); out != "to the container\nx\n" {
		t.Errorf("after docker cp to the container: %q", out)
	}
	s.Docker(t, "cp", "f:/made", filepath.Join(host, "made")).Ok(t)
	s.Docker(t, "cp", "f:/tmp/dir", filepath.Join(host, "back")).Ok(t)
	if data, _ := os.ReadFile(filepath.Join(host, "made")); string(data) != "hi\n" {
		t.Errorf("docker cp from the container: %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "back/sub/x")); string(data) != "x\n" {
		t.Errorf("docker cp of a directory from the container: %q", data)
	}
	if msg := s.Docker(t, "cp", "f:/nope", host).Fails(t); !strings.Contains(msg, "Could not find the file /nope") {
		t.Errorf("docker cp of a missing path: %s", msg)
	}
	// HEAD: the path's stat in docker's header.
	req, _ := http.NewRequest("HEAD", "http://docker/v1.50/containers/f/archive?path=/bin/sh", nil)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var ps struct {
		Name       string
		Mode       os.FileMode
		LinkTarget string
	}
	hdr, _ := base64.StdEncoding.DecodeString(resp.Header.Get("X-Docker-Container-Path-Stat"))
	if err := json.Unmarshal(hdr, &ps); err != nil || resp.StatusCode != 200 || ps.Name != "sh" || ps.Mode&os.ModeSymlink == 0 && !ps.Mode.IsRegular() {
		t.Errorf("HEAD archive: %d %s", resp.StatusCode, hdr)
	}
	// A hostile upload: names that climb out, absolute names, a symlink out
	// then a write through it. Nothing lands outside the container.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "../../../../../../../" + strings.TrimPrefix(host, "/") + "/escaped", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg},
		{Name: "link", Linkname: host, Typeflag: tar.TypeSymlink},
		{Name: "link/through", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg},
	} {
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	req, _ = http.NewRequest("PUT", "http://docker/v1.50/containers/f/archive?path=/tmp", &buf)
	req.Header.Set("Content-Type", "application/x-tar")
	if resp, err := s.Client().Do(req); err == nil {
		resp.Body.Close()
	}
	for _, f := range []string{"escaped", "through"} {
		if _, err := os.Stat(filepath.Join(host, f)); err == nil {
			t.Errorf("the upload wrote %s outside the container", f)
		}
	}
	if code, _ := raw(t, s, "PUT", "/v1.50/containers/f/archive?path=/made", "x"); code != http.StatusBadRequest {
		t.Errorf("PUT into a file: %d, want 400", code)
	}

	diff := s.Docker(t, "diff", "f").Ok(t)
	if strings.Contains(diff, "/etc") {
		t.Errorf("docker diff shows the runtime's mount points in /etc:\n%s", diff)
	}
	for _, want := range []string{"A /made", "C /tmp", "A /tmp/in.txt", "D /bin/ls", "C /bin"} {
		if !strings.Contains(diff+"\n", want+"\n") {
			t.Errorf("docker diff lacks %q:\n%s", want, diff)
		}
	}
	tarFile := filepath.Join(host, "f.tar")
	s.Docker(t, "export", "-o", tarFile, "f").Ok(t)
	list, err := exec.Command("tar", "-tf", tarFile).Output()
	if err != nil || !strings.Contains(string(list), "made\n") || !strings.Contains(string(list), "bin/busybox\n") {
		t.Errorf("docker export: %v %.300s", err, list)
	}
	id := strings.TrimSpace(s.Docker(t, "commit", "-m", "a change", "f", "committed:v1").Ok(t))
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("docker commit printed %q", id)
	}
	if out := s.Hull(t, "run", "--rm", "--network", "none", "committed:v1", "cat", "/made").Ok(t); out != "hi\n" {
		t.Errorf("a container of the committed image: %q", out)
	}
	s.Docker(t, "commit", "-c", `CMD ["sh", "-c", "echo $X; cat /made"]`, "-c", "ENV X=changed", "f", "committed:v2").Ok(t)
	if out := s.Hull(t, "run", "--rm", "--network", "none", "committed:v2").Ok(t); out != "changed\nhi\n" {
		t.Errorf("a container of the image committed with changes: %q", out)
	}
	if msg := s.Docker(t, "commit", "-c", "FROB x", "f", "committed:v3").Fails(t); !strings.Contains(msg, "FROB") {
		t.Errorf("commit with a bad change: %s", msg)
	}
}

// container prune: the stopped ones that pass the filters; and rm -f.
func TestDockerContainerPrune(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "create", "--name", "keep", "--network", "none", "-l", "keep=1", "busybox", "true").Ok(t)
	s.Docker(t, "create", "--name", "drop", "--network", "none", "busybox", "true").Ok(t)
	s.Docker(t, "run", "-d", "--name", "up", "--network", "none", "busybox", "sleep", "300").Ok(t)
	out := s.Docker(t, "container", "prune", "-f", "--filter", "label!=keep").Ok(t)
	if !strings.Contains(out, "Deleted Containers:") {
		t.Errorf("docker container prune: %s", out)
	}
	if got := names(s.Hull(t, "ps", "-a", "--format", "{{.Names}}").Ok(t)); got != "keep up" {
		t.Errorf("after prune: %q", got)
	}
	if code, body := raw(t, s, "POST", `/v1.50/containers/prune?filters={"until":["24h"]}`, ""); code != 200 || !strings.Contains(body, `"ContainersDeleted":[]`) {
		t.Errorf("prune until=24h (nothing that old): %d %s", code, body)
	}
	if code, _ := raw(t, s, "POST", `/v1.50/containers/prune?filters={"colour":["red"]}`, ""); code != http.StatusBadRequest {
		t.Errorf("prune with a bad filter: %d", code)
	}
	s.Docker(t, "rm", "-f", "up", "keep").Ok(t)
	if out := s.Hull(t, "ps", "-aq").Ok(t); strings.TrimSpace(out) != "" {
		t.Errorf("left: %q", out)
	}
}

// docker-py: containers.run(detach=True), wait, stop, remove, and the list.
func TestDockerPyContainers(t *testing.T) {
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		t.Skip("docker-py (python3 -c 'import docker') is not installed")
	}
	s := dockertest.Start(t, dockertest.Options{})
	script := `
import docker, json, sys
c = docker.DockerClient(base_url=sys.argv[1])
quick = c.containers.run("busybox", ["sh", "-c", "exit 4"], detach=True, network_mode="none", name="quick")
res = quick.wait(timeout=30)
svc = c.containers.run("busybox", ["sleep", "300"], detach=True, network_mode="none", labels={"app": "py"}, name="svc")
svc.reload()
listed = [x.name for x in c.containers.list(filters={"label": "app=py"})]
status = svc.status
svc.stop(timeout=1)
svc.reload()
stopped = svc.status
svc.remove()
quick.remove(v=True)
print(json.dumps({"wait": res, "listed": listed, "status": status, "stopped": stopped, "left": [x.name for x in c.containers.list(all=True)]}))
`
	out, err := exec.Command("python3", "-c", script, s.Host).CombinedOutput()
	if err != nil {
		t.Fatalf("docker-py: %v\n%s", err, out)
	}
	var got struct {
		Wait            struct{ StatusCode int }
		Listed, Left    []string
		Status, Stopped string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Wait.StatusCode != 4 || len(got.Listed) != 1 || got.Listed[0] != "svc" || got.Status != "running" || got.Stopped != "exited" || len(got.Left) != 0 {
		t.Errorf("docker-py: %s", out)
	}
}

// docker cp - takes a compressed tar, as docker's daemon does: the CLI sends
// stdin as it is, and Testcontainers sends its files gzipped, with no entry
// for their parent directories.
func TestDockerCpCompressed(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "create", "--name", "f", "--network", "none", "busybox", "true").Ok(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "conf/sub/file", Mode: 0o640, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi\n"))
	tw.Close()
	zw.Close()
	cmd := exec.Command(dockertest.DockerBin(t), "cp", "-", "f:/tmp")
	cmd.Env = dockertest.DockerEnviron(s.Host, s.DockerConfig)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker cp - of a gzipped tar: %v\n%s", err, out)
	}
	host := t.TempDir()
	s.Docker(t, "cp", "f:/tmp/conf/sub/file", host).Ok(t)
	if data, err := os.ReadFile(filepath.Join(host, "file")); err != nil || string(data) != "hi\n" {
		t.Errorf("the file copied in: %q %v", data, err)
	}
}

// docker cp sees a container's volumes and binds, as docker's does, whether
// the container runs or not; a read-only bind takes no copy, and a
// --read-only container's volume does.
func TestDockerCpVolumes(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	host := t.TempDir()
	bind := filepath.Join(host, "bind")
	os.Mkdir(bind, 0o755)
	os.WriteFile(filepath.Join(bind, "b.txt"), []byte("from the bind\n"), 0o644)
	os.WriteFile(filepath.Join(host, "in.txt"), []byte("copied in\n"), 0o644)
	// A stopped container: what it left in its volume.
	s.Docker(t, "run", "-d", "--name", "w", "--network", "none", "-v", "data:/data", "busybox", "sh", "-c", "echo in the volume > /data/v.txt").Ok(t)
	s.Docker(t, "wait", "w").Ok(t)
	s.Docker(t, "cp", "w:/data/v.txt", filepath.Join(host, "v.txt")).Ok(t)
	if b, _ := os.ReadFile(filepath.Join(host, "v.txt")); string(b) != "in the volume\n" {
		t.Errorf("docker cp from a stopped container's volume: %q", b)
	}
	// A running one: into its volume, out of its bind, not into a read-only bind.
	s.Docker(t, "run", "-d", "--name", "r", "--network", "none", "-v", "data:/data", "-v", bind+":/bind:ro", "busybox", "sleep", "300").Ok(t)
	s.Docker(t, "cp", filepath.Join(host, "in.txt"), "r:/data/").Ok(t)
	if out := s.Hull(t, "exec", "r", "cat", "/data/in.txt", "/data/v.txt").Ok(t); out != "copied in\nin the volume\n" {
		t.Errorf("after docker cp into the running container's volume: %q", out)
	}
	s.Docker(t, "cp", "r:/bind/b.txt", filepath.Join(host, "b-back.txt")).Ok(t)
	if b, _ := os.ReadFile(filepath.Join(host, "b-back.txt")); string(b) != "from the bind\n" {
		t.Errorf("docker cp from a bind: %q", b)
	}
	if msg := s.Docker(t, "cp", filepath.Join(host, "in.txt"), "r:/bind/").Fails(t); !strings.Contains(msg, "mounted volume is marked read-only") {
		t.Errorf("docker cp into a read-only bind: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(bind, "in.txt")); err == nil {
		t.Error("docker cp wrote into a read-only bind")
	}
	if code, _ := raw(t, s, "PUT", "/v1.50/containers/r/archive?path=/bind", ""); code != http.StatusForbidden {
		t.Errorf("PUT archive into a read-only bind: %d, want 403", code)
	}
	// A --read-only container: its volume takes the copy, its rootfs does not.
	s.Docker(t, "run", "-d", "--name", "ro", "--read-only", "--network", "none", "-v", "data:/data", "busybox", "sleep", "300").Ok(t)
	s.Docker(t, "cp", filepath.Join(host, "b-back.txt"), "ro:/data/").Ok(t)
	if out := s.Hull(t, "exec", "ro", "cat", "/data/b-back.txt").Ok(t); out != "from the bind\n" {
		t.Errorf("after docker cp into a --read-only container's volume: %q", out)
	}
	if msg := s.Docker(t, "cp", filepath.Join(host, "in.txt"), "ro:/tmp/").Fails(t); !strings.Contains(msg, "container rootfs is marked read-only") {
		t.Errorf("docker cp into a --read-only container's rootfs: %s", msg)
	}
	s.Docker(t, "rm", "-f", "r", "w", "ro").Ok(t)
	s.Hull(t, "volume", "rm", "data").Ok(t)
}
