package dockerapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// goClient is the official Go client on the service, speaking API 1.50 as the
// docker CLI here does.
func goClient(t *testing.T, s *dockertest.Service) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(s.Host), client.WithAPIVersion("1.50"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// status is the HTTP status of a client's error, from the kind the client
// makes of it (0: none of these).
func status(err error) int {
	switch {
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsConflict(err):
		return http.StatusConflict
	case errdefs.IsInvalidArgument(err):
		return http.StatusBadRequest
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	}
	return 0
}

// demux reads a multiplexed stream to its end.
func demux(t *testing.T, r io.Reader) (stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	if _, err := stdcopy.StdCopy(&o, &e, r); err != nil {
		t.Fatalf("read the multiplexed stream: %v (stdout %q, stderr %q)", err, o.String(), e.String())
	}
	return o.String(), e.String()
}

// timeout fails the test if fn has not returned after d.
func timeout(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: not done after %v", what, d)
	}
}

// An exec is created, started on a hijacked stream with stdin, stdout and stderr
// apart, and inspected after its end; its options (env, user, workdir) apply.
func TestExecGoClient(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "run", "-d", "--network", "none", "--name", "c1", "busybox", "sleep", "300").Ok(t)
	c := goClient(t, s)
	ctx := context.Background()

	x, err := c.ExecCreate(ctx, "c1", client.ExecCreateOptions{
		Cmd:         []string{"sh", "-c", `echo "out $A $(id -u) $(pwd)"; echo err >&2; read line; echo "got $line"; cat; exit 3`},
		Env:         []string{"A=1"},
		User:        "nobody",
		WorkingDir:  "/tmp",
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	hj, err := c.ExecAttach(ctx, x.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := hj.MediaType(); mt != "application/vnd.docker.multiplexed-stream" {
		t.Errorf("media type %q", mt)
	}
	hj.Conn.Write([]byte("hello\nrest\n"))
	hj.CloseWrite() // the exec's stdin ends: cat ends
	var stdout, stderr string
	timeout(t, 20*time.Second, "the exec's stream", func() { stdout, stderr = demux(t, hj.Reader) })
	hj.Close()
	if stdout != "out 1 65534 /tmp\ngot hello\nrest\n" || stderr != "err\n" {
		t.Errorf("exec: stdout %q, stderr %q", stdout, stderr)
	}
	in, err := c.ExecInspect(ctx, x.ID, client.ExecInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Running || in.ExitCode != 3 || in.ID != x.ID || !strings.HasPrefix(in.ContainerID, strings.TrimSpace(s.Hull(t, "inspect", "-f", "{{.Id}}", "c1").Ok(t))) {
		t.Errorf("exec inspect: %+v", in)
	}
	// The raw answer: docker's fields.
	resp, err := s.Client().Get("http://docker/v1.50/exec/" + x.ID + "/json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	pc, _ := raw["ProcessConfig"].(map[string]any)
	if raw["ExitCode"] != float64(3) || raw["OpenStdin"] != true || pc["entrypoint"] != "sh" || pc["user"] != "nobody" || pc["tty"] != false {
		t.Errorf("exec json: %v", raw)
	}
	// Started once only.
	if _, err := c.ExecStart(ctx, x.ID, client.ExecStartOptions{Detach: true}); status(err) != http.StatusConflict {
		t.Errorf("second start: %v", err)
	}

	// A detached exec runs on; its end is recorded.
	d, err := c.ExecCreate(ctx, "c1", client.ExecCreateOptions{Cmd: []string{"sh", "-c", "sleep 0.3; exit 7"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecStart(ctx, d.ID, client.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
	if in, err := c.ExecInspect(ctx, d.ID, client.ExecInspectOptions{}); err != nil || !in.Running {
		t.Errorf("a detached exec just started: %+v, %v", in, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		in, err := c.ExecInspect(ctx, d.ID, client.ExecInspectOptions{})
		if err == nil && !in.Running {
			if in.ExitCode != 7 {
				t.Errorf("detached exec ended with %d", in.ExitCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("detached exec: %+v, %v", in, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A program that is not there: told on the stream, exit code 127.
	n, err := c.ExecCreate(ctx, "c1", client.ExecCreateOptions{Cmd: []string{"/nosuch"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	hj, err = c.ExecAttach(ctx, n.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stdout, _ = demux(t, hj.Reader)
	hj.Close()
	if !strings.Contains(stdout, "/nosuch") {
		t.Errorf("exec of a missing program: %q", stdout)
	}
	if in, err := c.ExecInspect(ctx, n.ID, client.ExecInspectOptions{}); err != nil || in.ExitCode != 127 || in.Running {
		t.Errorf("exec of a missing program: %+v, %v", in, err)
	}

	// Bad requests.
	if _, err := c.ExecCreate(ctx, "nosuch", client.ExecCreateOptions{Cmd: []string{"true"}}); status(err) != http.StatusNotFound {
		t.Errorf("exec in no container: %v", err)
	}
	if _, err := c.ExecCreate(ctx, "c1", client.ExecCreateOptions{}); status(err) != http.StatusBadRequest {
		t.Errorf("exec without a command: %v", err)
	}
	if _, err := c.ExecCreate(ctx, "c1", client.ExecCreateOptions{Cmd: []string{"true"}, DetachKeys: "ctrl-"}); status(err) != http.StatusBadRequest {
		t.Errorf("exec with bad detach keys: %v", err)
	}
	if _, err := c.ExecInspect(ctx, strings.Repeat("a", 64), client.ExecInspectOptions{}); status(err) != http.StatusNotFound {
		t.Errorf("inspect of no exec: %v", err)
	}
	if _, err := c.ExecStart(ctx, "nosuch", client.ExecStartOptions{Detach: true}); status(err) != http.StatusNotFound {
		t.Errorf("start of no exec: %v", err)
	}
	s.Hull(t, "create", "--network", "none", "--name", "c2", "busybox", "true").Ok(t)
	if _, err := c.ExecCreate(ctx, "c2", client.ExecCreateOptions{Cmd: []string{"true"}}); status(err) != http.StatusConflict || !strings.Contains(err.Error(), "is not running") {
		t.Errorf("exec in a created container: %v", err)
	}

	// Removing the container removes its execs.
	s.Hull(t, "rm", "-f", "c1").Ok(t)
	if _, err := c.ExecInspect(ctx, x.ID, client.ExecInspectOptions{}); status(err) != http.StatusNotFound {
		t.Errorf("exec of a removed container: %v", err)
	}
}

// An exec with a terminal: raw output, its size from create and from resize.
func TestExecTTYGoClient(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "run", "-d", "--network", "none", "--name", "c1", "busybox", "sleep", "300").Ok(t)
	c := goClient(t, s)
	ctx := context.Background()
	x, err := c.ExecCreate(ctx, "c1", client.ExecCreateOptions{
		Cmd: []string{"sh", "-c", "stty size; read line; stty size; echo \"[$line]\"; exit 4"},
		TTY: true, ConsoleSize: client.ConsoleSize{Height: 30, Width: 100},
		AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	hj, err := c.ExecAttach(ctx, x.ID, client.ExecAttachOptions{TTY: true, ConsoleSize: client.ConsoleSize{Height: 30, Width: 100}})
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Close()
	if mt, _ := hj.MediaType(); mt != "application/vnd.docker.raw-stream" {
		t.Errorf("media type %q", mt)
	}
	buf := make([]byte, 4096)
	var got string
	timeout(t, 20*time.Second, "the first size", func() {
		for !strings.Contains(got, "\n") {
			n, err := hj.Reader.Read(buf)
			got += string(buf[:n])
			if err != nil {
				break
			}
		}
	})
	if !strings.Contains(got, "30 100\r\n") {
		t.Errorf("size at the start: %q", got)
	}
	if _, err := c.ExecResize(ctx, x.ID, client.ExecResizeOptions{Height: 12, Width: 34}); err != nil {
		t.Fatal(err)
	}
	hj.Conn.Write([]byte("hi\r"))
	rest, _ := io.ReadAll(hj.Reader)
	if !strings.Contains(string(rest), "12 34\r\n[hi]\r\n") {
		t.Errorf("after a resize: %q", rest)
	}
	if in, err := c.ExecInspect(ctx, x.ID, client.ExecInspectOptions{}); err != nil || in.ExitCode != 4 {
		t.Errorf("tty exec: %+v, %v", in, err)
	}
	if _, err := c.ExecResize(ctx, x.ID, client.ExecResizeOptions{Height: 1, Width: 1}); status(err) != http.StatusConflict {
		t.Errorf("resize of an ended exec: %v", err)
	}
}
