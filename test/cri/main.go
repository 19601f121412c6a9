// Command cri runs Kubernetes' CRI conformance suite (critest, from cri-tools) against
// a private containerd with two runtime handlers, runc and hull (hullrt through
// containerd's runc v2 shim, configured by contrib/kubernetes/containerd-1.6.toml as
// written), and prints the specs each passed, failed and skipped side by side.
// -containerd v2.x.y runs containerd 2.x instead of Debian's 1.6, built once from
// its Go module, with contrib/kubernetes/containerd-2.x.toml.
// With -bench it also times pod sandbox starts and weighs the shims, alternating
// the handlers. Run it as root through `make test-cri` (test/cri/run.sh installs
// what it needs first); docs/kubernetes.md says what it shows.
//
// Everything it makes lives under one work directory (containerd's root and state,
// the registry's images, CNI's config and leases) or is named for it (the bridge
// hullcri0, the iptables chains the portmap plugin adds), and goes at the end.
package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

var (
	hullrt      = flag.String("hullrt", "", "the hullrt binary (required)")
	work        = flag.String("work", "", "work directory (default: a new one under /tmp, removed at the end)")
	keep        = flag.Bool("keep", false, "keep the work directory")
	handlers    = flag.String("handlers", "runc,hull", "runtime handlers to run critest with, in order")
	focus       = flag.String("focus", "", "run only the critest specs matching this regexp")
	skip        = flag.String("skip", "", "skip the critest specs matching this regexp")
	version     = flag.String("critest-version", "v1.34.0", "cri-tools module version")
	cacheDir    = flag.String("cache", "", "where critest and crictl are built once (default $HOME/.cache/hull-cri)")
	contrib     = flag.String("contrib", "", "the containerd snippet adding the hull handler (default: contrib/kubernetes's for the containerd run)")
	ctdVersion  = flag.String("containerd", "", "containerd to run: \"\" for the one on PATH (Debian's), or a v2 module version (v2.4.2) built once into the cache")
	benchN      = flag.Int("bench", 0, "pod start rounds per handler, alternating (0: no benchmark)")
	benchPods   = flag.Int("bench-pods", 5, "pods per handler kept running while the shims are weighed")
	noCritest   = flag.Bool("no-critest", false, "skip critest (with -bench: the benchmark alone)")
	busyboxBin  = flag.String("busybox", "/bin/busybox", "the static busybox the images are made of")
	kubeletVer  = flag.String("kubelet", "", "instead of critest: a standalone kubelet of this k8s.io/kubernetes version (v1.34.2), built once into the cache, runs a static pod on hull")
	prepare     = flag.String("prepare", "", "only build critest, crictl, containerd (-containerd) and the test images into this directory, for a -prebuilt run elsewhere")
	prebuilt    = flag.String("prebuilt", "", "take critest, crictl, containerd and the test images from this -prepare directory instead of building them (the cgroup v2 VM has no Go)")
	listSkipped = flag.Bool("list-skipped", false, "list each handler's skipped specs in the report, as the failed ones")
	critestTO   = flag.Duration("critest-timeout", 40*time.Minute, "ginkgo's timeout for one critest run")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "test/cri:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Printf("== %s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

func run() error {
	if *prepare != "" {
		return prepareParts(*prepare)
	}
	if *hullrt == "" {
		return errors.New("-hullrt is required")
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root")
	}
	hull, err := filepath.Abs(*hullrt)
	if err != nil {
		return err
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		return fmt.Errorf("runc: %w", err)
	}
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "ctr", "iptables"} {
		if _, err := exec.LookPath(b); err != nil && *ctdVersion == "" && (*prebuilt == "" || b == "iptables") {
			return fmt.Errorf("%s: %w (test/cri/run.sh installs it)", b, err)
		}
	}
	dir := *work
	if dir == "" {
		if dir, err = os.MkdirTemp("", "hull-cri-"); err != nil {
			return err
		}
		// containerd's bundles (and their rootfs) lie below it, and the root of
		// a pod's user namespace, a stranger to the host, must pass through to
		// reach them, as through /run/containerd (0711). MkdirTemp makes 0700.
		if err := os.Chmod(dir, 0o711); err != nil {
			return err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	cleanups := []func(){}
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		if !*keep && *work == "" {
			os.RemoveAll(dir)
		}
	}()
	// A signal ends the run through the same cleanups.
	sigs := make(chan os.Signal, 1)
	signalNotify(sigs)
	go func() {
		<-sigs
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		os.Exit(130)
	}()

	start := time.Now()
	cache := defaultCache()
	var p *parts
	if *prebuilt != "" {
		p, err = prebuiltParts(*prebuilt)
	} else {
		p, err = buildParts(cache, filepath.Join(dir, "bin"))
	}
	if err != nil {
		return err
	}
	critest, crictl, ctd := p.critest, p.crictl, p.ctd
	var kubelet string
	if *kubeletVer != "" {
		logf("building kubelet %s from k8s.io/kubernetes", *kubeletVer)
		if kubelet, err = buildKubelet(cache, *kubeletVer); err != nil {
			return err
		}
	}
	if ctd.version, err = ctd.detect(); err != nil {
		return err
	}

	logf("serving the test images on 127.0.0.1")
	reg, stopReg, err := serveImages(p.images)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, stopReg)

	// containerd and its shims make these whatever their config says; those
	// that were not there go again (when empty).
	var fresh []string
	// So do CNI's result cache (libcni's default) and, with -kubelet, the paths a
	// kubelet uses whatever its --root-dir: its device plugins' directory and the
	// /var/log/containers links (those into the work directory go first).
	// And the cgroup containerd puts pods without a cgroup parent below
	// (k8s.io, named for its namespace), on each hierarchy: the runtimes remove
	// the containers' cgroups, not that parent.
	paths := []string{"/run/containerd/s", "/run/containerd/fifo", "/run/containerd", "/run/netns",
		"/var/lib/cni/results", "/var/lib/cni", "/var/lib/kubelet/device-plugins", "/var/lib/kubelet", "/var/log/containers"}
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
	for _, h := range append(hierarchies, "/sys/fs/cgroup/cgroup.procs") {
		paths = append(paths, filepath.Join(filepath.Dir(h), "k8s.io"))
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			fresh = append(fresh, p)
		}
	}
	cleanups = append(cleanups, func() {
		links, _ := filepath.Glob("/var/log/containers/*.log")
		for _, l := range links {
			if t, err := os.Readlink(l); err == nil && strings.HasPrefix(t, dir+"/") {
				os.Remove(l)
			}
		}
		for _, p := range fresh {
			if p == "/var/lib/kubelet/device-plugins" {
				os.RemoveAll(p) // the kubelet's socket, made in this run
			}
			os.Remove(p)
		}
	})

	cni, err := newCNI(dir)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, cni.cleanup)

	if *contrib == "" {
		*contrib = "../../contrib/kubernetes/containerd-1.6.toml"
		if ctd.major() >= 2 {
			*contrib = "../../contrib/kubernetes/containerd-2.x.toml"
		}
	}
	snippet, err := os.ReadFile(*contrib)
	if err != nil {
		return fmt.Errorf("the hull handler's config: %w", err)
	}
	defaultHandler := "runc"
	if kubelet != "" {
		// Static pods cannot name a RuntimeClass (there is no API server to
		// resolve it): containerd's default handler is hull.
		defaultHandler = "hull"
	}
	d, err := startContainerd(dir, reg, runc, hull, string(snippet), defaultHandler, cni, ctd)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, d.stop)
	if kubelet != "" {
		// The kubelet's pods go before containerd does.
		cleanups = append(cleanups, func() { d.crictl(crictl, "rmp", "-fa") })
		steps, err := kubeletTest(d, kubelet, hull, filepath.Join(d.dir, "hullrt-root"), dir)
		fmt.Printf("\nkubelet %s, containerd %s, static pod on the hull handler:\n", *kubeletVer, ctd.version)
		for _, s := range steps {
			fmt.Println("  ok  ", s)
		}
		failed := 0
		if err != nil {
			fmt.Println("  FAIL", err)
			failed = 1
		}
		fmt.Printf("total %s\nkubelet-static-pod: %d passed, %d failed\n", time.Since(start).Round(time.Second), len(steps), failed)
		if err != nil {
			return errors.New("the kubelet test failed")
		}
		return nil
	}
	logf("containerd %s up (%s), registry %s, CNI bridge %s on %s", ctd.version, d.sock, reg, cni.bridge, cni.subnet)
	setup := time.Since(start)

	var results []*suiteResult
	if !*noCritest {
		for _, h := range strings.Split(*handlers, ",") {
			logf("critest -runtime-handler=%s", h)
			r, err := runCritest(critest, d, h, dir)
			if err != nil {
				return err
			}
			logf("critest %s: %d passed, %d failed, %d skipped in %s", h, r.count("passed"), r.count("failed"), r.count("skipped"), r.took.Round(time.Second))
			results = append(results, r)
			// What a handler's failed specs left must not meet the next one.
			d.crictl(crictl, "rmp", "-fa")
		}
	}
	// A spec that passed with the first handler and not with the last runs
	// again with both, once: a timing flake on a loaded machine is not a
	// difference of the runtimes.
	if len(results) >= 2 {
		first, last := results[0], results[len(results)-1]
		if worse := regressions(first, last); len(worse) > 0 {
			var quoted []string
			for _, n := range worse {
				quoted = append(quoted, regexp.QuoteMeta(strings.TrimPrefix(n, "[k8s.io] ")))
			}
			saved := *focus
			*focus = strings.Join(quoted, "|")
			for _, r := range []*suiteResult{first, last} {
				logf("%d specs again with %s: %s", len(worse), r.handler, strings.Join(worse, "; "))
				again, err := runCritest(critest, d, r.handler, filepath.Join(dir, "retry"))
				if err != nil {
					return err
				}
				for _, n := range worse {
					if st, ok := again.specs[n]; ok && st != r.specs[n] {
						r.retried = append(r.retried, fmt.Sprintf("%s on retry: %s", st, n))
						r.specs[n] = st
					}
				}
				d.crictl(crictl, "rmp", "-fa")
			}
			*focus = saved
		}
	}
	var bench *benchResult
	if *benchN > 0 {
		logf("pod start benchmark: %d rounds per handler, alternating", *benchN)
		if bench, err = runBench(d, strings.Split(*handlers, ","), *benchN, *benchPods, dir); err != nil {
			return err
		}
	}
	report := formatReport(results, bench, ctd.version, setup, time.Since(start))
	fmt.Print(report)
	os.WriteFile(filepath.Join(dir, "report.txt"), []byte(report), 0o644)
	// A spec the last handler failed and the first did not (passed, or skipped
	// it) is worth its logs: the work directory stays.
	if len(results) >= 2 && !*keep && *work == "" {
		first, last := results[0], results[len(results)-1]
		for n, st := range last.specs {
			if st == "failed" && first.specs[n] != "failed" {
				*keep = true
			}
		}
		if *keep {
			fmt.Printf("kept %s (critest's logs, containerd's log) for the specs %s failed\n", dir, last.handler)
		}
	}
	if len(results) >= 2 {
		if worse := regressions(results[0], results[len(results)-1]); len(worse) > 0 {
			return fmt.Errorf("%d specs passed with %s and not with %s", len(worse), results[0].handler, results[len(results)-1].handler)
		}
	}
	return nil
}

// parts are what a run takes besides the runtimes: critest, crictl, containerd
// (ctd.dir "": Debian's, on PATH) and the test images.
type parts struct {
	critest, crictl string
	ctd             containerdBins
	images          []namedImage
}

func defaultCache() string {
	if *cacheDir != "" {
		return *cacheDir
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "hull-cri")
}

// buildParts builds cri-tools and (with -containerd) containerd once into
// cache, and the images' programs into bin, then the images.
func buildParts(cache, bin string) (*parts, error) {
	p := &parts{}
	var err error
	logf("building critest and crictl %s, pause and webserver", *version)
	if p.critest, p.crictl, err = buildCriTools(cache, *version); err != nil {
		return nil, err
	}
	if *ctdVersion != "" {
		logf("building containerd %s from its module", *ctdVersion)
		if p.ctd.dir, err = buildContainerd(cache, *ctdVersion); err != nil {
			return nil, err
		}
	}
	pauseBin, webBin, nnpBin := filepath.Join(bin, "pause"), filepath.Join(bin, "webserver"), filepath.Join(bin, "nnp")
	for pkg, out := range map[string]string{"./pause": pauseBin, "./webserver": webBin, "./nnp": nnpBin} {
		if err := goCmd("", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg).Run(); err != nil {
			return nil, fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	logf("building the test images")
	if p.images, err = buildImages(*busyboxBin, pauseBin, webBin, nnpBin); err != nil {
		return nil, err
	}
	return p, nil
}

// The files of a -prepare directory.
const (
	preparedCritest    = "critest"
	preparedCrictl     = "crictl"
	preparedContainerd = "containerd" // containerd, containerd-shim-runc-v2, ctr
	preparedImages     = "images"     // an OCI image layout
)

// prepareParts builds the parts and writes them into dir, for a -prebuilt run
// where there is no Go toolchain (test/vm/cri: critest inside the cgroup v2 VM).
// containerd must be a static build from its module: Debian's is dynamic.
func prepareParts(dir string) error {
	if *ctdVersion == "" {
		return errors.New("-prepare needs -containerd v2.x.y (a static build; Debian's containerd is dynamically linked)")
	}
	tmp, err := os.MkdirTemp("", "hull-cri-prepare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := buildParts(defaultCache(), tmp)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, preparedContainerd), 0o755); err != nil {
		return err
	}
	copies := map[string]string{p.critest: preparedCritest, p.crictl: preparedCrictl}
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "ctr"} {
		copies[p.ctd.bin(b)] = filepath.Join(preparedContainerd, b)
	}
	for src, dst := range copies {
		if err := copyFile(src, filepath.Join(dir, dst), 0o755); err != nil {
			return err
		}
	}
	if err := writeLayout(filepath.Join(dir, preparedImages), p.images); err != nil {
		return err
	}
	logf("prepared %s: critest and crictl %s, containerd %s, %d image references", dir, *version, *ctdVersion, len(p.images))
	return nil
}

// prebuiltParts takes the parts prepareParts wrote into dir.
func prebuiltParts(dir string) (*parts, error) {
	p := &parts{critest: filepath.Join(dir, preparedCritest), crictl: filepath.Join(dir, preparedCrictl),
		ctd: containerdBins{dir: filepath.Join(dir, preparedContainerd)}}
	for _, f := range []string{p.critest, p.crictl, p.ctd.bin("containerd"), p.ctd.bin("containerd-shim-runc-v2"), p.ctd.bin("ctr")} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("-prebuilt: %w", err)
		}
	}
	var err error
	if p.images, err = readLayout(filepath.Join(dir, preparedImages)); err != nil {
		return nil, fmt.Errorf("-prebuilt: %w", err)
	}
	return p, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// goCmd is the go command in this module's directory, output to ours.
func goCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	return cmd
}

// buildCriTools builds critest (a test binary: go test -c) from cri-tools' module
// and installs crictl, once per version, into cache.
func buildCriTools(cache, version string) (critest, crictl string, err error) {
	critest = filepath.Join(cache, "critest-"+version)
	crictl = filepath.Join(cache, "crictl-"+version)
	if _, err := os.Stat(critest); err == nil {
		if _, err := os.Stat(crictl); err == nil {
			return critest, crictl, nil
		}
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", "", err
	}
	mod := "sigs.k8s.io/cri-tools@" + version
	out, err := exec.Command("go", "mod", "download", "-json", mod).Output()
	if err != nil {
		return "", "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", "", fmt.Errorf("go mod download %s: no directory in %s", mod, out)
	}
	// The module cache is read-only; go test -c -mod=mod may update go.sum.
	src := filepath.Join(cache, "src-"+version)
	os.RemoveAll(src)
	if err := exec.Command("cp", "-r", info.Dir, src).Run(); err != nil {
		return "", "", fmt.Errorf("copy %s: %w", info.Dir, err)
	}
	if err := exec.Command("chmod", "-R", "u+w", src).Run(); err != nil {
		return "", "", err
	}
	if err := goCmd(src, "test", "-c", "-o", critest+".tmp", "./cmd/critest").Run(); err != nil {
		return "", "", fmt.Errorf("build critest: %w", err)
	}
	install := goCmd("", "install", "sigs.k8s.io/cri-tools/cmd/crictl@"+version)
	install.Env = append(install.Env, "GOBIN="+src)
	install.Dir = src
	if err := install.Run(); err != nil {
		return "", "", fmt.Errorf("go install crictl: %w", err)
	}
	if err := os.Rename(filepath.Join(src, "crictl"), crictl); err != nil {
		return "", "", err
	}
	os.RemoveAll(src)
	return critest, crictl, os.Rename(critest+".tmp", critest)
}

// suiteResult is one critest run: each spec's state by its full name.
type suiteResult struct {
	handler string
	specs   map[string]string // passed, failed, skipped
	took    time.Duration
	log     string
	retried []string // specs whose state a second run changed
}

func (r *suiteResult) count(state string) int {
	n := 0
	for _, s := range r.specs {
		if s == state {
			n++
		}
	}
	return n
}

func runCritest(critest string, d *containerd, handler, dir string) (*suiteResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	junit := filepath.Join(dir, "junit-"+handler+".xml")
	logFile := filepath.Join(dir, "critest-"+handler+".log")
	args := []string{
		"-runtime-endpoint", "unix://" + d.sock, "-image-endpoint", "unix://" + d.sock,
		"-runtime-handler", handler, "-ginkgo.no-color", "-ginkgo.junit-report", junit,
		"-ginkgo.timeout", critestTO.String(),
	}
	if *focus != "" {
		args = append(args, "-ginkgo.focus", *focus)
	}
	if *skip != "" {
		args = append(args, "-ginkgo.skip", *skip)
	}
	f, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(critest, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	start := time.Now()
	runErr := cmd.Run() // non-zero when a spec fails: the report says which
	r := &suiteResult{handler: handler, specs: map[string]string{}, took: time.Since(start), log: logFile}
	data, err := os.ReadFile(junit)
	if err != nil {
		return nil, fmt.Errorf("critest %s wrote no report (%v); see %s", handler, runErr, logFile)
	}
	var suites struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Status  string    `xml:"status,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		return nil, fmt.Errorf("%s: %w", junit, err)
	}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if strings.HasPrefix(c.Name, "[BeforeSuite]") || strings.HasPrefix(c.Name, "[AfterSuite]") || strings.HasPrefix(c.Name, "[SynchronizedBeforeSuite]") {
				if c.Failure != nil || c.Error != nil {
					return nil, fmt.Errorf("critest %s: %s failed; see %s", handler, c.Name, logFile)
				}
				continue
			}
			state := "passed"
			switch {
			case c.Skipped != nil || strings.HasPrefix(c.Status, "skipped") || c.Status == "pending":
				state = "skipped"
			case c.Failure != nil || c.Error != nil || (c.Status != "" && c.Status != "passed"):
				state = "failed"
			}
			r.specs[specName(c.Name)] = state
		}
	}
	return r, nil
}

var spaces = regexp.MustCompile(`\s+`)

// specName drops ginkgo's "[It] " and the run's random bits from a spec's name.
func specName(s string) string {
	s = strings.TrimPrefix(s, "[It] ")
	return spaces.ReplaceAllString(s, " ")
}

// regressions lists the specs ref passed and r did not.
func regressions(ref, r *suiteResult) []string {
	var out []string
	for name, s := range ref.specs {
		if s == "passed" && r.specs[name] != "passed" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func formatReport(results []*suiteResult, bench *benchResult, ctdVersion string, setup, total time.Duration) string {
	var b strings.Builder
	if len(results) > 0 {
		fmt.Fprintf(&b, "\ncritest %s, containerd %s, same run:\n", *version, ctdVersion)
		fmt.Fprintf(&b, "  %-8s %7s %7s %8s %8s\n", "handler", "passed", "failed", "skipped", "time")
		for _, r := range results {
			fmt.Fprintf(&b, "  %-8s %7d %7d %8d %8s\n", r.handler, r.count("passed"), r.count("failed"), r.count("skipped"), r.took.Round(time.Second))
		}
		names := map[string]bool{}
		for _, r := range results {
			for n := range r.specs {
				names[n] = true
			}
		}
		var diff []string
		for n := range names {
			states := make([]string, len(results))
			same := true
			for i, r := range results {
				states[i] = r.specs[n]
				if states[i] == "" {
					states[i] = "absent"
				}
				same = same && states[i] == states[0]
			}
			if !same {
				diff = append(diff, fmt.Sprintf("  %s  %s", strings.Join(states, " / "), n))
			}
		}
		sort.Strings(diff)
		var hs []string
		for _, r := range results {
			hs = append(hs, r.handler)
		}
		fmt.Fprintf(&b, "differences (%s): %d\n", strings.Join(hs, " / "), len(diff))
		for _, l := range diff {
			fmt.Fprintln(&b, l)
		}
		for _, r := range results {
			var failed []string
			for n, s := range r.specs {
				if s == "failed" {
					failed = append(failed, "  "+n)
				}
			}
			sort.Strings(failed)
			fmt.Fprintf(&b, "failed with %s: %d\n%s", r.handler, len(failed), strings.Join(append(failed, ""), "\n"))
			if *listSkipped {
				var skipped []string
				for n, s := range r.specs {
					if s == "skipped" {
						skipped = append(skipped, "  "+n)
					}
				}
				sort.Strings(skipped)
				fmt.Fprintf(&b, "skipped with %s: %d\n%s", r.handler, len(skipped), strings.Join(append(skipped, ""), "\n"))
			}
			for _, l := range r.retried {
				fmt.Fprintf(&b, "  %s: %s\n", r.handler, l)
			}
		}
	}
	if bench != nil {
		b.WriteString(bench.String())
	}
	fmt.Fprintf(&b, "setup %s, total %s\n", setup.Round(time.Second), total.Round(time.Second))
	// The closing line: each spec compared is one test, which fails when the last
	// handler did worse than the first (passed there, not here); skipped by both
	// counts as skipped.
	if len(results) >= 2 {
		first, last := results[0], results[len(results)-1]
		worse := len(regressions(first, last))
		skipped := 0
		for n, s := range first.specs {
			if s == "skipped" && last.specs[n] == "skipped" {
				skipped++
			}
		}
		fmt.Fprintf(&b, "critest-%s-vs-%s: %d passed, %d failed, %d skipped\n", last.handler, first.handler, len(first.specs)-worse-skipped, worse, skipped)
	}
	return b.String()
}

func signalNotify(c chan os.Signal) { signal.Notify(c, syscall.SIGINT, syscall.SIGTERM) }
