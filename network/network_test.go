package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// child is the test binary re-executed as a separate process: the IPAM test's 50
// concurrent attachers and the crash test's attacher that is killed mid-attach.
func child(mode string) int {
	m, err := New(Config{Root: os.Getenv("HULL_NET_ROOT"), DefaultBridge: os.Getenv("HULL_NET_BRIDGE"),
		DefaultSubnet: os.Getenv("HULL_NET_SUBNET")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if mode == "crash" {
		testHook = func(stage string) {
			if stage == "veth" {
				fmt.Println("veth")
				time.Sleep(time.Hour) // killed here
			}
		}
	}
	res, err := m.Attach(os.Getenv("HULL_NET_NS"), os.Getenv("HULL_NET_ID"), os.Getenv("HULL_NET_NAME"), AttachOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(res.IP.Addr())
	return 0
}

func childCmd(m *Manager, mode, nsPath, id, network string) *exec.Cmd {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "HULL_NET_CHILD="+mode, "HULL_NET_ROOT="+m.cfg.Root,
		"HULL_NET_BRIDGE="+m.cfg.DefaultBridge, "HULL_NET_SUBNET="+m.cfg.DefaultSubnet,
		"HULL_NET_NS="+nsPath, "HULL_NET_ID="+id, "HULL_NET_NAME="+network)
	return cmd
}

func TestStore(t *testing.T) {
	m := newManager(t)
	sub := nextSubnet()
	n, err := m.Create("front", CreateOptions{Subnet: sub, Internal: true})
	if err != nil {
		t.Fatal(err)
	}
	if n.Subnet.String() != sub || n.Gateway != n.Subnet.Addr().Next() || !n.Internal || !n.DNS ||
		!strings.HasPrefix(n.Bridge, "hull-") || len(n.Bridge) != 13 {
		t.Fatalf("created %+v", n)
	}
	if _, err := m.Create("front", CreateOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := m.Create("other", CreateOptions{Subnet: sub}); err == nil {
		t.Fatal("overlapping subnet accepted")
	}
	if _, err := m.Create("../x", CreateOptions{}); err == nil {
		t.Fatal("bad name accepted")
	}
	if _, err := m.Create("back", CreateOptions{}); err != nil { // the first free subnet of NetworkPools
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m.cfg.Root, "networks", "front.json")); err != nil {
		t.Fatal(err)
	}
	d, err := m.Get(DefaultNetwork)
	if err != nil || d.Bridge != m.cfg.DefaultBridge || d.DNS {
		t.Fatalf("default network %+v %v", d, err)
	}
	list, _ := m.List()
	var names []string
	for _, n := range list {
		names = append(names, n.Name)
	}
	if strings.Join(names, ",") != "back,bridge,front" {
		t.Fatalf("list %v", names)
	}

	ns := newNetns(t)
	if _, err := m.Attach(ns, "c1", "front", AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("front"); !errors.Is(err, ErrInUse) {
		t.Fatalf("remove in use: %v", err)
	}
	gone, err := m.Prune(Filters{})
	if err != nil || strings.Join(gone, ",") != "back" {
		t.Fatalf("prune: %v %v", gone, err)
	}
	if err := m.Remove(DefaultNetwork); err == nil {
		t.Fatal("removed the default network")
	}
	if err := m.Detach("c1", "front"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("front"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get("front"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after rm: %v", err)
	}
}

// TestAttach attaches two containers to one network and checks the kernel's view
// of one of them and TCP between them; Detach then leaves no link, lease, bridge
// or table.
func TestAttach(t *testing.T) {
	m := newManager(t)
	n, err := m.Create("app", CreateOptions{Subnet: nextSubnet()})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newNetns(t), newNetns(t)
	ra, err := m.Attach(a, "aaaa", "app", AttachOptions{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := m.Attach(b, "bbbb", "app", AttachOptions{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if ra.IP.Addr() == rb.IP.Addr() || ra.Gateway != n.Gateway || ra.Interface != "eth0" || !ra.DNS {
		t.Fatalf("results %+v %+v", ra, rb)
	}
	if _, err := m.Attach(b, "bbbb", "app", AttachOptions{}); !errors.Is(err, ErrAttached) {
		t.Fatalf("second attach: %v", err)
	}

	// the kernel's view from inside a
	nsh, _ := netns.GetFromPath(a)
	h, _ := netlink.NewHandleAt(nsh)
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	lo, _ := h.LinkByName("lo")
	addrs, _ := h.AddrList(eth0, netlink.FAMILY_V4)
	routes, _ := h.RouteList(nil, netlink.FAMILY_V4)
	h.Close()
	nsh.Close()
	if eth0.Attrs().Flags&net.FlagUp == 0 || lo.Attrs().Flags&net.FlagUp == 0 {
		t.Error("eth0 or lo down")
	}
	if eth0.Attrs().MTU != hostMTU() || eth0.Attrs().HardwareAddr.String() != ra.MAC.String() {
		t.Errorf("eth0 mtu %d mac %s", eth0.Attrs().MTU, eth0.Attrs().HardwareAddr)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != ra.IP.String() {
		t.Errorf("addresses %v, want %s", addrs, ra.IP)
	}
	var gw string
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			gw = r.Gw.String()
		}
	}
	if gw != n.Gateway.String() {
		t.Errorf("default route via %q, want %s", gw, n.Gateway)
	}
	host, err := netlink.LinkByName(ra.HostVeth)
	if err != nil || host.Attrs().MasterIndex == 0 {
		t.Fatalf("host veth %s: %v", ra.HostVeth, err)
	}
	if br, _ := netlink.LinkByIndex(host.Attrs().MasterIndex); br == nil || br.Attrs().Name != n.Bridge {
		t.Errorf("host veth not on %s", n.Bridge)
	}

	whoServer(t, b, ":7000")
	got, err := who(t, a, "tcp4", net.JoinHostPort(rb.IP.Addr().String(), "7000"), 2*time.Second)
	if err != nil || got != ra.IP.Addr().String() {
		t.Fatalf("a -> b tcp: %q %v", got, err)
	}

	for _, id := range []string{"aaaa", "bbbb"} {
		if err := m.Detach(id, "app"); err != nil {
			t.Fatal(err)
		}
		if err := m.Detach(id, "app"); err != nil {
			t.Fatalf("second detach: %v", err)
		}
	}
	assertClean(t, m, "app", ra.HostVeth, rb.HostVeth)
}

// assertClean checks that a network has no leases, no bridge, its containers' veths
// are gone, and the table is gone when it was the last network in use.
func assertClean(t *testing.T, m *Manager, network string, veths ...string) {
	t.Helper()
	n, eps, err := m.Inspect(network)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 0 {
		t.Errorf("leases left: %+v", eps)
	}
	for _, l := range append(veths, n.Bridge) {
		if _, err := netlink.LinkByName(l); err == nil {
			t.Errorf("link %s left", l)
		}
	}
	if exec.Command("nft", "list", "table", "inet", m.Table()).Run() == nil {
		t.Errorf("table inet %s left", m.Table())
	}
}

// TestIsolation: containers on two networks cannot reach each other; each still
// reaches its own network.
func TestIsolation(t *testing.T) {
	m := newManager(t)
	for _, name := range []string{"red", "blue"} {
		if _, err := m.Create(name, CreateOptions{Subnet: nextSubnet()}); err != nil {
			t.Fatal(err)
		}
	}
	r1, r2, b1 := newNetns(t), newNetns(t), newNetns(t)
	rr1, err := m.Attach(r1, "r1", "red", AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rr2, err := m.Attach(r2, "r2", "red", AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb1, err := m.Attach(b1, "b1", "blue", AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	whoServer(t, r2, ":7000")
	whoServer(t, b1, ":7000")
	if _, err := who(t, r1, "tcp4", rr2.IP.Addr().String()+":7000", 2*time.Second); err != nil {
		t.Fatalf("red -> red: %v", err)
	}
	if _, err := who(t, r1, "tcp4", rb1.IP.Addr().String()+":7000", 500*time.Millisecond); err == nil {
		t.Fatal("red reached blue")
	}
	if _, err := who(t, b1, "tcp4", rr2.IP.Addr().String()+":7000", 500*time.Millisecond); err == nil {
		t.Fatal("blue reached red")
	}
	_ = rr1
}

// TestInternal: an internal network has no default route and no egress.
func TestInternal(t *testing.T) {
	m := newManager(t)
	if _, err := m.Create("int", CreateOptions{Subnet: nextSubnet(), Internal: true}); err != nil {
		t.Fatal(err)
	}
	world := outside(t)
	whoServer(t, world, ":7100")
	c := newNetns(t)
	if _, err := m.Attach(c, "c", "int", AttachOptions{Ports: []PortMapping{{HostPort: 1, ContainerPort: 1, Proto: "tcp"}}}); err == nil {
		t.Fatal("published a port on an internal network")
	}
	if _, err := m.Attach(c, "c", "int", AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := who(t, c, "tcp4", "198.51.100.2:7100", 500*time.Millisecond); err == nil {
		t.Fatal("internal network reached the outside")
	}
}

// TestEgressNAT: a container reaches a server in the outside namespace, which sees
// the host's address there, not the container's.
func TestEgressNAT(t *testing.T) {
	m := newManager(t)
	world := outside(t)
	whoServer(t, world, ":7100")
	c := newNetns(t)
	if _, err := m.Attach(c, "c", DefaultNetwork, AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := who(t, c, "tcp4", "198.51.100.2:7100", 2*time.Second)
	if err != nil || got != "198.51.100.1" {
		t.Fatalf("outside saw %q (%v), want the host's 198.51.100.1", got, err)
	}
	got, err = who(t, c, "udp4", "198.51.100.2:7100", 2*time.Second)
	if err != nil || got != "198.51.100.1" {
		t.Fatalf("udp: outside saw %q (%v)", got, err)
	}
}

// TestPublish: published TCP and UDP ports, reached from the host on 127.0.0.1 and
// on the gateway address, from the outside namespace through the host's address
// there (source kept), from another container on the network (source kept when
// br_netfilter is loaded), and from the container itself (hairpin).
func TestPublish(t *testing.T) {
	m := newManager(t)
	world := outside(t)
	srv, cli := newNetns(t), newNetns(t)
	ports, err := ParsePort("17080-17081:7000-7001")
	if err != nil {
		t.Fatal(err)
	}
	udp, _ := ParsePort("17080:7000/udp")
	local, _ := ParsePort("127.0.0.1:17090:7000")
	rs, err := m.Attach(srv, "srv", DefaultNetwork, AttachOptions{Ports: append(append(ports, udp...), local...)})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := m.Attach(cli, "cli", DefaultNetwork, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	whoServer(t, srv, ":7000")
	whoServer(t, srv, ":7001")
	gw := rs.Gateway.String()
	// another container keeps its address where bridged frames pass netfilter
	keep := gw
	if bridgeNetfilter() {
		keep = rc.IP.Addr().String()
	}
	t.Logf("br_netfilter loaded: %v", bridgeNetfilter())
	for _, c := range []struct {
		from, proto, addr string
		want              string // the source the server sees; "" any
	}{
		{"", "tcp4", "127.0.0.1:17080", ""},
		{"", "tcp4", "127.0.0.1:17081", ""},
		{"", "udp4", "127.0.0.1:17080", ""},
		{"", "tcp4", "127.0.0.1:17090", ""},
		{"", "tcp4", gw + ":17080", gw},
		{"", "udp4", gw + ":17080", gw},
		{world, "tcp4", "198.51.100.1:17080", "198.51.100.2"},
		{world, "udp4", "198.51.100.1:17080", "198.51.100.2"},
		{cli, "tcp4", gw + ":17080", keep},
		{cli, "tcp4", "198.51.100.1:17081", keep},
		{cli, "udp4", gw + ":17080", keep},
		{srv, "tcp4", gw + ":17080", gw}, // to itself through its own port
		{srv, "udp4", gw + ":17080", gw},
	} {
		t0 := time.Now()
		got, err := who(t, c.from, c.proto, c.addr, 2*time.Second)
		t.Logf("%s %s %s: %q %v %v", c.from, c.proto, c.addr, got, err, time.Since(t0))
		if err != nil || got == "" || (c.want != "" && got != c.want) {
			t.Errorf("from %q %s %s: saw %q (%v), want %q", c.from, c.proto, c.addr, got, err, c.want)
		}
	}
	// bound to 127.0.0.1 only: not published on the outside address
	if _, err := who(t, world, "tcp4", "198.51.100.1:17090", 500*time.Millisecond); err == nil {
		t.Error("127.0.0.1-only port reached from outside")
	}
	// a port taken by another container is refused, and leaves nothing behind
	other := newNetns(t)
	if _, err := m.Attach(other, "other", DefaultNetwork, AttachOptions{Ports: udp}); err == nil {
		t.Error("published a taken port")
	}
	if err := m.Detach("srv", DefaultNetwork); err != nil {
		t.Fatal(err)
	}
	if _, err := who(t, "", "tcp4", "127.0.0.1:17080", 300*time.Millisecond); err == nil {
		t.Error("port still published after detach")
	}
}

// TestConcurrentAttach: 50 separate processes attach 50 containers to one network
// at once; each gets its own address, and the lease file holds all 50.
func TestConcurrentAttach(t *testing.T) {
	m := newManager(t)
	if _, err := m.Create("many", CreateOptions{Subnet: nextSubnet()}); err != nil {
		t.Fatal(err)
	}
	const count = 50
	nss := make([]string, count)
	for i := range nss {
		nss[i] = newNetns(t)
	}
	ips := make([]string, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := childCmd(m, "attach", nss[i], fmt.Sprintf("c%02d", i), "many").Output()
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			ips[i], errs[i] = strings.TrimSpace(string(out)), err
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, ip := range ips {
		if errs[i] != nil {
			t.Fatalf("attach %d: %v", i, errs[i])
		}
		if _, err := netip.ParseAddr(ip); err != nil || seen[ip] {
			t.Fatalf("attach %d got %q (taken twice: %v)", i, ip, seen[ip])
		}
		seen[ip] = true
	}
	_, eps, _ := m.Inspect("many")
	if len(eps) != count {
		t.Fatalf("%d leases, want %d", len(eps), count)
	}
	var veths []string
	for _, e := range eps {
		veths = append(veths, e.HostVeth)
		if !seen[e.IP.String()] {
			t.Fatalf("lease %s not handed out", e.IP)
		}
	}
	for i := 0; i < count; i++ {
		if err := m.Detach(fmt.Sprintf("c%02d", i), "many"); err != nil {
			t.Fatal(err)
		}
	}
	assertClean(t, m, "many", veths...)
}

// TestCrash: an attacher killed after creating the veth leaves a lease and a link;
// Reconcile frees them and sweeps a link on the bridge that no lease names, but
// keeps a live container's; with no live containers it removes all, the bridge
// and the table.
func TestCrash(t *testing.T) {
	m := newManager(t)
	if _, err := m.Create("crash", CreateOptions{Subnet: nextSubnet()}); err != nil {
		t.Fatal(err)
	}
	ns := newNetns(t)
	cmd := childCmd(m, "crash", ns, "dead", "crash")
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf[:4]) != "veth" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child: %q %v", buf, err)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	n, eps, _ := m.Inspect("crash")
	if len(eps) != 1 {
		t.Fatalf("leases after the crash: %+v", eps)
	}
	if _, err := netlink.LinkByName(eps[0].HostVeth); err != nil {
		t.Fatalf("no veth after the crash: %v", err)
	}
	// a live container elsewhere is kept
	keep := newNetns(t)
	if _, err := m.Attach(keep, "keep", "crash", AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	// and a link on the bridge that no lease names (a lost lease file)
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	stray := fmt.Sprintf("hstray%d", os.Getpid()%100000)
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: stray, MasterIndex: br.Attrs().Index},
		PeerName: stray + "p"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteLink(stray) })
	if err := m.Reconcile([]string{"keep"}); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(stray); err == nil {
		t.Error("a link on the bridge that no lease names is left")
	}
	_, eps2, _ := m.Inspect("crash")
	if len(eps2) != 1 || eps2[0].ContainerID != "keep" {
		t.Fatalf("after reconcile: %+v", eps2)
	}
	if _, err := netlink.LinkByName(eps[0].HostVeth); err == nil {
		t.Fatal("veth of the dead container left")
	}
	if err := m.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	assertClean(t, m, "crash", eps[0].HostVeth, eps2[0].HostVeth)
}

// TestAttachCost measures Attach+Detach of one container on a network that has a
// container already (the bridge exists): what networking adds to a container start.
func TestAttachCost(t *testing.T) {
	m := newManager(t)
	keep := newNetns(t)
	t0 := time.Now()
	if _, err := m.Attach(keep, "keep", DefaultNetwork, AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("first attach on the host (creates bridge and table): %v", time.Since(t0))
	const rounds = 20
	nss := make([]string, rounds)
	for i := range nss {
		nss[i] = newNetns(t)
	}
	ports, _ := ParsePort("17200:80")
	var att, det []time.Duration
	// where an attach goes: the time from one stage of Attach to the next
	stages := map[string][]time.Duration{}
	var last time.Time
	testHook = func(s string) { stages[s] = append(stages[s], time.Since(last)); last = time.Now() }
	defer func() { testHook = nil }()
	for i, ns := range nss {
		opts := AttachOptions{}
		if i%2 == 1 {
			opts.Ports = ports
		}
		t0 := time.Now()
		last = t0
		if _, err := m.Attach(ns, fmt.Sprint("c", i), DefaultNetwork, opts); err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		stages["route, forwarding"] = append(stages["route, forwarding"], t1.Sub(last))
		n, _ := m.Get(DefaultNetwork)
		if err := deleteLink(vethName(n.ID, fmt.Sprint("c", i))); err != nil { // Detach's first step, timed apart
			t.Fatal(err)
		}
		t2 := time.Now()
		if err := m.Detach(fmt.Sprint("c", i), DefaultNetwork); err != nil {
			t.Fatal(err)
		}
		att, det = append(att, t1.Sub(t0)), append(det, time.Since(t1))
		stages["detach: delete veth"] = append(stages["detach: delete veth"], t2.Sub(t1))
		stages["detach: the rest"] = append(stages["detach: the rest"], time.Since(t2))
	}
	med := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	for _, s := range []string{"opened", "leased", "bridge", "firewall", "veth", "configured", "route, forwarding",
		"detach: delete veth", "detach: the rest"} {
		t.Logf("%-20s median %v", s, med(stages[s]))
	}
	t.Logf("attach median %v max %v; detach median %v max %v (%d rounds, half with a published port)",
		med(att), att[len(att)-1], med(det), det[len(det)-1], rounds)
	if a := med(att); a > 10*time.Millisecond {
		t.Errorf("attach median %v, over the 10ms budget", a)
	}
}

// TestDetachAfterContainerGone: the container's namespace is gone (the container
// died, its monitor was killed) before Detach; Detach still frees everything.
func TestDetachAfterContainerGone(t *testing.T) {
	m := newManager(t)
	ns := newNetns(t)
	ports, _ := ParsePort("17300:80")
	r, err := m.Attach(ns, "gone", DefaultNetwork, AttachOptions{Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	delNetns(t, ns)
	if err := m.Detach("gone", DefaultNetwork); err != nil {
		t.Fatal(err)
	}
	assertClean(t, m, DefaultNetwork, r.HostVeth)
}

// TestDetachLater: DetachLater frees the lease and the port's rules at once and
// leaves the veth to the function it returns; the same container attaches again
// (hull start, a restart) while its old veth is still there, the old one is
// deleted, and another container's veth is never touched. The last endpoint
// goes whole (bridge and all).
func TestDetachLater(t *testing.T) {
	m := newManager(t)
	if _, err := m.Create("later", CreateOptions{Subnet: nextSubnet()}); err != nil {
		t.Fatal(err)
	}
	resident, err := m.Attach(newNetns(t), "resident", "later", AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ports, _ := ParsePort("17301:80")
	first, err := m.Attach(newNetns(t), "ctr", "later", AttachOptions{Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	finish, err := m.DetachLater("ctr", "later")
	if err != nil {
		t.Fatal(err)
	}
	if _, eps, _ := m.Inspect("later"); len(eps) != 1 || eps[0].ContainerID != "resident" {
		t.Errorf("leases after DetachLater: %+v", eps)
	}
	if rules, _ := exec.Command("nft", "list", "table", "inet", m.Table()).Output(); strings.Contains(string(rules), "17301") {
		t.Errorf("the port's rule is left after DetachLater:\n%s", rules)
	}
	// the namespace (bind-mounted by the test) lives on: so does the veth
	if _, err := netlink.LinkByName(first.HostVeth); err != nil {
		t.Fatalf("veth %s gone before its deletion: %v", first.HostVeth, err)
	}
	// the same container again, its old veth still there: the old one goes
	again, err := m.Attach(newNetns(t), "ctr", "later", AttachOptions{Ports: ports})
	if err != nil {
		t.Fatalf("attach again with the old veth left: %v", err)
	}
	if again.HostVeth != first.HostVeth {
		t.Fatalf("veth names %s, %s", first.HostVeth, again.HostVeth)
	}
	// The old deletion, late: the veth of that name is the new one now, leased,
	// and stays.
	finish()
	if _, err := netlink.LinkByName(again.HostVeth); err != nil {
		t.Errorf("the old veth's deletion took the new one: %v", err)
	}
	if err := m.Detach("ctr", "later"); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(first.HostVeth); err == nil {
		t.Errorf("veth %s left after Detach", first.HostVeth)
	}
	// the last endpoint: everything at once, the bridge with it
	finish, err = m.DetachLater("resident", "later")
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, m, "later", resident.HostVeth)
	finish()
}
