package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// HostsOptions describe a container's /etc/hosts.
type HostsOptions struct {
	Hostname string       // the container's host name, mapped to its addresses
	Domain   string       // --domainname: adds hostname.domain first
	IPs      []netip.Addr // the container's addresses (Result.IP.Addr())
	// ExtraHosts are --add-host values, "name:ip" (or "name=ip"); the ip
	// "host-gateway" stands for HostGateway.
	ExtraHosts  []string
	HostGateway netip.Addr
}

// Hosts renders /etc/hosts.
func Hosts(o HostsOptions) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	for _, h := range o.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if i := strings.IndexByte(h, '='); i >= 0 && (!ok || i < len(name)) {
			name, ip, ok = h[:i], h[i+1:], true
		}
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid --add-host %q: want name:ip", h)
		}
		if ip == "host-gateway" {
			if !o.HostGateway.IsValid() {
				return nil, fmt.Errorf("--add-host %q: no host gateway on this network", h)
			}
			ip = o.HostGateway.String()
		} else if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
			return nil, fmt.Errorf("invalid --add-host %q: %w", h, err)
		}
		fmt.Fprintf(&b, "%s\t%s\n", strings.Trim(ip, "[]"), name)
	}
	if o.Hostname != "" {
		names := o.Hostname
		if o.Domain != "" {
			names = o.Hostname + "." + o.Domain + " " + o.Hostname
		}
		for _, ip := range o.IPs {
			fmt.Fprintf(&b, "%s\t%s\n", ip, names)
		}
	}
	return b.Bytes(), nil
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
