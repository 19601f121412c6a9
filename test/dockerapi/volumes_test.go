package dockerapi

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/moby/moby/client"
)

// requestJSON sends a raw request with a JSON body (none if body is empty) and
// returns the status and the body without its final newline.
func requestJSON(t *testing.T, s *dockertest.Service, method, path, body string) (int, string) {
	t.Helper()
	var header []string
	if body != "" {
		header = []string{"Content-Type", "application/json"}
	}
	code, b := request(t, s, method, path, strings.NewReader(body), header...)
	return code, strings.TrimSpace(b)
}

// words is a command's output split at white space (a list of names, one a line).
func words(out string) []string { return strings.Fields(out) }

// docker volume create/ls/inspect/rm/prune against hull, compared with hull's
// own CLI on the same roots.
func TestDockerVolumes(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	if out := s.Docker(t, "volume", "create", "--label", "app=db", "data").Ok(t); strings.TrimSpace(out) != "data" {
		t.Fatalf("docker volume create: %q", out)
	}
	// An existing name returns the volume as it is, as docker does.
	s.Docker(t, "volume", "create", "--label", "app=other", "data").Ok(t)
	if out := s.Docker(t, "volume", "inspect", "--format", "{{.Labels.app}} {{.Driver}} {{.Scope}}", "data").Ok(t); strings.TrimSpace(out) != "db local local" {
		t.Errorf("docker volume inspect data: %q", out)
	}
	s.Docker(t, "volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=1m", "tmpv").Ok(t)
	var opts map[string]string
	if err := json.Unmarshal([]byte(s.Docker(t, "volume", "inspect", "--format", "{{json .Options}}", "tmpv").Ok(t)), &opts); err != nil ||
		!reflect.DeepEqual(opts, map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}) {
		t.Errorf("tmpv options %v (%v)", opts, err)
	}
	// docker's inspect is hull's.
	var d, h []map[string]any
	json.Unmarshal([]byte(s.Docker(t, "volume", "inspect", "data", "tmpv").Ok(t)), &d)
	json.Unmarshal([]byte(s.Hull(t, "volume", "inspect", "data", "tmpv").Ok(t)), &h)
	if len(d) != 2 || !reflect.DeepEqual(d, h) {
		t.Errorf("docker volume inspect %v\nhull volume inspect %v", d, h)
	}

	// Refusals, as docker's.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--driver", "nfsplugin", "x"}, `plugin "nfsplugin" not found`},
		{[]string{"--opt", "bogus=1", "x"}, `invalid option: "bogus"`},
		{[]string{"--opt", "type=tmpfs", "x"}, `missing required option: "device"`},
		{[]string{"bad:name"}, `invalid volume name "bad:name"`},
	} {
		if stderr := s.Docker(t, append([]string{"volume", "create"}, c.args...)...).Fails(t); !strings.Contains(stderr, c.want) {
			t.Errorf("docker volume create %v: %s, want %q", c.args, stderr, c.want)
		}
	}
	if out := s.Docker(t, "volume", "ls", "-q").Ok(t); !reflect.DeepEqual(words(out), []string{"data", "tmpv"}) {
		t.Errorf("refused creates left volumes: %q", out)
	}

	// The tmpfs volume is a tmpfs in the container; a bind volume is its
	// device, seen from the host.
	if out := s.Hull(t, "run", "--rm", "--network", "none", "-v", "tmpv:/v", "busybox", "grep", " /v ", "/proc/mounts").Ok(t); !strings.HasPrefix(out, "tmpfs /v tmpfs rw") || !strings.Contains(out, "size=1024k") {
		t.Errorf("the tmpfs volume in a container: %q", out)
	}
	host := t.TempDir()
	s.Docker(t, "volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device="+host, "bound").Ok(t)
	s.Hull(t, "run", "--rm", "--network", "none", "-v", "bound:/v", "busybox", "sh", "-c", "echo hi > /v/f").Ok(t)
	if data, err := os.ReadFile(filepath.Join(host, "f")); err != nil || string(data) != "hi\n" {
		t.Errorf("the bind volume's device: %q %v", data, err)
	}

	// Filters, as hull volume ls --filter reads them.
	s.Hull(t, "create", "--name", "user", "--network", "none", "-v", "data:/data", "busybox", "true").Ok(t)
	for _, f := range [][]string{
		{"label=app=db"}, {"label=app"}, {"label!=app"}, {"name=tmp"}, {"name=^data$"}, {"driver=local"},
		{"dangling=true"}, {"dangling=false"}, {"dangling=true", "label=app"},
	} {
		var args []string
		for _, v := range f {
			args = append(args, "--filter", v)
		}
		dout := s.Docker(t, append([]string{"volume", "ls", "-q"}, args...)...).Ok(t)
		hout := s.Hull(t, append([]string{"volume", "ls", "-q"}, args...)...).Ok(t)
		if dout != hout {
			t.Errorf("volume ls %v: docker %q, hull %q", f, dout, hout)
		}
	}
	if out := s.Docker(t, "volume", "ls", "-q", "--filter", "dangling=false").Ok(t); strings.TrimSpace(out) != "data" {
		t.Errorf("dangling=false: %q", out)
	}
	if stderr := s.Docker(t, "volume", "ls", "--filter", "until=1h").Fails(t); !strings.Contains(stderr, "invalid filter 'until'") {
		t.Errorf("volume ls --filter until: %s", stderr)
	}

	// In use: refused, force or not; a missing one is no error with -f.
	if stderr := s.Docker(t, "volume", "rm", "data").Fails(t); !strings.Contains(stderr, "volume is in use") {
		t.Errorf("docker volume rm of a volume in use: %s", stderr)
	}
	s.Docker(t, "volume", "rm", "-f", "data").Fails(t)
	s.Docker(t, "volume", "rm", "-f", "nosuch").Ok(t)
	if stderr := s.Docker(t, "volume", "rm", "nosuch").Fails(t); !strings.Contains(stderr, "no such volume") {
		t.Errorf("docker volume rm nosuch: %s", stderr)
	}

	// Prune: anonymous unused volumes only, then with --all the named ones.
	s.Hull(t, "run", "--name", "anon", "--network", "none", "-v", "/scratch", "busybox", "true").Ok(t)
	anon := strings.TrimSpace(s.Hull(t, "inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", "anon").Ok(t))
	s.Hull(t, "rm", "anon").Ok(t)
	out := s.Docker(t, "volume", "prune", "-f").Ok(t)
	if !strings.Contains(out, anon) || strings.Contains(out, "tmpv") || strings.Contains(out, "data") {
		t.Errorf("docker volume prune -f: %q (anonymous %s)", out, anon)
	}
	out = s.Docker(t, "volume", "prune", "-f", "--all", "--filter", "label!=app").Ok(t)
	if !strings.Contains(out, "tmpv") || !strings.Contains(out, "bound") || strings.Contains(out, "data") {
		t.Errorf("docker volume prune -f --all: %q", out)
	}
	if out := s.Hull(t, "volume", "ls", "-q").Ok(t); strings.TrimSpace(out) != "data" {
		t.Errorf("after the prunes: %q", out)
	}
	if _, err := os.Stat(host); err != nil {
		t.Errorf("the prune of a bind volume removed its device: %v", err)
	}
	s.Hull(t, "rm", "user").Ok(t)
	s.Docker(t, "volume", "rm", "data").Ok(t)
	if out := s.Hull(t, "volume", "ls", "-q").Ok(t); out != "" {
		t.Errorf("left: %q", out)
	}
}

// Status codes and bodies of the volume endpoints, as docker's daemon answers.
func TestVolumeStatus(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	code, body := requestJSON(t, s, "POST", "/v1.50/volumes/create", `{"Name":"v1","Labels":{"a":"b"}}`)
	var v struct {
		Name, Driver, Mountpoint, CreatedAt, Scope string
		Labels, Options                            map[string]string
	}
	if err := json.Unmarshal([]byte(body), &v); code != 201 || err != nil || v.Name != "v1" || v.Driver != "local" ||
		v.Scope != "local" || v.Labels["a"] != "b" || v.Mountpoint != filepath.Join(s.Root, "volumes", "v1", "_data") {
		t.Errorf("create: %d %s", code, body)
	}
	// An empty name is a new volume with a random one.
	if code, body := requestJSON(t, s, "POST", "/volumes/create", `{}`); code != 201 || !strings.Contains(body, `"Driver":"local"`) {
		t.Errorf("create without a name: %d %s", code, body)
	}
	for _, c := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"POST", "/volumes/create", `{"Name":"a/b"}`, 400, `invalid volume name "a/b": it contains /`},
		{"POST", "/volumes/create", `{"Name":`, 400, "invalid JSON"},
		{"POST", "/volumes/create", `{"Name":"x","Driver":"zfs"}`, 404, `error looking up volume plugin zfs: plugin "zfs" not found`},
		{"POST", "/volumes/create", `{"Name":"x","ClusterVolumeSpec":{}}`, 503, "This node is not a swarm manager"},
		{"GET", "/volumes/nosuch", "", 404, "no such volume"},
		{"GET", "/volumes/..", "", 404, "no such volume"},
		{"DELETE", "/volumes/nosuch", "", 404, "no such volume"},
		{"PUT", "/volumes/v1?version=1", `{}`, 503, "volume update only valid for cluster volumes, but swarm is unavailable"},
		{"GET", "/volumes?filters=" + `{"bogus":{"x":true}}`, "", 400, "invalid filter 'bogus'"},
		{"GET", "/volumes?filters=" + `{"dangling":{"maybe":true}}`, "", 400, "not a boolean"},
		{"POST", "/volumes/prune?filters=" + `{"dangling":{"true":true}}`, "", 400, "invalid filter 'dangling'"},
	} {
		code, body := requestJSON(t, s, c.method, c.path, c.body)
		var e struct{ Message string }
		json.Unmarshal([]byte(body), &e)
		if code != c.code || !strings.Contains(e.Message, c.msg) || strings.Contains(e.Message, "\n") {
			t.Errorf("%s %s %s: %d %s, want %d %q", c.method, c.path, c.body, code, body, c.code, c.msg)
		}
	}
	if code, body := requestJSON(t, s, "DELETE", "/volumes/nosuch?force=1", ""); code != 204 || body != "" {
		t.Errorf("delete -f of a missing volume: %d %s", code, body)
	}
	// An empty list is [], and Warnings null, as docker's.
	requestJSON(t, s, "POST", "/volumes/prune?filters="+`{"all":{"true":true}}`, "")
	if code, body := requestJSON(t, s, "GET", "/volumes", ""); code != 200 || body != `{"Volumes":[],"Warnings":null}` {
		t.Errorf("empty list: %d %s", code, body)
	}
	// Before API 1.42 prune removes named volumes too.
	s.Hull(t, "volume", "create", "named").Ok(t)
	if code, body := requestJSON(t, s, "POST", "/v1.50/volumes/prune", ""); code != 200 || strings.Contains(body, "named") {
		t.Errorf("prune 1.50: %d %s", code, body)
	}
	if code, body := requestJSON(t, s, "POST", "/v1.41/volumes/prune", ""); code != 200 || !strings.Contains(body, `"VolumesDeleted":["named"]`) {
		t.Errorf("prune 1.41: %d %s", code, body)
	}
}

// The official Go client reads hull's answers into its types.
func TestVolumeGoClient(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	c, err := client.New(client.WithHost(s.Host), client.WithAPIVersion("1.50"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	cr, err := c.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "gv", Labels: map[string]string{"k": "v"},
		DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.VolumeInspect(ctx, "gv", client.VolumeInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cr.Volume, in.Volume) || in.Volume.Labels["k"] != "v" || in.Volume.Options["type"] != "tmpfs" || in.Volume.CreatedAt == "" {
		t.Errorf("create %+v\ninspect %+v", cr.Volume, in.Volume)
	}
	l, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: client.Filters{}.Add("label", "k=v")})
	if err != nil || len(l.Items) != 1 || !reflect.DeepEqual(l.Items[0], in.Volume) {
		t.Errorf("list: %+v %v", l, err)
	}
	p, err := c.VolumePrune(ctx, client.VolumePruneOptions{All: true})
	if err != nil || !reflect.DeepEqual(p.Report.VolumesDeleted, []string{"gv"}) {
		t.Errorf("prune: %+v %v", p, err)
	}
	if _, err := c.VolumeInspect(ctx, "gv", client.VolumeInspectOptions{}); err == nil || !strings.Contains(err.Error(), "no such volume") {
		t.Errorf("inspect after prune: %v", err)
	}
}

// docker-py's volumes API.
func TestDockerPyVolumes(t *testing.T) {
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		t.Skip("docker-py (python3 -c 'import docker') is not installed")
	}
	s := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	script := `
import docker, json, sys
c = docker.DockerClient(base_url=sys.argv[1])
v = c.volumes.create(name="pyv", driver="local", labels={"a": "1"}, driver_opts={"type": "tmpfs", "device": "tmpfs"})
c.volumes.create(name="pyw")
out = {"created": v.attrs, "got": c.volumes.get("pyv").attrs,
       "listed": sorted(x.name for x in c.volumes.list(filters={"label": "a=1"})),
       "all": sorted(x.name for x in c.volumes.list())}
c.volumes.get("pyw").remove()
out["pruned"] = c.volumes.prune(filters={"all": "true"})
try:
    c.volumes.get("pyv")
except docker.errors.NotFound as e:
    out["notfound"] = str(e.explanation)
print(json.dumps(out))
`
	out, err := exec.Command("python3", "-c", script, s.Host).CombinedOutput()
	if err != nil {
		t.Fatalf("docker-py: %v\n%s", err, out)
	}
	var got struct {
		Created, Got struct {
			Name    string
			Options map[string]string
			Labels  map[string]string
		}
		Listed, All []string
		Pruned      struct{ VolumesDeleted []string }
		NotFound    string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Created.Name != "pyv" || !reflect.DeepEqual(got.Created, got.Got) || got.Got.Options["type"] != "tmpfs" ||
		!reflect.DeepEqual(got.Listed, []string{"pyv"}) || !reflect.DeepEqual(got.All, []string{"pyv", "pyw"}) ||
		!reflect.DeepEqual(got.Pruned.VolumesDeleted, []string{"pyv"}) || !strings.Contains(got.NotFound, "no such volume") {
		t.Errorf("docker-py: %s", out)
	}
}
