package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cniNet is the pods' network: a bridge of the harness's own on a subnet no route
// of the host uses, and the iptables rules portmap adds for hostPorts.
type cniNet struct {
	dir, bridge, subnet string
	iptBefore           map[string]map[string]bool // "iptables nat" → `iptables -t nat -S` lines before
}

func newCNI(work string) (*cniNet, error) {
	n := &cniNet{dir: filepath.Join(work, "cni"), bridge: "hullcri0", iptBefore: map[string]map[string]bool{}}
	if _, err := net.InterfaceByName(n.bridge); err == nil {
		return nil, fmt.Errorf("link %s exists: another run, or one that was killed (ip link del %s)", n.bridge, n.bridge)
	}
	routes, _ := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	for i := 0; i < 50 && n.subnet == ""; i++ {
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.%d.%d.0/24", 213+i%20, 77+i))
		free := true
		for _, l := range strings.Split(string(routes), "\n") {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			dst := f[0]
			if dst == "local" || dst == "broadcast" {
				if len(f) < 2 {
					continue
				}
				dst = f[1]
			}
			if !strings.Contains(dst, "/") {
				dst += "/32"
			}
			if _, r, err := net.ParseCIDR(dst); err == nil && r.String() != "0.0.0.0/0" && (r.Contains(cand.IP) || cand.Contains(r.IP)) {
				free = false
			}
		}
		if free {
			n.subnet = cand.String()
		}
	}
	if n.subnet == "" {
		return nil, fmt.Errorf("no free 10.x subnet for the pods")
	}
	// portmap adds to nat and filter; a kubelet adds its chains (KUBE-FIREWALL,
	// KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY) to mangle too, for IPv6 as well.
	for _, cmd := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(cmd); err != nil {
			continue
		}
		for _, t := range []string{"nat", "filter", "mangle"} {
			n.iptBefore[cmd+" "+t] = iptLines(cmd + " " + t)
		}
	}
	conf := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "hullcri",
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, n.bridge, n.subnet, filepath.Join(n.dir, "ipam"))
	if err := os.MkdirAll(filepath.Join(n.dir, "net.d"), 0o755); err != nil {
		return nil, err
	}
	return n, os.WriteFile(filepath.Join(n.dir, "net.d", "10-hullcri.conflist"), []byte(conf), 0o644)
}

// iptLines lists one table's rules and chains; key is "iptables TABLE" or
// "ip6tables TABLE".
func iptLines(key string) map[string]bool {
	cmd, table, _ := strings.Cut(key, " ")
	out, _ := exec.Command(cmd, "-t", table, "-S").Output()
	m := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		m[l] = true
	}
	return m
}

// cleanup removes the bridge and the iptables rules and chains that appeared
// during the run (portmap's CNI-HOSTPORT-* and CNI-DN-* in nat, a kubelet's).
func (n *cniNet) cleanup() {
	exec.Command("ip", "link", "del", n.bridge).Run()
	for key, before := range n.iptBefore {
		cmd, table, _ := strings.Cut(key, " ")
		var chains []string
		for l := range iptLines(key) {
			if before[l] || l == "" {
				continue
			}
			if rest, ok := strings.CutPrefix(l, "-A "); ok {
				// -S prints rules quoted as a shell reads them.
				exec.Command("sh", "-c", cmd+" -t "+table+" -D "+rest).Run()
			} else if c, ok := strings.CutPrefix(l, "-N "); ok {
				chains = append(chains, c)
			}
		}
		for _, c := range chains {
			exec.Command(cmd, "-t", table, "-F", c).Run()
		}
		for _, c := range chains {
			exec.Command(cmd, "-t", table, "-X", c).Run()
		}
	}
}

// containerdBins is the containerd the harness runs: Debian's from PATH (dir ""),
// or one built from containerd's v2 module into dir, with its runc shim and ctr.
type containerdBins struct {
	dir, version string
}

// bin is the path of one of containerd's programs.
func (c containerdBins) bin(name string) string {
	if c.dir == "" {
		return name
	}
	return filepath.Join(c.dir, name)
}

// detect reads containerd's version ("1.6.20~ds1", "v2.4.2").
func (c containerdBins) detect() (string, error) {
	out, err := exec.Command(c.bin("containerd"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("containerd --version: %w", err)
	}
	if f := strings.Fields(string(out)); len(f) >= 3 {
		return f[2], nil
	}
	return "", fmt.Errorf("containerd --version: %q", out)
}

// major is containerd's major version: 2 reads a version 3 config, names its CRI
// plugins io.containerd.cri.v1.*, and asks the runtime for its features.
func (c containerdBins) major() int {
	v := strings.TrimPrefix(c.version, "v")
	n, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return n
}

// buildContainerd builds containerd, containerd-shim-runc-v2 and ctr from
// containerd's v2 module (go install, tag no_btrfs: no btrfs headers needed),
// once per version, into cache/containerd-VERSION.
func buildContainerd(cache, version string) (string, error) {
	dir := filepath.Join(cache, "containerd-"+version)
	if _, err := os.Stat(filepath.Join(dir, "ctr")); err == nil {
		return dir, nil
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	var pkgs []string
	for _, c := range []string{"containerd", "containerd-shim-runc-v2", "ctr"} {
		pkgs = append(pkgs, "github.com/containerd/containerd/v2/cmd/"+c+"@"+version)
	}
	install := goCmd("", append([]string{"install", "-tags", "no_btrfs", "-trimpath"}, pkgs...)...)
	install.Env = append(install.Env, "GOBIN="+tmp)
	if err := install.Run(); err != nil {
		return "", fmt.Errorf("build containerd %s: %w", version, err)
	}
	return dir, os.Rename(tmp, dir)
}

// containerd is the harness's private containerd.
type containerd struct {
	dir, sock string
	bins      containerdBins
	cmd       *exec.Cmd
	exited    chan struct{}
}

func startContainerd(work, registry, runc, hullrt, hullSnippet, defaultHandler string, cni *cniNet, bins containerdBins) (*containerd, error) {
	d := &containerd{dir: filepath.Join(work, "containerd"), sock: filepath.Join(work, "containerd", "containerd.sock"), bins: bins}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return nil, err
	}
	// Both names critest pulls from are served by the harness's registry.
	certs := filepath.Join(d.dir, "certs.d")
	for _, host := range []string{"registry.k8s.io", "gcr.io", "docker.io"} {
		hosts := fmt.Sprintf("server = \"http://%[1]s\"\n\n[host.\"http://%[1]s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", registry)
		if err := os.MkdirAll(filepath.Join(certs, host), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(certs, host, "hosts.toml"), []byte(hosts), 0o644); err != nil {
			return nil, err
		}
	}
	// The hull handler exactly as contrib/ has it, with this run's paths.
	snippet := strings.ReplaceAll(hullSnippet, `"/usr/local/bin/hullrt"`, strconv.Quote(hullrt))
	snippet = strings.ReplaceAll(snippet, `"/run/containerd/hullrt"`, strconv.Quote(filepath.Join(d.dir, "hullrt-root")))
	if snippet == hullSnippet {
		return nil, fmt.Errorf("the hull handler's config names neither /usr/local/bin/hullrt nor /run/containerd/hullrt")
	}
	paths := configPaths{root: filepath.Join(d.dir, "root"), state: filepath.Join(d.dir, "state"), sock: d.sock,
		opt: filepath.Join(d.dir, "opt"), cni: filepath.Join(cni.dir, "net.d"), certs: certs, runc: runc, runcRoot: filepath.Join(d.dir, "runc-root"),
		defaultHandler: defaultHandler}
	conf := configV2(paths) + snippet
	if bins.major() >= 2 {
		conf = configV3(paths) + snippet
	}
	confFile := filepath.Join(d.dir, "config.toml")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(d.dir, "containerd.log"))
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(bins.bin("containerd"), "--config", confFile)
	if bins.dir != "" {
		// containerd finds its shim (containerd-shim-runc-v2) on PATH.
		d.cmd.Env = append(os.Environ(), "PATH="+bins.dir+":"+os.Getenv("PATH"))
	}
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	logFile.Close()
	d.exited = make(chan struct{})
	go func() { d.cmd.Wait(); close(d.exited) }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-d.exited:
			return nil, fmt.Errorf("containerd exited:\n%s", tail(filepath.Join(d.dir, "containerd.log"), 20))
		default:
		}
		if exec.Command(bins.bin("ctr"), "-a", d.sock, "version").Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("containerd did not come up:\n%s", tail(filepath.Join(d.dir, "containerd.log"), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return d, nil
}

// crictl runs crictl against this containerd, output discarded.
func (d *containerd) crictl(crictl string, args ...string) error {
	return exec.Command(crictl, append([]string{"--runtime-endpoint", "unix://" + d.sock, "--image-endpoint", "unix://" + d.sock, "--timeout", "60s"}, args...)...).Run()
}

// stop ends containerd and every shim it started (each names this containerd's
// socket on its command line), then unmounts what they left under the work dir.
func (d *containerd) stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(15 * time.Second):
			d.cmd.Process.Kill()
			<-d.exited
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 0 && strings.HasSuffix(args[0], "containerd-shim-runc-v2") && strings.Contains(string(cmdline), d.sock) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// Mounts below the work dir (rootfs, shm, netns) go deepest first.
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) > 4 && strings.HasPrefix(fl[4], d.dir+"/") {
			points = append(points, fl[4])
		}
	}
	f.Close()
	for i := len(points) - 1; i >= 0; i-- {
		syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

func tail(file string, n int) string {
	data, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
