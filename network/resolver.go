package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hullproject/hull/internal/atomicfile"
	"github.com/hullproject/hull/network/dns"
	"golang.org/x/sys/unix"
)

// ErrResolverRunning is returned by ServeDNS when the network's resolver runs already.
var ErrResolverRunning = errors.New("resolver already running")

// ResolverOptions tune ServeDNS; the zero value is what the engine wants.
type ResolverOptions struct {
	// Upstreams for names the network does not know; nil: the host's nameservers
	// from /etc/resolv.conf. Internal networks never relay.
	Upstreams []string
	// Port to listen on at the gateway address; default 53.
	Port int
	// Linger is how long the resolver keeps serving a network without endpoints
	// before it exits; default 2s.
	Linger time.Duration
}

// ServeDNS is the resolver of a user-defined network, and blocks while it serves.
//
// Lifecycle: the engine runs it in a process of its own per network (for example
// `hull network dns <name>`, detached, like a monitor), started after an Attach
// whose Result says DNS unless ResolverRunning says it runs. It listens on UDP and
// TCP port 53 of the network's gateway address in the host's network namespace,
// which is the nameserver ResolvConf writes into the network's containers. It
// holds <root>/networks/dns/<name>.lock while it runs, so a second one exits at
// once with ErrResolverRunning, and it re-reads the network's lease file when that
// changes, so attach and detach need not tell it anything. It returns when ctx
// ends, or by itself once the network has had no endpoints for opts.Linger: the
// engine never has to stop it, and a killed one is simply started again.
func (m *Manager) ServeDNS(ctx context.Context, network string, opts ResolverOptions) error {
	n, err := m.Get(network)
	if err != nil {
		return err
	}
	if !n.DNS {
		return fmt.Errorf("network %s has no resolver", network)
	}
	lockPath := filepath.Join(m.dir, "dns", network+".lock")
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := atomicfile.LockFd(int(f.Fd()), atomicfile.Exclusive|atomicfile.Try); errors.Is(err, unix.EWOULDBLOCK) {
		return fmt.Errorf("network %s: %w", network, ErrResolverRunning)
	} else if err != nil {
		return err
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)

	if opts.Port == 0 {
		opts.Port = 53
	}
	if opts.Linger == 0 {
		opts.Linger = 2 * time.Second
	}
	ups := opts.Upstreams
	if ups == nil {
		ups = HostNameservers(true)
	}
	if n.Internal {
		ups = nil
	}
	names := &nameTable{path: m.leasesPath(network)}
	all := &networkNames{own: names, dir: filepath.Dir(names.path), others: map[string]*nameTable{}}
	s := &dns.Server{Lookup: all.lookup, Upstreams: func(from netip.Addr) []string {
		if n.Internal {
			return nil
		}
		if own := names.upstreams(from); len(own) > 0 {
			return own
		}
		return ups
	}}

	// IP_FREEBIND: the gateway address may be missing for a moment (the bridge is
	// recreated when a network gets its first endpoint again); bind anyway
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1) })
		return errors.Join(err, serr)
	}}
	addr := net.JoinHostPort(n.Gateway.String(), strconv.Itoa(opts.Port))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	udp, err := lc.ListenPacket(ctx, "udp4", addr)
	if err != nil {
		return fmt.Errorf("resolver of %s: %w", network, err)
	}
	tcp, err := lc.Listen(ctx, "tcp4", addr)
	if err != nil {
		udp.Close()
		return fmt.Errorf("resolver of %s: %w", network, err)
	}
	go m.exitWhenEmpty(ctx, cancel, network, opts.Linger, f)
	return s.Serve(ctx, udp, tcp)
}

// exitWhenEmpty cancels the resolver once the network has had no endpoints for
// linger. It decides under the networks lock and drops the resolver lock before
// releasing it: an Attach that leases after that sees no resolver running and
// starts one; one that leased before keeps this one alive.
func (m *Manager) exitWhenEmpty(ctx context.Context, cancel func(), network string, linger time.Duration, lock *os.File) {
	var emptySince time.Time
	t := time.NewTicker(linger / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		unlock, err := m.lock()
		if errors.Is(err, os.ErrNotExist) {
			// the state root was removed (rm -rf of a root with a network still
			// in use): no container can lease here again, and without this the
			// resolver would wait for an empty network forever
			cancel()
			return
		}
		if err != nil {
			continue
		}
		l, err := m.readLeases(network)
		if err == nil && len(l.Endpoints) == 0 {
			if emptySince.IsZero() {
				emptySince = time.Now()
			} else if time.Since(emptySince) >= linger {
				_ = unix.Flock(int(lock.Fd()), unix.LOCK_UN)
				unlock()
				cancel()
				return
			}
		} else {
			emptySince = time.Time{}
		}
		unlock()
	}
}

// ResolverRunning tells whether the network's resolver runs, and its pid.
func (m *Manager) ResolverRunning(network string) (int, bool) {
	f, err := os.Open(filepath.Join(m.dir, "dns", network+".lock"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if err := atomicfile.LockFd(int(f.Fd()), atomicfile.Shared|atomicfile.Try); err == nil {
		return 0, false
	}
	data, _ := os.ReadFile(f.Name())
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid, true
}

// networkNames are the names a network's resolver answers: its own network's,
// and, to a container that is on other networks too, theirs, as docker's
// resolver answers a container with the names of every network it is on (a
// compose service on a front and a back network reaches the services of
// both, whichever network's resolver its resolv.conf names).
type networkNames struct {
	own    *nameTable
	dir    string // the lease files'
	mu     sync.Mutex
	others map[string]*nameTable // by lease file
}

func (n *networkNames) lookup(from netip.Addr, name string) ([]netip.Addr, bool) {
	if ips, ok := n.own.lookup(name); ok {
		return ips, true
	}
	id := n.own.containerAt(from)
	if id == "" {
		return nil, false
	}
	files, _ := filepath.Glob(filepath.Join(n.dir, "*.json"))
	sort.Strings(files)
	for _, f := range files {
		if f == n.own.path {
			continue
		}
		n.mu.Lock()
		t := n.others[f]
		if t == nil {
			t = &nameTable{path: f}
			n.others[f] = t
		}
		n.mu.Unlock()
		if !t.has(id) {
			continue
		}
		if ips, ok := t.lookup(name); ok {
			return ips, true
		}
	}
	return nil, false
}

// nameTable is the resolver's view of the lease file, re-read when it changes.
type nameTable struct {
	path  string
	mu    sync.Mutex
	mtime time.Time
	size  int64
	names map[string][]netip.Addr
	dns   map[netip.Addr][]string
	ids   map[netip.Addr]string // the container of each address
}

func (t *nameTable) load() {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := os.Stat(t.path)
	if err != nil {
		t.names, t.dns, t.ids = nil, nil, nil
		return
	}
	if st.ModTime().Equal(t.mtime) && st.Size() == t.size && t.names != nil {
		return
	}
	var l Leases
	if _, err := readJSON(t.path, &l); err != nil {
		return // keep the last good table
	}
	t.mtime, t.size = st.ModTime(), st.Size()
	t.names, t.dns, t.ids = map[string][]netip.Addr{}, map[netip.Addr][]string{}, map[netip.Addr]string{}
	for _, e := range l.Endpoints {
		t.ids[e.IP] = e.ContainerID
		keys := append([]string{e.Name}, e.Aliases...)
		if len(e.ContainerID) >= 12 {
			keys = append(keys, e.ContainerID[:12])
		}
		for _, k := range keys {
			if k = strings.ToLower(strings.TrimSuffix(k, ".")); k != "" {
				t.names[k] = append(t.names[k], e.IP)
			}
		}
		t.dns[e.IP] = e.DNS
	}
}

func (t *nameTable) lookup(name string) ([]netip.Addr, bool) {
	t.load()
	t.mu.Lock()
	defer t.mu.Unlock()
	ips, ok := t.names[name]
	return ips, ok
}

// containerAt is the ID of the container at ip on the network, or "".
func (t *nameTable) containerAt(ip netip.Addr) string {
	t.load()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ids[ip]
}

// has tells whether the container id is on the network.
func (t *nameTable) has(id string) bool {
	t.load()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.ids {
		if c == id {
			return true
		}
	}
	return false
}

func (t *nameTable) upstreams(from netip.Addr) []string {
	t.load()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dns[from]
}
