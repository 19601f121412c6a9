package docker

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/testutil"
	"github.com/moby/moby/api/pkg/stdcopy"
)

// startServer is a Server over an engine on temporary roots that starts real
// containers (its monitor is a build of this tree's hull), with busybox, and an
// HTTP server on it; hull runs hull's CLI on the same roots.
func startServer(t *testing.T) (*Server, *httptest.Server, func(args ...string) string) {
	t.Helper()
	testutil.RequireRoot(t)
	if _, err := os.Stat(testutil.Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	bin := dockertest.Binary(t)
	e, err := engine.New(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e.Exe = bin
	if _, err := image.BusyboxImage(context.Background(), e.Images, "busybox"); err != nil {
		t.Fatal(err)
	}
	s := New(e, Options{Logger: slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	hs := httptest.NewServer(s)
	hull := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"--root", e.Root, "--state", e.StateDir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("hull %v: %v\n%s", args, err, out)
		}
		return string(bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		hs.Close()
		if ids, err := exec.Command(bin, "--root", e.Root, "--state", e.StateDir, "ps", "-aq").Output(); err == nil {
			for _, id := range bytes.Fields(ids) {
				exec.Command(bin, "--root", e.Root, "--state", e.StateDir, "rm", "-f", string(id)).Run()
			}
		}
	})
	return s, hs, hull
}

// hijackRequest sends a request asking for the upgrade, as docker's clients do,
// and returns the answer's status and the connection.
func hijackRequest(t *testing.T, hs *httptest.Server, method, path string) (int, *net.TCPConn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest(method, "http://docker"+path, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, conn.(*net.TCPConn), br
}

// docker run -i: the client attaches to the created container, then starts it.
// It sees the output from the first byte, its input reaches the container, and
// its half-close closes the container's stdin while the output flows on.
func TestAttachBeforeStart(t *testing.T) {
	s, hs, hull := startServer(t)
	id := hull("create", "-i", "--network", "none", "busybox", "sh", "-c", "echo first; cat; echo done >&2; exit 5")
	code, conn, br := hijackRequest(t, hs, "POST", "/v1.50/containers/"+id+"/attach?stream=1&stdin=1&stdout=1&stderr=1")
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("attach: %d", code)
	}
	if _, err := s.e.Start(id, nil); err != nil { // what POST /containers/{id}/start does
		t.Fatal(err)
	}
	conn.Write([]byte("hel\x10\x11lo\n")) // without a terminal the detach keys are data
	conn.CloseWrite()
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { _, err := stdcopy.StdCopy(&stdout, &stderr, br); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the stream did not end: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if stdout.String() != "first\nhel\x10\x11lo\n" || stderr.String() != "done\n" {
		t.Errorf("attached before the start: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if got := hull("inspect", "-f", "{{.State.ExitCode}}", id); got != "5" {
		t.Errorf("exit code %s", got)
	}

	// A client that went before the start does not keep the next from
	// attaching: the last one waiting is the starter, the one before is let go.
	id2 := hull("create", "--network", "none", "busybox", "echo", "x")
	code, _, br1 := hijackRequest(t, hs, "POST", "/v1.50/containers/"+id2+"/attach?stream=1&stdout=1")
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("attach: %d", code)
	}
	code, _, br2 := hijackRequest(t, hs, "POST", "/v1.50/containers/"+id2+"/attach?stream=1&stdout=1")
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("second attach: %d", code)
	}
	if out, err := io.ReadAll(br1); err != nil || len(out) != 0 {
		t.Errorf("the first client: %q, %v", out, err)
	}
	if _, err := s.e.Start(id2, nil); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if _, err := stdcopy.StdCopy(&stdout, io.Discard, br2); err != nil || stdout.String() != "x\n" {
		t.Errorf("the second client: %q, %v", stdout.String(), err)
	}
}

// A client waiting on a unix socket for the start that leaves is let go at
// once (the idle timeout counts it no more); one that only ended its input
// (docker run -i with its stdin at EOF before the start) still waits, and its
// input is the container's.
func TestAttachBeforeStartClientGone(t *testing.T) {
	s, _, hull := startServer(t)
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	attach := func(id, query string) (*net.UnixConn, *bufio.Reader) {
		t.Helper()
		conn, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		req, _ := http.NewRequest("POST", "http://docker/v1.50/containers/"+id+"/attach?"+query, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "tcp")
		req.Write(conn)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, req)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("attach: %v %v", resp, err)
		}
		return conn.(*net.UnixConn), br
	}
	idle := func() bool {
		deadline := time.Now().Add(3 * time.Second)
		for s.active.Load() != 0 {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}

	id := hull("create", "-i", "--network", "none", "busybox", "sh", "-c", "cat; echo end")
	conn, _ := attach(id, "stream=1&stdout=1")
	conn.Close()
	if !idle() {
		t.Fatalf("a client gone before the start still holds a request (%d in flight)", s.active.Load())
	}

	conn, br := attach(id, "stream=1&stdin=1&stdout=1")
	conn.Write([]byte("x\n"))
	conn.CloseWrite()
	time.Sleep(300 * time.Millisecond)
	if s.active.Load() != 1 {
		t.Fatalf("a client that ended its input was let go (%d in flight)", s.active.Load())
	}
	if _, err := s.e.Start(id, nil); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, io.Discard, br); err != nil || stdout.String() != "x\nend\n" {
		t.Errorf("after the start: %q, %v", stdout.String(), err)
	}
}
