// Command network benchmarks hull's bridge network: what it adds to the start of a
// container beside podman's bridge, and container-to-container TCP throughput beside
// a bare veth pair.
//
// Usage, as root from the repository root after `make build`:
//
//	go run ./bench/network [-n 20] [-hull bin/hull] [-iperf-runs 5] [-iperf-secs 5]
//
// Start cost. Four tools, rotated every iteration, -n measured runs each after two
// unmeasured rounds:
//
//	hull   --root R --state S run --rm --network bridge busybox true
//	hull   --root R --state S run --rm --network none   busybox true
//	podman --root R --runroot S --storage-driver vfs run --rm --runtime runc --network bridge --rootfs DIR /bin/true
//	podman ... --network none ...
//
// hull's busybox image is imported from /bin/busybox into the private root; podman
// runs the same busybox tree with --rootfs, so neither pulls. podman 4.3 on Debian 12
// has the CNI backend (bridge, portmap, firewall, tuning plugins); it gets its default
// network from a private CONTAINERS_CONF (default_ulimits, cgroup_manager cgroupfs,
// network_config_dir an empty temporary directory, default_subnet 10.215.77.0/24), so
// the bridge is cni-podman0 made for this run. It runs with --runtime runc because
// crun 1.8 refuses this host's hybrid cgroups. hull's default network gets
// 10.215.78.0/24 (HULL_DEFAULT_SUBNET). One container of each engine stays running on
// its bridge during the measurement (as on a host in use), so that neither pays for
// creating its bridge on every run. The report gives medians, the ratio
// hull/podman with the bridge, and for each engine the median of bridge minus none.
//
// Throughput. Two hull containers (busybox sleep) on one hull network; iperf3 from
// the host runs inside their network namespaces (nsenter --net=/proc/PID/ns/net),
// so the path measured is veth → bridge → veth, with hull's nftables rules in place.
// Beside it, between two network namespaces the benchmark makes: a bare veth pair
// (10.215.79.1/30 and .2); a bare bridge in a third namespace with a veth to each
// (10.215.81.1/24 and .2): hull's topology without hull's host; and the same through
// a fourth namespace that holds a copy of hull's table (10.215.83.0/24): hull's rules
// without the host namespace's other tables. Every bare veth gets the MTU hull gives
// its own (the host uplink's). On this host br_netfilter is loaded
// (bridge-nf-call-iptables = 1, also in every new namespace), so bridged frames pass
// the IPv4 netfilter hooks of the bridge's namespace. Rounds rotate the paths,
// -iperf-secs of TCP each, one stream; the report gives medians of the received rate,
// their ratios, and the median of the per-round ratio hull / bare veth (the two met
// the same load within a round).
// iperf3 is installed with apt-get if missing; if that fails the part is skipped.
//
// Traffic goes only to the bridges and namespaces made here. Everything is removed at
// the end: containers, hull's networks (prune), podman's bridge, /var/lib/cni (leases,
// result cache) and the iptables-nft tables ip nat/ip filter if they did not exist before, the
// namespaces, the temporary directory.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/bench/internal/benchutil"
	"github.com/hullproject/hull/image"
	"golang.org/x/sys/unix"
)

const (
	podmanSubnet = "10.215.77.0/24"
	hullSubnet   = "10.215.78.0/24"
	hullNet2     = "10.215.80.0/24"
	vethA        = "10.215.79.1"
	vethB        = "10.215.79.2"
	brA          = "10.215.81.1"
	brB          = "10.215.81.2"
	brNet        = "10.215.83.0/24" // the bare bridge with a copy of hull's table
	brtA         = "10.215.83.1"
	brtB         = "10.215.83.2"
)

type tool struct {
	name string
	argv []string
	runs []time.Duration
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/network:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 20, "measured runs of each start variant")
	hull := flag.String("hull", "bin/hull", "hull binary")
	iperfRuns := flag.Int("iperf-runs", 5, "iperf3 rounds for each path")
	iperfSecs := flag.Int("iperf-secs", 5, "seconds of each iperf3 round")
	only := flag.String("only", "start,iperf", "parts to run")
	flag.Parse()
	tmp, err := benchutil.Start("network", hull)
	if err != nil {
		return err
	}
	b := &bench{tmp: tmp, hull: *hull, root: filepath.Join(tmp, "hull-root"), state: filepath.Join(tmp, "hull-state")}
	defer b.cleanup()
	os.Setenv("HULL_DEFAULT_SUBNET", hullSubnet)
	s, err := image.Open(b.root)
	if err != nil {
		return err
	}
	if _, err := image.BusyboxImage(context.Background(), s, "busybox"); err != nil {
		return err
	}
	if strings.Contains(*only, "start") {
		if err := b.start(*n); err != nil {
			return err
		}
	}
	if strings.Contains(*only, "iperf") {
		if err := b.iperf(*iperfRuns, *iperfSecs); err != nil {
			return err
		}
	}
	return nil
}

type bench struct {
	tmp, hull, root, state string
	podman                 *benchutil.Podman // nil until set up
	hadTables              map[string]bool
	hadCNI                 bool
	netns                  []string
}

func (b *bench) hullCmd(args ...string) []string {
	return append([]string{b.hull, "--root", b.root, "--state", b.state}, args...)
}

func (b *bench) setupPodman() error {
	cni := filepath.Join(b.tmp, "cni")
	if err := os.MkdirAll(cni, 0o755); err != nil {
		return err
	}
	pm, err := benchutil.NewPodman(filepath.Join(b.tmp, "podman"), fmt.Sprintf(`[network]
network_config_dir = %q
default_subnet = %q
`, cni, podmanSubnet))
	if err != nil {
		return err
	}
	tables, _ := benchutil.Out("nft", "list", "tables")
	b.hadTables = map[string]bool{}
	for _, t := range []string{"ip nat", "ip filter"} {
		b.hadTables[t] = strings.Contains(tables, "table "+t+"\n")
	}
	_, err = os.Stat("/var/lib/cni")
	b.hadCNI = err == nil
	if _, err := os.Stat("/sys/class/net/cni-podman0"); err == nil {
		return errors.New("cni-podman0 exists already: another podman uses the default bridge")
	}
	b.podman = pm
	return nil
}

func (b *bench) start(n int) error {
	if err := b.setupPodman(); err != nil {
		return err
	}
	tools := []*tool{
		{name: "hull bridge", argv: b.hullCmd("run", "--rm", "--network", "bridge", "busybox", "true")},
		{name: "hull none", argv: b.hullCmd("run", "--rm", "--network", "none", "busybox", "true")},
		{name: "podman bridge", argv: b.podman.Run("bridge", []string{"--rm"}, "/bin/true")},
		{name: "podman none", argv: b.podman.Run("none", []string{"--rm"}, "/bin/true")},
	}
	// a resident container on each bridge
	if _, err := benchutil.Out(b.hullCmd("run", "-d", "--network", "bridge", "busybox", "sleep", "3600")...); err != nil {
		return err
	}
	if _, err := benchutil.Out(b.podman.Run("bridge", []string{"-d"}, "/bin/sleep", "3600")...); err != nil {
		return err
	}
	const warm = 2
	for i := 0; i < warm+n; i++ {
		for k := range tools {
			t := tools[(i+k)%len(tools)]
			t0 := time.Now()
			if _, err := benchutil.Out(t.argv...); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if i >= warm {
				t.runs = append(t.runs, time.Since(t0))
			}
		}
	}
	fmt.Printf("start: %d runs each (after %d unmeasured rounds), rotated\n\n", n, warm)
	fmt.Printf("| %-13s | %9s | %9s | %9s |\n", "tool", "p50", "p90", "min")
	fmt.Printf("|---------------|-----------|-----------|-----------|\n")
	med := map[string]time.Duration{}
	for _, t := range tools {
		slices.Sort(t.runs)
		med[t.name] = benchutil.Pct(t.runs, 50)
		fmt.Printf("| %-13s | %9s | %9s | %9s |\n", t.name, benchutil.Ms(benchutil.Pct(t.runs, 50)), benchutil.Ms(benchutil.Pct(t.runs, 90)), benchutil.Ms(t.runs[0]))
	}
	fmt.Printf("\nhull/podman, bridge: %.2f   none: %.2f\n", float64(med["hull bridge"])/float64(med["podman bridge"]),
		float64(med["hull none"])/float64(med["podman none"]))
	fmt.Printf("bridge minus none: hull %s   podman %s\n\n", benchutil.Ms(med["hull bridge"]-med["hull none"]), benchutil.Ms(med["podman bridge"]-med["podman none"]))
	return nil
}

func (b *bench) iperf(runs, secs int) error {
	if _, err := exec.LookPath("iperf3"); err != nil {
		fmt.Println("iperf3 missing: apt-get install -y iperf3")
		cmd := exec.Command("apt-get", "install", "-y", "iperf3")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if o, err := cmd.CombinedOutput(); err != nil {
			fmt.Printf("skipping throughput: apt-get install iperf3: %v\n%s", err, o)
			return nil
		}
	}
	// hull: two containers on a network of their own
	if _, err := benchutil.Out(b.hullCmd("network", "create", "--subnet", hullNet2, "benchnet")...); err != nil {
		return err
	}
	var pids [2]int
	var addr string
	for i := range pids {
		id, err := benchutil.Out(b.hullCmd("run", "-d", "--network", "benchnet", "busybox", "sleep", "3600")...)
		if err != nil {
			return err
		}
		id = strings.TrimSpace(id)
		p, err := benchutil.Out(b.hullCmd("inspect", "-f", "{{.State.Pid}}", id)...)
		if err != nil {
			return err
		}
		if pids[i], err = strconv.Atoi(strings.TrimSpace(p)); err != nil {
			return fmt.Errorf("pid of %s: %q", id, p)
		}
		if i == 0 {
			a, err := benchutil.Out(b.hullCmd("inspect", "-f", "{{.NetworkSettings.Networks.benchnet.IPAddress}}", id)...)
			if err != nil {
				return err
			}
			addr = strings.TrimSpace(a)
		}
	}
	if addr == "" || addr == "<no value>" {
		return errors.New("no address for the iperf3 server container")
	}
	// the bare paths get the MTU hull gives its veths (the host uplink's), so that
	// all paths move the same segments
	link, err := benchutil.Out("nsenter", fmt.Sprintf("--net=/proc/%d/ns/net", pids[0]), "ip", "-o", "link", "show", "eth0")
	if err != nil {
		return err
	}
	_, mtu, _ := strings.Cut(link, " mtu ")
	mtu, _, _ = strings.Cut(mtu, " ")
	if _, err := strconv.Atoi(mtu); err != nil {
		return fmt.Errorf("mtu of the hull container's eth0: %q", link)
	}
	// hull's table, for a copy in a namespace of its own (below)
	var nets []struct {
		Bridge string `json:"bridge"`
		Subnet string `json:"subnet"`
	}
	if o, err := benchutil.Out(b.hullCmd("network", "inspect", "benchnet")...); err != nil || json.Unmarshal([]byte(o), &nets) != nil || len(nets) != 1 {
		return fmt.Errorf("network inspect benchnet: %v", err)
	}
	sum := sha256.Sum256([]byte(b.root))
	table, err := benchutil.Out("nft", "list", "table", "inet", "hull-"+hex.EncodeToString(sum[:4]))
	if err != nil {
		return err
	}
	table = strings.NewReplacer(nets[0].Bridge, "br0", nets[0].Subnet, brNet).Replace(table)
	// bare: a veth pair between two namespaces of our own, each bind-mounted on a
	// file in the temporary directory by unshare(1) (not `ip netns add`, which
	// leaves /run/netns a mount on the host for good)
	var nsA, nsB, nsC, nsD string
	for _, ns := range []*string{&nsA, &nsB, &nsC, &nsD} {
		*ns = filepath.Join(b.tmp, fmt.Sprintf("netns%d", len(b.netns)))
		if err := os.WriteFile(*ns, nil, 0o600); err != nil {
			return err
		}
		if _, err := benchutil.Out("unshare", "--net="+*ns, "true"); err != nil {
			return err
		}
		b.netns = append(b.netns, *ns)
		if _, err := benchutil.Out("nsenter", "--net="+*ns, "ip", "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	// ip -n takes only names under /run/netns; ip link's "netns" takes a path
	in := func(ns string, args ...string) []string {
		return append([]string{"nsenter", "--net=" + ns, "ip"}, args...)
	}
	steps := [][]string{
		{"ip", "link", "add", "bva", "netns", nsA, "mtu", mtu, "type", "veth", "peer", "name", "bvb", "netns", nsB, "mtu", mtu},
		in(nsA, "addr", "add", vethA+"/30", "dev", "bva"),
		in(nsB, "addr", "add", vethB+"/30", "dev", "bvb"),
		in(nsA, "link", "set", "bva", "up"),
		in(nsB, "link", "set", "bvb", "up"),
		// and a bridge in a third namespace with one veth to each: hull's topology
		// without hull's nftables table (and with no netfilter rule at all)
		in(nsC, "link", "add", "br0", "type", "bridge"),
		in(nsC, "link", "set", "br0", "up"),
		{"ip", "link", "add", "bba", "netns", nsA, "mtu", mtu, "type", "veth", "peer", "name", "pa", "netns", nsC, "mtu", mtu},
		{"ip", "link", "add", "bbb", "netns", nsB, "mtu", mtu, "type", "veth", "peer", "name", "pb", "netns", nsC, "mtu", mtu},
		in(nsC, "link", "set", "pa", "master", "br0", "up"),
		in(nsC, "link", "set", "pb", "master", "br0", "up"),
		in(nsA, "addr", "add", brA+"/24", "dev", "bba"),
		in(nsB, "addr", "add", brB+"/24", "dev", "bbb"),
		in(nsA, "link", "set", "bba", "up"),
		in(nsB, "link", "set", "bbb", "up"),
		// the same once more through a fourth namespace that holds a copy of
		// hull's table and nothing else: hull's rules without the host's other
		// tables (br_netfilter's net.bridge.bridge-nf-call-iptables is 1 in a new
		// namespace)
		in(nsD, "link", "add", "br0", "type", "bridge"),
		in(nsD, "link", "set", "br0", "up"),
		{"ip", "link", "add", "bda", "netns", nsA, "mtu", mtu, "type", "veth", "peer", "name", "pa", "netns", nsD, "mtu", mtu},
		{"ip", "link", "add", "bdb", "netns", nsB, "mtu", mtu, "type", "veth", "peer", "name", "pb", "netns", nsD, "mtu", mtu},
		in(nsD, "link", "set", "pa", "master", "br0", "up"),
		in(nsD, "link", "set", "pb", "master", "br0", "up"),
		in(nsA, "addr", "add", brtA+"/24", "dev", "bda"),
		in(nsB, "addr", "add", brtB+"/24", "dev", "bdb"),
		in(nsA, "link", "set", "bda", "up"),
		in(nsB, "link", "set", "bdb", "up"),
	}
	for _, s := range steps {
		if _, err := benchutil.Out(s...); err != nil {
			return err
		}
	}
	load := exec.Command("nsenter", "--net="+nsD, "nft", "-f", "-")
	load.Stdin = strings.NewReader(table)
	if o, err := load.CombinedOutput(); err != nil {
		return fmt.Errorf("load hull's table in %s: %v: %s", nsD, err, o)
	}
	hullNS := func(pid int) string { return fmt.Sprintf("--net=/proc/%d/ns/net", pid) }
	bareNS := func(ns string) string { return "--net=" + ns }
	paths := []struct {
		name           string
		server, client string
		addr           string
		rates          []float64
	}{
		{name: "hull (veth-bridge-veth)", server: hullNS(pids[0]), client: hullNS(pids[1]), addr: addr},
		{name: "bare veth pair", server: bareNS(nsA), client: bareNS(nsB), addr: vethA},
		{name: "bare veth-bridge-veth", server: bareNS(nsA), client: bareNS(nsB), addr: brA},
		{name: "bare bridge, hull's table", server: bareNS(nsA), client: bareNS(nsB), addr: brtA},
	}
	var ratios []float64 // hull / bare veth of each round: both met the same load
	for i := 0; i < runs+1; i++ {
		for k := range paths {
			p := &paths[(i+k)%len(paths)]
			r, err := iperfOnce(p.server, p.client, p.addr, secs)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			if i > 0 { // the first round warms up
				p.rates = append(p.rates, r)
			}
		}
		if i > 0 {
			ratios = append(ratios, paths[0].rates[i-1]/paths[1].rates[i-1])
		}
	}
	fmt.Printf("throughput: iperf3 TCP, 1 stream, %d s, %d rounds each (after 1 unmeasured), alternating\n\n", secs, runs)
	fmt.Printf("| %-25s | %12s | %12s | %12s |\n", "path", "p50", "min", "max")
	fmt.Printf("|---------------------------|--------------|--------------|--------------|\n")
	var meds []float64
	for _, p := range paths {
		slices.Sort(p.rates)
		m := p.rates[len(p.rates)/2]
		meds = append(meds, m)
		fmt.Printf("| %-25s | %7.2f Gb/s | %7.2f Gb/s | %7.2f Gb/s |\n", p.name, m/1e9, p.rates[0]/1e9, p.rates[len(p.rates)-1]/1e9)
	}
	fmt.Printf("\nratios of medians: hull / bare veth %.2f   hull / bare bridge %.2f   bare bridge / bare veth %.2f\n",
		meds[0]/meds[1], meds[0]/meds[2], meds[2]/meds[1])
	fmt.Printf("bare bridge with hull's table / bare bridge %.2f   hull / bare bridge with hull's table %.2f\n",
		meds[3]/meds[2], meds[0]/meds[3])
	slices.Sort(ratios)
	fmt.Printf("hull / bare veth per round: median %.2f, min %.2f, max %.2f\n", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
	return nil
}

// iperfOnce runs one iperf3 server (one test, then it exits) and one client, each
// in its network namespace, and returns the receiver's rate in bits per second.
func iperfOnce(serverNS, clientNS, addr string, secs int) (float64, error) {
	srv := exec.Command("nsenter", serverNS, "iperf3", "-s", "-1", "-B", addr, "-p", "5299")
	if err := srv.Start(); err != nil {
		return 0, err
	}
	defer srv.Wait()
	defer srv.Process.Kill()
	var o string
	var err error
	for try := 0; try < 50; try++ { // until the server listens
		time.Sleep(50 * time.Millisecond)
		o, err = benchutil.Out("nsenter", clientNS, "iperf3", "-c", addr, "-p", "5299", "-t", strconv.Itoa(secs), "-J")
		if err == nil || !strings.Contains(o, "connect") {
			break
		}
	}
	if err != nil {
		return 0, err
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(o), &res); err != nil {
		return 0, fmt.Errorf("iperf3 output: %w", err)
	}
	return res.End.SumReceived.BitsPerSecond, nil
}

// resolvers tells whether a `hull network dns` process of root runs.
func resolvers(root string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, _ := os.ReadFile(p)
		cmd := strings.ReplaceAll(string(data), "\x00", " ")
		if strings.Contains(cmd, root+" ") && strings.Contains(cmd, "network dns") {
			return true
		}
	}
	return false
}

// cleanup removes everything the benchmark made, reporting what it could not.
func (b *bench) cleanup() {
	warn := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}
	if ids, err := benchutil.Out(b.hullCmd("ps", "-aq", "--no-trunc")...); err == nil {
		for _, id := range strings.Fields(ids) {
			_, err := benchutil.Out(b.hullCmd("rm", "-f", id)...)
			warn(err)
		}
	}
	_, err := benchutil.Out(b.hullCmd("network", "prune")...)
	warn(err)
	// a user network's DNS resolver exits once its network has been empty for a
	// while (2 s); its state root must still be there for it to see that
	for deadline := time.Now().Add(10 * time.Second); resolvers(b.root) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if resolvers(b.root) {
		fmt.Fprintln(os.Stderr, "cleanup: a hull network dns process of", b.root, "still runs")
	}
	for _, ns := range b.netns {
		warn(unix.Unmount(ns, unix.MNT_DETACH))
	}
	if b.podman != nil {
		b.podman.Cleanup()
		if _, err := os.Stat("/sys/class/net/cni-podman0"); err == nil {
			_, err := benchutil.Out("ip", "link", "del", "cni-podman0")
			warn(err)
		}
		if !b.hadCNI {
			warn(os.RemoveAll("/var/lib/cni")) // CNI's leases and result cache
		}
		for t, had := range b.hadTables {
			if !had {
				f := strings.Fields(t)
				benchutil.Out("nft", "delete", "table", f[0], f[1])
			}
		}
	}
	benchutil.RemoveAll(b.tmp)
}
