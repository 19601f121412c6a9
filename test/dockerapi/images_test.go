package dockerapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/hullproject/hull/internal/testutil"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
)

// lines is out's non-empty lines.
func lines(out string) []string {
	var l []string
	for _, s := range strings.Split(out, "\n") {
		if s = strings.TrimSpace(s); s != "" {
			l = append(l, s)
		}
	}
	return l
}

// request sends a raw request to the service and returns its status and body.
func request(t *testing.T, s *dockertest.Service, method, path string, body io.Reader, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://docker"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// hullImageID is the full ID of ref as hull's CLI inspects it.
func hullImageID(t *testing.T, s *dockertest.Service, ref string) string {
	t.Helper()
	var in []struct{ Id string }
	if err := json.Unmarshal([]byte(s.Hull(t, "image", "inspect", ref).Ok(t)), &in); err != nil || len(in) != 1 {
		t.Fatalf("hull image inspect %s: %v", ref, err)
	}
	return in[0].Id
}

// A push to the reference registry and a pull from it on other roots, with
// docker's progress messages, and the pulled image the pushed one.
func TestDockerPushPull(t *testing.T) {
	reg := testutil.ReferenceRegistry(t)
	s := dockertest.Start(t, dockertest.Options{})
	ref := reg + "/bb:1"
	s.Docker(t, "tag", "busybox", ref).Ok(t)
	out := s.Docker(t, "push", ref).Ok(t)
	m := regexp.MustCompile(`(?m)^1: digest: (sha256:[0-9a-f]{64}) size: \d+$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "The push refers to repository ["+reg+"/bb]") || !strings.Contains(out, ": Pushed") {
		t.Fatalf("docker push:\n%s", out)
	}
	pushed := m[1]
	if out := s.Docker(t, "push", ref).Ok(t); !strings.Contains(out, ": Layer already exists") || strings.Contains(out, ": Pushed") {
		t.Errorf("docker push again:\n%s", out)
	}
	// Without a tag, docker's CLI pushes latest, which is not there.
	if e := s.Docker(t, "push", reg+"/bb").Fails(t); !strings.Contains(e, "An image does not exist locally with the tag: "+reg+"/bb") {
		t.Errorf("docker push of a missing tag: %s", e)
	}

	s2 := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	out = s2.Docker(t, "pull", ref).Ok(t)
	for _, want := range []string{"1: Pulling from bb", ": Pulling fs layer", ": Download complete", ": Pull complete",
		"Digest: " + pushed, "Status: Downloaded newer image for " + ref} {
		if !strings.Contains(out, want) {
			t.Errorf("docker pull: no %q in:\n%s", want, out)
		}
	}
	out = s2.Docker(t, "pull", ref).Ok(t)
	if !strings.Contains(out, "Status: Image is up to date for "+ref) || strings.Contains(out, "Pull complete") {
		t.Errorf("docker pull again:\n%s", out)
	}
	// The image pulled is the image pushed: its ID, its repo digest.
	if a, b := hullImageID(t, s, "busybox"), hullImageID(t, s2, ref); a != b {
		t.Errorf("pushed %s, pulled %s", a, b)
	}
	if got := s2.Docker(t, "image", "inspect", "--format", "{{json .RepoDigests}}", ref).Ok(t); strings.TrimSpace(got) != `["`+reg+`/bb@`+pushed+`"]` {
		t.Errorf("RepoDigests %s, pushed %s", got, pushed)
	}
	// The raw stream: docker's JSON messages, a layer's bytes counted.
	code, body := request(t, s2, "POST", "/v1.50/images/create?fromImage="+url.QueryEscape(reg+"/bb")+"&tag=1", nil)
	if code != 200 || !strings.Contains(body, `{"status":"Pulling from bb","id":"1"}`) {
		t.Errorf("raw pull: %d %s", code, body)
	}
	s2.Docker(t, "rmi", ref).Ok(t)
	_, body = request(t, s2, "POST", "/images/create?fromImage="+url.QueryEscape(reg+"/bb")+"&tag=1", nil)
	var msgs []struct {
		Status, ID     string
		ProgressDetail struct{ Current, Total int64 }
	}
	dec := json.NewDecoder(strings.NewReader(body))
	for dec.More() {
		var m struct {
			Status, ID     string
			ProgressDetail struct{ Current, Total int64 }
		}
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		msgs = append(msgs, m)
	}
	last := -1
	for i, m := range msgs {
		if m.Status == "Downloading" {
			last = i
		}
	}
	if last < 0 || msgs[last].ProgressDetail.Current != msgs[last].ProgressDetail.Total || msgs[last].ProgressDetail.Total == 0 {
		t.Errorf("no download counted to its end: %s", body)
	}

	// A missing image: 404 before any stream, docker's CLI says so.
	if e := s2.Docker(t, "pull", reg+"/nope:1").Fails(t); !strings.Contains(e, "manifest unknown") {
		t.Errorf("docker pull of a missing image: %s", e)
	}
	if code, body := request(t, s2, "POST", "/images/create?fromImage="+url.QueryEscape(reg+"/nope")+"&tag=1", nil); code != 404 || !strings.Contains(body, `"message"`) {
		t.Errorf("pull of a missing image: %d %s", code, body)
	}
	// Bad input: 400 with a message.
	for _, q := range []string{"", "fromImage=UPPER&tag=1", "fromImage=x&tag=1&platform=linux", "fromImage=x&tag=Bad:Tag"} {
		if code, body := request(t, s2, "POST", "/images/create?"+q, nil); code != 400 || !strings.Contains(body, `"message"`) {
			t.Errorf("POST /images/create?%s: %d %s", q, code, body)
		}
	}
	// No tag: every tag of the repository.
	s.Docker(t, "tag", "busybox", reg+"/bb:2").Ok(t)
	s.Docker(t, "push", reg+"/bb:2").Ok(t)
	if out := s2.Docker(t, "pull", "--all-tags", reg+"/bb").Ok(t); !strings.Contains(out, "1: Pulling from bb") || !strings.Contains(out, "2: Pulling from bb") {
		t.Errorf("docker pull --all-tags:\n%s", out)
	}
	if out := s2.Docker(t, "images", "--format", "{{.Repository}}:{{.Tag}}").Ok(t); !slices.Equal(lines(out), []string{reg + "/bb:1", reg + "/bb:2"}) {
		t.Errorf("docker images after --all-tags:\n%s", out)
	}
	// The registry's view, without a pull.
	code, body = request(t, s2, "GET", "/distribution/"+reg+"/bb:1/json", nil)
	var dist struct {
		Descriptor struct {
			Digest string
			Size   int64
		}
		Platforms []struct{ Architecture, OS string }
	}
	if code != 200 || json.Unmarshal([]byte(body), &dist) != nil || dist.Descriptor.Digest != pushed ||
		len(dist.Platforms) != 1 || dist.Platforms[0].OS != "linux" {
		t.Errorf("distribution inspect: %d %s", code, body)
	}
	if code, body := request(t, s2, "GET", "/distribution/"+reg+"/nope:1/json", nil); code != 404 {
		t.Errorf("distribution inspect of a missing image: %d %s", code, body)
	}
}

// authRegistry is the reference registry behind a proxy that asks for basic
// credentials (hull, s3cret), counting the requests it let through and refused.
type authRegistry struct {
	t               *testing.T
	host            string
	authed, refused atomic.Int32
}

func newAuthRegistry(t *testing.T) *authRegistry {
	t.Helper()
	target, _ := url.Parse("http://" + testutil.ReferenceRegistry(t))
	proxy := httputil.NewSingleHostReverseProxy(target)
	a := &authRegistry{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "hull" || p != "s3cret" {
			a.refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="hull test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		a.authed.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	a.host = strings.TrimPrefix(srv.URL, "http://")
	return a
}

// login writes the registry's credentials into s's docker config, as docker
// login would.
func (a *authRegistry) login(s *dockertest.Service) {
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, a.host, base64.StdEncoding.EncodeToString([]byte("hull:s3cret")))
	if err := os.WriteFile(filepath.Join(s.DockerConfig, "config.json"), []byte(cfg), 0o600); err != nil {
		a.t.Fatal(err)
	}
}

// X-Registry-Auth reaches the registry: a push and a pull through a proxy
// that wants basic auth fail without the docker CLI's stored credentials and
// work with them.
func TestDockerRegistryAuth(t *testing.T) {
	reg := newAuthRegistry(t)
	host, authed, refused, login := reg.host, &reg.authed, &reg.refused, reg.login
	ref := host + "/sec:1"
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "tag", "busybox", ref).Ok(t)
	if e := s.Docker(t, "push", ref).Fails(t) + s.Docker(t, "push", ref).Stdout; !strings.Contains(strings.ToLower(e), "unauthorized") {
		t.Errorf("push without credentials: %s", e)
	}
	login(s)
	s.Docker(t, "push", ref).Ok(t)
	s2 := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	if e := s2.Docker(t, "pull", ref).Fails(t); !strings.Contains(strings.ToLower(e), "unauthorized") {
		t.Errorf("pull without credentials: %s", e)
	}
	login(s2)
	s2.Docker(t, "pull", ref).Ok(t)
	if authed.Load() == 0 || refused.Load() == 0 {
		t.Errorf("the registry saw %d requests with credentials, refused %d", authed.Load(), refused.Load())
	}
	if code, body := request(t, s2, "POST", "/images/create?fromImage="+url.QueryEscape(host+"/sec")+"&tag=1", nil, "X-Registry-Auth", "%%not base64"); code != 400 || !strings.Contains(body, "X-Registry-Auth") {
		t.Errorf("bad X-Registry-Auth: %d %s", code, body)
	}
}

// docker images, with its filters and forms, lists what hull images lists.
func TestDockerImages(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("hi\n"), 0o644)
	s.Docker(t, "tag", "busybox", "a:1").Ok(t)
	s.Docker(t, "tag", "busybox", "b:2").Ok(t)
	s.Hull(t, "import", "--change", "LABEL k=v", dir, "lab:1").Ok(t)
	dangling := strings.TrimSpace(s.Hull(t, "import", "--change", "LABEL other=1", dir).Ok(t))
	names := func(args ...string) []string {
		t.Helper()
		out := s.Docker(t, append([]string{"images", "--format", "{{.Repository}}:{{.Tag}}"}, args...)...).Ok(t)
		l := lines(out)
		sort.Strings(l)
		return l
	}
	for _, c := range []struct {
		filter []string
		want   []string
	}{
		{nil, []string{"<none>:<none>", "a:1", "b:2", "busybox:latest", "lab:1"}},
		{[]string{"reference=a"}, []string{"a:1"}},
		{[]string{"reference=*:2"}, []string{"b:2"}},
		{[]string{"reference=a", "reference=b"}, []string{"a:1", "b:2"}},
		{[]string{"label=k=v"}, []string{"lab:1"}},
		{[]string{"label=k"}, []string{"lab:1"}},
		{[]string{"label=k=w"}, nil},
		{[]string{"label=k", "label=k=w"}, nil}, // every label, as docker's
		{[]string{"dangling=true"}, []string{"<none>:<none>"}},
		{[]string{"dangling=false"}, []string{"a:1", "b:2", "busybox:latest", "lab:1"}},
		{[]string{"since=busybox"}, []string{"<none>:<none>", "lab:1"}},
		{[]string{"before=lab:1"}, []string{"a:1", "b:2", "busybox:latest"}},
		{[]string{"since=busybox", "dangling=false"}, []string{"lab:1"}},
	} {
		var args []string
		for _, f := range c.filter {
			args = append(args, "--filter", f)
		}
		if got := names(args...); !slices.Equal(got, c.want) {
			t.Errorf("docker images %v: %v, want %v", args, got, c.want)
		}
		// hull images, on the same roots, lists the same images.
		ids := func(out string) []string {
			l := lines(out)
			slices.Sort(l)
			return slices.Compact(l)
		}
		q := append([]string{"images", "-q"}, args...)
		if d, h := ids(s.Docker(t, q...).Ok(t)), ids(s.Hull(t, q...).Ok(t)); !slices.Equal(d, h) {
			t.Errorf("docker images %v: %v, hull images: %v", q, d, h)
		}
	}
	for _, f := range []string{"foo=bar", "dangling=maybe", "reference=[", "before=nope"} {
		e := s.Docker(t, "images", "--filter", f).Fails(t)
		if k, v, _ := strings.Cut(f, "="); k == "before" && !strings.Contains(e, "no such image: "+v) ||
			k != "before" && !strings.Contains(e, "invalid filter") {
			t.Errorf("docker images --filter %s: %s", f, e)
		}
	}
	// -q: an ID a row, as docker's; the IDs hull has.
	q := lines(s.Docker(t, "images", "-q", "--no-trunc").Ok(t))
	if len(q) != 5 {
		t.Errorf("docker images -q: %v", q)
	}
	sort.Strings(q)
	q = slices.Compact(q)
	want := []string{hullImageID(t, s, "busybox"), hullImageID(t, s, "lab:1"), dangling}
	sort.Strings(want)
	if !slices.Equal(q, want) {
		t.Errorf("docker images -q: %v, hull's: %v", q, want)
	}
	if got := lines(s.Hull(t, "images", "-q").Ok(t)); len(got) != len(q) {
		t.Errorf("hull images -q %v, docker images -q %v", got, q)
	}
	// --digests: the repo digest hull's inspect gives.
	var hin []struct{ RepoDigests []string }
	json.Unmarshal([]byte(s.Hull(t, "image", "inspect", "busybox").Ok(t)), &hin)
	out := s.Docker(t, "images", "--digests", "--format", "{{.Repository}} {{.Digest}}", "busybox").Ok(t)
	if len(hin) != 1 || len(hin[0].RepoDigests) == 0 || strings.TrimSpace(out) != "busybox "+strings.SplitN(hin[0].RepoDigests[0], "@", 2)[1] {
		t.Errorf("docker images --digests: %q, hull: %v", out, hin)
	}
	// The raw list: moby's shape, shared sizes when asked.
	code, body := request(t, s, "GET", "/images/json?shared-size=1&filters="+url.QueryEscape(`{"reference":{"busybox":true}}`), nil)
	var sums []imagetypes.Summary
	if code != 200 || json.Unmarshal([]byte(body), &sums) != nil || len(sums) != 1 {
		t.Fatalf("images/json: %d %s", code, body)
	}
	if sm := sums[0]; !slices.Equal(sm.RepoTags, []string{"busybox:latest"}) || sm.ID != want[slices.Index(want, hullImageID(t, s, "busybox"))] ||
		sm.Size <= 0 || sm.SharedSize != 0 || sm.Containers != -1 || sm.Created != 946684800 {
		t.Errorf("images/json: %+v", sm)
	}
	if code, body := request(t, s, "GET", "/images/json?filters=notjson", nil); code != 400 {
		t.Errorf("images/json with bad filters: %d %s", code, body)
	}
}

// docker image inspect and docker history show what hull's image inspect and
// history show.
func TestDockerImageInspectHistory(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	var d []imagetypes.InspectResponse
	if err := json.Unmarshal([]byte(s.Docker(t, "image", "inspect", "busybox").Ok(t)), &d); err != nil || len(d) != 1 {
		t.Fatalf("docker image inspect: %v", err)
	}
	var h []struct {
		Id, Created, Architecture, Os string
		RepoTags, RepoDigests         []string
		Size                          int64
		RootFS                        struct{ Layers []string }
	}
	if err := json.Unmarshal([]byte(s.Hull(t, "image", "inspect", "busybox").Ok(t)), &h); err != nil || len(h) != 1 {
		t.Fatalf("hull image inspect: %v", err)
	}
	di, hi := d[0], h[0]
	if di.ID != hi.Id || di.Created != hi.Created || di.Architecture != hi.Architecture || di.Os != hi.Os || di.Size != hi.Size ||
		!slices.Equal(di.RootFS.Layers, hi.RootFS.Layers) || di.RootFS.Type != "layers" ||
		!slices.Equal(di.RepoTags, []string{"busybox:latest"}) || len(di.RepoDigests) != 1 || "docker.io/library/"+di.RepoDigests[0] != hi.RepoDigests[0] {
		t.Errorf("docker image inspect %+v\nhull image inspect %+v", di, hi)
	}
	if di.Config == nil || !slices.Equal(di.Config.Cmd, []string{"sh"}) || di.Descriptor == nil || di.Metadata.LastTagTime.IsZero() {
		t.Errorf("docker image inspect: %+v", di)
	}
	if e := s.Docker(t, "image", "inspect", "nope").Fails(t); !strings.Contains(e, "No such image") && !strings.Contains(e, "no such image") {
		t.Errorf("docker image inspect nope: %s", e)
	}
	if code, _ := request(t, s, "GET", "/images/nope/json", nil); code != 404 {
		t.Errorf("inspect of a missing image: %d", code)
	}

	out := s.Docker(t, "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}", "busybox").Ok(t)
	hh := lines(s.Hull(t, "history", "busybox").Ok(t))[1:]
	if l := lines(out); len(l) != len(hh) || !strings.HasPrefix(l[0], di.ID+"|hull import|busybox from the host") {
		t.Errorf("docker history:\n%s\nhull history:\n%s", out, strings.Join(hh, "\n"))
	}
	code, body := request(t, s, "GET", "/images/busybox/history", nil)
	var items []imagetypes.HistoryResponseItem
	if code != 200 || json.Unmarshal([]byte(body), &items) != nil || len(items) != 1 || items[0].Size != hi.Size ||
		!slices.Equal(items[0].Tags, []string{"busybox:latest"}) || items[0].Created != 946684800 {
		t.Errorf("history: %d %s", code, body)
	}
	if e := s.Docker(t, "history", "nope").Fails(t); !strings.Contains(strings.ToLower(e), "no such image") {
		t.Errorf("docker history nope: %s", e)
	}
}

// docker tag and rmi: names come and go as hull sees them; an image a
// container uses is refused with docker's 409, -f untags it and keeps it.
func TestDockerTagRmi(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	id := hullImageID(t, s, "busybox")
	s.Docker(t, "tag", "busybox", "x:1").Ok(t)
	s.Docker(t, "tag", "busybox", "reg.example:5000/y/z").Ok(t)
	if out := s.Hull(t, "images").Ok(t); !strings.Contains(out, "docker.io/library/x") || !strings.Contains(out, "reg.example:5000/y/z") {
		t.Errorf("hull images after docker tag:\n%s", out)
	}
	if out := s.Docker(t, "rmi", "x:1").Ok(t); strings.TrimSpace(out) != "Untagged: x:1" {
		t.Errorf("docker rmi x:1: %q", out)
	}
	// By ID with several names: docker's conflict.
	if e := s.Docker(t, "rmi", id[7:19]).Fails(t); !strings.Contains(e, "conflict: unable to delete "+id[7:19]+" (must be forced) - image is referenced in multiple repositories") {
		t.Errorf("docker rmi by ID of a multi-named image: %s", e)
	}
	s.Docker(t, "rmi", "reg.example:5000/y/z").Ok(t)
	for _, c := range []struct{ q, want string }{
		{"repo=", "repository name must have at least one component"},
		{"repo=UPPER", "invalid reference format"},
		{"repo=x&tag=a:b", "digest"},
		{"repo=x@sha256:" + strings.Repeat("0", 64), "digest"},
	} {
		if code, body := request(t, s, "POST", "/images/busybox/tag?"+c.q, nil); code != 400 || !strings.Contains(body, c.want) {
			t.Errorf("tag ?%s: %d %s", c.q, code, body)
		}
	}
	if code, body := request(t, s, "POST", "/images/nope/tag?repo=x", nil); code != 404 {
		t.Errorf("tag of a missing image: %d %s", code, body)
	}
	if code, body := request(t, s, "POST", "/images/busybox/tag?repo=x&tag=2", nil); code != 201 || body != "" {
		t.Errorf("tag: %d %q", code, body)
	}
	s.Docker(t, "rmi", "x:2").Ok(t)

	s.Hull(t, "create", "--network", "none", "--name", "user", "busybox", "true").Ok(t)
	e := s.Docker(t, "rmi", "busybox").Fails(t)
	if !strings.Contains(e, `conflict: unable to remove repository reference "busybox" (must force) - container `) {
		t.Errorf("docker rmi of an image in use: %s", e)
	}
	code, body := request(t, s, "DELETE", "/images/busybox", nil)
	if code != 409 || !strings.Contains(body, "conflict") {
		t.Errorf("DELETE of an image in use: %d %s", code, body)
	}
	if out := s.Docker(t, "rmi", "-f", "busybox").Ok(t); strings.TrimSpace(out) != "Untagged: busybox:latest" {
		t.Errorf("docker rmi -f: %q", out)
	}
	// Kept, dangling, for its container.
	if out := s.Docker(t, "images", "-q", "--no-trunc").Ok(t); strings.TrimSpace(out) != id {
		t.Errorf("docker images after rmi -f: %q", out)
	}
	s.Hull(t, "rm", "user").Ok(t)
	code, body = request(t, s, "DELETE", "/images/"+id, nil)
	var del []imagetypes.DeleteResponse
	if code != 200 || json.Unmarshal([]byte(body), &del) != nil || len(del) != 1 || del[0].Deleted != id {
		t.Errorf("DELETE by ID: %d %s", code, body)
	}
	if e := s.Docker(t, "rmi", "nope").Fails(t); !strings.Contains(strings.ToLower(e), "no such image: nope") {
		t.Errorf("docker rmi nope: %s", e)
	}
	if out := s.Hull(t, "images", "-q").Ok(t); strings.TrimSpace(out) != "" {
		t.Errorf("hull images after the last rmi: %q", out)
	}
}

// docker image prune: dangling images; with -a every unused image, as the
// filters choose.
func TestDockerImagePrune(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("one\n"), 0o644)
	s.Hull(t, "import", "--change", "LABEL k=v", dir, "lab:1").Ok(t)
	os.WriteFile(filepath.Join(dir, "f"), []byte("two\n"), 0o644)
	dangling := strings.TrimSpace(s.Hull(t, "import", dir).Ok(t))
	os.WriteFile(filepath.Join(dir, "f"), []byte("three\n"), 0o644)
	s.Hull(t, "import", dir, "other:1").Ok(t)
	s.Hull(t, "create", "--network", "none", "--name", "user", "busybox", "true").Ok(t)

	out := s.Docker(t, "image", "prune", "-f").Ok(t)
	if !strings.Contains(out, "deleted: "+dangling) || strings.Contains(out, "untagged") || strings.Contains(out, "Total reclaimed space: 0B") {
		t.Errorf("docker image prune:\n%s", out)
	}
	out = s.Docker(t, "image", "prune", "-a", "-f", "--filter", "label=k=v").Ok(t)
	if !strings.Contains(out, "untagged: lab:1") || strings.Contains(out, "other") || strings.Contains(out, "busybox") {
		t.Errorf("docker image prune -a --filter label=k=v:\n%s", out)
	}
	out = s.Docker(t, "image", "prune", "-a", "-f", "--filter", "until=1h").Ok(t)
	if strings.Contains(out, "other") {
		t.Errorf("docker image prune -a --filter until=1h pruned a new image:\n%s", out)
	}
	// busybox is in use: only other:1 goes.
	out = s.Docker(t, "image", "prune", "-a", "-f").Ok(t)
	if !strings.Contains(out, "untagged: other:1") || strings.Contains(out, "busybox") {
		t.Errorf("docker image prune -a:\n%s", out)
	}
	if out := lines(s.Hull(t, "images", "--format", "{{.Repository}}").Ok(t)); !slices.Equal(out, []string{"docker.io/library/busybox"}) {
		t.Errorf("hull images after the prunes: %v", out)
	}
	for _, f := range []string{"foo=bar", "until=soon", "dangling=maybe"} {
		if code, body := request(t, s, "POST", "/images/prune?filters="+url.QueryEscape(fmt.Sprintf(`{%q:[%q]}`, strings.Split(f, "=")[0], strings.Split(f, "=")[1])), nil); code != 400 || !strings.Contains(body, "invalid filter") {
			t.Errorf("prune --filter %s: %d %s", f, code, body)
		}
	}
}

// docker save | docker load round-trips; what docker save writes skopeo and
// podman read as a docker-archive.
func TestDockerSaveLoad(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	id := hullImageID(t, s, "busybox")
	s.Docker(t, "tag", "busybox", "two:1").Ok(t)
	file := filepath.Join(t.TempDir(), "bb.tar")
	s.Docker(t, "save", "-o", file, "busybox", "two:1").Ok(t)
	if _, err := exec.LookPath("skopeo"); err == nil {
		out, err := exec.Command("skopeo", "inspect", "--format", "{{.Digest}} {{.Os}} {{len .Layers}}", "docker-archive:"+file+":busybox:latest").CombinedOutput()
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), " linux 1") {
			t.Errorf("skopeo inspect docker-archive: %v: %s", err, out)
		}
	}
	// Loaded over itself: still one image, of one ID.
	s.Docker(t, "load", "-i", file).Ok(t)
	if out := lines(s.Docker(t, "images", "-q", "--no-trunc").Ok(t)); len(out) != 2 || out[0] != id || out[1] != id {
		t.Errorf("docker images -q after a load of what is there: %v", out)
	}
	s.Docker(t, "image", "inspect", id[7:19]).Ok(t)
	s.Docker(t, "rmi", "busybox", "two:1").Ok(t)
	out := s.Docker(t, "load", "-i", file).Ok(t)
	if l := lines(out); !slices.Contains(l, "Loaded image: busybox:latest") || !slices.Contains(l, "Loaded image: two:1") {
		t.Errorf("docker load:\n%s", out)
	}
	if got := hullImageID(t, s, "two:1"); got != id {
		t.Errorf("loaded %s, saved %s", got, id)
	}
	// The one-image form, by ID, through the raw endpoint; and quiet load.
	code, tarball := request(t, s, "GET", "/images/"+id+"/get", nil)
	if code != 200 || !strings.Contains(tarball, "manifest.json") {
		t.Fatalf("GET /images/ID/get: %d", code)
	}
	code, body := request(t, s, "POST", "/images/load?quiet=1", strings.NewReader(tarball), "Content-Type", "application/x-tar")
	if code != 200 || !strings.Contains(body, `"stream":"Loaded image ID: `+id+`\n"`) {
		t.Errorf("load: %d %s", code, body)
	}
	for _, p := range []string{"/images/nope/get", "/images/get?names=busybox&names=nope"} {
		if code, body := request(t, s, "GET", p, nil); code != 404 {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
	if code, body := request(t, s, "POST", "/images/load", strings.NewReader("not a tar"), "Content-Type", "application/x-tar"); code != 400 || !strings.Contains(body, "message") {
		t.Errorf("load of junk: %d %s", code, body)
	}
	if out := s.Docker(t, "image", "ls", "--format", "{{.ID}}").Ok(t); len(lines(out)) != 2 {
		t.Errorf("docker images after the loads:\n%s", out)
	}

	// podman reads it, on its own storage.
	if _, err := exec.LookPath("podman"); err == nil {
		dir := t.TempDir()
		conf, storage := filepath.Join(dir, "containers.conf"), filepath.Join(dir, "storage.conf")
		// File locks and events in its own directories, not the host's /dev/shm
		// lock or journal: the same private setup as test/peers' podman.
		os.WriteFile(conf, []byte(fmt.Sprintf("[engine]\nlock_type = \"file\"\nevents_logger = \"file\"\ntmp_dir = %q\n", filepath.Join(dir, "t"))), 0o644)
		os.WriteFile(storage, []byte(fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(dir, "g"), filepath.Join(dir, "r"))), 0o644)
		// The image copy's blob-info cache has no setting: removed again if made here.
		cache := "/var/lib/containers"
		_, statErr := os.Stat(cache)
		cmd := exec.Command("podman", "--root", filepath.Join(dir, "g"), "--runroot", filepath.Join(dir, "r"), "--storage-driver", "vfs", "load", "-i", file)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+conf, "CONTAINERS_STORAGE_CONF="+storage)
		out, err := cmd.CombinedOutput()
		if os.IsNotExist(statErr) {
			os.RemoveAll(cache) // podman's blob-info cache, made by this test
		}
		if err != nil || !strings.Contains(string(out), "Loaded image") || !strings.Contains(string(out), "busybox:latest") {
			t.Errorf("podman load: %v\n%s", err, out)
		}
	}
}

// docker import (fromSrc=-), search (501) and build (501 until the builder
// serves it).
func TestDockerImportSearchBuild(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("hi\n"), 0o644)
	file := filepath.Join(t.TempDir(), "rootfs.tar")
	if out, err := exec.Command("tar", "cf", file, "-C", dir, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	out := strings.TrimSpace(s.Docker(t, "import", "-m", "from a test", file, "imp:1").Ok(t))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(out) || hullImageID(t, s, "imp:1") != out {
		t.Errorf("docker import: %q", out)
	}
	if out := s.Docker(t, "history", "--format", "{{.Comment}}", "imp:1").Ok(t); strings.TrimSpace(out) != "from a test" {
		t.Errorf("docker history of the import: %q", out)
	}
	// --change: Dockerfile instructions make the config.
	s.Docker(t, "import", "-c", "LABEL a=b", "-c", `CMD ["/f"]`, "-c", "ENV X=1", file, "imp:2").Ok(t)
	var in []imagetypes.InspectResponse
	json.Unmarshal([]byte(s.Docker(t, "image", "inspect", "imp:2").Ok(t)), &in)
	if len(in) != 1 || in[0].Config == nil || in[0].Config.Labels["a"] != "b" || !slices.Equal(in[0].Config.Cmd, []string{"/f"}) || !slices.Contains(in[0].Config.Env, "X=1") {
		t.Errorf("docker import --change: %+v", in)
	}
	if e := s.Docker(t, "import", "-c", "FROM x", file, "imp:3").Fails(t); !strings.Contains(e, "unsupported instruction") {
		t.Errorf("docker import --change FROM: %s", e)
	}
	if code, body := request(t, s, "POST", "/images/create?fromSrc=http://example.com/x.tar", nil); code != 501 {
		t.Errorf("import from a URL: %d %s", code, body)
	}
	if e := s.Docker(t, "search", "busybox").Fails(t); !strings.Contains(e, "not supported: hull has no registry search") {
		t.Errorf("docker search: %s", e)
	}
}

// docker-py: pull, list, get, tag, remove.
func TestDockerPyImages(t *testing.T) {
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		t.Skip("docker-py (python3 -c 'import docker') is not installed")
	}
	reg := testutil.ReferenceRegistry(t)
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "tag", "busybox", reg+"/py:1").Ok(t)
	s.Docker(t, "push", reg+"/py:1").Ok(t)
	s.Docker(t, "rmi", reg+"/py:1").Ok(t)
	script := `
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
reg = sys.argv[2]
img = c.images.pull(reg + "/py", tag="1")
assert reg + "/py:1" in img.tags, img.tags
names = sorted(t for i in c.images.list() for t in i.tags)
assert names == sorted([reg + "/py:1", "busybox:latest"]), names
assert c.images.get("busybox").id == img.id
assert [i.id for i in c.images.list(filters={"reference": "busybox"})] == [img.id]
assert c.images.list(filters={"reference": "nope"}) == []
img.tag("pyt", "2")
assert "pyt:2" in c.images.get(img.id).tags
c.images.remove("pyt:2")
c.images.remove(reg + "/py:1")
try:
    c.images.get("pyt:2")
    raise SystemExit("pyt:2 still there")
except docker.errors.ImageNotFound:
    pass
print(img.id)
`
	out, err := exec.Command("python3", "-c", script, s.Host, reg).CombinedOutput()
	if err != nil {
		t.Fatalf("docker-py: %v\n%s", err, out)
	}
	if id := strings.TrimSpace(string(out)); id != hullImageID(t, s, "busybox") {
		t.Errorf("docker-py pulled %q", id)
	}
}

// imagesClient is the official Go client on the service.
func imagesClient(t *testing.T, s *dockertest.Service) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(s.Host), client.WithAPIVersion("1.50"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The Go client reads every image answer into its types, with the error kinds
// its callers test for.
func TestGoClientImages(t *testing.T) {
	ctx := context.Background()
	reg := testutil.ReferenceRegistry(t)
	s := dockertest.Start(t, dockertest.Options{})
	c := imagesClient(t, s)
	ref := reg + "/go:1"
	if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: "busybox", Target: ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: "nope", Target: "x"}); !cerrdefs.IsNotFound(err) {
		t.Errorf("tag of a missing image: %v", err)
	}
	push, err := c.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: base64.URLEncoding.EncodeToString([]byte("{}"))})
	if err != nil {
		t.Fatal(err)
	}
	var aux struct{ Tag, Digest string }
	var statuses []string
	for m, err := range push.JSONMessages(ctx) {
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		statuses = append(statuses, m.Status)
		if m.Aux != nil {
			json.Unmarshal(*m.Aux, &aux)
		}
	}
	push.Close()
	if aux.Tag != "1" || !strings.HasPrefix(aux.Digest, "sha256:") || !slices.Contains(statuses, "Pushed") {
		t.Errorf("push: aux %+v, statuses %q", aux, statuses)
	}

	s2 := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	c2 := imagesClient(t, s2)
	pull, err := c2.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pull.Wait(ctx); err != nil {
		t.Fatalf("pull: %v", err)
	}
	if _, err := c2.ImagePull(ctx, reg+"/nope:1", client.ImagePullOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("pull of a missing image: %v", err)
	}
	dist, err := c2.DistributionInspect(ctx, ref, client.DistributionInspectOptions{})
	if err != nil || dist.Descriptor.Digest.String() != aux.Digest || len(dist.Platforms) != 1 || dist.Platforms[0].Architecture != "amd64" {
		t.Errorf("distribution inspect: %+v %v", dist, err)
	}
	list, err := c2.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", reg+"/go"), SharedSize: true})
	if err != nil || len(list.Items) != 1 || !slices.Equal(list.Items[0].RepoTags, []string{ref}) ||
		!slices.Equal(list.Items[0].RepoDigests, []string{reg + "/go@" + aux.Digest}) || list.Items[0].SharedSize != 0 {
		t.Fatalf("list: %+v %v", list, err)
	}
	id := list.Items[0].ID
	if _, err := c2.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("bogus", "1")}); !cerrdefs.IsInvalidArgument(err) {
		t.Errorf("list with a bad filter: %v", err)
	}
	in, err := c2.ImageInspect(ctx, ref)
	if err != nil || in.ID != id || in.Os != "linux" || in.Config == nil || len(in.RootFS.Layers) != 1 || in.Descriptor == nil || in.Descriptor.Digest.String() != aux.Digest {
		t.Errorf("inspect: %+v %v", in, err)
	}
	if _, err := c2.ImageInspect(ctx, "nope"); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect of a missing image: %v", err)
	}
	hist, err := c2.ImageHistory(ctx, ref)
	if err != nil || len(hist.Items) != 1 || hist.Items[0].ID != id || !slices.Equal(hist.Items[0].Tags, []string{ref}) {
		t.Errorf("history: %+v %v", hist, err)
	}
	save, err := c2.ImageSave(ctx, []string{ref})
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(save)
	save.Close()
	if err != nil || len(archive) == 0 {
		t.Fatalf("save: %v", err)
	}

	// In use: a 409 the client calls a conflict; forced, untagged and kept.
	s2.Hull(t, "create", "--network", "none", "--name", "user", ref, "true").Ok(t)
	if _, err := c2.ImageRemove(ctx, ref, client.ImageRemoveOptions{}); !cerrdefs.IsConflict(err) {
		t.Errorf("remove of an image in use: %v", err)
	}
	rm, err := c2.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true})
	if err != nil || len(rm.Items) != 1 || rm.Items[0].Untagged != ref {
		t.Errorf("remove -f: %+v %v", rm, err)
	}
	s2.Hull(t, "rm", "user").Ok(t)
	pr, err := c2.ImagePrune(ctx, client.ImagePruneOptions{})
	if err != nil || len(pr.Report.ImagesDeleted) != 1 || pr.Report.ImagesDeleted[0].Deleted != id || pr.Report.SpaceReclaimed == 0 {
		t.Errorf("prune: %+v %v", pr, err)
	}
	load, err := c2.ImageLoad(ctx, bytes.NewReader(archive), client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(load)
	load.Close()
	if !strings.Contains(string(out), `"stream":"Loaded image: `+ref+`\n"`) {
		t.Errorf("load: %s", out)
	}
	if _, err := c2.ImageInspect(ctx, ref); err != nil {
		t.Errorf("inspect after load: %v", err)
	}
	if _, err := c2.ImageSearch(ctx, "busybox", client.ImageSearchOptions{}); !cerrdefs.IsNotImplemented(err) {
		t.Errorf("search: %v", err)
	}
}

// slowBody hands out a registry's blob a little at a time.
type slowBody struct{ io.ReadCloser }

func (b slowBody) Read(p []byte) (int, error) {
	time.Sleep(20 * time.Millisecond)
	return b.ReadCloser.Read(p[:min(len(p), 16<<10)])
}

// A client that goes away mid-pull stops the pull: nothing half-written is
// left in the store's ingest directory, no image is registered, and the
// service's goroutines come back down.
func TestDockerPullDisconnect(t *testing.T) {
	reg := testutil.ReferenceRegistry(t)
	s := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	dir := t.TempDir()
	big := make([]byte, 4<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(dir, "big"), big, 0o644)
	s.Hull(t, "import", dir, reg+"/big:1").Ok(t)
	s.Docker(t, "push", reg+"/big:1").Ok(t)

	target, _ := url.Parse("http://" + reg)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && strings.Contains(resp.Request.URL.Path, "/blobs/") {
			resp.Body = slowBody{resp.Body}
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	s2 := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	info := func() (goroutines, fds int) {
		_, body := request(t, s2, "GET", "/info", nil)
		var in struct{ NGoroutines, NFd int }
		json.Unmarshal([]byte(body), &in)
		return in.NGoroutines, in.NFd
	}
	g0, fd0 := info()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://docker/images/create?fromImage="+url.QueryEscape(host+"/big")+"&tag=1", nil)
	resp, err := s2.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), `"Downloading"`) {
	}
	if !strings.Contains(sc.Text(), `"Downloading"`) {
		t.Fatalf("no download began: %q %v", sc.Text(), sc.Err())
	}
	cancel()
	resp.Body.Close()

	ingest := filepath.Join(s2.Root, "ingest")
	var left []os.DirEntry
	var g, fd int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		left, _ = os.ReadDir(ingest)
		// Up to two idle connections to the registry stay pooled (two
		// goroutines and a descriptor each); a pull still running holds more.
		if g, fd = info(); len(left) == 0 && g <= g0+4 && fd <= fd0+2 {
			break
		}
	}
	if len(left) != 0 || g > g0+4 || fd > fd0+2 {
		t.Errorf("after the client left: ingest %v, goroutines %d (were %d), fds %d (were %d)", left, g, g0, fd, fd0)
	}
	if out := s2.Docker(t, "images", "-q").Ok(t); strings.TrimSpace(out) != "" {
		t.Errorf("an image was registered by the abandoned pull: %q", out)
	}
	// The next pull, not abandoned, completes.
	if out := s2.Docker(t, "pull", host+"/big:1").Ok(t); !strings.Contains(out, "Status: Downloaded newer image") {
		t.Errorf("docker pull after the abandoned one:\n%s", out)
	}
}

// platformImage is a one-layer image of random bytes whose config says
// linux/arch.
func platformImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// docker pull --platform picks its manifest from an index; distribution
// inspect lists the index's platforms.
func TestDockerPullPlatform(t *testing.T) {
	reg := testutil.ReferenceRegistry(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: platformImage(t, "arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: platformImage(t, "amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	ref, _ := name.ParseReference(reg + "/multi:1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	s := dockertest.Start(t, dockertest.Options{NoBusybox: true})
	out := s.Docker(t, "pull", "--platform", "linux/arm64", reg+"/multi:1").Ok(t)
	if !strings.Contains(out, "Digest: "+idxDigest.String()) {
		t.Errorf("docker pull --platform linux/arm64:\n%s", out)
	}
	if arch := strings.TrimSpace(s.Docker(t, "image", "inspect", "--format", "{{.Architecture}} {{json .RepoDigests}}", reg+"/multi:1").Ok(t)); arch != "arm64 [\""+reg+"/multi@"+idxDigest.String()+"\"]" {
		t.Errorf("pulled for linux/arm64: %s", arch)
	}
	if e := s.Docker(t, "pull", "--platform", "linux/s390x", reg+"/multi:1").Fails(t); !strings.Contains(e, "no image for platform linux/s390x") {
		t.Errorf("docker pull --platform linux/s390x: %s", e)
	}
	if code, body := request(t, s, "POST", "/images/create?fromImage="+url.QueryEscape(reg+"/multi")+"&tag=1&platform=linux/s390x", nil); code != 404 {
		t.Errorf("pull of a platform the index lacks: %d %s, want 404 as docker's", code, body)
	}
	code, body := request(t, s, "GET", "/distribution/"+reg+"/multi:1/json", nil)
	var d struct {
		Descriptor struct{ Digest, MediaType string }
		Platforms  []struct{ Architecture string }
	}
	if code != 200 || json.Unmarshal([]byte(body), &d) != nil || d.Descriptor.Digest != idxDigest.String() || len(d.Platforms) != 2 || d.Platforms[0].Architecture != "arm64" {
		t.Errorf("distribution inspect of an index: %d %s", code, body)
	}
}
