package main

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/hullproject/hull/internal/testutil"
)

func TestMain(m *testing.M) {
	code := testutil.Main(m)
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func TestImageCommands(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed")
	}
	bin := binary(t)
	root := t.TempDir()
	run := func(stdin io.Reader, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
		cmd.Stdin = stdin
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("hull %v: %v\n%s", args, err, errb.String())
		}
		return out.String()
	}
	id := strings.TrimSpace(run(nil, "import", "--busybox"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import --busybox printed %q", id)
	}
	run(nil, "tag", "busybox", "127.0.0.1:1/x/bb:v1")
	if got := run(nil, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(got, "docker.io/library/busybox:latest") {
		t.Errorf("images: %s", got)
	}
	if !strings.Contains(run(nil, "image", "inspect", "busybox"), id) {
		t.Error("inspect lacks the id")
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	run(nil, "push", "busybox", host+"/lib/busybox:1")
	saved := run(nil, "save", "busybox")
	run(nil, "rmi", "-f", "busybox")
	run(nil, "rmi", "127.0.0.1:1/x/bb:v1")
	if got := strings.TrimSpace(run(nil, "images", "-q")); got != "" {
		t.Fatalf("images left after rmi: %q", got)
	}
	run(strings.NewReader(saved), "load")
	if got := strings.TrimSpace(run(nil, "images", "-q")); !strings.HasPrefix(id, "sha256:"+got) || got == "" {
		t.Errorf("after load: %q, want %s", got, id)
	}
	out := run(nil, "pull", host+"/lib/busybox:1")
	if !strings.Contains(out, "already exists") {
		t.Errorf("pull of a stored image fetched again:\n%s", out)
	}
	if out := run(nil, "pull", "-q", host+"/lib/busybox:1"); strings.Contains(out, "exists") {
		t.Errorf("pull -q printed progress: %s", out)
	}
}
