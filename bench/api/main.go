// Command api benchmarks hull's Docker Engine API (`hull system service`) beside
// podman's (`podman system service`) and dockerd's (Debian's docker.io 20.10):
// the same docker CLI (28, /usr/local/bin/docker) drives each through DOCKER_HOST.
//
// Usage, as root from the repository root after `make build`:
//
//	go run ./bench/api [-hull bin/hull] [-n 20] [-count 50] [-rounds 3] [-only run,rund,life,many,rss] [-peers podman,dockerd]
//
// The three services run on sockets in the benchmark's temporary directory, on
// storage of their own there:
//
//	hull   --root R --state S system service unix://T/hull.sock
//	podman --root R --runroot S --tmpdir T --storage-driver vfs --runtime runc system service --time 0 unix://T/podman.sock
//	dockerd --data-root D --exec-root E --pidfile P --config-file C -H unix://T/dockerd.sock \
//	    --containerd T/containerd/containerd.sock --cgroup-parent /hull-bench-dockerd \
//	    --iptables=false --ip-forward=false --ip-masq=false --bridge=none
//
// podman is set up as in the other benchmarks (benchutil.Podman: a private
// CONTAINERS_CONF with default_ulimits and cgroup_manager cgroupfs, vfs, runc).
// dockerd gets a containerd of its own (started here, its root, state and socket
// in the temporary directory, its CRI plugin off), so that it never shares the
// host's. The image is the same everywhere: hull's busybox (imported from
// /bin/busybox), written by `hull save` and loaded into podman and dockerd with
// `docker load` through their APIs. Every container runs with --network none.
//
// The parts, each with every service in turn (the order changes every round),
// after two unmeasured rounds, waiting before each measured command (unmeasured)
// until no container process is left and the CPUs are idle, as bench/engine does:
//
//   - run:  docker run --rm --network none busybox true (wall time of the CLI);
//   - rund: docker run -d --network none busybox true, then docker rm -f ID, each
//     timed;
//   - life: docker create, docker start, docker wait, docker rm (four CLI
//     commands: the calls `docker run --rm` makes, without the attach), the sum;
//   - many: -rounds rounds of -count `docker run -d --network none --name bN-I
//     busybox sleep 1000` at once, timed until all have exited and `docker ps -q`
//     lists -count containers; then one `docker rm -f NAME...`, timed;
//   - rss:  the memory of each idle service (smaps_rollup Rss and Pss), read
//     after the busybox load before any part, and again after the parts: hull's
//     service, podman's service, dockerd alone and dockerd with its containerd.
//
// The report gives medians and the ratios of the medians hull/peer. Absolute
// times on a shared machine are noise; the ratios are the result.
//
// Everything is removed at the end, also after an error or SIGINT/SIGTERM: the
// containers (docker rm -f through each service, then hull rm -f and podman rm
// -af by their CLIs), the services (SIGTERM by pid, SIGKILL after 10 s), the
// cgroups podman and dockerd made for this run, /run/docker (dockerd makes
// /run/docker/plugins whatever its --exec-root) if it was not there before, the
// temporary directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hullproject/hull/bench/internal/benchutil"
	"github.com/hullproject/hull/image"
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench/api:", err)
		os.Exit(1)
	}
}

// service is one API server and what was measured through it.
type service struct {
	name, sock string
	cmd        *exec.Cmd
	pids       func() []int // the daemon's processes whose memory is its own (dockerd: dockerd, then containerd)
	times      map[string][]time.Duration
	rss        [][]int64 // per reading: Rss, Pss of pids[0], Rss, Pss of all pids (KiB)
}

type bench struct {
	tmp, hull, root, state, dockerCfg string
	podman                            *benchutil.Podman
	services                          []*service
	daemons                           []*exec.Cmd // what to stop at the end, in order
	hadLibpod, hadRunDocker           bool
}

func run(ctx context.Context) error {
	n := flag.Int("n", 20, "measured runs of each service in parts run, rund and life")
	hull := flag.String("hull", "bin/hull", "hull binary")
	count := flag.Int("count", 50, "containers started at once in part many")
	rounds := flag.Int("rounds", 3, "rounds of part many")
	only := flag.String("only", "run,rund,life,many,rss", "parts to run")
	peers := flag.String("peers", "podman,dockerd", "the peers beside hull")
	flag.Parse()
	tmp, err := benchutil.Start("api", hull)
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	b := &bench{tmp: tmp, hull: *hull, root: filepath.Join(tmp, "hull-root"), state: filepath.Join(tmp, "hull-state"), dockerCfg: filepath.Join(tmp, "docker-config")}
	_, err = os.Stat("/sys/fs/cgroup/memory/libpod_parent")
	b.hadLibpod = err == nil
	_, err = os.Stat("/run/docker")
	b.hadRunDocker = err == nil
	defer b.cleanup()

	st, err := image.Open(b.root)
	if err != nil {
		return err
	}
	if _, err := image.BusyboxImage(ctx, st, "busybox"); err != nil {
		return err
	}
	archive := filepath.Join(tmp, "busybox.tar")
	if _, err := benchutil.OutContext(ctx, b.hullCmd("save", "-o", archive, "busybox")...); err != nil {
		return err
	}
	if err := b.startHull(ctx); err != nil {
		return err
	}
	for _, p := range strings.Split(*peers, ",") {
		var err error
		switch p {
		case "podman":
			err = b.startPodman(ctx)
		case "dockerd":
			err = b.startDockerd(ctx)
		case "":
			continue
		default:
			err = fmt.Errorf("unknown peer %q", p)
		}
		if err != nil {
			return err
		}
		s := b.services[len(b.services)-1]
		if _, err := b.docker(ctx, s, "load", "-i", archive); err != nil {
			return err
		}
	}
	if _, err := b.docker(ctx, b.services[0], "image", "inspect", "busybox"); err != nil {
		return err
	}
	fmt.Printf("load average at start: %s", load())
	if strings.Contains(*only, "rss") {
		b.readRSS()
	}
	parts := []struct {
		name, title string
		f           func(context.Context, *service) (map[string]time.Duration, error)
	}{
		{"run", "docker run --rm --network none busybox true", b.runRm},
		{"rund", "docker run -d --network none busybox true; docker rm -f ID", b.runD},
		{"life", "docker create --network none busybox true; docker start ID; docker wait ID; docker rm ID", b.life},
	}
	for _, p := range parts {
		if !slices.Contains(strings.Split(*only, ","), p.name) {
			continue
		}
		if err := b.single(ctx, p.name, p.title, *n, p.f); err != nil {
			return err
		}
	}
	if slices.Contains(strings.Split(*only, ","), "many") {
		if err := b.many(ctx, *count, *rounds); err != nil {
			return err
		}
	}
	if strings.Contains(*only, "rss") {
		time.Sleep(2 * time.Second)
		b.readRSS()
		b.reportRSS()
	}
	fmt.Printf("load average at end: %s", load())
	return nil
}

// startHull starts `hull system service` on this benchmark's roots.
func (b *bench) startHull(ctx context.Context) error {
	s := &service{name: "hull", sock: filepath.Join(b.tmp, "hull.sock")}
	argv := b.hullCmd("system", "service", "unix://"+s.sock)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Env = append(os.Environ(), "HULL_DEFAULT_SUBNET=10.216.1.0/24")
	s.pids = func() []int { return []int{s.cmd.Process.Pid} }
	return b.startService(ctx, s, s.cmd)
}

// startPodman starts `podman system service` on storage of its own.
func (b *bench) startPodman(ctx context.Context) error {
	var err error
	if b.podman, err = benchutil.NewPodman(filepath.Join(b.tmp, "podman"), ""); err != nil {
		return err
	}
	s := &service{name: "podman", sock: filepath.Join(b.tmp, "podman.sock")}
	argv := b.podman.Cmd("--runtime", "runc", "system", "service", "--time", "0", "unix://"+s.sock)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.pids = func() []int { return []int{s.cmd.Process.Pid} }
	return b.startService(ctx, s, s.cmd)
}

// startDockerd starts a containerd of its own and dockerd on it.
func (b *bench) startDockerd(ctx context.Context) error {
	dir := filepath.Join(b.tmp, "dockerd")
	cdir := filepath.Join(b.tmp, "containerd")
	for _, d := range []string{dir, cdir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return err
		}
	}
	ctdSock := filepath.Join(cdir, "containerd.sock")
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(cdir, "root"), filepath.Join(cdir, "state"), ctdSock, ctdSock+".ttrpc")
	if err := os.WriteFile(filepath.Join(cdir, "config.toml"), []byte(conf), 0o644); err != nil {
		return err
	}
	ctd := exec.Command("containerd", "--config", filepath.Join(cdir, "config.toml"))
	ctd.Stdout, ctd.Stderr = logFile(filepath.Join(cdir, "log")), logFile(filepath.Join(cdir, "log"))
	if err := ctd.Start(); err != nil {
		return err
	}
	b.daemons = append(b.daemons, ctd)
	for t0 := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", ctdSock); err == nil {
			c.Close()
			break
		}
		if time.Since(t0) > 20*time.Second {
			return errors.New("containerd does not answer after 20 s (see " + cdir + "/log)")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return err
	}
	s := &service{name: "dockerd", sock: filepath.Join(b.tmp, "dockerd.sock")}
	s.cmd = exec.Command("dockerd", "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "pid"), "--config-file", filepath.Join(dir, "daemon.json"), "-H", "unix://"+s.sock,
		"--containerd", ctdSock, "--cgroup-parent", "/hull-bench-dockerd",
		"--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none")
	s.pids = func() []int { return []int{s.cmd.Process.Pid, ctd.Process.Pid} }
	return b.startService(ctx, s, s.cmd)
}

func logFile(path string) *os.File {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil
	}
	return f
}

// startService starts cmd, logging to <sock>.log, and waits until it answers
// /_ping on its socket.
func (b *bench) startService(ctx context.Context, s *service, cmd *exec.Cmd) error {
	s.times = map[string][]time.Duration{}
	f := logFile(s.sock + ".log")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return err
	}
	b.daemons = append(b.daemons, cmd)
	b.services = append(b.services, s)
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", s.sock)
	}}}
	for t0 := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := c.Get("http://d/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Since(t0) > 30*time.Second || ctx.Err() != nil {
			return fmt.Errorf("%s does not answer on %s (see %s.log)", s.name, s.sock, s.sock)
		}
	}
}

// docker runs the docker CLI against s and returns its stdout.
func (b *bench) docker(ctx context.Context, s *service, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+s.sock, "DOCKER_CONFIG="+b.dockerCfg)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s: docker %s: %w: %s", s.name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// timed runs docker args against s and returns how long it took.
func (b *bench) timed(ctx context.Context, s *service, args ...string) (string, time.Duration, error) {
	t0 := time.Now()
	out, err := b.docker(ctx, s, args...)
	return out, time.Since(t0), err
}

func (b *bench) runRm(ctx context.Context, s *service) (map[string]time.Duration, error) {
	_, d, err := b.timed(ctx, s, "run", "--rm", "--network", "none", "busybox", "true")
	return map[string]time.Duration{"run --rm": d}, err
}

func (b *bench) runD(ctx context.Context, s *service) (map[string]time.Duration, error) {
	id, d, err := b.timed(ctx, s, "run", "-d", "--network", "none", "busybox", "true")
	if err != nil {
		return nil, err
	}
	_, d2, err := b.timed(ctx, s, "rm", "-f", id)
	return map[string]time.Duration{"run -d": d, "rm -f": d2, "run -d + rm -f": d + d2}, err
}

func (b *bench) life(ctx context.Context, s *service) (map[string]time.Duration, error) {
	m := map[string]time.Duration{}
	id, d, err := b.timed(ctx, s, "create", "--network", "none", "busybox", "true")
	if err != nil {
		return nil, err
	}
	m["create"] = d
	for _, step := range []string{"start", "wait", "rm"} {
		out, d, err := b.timed(ctx, s, step, id)
		if err != nil {
			return nil, err
		}
		if step == "wait" && out != "0" {
			return nil, fmt.Errorf("%s: docker wait %s: exit code %q", s.name, id, out)
		}
		m[step] = d
	}
	m["total"] = m["create"] + m["start"] + m["wait"] + m["rm"]
	return m, nil
}

// single runs part name: n measured runs of f with each service, alternating.
func (b *bench) single(ctx context.Context, name, title string, n int, f func(context.Context, *service) (map[string]time.Duration, error)) error {
	const warm = 2
	var keys []string
	for i := 0; i < warm+n; i++ {
		for k := range b.services {
			s := b.services[(i+k)%len(b.services)]
			b.quiesce()
			m, err := f(ctx, s)
			if err != nil {
				return err
			}
			if i < warm {
				continue
			}
			for key, d := range m {
				s.times[name+" "+key] = append(s.times[name+" "+key], d)
				if !slices.Contains(keys, key) {
					keys = append(keys, key)
				}
			}
		}
	}
	slices.Sort(keys)
	fmt.Printf("\n%s: %d runs each (after %d unmeasured rounds), alternating; medians\n\n", title, n, warm)
	b.table(name, keys)
	return nil
}

// table prints the medians of the keys of part name, with the ratios hull/peer.
func (b *bench) table(name string, keys []string) {
	head := fmt.Sprintf("| %-16s |", "")
	sep := "|------------------|"
	for _, s := range b.services {
		head += fmt.Sprintf(" %10s |", s.name)
		sep += "------------|"
	}
	for _, s := range b.services[1:] {
		head += fmt.Sprintf(" %13s |", "hull/"+s.name)
		sep += "---------------|"
	}
	fmt.Println(head)
	fmt.Println(sep)
	for _, k := range keys {
		line := fmt.Sprintf("| %-16s |", k)
		var med []time.Duration
		for _, s := range b.services {
			v := slices.Clone(s.times[name+" "+k])
			slices.Sort(v)
			med = append(med, benchutil.Pct(v, 50))
			line += fmt.Sprintf(" %10s |", benchutil.Ms(med[len(med)-1]))
		}
		for i := range b.services[1:] {
			line += fmt.Sprintf(" %13.2f |", float64(med[0])/float64(med[i+1]))
		}
		fmt.Println(line)
	}
	fmt.Println()
}

// many is part many: count `docker run -d` at once through each service.
func (b *bench) many(ctx context.Context, count, rounds int) error {
	for r := 0; r < rounds; r++ {
		for k := range b.services {
			s := b.services[(r+k)%len(b.services)]
			b.quiesce()
			names := make([]string, count)
			for i := range names {
				names[i] = fmt.Sprintf("b%d-%d", r, i)
			}
			errs := make([]error, count)
			var wg sync.WaitGroup
			t0 := time.Now()
			for i, name := range names {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = b.docker(ctx, s, "run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "1000")
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return err
			}
			for {
				ids, err := b.docker(ctx, s, "ps", "-q")
				if err != nil {
					return err
				}
				if len(strings.Fields(ids)) == count {
					break
				}
				if time.Since(t0) > 5*time.Minute {
					return fmt.Errorf("%s: %d of %d containers running", s.name, len(strings.Fields(ids)), count)
				}
				time.Sleep(20 * time.Millisecond)
			}
			start := time.Since(t0)
			_, rm, err := b.timed(ctx, s, append([]string{"rm", "-f"}, names...)...)
			if err != nil {
				return err
			}
			fmt.Printf("round %d %-8s %d x run -d %6.2fs   rm -f %6.2fs\n", r+1, s.name, count, start.Seconds(), rm.Seconds())
			s.times["many start"] = append(s.times["many start"], start)
			s.times["many rm -f"] = append(s.times["many rm -f"], rm)
		}
	}
	fmt.Printf("\n%d x docker run -d --network none busybox sleep 1000 at once, then one docker rm -f of all; %d rounds, alternating; medians\n\n", count, rounds)
	b.table("many", []string{"start", "rm -f"})
	return nil
}

// readRSS reads the memory of each service now.
func (b *bench) readRSS() {
	for _, s := range b.services {
		var v []int64
		var all [2]int64
		for i, pid := range s.pids() {
			m, err := benchutil.SmapsRollup(pid)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", s.name, err)
			}
			if i == 0 {
				v = append(v, m["Rss"], m["Pss"])
			}
			all[0] += m["Rss"]
			all[1] += m["Pss"]
		}
		s.rss = append(s.rss, append(v, all[0], all[1]))
	}
}

func (b *bench) reportRSS() {
	fmt.Printf("The services' memory (smaps_rollup), idle: fresh (after the image load) and after the parts above\n\n")
	fmt.Println("| service              | RSS fresh  | PSS fresh  | RSS after  | PSS after  |")
	fmt.Println("|----------------------|------------|------------|------------|------------|")
	for _, s := range b.services {
		rows := []struct {
			name string
			i    int
		}{{s.name, 0}}
		if len(s.pids()) > 1 {
			rows = append(rows, struct {
				name string
				i    int
			}{s.name + " + containerd", 2})
		}
		for _, r := range rows {
			fmt.Printf("| %-20s |", r.name)
			for _, reading := range s.rss {
				fmt.Printf(" %6d KiB | %6d KiB |", reading[r.i], reading[r.i+1])
			}
			fmt.Println()
		}
	}
	fmt.Println()
}

// quiesce waits, up to 5 s, until no container process of the benchmark is left
// (a process under the temporary directory that is not a service), then up to
// 1 s until the CPUs are idle, as bench/engine does; not measured.
func (b *bench) quiesce() {
	t0 := time.Now()
	for time.Since(t0) < 5*time.Second && len(b.others()) > 0 {
		time.Sleep(time.Millisecond)
	}
	for t1 := time.Now(); time.Since(t1) < time.Second && !benchutil.Idle(50*time.Millisecond); {
	}
}

// others are the processes with the temporary directory in their command line
// other than the daemons: monitors, conmons, shims, cleanup commands.
func (b *bench) others() []int {
	var out []int
	for _, pid := range benchutil.Procs(b.tmp) {
		if !slices.ContainsFunc(b.daemons, func(c *exec.Cmd) bool { return c.Process != nil && c.Process.Pid == pid }) {
			out = append(out, pid)
		}
	}
	return out
}

func load() string {
	data, _ := os.ReadFile("/proc/loadavg")
	return string(data)
}

func (b *bench) hullCmd(args ...string) []string {
	return append([]string{b.hull, "--root", b.root, "--state", b.state}, args...)
}

// cleanup removes everything the benchmark made, reporting what it could not.
func (b *bench) cleanup() {
	warn := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}
	ctx := context.Background()
	for _, s := range b.services {
		if s.name == "hull" {
			continue // by its CLI below
		}
		if ids, err := b.docker(ctx, s, "ps", "-aq"); err == nil && ids != "" {
			_, err = b.docker(ctx, s, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
			warn(err)
		}
	}
	// the services, last started first (dockerd before its containerd)
	for i := len(b.daemons) - 1; i >= 0; i-- {
		c := b.daemons[i]
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			warn(fmt.Errorf("%s still runs 10 s after SIGTERM: killing it", c.Path))
			c.Process.Kill()
			<-done
		}
	}
	if ids, err := benchutil.Out(b.hullCmd("ps", "-aq", "--no-trunc")...); err == nil && ids != "" {
		_, err := benchutil.Out(b.hullCmd(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)...)
		warn(err)
	} else {
		warn(err)
	}
	if b.podman != nil {
		b.podman.Cleanup()
	}
	if !b.hadLibpod {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/libpod_parent")
		for _, top := range dirs {
			if others, _ := filepath.Glob(top + "/libpod-*"); len(others) > 0 {
				continue
			}
			os.Remove(top + "/conmon")
			warn(os.Remove(top))
		}
	}
	// dockerd's cgroup parent: its containers are gone with rm -f
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/hull-bench-dockerd")
	for _, d := range dirs {
		subs, _ := filepath.Glob(d + "/*/cgroup.procs")
		for _, sub := range subs {
			warn(os.Remove(filepath.Dir(sub)))
		}
		warn(os.Remove(d))
	}
	if !b.hadRunDocker {
		// dockerd makes /run/docker/plugins whatever its --exec-root
		os.Remove("/run/docker/plugins")
		warn(os.Remove("/run/docker"))
	}
	for _, pid := range b.others() {
		warn(fmt.Errorf("process %d left: killing it", pid))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	benchutil.RemoveAll(b.tmp)
}
