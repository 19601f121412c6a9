package peers_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/testutil"
	"golang.org/x/sys/unix"
)

// hull build beside podman build (buildah): the same Dockerfiles on the same
// context and base image must give the same image config (env, entrypoint, cmd,
// workdir, user, labels, ports, volumes, stop signal) and the same file tree (names,
// types, modes, owners, sizes, contents, link targets; not times). Where buildah
// and Docker differ, hull does as Docker does, and the test says so: WORKDIR makes
// its directory at once (buildah: when a later step needs it); a RUN after VOLUME
// does not make the volume's directory (buildah does). podman builds with --format
// docker: in its OCI format buildah drops SHELL; and buildah's SHELL applies to RUN
// only, Docker's to ENTRYPOINT's and CMD's shell form too (build's own tests check
// that), so the case sets ENTRYPOINT before SHELL. A RUN as USER uid:gid has no
// supplementary groups in Docker (BuildKit) and hull, buildah gives it gid, so the
// case does not print them.

// buildCases are the Dockerfiles compared; each gets the same context.
var buildCases = map[string]string{
	"basic": `FROM ` + imageRef + `
ENV APP=/srv/app PATH=/srv/app/bin:$PATH
WORKDIR $APP
COPY hello.txt ./
COPY bin/ bin/
RUN echo "built in $(pwd)" > built.txt && chmod 640 built.txt
USER nobody
CMD ["run.sh", "--flag"]
`,
	"copyflags": `FROM ` + imageRef + `
COPY --chown=65534:65534 tree /tree/
COPY --chmod=0700 hello.txt /private/hello
COPY --chown=nobody hello.txt /owned
COPY hello.txt bin/run.sh /many/
ADD archive.tar /unpacked/
`,
	"multistage": `FROM ` + imageRef + ` AS build
RUN mkdir -p /out/sub && echo artifact > /out/sub/a && ln -s sub/a /out/link
FROM ` + imageRef + `
COPY --from=build /out /app
RUN rm -rf /etc/group /tmp && mkdir /tmp && chmod 1777 /tmp
`,
	"args": `ARG G=global
FROM ` + imageRef + `
ARG G
ARG L=local-$G
ENV E1="a b" E2=${L}:suffix E3=${UNSET:-dflt} E4=${G:+set} E5='$G'
RUN echo "$G $L|$E1|$E2|$E3|$E4|$E5" > /vals
WORKDIR rel
WORKDIR sub
RUN pwd > /pwd && echo "$HOME" > /home
USER 65534:65534
RUN id -u > /tmp/id && id -g >> /tmp/id
USER root
ENTRYPOINT ["/bin/echo"]
CMD ["x"]
`,
	"copysemantics": `FROM ` + imageRef + `
COPY hello.txt /newdir/renamed
COPY tree /treecopy
COPY tree/* /globbed/
COPY t*e/d /globdir/
COPY bin/run.sh hello.txt /multi/
COPY . /whole/
WORKDIR /w
COPY hello.txt rel
COPY hello.txt ./
`,
	"user": `FROM ` + imageRef + `
RUN mkdir -p /home/nobody && chown 65534:65534 /home/nobody
USER nobody
WORKDIR /home/nobody
RUN touch mine && echo "$HOME" > home && id -u > uid
COPY --chown=nobody:nogroup hello.txt ./
USER root
COPY --chown=65534 hello.txt /numeric
`,
	"metadata": `FROM ` + imageRef + `
ENTRYPOINT exec echo hello
SHELL ["/bin/sh", "-ec"]
LABEL a=b c="d e"
EXPOSE 80 53/udp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD wget -q -O- localhost:80 || exit 1
WORKDIR /w/x
RUN echo "$0 $-" > /shell
VOLUME /data
`,
}

// buildContext writes the context every case builds from.
func buildContext(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{"hello.txt": "hello\n", "bin/run.sh": "#!/bin/sh\necho run\n", "tree/a": "a\n", "tree/d/b": "b\n"}
	for n, c := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "bin/run.sh"), 0o755)
	os.Chmod(filepath.Join(dir, "tree/d"), 0o750)
	os.Symlink("a", filepath.Join(dir, "tree/link"))
	tarCmd := exec.Command("tar", "-C", filepath.Join(dir, "tree"), "--owner=7", "--group=8", "-cf", filepath.Join(dir, "archive.tar"), ".")
	if out, err := tarCmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
}

// hullBinary builds hull into dir (without hull-monitor: its monitors stay in their
// Go form, which a build test does not notice), or is $HULL.
func hullBinary(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv("HULL"); bin != "" {
		return bin
	}
	bin := filepath.Join(dir, "hull")
	cmd := exec.Command("go", "build", "-tags", "osusergo,netgo", "-o", bin, "github.com/hullproject/hull/cmd/hull")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOEXPERIMENT=jsonv2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hull: %v\n%s", err, out)
	}
	return bin
}

// imageConfig is what the comparison looks at.
type imageConfig struct {
	User         string
	Env          []string
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	Labels       map[string]string
	ExposedPorts map[string]struct{}
	Volumes      map[string]struct{}
	StopSignal   string
	Healthcheck  *healthcheck
}

// healthcheck is HEALTHCHECK's part of a config (durations in nanoseconds).
type healthcheck struct {
	Test                                    []string
	Interval, Timeout, StartPeriod, Retries int64
}

func (h *healthcheck) String() string {
	if h == nil {
		return "none"
	}
	return fmt.Sprintf("%+v", *h)
}

// fileEntry is one path of an image's tree, without its times.
type fileEntry struct {
	mode     fs.FileMode
	uid, gid uint32
	size     int64
	link     string
	sum      string
}

// treeOf lists the tree below root.
func treeOf(t *testing.T, root string) map[string]fileEntry {
	t.Helper()
	out := map[string]fileEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fi, _ := d.Info()
		e := fileEntry{mode: fi.Mode(), uid: st.Uid, gid: st.Gid}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.link, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			e.size = fi.Size()
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
			e.sum = hex.EncodeToString(h.Sum(nil))[:16]
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuildLikePodman(t *testing.T) {
	needBinaries(t, "podman", "conmon")
	rts := runtimes(t)
	p := newPodman(t, rts[0])
	p.must("load", "-i", imageArchive)
	dir := workDir(t)
	hull := hullBinary(t, dir)
	root, state := filepath.Join(dir, "hroot"), filepath.Join(dir, "hstate")
	hullRun := func(args ...string) string {
		t.Helper()
		return must(t, nil, 120*time.Second, hull, append([]string{"--root", root, "--state", state}, args...)...)
	}
	hullRun("load", "-i", imageArchive)
	names := make([]string, 0, len(buildCases))
	for n := range buildCases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ctx := filepath.Join(dir, "ctx-"+name)
			os.MkdirAll(ctx, 0o755)
			buildContext(t, ctx)
			compareBuild(t, p, hullRun, root, name, ctx, buildCases[name])
		})
	}
}

// compareBuild builds dockerfile in ctx with podman and with hull (hullRun, on the
// store at root) and compares the images' configs and file trees.
func compareBuild(t *testing.T, p *podman, hullRun func(args ...string) string, root, name, ctx, dockerfile string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := "localhost/cmp/" + name + ":1"
	p.must("build", "--format", "docker", "--network", "none", "--cgroup-parent", p.cgroup, "-q", "-t", tag, ctx)
	hullRun("build", "-q", "-t", tag, ctx)

	// The configs.
	var pc []struct {
		Config      imageConfig
		Healthcheck *healthcheck // podman has it here, not in Config
	}
	if err := json.Unmarshal([]byte(p.must("image", "inspect", tag)), &pc); err != nil || len(pc) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	var hc []struct{ Config imageConfig }
	if err := json.Unmarshal([]byte(hullRun("image", "inspect", tag)), &hc); err != nil || len(hc) != 1 {
		t.Fatalf("hull image inspect: %v", err)
	}
	want, got := pc[0].Config, hc[0].Config
	want.Healthcheck = pc[0].Healthcheck
	// ENV replaces a variable in place, as Docker does; buildah moves it to
	// the end. The set is compared.
	sort.Strings(want.Env)
	sort.Strings(got.Env)
	delete(want.Labels, "io.buildah.version") // buildah's own
	if len(want.Labels) == 0 {
		want.Labels = nil
	}
	if len(got.Labels) == 0 {
		got.Labels = nil
	}
	if w, g := fmt.Sprintf("%+v", want), fmt.Sprintf("%+v", got); w != g {
		t.Errorf("config:\n podman %s\n hull   %s", w, g)
	}

	// The trees: podman's image mounted by podman, hull's by hull's store.
	pm := strings.TrimSpace(p.must("image", "mount", tag))
	defer p.run("image", "unmount", tag)
	store, err := image.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	hm, err := store.View("cmp-"+name, tag)
	if err != nil {
		t.Fatal(err)
	}
	defer store.RemoveSnapshot("cmp-" + name)
	wantTree, gotTree := treeOf(t, pm), treeOf(t, hm)
	var diffs []string
	// The root's own metadata is no layer's (podman's mount point shows
	// its storage's), and buildah leaves RUN's /etc/hostname mount point in
	// the image, empty; Docker does not.
	delete(wantTree, ".")
	delete(gotTree, ".")
	if e, ok := wantTree["etc/hostname"]; ok && e.size == 0 {
		if _, ok := gotTree["etc/hostname"]; !ok {
			delete(wantTree, "etc/hostname")
		}
	}
	for p, w := range wantTree {
		g, ok := gotTree[p]
		if !ok {
			diffs = append(diffs, "missing in hull's: "+p)
		} else if w != g {
			diffs = append(diffs, fmt.Sprintf("%s: podman %+v, hull %+v", p, w, g))
		}
	}
	for p := range gotTree {
		if _, ok := wantTree[p]; !ok {
			diffs = append(diffs, "only in hull's: "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("file trees differ:\n  %s", strings.Join(diffs, "\n  "))
	}
}

// TestBuildDebianLikePodman builds on a minimal Debian made here with debootstrap
// (the seed's way to a base image: `hull import` of the rootfs) with hull and with
// podman, and compares the results as TestBuildLikePodman does: a real
// distribution's users and groups (useradd, USER and --chown by name), its shell
// and its package database. Skipped with the reason when debootstrap or the
// mirror is not there.
func TestBuildDebianLikePodman(t *testing.T) {
	needBinaries(t, "podman", "conmon")
	testutil.NeedDebootstrap(t)
	rts := runtimes(t)
	p := newPodman(t, rts[0])
	dir := workDir(t)
	rootfs := filepath.Join(dir, "rootfs")
	must(t, nil, 10*time.Minute, "debootstrap", "--variant=minbase", "bookworm", rootfs, testutil.DebianMirror)
	const ref = "localhost/hullpeers/debian:bookworm"
	archive := filepath.Join(dir, "debian.tar")
	must(t, nil, 2*time.Minute, "tar", "-C", rootfs, "-cf", archive, ".")
	p.must("import", archive, ref)
	hull := hullBinary(t, dir)
	root, state := filepath.Join(dir, "hroot"), filepath.Join(dir, "hstate")
	hullRun := func(args ...string) string {
		t.Helper()
		return must(t, nil, 5*time.Minute, hull, append([]string{"--root", root, "--state", state}, args...)...)
	}
	hullRun("import", rootfs, ref)
	os.RemoveAll(rootfs)
	ctx := filepath.Join(dir, "ctx")
	os.MkdirAll(ctx, 0o755)
	buildContext(t, ctx)
	compareBuild(t, p, hullRun, root, "debian", ctx, `FROM `+ref+`
ENV DEBIAN_FRONTEND=noninteractive
RUN useradd -m -u 1500 -s /bin/bash app && mkdir -p /srv/data && chown app:app /srv/data
COPY --chown=app:app hello.txt /home/app/
COPY --chown=app tree /srv/tree/
USER app
WORKDIR /home/app/work
RUN id -u > uid && id -g > gid && echo "$HOME $SHELL" > env && ls -ln /srv/tree | tail -n +2 | awk '{print $1,$3,$4,$9}' > tree.txt
USER root
RUN dpkg-query -W -f '${Package}\n' | sort > /pkgs
ENTRYPOINT ["/bin/bash", "-c"]
CMD ["cat /pkgs"]
`)
	if got := hullRun("run", "--rm", "localhost/cmp/debian:1", "cat /home/app/work/uid /home/app/work/env"); got != "1500\n/home/app \n" {
		t.Errorf("the built image's files: %q", got)
	}
}
