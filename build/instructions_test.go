package build_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/build"
	"golang.org/x/sys/unix"
)

func TestBuildMetadataInstructions(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"Dockerfile": `ARG BASE=busybox
ARG UNUSED_GLOBAL=x
FROM $BASE AS base
ONBUILD RUN echo triggered > /onbuild
LABEL from.base=yes

FROM base
ARG VERSION=1.0
ARG WHO
ARG TARGETARCH
LABEL version=$VERSION who=${WHO:-nobody} "multi word"="a b"
MAINTAINER someone
EXPOSE 80 53/udp 8000-8001
VOLUME /data ["/logs"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
RUN echo "arch=$TARGETARCH version=$VERSION who=$WHO" > /args
USER nobody
RUN id -u > /tmp/uid
USER root
CMD echo hi
`})
	img := e.mustBuild(build.Options{BuildArgs: map[string]string{"WHO": "me", "NOTDECLARED": "z"}})
	c := e.config(img)
	cfg := c.Config
	if cfg.Labels["version"] != "1.0" || cfg.Labels["who"] != "me" || cfg.Labels["multi word"] != "a b" || cfg.Labels["from.base"] != "yes" {
		t.Errorf("labels %v", cfg.Labels)
	}
	if c.Author != "someone" {
		t.Errorf("author %q", c.Author)
	}
	for _, p := range []string{"80/tcp", "53/udp", "8000/tcp", "8001/tcp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("exposed ports %v lack %s", cfg.ExposedPorts, p)
		}
	}
	if _, ok := cfg.Volumes["/data"]; !ok || len(cfg.Volumes) != 2 {
		t.Errorf("volumes %v", cfg.Volumes)
	}
	if cfg.StopSignal != "SIGQUIT" {
		t.Errorf("stop signal %q", cfg.StopSignal)
	}
	if cfg.Healthcheck == nil || cfg.Healthcheck.Interval != 5*time.Second || cfg.Healthcheck.Retries != 2 ||
		strings.Join(cfg.Healthcheck.Test, " ") != "CMD-SHELL wget -q localhost || exit 1" {
		t.Errorf("healthcheck %+v", cfg.Healthcheck)
	}
	if strings.Join(cfg.Shell, " ") != "/bin/sh -ec" || strings.Join(cfg.Cmd, "|") != "/bin/sh|-ec|echo hi" {
		t.Errorf("shell %q cmd %q", cfg.Shell, cfg.Cmd)
	}
	if cfg.User != "root" {
		t.Errorf("user %q", cfg.User)
	}
	if len(cfg.OnBuild) != 0 {
		t.Errorf("the trigger is passed on: %q", cfg.OnBuild)
	}
	if got := e.readFile(img, "onbuild"); got != "triggered\n" {
		t.Errorf("onbuild trigger: %q", got)
	}
	if got := e.readFile(img, "args"); got != "arch=amd64 version=1.0 who=me\n" {
		t.Errorf("args %q", got)
	}
	if got := e.readFile(img, "tmp/uid"); got != "65534\n" {
		t.Errorf("uid %q", got)
	}
	for _, kv := range cfg.Env {
		if strings.HasPrefix(kv, "VERSION=") || strings.HasPrefix(kv, "WHO=") {
			t.Errorf("a build arg persisted in the env: %s", kv)
		}
	}
	if !strings.Contains(e.out.String(), "[Warning] One or more build-args [NOTDECLARED] were not consumed") {
		t.Errorf("no warning about the unused build arg:\n%s", e.out.String())
	}
	// The base stage's ONBUILD is in the base's image only: build it as a target.
	base := e.mustBuild(build.Options{Target: "base"})
	if bc := e.config(base); len(bc.Config.OnBuild) != 1 {
		t.Errorf("base's onbuild %q", bc.Config.OnBuild)
	}
}

func TestBuildScratchAndMultiStage(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{
		"Dockerfile": `FROM busybox AS builder
RUN mkdir -p /out && echo built > /out/artifact && ln -s artifact /out/link

FROM busybox AS broken
RUN echo "this stage is not needed" && exit 9

FROM scratch
COPY --from=builder /out/ /
COPY --from=busybox /bin/busybox /bin/sh
COPY --from=0 /out/artifact /again
`})
	img := e.mustBuild(build.Options{})
	if strings.Contains(e.out.String(), "not needed") {
		t.Errorf("an unneeded stage ran:\n%s", e.out.String())
	}
	root := e.rootfs(img)
	if got := e.readFile(img, "artifact"); got != "built\n" {
		t.Errorf("artifact %q", got)
	}
	if l, err := os.Readlink(filepath.Join(root, "link")); err != nil || l != "artifact" {
		t.Errorf("link %q %v", l, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "bin/sh")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("bin/sh: %v", err)
	}
	if len(img.Layers) != 3 {
		t.Errorf("%d layers, want 3 (scratch has none)", len(img.Layers))
	}
	// --target picks a stage; the one that fails is reached only when asked for.
	if _, err := e.build(build.Options{Target: "broken"}); err == nil || !strings.Contains(err.Error(), "exit code 9") {
		t.Errorf("target broken: %v", err)
	}
	if _, err := e.build(build.Options{Target: "nosuch"}); err == nil || !strings.Contains(err.Error(), `target stage "nosuch" could not be found`) {
		t.Errorf("target nosuch: %v", err)
	}
}

// runCount counts the RUN steps that ran (not from the cache) in plain output.
func runSteps(out string) (ran, cached []string) {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "STEP ") {
			continue
		}
		text := l[strings.Index(l, ": ")+2:]
		for j := i + 1; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "--> ") {
				if lines[j] == "--> cached" {
					cached = append(cached, text)
				} else if strings.HasPrefix(text, "RUN") || strings.HasPrefix(text, "COPY") {
					ran = append(ran, text)
				}
				break
			}
		}
	}
	return ran, cached
}

func TestBuildCacheRules(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{
		"Dockerfile": `FROM busybox
RUN echo first > /first
ARG V=1
COPY a.txt /a.txt
RUN echo "v=$V" > /v && cat /a.txt > /copy
COPY b.txt /b.txt
`,
		"a.txt": "a1\n", "b.txt": "b1\n",
	})
	first := e.mustBuild(build.Options{})
	ran, _ := runSteps(e.out.String())
	if len(ran) != 4 {
		t.Fatalf("first build ran %q", ran)
	}
	start := time.Now()
	again := e.mustBuild(build.Options{})
	cachedTook := time.Since(start)
	ran, cached := runSteps(e.out.String())
	if len(ran) != 0 || len(cached) != 4 {
		t.Errorf("unchanged rebuild ran %q, cached %q", ran, cached)
	}
	if again.Config != first.Config {
		t.Errorf("unchanged rebuild made %s, first %s", again.Config, first.Config)
	}
	t.Logf("cached rebuild: %v", cachedTook)

	// One COPY'd file changes: from that COPY on, the steps run again.
	e.write(map[string]string{"a.txt": "a2\n"})
	img := e.mustBuild(build.Options{})
	ran, cached = runSteps(e.out.String())
	if strings.Join(cached, "|") != "RUN echo first > /first" || len(ran) != 3 {
		t.Errorf("after a.txt changed: ran %q cached %q", ran, cached)
	}
	if got := e.readFile(img, "copy"); got != "a2\n" {
		t.Errorf("copy %q", got)
	}
	// Only a file's mtime changes: the content is the key, nothing runs.
	os.Chtimes(filepath.Join(e.ctx, "a.txt"), time.Now(), time.Now().Add(time.Hour))
	e.mustBuild(build.Options{})
	if ran, _ := runSteps(e.out.String()); len(ran) != 0 {
		t.Errorf("after touching a.txt: ran %q", ran)
	}
	// A build arg changes the key of the first RUN that sees it, and the steps
	// after it; not of a COPY before it.
	img = e.mustBuild(build.Options{BuildArgs: map[string]string{"V": "2"}})
	ran, _ = runSteps(e.out.String())
	if len(ran) != 2 || ran[0] != `RUN echo "v=$V" > /v && cat /a.txt > /copy` || e.readFile(img, "v") != "v=2\n" {
		t.Errorf("V=2: ran %q", ran)
	}
	// --no-cache runs everything.
	e.mustBuild(build.Options{NoCache: true})
	if ran, _ := runSteps(e.out.String()); len(ran) != 4 {
		t.Errorf("--no-cache ran %q", ran)
	}
	// Prune empties the cache: everything runs again; layers the images use stay.
	before, _ := e.store.Holds(build.CacheKind)
	r, err := build.Prune(e.store, build.PruneOptions{})
	if err != nil || r.Entries == 0 {
		t.Fatalf("prune: %+v %v", r, err)
	}
	// It names what it removed (the Docker API's CachesDeleted).
	slices.Sort(before)
	slices.Sort(r.Deleted)
	if !slices.Equal(before, r.Deleted) || len(r.Deleted) != r.Entries {
		t.Errorf("prune deleted %q, the cache had %q", r.Deleted, before)
	}
	if names, _ := e.store.Holds(build.CacheKind); len(names) != 0 {
		t.Errorf("holds after prune: %v", names)
	}
	if got := e.readFile(img, "v"); got != "v=2\n" {
		t.Errorf("an image lost its layers to prune: %q", got)
	}
	e.mustBuild(build.Options{})
	if ran, _ := runSteps(e.out.String()); len(ran) != 4 {
		t.Errorf("after prune ran %q", ran)
	}
}

func TestBuildDockerignore(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{
		"Dockerfile":       "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort > /list\n",
		".dockerignore":    "# comment\n*.log\nsecret/\nnode_modules\n!keep.log\ndocs/**/*.md\n",
		"app.go":           "package main\n",
		"debug.log":        "x\n",
		"keep.log":         "kept\n",
		"secret/key":       "k\n",
		"node_modules/x/y": "z\n",
		"docs/a/b.md":      "md\n",
		"docs/a/b.txt":     "txt\n",
	})
	img := e.mustBuild(build.Options{})
	want := "/ctx\n/ctx/.dockerignore\n/ctx/Dockerfile\n/ctx/app.go\n/ctx/docs\n/ctx/docs/a\n/ctx/docs/a/b.txt\n/ctx/keep.log\n"
	if got := e.readFile(img, "list"); got != want {
		t.Errorf("copied:\n%s\nwant:\n%s", got, want)
	}
	// podman's names: a Containerfile when there is no Dockerfile, and
	// .containerignore when there is no .dockerignore.
	os.Remove(filepath.Join(e.ctx, "Dockerfile"))
	os.Remove(filepath.Join(e.ctx, ".dockerignore"))
	e.write(map[string]string{"Containerfile": "FROM busybox\nCOPY . /ctx/\nRUN find /ctx -name '*.log' | sort > /list\n", ".containerignore": "*.log\n"})
	if got := e.readFile(e.mustBuild(build.Options{}), "list"); got != "" {
		t.Errorf("built from the Containerfile, with .containerignore: %q", got)
	}
	os.Remove(filepath.Join(e.ctx, "Containerfile"))
	os.Remove(filepath.Join(e.ctx, ".containerignore"))
	e.write(map[string]string{"Dockerfile": "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort > /list\n", ".dockerignore": "# comment\n*.log\nsecret/\nnode_modules\n!keep.log\ndocs/**/*.md\n"})
	// An ignored file changing does not break the cache.
	e.write(map[string]string{"debug.log": "changed\n"})
	e.mustBuild(build.Options{})
	if ran, _ := runSteps(e.out.String()); len(ran) != 0 {
		t.Errorf("an ignored file's change ran %q", ran)
	}
	// An ignored source is not found.
	e.write(map[string]string{"Dockerfile": "FROM busybox\nCOPY debug.log /\n"})
	if _, err := e.build(build.Options{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("COPY of an ignored file: %v", err)
	}
}

func TestBuildHeredocs(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"Dockerfile": `# syntax=docker/dockerfile:1
FROM busybox
ARG NAME=heredoc
RUN <<EOF
echo "line one" > /h1
echo "$NAME" >> /h1
EOF
RUN <<-EOT sh
	echo tabs stripped > /h2
	EOT
RUN <<EOF
#!/bin/sh
echo "from a script: $0" > /h3
EOF
COPY <<EOF /etc/app.conf
name=${NAME}
EOF
COPY <<A <<B /files/
a
A
b
B
`})
	img := e.mustBuild(build.Options{})
	checks := map[string]string{
		"h1": "line one\nheredoc\n", "h2": "tabs stripped\n", "h3": "from a script: /dev/pipes/EOF\n",
		"etc/app.conf": "name=heredoc\n", "files/A": "a\n", "files/B": "b\n",
	}
	for f, want := range checks {
		if got := e.readFile(img, f); got != want {
			t.Errorf("%s: %q, want %q", f, got, want)
		}
	}
}

// leftovers lists what a build may leave: runtime containers, cgroups, snapshots.
func (e *env) leftovers() []string {
	var out []string
	snaps, _ := e.store.Snapshotter().List()
	for _, s := range snaps {
		out = append(out, "snapshot "+s.Key)
	}
	for _, dir := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		ents, _ := os.ReadDir(dir)
		for _, d := range ents {
			if strings.HasPrefix(d.Name(), "hull-build-") {
				out = append(out, "cgroup "+filepath.Join(dir, d.Name()))
			}
		}
	}
	ents, _ := filepath.Glob(filepath.Join(e.b.StateDir, "*", "hull", "*"))
	out = append(out, ents...)
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), e.store.Root()) {
		out = append(out, "mount under the store")
	}
	return out
}

func TestBuildFailingRunLeavesNothing(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"Dockerfile": `FROM busybox
RUN echo kept > /kept
# the step that fails starts on line 4
RUN echo "about to fail"; \
    echo "on stderr" >&2; sleep 60 & exit 7
`})
	start := time.Now()
	_, err := e.build(build.Options{Tags: []string{"never"}})
	var be *build.Error
	if !errors.As(err, &be) {
		t.Fatalf("build: %v", err)
	}
	if be.Step != 3 || be.Total != 3 || be.ExitCode != 7 || !strings.Contains(be.Output, "about to fail") || !strings.Contains(be.Output, "on stderr") {
		t.Errorf("error %+v", be)
	}
	if be.File != "Dockerfile" || be.Line != 4 {
		t.Errorf("error at %s:%d, want Dockerfile:4", be.File, be.Line)
	}
	if !strings.Contains(err.Error(), "step 3/3 (Dockerfile:4): ") || !strings.Contains(err.Error(), "exit code 7") {
		t.Errorf("message %q", err)
	}
	// The background sleep dies with the container's pid namespace.
	if time.Since(start) > 30*time.Second {
		t.Errorf("the build waited for the RUN's background process")
	}
	if l := e.leftovers(); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
	if _, err := e.store.Get("never"); err == nil {
		t.Error("a failed build named an image")
	}
	// The step before the failure is cached.
	e.write(map[string]string{"Dockerfile": "FROM busybox\nRUN echo kept > /kept\n"})
	e.mustBuild(build.Options{})
	if ran, _ := runSteps(e.out.String()); len(ran) != 0 {
		t.Errorf("the successful step was not cached: %q", ran)
	}
}

func TestBuildHostileContext(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"inside/ok": "ok\n", "pwned": "pwned\n"})
	ctx := e.ctx
	// Symlinks that point out of the context, absolute and by "..".
	os.Symlink("/etc/shadow", filepath.Join(ctx, "shadow"))
	os.Symlink("../../../../../../etc", filepath.Join(ctx, "etc-up"))
	os.Symlink("/", filepath.Join(ctx, "hostroot"))
	// A FIFO and a device node: copied as nodes, never opened (a read of the FIFO
	// would block the build forever).
	if err := unix.Mkfifo(filepath.Join(ctx, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(ctx, "mem"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 1))); err != nil {
		t.Fatal(err)
	}
	marker := "/tmp/hull-build-escape-" + filepath.Base(ctx)
	t.Cleanup(func() { os.Remove(marker) })
	e.write(map[string]string{"Dockerfile": `FROM busybox
COPY . /ctx/
RUN ln -s /tmp /hosttmp && ln -s ../../../../tmp /uptmp
COPY pwned /hosttmp/hull-build-escape-` + filepath.Base(ctx) + `
COPY pwned /uptmp/up-` + filepath.Base(ctx) + `
`})
	done := make(chan struct{})
	var img interface{ String() string }
	go func() {
		defer close(done)
		i, err := e.build(build.Options{})
		if err != nil {
			t.Errorf("build: %v\n%s", err, e.out.String())
			return
		}
		img = i.Config
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the build hangs (a FIFO was opened?)")
	}
	if img == nil {
		return
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("COPY through a symlink in the image wrote on the host")
	}
	i, _ := e.store.Get(img.String())
	root := e.rootfs(i)
	for link, target := range map[string]string{"ctx/shadow": "/etc/shadow", "ctx/etc-up": "../../../../../../etc", "ctx/hostroot": "/"} {
		if got, err := os.Readlink(filepath.Join(root, link)); err != nil || got != target {
			t.Errorf("%s: %q %v (a symlink is copied as a symlink)", link, got, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, "ctx/fifo"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: %v %o", err, st.Mode)
	}
	if err := unix.Lstat(filepath.Join(root, "ctx/mem"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 1) {
		t.Errorf("device: %v %o", err, st.Mode)
	}
	// The writes through the image's symlinks landed inside the image.
	if got, err := os.ReadFile(filepath.Join(root, "tmp/hull-build-escape-"+filepath.Base(ctx))); err != nil || string(got) != "pwned\n" {
		t.Errorf("confined write: %q %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(root, "tmp/up-"+filepath.Base(ctx))); err != nil {
		t.Errorf("confined write by ..: %v", err)
	}
	// A source that is a symlink out of the context resolves inside it: not found.
	for _, src := range []string{"shadow", "etc-up/passwd", "hostroot/etc/passwd", "../../etc/passwd"} {
		e.write(map[string]string{"Dockerfile": "FROM busybox\nCOPY " + src + " /x\n"})
		if _, err := e.build(build.Options{}); err == nil {
			t.Errorf("COPY %s: read outside the context", src)
		}
	}
}

// tarOf makes a tar of files (name → content; a name ending in "/" a directory,
// content "->target" a symlink).
func tarOf(t *testing.T, files [][2]string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f[0], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f[1])), ModTime: time.Unix(1e9, 0)}
		switch {
		case strings.HasSuffix(f[0], "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case strings.HasPrefix(f[1], "->"):
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f[1][2:], 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(f[1]))
		}
	}
	tw.Close()
	return b.Bytes()
}

func TestBuildTarContext(t *testing.T) {
	e := newEnv(t)
	tmp := t.TempDir()
	// A tar context, gzip-compressed, as the Docker API sends it.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarOf(t, [][2]string{{"Dockerfile", "FROM busybox\nCOPY app/ /app/\n"}, {"app/", ""}, {"app/main", "main\n"}}))
	zw.Close()
	c, df, err := build.ReadContext(&gz, tmp)
	if err != nil || df != nil {
		t.Fatalf("read context: %v %q", err, df)
	}
	var js bytes.Buffer
	img, err := e.b.Build(context.Background(), build.Options{Context: c, Progress: build.JSONProgress(&js), Tags: []string{"fromtar"}})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := e.readFile(img, "app/main"); got != "main\n" {
		t.Errorf("app/main %q", got)
	}
	for _, want := range []string{`{"stream":"Step 1/2 : FROM busybox\n"}`, `{"aux":{"ID":"` + img.Config.String() + `"}}`, `"stream":"Successfully tagged fromtar\n"`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("json stream lacks %s:\n%s", want, js.String())
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("the unpacked context stays: %v", ents)
	}
	// bzip2 and xz, which docker's POST /build takes too (by the programs here,
	// to make them).
	plain := tarOf(t, [][2]string{{"Dockerfile", "FROM busybox\nCOPY app/ /app/\n"}, {"app/", ""}, {"app/main", "packed\n"}})
	for _, z := range []string{"bzip2", "xz"} {
		if _, err := exec.LookPath(z); err != nil {
			t.Logf("%s is not installed: not tried", z)
			continue
		}
		cmd := exec.Command(z, "-c")
		cmd.Stdin = bytes.NewReader(plain)
		packed, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		c, df, err := build.ReadContext(bytes.NewReader(packed), tmp)
		if err != nil || df != nil {
			t.Fatalf("%s context: %v %q", z, err, df)
		}
		img, err := e.b.Build(context.Background(), build.Options{Context: c})
		c.Close()
		if err != nil || e.readFile(img, "app/main") != "packed\n" {
			t.Errorf("build from a %s context: %v", z, err)
		}
		// Cut short: an error, not a context with less in it.
		if _, _, err := build.ReadContext(bytes.NewReader(packed[:len(packed)/2]), tmp); err == nil {
			t.Errorf("a truncated %s context was read", z)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("contexts left: %v", ents)
	}
	// A Dockerfile on stdin, no context.
	c, df, err = build.ReadContext(strings.NewReader("FROM busybox\nRUN echo stdin > /s\n"), tmp)
	if err != nil || !strings.HasPrefix(string(df), "FROM busybox") {
		t.Fatalf("dockerfile on stdin: %v %q", err, df)
	}
	img, err = e.b.Build(context.Background(), build.Options{Context: c, DockerfileData: df})
	c.Close()
	if err != nil || e.readFile(img, "s") != "stdin\n" {
		t.Fatalf("build from stdin: %v", err)
	}
	// A hostile tar: a ".." name is refused, nothing is written outside.
	evil := tarOf(t, [][2]string{{"Dockerfile", "FROM busybox\n"}, {"../../evil-" + filepath.Base(tmp), "x"}})
	if _, _, err := build.ReadContext(bytes.NewReader(evil), tmp); err == nil {
		t.Error("a tar with .. was accepted")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(tmp)), "evil-"+filepath.Base(tmp))); err == nil {
		t.Error("the tar wrote outside")
	}
	// A symlink, then a file through it: stays inside.
	evil = tarOf(t, [][2]string{{"Dockerfile", "FROM busybox\n"}, {"l", "->/tmp"}, {"l/evil-" + filepath.Base(tmp), "x"}})
	if c, _, err := build.ReadContext(bytes.NewReader(evil), tmp); err == nil {
		c.Close()
	}
	if _, err := os.Stat("/tmp/evil-" + filepath.Base(tmp)); err == nil {
		os.Remove("/tmp/evil-" + filepath.Base(tmp))
		t.Error("the tar wrote through its symlink onto the host")
	}
}

func TestBuildManyFiles(t *testing.T) {
	e := newEnv(t)
	for d := 0; d < 100; d++ {
		dir := filepath.Join(e.ctx, "src", fmt.Sprintf("d%02d", d))
		os.MkdirAll(dir, 0o755)
		for f := 0; f < 100; f++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", f)), []byte(fmt.Sprintf("%d/%d\n", d, f)), 0o644)
		}
	}
	e.write(map[string]string{"Dockerfile": "FROM busybox\nCOPY src /src\nRUN find /src -type f | wc -l > /count\n"})
	start := time.Now()
	img := e.mustBuild(build.Options{})
	t.Logf("10,000 files: cold %v", time.Since(start))
	if got := strings.TrimSpace(e.readFile(img, "count")); got != "10000" {
		t.Errorf("count %q", got)
	}
	if got := e.readFile(img, "src/d42/f17"); got != "42/17\n" {
		t.Errorf("d42/f17 %q", got)
	}
	start = time.Now()
	e.mustBuild(build.Options{})
	t.Logf("10,000 files: cached %v", time.Since(start))
	if ran, _ := runSteps(e.out.String()); len(ran) != 0 {
		t.Errorf("cached rebuild ran %q", ran)
	}
}

func TestBuildAdd(t *testing.T) {
	e := newEnv(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarOf(t, [][2]string{{"pkg/", ""}, {"pkg/bin", "binary\n"}, {"pkg/link", "->bin"}}))
	zw.Close()
	os.WriteFile(filepath.Join(e.ctx, "pkg.tar.gz"), gz.Bytes(), 0o644)
	modified := time.Date(2020, 5, 4, 3, 2, 1, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/remote.txt":
			w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
			fmt.Fprint(w, "remote content\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	e.write(map[string]string{"Dockerfile": `FROM busybox
ADD pkg.tar.gz /opt/
ADD ` + srv.URL + `/files/remote.txt /downloads/
ADD --checksum=sha256:` + sha256hex("remote content\n") + ` ` + srv.URL + `/files/remote.txt /checked
ADD --chown=65534:65534 pkg.tar.gz /notunpacked/
`})
	// (ADD --chown of an archive still unpacks it, owners from the archive.)
	img := e.mustBuild(build.Options{})
	root := e.rootfs(img)
	if got := e.readFile(img, "opt/pkg/bin"); got != "binary\n" {
		t.Errorf("unpacked bin %q", got)
	}
	if l, _ := os.Readlink(filepath.Join(root, "opt/pkg/link")); l != "bin" {
		t.Errorf("unpacked link %q", l)
	}
	fi, err := os.Stat(filepath.Join(root, "downloads/remote.txt"))
	if err != nil || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(modified) {
		t.Errorf("downloaded file: %v %v %v", err, fi.Mode(), fi.ModTime())
	}
	if got := e.readFile(img, "checked"); got != "remote content\n" {
		t.Errorf("checked %q", got)
	}
	e.write(map[string]string{"Dockerfile": "FROM busybox\nADD --checksum=sha256:" + strings.Repeat("0", 64) + " " + srv.URL + "/files/remote.txt /x\n"})
	if _, err := e.build(build.Options{}); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("bad checksum: %v", err)
	}
	e.write(map[string]string{"Dockerfile": "FROM busybox\nADD " + srv.URL + "/missing /x\n"})
	if _, err := e.build(build.Options{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing URL: %v", err)
	}
	e.write(map[string]string{"Dockerfile": "FROM busybox\nCOPY " + srv.URL + "/files/remote.txt /x\n"})
	if _, err := e.build(build.Options{}); err == nil {
		t.Error("COPY of a URL was accepted")
	}
}

func TestBuildRunMountsAndNetwork(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"data/in.txt": "bound\n", "Dockerfile": `FROM busybox
RUN --mount=type=cache,target=/cache echo run >> /cache/runs && wc -l < /cache/runs > /runs
RUN --mount=type=bind,source=data,target=/mnt cat /mnt/in.txt > /bound
RUN --mount=type=bind,source=data,target=/mnt,rw echo scribble > /mnt/new && cat /mnt/new > /scribbled
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && grep -q tmpfs /proc/mounts
RUN --mount=type=secret,id=token cat /run/secrets/token > /secret-was-read && test -z "$(ls /run/secrets 2>/dev/null)" || true
RUN --mount=type=secret,id=token,env=TOKEN echo "$TOKEN" > /secret-env
RUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /netdevs
`})
	img := e.mustBuild(build.Options{Secrets: map[string][]byte{"token": []byte("s3cret")}})
	root := e.rootfs(img)
	checks := map[string]string{"runs": "1\n", "bound": "bound\n", "scribbled": "scribble\n", "secret-was-read": "s3cret", "secret-env": "s3cret\n", "netdevs": "lo\n"}
	for f, want := range checks {
		if got := e.readFile(img, f); got != want {
			t.Errorf("%s: %q, want %q", f, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(e.ctx, "data/new")); err == nil {
		t.Error("a rw bind mount wrote into the context")
	}
	for _, p := range []string{"run/secrets", "cache", "mnt", "scratch"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("the mount point /%s is in the image", p)
		}
	}
	// The cache mount outlives the build; the layer cache does not look at it.
	e.mustBuild(build.Options{NoCache: true, Secrets: map[string][]byte{"token": []byte("s3cret")}})
	img = e.mustBuild(build.Options{NoCache: true, Secrets: map[string][]byte{"token": []byte("s3cret")}})
	if got := e.readFile(img, "runs"); got != "3\n" {
		t.Errorf("cache mount after three builds: %q", got)
	}
	// The host's network only when asked for.
	e.write(map[string]string{"Dockerfile": "FROM busybox\nRUN --network=host true\n"})
	if _, err := e.build(build.Options{}); err == nil || !strings.Contains(err.Error(), "--network host") {
		t.Errorf("RUN --network=host without the build's: %v", err)
	}
	e.write(map[string]string{"Dockerfile": "FROM busybox\nRUN cat /proc/net/dev | wc -l > /n\n"})
	img = e.mustBuild(build.Options{Network: "host"})
	if n := strings.TrimSpace(e.readFile(img, "n")); n == "3" {
		t.Errorf("--network host sees only loopback")
	}
	// --add-host: lines in RUN's /etc/hosts, and in the RUN's cache key.
	e.write(map[string]string{"Dockerfile": "FROM busybox\nRUN grep -E 'registry|v6' /etc/hosts > /seen || true\n"})
	img = e.mustBuild(build.Options{ExtraHosts: []string{"registry.local:10.1.2.3", "v6:[fd00::1]"}})
	if got := e.readFile(img, "seen"); got != "10.1.2.3\tregistry.local\nfd00::1\tv6\n" {
		t.Errorf("RUN's /etc/hosts with extra hosts: %q", got)
	}
	img = e.mustBuild(build.Options{})
	if got := e.readFile(img, "seen"); got != "" {
		t.Errorf("the extra hosts' RUN came from the cache without them: %q", got)
	}
	for _, bad := range []string{"noip", "name:999.1.1.1", ":1.2.3.4"} {
		if _, err := e.build(build.Options{ExtraHosts: []string{bad}}); err == nil || !strings.Contains(err.Error(), "add-host") {
			t.Errorf("add-host %q: %v", bad, err)
		}
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Limits reach RUN's cgroups and /dev/shm; bad ones are refused before any step.
func TestBuildLimits(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN (cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu.weight; grep ' /dev/shm ' /proc/mounts) > /seen 2>/dev/null || true\n"})
	img := e.mustBuild(build.Options{Limits: build.Limits{Memory: 64 << 20, CPUShares: 512, ShmSize: 1 << 20}})
	seen := e.readFile(img, "seen")
	// cgroup v1 (memory.limit_in_bytes, cpu.shares) or v2 (memory.max, cpu.weight)
	if !strings.Contains(seen, "67108864\n") || !(strings.Contains(seen, "512\n") || strings.Contains(seen, "20\n")) ||
		!strings.Contains(seen, "size=1024k") {
		t.Errorf("RUN with limits saw:\n%s", seen)
	}
	for _, c := range []struct {
		l   build.Limits
		msg string
	}{
		{build.Limits{Memory: 1 << 20}, "minimum memory limit allowed is 6MB"},
		{build.Limits{MemorySwap: 64 << 20}, "memory-swap: you should always set the memory limit"},
		{build.Limits{Memory: 64 << 20, MemorySwap: 32 << 20}, "memory-swap: minimum memoryswap limit"},
		{build.Limits{CPUPeriod: 10}, "cpu-period"},
		{build.Limits{CPUQuota: 10}, "cpu-quota"},
		{build.Limits{CpusetCpus: "1-0"}, "cpuset-cpus"},
		{build.Limits{ShmSize: -1}, "shm-size"},
	} {
		if _, err := e.build(build.Options{Limits: c.l}); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("limits %+v: %v", c.l, err)
		}
	}
}
