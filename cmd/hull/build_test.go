package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBuildCommand(t *testing.T) {
	h := newHullEnv(t, "hull")
	ctx := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ctx, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM busybox\nARG MSG=default\nCOPY msg /msg\nRUN echo \"$MSG\" >> /msg\nCMD [\"cat\", \"/msg\"]\n")
	write("msg", "from the context\n")
	iid := filepath.Join(t.TempDir(), "iid")
	// (--rm and --force-rm: docker's flags that old scripts pass, accepted.)
	out := h.ok("build", "-q", "--rm", "--force-rm", "-t", "built:1", "--build-arg", "MSG=given", "--label", "l=v", "--iidfile", iid, ctx)
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("build -q printed %q", out)
	}
	if data, _ := os.ReadFile(iid); string(data) != id {
		t.Errorf("iidfile %q, printed %q", data, id)
	}
	// Runnable at once.
	if got := h.ok("run", "--rm", "built:1"); got != "from the context\ngiven\n" {
		t.Errorf("run of the built image: %q", got)
	}
	var insp []struct {
		Config struct{ Labels map[string]string }
	}
	if err := json.Unmarshal([]byte(h.ok("image", "inspect", "built:1")), &insp); err != nil || len(insp) != 1 || insp[0].Config.Labels["l"] != "v" {
		t.Errorf("label: %v %+v", err, insp)
	}
	// A failing RUN: exit 1, the step and the exit code on stderr, plain progress.
	write("Dockerfile", "FROM busybox\nRUN echo output-of-the-step; exit 3\n")
	_, stderr, code := h.run("build", "--progress=plain", ctx)
	if code != 1 || !strings.Contains(stderr, "step 2/2 (Dockerfile:2): RUN echo output-of-the-step; exit 3: exit code 3") || !strings.Contains(stderr, "output-of-the-step") {
		t.Errorf("failing build: exit %d\n%s", code, stderr)
	}
	if s := h.snapshots(); len(s) != 0 {
		t.Errorf("a failed build left snapshots %v", s)
	}
	// A Dockerfile on stdin, no context; -o writes an OCI archive.
	archive := filepath.Join(t.TempDir(), "img.tar")
	_, stderr, code = h.runIn(strings.NewReader("FROM busybox\nRUN echo stdin > /s\n"), "build", "-t", "fromstdin", "-o", "type=oci,dest="+archive, "-")
	if code != 0 {
		t.Fatalf("build -: %s", stderr)
	}
	if fi, err := os.Stat(archive); err != nil || fi.Size() == 0 {
		t.Errorf("-o archive: %v", err)
	}
	// The files of the image, not an image: -o DIR (buildx's local output), and
	// type=tar.
	write("Dockerfile", "FROM busybox AS b\nRUN mkdir /out && echo artifact > /out/art && ln -s /etc/passwd /out/abs\n"+
		"FROM scratch\nCOPY --from=b /out /\n")
	outDir := filepath.Join(t.TempDir(), "out")
	tarFile := filepath.Join(t.TempDir(), "files.tar")
	h.ok("build", "-q", "-o", outDir, "-o", "type=tar,dest="+tarFile, ctx)
	if data, err := os.ReadFile(filepath.Join(outDir, "art")); err != nil || string(data) != "artifact\n" {
		t.Errorf("-o DIR: art %q %v", data, err)
	}
	if l, err := os.Readlink(filepath.Join(outDir, "abs")); err != nil || l != "/etc/passwd" {
		t.Errorf("-o DIR: abs %q %v", l, err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 2 {
		t.Errorf("-o DIR holds %d entries, want 2", len(ents))
	}
	if list, err := exec.Command("tar", "-tf", tarFile).Output(); err != nil || !strings.Contains(string(list), "art") {
		t.Errorf("-o type=tar: %q %v", list, err)
	}
	if s := h.snapshots(); len(s) != 0 {
		t.Errorf("the outputs left snapshots %v", s)
	}
	// A tar context on stdin: -f is a path inside it (as docker has it), not one
	// from here; a Dockerfile on stdin and -f too is ambiguous.
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for name, content := range map[string]string{"sub/Df": "FROM busybox\nCOPY in-tar /in-tar\n", "in-tar": "x\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		tw.Write([]byte(content))
	}
	tw.Close()
	if _, stderr, code := h.runIn(&tarball, "build", "-q", "-f", "sub/Df", "-t", "tarstdin", "-"); code != 0 {
		t.Errorf("build -f sub/Df - < tar: exit %d: %s", code, stderr)
	}
	if _, stderr, code := h.runIn(strings.NewReader("FROM busybox\n"), "build", "-f", filepath.Join(ctx, "Dockerfile"), "-"); code != 125 || !strings.Contains(stderr, "ambiguous") {
		t.Errorf("a Dockerfile on stdin and -f: exit %d: %s", code, stderr)
	}
	// Secrets: from a file, from a variable named by env=, from the variable
	// named by the id; in RUN, not in the image.
	secretFile := filepath.Join(t.TempDir(), "f")
	os.WriteFile(secretFile, []byte("from-file"), 0o600)
	t.Setenv("HULL_TEST_SECRET_VAR", "from-env")
	t.Setenv("HULL_TEST_SECRET_ID", "from-id")
	write("Dockerfile", "FROM busybox\n"+
		"RUN --mount=type=secret,id=f --mount=type=secret,id=e --mount=type=secret,id=HULL_TEST_SECRET_ID "+
		"cat /run/secrets/f /run/secrets/e /run/secrets/HULL_TEST_SECRET_ID > /seen\n")
	h.ok("build", "-q", "-t", "secrets", "--secret", "id=f,src="+secretFile, "--secret", "id=e,env=HULL_TEST_SECRET_VAR",
		"--secret", "id=HULL_TEST_SECRET_ID", ctx)
	if got := h.ok("run", "--rm", "secrets", "cat", "/seen"); got != "from-filefrom-envfrom-id" {
		t.Errorf("secrets seen by RUN: %q", got)
	}
	if _, stderr, code := h.run("build", "--secret", "id=x,env=HULL_TEST_NOT_SET", ctx); code != 125 || !strings.Contains(stderr, "HULL_TEST_NOT_SET is not set") {
		t.Errorf("a secret from an unset variable: exit %d: %s", code, stderr)
	}
	// Bad flags: usage errors, exit 125.
	for _, args := range [][]string{
		{"build", "--progress=fancy", ctx},
		{"build", "-o", "type=zip,dest=x", ctx},
		{"build", "--platform", "linux/arm64", ctx},
	} {
		if _, stderr, code := h.run(args...); code == 0 || stderr == "" {
			t.Errorf("%v: exit %d %q", args, code, stderr)
		}
	}
	// The cache: builder prune removes it, the images stay.
	out = h.ok("builder", "prune", "-f")
	if !strings.Contains(out, "Deleted build cache objects: ") || strings.Contains(out, "objects: 0\n") {
		t.Errorf("builder prune: %q", out)
	}
	if got := h.ok("run", "--rm", "built:1"); got != "from the context\ngiven\n" {
		t.Errorf("after prune: %q", got)
	}
}

// TestBuildBridgeNetwork: --network bridge gives RUN an interface on the default
// network with a default route and a resolv.conf, and its lease survives a network
// reconcile while the build runs (a build's RUN is no container: without the build
// lease record, `network prune` would free it and take RUN's eth0 away). After the
// build no lease, record or veth is left.
func TestBuildBridgeNetwork(t *testing.T) {
	h := newHullEnv(t, "hull")
	ctx := t.TempDir()
	df := `FROM busybox
RUN --mount=type=bind,target=/c cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | sort > /devs && \
    ip route | grep '^default via' > /route && cp /etc/resolv.conf /resolv && \
    i=0; while [ ! -e /c/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; \
    cat /sys/class/net/eth0/operstate > /after
`
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	leases := filepath.Join(h.root, "build-leases")
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer os.WriteFile(filepath.Join(ctx, "go"), nil, 0o644)
		for range 300 {
			if ents, _ := os.ReadDir(leases); len(ents) > 0 {
				h.run("network", "prune")
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Error("the build's lease record never appeared")
	}()
	_, stderr, code := h.run("build", "--progress=plain", "--network", "bridge", "-t", "netted", ctx)
	<-done
	if code != 0 {
		t.Fatalf("build --network bridge: exit %d\n%s", code, stderr)
	}
	h.ok("image", "inspect", "netted")
	cat := func(p string) string { return h.ok("run", "--rm", "netted", "cat", p) }
	if got := cat("/devs"); got != "eth0\nlo\n" {
		t.Errorf("RUN's interfaces %q", got)
	}
	if got := cat("/route"); !strings.HasPrefix(got, "default via ") {
		t.Errorf("RUN's default route %q", got)
	}
	if got := cat("/resolv"); !strings.Contains(got, "nameserver ") {
		t.Errorf("RUN's resolv.conf %q", got)
	}
	if got := cat("/after"); got != "up\n" {
		t.Errorf("eth0 after a network prune during the RUN: %q", got)
	}
	if ents, _ := os.ReadDir(leases); len(ents) != 0 {
		t.Errorf("lease records left: %v", ents)
	}
	data, _ := os.ReadFile(filepath.Join(h.root, "networks", "leases", "bridge.json"))
	if strings.Contains(string(data), "build-") {
		t.Errorf("a build's lease is left: %s", data)
	}
	// Without a network the default stays none.
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' > /devs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.ok("build", "-q", "-t", "unnetted", ctx)
	if got := h.ok("run", "--rm", "unnetted", "cat", "/devs"); got != "lo\n" {
		t.Errorf("RUN's interfaces without --network: %q", got)
	}
}

// TestBuildAfterKilledBuild: a build killed by SIGKILL in the middle of a RUN
// leaves the RUN's container running, its bundle and the build's snapshots; the
// next build on the same state sweeps them all, and so does builder prune.
func TestBuildAfterKilledBuild(t *testing.T) {
	h := newHullEnv(t, "hull")
	ctx := t.TempDir()
	t.Run("build", func(t *testing.T) { killedBuild(t, h, ctx, "build", "-q", ctx) })
	t.Run("builder prune", func(t *testing.T) { killedBuild(t, h, ctx, "builder", "prune") })
}

// killedBuild kills a build in the middle of a RUN, then runs hull with sweep,
// and checks that nothing of the killed build is left.
func killedBuild(t *testing.T, h *hullEnv, ctx string, sweep ...string) {
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN echo running-now; sleep 300\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := h.command(context.Background(), "build", "--progress=plain", ctx)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && sc.Text() != "running-now" {
	}
	cmd.Process.Kill()
	cmd.Wait()
	bundles, _ := filepath.Glob(filepath.Join(h.state, "build", "build-*"))
	if len(bundles) != 1 || !inCgroup(filepath.Base(bundles[0])) || len(h.snapshots()) == 0 {
		t.Fatalf("the killed build left no running RUN to sweep: bundles %v, snapshots %v", bundles, h.snapshots())
	}
	id := filepath.Base(bundles[0])
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nRUN true\n"), 0o644)
	h.ok(sweep...)
	if inCgroup(id) {
		t.Errorf("the killed build's RUN still runs")
	}
	if s := h.snapshots(); len(s) != 0 {
		t.Errorf("snapshots left: %v", s)
	}
	if ents, _ := os.ReadDir(filepath.Join(h.state, "build")); len(ents) != 0 {
		t.Errorf("left in the build state: %v", ents)
	}
}

// docker build's limits for RUN: --memory, --cpu-shares, --shm-size reach its
// cgroups and /dev/shm; a bad one is a usage error.
func TestBuildLimitFlags(t *testing.T) {
	h := newHullEnv(t, "hull")
	ctx := t.TempDir()
	df := "FROM busybox\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares > /seen; grep ' /dev/shm ' /proc/mounts >> /seen\nCMD [\"cat\", \"/seen\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	h.ok("build", "-q", "-m", "64m", "--cpu-shares", "512", "--shm-size", "1m", "-t", "limits", ctx)
	if got := h.ok("run", "--rm", "--network", "none", "limits"); !strings.HasPrefix(got, "67108864\n512\n") || !strings.Contains(got, "size=1024k") {
		t.Errorf("RUN's limits: %q", got)
	}
	for _, c := range []struct{ flags []string }{{[]string{"-m", "x"}}, {[]string{"-m", "1k"}}, {[]string{"--memory-swap", "32m", "-m", "64m"}}, {[]string{"--cpu-quota", "5"}}} {
		if _, stderr, code := h.run(append(append([]string{"build"}, c.flags...), ctx)...); code == 0 || !strings.Contains(stderr, "memory") && !strings.Contains(stderr, "cpu-quota") {
			t.Errorf("build %v: exit %d %s", c.flags, code, stderr)
		}
	}
}
