package docker

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/network"
	"github.com/hullproject/hull/volume"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/system"
)

// dockertest.Main: testutil.Main, and the build of hull that the tests of
// streams.go start containers with (dockertest.Binary) is removed after.
func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }

// newServer is a Server over an engine on temporary roots, and an HTTP server
// on it.
func newServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	e, err := engine.New(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := New(e, Options{Version: "1.2.3", Commit: "abc", Logger: slog.New(slog.NewTextHandler(testLog{t}, nil))})
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

// testLog is the server's log in the test's.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// do sends a request and returns the answer with its body read.
func do(t *testing.T, hs *httptest.Server, method, path string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, hs.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// message is the "message" of docker's error body, or what failed to decode.
func message(t *testing.T, body string) string {
	t.Helper()
	var e common.ErrorResponse
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Message
}

func TestPing(t *testing.T) {
	_, hs := newServer(t)
	for _, path := range []string{"/_ping", "/v1.50/_ping", "/v1.24/_ping", "/v1.41/_ping"} {
		for _, method := range []string{"GET", "HEAD"} {
			resp, body := do(t, hs, method, path, nil)
			want := map[string]string{
				"API-Version": MaxAPIVersion, "OSType": "linux", "Builder-Version": "1", "Docker-Experimental": "false",
				"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache", "Server": "hull/1.2.3 (linux)",
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s %s: %s: %q, want %q", method, path, k, got, v)
				}
			}
			wantBody := "OK"
			if method == "HEAD" {
				wantBody = ""
			}
			if resp.StatusCode != 200 || body != wantBody {
				t.Errorf("%s %s: %d %q", method, path, resp.StatusCode, body)
			}
		}
	}
}

func TestVersions(t *testing.T) {
	_, hs := newServer(t)
	for path, want := range map[string]string{
		"/v9.99/version": "client version 9.99 is too new. Maximum supported API version is 1.50",
		"/v1.51/_ping":   "client version 1.51 is too new. Maximum supported API version is 1.50",
		"/v1.12/version": "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version",
		"/v1/version":    `invalid API version "1": want MAJOR.MINOR`,
	} {
		resp, body := do(t, hs, "GET", path, nil)
		if resp.StatusCode != 400 || message(t, body) != want {
			t.Errorf("GET %s: %d %s, want 400 %q", path, resp.StatusCode, body, want)
		}
		// Every answer says what the server speaks, refusals too.
		if resp.Header.Get("API-Version") != MaxAPIVersion {
			t.Errorf("GET %s: API-Version %q", path, resp.Header.Get("API-Version"))
		}
	}
	for _, path := range []string{"/version", "/v1.50/version", "/v1.24/version"} {
		resp, body := do(t, hs, "GET", path, nil)
		var v system.VersionResponse
		if err := json.Unmarshal([]byte(body), &v); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if v.APIVersion != "1.50" || v.MinAPIVersion != "1.24" || v.Version != "1.2.3" || v.GitCommit != "abc" ||
			v.Os != "linux" || v.KernelVersion != kernelVersion() || v.KernelVersion == "" || len(v.Components) != 1 || v.Components[0].Name != "Engine" {
			t.Errorf("GET %s: %+v", path, v)
		}
	}
}

// The version in the path reaches the handler; the path below it is routed.
func TestRouter(t *testing.T) {
	s, hs := newServer(t)
	s.rt.handle("GET", "/test/{name:.*}/json", func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, 200, []string{requestVersion(r).String(), r.PathValue("name"), fmt.Sprint(versionAtLeast(r, "1.42"))})
	})
	s.rt.handle("POST", "/test/{id}/start", func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, 200, []string{r.PathValue("id")})
	})
	s.rt.handle("GET", "/test/json", func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, 200, []string{"list"})
	})
	for path, want := range map[string]string{
		"/v1.41/test/docker.io/library/busybox:latest/json": `["1.41","docker.io/library/busybox:latest","false"]`,
		"/test/busybox/json":      `["1.50","busybox","true"]`,
		"/v1.44/test/json":        `["list"]`,
		"/v1.44/test/a/json/json": `["1.44","a/json","true"]`,
	} {
		resp, body := do(t, hs, "GET", path, nil)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != want {
			t.Errorf("GET %s: %d %s, want %s", path, resp.StatusCode, body, want)
		}
	}
	if resp, body := do(t, hs, "POST", "/v1.50/test/abc/start", nil); resp.StatusCode != 200 || strings.TrimSpace(body) != `["abc"]` {
		t.Errorf("POST start: %d %s", resp.StatusCode, body)
	}
	// A path no endpoint serves, or a method it does not take: 404 naming it.
	for _, c := range []struct{ method, path string }{
		{"GET", "/nope"}, {"GET", "/v1.50/containers/x/nope"}, {"POST", "/version"}, {"GET", "/test/a/b/start"},
		{"DELETE", "/_ping"}, {"GET", "/v1.50"}, {"GET", "/vx/version"},
	} {
		resp, body := do(t, hs, c.method, c.path, nil)
		if want := "page not found: " + c.method + " " + c.path; resp.StatusCode != 404 || message(t, body) != want {
			t.Errorf("%s %s: %d %s, want 404 %q", c.method, c.path, resp.StatusCode, body, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a route registered twice was accepted")
		}
	}()
	s.rt.handle("GET", "/test/json", func(w http.ResponseWriter, r *http.Request) error { return nil })
}

func TestErrorMapping(t *testing.T) {
	optErr := fmt.Errorf("create: %w", errors.Join(&engine.OptionError{Field: "Memory", Err: errors.New("invalid memory limit")}))
	for _, c := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("%w: abc", engine.ErrNoSuchContainer), 404},
		{fmt.Errorf("x: %w", image.ErrNotFound), 404},
		{network.ErrNotFound, 404},
		{fmt.Errorf("rm: %w", volume.ErrNotFound), 404},
		{engine.ErrNoSuchPod, 404},
		{fmt.Errorf("start: %w", engine.ErrConflict), 409},
		{image.ErrInUse, 409},
		{volume.ErrInUse, 409},
		{network.ErrExists, 409},
		{network.ErrInUse, 403},
		{fmt.Errorf("start: %w", engine.ErrNotModified), 304},
		{optErr, 400},
		{badRequestf("bad"), 400},
		{notImplementedf("later"), 501},
		{errors.New("disk on fire"), 500},
	} {
		if got := statusOf(c.err); got != c.code {
			t.Errorf("%v: %d, want %d", c.err, got, c.code)
		}
	}

	s, hs := newServer(t)
	var next error
	s.rt.handle("POST", "/fail", func(w http.ResponseWriter, r *http.Request) error { return next })
	next = fmt.Errorf("%w: web", engine.ErrNoSuchContainer)
	if resp, body := do(t, hs, "POST", "/v1.50/fail", nil); resp.StatusCode != 404 || message(t, body) != "no such container: web" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("no such container: %d %s %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	next = fmt.Errorf("start: %w", engine.ErrNotModified)
	if resp, body := do(t, hs, "POST", "/fail", nil); resp.StatusCode != 304 || body != "" {
		t.Errorf("not modified: %d %q", resp.StatusCode, body)
	}
}

func TestPanicIsA500(t *testing.T) {
	s, hs := newServer(t)
	s.rt.handle("GET", "/boom", func(w http.ResponseWriter, r *http.Request) error {
		var m map[string]int
		m["x"] = 1 // a nil map: the handler's bug
		return nil
	})
	resp, body := do(t, hs, "GET", "/v1.50/boom", nil)
	if resp.StatusCode != 500 || !strings.Contains(message(t, body), "assignment to entry in nil map") {
		t.Errorf("panic: %d %s", resp.StatusCode, body)
	}
	// The service goes on.
	if resp, body := do(t, hs, "GET", "/_ping", nil); resp.StatusCode != 200 || body != "OK" {
		t.Errorf("after a panic: %d %q", resp.StatusCode, body)
	}
	if n := s.active.Load(); n != 0 {
		t.Errorf("%d requests still counted in flight", n)
	}
}

func TestDecodeJSON(t *testing.T) {
	s, hs := newServer(t)
	s.rt.handle("POST", "/decode", func(w http.ResponseWriter, r *http.Request) error {
		var v struct{ Image string }
		if err := decodeJSON(r, &v); err != nil {
			return err
		}
		return writeJSON(w, 201, v)
	})
	post := func(ct, body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", hs.URL+"/decode", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, string(data)
	}
	if resp, body := post("application/json", `{"Image":"busybox"}`); resp.StatusCode != 201 || strings.TrimSpace(body) != `{"Image":"busybox"}` {
		t.Errorf("good JSON: %d %s", resp.StatusCode, body)
	}
	for _, c := range []struct{ ct, body, want string }{
		{"application/json", `{"Image":`, "invalid JSON: unexpected EOF"},
		{"application/json", `{"Image": 3}`, "invalid JSON: json: cannot unmarshal"},
		{"application/json", ``, "invalid JSON: got EOF while reading request body"},
		{"text/plain", `{}`, "unsupported Content-Type header (text/plain): must be 'application/json'"},
	} {
		resp, body := post(c.ct, c.body)
		if resp.StatusCode != 400 || !strings.HasPrefix(message(t, body), c.want) {
			t.Errorf("%s %q: %d %s, want 400 %q", c.ct, c.body, resp.StatusCode, body, c.want)
		}
	}
}

func TestQueryFilters(t *testing.T) {
	for raw, want := range map[string]string{
		`{"label":{"a=b":true,"c":true},"type":{"container":true}}`: "label=a=b label=c type=container",
		`{"event":["start","die"]}`:                                 "event=die event=start",
		``:                                                          "",
	} {
		r := httptest.NewRequest("GET", "/events?filters="+urlQuery(raw), nil)
		f, err := queryFilters(r)
		if err != nil || strings.Join(f.flags(), " ") != want {
			t.Errorf("%s: %v %v, want %s", raw, f.flags(), err, want)
		}
	}
	r := httptest.NewRequest("GET", "/events?filters="+urlQuery(`{"label":3}`), nil)
	if _, err := queryFilters(r); statusOf(err) != 400 {
		t.Errorf("bad filters: %v", err)
	}
	for v, want := range map[string]time.Time{
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 500000000),
		"1700000000.000000001": time.Unix(1700000000, 1),
	} {
		got, ok, err := queryTime(httptest.NewRequest("GET", "/events?since="+v, nil), "since")
		if err != nil || !ok || !got.Equal(want) {
			t.Errorf("since=%s: %v %v %v", v, got, ok, err)
		}
	}
	if _, _, err := queryTime(httptest.NewRequest("GET", "/events?since=yesterday", nil), "since"); statusOf(err) != 400 {
		t.Errorf("since=yesterday: %v", err)
	}
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// A hijacked stream, as docker's attach: 101 with Upgrade: tcp (200 without),
// multiplexed output that stdcopy reads, and the client's half-close seen as
// the end of its input while output still flows.
func TestHijack(t *testing.T) {
	s, hs := newServer(t)
	s.rt.handle("POST", "/echo", func(w http.ResponseWriter, r *http.Request) error {
		conn, err := hijack(w, r, streamContentType(r, false))
		if err != nil {
			return err
		}
		defer conn.Close()
		stdout, stderr, _ := multiplex(conn)
		in, err := io.ReadAll(conn) // until the client's half-close
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "got %q", in)
		fmt.Fprint(stderr, "done")
		return nil
	})
	for _, upgrade := range []bool{true, false} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(hs.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		req := "POST /v1.50/echo HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n"
		if upgrade {
			req += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
		}
		// The input follows the request at once, before the answer: it must
		// not be lost in the server's buffer.
		fmt.Fprint(conn, req+"\r\nhello")
		conn.(*net.TCPConn).CloseWrite()
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		wantCode := 200
		if upgrade {
			wantCode = 101
		}
		if resp.StatusCode != wantCode || resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" ||
			resp.Header.Get("API-Version") != MaxAPIVersion || (upgrade && resp.Header.Get("Upgrade") != "tcp") {
			t.Errorf("upgrade %v: %s %v", upgrade, resp.Status, resp.Header)
		}
		var out, errb bytes.Buffer
		if _, err := stdcopy.StdCopy(&out, &errb, br); err != nil {
			t.Fatal(err)
		}
		if out.String() != `got "hello"` || errb.String() != "done" {
			t.Errorf("upgrade %v: stdout %q stderr %q", upgrade, out.String(), errb.String())
		}
		conn.Close()
	}
	// Before 1.42 the multiplexed stream was called raw.
	r := httptest.NewRequest("POST", "/v1.41/x", nil)
	if vr, _ := withVersion(r); streamContentType(vr, false) != "application/vnd.docker.raw-stream" || streamContentType(vr, true) != "application/vnd.docker.raw-stream" {
		t.Error("1.41 stream content type")
	}
}

// A JSON message stream: 200 at once, one message a line, an error mid-stream
// as the last message with errorDetail and error.
func TestJSONStream(t *testing.T) {
	s, hs := newServer(t)
	s.rt.handle("POST", "/pull", func(w http.ResponseWriter, r *http.Request) error {
		js := newJSONStream(w)
		js.Progress(jsonstream.Message{ID: "layer1", Status: "Downloading", Progress: &jsonstream.Progress{Current: 5, Total: 10}})
		js.Progress(jsonstream.Message{ID: "layer1", Status: "Download complete"})
		js.Error(errors.New("manifest unknown"))
		return errors.New("manifest unknown") // too late for a status: logged only
	})
	resp, body := do(t, hs, "POST", "/pull", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	want := []string{
		`{"status":"Downloading","progressDetail":{"current":5,"total":10},"id":"layer1"}`,
		`{"status":"Download complete","id":"layer1"}`,
		`{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("stream:\n%s\nwant:\n%s", body, strings.Join(want, "\n"))
	}
}
