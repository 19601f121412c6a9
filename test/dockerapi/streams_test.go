package dockerapi

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/hullproject/hull/runtime/console"
	"github.com/hullproject/hull/runtime/console/ptytest"
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

	// Without a terminal the input is data, docker's detach keys (ctrl-p
	// ctrl-q) included: a file piped in holds them by chance.
	data := make([]byte, 300<<10)
	rand.Read(data)
	copy(data[1000:], "\x10\x11")
	m, err := c.ExecCreate(ctx, "c1", client.ExecCreateOptions{Cmd: []string{"md5sum"}, AttachStdin: true, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	hj, err = c.ExecAttach(ctx, m.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		hj.Conn.Write(data)
		hj.CloseWrite()
	}()
	timeout(t, 20*time.Second, "exec md5sum", func() { stdout, _ = demux(t, hj.Reader) })
	hj.Close()
	if want := fmt.Sprintf("%x  -\n", md5.Sum(data)); stdout != want {
		t.Errorf("exec of binary input: %q, want %q", stdout, want)
	}

	// A detached exec runs on; its end is recorded.
	d, err := c.ExecCreate(ctx, "c1", client.ExecCreateOptions{Cmd: []string{"sh", "-c", "sleep 0.3; exit 7"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecStart(ctx, d.ID, client.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
	if in, err := c.ExecInspect(ctx, d.ID, client.ExecInspectOptions{}); err != nil || !in.Running || in.PID == 0 {
		t.Errorf("a detached exec just started: %+v, %v", in, err)
	} else if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", in.PID)); string(comm) != "sh\n" {
		t.Errorf("the pid of a running exec, %d, is %q", in.PID, comm)
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

// An exec with a terminal: raw output, its size from create and from resize;
// through hull's runtime, which hands the pty's master out, and through runc,
// which proxies the terminal between the pty and its own stdio.
func TestExecTTYGoClient(t *testing.T) {
	t.Run("hull", func(t *testing.T) { testExecTTY(t, "hull") })
	t.Run("runc", func(t *testing.T) {
		if _, err := exec.LookPath("runc"); err != nil {
			t.Skip("runc is not installed")
		}
		testExecTTY(t, "runc")
	})
}

func testExecTTY(t *testing.T, runtime string) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "run", "-d", "--runtime", runtime, "--network", "none", "--name", "c1", "busybox", "sleep", "300").Ok(t)
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

// Logs: stdout and stderr apart, tail, since, until, timestamps; follow ends when
// the container does; bad parameters are 400s.
func TestLogsGoClient(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "run", "-d", "--network", "none", "--name", "c1", "busybox", "sh", "-c", "echo a; sleep 0.1; echo b >&2; sleep 0.1; echo c").Ok(t)
	s.Hull(t, "wait", "c1").Ok(t)
	c := goClient(t, s)
	ctx := context.Background()
	logs := func(o client.ContainerLogsOptions) (string, string) {
		t.Helper()
		r, err := c.ContainerLogs(ctx, "c1", o)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return demux(t, r)
	}
	if o, e := logs(client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true}); o != "a\nc\n" || e != "b\n" {
		t.Errorf("logs: stdout %q, stderr %q", o, e)
	}
	if o, e := logs(client.ContainerLogsOptions{ShowStdout: true}); o != "a\nc\n" || e != "" {
		t.Errorf("logs of stdout: stdout %q, stderr %q", o, e)
	}
	if o, e := logs(client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "2"}); o != "c\n" || e != "b\n" {
		t.Errorf("logs --tail 2: stdout %q, stderr %q", o, e)
	}
	if o, _ := logs(client.ContainerLogsOptions{ShowStdout: true, Details: true}); o != " a\n c\n" {
		t.Errorf("logs --details: %q", o)
	}
	if o, e := logs(client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Since: "2000000000"}); o != "" || e != "" {
		t.Errorf("logs since the future: stdout %q, stderr %q", o, e)
	}
	if o, _ := logs(client.ContainerLogsOptions{ShowStdout: true, Until: "1000000000"}); o != "" {
		t.Errorf("logs until the past: %q", o)
	}
	o, _ := logs(client.ContainerLogsOptions{ShowStdout: true, Timestamps: true})
	lines := strings.Split(strings.TrimSuffix(o, "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], " a") {
		t.Fatalf("logs -t: %q", o)
	}
	if ts, err := time.Parse(time.RFC3339Nano, strings.Fields(lines[0])[0]); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("logs -t: %q: %v", lines[0], err)
	}

	// Follow: until the container ends.
	s.Hull(t, "run", "-d", "--network", "none", "--name", "c2", "busybox", "sh", "-c", "echo 1; sleep 1; echo 2").Ok(t)
	r, err := c.ContainerLogs(ctx, "c2", client.ContainerLogsOptions{ShowStdout: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	timeout(t, 20*time.Second, "logs -f", func() { o, _ = demux(t, r) })
	r.Close()
	if o != "1\n2\n" {
		t.Errorf("logs -f: %q", o)
	}

	// A terminal's log is raw.
	s.Hull(t, "run", "-d", "-t", "--network", "none", "--name", "c3", "busybox", "echo", "tty").Ok(t)
	s.Hull(t, "wait", "c3").Ok(t)
	resp, err := s.Client().Get("http://docker/v1.50/containers/c3/logs?stdout=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" || string(body) != "tty\r\n" {
		t.Errorf("logs of a terminal: %s %q", resp.Header.Get("Content-Type"), body)
	}

	for _, q := range []string{"", "stdout=1&tail=x", "stdout=1&since=yesterday"} {
		resp, err := s.Client().Get("http://docker/v1.50/containers/c1/logs?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("logs?%s: %d", q, resp.StatusCode)
		}
	}
	if _, err := c.ContainerLogs(ctx, "nosuch", client.ContainerLogsOptions{ShowStdout: true}); status(err) != http.StatusNotFound {
		t.Errorf("logs of no container: %v", err)
	}
	s.Hull(t, "create", "--log-driver", "none", "--network", "none", "--name", "c4", "busybox", "true").Ok(t)
	if _, err := c.ContainerLogs(ctx, "c4", client.ContainerLogsOptions{ShowStdout: true}); status(err) != http.StatusNotImplemented || !strings.Contains(err.Error(), "does not support reading") {
		t.Errorf("logs of a container without a log: %v", err)
	}
}

// Attach to a running container: its input in, its output out (the detach keys
// are data without a terminal, as docker's); with a terminal the detach keys
// leave it running; logs=1 replays its log first.
func TestAttachGoClient(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "run", "-d", "-i", "--network", "none", "--name", "c1", "busybox", "sh", "-c", "echo ready; while read l; do [ \"$l\" = quit ] && exit 0; echo \"o:$l\"; echo \"e:$l\" >&2; done").Ok(t)
	c := goClient(t, s)
	ctx := context.Background()
	waitLog := func(name, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(s.Hull(t, "logs", name).Stdout, want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log of %s", want, name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog("c1", "ready")
	hj, err := c.ContainerAttach(ctx, "c1", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true, Logs: true, DetachKeys: "ctrl-x,x"})
	if err != nil {
		t.Fatal(err)
	}
	hj.Conn.Write([]byte("one\n\x18x\x10\x11two\nquit\n"))
	var o, e string
	timeout(t, 20*time.Second, "attach until the end", func() { o, e = demux(t, hj.Reader) })
	hj.Close()
	if o != "ready\no:one\no:\x18x\x10\x11two\n" || e != "e:one\ne:\x18x\x10\x11two\n" {
		t.Errorf("attach: stdout %q, stderr %q", o, e)
	}

	// With a terminal: ctrl-x then x detach (a ctrl-x alone is held back, then
	// sent on); the container runs on.
	s.Hull(t, "run", "-d", "-i", "-t", "--network", "none", "--name", "t1", "busybox", "sh", "-c", "while read l; do echo \"o:$l\"; done").Ok(t)
	hj, err = c.ContainerAttach(ctx, "t1", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, DetachKeys: "ctrl-x,x"})
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := hj.MediaType(); mt != "application/vnd.docker.raw-stream" {
		t.Errorf("attach to a terminal: %s", mt)
	}
	hj.Conn.Write([]byte("\x18one\r"))
	var raw []byte
	timeout(t, 20*time.Second, "attach to a terminal", func() {
		buf := make([]byte, 1024)
		for !strings.Contains(string(raw), "o:\x18one") {
			n, err := hj.Reader.Read(buf)
			raw = append(raw, buf[:n]...)
			if err != nil {
				break
			}
		}
	})
	if !strings.Contains(string(raw), "o:\x18one") {
		t.Fatalf("attach to a terminal: %q", raw)
	}
	hj.Conn.Write([]byte("\x18x"))
	timeout(t, 20*time.Second, "attach until the detach keys", func() { io.ReadAll(hj.Reader) })
	hj.Close()
	if st := s.Hull(t, "inspect", "-f", "{{.State.Status}}", "t1").Ok(t); strings.TrimSpace(st) != "running" {
		t.Errorf("after the detach keys: %s", st)
	}

	// Output only, until the container ends.
	hj, err = c.ContainerAttach(ctx, "t1", client.ContainerAttachOptions{Stream: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		s.Hull(t, "kill", "t1")
	}()
	timeout(t, 20*time.Second, "attach until the end", func() { raw, _ = io.ReadAll(hj.Reader) })
	hj.Close()
	if len(raw) != 0 {
		t.Errorf("attach after the detach: %q", raw)
	}

	// logs=1 without stream: the log, then the end.
	hj, err = c.ContainerAttach(ctx, "c1", client.ContainerAttachOptions{Logs: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	timeout(t, 10*time.Second, "attach logs=1", func() { o, e = demux(t, hj.Reader) })
	hj.Close()
	if o != "ready\no:one\no:\x18x\x10\x11two\n" || e != "e:one\ne:\x18x\x10\x11two\n" {
		t.Errorf("attach logs=1: stdout %q, stderr %q", o, e)
	}

	if _, err := c.ContainerAttach(ctx, "nosuch", client.ContainerAttachOptions{Stream: true, Stdout: true}); err == nil || !strings.Contains(err.Error(), "received 404") {
		t.Errorf("attach to no container: %v", err)
	}
	if _, err := c.ContainerAttach(ctx, "c1", client.ContainerAttachOptions{Stream: true, Stdout: true, DetachKeys: "ctrl-1"}); err == nil || !strings.Contains(err.Error(), "received 400") {
		t.Errorf("attach with bad detach keys: %v", err)
	}
	resp, err := s.Client().Get("http://docker/v1.50/containers/c1/attach/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("attach/ws: %d", resp.StatusCode)
	}
}

// Resize a running container's terminal; not a stopped one's.
func TestContainerResizeGoClient(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "run", "-d", "-t", "--network", "none", "--name", "c1", "busybox", "sh", "-c", "trap 'stty size' WINCH; echo ready; while true; do sleep 0.05; done").Ok(t)
	c := goClient(t, s)
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.Hull(t, "logs", "c1").Stdout, "ready") {
		if time.Now().After(deadline) {
			t.Fatal("the container did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := c.ContainerResize(ctx, "c1", client.ContainerResizeOptions{Height: 21, Width: 43}); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(s.Hull(t, "logs", "c1").Stdout, "21 43") {
		if time.Now().After(deadline) {
			t.Fatalf("no new size in the log: %q", s.Hull(t, "logs", "c1").Stdout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, q := range []string{"h=1", "h=x&w=1", "h=1&w=70000"} {
		resp, err := s.Client().Post("http://docker/v1.50/containers/c1/resize?"+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("resize?%s: %d", q, resp.StatusCode)
		}
	}
	s.Hull(t, "create", "--network", "none", "--name", "c2", "busybox", "true").Ok(t)
	if _, err := c.ContainerResize(ctx, "c2", client.ContainerResizeOptions{Height: 1, Width: 1}); status(err) != http.StatusConflict {
		t.Errorf("resize of a created container: %v", err)
	}
	if _, err := c.ContainerResize(ctx, "nosuch", client.ContainerResizeOptions{Height: 1, Width: 1}); status(err) != http.StatusNotFound {
		t.Errorf("resize of no container: %v", err)
	}
}

// docker-py's low-level client: exec (with and without a terminal, demuxed, its
// exit code), logs (tail, timestamps) and attach (logs=1).
func TestStreamsDockerPy(t *testing.T) {
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		t.Skip("docker-py (python3 -c 'import docker') is not installed")
	}
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "run", "-d", "--network", "none", "--name", "c1", "busybox", "sh", "-c", "echo a; sleep 0.1; echo b >&2; sleep 0.1; echo c; sleep 300").Ok(t)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.Hull(t, "logs", "c1").Stdout, "c") {
		if time.Now().After(deadline) {
			t.Fatal("the container did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	script := `
import docker, json, sys
api = docker.APIClient(base_url=sys.argv[1])
out = {}
x = api.exec_create("c1", ["sh", "-c", "echo out; echo err >&2; exit 6"], environment={"A": "1"})
out["exec"] = [s.decode() if s else "" for s in api.exec_start(x["Id"], demux=True)]
i = api.exec_inspect(x["Id"])
out["inspect"] = {"ExitCode": i["ExitCode"], "Running": i["Running"]}
x = api.exec_create("c1", "sh -c 'echo $A'", environment={"A": "tty"}, tty=True)
out["tty"] = api.exec_start(x["Id"], tty=True).decode()
# attach_socket: the hijacked stream as docker-py hands it out, its head read
# through a buffer; the log replayed at once must not be lost with it.
from docker.utils.socket import frames_iter, consume_socket_output, demux_adaptor
out["attach_socket"] = []
for i in range(20):
    sock = api.attach_socket("c1", params={"logs": 1, "stdout": 1, "stderr": 1})
    o, e = consume_socket_output((demux_adaptor(*f) for f in frames_iter(sock, False)), demux=True)
    out["attach_socket"].append((o or b"").decode() + "|" + (e or b"").decode())
    sock.close()
try:
    api.exec_create("nosuch", "true")
except docker.errors.NotFound as e:
    out["notfound"] = str(e)
out["logs"] = api.logs("c1").decode()
out["tail"] = api.logs("c1", tail=1).decode()
out["stderr"] = api.logs("c1", stdout=False, stderr=True).decode()
out["ts"] = api.logs("c1", timestamps=True, tail=1).decode()
out["attach"] = api.attach("c1", logs=True, stream=False).decode()
print(json.dumps(out))
`
	out, err := exec.Command("python3", "-c", script, s.Host).CombinedOutput()
	if err != nil {
		t.Fatalf("docker-py: %v\n%s", err, out)
	}
	var got struct {
		Exec    []string
		Inspect struct {
			ExitCode int
			Running  bool
		}
		TTY, Logs, Tail, Stderr, TS, Attach, NotFound string
		AttachSocket                                  []string `json:"attach_socket"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got.Exec) != 2 || got.Exec[0] != "out\n" || got.Exec[1] != "err\n" || got.Inspect.ExitCode != 6 || got.Inspect.Running {
		t.Errorf("docker-py exec: %s", out)
	}
	if got.TTY != "tty\r\n" {
		t.Errorf("docker-py exec with a terminal: %q", got.TTY)
	}
	if !strings.Contains(got.NotFound, "no such container") {
		t.Errorf("docker-py exec in no container: %q", got.NotFound)
	}
	for i, a := range got.AttachSocket {
		if a != "a\nc\n|b\n" {
			t.Errorf("docker-py attach_socket logs=1, try %d: %q", i, a)
		}
	}
	if len(got.AttachSocket) != 20 {
		t.Errorf("docker-py attach_socket: %s", out)
	}
	if got.Logs != "a\nb\nc\n" || got.Tail != "c\n" || got.Stderr != "b\n" || !strings.HasSuffix(got.TS, "Z c\n") || got.Attach != "a\nb\nc\n" {
		t.Errorf("docker-py logs and attach: %s", out)
	}
}

// dockerIn runs the docker CLI on the service with stdin from in.
func dockerIn(t *testing.T, s *dockertest.Service, in string, args ...string) dockertest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockertest.DockerBin(t), args...)
	cmd.Env = dockertest.DockerEnviron(s.Host, s.DockerConfig)
	cmd.Stdin = strings.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := dockertest.Result{Args: append([]string{"docker"}, args...), Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return r
}

// The docker CLI's exec and logs.
func TestDockerExecLogs(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "run", "-d", "--network", "none", "--name", "c1", "busybox", "sh", "-c", "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; sleep 300").Ok(t)
	if r := s.Docker(t, "exec", "c1", "sh", "-c", "echo out; echo err >&2; exit 4"); r.Code != 4 || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("docker exec: %+v", r)
	}
	if out := s.Docker(t, "exec", "-e", "A=1", "-u", "nobody", "-w", "/tmp", "c1", "sh", "-c", "echo $A $(id -u) $(pwd)").Ok(t); out != "1 65534 /tmp\n" {
		t.Errorf("docker exec -e -u -w: %q", out)
	}
	if r := dockerIn(t, s, "piped\nin\n", "exec", "-i", "c1", "sh", "-c", "cat; echo end"); r.Code != 0 || r.Stdout != "piped\nin\nend\n" {
		t.Errorf("docker exec -i: %+v", r)
	}
	if r := s.Docker(t, "exec", "-t", "c1", "tty"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "/dev/pts/") || !strings.HasSuffix(r.Stdout, "\r\n") {
		t.Errorf("docker exec -t: %+v", r)
	}
	if r := s.Docker(t, "exec", "c1", "/nosuch"); r.Code != 127 {
		t.Errorf("docker exec of a missing program: %+v", r)
	}
	if r := s.Docker(t, "exec", "nosuch", "true"); r.Code == 0 || !strings.Contains(r.Stderr, "No such container") && !strings.Contains(r.Stderr, "no such container") {
		t.Errorf("docker exec in no container: %+v", r)
	}

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.Hull(t, "logs", "c1").Stdout, "three") {
		if time.Now().After(deadline) {
			t.Fatal("no output")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := s.Docker(t, "logs", "c1"); r.Stdout != "one\nthree\n" || r.Stderr != "two\n" {
		t.Errorf("docker logs: %+v", r)
	}
	if r := s.Docker(t, "logs", "--tail", "1", "c1"); r.Stdout != "three\n" || r.Stderr != "" {
		t.Errorf("docker logs --tail 1: %+v", r)
	}
	if r := s.Docker(t, "logs", "--since", "1m", "-t", "c1"); !strings.HasSuffix(r.Stdout, "Z three\n") || !strings.HasSuffix(r.Stderr, "Z two\n") {
		t.Errorf("docker logs --since 1m -t: %+v", r)
	}
	if r := s.Docker(t, "logs", "--since", "2100-01-01T00:00:00Z", "c1"); r.Stdout != "" || r.Stderr != "" {
		t.Errorf("docker logs --since the future: %+v", r)
	}
	// hull logs reads the same.
	for _, args := range [][]string{{"--tail", "2"}, {"--details", "-t"}} {
		args = append(args, "c1")
		if h, d := s.Hull(t, append([]string{"logs"}, args...)...), s.Docker(t, append([]string{"logs"}, args...)...); h.Stdout != d.Stdout || h.Stderr != d.Stderr {
			t.Errorf("hull logs %+v, docker logs %+v", h, d)
		}
	}
	s.Hull(t, "run", "-d", "--network", "none", "--name", "c2", "busybox", "sh", "-c", "echo a; sleep 1; echo b").Ok(t)
	if out := s.Docker(t, "logs", "-f", "c2").Ok(t); out != "a\nb\n" {
		t.Errorf("docker logs -f: %q", out)
	}
}

// The docker CLI's run in the foreground (attach, start, wait) and attach.
func TestDockerRunAttach(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	if r := s.Docker(t, "run", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"); r.Code != 3 || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("docker run: %+v", r)
	}
	if r := s.Docker(t, "run", "-t", "--network", "none", "busybox", "sh", "-c", "echo tty; exit 2"); r.Code != 2 || r.Stdout != "tty\r\n" {
		t.Errorf("docker run -t: %+v", r)
	}
	if r := dockerIn(t, s, "piped\n", "run", "-i", "--network", "none", "busybox", "sh", "-c", "cat; echo done"); r.Code != 0 || r.Stdout != "piped\ndone\n" {
		t.Errorf("docker run -i: %+v", r)
	}
	if r := dockerIn(t, s, "x\n", "run", "--rm", "-i", "--network", "none", "busybox", "wc", "-l"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "1" {
		t.Errorf("docker run --rm -i: %+v", r)
	}

	// docker attach: the output of a running container until its end, its code.
	s.Hull(t, "run", "-d", "--network", "none", "--name", "a1", "busybox", "sh", "-c", "sleep 1; echo late; exit 5").Ok(t)
	if r := s.Docker(t, "attach", "a1"); r.Code != 5 || r.Stdout != "late\n" {
		t.Errorf("docker attach: %+v", r)
	}
	// With stdin: piped input reaches it. (The detach keys of a container
	// without a terminal are the server's: TestAttachGoClient.)
	s.Hull(t, "run", "-d", "-i", "--network", "none", "--name", "a2", "busybox", "sh", "-c", "read l; echo \"got $l\"; exit 6").Ok(t)
	if r := dockerIn(t, s, "x\n", "attach", "a2"); r.Code != 6 || r.Stdout != "got x\n" {
		t.Errorf("docker attach with piped input: %+v", r)
	}
}

// dockerOnPty runs the docker CLI on a terminal of its own, as a user's shell
// runs it.
func dockerOnPty(t *testing.T, s *dockertest.Service, args ...string) *ptytest.Term {
	t.Helper()
	cmd := exec.Command(dockertest.DockerBin(t), args...)
	cmd.Env = dockertest.DockerEnviron(s.Host, s.DockerConfig)
	return ptytest.Start(t, cmd)
}

// expect fails the test unless the terminal shows want.
func expect(t *testing.T, p *ptytest.Term, want string) {
	t.Helper()
	if !p.Expect(want) {
		t.Fatalf("the terminal did not show %q:\n%q", want, p.Output())
	}
}

// The docker CLI on a terminal: run -it and exec -it get its size and follow
// its changes, input goes through, the exit code comes back, and ctrl-p ctrl-q
// leaves the container running.
func TestDockerTerminal(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	p := dockerOnPty(t, s, "run", "-it", "--network", "none", "--name", "c1", "busybox", "sh")
	p.Master.Write([]byte("stty size\r"))
	expect(t, p, "24 80")
	console.SetSize(p.Master, 30, 100) // the user's window grows: SIGWINCH to docker
	time.Sleep(300 * time.Millisecond)
	p.Master.Write([]byte("stty size\r"))
	expect(t, p, "30 100")
	p.Master.Write([]byte("exit 3\r"))
	if code := p.Exit(); code != 3 {
		t.Errorf("docker run -it exited %d", code)
	}

	s.Hull(t, "run", "-d", "--network", "none", "--name", "c2", "busybox", "sleep", "300").Ok(t)
	p = dockerOnPty(t, s, "exec", "-it", "c2", "sh")
	p.Master.Write([]byte("stty size; tty\r"))
	expect(t, p, "24 80")
	expect(t, p, "/dev/pts/")
	p.Master.Write([]byte("exit 4\r"))
	if code := p.Exit(); code != 4 {
		t.Errorf("docker exec -it exited %d", code)
	}

	p = dockerOnPty(t, s, "run", "-it", "--network", "none", "--name", "c3", "busybox", "sh")
	p.Master.Write([]byte("echo $((6*7))\r"))
	expect(t, p, "42")
	p.Master.Write([]byte{0x10, 0x11}) // ctrl-p ctrl-q
	if code := p.Exit(); code != 0 {
		t.Errorf("docker run -it detached with %d", code)
	}
	if st := strings.TrimSpace(s.Hull(t, "inspect", "-f", "{{.State.Status}}", "c3").Ok(t)); st != "running" {
		t.Errorf("after ctrl-p ctrl-q: %s", st)
	}
}
