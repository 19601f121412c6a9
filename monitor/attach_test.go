package monitor

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns two connected SOCK_SEQPACKET ends: the client's and the hub's.
func pair(t *testing.T) (client, hub *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "sock")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { conns[i].Close() })
	}
	return conns[0], conns[1]
}

func recv(t *testing.T, c *net.UnixConn) (byte, string) {
	t.Helper()
	buf := make([]byte, MaxMsg+1)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil || n == 0 {
		t.Fatalf("read: %d %v", n, err)
	}
	return buf[0], string(buf[1:n])
}

func readN(t *testing.T, r *os.File, n int) string {
	t.Helper()
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

func TestHub(t *testing.T) {
	var h Hub
	starter, sHub := pair(t)
	h.Add(sHub, true)
	// Queued before the container exists: applied by Serve, in order.
	starter.Write([]byte("iearly"))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sigs := make(chan unix.Signal, 1)
	h.Begin(w, nil, func(s unix.Signal) { sigs <- s })
	h.Serve(sHub)
	if got := readN(t, r, 5); got != "early" {
		t.Errorf("queued input: %q", got)
	}
	other, oHub := pair(t)
	h.Add(oHub, false)
	h.Serve(oHub)
	h.Stdout().Write([]byte("out"))
	h.Stderr().Write([]byte("err"))
	for _, c := range []*net.UnixConn{starter, other} {
		if typ, p := recv(t, c); typ != MsgStdout || p != "out" {
			t.Errorf("stdout: %c %q", typ, p)
		}
		if typ, p := recv(t, c); typ != MsgStderr || p != "err" {
			t.Errorf("stderr: %c %q", typ, p)
		}
	}
	// Only the starter's end of input closes the container's stdin.
	other.Write([]byte{MsgCloseStdin})
	other.Write([]byte("ix"))
	if got := readN(t, r, 1); got != "x" {
		t.Errorf("input after another client's end: %q", got)
	}
	other.Write([]byte{MsgSignal, byte(unix.SIGTERM)})
	select {
	case s := <-sigs:
		if s != unix.SIGTERM {
			t.Errorf("signal %v", s)
		}
	case <-time.After(5 * time.Second):
		t.Error("no signal")
	}
	starter.Write([]byte{MsgCloseStdin})
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("stdin after the starter's end: %d %v", n, err)
	}
	h.End(3)
	for _, c := range []*net.UnixConn{starter, other} {
		typ, p := recv(t, c)
		var m Control
		json.Unmarshal([]byte(p), &m)
		if typ != MsgControl || m.Exit == nil || *m.Exit != 3 {
			t.Errorf("end: %c %q", typ, p)
		}
		if n, err := c.Read(make([]byte, 8)); n != 0 && err == nil {
			t.Error("client not dropped at the end")
		}
	}
	// Between runs a client is told, and let go.
	dir := t.TempDir()
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: filepath.Join(dir, "s"), Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go h.Accept(l)
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: filepath.Join(dir, "s"), Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if typ, p := recv(t, c); typ != MsgControl || p != `{"error":"the container is not running","code":125}` {
		t.Errorf("not running: %c %q", typ, p)
	}
}
