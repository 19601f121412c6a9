// Command build benchmarks `hull build` beside `podman build` (buildah) on the
// issue's 5-step Dockerfile over a local busybox image:
//
//	FROM busybox
//	RUN echo one > /one
//	COPY files/ /files/          (1,000 files of 1 KiB)
//	ENV STEP=four
//	RUN ls /files | wc -l > /count
//	CMD ["sh"]
//
// Usage, as root from the repository root after `make build`:
//
//	go run ./bench/build [-hull bin/hull] [-n 5]
//
// Each round, the two tools alternating (which goes first changes every round):
// a cold build (--no-cache: every step runs) and then a fully cached rebuild of the
// unchanged context; wall time from fork to exit. Peak RSS is the largest resident
// set of the CLI or any process it waited for (wait4's ru_maxrss): hull's RUN
// containers are its children; podman's are conmon's, which double-forks away, so
// podman's number is its CLI's (and buildah's, which runs in it).
//
// podman: private storage in the temporary directory with the overlay driver (as
// hull's snapshots), a private CONTAINERS_CONF (benchutil.NewPodman), --runtime
// runc, --network none; the base image is hull's busybox, moved by `hull save` and
// `podman load`. Everything is removed at the end.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hullproject/hull/bench/internal/benchutil"
)

const dockerfile = `FROM docker.io/library/busybox:latest
RUN echo one > /one
COPY files/ /files/
ENV STEP=four
RUN ls /files | wc -l > /count
CMD ["sh"]
`

func main() {
	hull := flag.String("hull", "bin/hull", "the hull binary")
	n := flag.Int("n", 5, "rounds")
	flag.Parse()
	if err := run(*hull, *n); err != nil {
		fmt.Fprintln(os.Stderr, "bench/build:", err)
		os.Exit(1)
	}
}

type sample struct {
	wall time.Duration
	rss  int64 // KiB
}

func timed(argv ...string) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := os.CreateTemp("", "bench-build-out-")
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	s := sample{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rss = ru.Maxrss
	}
	if err != nil {
		data, _ := os.ReadFile(out.Name())
		return s, fmt.Errorf("%v: %v\n%s", argv, err, data)
	}
	return s, nil
}

func run(hull string, rounds int) error {
	tmp, err := benchutil.Start("build", &hull)
	if err != nil {
		return err
	}
	defer benchutil.RemoveAll(tmp)
	ctx := filepath.Join(tmp, "ctx")
	for i := 0; i < 1000; i++ {
		p := filepath.Join(ctx, "files", fmt.Sprintf("d%d", i/100), fmt.Sprintf("f%03d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := make([]byte, 1024)
		copy(data, fmt.Sprintf("file %d\n", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	h := []string{hull, "--root", filepath.Join(tmp, "hroot"), "--state", filepath.Join(tmp, "hstate")}
	if _, err := benchutil.Out(append(h, "import", "--busybox")...); err != nil {
		return err
	}
	archive := filepath.Join(tmp, "busybox.tar")
	if _, err := benchutil.Out(append(h, "save", "-o", archive, "busybox")...); err != nil {
		return err
	}
	p, err := benchutil.NewPodman(filepath.Join(tmp, "podman"), "")
	if err != nil {
		return err
	}
	defer p.Cleanup()
	for i, a := range p.Global {
		if a == "vfs" {
			p.Global[i] = "overlay"
		}
	}
	out, err := benchutil.Out(p.Cmd("load", "-i", archive)...)
	if err != nil {
		return err
	}
	// podman names what it loads its own way: the name FROM uses is added.
	loaded := strings.TrimSpace(out[strings.LastIndex(out, ":")+1:])
	if i := strings.LastIndex(out, "Loaded image"); i >= 0 {
		loaded = strings.TrimSpace(strings.SplitN(out[i:], ":", 2)[1])
	}
	if _, err := benchutil.Out(p.Cmd("tag", loaded, "docker.io/library/busybox:latest")...); err != nil {
		return err
	}
	hullBuild := func(cold bool) []string {
		argv := append(append([]string{}, h...), "build", "-q", "-t", "bench:1")
		if cold {
			argv = append(argv, "--no-cache")
		}
		return append(argv, ctx)
	}
	podmanBuild := func(cold bool) []string {
		argv := p.Cmd("build", "--pull=never", "--runtime", "runc", "--network", "none", "-q", "-t", "bench:1")
		if cold {
			argv = append(argv, "--no-cache")
		}
		return append(argv, ctx)
	}
	// One unmeasured build each: the cache the cached builds use, warm page cache.
	for _, argv := range [][]string{hullBuild(true), podmanBuild(true)} {
		if _, err := timed(argv...); err != nil {
			return err
		}
	}
	res := map[string][]sample{}
	for r := 0; r < rounds; r++ {
		tools := []string{"hull", "podman"}
		if r%2 == 1 {
			tools = []string{"podman", "hull"}
		}
		for _, kind := range []string{"cold", "cached"} {
			for _, tool := range tools {
				argv := hullBuild(kind == "cold")
				if tool == "podman" {
					argv = podmanBuild(kind == "cold")
				}
				s, err := timed(argv...)
				if err != nil {
					return err
				}
				res[tool+" "+kind] = append(res[tool+" "+kind], s)
			}
		}
	}
	fmt.Printf("hull build vs podman build, the 5-step Dockerfile (1,000-file COPY), %d rounds, medians\n\n", rounds)
	fmt.Println("| build | hull | podman | hull/podman |")
	fmt.Println("|---|---|---|---|")
	for _, kind := range []string{"cold", "cached"} {
		hm, pm := median(res["hull "+kind]), median(res["podman "+kind])
		fmt.Printf("| %s | %s | %s | %.2f |\n", kind, benchutil.Ms(hm), benchutil.Ms(pm), float64(hm)/float64(pm))
	}
	hr, pr := maxRSS(res["hull cold"]), maxRSS(res["podman cold"])
	fmt.Printf("| peak RSS (cold) | %.1f MiB | %.1f MiB | %.2f |\n", float64(hr)/1024, float64(pr)/1024, float64(hr)/float64(pr))
	return nil
}

func median(s []sample) time.Duration {
	var d []time.Duration
	for _, x := range s {
		d = append(d, x.wall)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return benchutil.Pct(d, 50)
}

func maxRSS(s []sample) int64 {
	var m int64
	for _, x := range s {
		m = max(m, x.rss)
	}
	return m
}
