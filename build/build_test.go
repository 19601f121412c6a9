package build_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hullproject/hull/build"
	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/ociruntime"
	"github.com/hullproject/hull/runtime"
	_ "github.com/hullproject/hull/runtime/nsenter"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func init() { runtime.LockInitThread() }

func TestMain(m *testing.M) {
	// RUN's containers are started by hull's runtime as this binary run again.
	if runtime.IsInit() {
		runtime.Init()
		return
	}
	os.Exit(testutil.Main(m))
}

// env is one test's store (busybox imported), runtime and context directory.
type env struct {
	t     *testing.T
	store *image.Store
	b     *build.Builder
	ctx   string
	out   bytes.Buffer
	views map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequireRoot(t)
	if _, err := os.Stat(testutil.Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	root, state := t.TempDir(), t.TempDir()
	s, err := image.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.BusyboxImage(context.Background(), s, "busybox"); err != nil {
		t.Fatal(err)
	}
	rt, err := ociruntime.New("hull", state)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: s, b: &build.Builder{Store: s, Runtime: rt, StateDir: state}, ctx: t.TempDir(), views: map[string]string{}}
	t.Cleanup(func() {
		snaps, _ := s.Snapshotter().List()
		if len(snaps) != 0 {
			t.Errorf("snapshots left: %v", snaps)
		}
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mounts), root) {
			t.Errorf("mounts left under %s", root)
		}
		if ents, _ := os.ReadDir(filepath.Join(state, "build")); len(ents) != 0 {
			t.Errorf("bundles left: %v", ents)
		}
	})
	return e
}

// write writes files into the context: name → content.
func (e *env) write(files map[string]string) {
	e.t.Helper()
	for n, c := range files {
		p := filepath.Join(e.ctx, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}

// build builds the context with opts (Context set here) and returns the image.
func (e *env) build(opts build.Options) (*image.Image, error) {
	e.t.Helper()
	c, err := build.DirContext(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	opts.Context = c
	e.out.Reset()
	if opts.Progress == nil {
		opts.Progress = build.PlainProgress(&e.out)
	}
	return e.b.Build(context.Background(), opts)
}

func (e *env) mustBuild(opts build.Options) *image.Image {
	e.t.Helper()
	img, err := e.build(opts)
	if err != nil {
		e.t.Fatalf("build: %v\n%s", err, e.out.String())
	}
	return img
}

func (e *env) config(img *image.Image) *dockerspec.DockerOCIImage {
	e.t.Helper()
	data, err := e.store.ReadBlob(img.Config, 1<<20)
	if err != nil {
		e.t.Fatal(err)
	}
	var c dockerspec.DockerOCIImage
	if err := json.Unmarshal(data, &c); err != nil {
		e.t.Fatal(err)
	}
	return &c
}

// rootfs mounts a read-only view of the image and returns its path.
func (e *env) rootfs(img *image.Image) string {
	e.t.Helper()
	key := "view-" + img.Config.Encoded()[:12]
	if p, ok := e.views[key]; ok {
		return p
	}
	p, err := e.store.View(key, img.Config.String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.views[key] = p
	e.t.Cleanup(func() { e.store.RemoveSnapshot(key) })
	return p
}

func (e *env) readFile(img *image.Image, p string) string {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.rootfs(img), p))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

func TestBuildCore(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{
		"Dockerfile": `FROM busybox
ENV GREETING=hello DIR=/app
WORKDIR $DIR
COPY hello.txt ./
RUN echo "$GREETING from $(pwd)" > out.txt && cat hello.txt >> out.txt
CMD ["cat", "/app/out.txt"]
ENTRYPOINT ["/bin/sh", "-c"]
`,
		"hello.txt": "world\n",
	})
	img := e.mustBuild(build.Options{Tags: []string{"app:1"}})
	c := e.config(img)
	if c.Config.WorkingDir != "/app" || !contains(c.Config.Env, "GREETING=hello") {
		t.Errorf("config %+v", c.Config)
	}
	// ENTRYPOINT drops a CMD the base image set, not one of this stage.
	if strings.Join(c.Config.Cmd, " ") != "cat /app/out.txt" || strings.Join(c.Config.Entrypoint, " ") != "/bin/sh -c" {
		t.Errorf("cmd %q entrypoint %q", c.Config.Cmd, c.Config.Entrypoint)
	}
	if got := e.readFile(img, "app/out.txt"); got != "hello from /app\nworld\n" {
		t.Errorf("out.txt %q", got)
	}
	if _, err := e.store.Get("app:1"); err != nil {
		t.Error(err)
	}
	t.Log(e.out.String())
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
