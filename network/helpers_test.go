package network

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("HULL_NET_CHILD"); mode != "" {
		os.Exit(child(mode))
	}
	// the tests' networks turn net.ipv4.ip_forward on, as hull does; put the host
	// back as the tests found it
	const knob = "/proc/sys/net/ipv4/ip_forward"
	was, _ := os.ReadFile(knob)
	code := testutil.Main(m)
	if len(was) > 0 && was[0] == '0' {
		_ = os.WriteFile(knob, []byte("0"), 0)
	}
	os.Exit(code)
}

// Test subnets: 10.213.N.0/24, N counting up per network the tests make, and one
// fixed range for the default network. Nothing outside the namespaces and bridges
// the tests make ever carries these addresses.
var subnetN atomic.Int32

func nextSubnet() string { return fmt.Sprintf("10.213.%d.0/24", (subnetN.Add(1)-1)%254+1) }

// newManager makes a Manager on a temporary root whose default network has its
// own bridge and subnet; cleanup frees every lease and removes every network, and
// so every bridge and the nftables table.
func newManager(t *testing.T) *Manager {
	t.Helper()
	return newManagerWith(t, Config{DefaultSubnet: nextSubnet()})
}

// newManagerWith is newManager with cfg, on a root of the test's and, unless cfg
// names one, the test process's default bridge.
func newManagerWith(t *testing.T, cfg Config) *Manager {
	t.Helper()
	testutil.RequireRoot(t)
	cfg.Root = t.TempDir()
	if cfg.DefaultBridge == "" {
		cfg.DefaultBridge = fmt.Sprintf("hullt%d", os.Getpid()%100000)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Reconcile(nil); err != nil {
			t.Errorf("cleanup reconcile: %v", err)
		}
		if _, err := m.Prune(Filters{}); err != nil {
			t.Errorf("cleanup prune: %v", err)
		}
		if _, err := netlink.LinkByName(m.cfg.DefaultBridge); err == nil {
			t.Errorf("default bridge %s left", m.cfg.DefaultBridge)
		}
		if exec.Command("nft", "list", "table", "inet", m.Table()).Run() == nil {
			t.Errorf("nftables table %s left", m.Table())
		}
	})
	return m
}

var nsN atomic.Int32

// newNetns makes a network namespace (a "container") and removes it at cleanup.
// It returns its path: a file in the test's temporary directory that the new
// namespace is bind-mounted on. No ip(8): `ip netns add` keeps its namespaces in
// /run/netns, which it turns into a bind mount of itself on first use and never
// unmounts, host state that outlives the tests.
func newNetns(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("netns%d", nsN.Add(1)))
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// cleanup before t.TempDir's own: a mounted file cannot be removed
	t.Cleanup(func() { delNetns(t, path) })
	errc := make(chan error, 1)
	go func() {
		// The namespace is made on a thread of its own, which never unlocks: Go
		// ends a locked thread with its goroutine, so no goroutine ever runs in
		// the new namespace. The bind mount keeps the namespace alive after it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare netns: %w", err)
			return
		}
		if err := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind netns on %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return path
}

// delNetns removes a namespace newNetns made: the namespace dies (and with it the
// links inside) when its mount is gone and no process or fd holds it.
func delNetns(t testing.TB, path string) {
	t.Helper()
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		t.Errorf("unmount netns %s: %v", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("remove %s: %v", path, err)
	}
}

// inNetns runs f on an OS thread moved into the namespace at path. Sockets made in
// f stay in that namespace after it returns. If the thread cannot be moved back it
// stays locked, and Go ends it when the goroutine exits.
func inNetns(t testing.TB, path string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(path)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	f()
}

// whoServer listens on addr (TCP and UDP) inside the namespace and answers each
// connection or datagram with the client address it sees: the test learns both
// that it got through and what source address arrived.
func whoServer(t *testing.T, nsPath, addr string) {
	t.Helper()
	var l net.Listener
	var pc net.PacketConn
	listen := func() {
		var err error
		if l, err = net.Listen("tcp4", addr); err != nil {
			t.Fatal(err)
		}
		if pc, err = net.ListenPacket("udp4", addr); err != nil {
			t.Fatal(err)
		}
	}
	if nsPath == "" {
		listen()
	} else {
		inNetns(t, nsPath, listen)
	}
	t.Cleanup(func() { l.Close(); pc.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			ap := netip.MustParseAddrPort(c.RemoteAddr().String())
			fmt.Fprintf(c, "%s\n", ap.Addr())
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			ap := netip.MustParseAddrPort(from.String())
			_, _ = pc.WriteTo([]byte(ap.Addr().String()+"\n"), from)
		}
	}()
}

// who asks a whoServer at addr, from inside nsPath ("" for the host), which source
// address it sees; error when it cannot be reached within timeout.
func who(t testing.TB, nsPath, proto, addr string, timeout time.Duration) (string, error) {
	t.Helper()
	var c net.Conn
	var err error
	dial := func() { c, err = net.DialTimeout(proto, addr, timeout) }
	if nsPath == "" {
		dial()
	} else {
		inNetns(t, nsPath, dial)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if proto == "udp4" {
		if _, err := c.Write([]byte("who\n")); err != nil {
			return "", err
		}
	}
	s, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	return strings.TrimSpace(s), nil
}

// outside makes a namespace standing in for the world beyond the host: a veth
// pair hto<N> 198.51.100.1/24 (host) <-> eth0 198.51.100.2/24 (inside), TEST-NET-2,
// which only ever exists on these links. The host's own uplink is 192.0.2.0/24, so
// TEST-NET-1 is not used. It returns the namespace's path.
func outside(t *testing.T) string {
	t.Helper()
	path := newNetns(t)
	hostEnd := fmt.Sprintf("hto%d", nsN.Add(1))
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("add veth "+hostEnd, netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd, Flags: net.FlagUp},
		PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}))
	t.Cleanup(func() { _ = deleteLink(hostEnd) })
	host, err := netlink.LinkByName(hostEnd)
	must("find "+hostEnd, err)
	must("address "+hostEnd, netlink.AddrAdd(host, mustAddr("198.51.100.1/24")))
	must("set "+hostEnd+" up", netlink.LinkSetUp(host))
	for _, name := range []string{"eth0", "lo"} {
		l, err := h.LinkByName(name)
		must("find "+name, err)
		if name == "eth0" {
			must("address eth0", h.AddrAdd(l, mustAddr("198.51.100.2/24")))
		}
		must("set "+name+" up", h.LinkSetUp(l))
	}
	// the safety rule: traffic to 198.51.100.2 must leave by this veth, never by
	// the host's uplink
	routes, err := netlink.RouteGet(net.ParseIP("198.51.100.2"))
	if err != nil || len(routes) == 0 {
		t.Fatalf("route to the outside namespace: %v", err)
	}
	if l, err := netlink.LinkByIndex(routes[0].LinkIndex); err != nil || l.Attrs().Name != hostEnd {
		t.Fatalf("198.51.100.2 would not go by %s", hostEnd)
	}
	return path
}

func mustAddr(cidr string) *netlink.Addr {
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		panic(err)
	}
	return a
}

// standIn makes a bridge standing in for another engine's (podman's cni-podman0,
// docker's docker0, libvirt's virbr0) with the addresses given, up and without
// ports, and deletes it at cleanup. Its name is not hull's (hull's firewall
// matches its own bridges by prefix).
func standIn(t *testing.T, addrs ...string) netlink.Link {
	t.Helper()
	name := fmt.Sprintf("hts%d-%d", os.Getpid()%100000, nsN.Add(1))
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		t.Fatalf("add bridge %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := deleteLink(name); err != nil {
			t.Error(err)
		}
	})
	br, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if err := netlink.AddrAdd(br, mustAddr(a)); err != nil {
			t.Fatalf("add %s to %s: %v", a, name, err)
		}
	}
	if err := netlink.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	return br
}

// ctxT is a context that ends with the test.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
