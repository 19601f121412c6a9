package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// HostsOptions describe a container's /etc/hosts.
type HostsOptions struct {
	Hostname string       // the container's host name, mapped to its addresses
	Domain   string       // --domainname: adds hostname.domain first
	IPs      []netip.Addr // the container's address on each network; none: Hostname is 127.0.1.1
	// ExtraHosts are --add-host values, "name:ip" (or "name=ip"); the ip
	// "host-gateway" stands for HostGateway.
	ExtraHosts  []string
	HostGateway netip.Addr
	// Links are other containers' lines, after ExtraHosts: docker's legacy
	// links (--link), "IP NAME...".
	Links []HostsLink
}

// HostsLink is one /etc/hosts line for another container: its address and names.
type HostsLink struct {
	IP    netip.Addr
	Names []string
}

const (
	loopbackHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	ip6Hosts      = "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
)

// Hosts renders /etc/hosts: the localhost names, ExtraHosts, and the
// container's own names.
func Hosts(o HostsOptions) ([]byte, error) {
	b := []byte(loopbackHosts + ip6Hosts)
	b, err := appendExtraHosts(b, o.ExtraHosts, o.HostGateway)
	if err != nil {
		return nil, err
	}
	for _, l := range o.Links {
		b = fmt.Appendf(b, "%s\t%s\n", l.IP, strings.Join(l.Names, " "))
	}
	if o.Hostname != "" {
		names := o.Hostname
		if o.Domain != "" {
			names = o.Hostname + "." + o.Domain + " " + o.Hostname
		}
		for _, ip := range o.IPs {
			b = fmt.Appendf(b, "%s\t%s\n", ip, names)
		}
		if len(o.IPs) == 0 {
			b = fmt.Appendf(b, "127.0.1.1\t%s\n", o.Hostname)
		}
	}
	return b, nil
}

// appendExtraHosts appends the --add-host lines.
func appendExtraHosts(b []byte, extra []string, gateway netip.Addr) ([]byte, error) {
	for _, h := range extra {
		name, ip, ok := strings.Cut(h, ":")
		if i := strings.IndexByte(h, '='); i >= 0 && (!ok || i < len(name)) {
			name, ip, ok = h[:i], h[i+1:], true
		}
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid --add-host %q: want name:ip", h)
		}
		if ip == "host-gateway" {
			if !gateway.IsValid() {
				return nil, fmt.Errorf("--add-host %q: no host gateway on this network", h)
			}
			ip = gateway.String()
		} else if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
			return nil, fmt.Errorf("invalid --add-host %q: %w", h, err)
		}
		b = fmt.Appendf(b, "%s\t%s\n", strings.Trim(ip, "[]"), name)
	}
	return b, nil
}

// EtcOptions describe the files a container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf are bind-mounted from.
type EtcOptions struct {
	Hosts    HostsOptions
	Resolv   ResolvOptions
	Resolver netip.Addr // the network's resolver (Result.DNS: at its Gateway); zero: none
	// HostNetwork: the container is in the host's network namespace. Its hosts
	// file is the host's plus ExtraHosts (host-gateway: 127.0.0.1), with no names
	// of its own; its resolv.conf is the host's, unless Resolv asks for more.
	HostNetwork bool
}

// WriteEtc writes a container's hostname, hosts and resolv.conf files into dir,
// in place: the container's bind mounts hold the files' inodes, so a rewrite
// after the container was created (its addresses are known only when it
// starts) is what it sees. A rename would leave the container the old file.
func WriteEtc(dir string, o EtcOptions) error {
	hosts, resolv, err := etcFiles(o)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"hostname", Hostname(o.Hosts.Hostname)}, {"hosts", hosts}, {"resolv.conf", resolv}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func etcFiles(o EtcOptions) (hosts, resolv []byte, err error) {
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	if o.HostNetwork {
		if hosts, err = os.ReadFile("/etc/hosts"); err != nil {
			hosts = []byte(loopbackHosts)
		}
		hosts, err = appendExtraHosts(hosts, o.Hosts.ExtraHosts, netip.AddrFrom4([4]byte{127, 0, 0, 1}))
		if r := o.Resolv; err == nil && len(r.Nameservers) == 0 && len(r.Search) == 0 && len(r.Options) == 0 {
			return hosts, hostResolv, nil // the host's own
		}
	} else {
		hosts, err = Hosts(o.Hosts)
	}
	if err != nil {
		return nil, nil, err
	}
	return hosts, ResolvConf(hostResolv, o.Resolver, o.Resolv), nil
}

// Hostname renders /etc/hostname.
func Hostname(name string) []byte { return []byte(name + "\n") }

// ResolvOptions are --dns, --dns-search and --dns-option.
type ResolvOptions struct {
	Nameservers []string
	Search      []string
	Options     []string
}

// ResolvConf renders a container's /etc/resolv.conf from the host's (its content,
// e.g. os.ReadFile("/etc/resolv.conf")). On a network with a resolver (Result.DNS)
// the only nameserver is that resolver, at the gateway; --dns servers become the
// resolver's upstreams for this container (AttachOptions.DNS) instead. Elsewhere
// the nameservers are --dns, or the host's without 127.0.0.0/8 and ::1 ones, which
// mean nothing inside the container's namespace. Search and options are the host's
// unless given.
func ResolvConf(host []byte, resolver netip.Addr, o ResolvOptions) []byte {
	hostNS, hostSearch, hostOpts := parseResolv(host)
	var b bytes.Buffer
	search := o.Search
	if len(search) == 0 {
		search = hostSearch
	}
	if len(search) > 0 && !(len(search) == 1 && search[0] == ".") {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if resolver.IsValid() {
		fmt.Fprintf(&b, "nameserver %s\n", resolver)
	} else {
		ns := o.Nameservers
		if len(ns) == 0 {
			for _, s := range hostNS {
				if a, err := netip.ParseAddr(s); err == nil && !a.IsLoopback() {
					ns = append(ns, s)
				}
			}
		}
		for _, s := range ns {
			fmt.Fprintf(&b, "nameserver %s\n", s)
		}
	}
	opts := o.Options
	if len(opts) == 0 {
		opts = hostOpts
	}
	if resolver.IsValid() && !hasOpt(opts, "ndots") {
		// the resolver knows bare container names: ask for them as they are first
		opts = append([]string{"ndots:0"}, opts...)
	}
	if len(opts) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(opts, " "))
	}
	return b.Bytes()
}

func hasOpt(opts []string, name string) bool {
	for _, o := range opts {
		if strings.HasPrefix(o, name) {
			return true
		}
	}
	return false
}

func parseResolv(data []byte) (ns, search, opts []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			ns = append(ns, f[1])
		case "search", "domain":
			search = f[1:]
		case "options":
			opts = append(opts, f[1:]...)
		}
	}
	return ns, search, opts
}

// HostNameservers lists the host's nameservers from /etc/resolv.conf; without
// loopback ones unless withLoopback (the resolver runs in the host's namespace and
// can reach a local stub resolver; a container cannot).
func HostNameservers(withLoopback bool) []string {
	data, _ := os.ReadFile("/etc/resolv.conf")
	ns, _, _ := parseResolv(data)
	var out []string
	for _, s := range ns {
		if a, err := netip.ParseAddr(s); err == nil && (withLoopback || !a.IsLoopback()) {
			out = append(out, s)
		}
	}
	return out
}
