package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/testutil"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Files written through a bind and a named volume outlive the container (the named
// one until `volume rm`, which is refused while a container uses it); :ro refuses
// writes; rm -v and --rm take anonymous volumes along.
func TestVolumesSurviveRm(t *testing.T) {
	h := newHullEnv(t, "hull")
	bind := t.TempDir()
	_, stderr, code := h.run("run", "--name", "w", "-v", bind+":/b", "-v", "data:/d", "busybox",
		"sh", "-c", "echo bound > /b/f && echo named > /d/f")
	if code != 0 {
		t.Fatalf("write: exit %d: %s", code, stderr)
	}
	h.ok("rm", "w")
	if data, err := os.ReadFile(filepath.Join(bind, "f")); err != nil || string(data) != "bound\n" {
		t.Errorf("bind file after rm: %q %v", data, err)
	}
	if out := h.ok("run", "--rm", "-v", "data:/d", "busybox", "cat", "/d/f"); out != "named\n" {
		t.Errorf("named volume after rm: %q", out)
	}
	for _, v := range []string{bind + ":/d:ro", "data:/d:ro"} {
		_, stderr, code := h.run("run", "--rm", "-v", v, "busybox", "sh", "-c", "echo x > /d/g")
		if code == 0 || !strings.Contains(stderr, "Read-only file system") {
			t.Errorf("-v %s: write allowed (exit %d: %s)", v, code, stderr)
		}
	}
	h.ok("create", "--name", "user", "-v", "data:/d", "busybox", "true")
	if _, stderr, code := h.run("volume", "rm", "data"); code == 0 || !strings.Contains(stderr, "in use") {
		t.Errorf("volume rm of a used volume: exit %d: %s", code, stderr)
	}
	h.ok("rm", "user")
	h.ok("volume", "rm", "data")

	h.ok("run", "--name", "anon", "-v", "/scratch", "busybox", "true")
	if out := strings.Fields(h.ok("volume", "ls", "-q")); len(out) != 1 || len(out[0]) != 64 {
		t.Fatalf("anonymous volume: %q", out)
	}
	h.ok("rm", "-v", "anon")
	h.ok("run", "--rm", "--mount", "type=volume,target=/x", "--tmpfs", "/t:size=1m", "busybox", "true")
	if out := h.ok("volume", "ls", "-q"); out != "" {
		t.Errorf("rm -v and --rm left volumes: %q", out)
	}
}

// volumeImage imports an image built from busybox, with /app/seed.txt, an image
// VOLUME on /app, and /link, a symlink to outside (a host path).
func volumeImage(t *testing.T, h *hullEnv, outside string) {
	t.Helper()
	dir := t.TempDir()
	testutil.BusyboxRootfs(t, dir)
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app/seed.txt"), []byte("seed\n"), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	s, err := image.Open(h.root)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ocispec.ImageConfig{Cmd: []string{"sh"}, Volumes: map[string]struct{}{"/app": {}}}
	if _, err := s.ImportDir(dir, "vimg", image.ImportOptions{Config: cfg}); err != nil {
		t.Fatal(err)
	}
}

// A new volume mounted over an image directory is filled from it once; a symlink
// in the image cannot carry a mount (or the copy-up) out of the container's root.
func TestVolumeCopyUpAndSymlink(t *testing.T) {
	h := newHullEnv(t, "hull")
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "hostfile"), []byte("host\n"), 0o644)
	volumeImage(t, h, outside)

	if out := h.ok("run", "--rm", "vimg", "cat", "/app/seed.txt"); out != "seed\n" {
		t.Errorf("image VOLUME not filled: %q", out)
	}
	if out := h.ok("run", "--rm", "-v", "cu:/app", "vimg", "sh", "-c", "cat /app/seed.txt; rm /app/seed.txt"); out != "seed\n" {
		t.Errorf("named volume not filled: %q", out)
	}
	if out := h.ok("run", "--rm", "-v", "cu:/app", "vimg", "ls", "/app"); out != "" {
		t.Errorf("volume filled twice: %q", out)
	}

	out := h.ok("run", "--rm", "-v", "esc:/link", "-v", t.TempDir()+":/link/sub", "vimg",
		"sh", "-c", "ls /link; touch /link/new /link/sub/new2")
	if strings.Contains(out, "hostfile") {
		t.Errorf("the mount went to the host's %s: %q", outside, out)
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Errorf("a file written in the container landed in the host's %s", outside)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("host directory changed: %v", ents)
	}
	mp := strings.TrimSpace(h.ok("volume", "inspect", "-f", "{{.Mountpoint}}", "esc"))
	if _, err := os.Stat(filepath.Join(mp, "hostfile")); err == nil {
		t.Error("copy-up followed the symlink to the host")
	}
	if _, err := os.Stat(filepath.Join(mp, "new")); err != nil {
		t.Errorf("the volume did not get the file written through /link: %v", err)
	}
	h.ok("volume", "rm", "cu", "esc")
}

// Two containers of a pod talk over localhost and see one host name; sharing pid,
// each sees the other's processes; `pod rm -f` leaves nothing.
func TestPod(t *testing.T) {
	h := newHullEnv(t, "hull")
	t.Cleanup(func() {
		for _, p := range strings.Fields(h.ok("pod", "ls", "-q")) {
			h.run("pod", "rm", "-f", p)
		}
	})
	// -p with --network none: a clear refusal.
	if out, stderr, code := h.run("pod", "create", "--network", "none", "-p", "8080:80"); code == 0 {
		h.ok("pod", "rm", "-f", strings.TrimSpace(out))
	} else if !strings.Contains(stderr, "needs a network") {
		t.Errorf("pod create -p: exit %d: %s", code, stderr)
	}
	h.ok("pod", "create", "--name", "pp", "--hostname", "podhost", "--share", "net,ipc,uts,pid", "--network", "none")
	h.ok("run", "-d", "--pod", "pp", "--name", "srv", "busybox", "sh", "-c", "while :; do echo hello | nc -l -p 8080; done")
	out := h.ok("run", "--rm", "--pod", "pp", "busybox", "sh", "-c",
		"hostname; for i in $(seq 50); do nc 127.0.0.1 8080 </dev/null && break; sleep 0.1; done; ps -o args")
	if !strings.HasPrefix(out, "podhost\nhello\n") || !strings.Contains(out, "nc -l -p 8080") {
		t.Errorf("client in the pod: %q", out)
	}
	if out := h.ok("exec", "srv", "hostname"); out != "podhost\n" {
		t.Errorf("server's hostname %q", out)
	}
	if ns := h.inspect("srv", "{{json .Namespaces.net.SharedWith}}"); ns != `["pod:pp"]` {
		t.Errorf("srv's net namespace shared with %s", ns)
	}
	infra, _ := strconv.Atoi(strings.TrimSpace(h.ok("pod", "inspect", "-f", "{{.Infra.Pid}}", "pp")))
	if infra == 0 {
		t.Fatal("no infra pid")
	}
	if _, stderr, code := h.run("pod", "rm", "pp"); code == 0 {
		t.Error("pod rm of a running pod without -f")
	} else if !strings.Contains(stderr, "running") {
		t.Errorf("pod rm: %s", stderr)
	}
	h.ok("pod", "rm", "-f", "pp")
	if out := h.ok("ps", "-aq") + h.ok("pod", "ls", "-q") + h.ok("volume", "ls", "-q"); out != "" {
		t.Errorf("pod rm -f left %q", out)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(infra), "ns")); err == nil {
		if cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(infra), "cmdline")); strings.Contains(string(cmd), "pod-infra") {
			t.Errorf("infra process %d still runs", infra)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(h.root, "pods")); len(ents) != 0 {
		t.Errorf("pod records left: %v", ents)
	}
}

// --pid container:X sees X's processes; the record says whose namespace it is in.
func TestPidContainer(t *testing.T) {
	h := newHullEnv(t, "hull")
	h.ok("run", "-d", "--name", "x", "busybox", "sleep", "1000")
	if out := h.ok("run", "--rm", "--pid", "container:x", "busybox", "ps", "-o", "args"); !strings.Contains(out, "sleep 1000") {
		t.Errorf("--pid container:x sees %q", out)
	}
	h.ok("run", "-d", "--name", "y", "--pid", "container:x", "--uts", "host", "busybox", "sleep", "1000")
	if ns := h.inspect("y", "{{json .Namespaces.pid}}"); !strings.Contains(ns, `"owned":false,"sharedWith":["x"]`) {
		t.Errorf("y's pid namespace: %s", ns)
	}
	if ns := h.inspect("y", "{{json .Namespaces.uts.SharedWith}}"); ns != `["host"]` {
		t.Errorf("y's uts namespace: %s", ns)
	}
	if _, stderr, code := h.run("run", "--rm", "--userns", "auto", "busybox", "true"); code != 125 || !strings.Contains(stderr, "user namespaces in hull run are not supported yet") {
		t.Errorf("--userns auto: exit %d: %s", code, stderr)
	}
	start := time.Now()
	h.ok("rm", "-f", "y", "x")
	if time.Since(start) > 10*time.Second {
		t.Error("rm -f slow")
	}
}
