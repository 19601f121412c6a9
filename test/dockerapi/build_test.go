package dockerapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// writeTree writes files (name → content) below dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tarOf is a tar of dir's files, as a client sends a build context.
func tarOf(t *testing.T, dir string, flags ...string) []byte {
	t.Helper()
	out, err := exec.Command("tar", append(append([]string{"c"}, flags...), "-f", "-", "-C", dir, ".")...).Output()
	if err != nil {
		t.Fatalf("tar: %v", err)
	}
	return out
}

// dockerStdin runs the docker CLI against s with stdin.
func dockerStdin(t *testing.T, s *dockertest.Service, stdin []byte, env []string, args ...string) dockertest.Result {
	t.Helper()
	cmd := exec.Command(dockertest.DockerBin(t), args...)
	cmd.Env = dockertest.DockerEnviron(s.Host, s.DockerConfig, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := dockertest.Result{Args: append([]string{"docker"}, args...), Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

var classic = []string{"DOCKER_BUILDKIT=0"}

// runBuilt runs an image through the docker CLI (docker run -d, docker wait)
// and returns the container's output as hull logs reads it.
func runBuilt(t *testing.T, s *dockertest.Service, args ...string) string {
	t.Helper()
	id := strings.TrimSpace(s.Docker(t, append([]string{"run", "-d", "--network", "none"}, args...)...).Ok(t))
	if code := strings.TrimSpace(s.Docker(t, "wait", id).Ok(t)); code != "0" {
		t.Errorf("docker run %v: exit %s", args, code)
	}
	out := s.Hull(t, "logs", id).Ok(t)
	s.Docker(t, "rm", id).Ok(t)
	return out
}

const buildDockerfile = `FROM busybox AS base
ARG V=default
RUN echo "v=$V" > /v && echo building v=$V
COPY f /f
LABEL from=dockerfile
CMD ["cat", "/v", "/f"]

FROM base AS extra
RUN echo extra > /extra
CMD ["cat", "/extra"]
`

// docker build, the classic builder's path: the steps, the image, tagged, that
// runs and lists on both doors; the flags that change what is built.
func TestDockerBuild(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": buildDockerfile, "f": "file\n",
		"sub/Alt.dockerfile": "FROM busybox\nCOPY f /alt\nCMD [\"cat\", \"/alt\"]\n"})

	out := s.DockerEnv(t, classic, "build", "-t", "x", "--target", "base", dir).Ok(t)
	for _, want := range []string{"Step 1/6 : FROM busybox AS base\n", "Step 3/6 : RUN echo \"v=$V\" > /v && echo building v=$V\n",
		"building v=default\n", "Step 6/6 : CMD [\"cat\", \"/v\", \"/f\"]\n", "Successfully tagged x:latest\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker build: no %q in:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`(?m)^Successfully built ([0-9a-f]{12})$`).FindStringSubmatch(out)
	id := hullImageID(t, s, "x")
	if m == nil || !strings.HasPrefix(id, "sha256:"+m[1]) {
		t.Fatalf("docker build: built %v, hull has x as %s:\n%s", m, id, out)
	}
	if strings.Contains(out, "extra") {
		t.Errorf("--target base built the extra stage:\n%s", out)
	}
	if got := runBuilt(t, s, "x"); got != "v=default\nfile\n" {
		t.Errorf("docker run x: %q", got)
	}
	if got := s.Docker(t, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "x").Ok(t); got != "x:latest "+m[1]+"\n" {
		t.Errorf("docker images x: %q", got)
	}
	if got := s.Hull(t, "images").Ok(t); !regexp.MustCompile(`(?m)^(docker\.io/library/)?x\s+latest\s+` + m[1]).MatchString(got) {
		t.Errorf("hull images:\n%s", got)
	}

	// Again: the cache, every step.
	out = s.DockerEnv(t, classic, "build", "-t", "x", "--target", "base", dir).Ok(t)
	if strings.Count(out, " ---> Using cache\n") < 2 || strings.Contains(out, "building v=default\n") || hullImageID(t, s, "x") != id {
		t.Errorf("docker build again:\n%s", out)
	}
	// --no-cache runs it, --build-arg changes it, --label labels it; the last
	// stage without --target.
	out = s.DockerEnv(t, classic, "build", "--no-cache", "--build-arg", "V=2", "--label", "k=v", "-t", "y:1", "-t", "y:2", dir).Ok(t)
	if strings.Contains(out, "Using cache") || !strings.Contains(out, "building v=2\n") ||
		!strings.Contains(out, "Successfully tagged y:1\n") || !strings.Contains(out, "Successfully tagged y:2\n") {
		t.Errorf("docker build --no-cache --build-arg:\n%s", out)
	}
	if got := runBuilt(t, s, "y:2"); got != "extra\n" {
		t.Errorf("docker run y:2: %q", got)
	}
	if got := s.Docker(t, "image", "inspect", "--format", "{{json .Config.Labels}}", "y:1").Ok(t); strings.TrimSpace(got) != `{"from":"dockerfile","k":"v"}` {
		t.Errorf("labels: %s", got)
	}
	// -f: a Dockerfile elsewhere in the context.
	s.DockerEnv(t, classic, "build", "-f", filepath.Join(dir, "sub/Alt.dockerfile"), "-t", "alt", dir).Ok(t)
	if got := runBuilt(t, s, "alt"); got != "file\n" {
		t.Errorf("docker run alt: %q", got)
	}
	// -f outside the context and -f - (the CLI adds the Dockerfile to the
	// context under a name of its own); --compress sends a gzip'd context.
	outside := filepath.Join(t.TempDir(), "Out.dockerfile")
	os.WriteFile(outside, []byte("FROM busybox\nCOPY f /out\nCMD [\"cat\", \"/out\"]\n"), 0o644)
	s.DockerEnv(t, classic, "build", "--compress", "-f", outside, "-t", "outside", dir).Ok(t)
	if got := runBuilt(t, s, "outside"); got != "file\n" {
		t.Errorf("docker build -f outside the context: %q", got)
	}
	r := dockerStdin(t, s, []byte("FROM busybox\nCOPY f /in\nCMD [\"cat\", \"/in\"]\n"), classic, "build", "-f", "-", "-t", "dfstdin", dir)
	if r.Code != 0 || runBuilt(t, s, "dfstdin") != "file\n" {
		t.Errorf("docker build -f - DIR: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// RUN's limits: docker build's --memory, --cpu-shares, --shm-size.
	writeTree(t, dir, map[string]string{"Limits.dockerfile": "FROM busybox\n" +
		"RUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares > /seen; grep ' /dev/shm ' /proc/mounts >> /seen\nCMD [\"cat\", \"/seen\"]\n"})
	s.DockerEnv(t, classic, "build", "-f", filepath.Join(dir, "Limits.dockerfile"), "--memory", "64m", "--cpu-shares", "512", "--shm-size", "1m", "-t", "limits", dir).Ok(t)
	if got := runBuilt(t, s, "limits"); !strings.HasPrefix(got, "67108864\n512\n") || !strings.Contains(got, "size=1024k") {
		t.Errorf("RUN's limits: %q", got)
	}
	// -q: the ID alone.
	out = s.DockerEnv(t, classic, "build", "-q", "-t", "x", "--target", "base", dir).Ok(t)
	if strings.TrimSpace(out) != id {
		t.Errorf("docker build -q: %q, want %s", out, id)
	}

	// Plain `docker build`: docker 28 without the buildx plugin falls back to
	// the classic builder, with its deprecation notice.
	r = s.Docker(t, "build", "-t", "plain", "--target", "base", dir)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Successfully tagged plain:latest") ||
		!strings.Contains(r.Stderr, "legacy builder is deprecated") {
		t.Errorf("docker build (no DOCKER_BUILDKIT): %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// DOCKER_BUILDKIT=1 asks for buildx, which is not there: the CLI says so.
	if e := s.DockerEnv(t, []string{"DOCKER_BUILDKIT=1"}, "build", dir).Fails(t); !strings.Contains(e, "buildx") {
		t.Errorf("DOCKER_BUILDKIT=1 docker build: %s", e)
	}

	// A context on stdin: a tar, compressed or not; a bare Dockerfile.
	r = dockerStdin(t, s, tarOf(t, dir), classic, "build", "-t", "fromtar", "--target", "base", "-")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Successfully tagged fromtar:latest") || hullImageID(t, s, "fromtar") != id {
		t.Errorf("docker build - < ctx.tar: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = dockerStdin(t, s, tarOf(t, dir, "-z"), classic, "build", "-t", "fromtgz", "-f", "sub/Alt.dockerfile", "-")
	if r.Code != 0 || runBuilt(t, s, "fromtgz") != "file\n" {
		t.Errorf("docker build -f - < ctx.tar.gz: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = dockerStdin(t, s, []byte("FROM busybox\nRUN echo hi > /hi\n"), classic, "build", "-t", "bare", "-")
	if r.Code != 0 || runBuilt(t, s, "bare", "cat", "/hi") != "hi\n" {
		t.Errorf("docker build - < Dockerfile: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	// Errors before the first step: the daemon's error response.
	if e := s.DockerEnv(t, classic, "build", "--target", "nope", dir).Fails(t); !strings.Contains(e, `target stage "nope" could not be found`) {
		t.Errorf("docker build --target nope: %s", e)
	}
	if e := s.DockerEnv(t, classic, "build", "--platform", "linux/s390x", dir).Fails(t); !strings.Contains(e, "hull builds for this host's platform only") {
		t.Errorf("docker build --platform linux/s390x: %s", e)
	}
	if e := s.DockerEnv(t, classic, "build", "--memory", "1k", dir).Fails(t); !strings.Contains(e, "minimum memory limit allowed is 6MB") {
		t.Errorf("docker build --memory 1k: %s", e)
	}
	if out := s.Hull(t, "ps", "-a", "-q").Ok(t); out != "" {
		t.Errorf("containers after the builds: %s", out)
	}
}

// A RUN that fails: docker build exits 1 with the step, the exit code and the
// command's output, and leaves no image, container or build state.
func TestDockerBuildFailingRun(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo before\nRUN echo oops >&2; exit 3\nRUN echo never\n"})
	// docker's CLI exits with the code of the stream's errorDetail: the RUN's.
	r := s.DockerEnv(t, classic, "build", "-t", "bad", dir)
	if r.Code != 3 || !strings.Contains(r.Stdout, "Step 3/4 : RUN echo oops >&2; exit 3\n") || !strings.Contains(r.Stdout, "oops\n") ||
		strings.Contains(r.Stdout, "Step 4/4") || !strings.Contains(r.Stderr, "exit code 3") {
		t.Errorf("docker build of a failing RUN: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if e := s.Docker(t, "image", "inspect", "bad").Fails(t); !strings.Contains(strings.ToLower(e), "no such image") {
		t.Errorf("image after a failed build: %s", e)
	}
	// The raw stream: the steps, then errorDetail with the exit code.
	code, body := request(t, s, "POST", "/v1.50/build?t=bad", bytes.NewReader(tarOf(t, dir)), "Content-Type", "application/x-tar")
	msgs := decodeStream(t, body)
	last := msgs[len(msgs)-1]
	if code != 200 || last.Error == nil || last.Error.Code != 3 || !strings.Contains(last.Error.Message, "step 3/4") {
		t.Errorf("raw failing build: %d %s", code, body)
	}
	checkNoBuildLeft(t, s)
}

// decodeStream reads docker's JSON message stream.
func decodeStream(t *testing.T, body string) []jsonstream.Message {
	t.Helper()
	var msgs []jsonstream.Message
	dec := json.NewDecoder(strings.NewReader(body))
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("stream: %v\n%s", err, body)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		t.Fatalf("an empty stream")
	}
	return msgs
}

// checkNoBuildLeft fails if a build left a container, a RUN bundle, an owner
// record, or a build snapshot.
func checkNoBuildLeft(t *testing.T, s *dockertest.Service) {
	t.Helper()
	if out := s.Hull(t, "ps", "-a", "-q").Ok(t); out != "" {
		t.Errorf("containers left: %s", out)
	}
	ents, _ := os.ReadDir(filepath.Join(s.State, "build"))
	for _, e := range ents {
		t.Errorf("left in the build state: %s", e.Name())
	}
	snaps, _ := filepath.Glob(filepath.Join(s.Root, "*", "build-*"))
	more, _ := filepath.Glob(filepath.Join(s.Root, "*", "*", "build-*"))
	for _, p := range append(snaps, more...) {
		t.Errorf("build snapshot left: %s", p)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, s.Root+"/") || strings.Contains(l, s.State+"/") {
			t.Errorf("mount left: %s", l)
		}
	}
}

// The endpoints themselves: the stream, what hull refuses and why, BuildKit's
// ways answered, the cache's prune.
func TestDockerBuildAPI(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo out\nENV A=1\n"})
	ctx := tarOf(t, dir)
	post := func(query string, body []byte) (int, string) {
		return request(t, s, "POST", "/v1.50/build"+query, bytes.NewReader(body), "Content-Type", "application/x-tar")
	}
	code, body := post("?t=api&networkmode=none&buildargs="+url.QueryEscape(`{"UNUSED":"1","NIL":null}`), ctx)
	msgs := decodeStream(t, body)
	var streamed string
	var aux string
	for _, m := range msgs {
		streamed += m.Stream
		if m.Aux != nil {
			var a struct{ ID string }
			json.Unmarshal(*m.Aux, &a)
			aux = a.ID
		}
	}
	if code != 200 || aux != hullImageID(t, s, "api") || !strings.HasPrefix(streamed, "Step 1/3 : FROM busybox\n") ||
		!strings.Contains(streamed, "\nout\n") || !strings.Contains(streamed, "[Warning] One or more build-args [UNUSED] were not consumed") ||
		!strings.HasSuffix(streamed, "Successfully tagged api:latest\n") {
		t.Errorf("POST /build: %d aux %q\n%s", code, aux, body)
	}
	// q=1: the ID only.
	_, body = post("?q=1", ctx)
	if msgs := decodeStream(t, body); len(msgs) != 2 || msgs[0].Aux == nil || !strings.Contains(string(*msgs[0].Aux), strings.TrimSpace(msgs[1].Stream)) {
		t.Errorf("q=1: %s", body)
	}
	for _, c := range []struct {
		query string
		code  int
		msg   string
	}{
		{"?version=2", 501, "BuildKit builds (version=2): hull serves docker's classic builder only"},
		{"?version=3", 400, `unsupported build version "3"`},
		{"?remote=" + url.QueryEscape("https://github.com/x/y.git"), 501, "remote build contexts (git repositories and URLs) are not supported"},
		{"?buildargs=nope", 400, "invalid buildargs"},
		{"?labels=" + url.QueryEscape(`["a"]`), 400, "invalid labels"},
		{"?memory=1024", 400, "memory: minimum memory limit allowed is 6MB"},
		{"?memswap=67108864", 400, "memory-swap: you should always set the memory limit"},
		{"?cpusetmems=0", 400, "cpusetmems: hull's builder does not set it on RUN"},
		{"?cpuquota=x", 400, `invalid value for cpuquota: "x"`},
		{"?cachefrom=" + url.QueryEscape(`["busybox"]`), 400, "cachefrom"},
		{"?networkmode=container:x", 400, `networkmode "container:x"`},
		{"?t=" + url.QueryEscape("Bad Tag"), 400, `invalid tag "Bad Tag"`},
		{"?outputs=" + url.QueryEscape(`[{"Type":"local"}]`), 400, `outputs: type "local" is not supported`},
		{"?extrahosts=nocolon", 400, `add-host "nocolon"`},
		{"?dockerfile=Nope", 400, "read dockerfile"},
		{"?target=nope", 400, `target stage "nope" could not be found`},
	} {
		code, body := post(c.query, ctx)
		var e struct{ Message string }
		json.Unmarshal([]byte(body), &e)
		if code != c.code || !strings.Contains(e.Message, c.msg) || strings.Contains(e.Message, "\n") {
			t.Errorf("POST /build%s: %d %s, want %d %q", c.query, code, body, c.code, c.msg)
		}
	}
	// A refusal of a large context's build: the client hears it, not a
	// broken pipe.
	big := t.TempDir()
	writeTree(t, big, map[string]string{"Dockerfile": "FROM busybox\n", "big": strings.Repeat("0123456789abcdef", 1<<20)})
	bigTar := tarOf(t, big)
	for i := 0; i < 3; i++ {
		if code, body := post("?version=3", bigTar); code != 400 || !strings.Contains(body, "unsupported build version") {
			t.Errorf("a refused build of a large context: %d %s", code, body)
		}
	}
	// a context that is no tar: refused when its gzip breaks, mid-body
	broken := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, bytes.Repeat([]byte("not deflate"), 1<<20)...)
	if code, body := post("", broken); code != 400 || !strings.Contains(body, "build context") {
		t.Errorf("a broken gzip context: %d %s", code, body)
	}
	if e := s.DockerEnv(t, classic, "build", "--memory", "1k", big).Fails(t); !strings.Contains(e, "minimum memory limit allowed is 6MB") {
		t.Errorf("docker build --memory 1k of a large context: %s", e)
	}
	if code, body := post("", []byte("FROM busybox\nNOPE x\n")); code != 400 || !strings.Contains(body, "unknown instruction: NOPE") {
		t.Errorf("a bad Dockerfile: %d %s", code, body)
	}
	if code, body := request(t, s, "POST", "/session", nil); code != 501 || !strings.Contains(body, "DOCKER_BUILDKIT=0") {
		t.Errorf("POST /session: %d %s", code, body)
	}
	// _ping tells clients to use the classic builder.
	resp, err := s.Client().Get("http://docker/_ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Builder-Version"); v != "1" {
		t.Errorf("_ping Builder-Version %q", v)
	}

	// The cache's prune: what it deleted, then nothing more; docker builder
	// prune says the same.
	code, body = request(t, s, "POST", "/v1.50/build/prune", nil)
	var rep struct {
		CachesDeleted  []string
		SpaceReclaimed uint64
	}
	// two builds (networkmode none, then docker's default bridge), one RUN
	// each; their images keep the layers
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 || len(rep.CachesDeleted) != 2 || rep.SpaceReclaimed != 0 {
		t.Errorf("POST /build/prune: %d %s", code, body)
	}
	code, body = request(t, s, "POST", "/v1.50/build/prune", nil)
	if code != 200 || strings.TrimSpace(body) != `{"CachesDeleted":[],"SpaceReclaimed":0}` {
		t.Errorf("POST /build/prune again: %d %s", code, body)
	}
	if code, body := request(t, s, "POST", "/v1.50/build/prune?reserved-space=1000", nil); code != 400 || !strings.Contains(body, "reserved-space") {
		t.Errorf("prune reserved-space: %d %s", code, body)
	}
	if code, body := request(t, s, "POST", "/v1.50/build/prune?filters="+url.QueryEscape(`{"id":["x"]}`), nil); code != 400 || !strings.Contains(body, `invalid filter \"id\"`) {
		t.Errorf("prune filters id: %d %s", code, body)
	}
	// With the image gone, a prune reclaims its layer.
	post("?t=api&nocache=1", ctx)
	s.Docker(t, "rmi", "api").Ok(t)
	out := s.Docker(t, "builder", "prune", "-f").Ok(t)
	if !regexp.MustCompile(`Total reclaimed space: [1-9]`).MatchString(out) {
		t.Errorf("docker builder prune -f:\n%s", out)
	}
	checkNoBuildLeft(t, s)
}

// startSleepingBuild starts a raw POST /build whose RUN sleeps, and returns
// once the RUN runs: the connection, the rest of the answer, and the glob of
// the RUN's cgroups.
func startSleepingBuild(t *testing.T, s *dockertest.Service, tag string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo started; sleep 60\n"})
	body := tarOf(t, dir)
	conn, err := net.Dial("unix", strings.TrimPrefix(s.Host, "unix://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest("POST", "http://docker/v1.50/build?t="+tag+"&networkmode=none", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-tar")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	deadline := time.Now().Add(30 * time.Second)
	for {
		line, err := br.ReadString('\n')
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("no RUN output: %v", err)
		}
		if strings.Contains(line, "started") {
			break
		}
	}
	// The RUN runs: its owner record names the build, its cgroup holds sleep.
	owners, _ := filepath.Glob(filepath.Join(s.State, "build", "owner-*"))
	if len(owners) != 1 {
		t.Fatalf("owner records: %v", owners)
	}
	cgroups := "/sys/fs/cgroup/pids/hull-build-" + strings.TrimPrefix(filepath.Base(owners[0]), "owner-") + "-*"
	for i := 0; ; i++ {
		procs, _ := filepath.Glob(cgroups + "/cgroup.procs")
		var pids []byte
		if len(procs) == 1 {
			pids, _ = os.ReadFile(procs[0])
		}
		if f := bytes.Fields(pids); len(f) > 0 {
			cmd, _ := os.ReadFile("/proc/" + string(f[len(f)-1]) + "/cmdline")
			if bytes.HasPrefix(cmd, []byte("sleep\x0060")) {
				break
			}
		}
		if i == 100 {
			t.Fatalf("the RUN is not running: %v %q", procs, pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return conn, br, cgroups
}

// A client that goes away mid-RUN cancels the build: the RUN is killed, and
// nothing of the build is left.
func TestDockerBuildDisconnect(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	conn, _, cgroups := startSleepingBuild(t, s, "gone")
	conn.Close()
	start := time.Now()
	for {
		ents, _ := os.ReadDir(filepath.Join(s.State, "build"))
		if len(ents) == 0 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the build still runs 20s after its client left: %v", ents)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the build took %v to stop", time.Since(start))
	}
	if e := s.Docker(t, "image", "inspect", "gone").Fails(t); !strings.Contains(strings.ToLower(e), "no such image") {
		t.Errorf("an image of the cancelled build: %s", e)
	}
	checkNoBuildLeft(t, s)
	if left, _ := filepath.Glob(cgroups); len(left) > 0 {
		t.Errorf("the RUN's cgroup is left: %v", left)
	}
	// The service still builds.
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo fine\n"})
	s.DockerEnv(t, classic, "build", "-t", "after", dir).Ok(t)
}

// A service told to stop mid-build cancels it: it exits 0 within its grace,
// and the build leaves nothing (dockertest's cleanup checks the mounts).
func TestDockerBuildServiceStop(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	conn, rest, cgroups := startSleepingBuild(t, s, "stopped")
	start := time.Now()
	if code, err := s.Stop(); err != nil || code != 0 {
		t.Fatalf("stop: %d %v\n%s", code, err, s.Stderr())
	}
	// The client is told why its build ended.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if tail, _ := io.ReadAll(rest); !bytes.Contains(tail, []byte("build cancelled: the service is stopping")) {
		t.Errorf("the client read at the stop: %q", tail)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the stop took %v: the build was not cancelled", d)
	}
	if left, _ := filepath.Glob(cgroups); len(left) > 0 {
		t.Errorf("the RUN's cgroup is left: %v", left)
	}
	ents, _ := os.ReadDir(filepath.Join(s.State, "build"))
	for _, e := range ents {
		t.Errorf("left in the build state: %s", e.Name())
	}
	if out := s.Hull(t, "images", "-q", "stopped").Ok(t); out != "" {
		t.Errorf("an image of the cancelled build: %s", out)
	}
}

// FROM an image the store lacks pulls it from its registry, with the
// credentials the CLI sends in X-Registry-Config (its docker config's).
func TestDockerBuildPull(t *testing.T) {
	reg := newAuthRegistry(t)
	host, authed, login := reg.host, &reg.authed, reg.login
	s := dockertest.Start(t, dockertest.Options{})
	login(s)
	s.Docker(t, "tag", "busybox", host+"/base:1").Ok(t)
	s.Docker(t, "push", host+"/base:1").Ok(t)

	s2 := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM " + host + "/base:1\nRUN echo pulled > /p\nCMD [\"cat\", \"/p\"]\n"})
	r := s2.DockerEnv(t, classic, "build", "-t", "pulled", dir)
	if r.Code == 0 || !strings.Contains(r.Stdout, "Step 1/3 : FROM "+host+"/base:1") || !strings.Contains(strings.ToLower(r.Stderr), "unauthorized") {
		t.Errorf("a build whose base needs credentials, without them: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	login(s2)
	s2.DockerEnv(t, classic, "build", "-t", "pulled", dir).Ok(t)
	if got := runBuilt(t, s2, "pulled"); got != "pulled\n" {
		t.Errorf("docker run pulled: %q", got)
	}
	if hullImageID(t, s2, host+"/base:1") != hullImageID(t, s, "busybox") {
		t.Errorf("the base pulled is not the image pushed")
	}
	// --pull asks the registry again.
	before := authed.Load()
	s2.DockerEnv(t, classic, "build", "--pull", "-t", "pulled", dir).Ok(t)
	if authed.Load() == before {
		t.Errorf("docker build --pull did not ask the registry")
	}
	if code, body := request(t, s2, "POST", "/build", bytes.NewReader(tarOf(t, dir)), "X-Registry-Config", "%%not base64"); code != 400 || !strings.Contains(body, "X-Registry-Config") {
		t.Errorf("bad X-Registry-Config: %d %s", code, body)
	}
}

// docker-py's images.build: the image and its log.
func TestDockerPyBuild(t *testing.T) {
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		t.Skip("docker-py (python3 -c 'import docker') is not installed")
	}
	s := dockertest.Start(t, dockertest.Options{})
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM busybox\nARG WHO=nobody\nRUN echo hello $WHO > /hello\nCMD [\"cat\", \"/hello\"]\n"})
	script := `
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
img, logs = c.images.build(path=sys.argv[2], tag="py:1", buildargs={"WHO": "py"}, network_mode="none")
logs = list(logs)
assert "py:1" in img.tags, img.tags
text = "".join(l.get("stream", "") for l in logs)
assert "Step 3/4 : RUN echo hello $WHO > /hello" in text, text
assert any("aux" in l and l["aux"]["ID"] == img.id for l in logs), logs
ctr = c.containers.run("py:1", ["sh", "-c", 'test "$(cat /hello)" = "hello py"'], detach=True, network_mode="none")
assert ctr.wait()["StatusCode"] == 0
ctr.remove()
open(sys.argv[2] + "/Dockerfile", "w").write("FROM busybox\nRUN echo bad; exit 7\n")
try:
    c.images.build(path=sys.argv[2], tag="py:bad")
    raise SystemExit("a failing build built")
except docker.errors.BuildError as e:
    assert "exit code 7" in str(e), str(e)
print(img.id)
`
	out, err := exec.Command("python3", "-c", script, s.Host, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("docker-py: %v\n%s", err, out)
	}
	if id := strings.TrimSpace(string(out)); id != hullImageID(t, s, "py:1") {
		t.Errorf("docker-py built %q", out)
	}
	checkNoBuildLeft(t, s)
}

// The Go client's ImageBuild and BuildCachePrune.
func TestGoClientImageBuild(t *testing.T) {
	ctx := context.Background()
	s := dockertest.Start(t, dockertest.Options{})
	c := imagesClient(t, s)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"Dockerfile": "FROM busybox\nCOPY a /a\nRUN cat /a\n", "a": "from go\n"})
	res, err := c.ImageBuild(ctx, bytes.NewReader(tarOf(t, dir)), client.ImageBuildOptions{
		Tags: []string{"go:1"}, Remove: true, NetworkMode: "none", Labels: map[string]string{"by": "go"}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var id string
	for _, m := range decodeStream(t, string(data)) {
		if m.Error != nil {
			t.Fatalf("build error: %s", m.Error.Message)
		}
		if m.Aux != nil {
			var a struct{ ID string }
			json.Unmarshal(*m.Aux, &a)
			id = a.ID
		}
	}
	in, err := c.ImageInspect(ctx, "go:1")
	if err != nil || in.ID != id || in.Config.Labels["by"] != "go" || !strings.Contains(string(data), `"from go\n"`) {
		t.Errorf("ImageBuild: %s, inspect %+v %v", data, in, err)
	}
	// version 2 is BuildKit's: the client sees the 501 as an error.
	if _, err := c.ImageBuild(ctx, bytes.NewReader(tarOf(t, dir)), client.ImageBuildOptions{Version: "2"}); err == nil ||
		!strings.Contains(err.Error(), "DOCKER_BUILDKIT=0") {
		t.Errorf("ImageBuild version 2: %v", err)
	}
	pr, err := c.BuildCachePrune(ctx, client.BuildCachePruneOptions{All: true})
	if err != nil || len(pr.Report.CachesDeleted) != 2 {
		t.Errorf("BuildCachePrune: %+v %v", pr, err)
	}
}
