package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/testutil"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Test subnets: 10.214.N.0/24, N moving per network the tests make (and per test
// process, so two test runs at once rarely meet). Nothing outside the bridges and
// namespaces the tests make carries these addresses; the user networks whose
// names the tests resolve are --internal, so their resolver never asks upstream.
var netN atomic.Int32

func testSubnet() string {
	return fmt.Sprintf("10.214.%d.0/24", (os.Getpid()*7+int(netN.Add(1)))%250+1)
}

// netEnv is a hull env on hull's own runtime (or rt) whose default network has a
// subnet of its own; its cleanup checks that nothing of the network is left:
// bridges, veths, the nftables table, resolvers.
func netEnv(t *testing.T, rt string) *hullEnv {
	t.Helper()
	testutil.RequireRoot(t)
	if _, err := exec.LookPath(rt); rt != "hull" && err != nil {
		t.Skip(rt + " not installed")
	}
	t.Setenv("HULL_DEFAULT_SUBNET", testSubnet())
	h := newHullEnv(t, rt)
	// runs before newHullEnv's cleanup and the removal of the roots: a resolver
	// whose root is gone would not see its network empty
	t.Cleanup(func() {
		out, _, _ := h.run("ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			if _, stderr, code := h.run("rm", "-f", id); code != 0 {
				t.Errorf("cleanup: rm -f %s: %s", id, stderr)
			}
		}
		deadline := time.Now().Add(6 * time.Second)
		for len(resolvers(h.root)) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if pids := resolvers(h.root); len(pids) > 0 {
			t.Errorf("%d resolvers still run", len(pids))
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		// only this root's links: other test processes (go test ./... runs
		// packages at once) have bridges and veths of their own meanwhile
		for _, name := range rootLinks(h.root) {
			if strings.HasPrefix(name, "veth") {
				t.Errorf("link %s left on a bridge of the test", name)
			}
		}
		bridges := rootBridges(h.root)
		h.ok("network", "prune")
		for name := range bridges {
			if _, err := os.Stat("/sys/class/net/" + name); err == nil {
				t.Errorf("bridge %s left", name)
			}
		}
		tables, _ := exec.Command("nft", "list", "tables").Output()
		if tbl := "hull-" + rootHash(h.root); strings.Contains(string(tables), tbl) {
			t.Errorf("nftables table %s left", tbl)
		}
		leases, _ := filepath.Glob(filepath.Join(h.root, "networks/leases/*.json"))
		for _, f := range leases {
			if data, _ := os.ReadFile(f); strings.Contains(string(data), "containerID") {
				t.Errorf("lease left in %s: %s", f, data)
			}
		}
	})
	return h
}

// rootHash is how package network names a root's nftables table.
func rootHash(root string) string {
	abs, _ := filepath.Abs(root)
	sum := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(sum[:4])
}

func linkNames() map[string]bool {
	set := map[string]bool{}
	ents, _ := os.ReadDir("/sys/class/net")
	for _, e := range ents {
		set[e.Name()] = true
	}
	return set
}

// rootBridges is the set of bridges of root's networks, from their records.
func rootBridges(root string) map[string]bool {
	set := map[string]bool{}
	recs, _ := filepath.Glob(filepath.Join(root, "networks", "*.json"))
	for _, f := range recs {
		var n struct {
			Bridge string `json:"bridge"`
		}
		if data, err := os.ReadFile(f); err == nil && json.Unmarshal(data, &n) == nil && n.Bridge != "" {
			set[n.Bridge] = true
		}
	}
	return set
}

// rootLinks lists the links of root's networks that exist: their bridges and the
// veths enslaved to them.
func rootLinks(root string) []string {
	bridges := rootBridges(root)
	var links []string
	for name := range linkNames() {
		master, err := os.Readlink("/sys/class/net/" + name + "/master")
		if bridges[name] || err == nil && bridges[filepath.Base(master)] {
			links = append(links, name)
		}
	}
	sort.Strings(links)
	return links
}

// resolvers lists the `hull network dns` processes of root.
func resolvers(root string) []int {
	var pids []int
	for _, p := range testutil.Processes() {
		cmd := p.Cmdline() + " "
		if strings.Contains(cmd, root+" ") && strings.Contains(cmd, "network dns") {
			pids = append(pids, p.Pid)
		}
	}
	return pids
}

// network creates a network with a test subnet; cleanup (prune) removes it.
func (h *hullEnv) network(name string, args ...string) {
	h.t.Helper()
	h.ok(append(append([]string{"network", "create", "--subnet", testSubnet()}, args...), name)...)
}

func TestNetworkUserDNS(t *testing.T) {
	for _, rt := range []string{"hull", "runc"} {
		t.Run(rt, func(t *testing.T) {
			h := netEnv(t, rt)
			h.network("tnet", "--internal")
			h.ok("run", "-d", "--name", "srv", "--network", "tnet", "--network-alias", "web", "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc")
			ip := h.inspect("srv", "{{.NetworkSettings.IPAddress}}")
			if got := h.inspect("srv", "{{(index .NetworkSettings.Networks \"tnet\").IPAddress}}"); got != ip || ip == "" {
				t.Fatalf("inspect: IPAddress %q, Networks.tnet.IPAddress %q", ip, got)
			}
			hostname := strings.TrimSpace(h.inspect("srv", "{{.Config.Hostname}}"))
			// by name, by alias, by address, from a second container on the network
			out, stderr, code := h.run("run", "--rm", "--network", "tnet", "busybox", "sh", "-c",
				"ping -c1 -W2 srv >/dev/null && wget -qO- http://web:8080/hostname && wget -qO- http://"+ip+":8080/hostname")
			if code != 0 || out != hostname+"\n"+hostname+"\n" {
				t.Fatalf("client: exit %d, out %q, err %s", code, out, stderr)
			}
			// renamed while running: the new name resolves at once, the old one no more
			h.ok("rename", "srv", "srv2")
			out, stderr, code = h.run("run", "--rm", "--network", "tnet", "busybox", "sh", "-c",
				"wget -qO- http://srv2:8080/hostname && ! ping -c1 -W1 srv >/dev/null 2>&1")
			if code != 0 || out != hostname+"\n" {
				t.Fatalf("after rename: exit %d, out %q, err %s", code, out, stderr)
			}
			h.ok("rename", "srv2", "srv")
			// a third container in srv's namespace reaches it on loopback
			out, stderr, code = h.run("run", "--rm", "--network", "container:srv", "busybox", "wget", "-qO-", "http://127.0.0.1:8080/hostname")
			if code != 0 || out != hostname+"\n" {
				t.Fatalf("container:srv: exit %d, out %q, err %s", code, out, stderr)
			}
			// connect and disconnect a running container
			h.network("tnet2", "--internal")
			h.ok("network", "connect", "--alias", "other", "tnet2", "srv")
			ip2 := h.inspect("srv", "{{(index .NetworkSettings.Networks \"tnet2\").IPAddress}}")
			out, stderr, code = h.run("run", "--rm", "--network", "tnet2", "busybox", "wget", "-qO-", "http://other:8080/hostname")
			if code != 0 || out != hostname+"\n" || ip2 == "" {
				t.Fatalf("after connect (%s): exit %d, out %q, err %s", ip2, code, out, stderr)
			}
			h.ok("network", "disconnect", "tnet2", "srv")
			if _, _, code := h.run("run", "--rm", "--network", "tnet2", "busybox", "ping", "-c1", "-W1", ip2); code == 0 {
				t.Error("srv still answers on tnet2 after disconnect")
			}
			if _, stderr, code := h.run("network", "rm", "tnet"); code == 0 || !strings.Contains(stderr, "active endpoints") {
				t.Errorf("network rm of a used network: exit %d %s", code, stderr)
			}
		})
	}
}

func TestNetworkIsolation(t *testing.T) {
	h := netEnv(t, "hull")
	h.network("na")
	h.network("nb")
	h.ok("run", "-d", "--name", "a", "--network", "na", "busybox", "sleep", "60")
	h.ok("run", "-d", "--name", "a2", "--network", "na", "busybox", "sleep", "60")
	ipA := h.inspect("a", "{{.NetworkSettings.IPAddress}}")
	if ipA2 := h.inspect("a2", "{{.NetworkSettings.IPAddress}}"); ipA2 == ipA {
		t.Fatalf("a and a2 share %s", ipA)
	}
	if _, stderr, code := h.run("exec", "a2", "ping", "-c1", "-W2", ipA); code != 0 {
		t.Fatalf("same network: ping %s failed: %s", ipA, stderr)
	}
	if _, _, code := h.run("run", "--rm", "--network", "nb", "busybox", "ping", "-c1", "-W1", ipA); code == 0 {
		t.Errorf("a container on nb reached %s on na", ipA)
	}
	if _, _, code := h.run("run", "--rm", "--network", "nb", "busybox", "wget", "-T1", "-qO-", "http://"+ipA+":1/"); code == 0 {
		t.Errorf("tcp from nb to na got through")
	}
	if out := h.ok("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"); strings.Contains(out, "eth0") {
		t.Errorf("--network none has an eth0: %s", out)
	}
}

// httpGet fetches path from addr with a plain HTTP/1.0 request.
func httpGet(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\n\r\n", path)
	data, err := io.ReadAll(c)
	_, body, _ := strings.Cut(string(data), "\r\n\r\n")
	return body, err
}

func TestNetworkPublish(t *testing.T) {
	h := netEnv(t, "hull")
	// an image that exposes 8080, for -P
	s, err := image.Open(h.root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testutil.BusyboxRootfs(t, dir)
	if _, err := s.ImportDir(dir, "webimg", image.ImportOptions{Config: ocispec.ImageConfig{
		Cmd: []string{"httpd", "-f", "-p", "8080", "-h", "/etc"}, ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}}); err != nil {
		t.Fatal(err)
	}
	h.ok("run", "-d", "--name", "web", "-p", "127.0.0.1::8080", "-p", "9000-9001:9000-9001/udp", "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc")
	hostname := h.inspect("web", "{{.Config.Hostname}}")
	addr := strings.TrimSpace(h.ok("port", "web", "8080"))
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("port web 8080: %q", addr)
	}
	if all := h.ok("port", "web"); !strings.Contains(all, "9001/udp -> 0.0.0.0:9001") || !strings.Contains(all, "8080/tcp -> "+addr) {
		t.Errorf("port web: %q", all)
	}
	if body, err := httpGet(addr, "/hostname"); err != nil || body != hostname+"\n" {
		t.Fatalf("from the host to %s: %q, %v", addr, body, err)
	}
	// from another container, through the host (its gateway) and the DNAT rule
	gw := h.inspect("web", "{{.NetworkSettings.Gateway}}")
	_, port, _ := net.SplitHostPort(addr)
	// published on 127.0.0.1 only: not through the gateway
	if _, _, code := h.run("run", "--rm", "busybox", "wget", "-T1", "-qO-", "http://"+gw+":"+port+"/hostname"); code == 0 {
		t.Errorf("a port published on 127.0.0.1 answered on %s", gw)
	}
	h.ok("run", "-d", "--name", "web2", "-P", "webimg")
	addr2 := strings.TrimSpace(h.ok("port", "web2", "8080/tcp"))
	_, port2, _ := net.SplitHostPort(addr2)
	out, stderr, code := h.run("run", "--rm", "busybox", "wget", "-qO-", "http://"+gw+":"+port2+"/hostname")
	if want := h.inspect("web2", "{{.Config.Hostname}}"); code != 0 || out != want+"\n" {
		t.Fatalf("from a container to %s:%s: exit %d %q %s", gw, port2, code, out, stderr)
	}
	if body, err := httpGet("127.0.0.1:"+port2, "/hostname"); err != nil || body == "" {
		t.Errorf("from the host to -P port %s: %q %v", port2, body, err)
	}
	// a range; another container keeps its address through a published port
	// (where br_netfilter is loaded; without it hull masquerades it)
	h.ok("run", "-d", "--name", "who", "-p", "18600-18602:8080-8082", "busybox", "sh", "-c",
		`mkdir -p /w/cgi-bin && printf '#!/bin/sh\necho\necho $REMOTE_ADDR\n' >/w/cgi-bin/ip && chmod +x /w/cgi-bin/ip && exec httpd -f -p 8082 -h /w`)
	if got := strings.TrimSpace(h.ok("port", "who", "8081")); got != "0.0.0.0:18601" {
		t.Errorf("port who 8081: %q", got)
	}
	out, stderr, code = h.run("run", "--rm", "busybox", "sh", "-c",
		"ip -4 -o addr show eth0; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://"+gw+":18602/cgi-bin/ip && exit; sleep 0.3; done; exit 1")
	_, inet, _ := strings.Cut(out, "inet ")
	client, _, _ := strings.Cut(inet, "/")
	want := client
	if _, err := os.Stat("/proc/sys/net/bridge"); err != nil {
		want = gw
	}
	lines := strings.Fields(out)
	seen := ""
	if len(lines) > 0 { // httpd gives an IPv4 client as [::ffff:a.b.c.d]
		seen = strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "[::ffff:"), "]")
	}
	if code != 0 || seen != want {
		t.Errorf("the server saw %q, want the client's %s: exit %d %s", out, want, code, stderr)
	}
	// a host range for one container port: a free port of it each
	h.ok("run", "-d", "--name", "r1", "-p", "18610-18611:8080", "busybox", "sleep", "60")
	h.ok("run", "-d", "--name", "r2", "-p", "18610-18611:8080", "busybox", "sleep", "60")
	p1, p2 := strings.TrimSpace(h.ok("port", "r1", "8080")), strings.TrimSpace(h.ok("port", "r2", "8080"))
	if p1 == p2 || !strings.HasPrefix(p1, "0.0.0.0:1861") || !strings.HasPrefix(p2, "0.0.0.0:1861") {
		t.Errorf("-p 18610-18611:8080 twice: %s and %s", p1, p2)
	}
	// the same host port twice is refused, and leaves nothing
	if _, stderr, code := h.run("run", "--rm", "-p", "9000:80/udp", "busybox", "true"); code == 0 || !strings.Contains(stderr, "already published") {
		t.Errorf("second publish of 9000/udp: exit %d %s", code, stderr)
	}
	h.ok("rm", "-f", "web")
	if _, err := httpGet(addr, "/hostname"); err == nil {
		t.Errorf("%s still answers after rm -f", addr)
	}
}

func TestNetworkEtcFiles(t *testing.T) {
	h := netEnv(t, "hull")
	out := h.ok("run", "--rm", "--hostname", "box", "--add-host", "db.test:10.214.250.9", "--add-host", "gw.test:host-gateway",
		"--dns", "10.214.250.53", "--dns-search", "example.test", "--dns-option", "ndots:2",
		"busybox", "sh", "-c", "hostname; cat /etc/hostname /etc/hosts /etc/resolv.conf; ip -4 -o addr show eth0")
	for _, want := range []string{"box\nbox\n", "10.214.250.9\tdb.test", "\tgw.test", "nameserver 10.214.250.53", "search example.test", "options ndots:2"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	_, inet, _ := strings.Cut(out, "inet ")
	ip, _, _ := strings.Cut(inet, "/")
	if ip == "" || !strings.Contains(out, ip+"\tbox") {
		t.Errorf("/etc/hosts lacks the container's address:\n%s", out)
	}
	out = h.ok("run", "--rm", "--network", "host", "--add-host", "db.test:10.214.250.9", "busybox", "cat", "/etc/hosts")
	if !strings.Contains(out, "10.214.250.9\tdb.test") {
		t.Errorf("--network host --add-host: %s", out)
	}
}

// TestNetworkConcurrentRuns starts 50 containers at once on the default network
// (the "50 concurrent runs get 50 distinct addresses") and removes them at
// once: every address distinct, and after rm -f no veth, lease or port rule left.
func TestNetworkConcurrentRuns(t *testing.T) {
	h := netEnv(t, "hull")
	const n = 50
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, stderr, code := h.run("run", "-d", "busybox", "sleep", "60")
			if code != 0 {
				t.Errorf("run %d: %s", i, stderr)
			}
			ids[i] = strings.TrimSpace(out)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[string]bool{}
	for _, id := range ids {
		ip := h.inspect(id, "{{.NetworkSettings.IPAddress}}")
		if ip == "" || seen[ip] {
			t.Errorf("container %s: address %q (taken twice or none)", id[:12], ip)
		}
		seen[ip] = true
	}
	var veths int
	for _, name := range rootLinks(h.root) {
		if strings.HasPrefix(name, "veth") {
			veths++
		}
	}
	if veths != n {
		t.Errorf("%d veths on the bridge while %d containers run", veths, n)
	}
	var addrs []string
	for ip := range seen {
		addrs = append(addrs, ip)
	}
	sort.Strings(addrs)
	// every one reaches the last
	if _, stderr, code := h.run("exec", ids[0], "ping", "-c1", "-W2", addrs[len(addrs)-1]); code != 0 {
		t.Errorf("ping between concurrent containers: %s", stderr)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, stderr, code := h.run("rm", "-f", ids[i]); code != 0 {
				t.Errorf("rm -f: %s", stderr)
			}
		}()
	}
	wg.Wait()
	var inspect []struct {
		Containers map[string]any `json:"Containers"`
	}
	json.Unmarshal([]byte(h.ok("network", "inspect", "bridge")), &inspect)
	if len(inspect) != 1 || len(inspect[0].Containers) != 0 {
		t.Errorf("bridge still has endpoints after rm -f: %+v", inspect)
	}
	// before prune: the bridge may stay, but nothing of a container
	veths = 0
	for _, name := range rootLinks(h.root) {
		if strings.HasPrefix(name, "veth") {
			veths++
		}
	}
	if veths != 0 {
		t.Errorf("%d veths left on the bridge after rm -f", veths)
	}
	leases, _ := filepath.Glob(filepath.Join(h.root, "networks/leases/*.json"))
	for _, f := range leases {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), "containerID") {
			t.Errorf("lease left in %s: %s", f, data)
		}
	}
	rules, _ := exec.Command("nft", "list", "table", "inet", "hull-"+rootHash(h.root)).Output()
	for _, ip := range addrs {
		if strings.Contains(string(rules), ip+" ") || strings.Contains(string(rules), ip+"\n") {
			t.Errorf("nftables rule for %s left:\n%s", ip, rules)
			break
		}
	}
}

// monitorPid reads the monitor's pid from the record.
func (h *hullEnv) monitorPid(id string) int {
	h.t.Helper()
	var c struct{ State struct{ MonitorPid int } }
	data, err := os.ReadFile(filepath.Join(h.root, "containers", id, "config.json"))
	if err != nil {
		h.t.Fatal(err)
	}
	json.Unmarshal(data, &c)
	return c.State.MonitorPid
}

func TestNetworkKilledMonitor(t *testing.T) {
	h := netEnv(t, "hull")
	h.network("knet", "--internal")
	id := strings.TrimSpace(h.ok("run", "-d", "--network", "knet", "--name", "k", "busybox", "sleep", "60"))
	id2 := strings.TrimSpace(h.ok("run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "60"))
	for _, c := range []string{id, id2} {
		pid := h.monitorPid(c)
		if pid == 0 {
			t.Fatal("no monitor pid")
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}
	var added int
	for _, name := range rootLinks(h.root) {
		if strings.HasPrefix(name, "veth") {
			added++
		}
	}
	if added != 2 {
		t.Errorf("%d veths while the containers run, want 2", added)
	}
	// the second one's init dies too: nobody but rm/prune is left to free it
	h.ok("kill", id2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil && h.inspect(id2, "{{.State.Status}}") != "exited" {
		time.Sleep(50 * time.Millisecond)
	}
	h.ok("rm", "-f", id)
	// rm -f of id reconciled: id2's lease, veth and port rule are gone already
	for _, name := range rootLinks(h.root) {
		t.Errorf("link %s left after rm -f with killed monitors", name)
	}
	h.ok("rm", id2)
}

func init() {
	// every test of the package that uses the default network gets a test subnet
	if os.Getenv("HULL_DEFAULT_SUBNET") == "" {
		os.Setenv("HULL_DEFAULT_SUBNET", testSubnet())
	}
}

// TestNetworkStartCost measures what the default network adds to `hull run --rm`:
// the median of 20 runs on the bridge against 20 with --network none, alternating.
func TestNetworkStartCost(t *testing.T) {
	h := netEnv(t, "hull")
	h.ok("run", "--rm", "busybox", "true") // the bridge's first use
	const n = 20
	median := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return (d[n/2-1] + d[n/2]) / 2
	}
	measure := func(what string, args ...string) {
		var bridge, none []time.Duration
		for i := 0; i < 2*n; i++ {
			mode := []string{"bridge", "none"}[i%2]
			start := time.Now()
			out := h.ok(append([]string{"run", "--network", mode}, args...)...)
			d := time.Since(start)
			if id := strings.TrimSpace(out); len(id) == 64 {
				h.ok("rm", "-f", id)
			}
			if mode == "bridge" {
				bridge = append(bridge, d)
			} else {
				none = append(none, d)
			}
		}
		mb, mn := median(bridge), median(none)
		t.Logf("%s: bridge median %v, none median %v: the network adds %v", what, mb, mn, mb-mn)
	}
	measure("run --rm busybox true, alone", "--rm", "busybox", "true")
	measure("run -d busybox sleep 9 (to running), alone", "-d", "busybox", "sleep", "9")
	// with a container that keeps the bridge up, as on a host in use
	h.ok("run", "-d", "--name", "resident", "busybox", "sleep", "60")
	measure("run --rm busybox true, bridge in use", "--rm", "busybox", "true")
	measure("run -d busybox sleep 9 (to running), bridge in use", "-d", "busybox", "sleep", "9")
}

// monitorsOf lists the pids of root's container monitors, but skip's.
func monitorsOf(root, skip string) []int {
	var pids []int
	for _, p := range testutil.Processes() {
		cmd := p.Cmdline() + " "
		if strings.Contains(cmd, root+" ") && strings.Contains(cmd, " monitor ") && !strings.Contains(cmd, skip) {
			pids = append(pids, p.Pid)
		}
	}
	return pids
}

// leases counts the leases of root's default network.
func leases(root string) int {
	data, _ := os.ReadFile(filepath.Join(root, "networks/leases/bridge.json"))
	return strings.Count(string(data), `"containerID"`)
}

// inCgroup tells whether a live process (not a zombie waiting for its reaper) runs
// in the container's cgroup.
func inCgroup(id string) bool {
	files, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, f := range files {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), "/hull-"+id) {
			stat, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "stat"))
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] != 'Z' {
				return true
			}
		}
	}
	return false
}

// removeCgroups kills what rm -f left of containers whose monitor was killed
// between the runtime's create and start (their init, waiting to be started, and
// so their network namespace), and removes their cgroups, so that a failing test
// leaves the host clean; rm -f must leave none (checked by the test).
func removeCgroups(t *testing.T, ids []string) {
	for _, id := range ids {
		files, _ := filepath.Glob("/proc/[0-9]*/cgroup")
		for _, f := range files {
			if data, _ := os.ReadFile(f); strings.Contains(string(data), "/hull-"+id) {
				pid, _ := strconv.Atoi(strings.Split(f, "/")[2])
				stat, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "stat"))
				t.Logf("process %d of %s left by rm -f: %s", pid, id[:12], stat)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		for deadline := time.Now().Add(20 * time.Second); inCgroup(id) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond) // pid 1 reaps them
		}
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/hull-" + id)
		more, _ := filepath.Glob("/sys/fs/cgroup/unified/hull-" + id)
		for _, d := range append(dirs, more...) {
			if err := os.Remove(d); err == nil {
				t.Logf("removed cgroup %s, left by rm -f", d)
			}
		}
	}
}

// TestNetworkCrashWhileWiring kills hull (the monitor of `hull run -d`, which wires
// the network) with SIGKILL at points spread over its attach, with a published port
// each; the next `rm -f` and `network prune` leave nothing of those containers: no
// veth, lease, port rule or process (the namespace dies with its last process),
// and a resident container keeps all of its own.
func TestNetworkCrashWhileWiring(t *testing.T) {
	h := netEnv(t, "hull")
	resident := strings.TrimSpace(h.ok("run", "-d", "-p", "127.0.0.1:18500:80", "busybox", "sleep", "60"))
	const n = 10
	for i := range n {
		cmd := h.command(context.Background(), "run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:80", 18501+i), "busybox", "sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// the first two as the monitor appears, the others 0 to 5.6 ms after its
		// lease was written: in the middle of the attach
		var pids []int
		leased := func() bool { return true }
		if i >= 2 {
			leased = func() bool { return leases(h.root) > 1 }
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
			if pids = monitorsOf(h.root, resident); len(pids) > 0 && leased() {
				break
			}
		}
		after := time.Duration(max(i-2, 0)) * 700 * time.Microsecond
		time.Sleep(after)
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		err := cmd.Wait()
		t.Logf("killed %v (leased: %v) %v later: run -d: %v", pids, i >= 2, after, err)
	}
	var ids []string
	for _, id := range strings.Fields(h.ok("ps", "-aq", "--no-trunc")) {
		if id != resident {
			ids = append(ids, id)
		}
	}
	if len(ids) != n {
		t.Errorf("%d containers, want %d", len(ids), n)
	}
	// the next command: rm -f of them all
	h.ok(append([]string{"rm", "-f"}, ids...)...)
	h.ok("network", "prune")
	t.Cleanup(func() { removeCgroups(t, ids) })
	for _, id := range ids {
		if inCgroup(id) {
			t.Errorf("rm -f left a process of %s", id[:12])
		}
	}
	var veths []string
	for _, name := range rootLinks(h.root) {
		if strings.HasPrefix(name, "veth") {
			veths = append(veths, name)
		}
	}
	if len(veths) != 1 {
		t.Errorf("veths on the bridge: %v, want the resident's only", veths)
	}
	var inspect []struct {
		Containers map[string]any `json:"Containers"`
	}
	json.Unmarshal([]byte(h.ok("network", "inspect", "bridge")), &inspect)
	if len(inspect) != 1 || len(inspect[0].Containers) != 1 || inspect[0].Containers[resident] == nil {
		t.Errorf("leases: %+v, want the resident's only", inspect)
	}
	rules, _ := exec.Command("nft", "list", "table", "inet", "hull-"+rootHash(h.root)).Output()
	if got := strings.Count(string(rules), "dnat ip to"); got != 1 || !strings.Contains(string(rules), "dport 18500") {
		t.Errorf("%d port rules, want the resident's only:\n%s", got, rules)
	}
}

// TestNetworkFixedAddress: --ip and --mac-address give eth0 its address and MAC; an
// address in use, outside the subnet or the gateway's is refused, and leaves nothing.
func TestNetworkFixedAddress(t *testing.T) {
	h := netEnv(t, "hull")
	h.network("fixed", "--internal")
	var nets []struct {
		Subnet  netip.Prefix `json:"subnet"`
		Gateway netip.Addr   `json:"gateway"`
	}
	if err := json.Unmarshal([]byte(h.ok("network", "inspect", "fixed")), &nets); err != nil || len(nets) != 1 {
		t.Fatalf("network inspect: %v", err)
	}
	ip := nets[0].Gateway.Next().Next().Next().String() // .4
	h.ok("run", "-d", "--name", "a", "--network", "fixed", "--ip", ip, "--mac-address", "02:aa:bb:cc:dd:ee", "busybox", "sleep", "60")
	out := h.ok("exec", "a", "ip", "-o", "addr", "show", "eth0")
	link := h.ok("exec", "a", "ip", "-o", "link", "show", "eth0")
	if !strings.Contains(out, "inet "+ip+"/") || !strings.Contains(link, "02:aa:bb:cc:dd:ee") {
		t.Errorf("eth0: %s%s", out, link)
	}
	if got := h.inspect("a", "{{(index .NetworkSettings.Networks \"fixed\").IPAMConfig.IPv4Address}}"); got != ip {
		t.Errorf("IPAMConfig.IPv4Address %q", got)
	}
	before := h.ok("ps", "-aq")
	for _, c := range []struct{ args, err string }{
		{"--ip " + ip, "is taken"},
		{"--ip " + nets[0].Gateway.String(), "not a host address"},
		{"--ip 192.0.2.1", "not a host address"},
		{"--ip 1.2.3", "invalid --ip"},
		{"--mac-address 01:00:5e:00:00:01", "invalid --mac-address"},
	} {
		args := append(append([]string{"run", "--rm", "--network", "fixed"}, strings.Fields(c.args)...), "busybox", "true")
		_, stderr, code := h.run(args...)
		if code != 125 || !strings.Contains(stderr, c.err) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, %q", c.args, code, stderr)
		}
	}
	if after := h.ok("ps", "-aq"); after != before {
		t.Errorf("refused runs left containers: %q, was %q", after, before)
	}
	if eps := h.ok("network", "inspect", "fixed"); strings.Count(eps, "IPv4Address") != 1 {
		t.Errorf("leases after refused runs: %s", eps)
	}
}

// TestNetworkAvoidsHost: another engine's bridge (a stand-in for podman's
// cni-podman0, which holds 10.88.0.0/16 on a host where podman ran) holds hull's
// first choices: 10.144.0.0/16 for the default network and 10.152.0.0/24 for a user
// network. With no subnet given, both networks take free ones of hull's pools, a
// container on each is reached through its port published on 127.0.0.1, `network
// inspect` names each one's real bridge as docker does, and a --subnet that
// overlaps the stand-in or the user network is refused, naming it.
func TestNetworkAvoidsHost(t *testing.T) {
	h := netEnv(t, "hull")
	t.Setenv("HULL_DEFAULT_SUBNET", "") // hull's own choice, as for a user
	standIn := fmt.Sprintf("hts%d", os.Getpid()%100000)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("link", "add", standIn, "type", "bridge")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", standIn).Run() })
	ip("addr", "add", "10.144.0.1/16", "dev", standIn)
	ip("addr", "add", "10.152.0.1/24", "dev", standIn)
	ip("link", "set", standIn, "up")

	h.ok("network", "create", "avoid")
	for _, c := range []struct{ network, pool, taken string }{
		{"bridge", "10.144.0.0/13", "10.144.0.0/16"},
		{"avoid", "10.152.0.0/13", "10.152.0.0/24"},
	} {
		var nets []struct {
			Subnet  netip.Prefix      `json:"subnet"`
			Options map[string]string `json:"Options"`
		}
		if err := json.Unmarshal([]byte(h.ok("network", "inspect", c.network)), &nets); err != nil || len(nets) != 1 {
			t.Fatalf("network inspect %s: %v", c.network, err)
		}
		n := nets[0]
		if n.Subnet.Overlaps(netip.MustParsePrefix(c.taken)) || !netip.MustParsePrefix(c.pool).Contains(n.Subnet.Addr()) {
			t.Errorf("network %s took %s; want a subnet of %s beside the host's %s", c.network, n.Subnet, c.pool, c.taken)
		}
		name := "web-" + c.network
		h.ok("run", "-d", "--name", name, "--network", c.network, "-p", "127.0.0.1::8080", "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc")
		addr := strings.TrimSpace(h.ok("port", name, "8080"))
		if body, err := httpGet(addr, "/hostname"); err != nil || body != h.inspect(name, "{{.Config.Hostname}}")+"\n" {
			t.Errorf("%s on %s (%s) through %s: %q %v", name, c.network, n.Subnet, addr, body, err)
		}
		// the bridge inspect names is the one the container's veth is on
		bridge := n.Options["com.docker.network.bridge.name"]
		if links := rootLinks(h.root); bridge == "" || !slices.Contains(links, bridge) {
			t.Errorf("inspect %s: bridge %q, the root's links are %v", c.network, bridge, links)
		}
		if ipAddr := h.inspect(name, "{{.NetworkSettings.Networks."+c.network+".IPAddress}}"); !n.Subnet.Contains(netip.MustParseAddr(ipAddr)) {
			t.Errorf("%s has %s, not in %s", name, ipAddr, n.Subnet)
		}
	}

	var avoid []struct {
		Subnet string `json:"subnet"`
	}
	json.Unmarshal([]byte(h.ok("network", "inspect", "avoid")), &avoid)
	for _, c := range []struct{ subnet, want string }{
		{"10.144.0.0/16", "subnet 10.144.0.0/16 overlaps 10.144.0.0/16 on " + standIn},
		{"10.152.0.0/16", "subnet 10.152.0.0/16 overlaps network avoid (" + avoid[0].Subnet + ")"},
		{"10.152.0.128/25", "subnet 10.152.0.128/25 overlaps 10.152.0.0/24 on " + standIn},
	} {
		_, stderr, code := h.run("network", "create", "--subnet", c.subnet, "clash")
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("network create --subnet %s: exit %d, %q; want one line with %q", c.subnet, code, stderr, c.want)
		}
	}
	if _, _, code := h.run("network", "inspect", "clash"); code == 0 {
		t.Error("a refused network exists")
	}
}

// TestNetworkRunRmLeavesNothing: `run --rm` on a bridge reports the end before the
// kernel has deleted the veth pair (the monitor deletes it after), and leaves
// nothing: many runs in a row with the same name, address and published port, and
// ten at once, each starting as soon as the one before returned, with a resident
// container on the network (so the bridge stays). Right after the last returns,
// no lease, port rule, record or cgroup of theirs is left; within a few seconds no
// veth, monitor or other process either (the veths and monitors end on their own,
// after the end was reported), and the resident keeps its own.
func TestNetworkRunRmLeavesNothing(t *testing.T) {
	h := netEnv(t, "hull")
	h.network("quick")
	h.ok("run", "-d", "--name", "resident", "--network", "quick", "busybox", "sleep", "60")
	gw := strings.TrimSpace(h.inspect("resident", `{{(index .NetworkSettings.Networks "quick").Gateway}}`))
	ip := netip.MustParseAddr(gw).Next().Next().Next().Next().String() // .5
	dir := t.TempDir()
	var ids []string
	cid := func(n int) string {
		data, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(n)))
		if err != nil {
			t.Fatalf("cidfile %d: %v", n, err)
		}
		return string(data)
	}
	const serial = 15
	for i := range serial {
		// the same name, address and host port each time: each run finds them free
		out, stderr, code := h.run("run", "--rm", "--name", "quick-one", "--network", "quick", "--ip", ip, "-p", "17311:80",
			"--cidfile", filepath.Join(dir, strconv.Itoa(i)), "busybox", "sh", "-c", "ip -o -4 addr show eth0")
		if code != 0 || !strings.Contains(out, "inet "+ip+"/") {
			t.Fatalf("run %d: exit %d: %s%s", i, code, out, stderr)
		}
		ids = append(ids, cid(i))
	}
	var wg sync.WaitGroup
	for i := serial; i < serial+10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, stderr, code := h.run("run", "--rm", "--network", "quick", "-p", strconv.Itoa(17320+i)+":80",
				"--cidfile", filepath.Join(dir, strconv.Itoa(i)), "busybox", "true"); code != 0 {
				t.Errorf("run %d: exit %d: %s", i, code, stderr)
			}
		}()
	}
	wg.Wait()
	for i := serial; i < serial+10; i++ {
		ids = append(ids, cid(i))
	}
	// at once
	var l struct {
		Endpoints map[string]struct{} `json:"endpoints"`
	}
	data, _ := os.ReadFile(filepath.Join(h.root, "networks/leases/quick.json"))
	if json.Unmarshal(data, &l); len(l.Endpoints) != 1 {
		t.Errorf("%d leases on quick after the runs, want the resident's: %s", len(l.Endpoints), data)
	}
	rules, err := exec.Command("nft", "list", "table", "inet", "hull-"+rootHash(h.root)).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"17311", "17315", "17324", ip + " "} {
		if strings.Contains(string(rules), p) {
			t.Errorf("rule with %q left:\n%s", p, rules)
		}
	}
	if out := h.ok("ps", "-aq"); len(strings.Fields(out)) != 1 {
		t.Errorf("containers left: %q", out)
	}
	for _, id := range ids {
		if dirs, _ := filepath.Glob("/sys/fs/cgroup/*/hull-" + id); len(dirs) > 0 {
			t.Errorf("cgroups of %s left: %v", id[:12], dirs)
		}
		if _, err := os.Stat(filepath.Join(h.root, "containers", id, "config.json")); err == nil {
			t.Errorf("the record of %s left", id[:12])
		}
	}
	// in a while: the veths, the snapshots' mounts, the files and the monitors
	// go on their own (the monitors remove them after they reported the end)
	residentMon := strconv.Itoa(h.monitorPid(h.inspect("resident", "{{.Id}}")))
	var veths, left []string
	var procs []int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		left = left[:0]
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		for _, id := range ids {
			if bytes.Contains(mounts, []byte(id)) {
				left = append(left, "mount of "+id[:12])
			}
			for _, d := range []string{filepath.Join(h.root, "containers", id), filepath.Join(h.root, "snapshots", id), filepath.Join(h.state, "containers", id)} {
				if _, err := os.Stat(d); err == nil {
					left = append(left, d)
				}
			}
		}
		veths = veths[:0]
		for _, name := range rootLinks(h.root) {
			if strings.HasPrefix(name, "veth") {
				veths = append(veths, name)
			}
		}
		procs = procs[:0]
		for _, pid := range monitorsOf(h.root, "\x00") {
			if strconv.Itoa(pid) != residentMon {
				procs = append(procs, pid)
			}
		}
		for _, id := range ids {
			if inCgroup(id) {
				procs = append(procs, -1)
			}
		}
		if len(veths) == 1 && len(procs) == 0 && len(left) == 0 {
			break
		}
	}
	if len(left) != 0 {
		t.Errorf("left: %v", left)
	}
	if len(veths) != 1 {
		t.Errorf("veths on quick: %v, want the resident's", veths)
	}
	if len(procs) != 0 {
		t.Errorf("processes left (monitors; -1: a container's): %v", procs)
	}
	if out := h.ok("exec", "resident", "ip", "-o", "-4", "addr", "show", "eth0"); !strings.Contains(out, "inet ") {
		t.Errorf("the resident lost its address: %s", out)
	}
}
