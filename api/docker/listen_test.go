package docker

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenPolicy(t *testing.T) {
	for _, uri := range []string{"tcp://127.0.0.1:0", "tcp://localhost:0", "tcp://[::1]:0"} {
		l, warning, err := Listen(uri, nil)
		if err != nil {
			if strings.Contains(uri, "::1") && strings.Contains(err.Error(), "cannot assign requested address") {
				continue // no IPv6 loopback here
			}
			t.Errorf("%s: %v", uri, err)
			continue
		}
		l.Close()
		if !strings.Contains(warning, "without TLS") {
			t.Errorf("%s: warning %q", uri, warning)
		}
	}
	for uri, want := range map[string]string{
		"tcp://0.0.0.0:0":        "refusing to serve the API on tcp://0.0.0.0:0 without TLS",
		"tcp://:0":               "refusing to serve the API on tcp://:0 without TLS",
		"tcp://0.0.0.0":          "refusing to serve the API on tcp://0.0.0.0:2375 without TLS",
		"tcp://192.0.2.1:2375":   "refusing to serve the API on tcp://192.0.2.1:2375 without TLS",
		"unix://relative/x.sock": "want an absolute path",
		"http://x":               `unknown scheme "http"`,
		"/run/hull/docker.sock":  "want unix:///PATH",
		"fd://":                  "want one socket from socket activation (LISTEN_FDS), have 0",
	} {
		if l, _, err := Listen(uri, nil); err == nil || !strings.Contains(err.Error(), want) {
			if l != nil {
				l.Close()
			}
			t.Errorf("%s: %v, want %q", uri, err, want)
		}
	}
}

// A socket file nobody listens on is replaced; a live one is refused; the
// socket is removed on Close, the listener made in a private directory leaves
// nothing behind.
func TestListenUnix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "docker.sock")
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close() // as a killed service leaves it
	l, _, err := Listen("unix://"+path, nil)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	if l.Addr().String() != path {
		t.Errorf("addr %s", l.Addr())
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, _, err := Listen("unix://"+path, nil); !errors.Is(err, ErrAlreadyServing) {
		t.Errorf("a second listener: %v", err)
	}
	l.Close()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "docker.sock.lock" {
			t.Errorf("left after Close: %s", e.Name())
		}
	}
	// The lock went with Close: the path can be served again.
	l, _, err = Listen("unix://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}
