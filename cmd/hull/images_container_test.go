package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tarListing describes every entry of a tar archive, one line each, in archive
// order: name, type, mode, owner, mtime, link target, size and content digest.
func tarListing(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read exported tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s type=%c mode=%o uid=%d gid=%d mtime=%d link=%q size=%d sha=%x",
			h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime.UnixNano(), h.Linkname, len(body), sha256.Sum256(body)))
	}
}

// tarFile returns the content of name in the tar and whether it is there.
func tarFile(t *testing.T, data []byte, name string) (string, bool) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", false
		}
		if err != nil {
			t.Fatalf("read exported tar: %v", err)
		}
		if strings.TrimPrefix(h.Name, "./") == name {
			b, _ := io.ReadAll(tr)
			return string(b), true
		}
	}
}

func TestExportCommit(t *testing.T) {
	h := newHullEnv(t, "hull")
	h.ok("run", "--name", "c1", "busybox", "sh", "-c", "echo hello >/new && rm /bin/true /etc/group && mkdir /d && echo x >/d/f && ln /d/f /d/hl")

	exported := h.ok("export", "c1")
	data := []byte(exported)
	if got, ok := tarFile(t, data, "new"); !ok || got != "hello\n" {
		t.Errorf("export: /new = %q, %v", got, ok)
	}
	for _, gone := range []string{"bin/true", "etc/group"} {
		if _, ok := tarFile(t, data, gone); ok {
			t.Errorf("export: removed /%s is in the tar", gone)
		}
	}
	if _, ok := tarFile(t, data, "bin/busybox"); !ok {
		t.Error("export: /bin/busybox of the image is missing")
	}
	file := filepath.Join(t.TempDir(), "c1.tar")
	h.ok("export", "-o", file, "c1")
	if b, err := os.ReadFile(file); err != nil || !bytes.Equal(b, data) {
		t.Errorf("export -o differs from export to stdout: %v", err)
	}

	id := strings.TrimSpace(h.ok("commit", "-m", "made by a test", "-c", `CMD ["cat", "/new"]`, "-c", "ENV FOO=bar", "c1", "committed:v1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q", id)
	}
	if out := h.ok("run", "--rm", "committed:v1"); out != "hello\n" {
		t.Errorf("run of the committed image (its CMD): %q", out)
	}
	out, stderr, code := h.run("run", "--rm", "committed:v1", "sh", "-c", "test ! -e /bin/true && test ! -e /etc/group && cat /d/hl && echo $FOO")
	if code != 0 || out != "x\nbar\n" {
		t.Errorf("committed image: exit %d, %q %s", code, out, stderr)
	}
	if !strings.Contains(h.ok("history", "committed:v1"), "made by a test") {
		t.Error("history lacks the commit message")
	}

	// export | import - gives the same tree again.
	if _, stderr, code := h.runIn(bytes.NewReader(data), "import", "-", "roundtrip:v1"); code != 0 {
		t.Fatalf("import -: exit %d: %s", code, stderr)
	}
	h.ok("create", "--name", "c2", "roundtrip:v1", "true")
	again := []byte(h.ok("export", "c2"))
	a, b := tarListing(t, data), tarListing(t, again)
	if len(a) < 10 {
		t.Fatalf("export lists %d entries", len(a))
	}
	if !slices.Equal(a, b) {
		for _, l := range a {
			if !slices.Contains(b, l) {
				t.Errorf("only in the first export: %s", l)
			}
		}
		for _, l := range b {
			if !slices.Contains(a, l) {
				t.Errorf("only after the round trip: %s", l)
			}
		}
	}

	// A running container exports and commits as it is now.
	h.ok("run", "-d", "--name", "live", "busybox", "sh", "-c", "echo running >/live; exec sleep 60")
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := tarFile(t, []byte(h.ok("export", "live")), "live")
		if got == "running\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("export of the running container: /live = %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.ok("commit", "live", "live:snap")
	if out := h.ok("run", "--rm", "live:snap", "cat", "/live"); out != "running\n" {
		t.Errorf("image committed from a running container: %q", out)
	}
	h.ok("rm", "-f", "live")

	if _, stderr, code := h.run("export", "nosuch"); code == 0 || !strings.Contains(stderr, "nosuch") {
		t.Errorf("export of a missing container: exit %d, %s", code, stderr)
	}
}

func TestApplyChanges(t *testing.T) {
	cfg := ocispec.ImageConfig{Env: []string{"PATH=/bin", "A=1"}, Cmd: []string{"sh"}}
	err := applyChanges(&cfg, []string{
		`CMD ["echo", "hi there"]`, "ENTRYPOINT exec app", `ENV A=2 B="x y"`, "ENV C 3",
		"LABEL k=v", "USER app", "WORKDIR /srv", "EXPOSE 80 53/udp", "VOLUME /data", "STOPSIGNAL SIGINT",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := ocispec.ImageConfig{
		Cmd: []string{"echo", "hi there"}, Entrypoint: []string{"/bin/sh", "-c", "exec app"},
		Env: []string{"PATH=/bin", "A=2", "B=x y", "C=3"}, Labels: map[string]string{"k": "v"},
		User: "app", WorkingDir: "/srv", StopSignal: "SIGINT",
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}}, Volumes: map[string]struct{}{"/data": {}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	for _, bad := range []string{"RUN rm -rf /", `ENV A="open`, "ENV =x"} {
		if err := applyChanges(&cfg, []string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
