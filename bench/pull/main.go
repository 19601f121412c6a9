// Command pull benchmarks image pull: `hull pull` beside `podman pull` of images
// from a local registry, including unpacking the layers.
//
// Usage, as root from the repository root after `make build`:
//
//	go run ./bench/pull [-n 5] [-hull bin/hull] [-base /path/to/other/hull] [-layers 5] [-layer-mib 40] [-images standard,layers50,big]
//
// The benchmark starts Debian's reference registry (`docker-registry serve`, from
// distribution 2.8) on 127.0.0.1 at a free port, with its configuration and storage
// in a temporary directory, and pushes images to it with go-containerregistry, each
// layer gzip-compressed random (incompressible) data, one large file (half the
// bytes) plus many small ones (1-48 KiB, the other half), so both streaming and
// file creation count:
//
//   - standard, bench/pull: -layers (5) layers of -layer-mib (40) MiB;
//   - layers50, bench/pull-layers50: 50 layers of 4 MiB (what costs per layer);
//   - big, bench/pull-big: one layer of 1024 MiB (512 MiB in one file and ~21,000
//     small files), made in a temporary file rather than in memory.
//
// The data are generated from a fixed seed per image: every run of the benchmark
// pulls the same bytes (the standard image's are those of the benchmark before the
// other two were added).
//
// Each image gets its own rounds. Each round pulls it once with every tool, in an
// order alternating from round to round, into a fresh empty store:
//
//	hull  --root <fresh dir> --state <fresh dir> pull -q 127.0.0.1:PORT/bench/pull:latest
//	podman --root <fresh> --runroot <fresh> --storage-driver overlay --cgroup-manager cgroupfs \
//	       pull -q --tls-verify=false 127.0.0.1:PORT/bench/pull:latest
//
// Stores are kept until the image's last round (see pullRounds), then
// removed. podman gets a private containers.conf (CONTAINERS_CONF: default_ulimits nofile and
// nproc, cgroup_manager cgroupfs) and storage.conf. Both pull over plain HTTP (hull
// allows it for loopback addresses). One unmeasured round comes first, so that the
// registry's blobs are in the page cache for everyone.
//
// For every run it records the wall time, the CPU time (user+sys, of the process
// and every descendant it waited for), and the peak resident memory of the CLI
// process (or of a descendant it reaped, if larger): ru_maxrss from wait4 as GNU
// time reports it (%M). The tool runs under /usr/bin/time for that, because a child
// of this process would start with this process's own high-water mark (ru_maxrss
// counts the memory it was forked from) and this process held the image's layers. It reports
// medians and the ratio of the medians hull/podman, per image. Everything is removed at the
// end: stores (podman's after `podman system reset`, and any mount left under
// them), the registry process and its directory.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/hullproject/hull/bench/internal/benchutil"
	"golang.org/x/sys/unix"
)

type tool struct {
	name string
	argv func(dir, ref string) []string // dir: a fresh empty directory for the store
	env  []string
	runs []sample
}

type sample struct {
	wall, cpu time.Duration
	maxrss    int64 // KiB
}

func main() {
	if err := run(); err != nil {
		fatal(err)
	}
}

func run() error {
	n := flag.Int("n", 5, "measured pulls per tool")
	hull := flag.String("hull", "bin/hull", "hull binary")
	base := flag.String("base", "", "a second hull binary to run alongside (e.g. a baseline build)")
	layers := flag.Int("layers", 5, "layers in the standard image")
	layerMiB := flag.Int("layer-mib", 40, "MiB of random data per layer of the standard image")
	imageNames := flag.String("images", "standard,layers50,big", "images to pull, each in its own rounds: standard (-layers x -layer-mib), layers50 (50 x 4 MiB), big (one layer of 1024 MiB)")
	only := flag.String("only", "", "comma-separated tool names to run (default all)")
	serve := flag.Bool("serve", false, "only start the registry and push the image, print its name, and wait for end of input (for profiling by hand)")
	flag.Parse()
	podman, err := exec.LookPath("podman")
	if err != nil {
		return err
	}
	tmp, err := benchutil.Start("pull", hull, base)
	if err != nil {
		return err
	}
	var reg *exec.Cmd
	defer func() {
		if reg != nil && reg.Process != nil {
			reg.Process.Kill()
			reg.Wait()
		}
		benchutil.RemoveAll(tmp)
	}()

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	reg, err = startRegistry(tmp, addr)
	if err != nil {
		return err
	}
	shapes := map[string]imageShape{
		"standard": {repo: "pull", layers: *layers, layerMiB: *layerMiB},
		"layers50": {repo: "pull-layers50", layers: 50, layerMiB: 4},
		"big":      {repo: "pull-big", layers: 1, layerMiB: 1024},
	}
	var images []imageShape
	for _, name := range strings.Split(*imageNames, ",") {
		sh, ok := shapes[name]
		if !ok {
			return fmt.Errorf("-images: no image %q (standard, layers50, big)", name)
		}
		sh.ref = addr + "/bench/" + sh.repo + ":latest"
		t0 := time.Now()
		size, err := pushImage(tmp, sh.ref, sh.layers, sh.layerMiB)
		if err != nil {
			return fmt.Errorf("push %s: %w", sh.ref, err)
		}
		fmt.Printf("image %s: %d layers, %.1f MiB compressed, pushed in %.1fs\n", sh.ref, sh.layers, float64(size)/(1<<20), time.Since(t0).Seconds())
		images = append(images, sh)
	}
	fmt.Println()
	if *serve {
		fmt.Println("serving; close standard input to stop")
		io.Copy(io.Discard, os.Stdin)
		return nil
	}

	conf := filepath.Join(tmp, "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n[engine]\ncgroup_manager = \"cgroupfs\"\n"), 0o644); err != nil {
		return err
	}
	hullArgv := func(bin string) func(string, string) []string {
		return func(dir, ref string) []string {
			return []string{bin, "--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"), "pull", "-q", ref}
		}
	}
	tools := []*tool{
		{name: "hull", argv: hullArgv(*hull)},
		{name: "podman", argv: func(dir, ref string) []string {
			return []string{podman, "--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
				"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "pull", "-q", "--tls-verify=false", ref}
		}},
	}
	if *base != "" {
		tools = append(tools, &tool{name: "hull-base", argv: hullArgv(*base)})
	}
	if *only != "" {
		want := strings.Split(*only, ",")
		tools = slices.DeleteFunc(tools, func(t *tool) bool { return !slices.Contains(want, t.name) })
	}
	for _, t := range tools {
		if t.name == "podman" {
			storage := filepath.Join(tmp, "storage.conf")
			// The per-run --root and --runroot override these; podman wants them set.
			sc := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(tmp, "podman-graph"), filepath.Join(tmp, "podman-run"))
			if err := os.WriteFile(storage, []byte(sc), 0o644); err != nil {
				return err
			}
			t.env = []string{"CONTAINERS_CONF=" + conf, "CONTAINERS_STORAGE_CONF=" + storage}
		}
	}
	seq := 0 // numbers the stores (podman wants its runroot under 50 characters)
	for _, img := range images {
		if err := pullRounds(tmp, img, tools, *n, &seq); err != nil {
			return err
		}
	}
	return nil
}

// imageShape is one image of the benchmark: repo under bench/, its layers and their
// size; ref once pushed.
type imageShape struct {
	repo             string
	layers, layerMiB int
	ref              string
}

// pullRounds pulls img n+1 times with each tool (the first round unmeasured),
// reports, and removes the stores.
func pullRounds(tmp string, img imageShape, tools []*tool, n int, seq *int) error {
	for _, t := range tools {
		t.runs = nil
	}
	// The stores are removed only after the image's last round: on ext4,
	// creating files soon after many were deleted costs far more (the inode
	// allocator skips recently freed inodes one by one), which would charge
	// each run for its predecessor's cleanup.
	var resets []func()
	var dirs []string
	defer func() {
		for _, r := range resets {
			r()
		}
		for _, d := range dirs {
			benchutil.RemoveAll(d)
		}
	}()
	fmt.Fprintf(os.Stderr, "%s\n", img.ref)
	for round := 0; round <= n; round++ {
		for k := range tools {
			t := tools[(round+k)%len(tools)]
			*seq++
			dir := filepath.Join(tmp, fmt.Sprintf("%s-%d", t.name, *seq))
			if err := os.Mkdir(dir, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dir)
			argv := t.argv(dir, img.ref)
			s, out, err := runOnce(argv, t.env)
			if t.name == "podman" {
				resets = append(resets, func() {
					reset := append(argv[:9:9], "system", "reset", "--force")
					c := exec.Command(reset[0], reset[1:]...)
					c.Env = append(os.Environ(), t.env...)
					c.Run()
				})
			}
			if err != nil {
				return fmt.Errorf("%s: %v\n%s", t.name, err, out)
			}
			if round > 0 {
				t.runs = append(t.runs, s)
			}
			fmt.Fprintf(os.Stderr, "round %d %-9s %6.2fs cpu %6.2fs maxrss %6.1f MiB\n", round, t.name, s.wall.Seconds(), s.cpu.Seconds(), float64(s.maxrss)/1024)
		}
	}
	fmt.Printf("%s: %d layers of %d MiB\n", img.ref, img.layers, img.layerMiB)
	report(tools, n)
	fmt.Println()
	return nil
}

// freeAddr finds a free port on 127.0.0.1.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startRegistry runs docker-registry with its storage under dir and waits until it
// answers.
func startRegistry(dir, addr string) (*exec.Cmd, error) {
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "registry"), addr)
	path := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command("docker-registry", "serve", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, and killed with the benchmark should that die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start docker-registry: %w", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, nil
			}
		}
	}
	out, _ := os.ReadFile(logf.Name())
	return cmd, fmt.Errorf("docker-registry did not answer on %s:\n%s", addr, out)
}

// pushImage builds the image and writes it to ref; it returns the compressed size.
// Layers of up to 256 MiB are made in memory; larger ones in a file under tmp
// (removed after the push), so that a 1 GiB layer does not sit in this process.
// The random data come from a seed of the repository's name ("pull" for the
// standard image, as before there were others).
func pushImage(tmp, ref string, layers, layerMiB int) (int64, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return 0, err
	}
	seed := [32]byte{'h', 'u', 'l', 'l'}
	if repo := r.Context().RepositoryStr(); repo != "bench/pull" {
		copy(seed[4:], repo)
	}
	rng := rand.New(rand.NewChaCha8(seed))
	var ls []v1.Layer
	var size int64
	for i := 0; i < layers; i++ {
		var l v1.Layer
		if layerMiB <= 256 {
			var buf bytes.Buffer
			layerTar(&buf, rng, i, int64(layerMiB)<<20)
			data := buf.Bytes()
			l, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(data)), nil
			})
		} else {
			f, ferr := os.CreateTemp(tmp, "layer-*.tar")
			if ferr != nil {
				return 0, ferr
			}
			defer os.Remove(f.Name())
			w := bufio.NewWriterSize(f, 1<<20)
			layerTar(w, rng, i, int64(layerMiB)<<20)
			if err := errors.Join(w.Flush(), f.Close()); err != nil {
				return 0, err
			}
			l, err = tarball.LayerFromFile(f.Name())
		}
		if err != nil {
			return 0, err
		}
		s, err := l.Size()
		if err != nil {
			return 0, err
		}
		size += s
		ls = append(ls, l)
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		return 0, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return 0, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return 0, err
	}
	return size, remote.Write(r, img, remote.WithContext(context.Background()))
}

// layerTar makes one uncompressed layer: a directory with a file of half the bytes
// and small files for the other half, all random.
func layerTar(w io.Writer, rng *rand.Rand, i int, total int64) {
	tw := tar.NewWriter(w)
	dir := fmt.Sprintf("layer%d/", i)
	mod := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mod})
	file := func(name string, n int64) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: n, ModTime: mod})
		// in pieces of at most 1 MiB: the big file of a 1 GiB layer is 512 MiB
		b := make([]byte, min(n, 1<<20))
		for left := n; left > 0; {
			p := b[:min(left, int64(len(b)))]
			for j := 0; j+8 <= len(p); j += 8 {
				v := rng.Uint64()
				for k := 0; k < 8; k++ {
					p[j+k] = byte(v >> (8 * k))
				}
			}
			tw.Write(p)
			left -= int64(len(p))
		}
	}
	file(dir+"big", total/2)
	left := total - total/2
	for k := 0; left > 0; k++ {
		n := min(left, 1024+rng.Int64N(47*1024))
		if k%100 == 0 {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("%sd%d/", dir, k/100), Mode: 0o755, ModTime: mod})
		}
		file(fmt.Sprintf("%sd%d/f%d", dir, k/100, k), n)
		left -= n
	}
	tw.Close()
}

// runOnce runs argv with env added to ours, and measures it.
func runOnce(argv, env []string) (sample, []byte, error) {
	var s sample
	var out bytes.Buffer
	// ru_maxrss of a child starts at the high-water mark of the memory it was forked
	// from, and this process holds the image's layers for a while; GNU time, a small
	// process, forks the tool instead and reports its peak (%M, KiB).
	rssFile, err := os.CreateTemp("", "hull-bench-rss-")
	if err != nil {
		return s, nil, err
	}
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	cmd := exec.Command("/usr/bin/time", append([]string{"-q", "-f", "%M", "-o", rssFile.Name()}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_CHILDREN, &before)
	t0 := time.Now()
	err = cmd.Run()
	s.wall = time.Since(t0)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &after)
	s.cpu = tv(after.Utime) + tv(after.Stime) - tv(before.Utime) - tv(before.Stime)
	if data, rerr := os.ReadFile(rssFile.Name()); rerr == nil {
		s.maxrss, _ = strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	}
	return s, out.Bytes(), err
}

func tv(t unix.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

func report(tools []*tool, n int) {
	med := map[string]sample{}
	fmt.Printf("pulls per tool: %d (after one unmeasured round)\n\n", n)
	fmt.Printf("| %-9s | %9s | %9s | %9s | %9s | %11s | %11s |\n", "tool", "wall p50", "wall min", "wall max", "cpu p50", "maxrss p50", "maxrss max")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|\n", dash(11), dash(11), dash(11), dash(11), dash(11), dash(13), dash(13))
	for _, t := range tools {
		walls := pick(t.runs, func(s sample) int64 { return int64(s.wall) })
		cpus := pick(t.runs, func(s sample) int64 { return int64(s.cpu) })
		rss := pick(t.runs, func(s sample) int64 { return s.maxrss })
		m := sample{wall: time.Duration(walls[len(walls)/2]), cpu: time.Duration(cpus[len(cpus)/2]), maxrss: rss[len(rss)/2]}
		med[t.name] = m
		fmt.Printf("| %-9s | %8.2fs | %8.2fs | %8.2fs | %8.2fs | %7.1f MiB | %7.1f MiB |\n", t.name, m.wall.Seconds(),
			time.Duration(walls[0]).Seconds(), time.Duration(walls[len(walls)-1]).Seconds(), m.cpu.Seconds(),
			float64(m.maxrss)/1024, float64(rss[len(rss)-1])/1024)
	}
	fmt.Println()
	h, ok := med["hull"]
	if !ok {
		return
	}
	for _, peer := range []string{"podman", "hull-base"} {
		if p, ok := med[peer]; ok {
			fmt.Printf("hull/%-10s wall %.2f   cpu %.2f   maxrss %.2f\n", peer+":", float64(h.wall)/float64(p.wall),
				float64(h.cpu)/float64(p.cpu), float64(h.maxrss)/float64(p.maxrss))
		}
	}
}

func pick(s []sample, f func(sample) int64) []int64 {
	out := make([]int64, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	slices.Sort(out)
	return out
}

func dash(n int) string { return strings.Repeat("-", n) }

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench/pull:", err)
	os.Exit(1)
}
