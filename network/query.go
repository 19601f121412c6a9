package network

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/internal/filter"
)

// The predefined networks, as docker lists them: the default network (a
// record like any other, written on first use), and host and none, which are
// no records at all but network modes; they are listed and inspected with IDs
// of their own, derived from the state root, so that they are stable.

// IsPredefined tells whether name is one of the networks every root has:
// bridge, host and none.
func IsPredefined(name string) bool {
	return name == DefaultNetwork || name == "host" || name == "none"
}

// predefined returns the host or none network of this root; created is the
// default network's creation time, which they share.
func (m *Manager) predefined(name string, created time.Time) *Network {
	sum := sha256.Sum256([]byte("hull predefined network " + name + " " + m.dir))
	driver := name
	if name == "none" {
		driver = "null" // docker's name for the driver of none
	}
	return &Network{Name: name, ID: hex.EncodeToString(sum[:]), Driver: driver, Created: created}
}

// Info is a network and its endpoints (the running containers on it).
type Info struct {
	*Network
	Endpoints []Endpoint
}

// EndpointID is the ID of a container's endpoint on a network, as docker's
// inspect shows it: derived from both, so that it needs no record.
func EndpointID(networkID, containerID string) string {
	sum := sha256.Sum256([]byte("endpoint " + networkID + "/" + containerID))
	return hex.EncodeToString(sum[:])
}

// all returns every network of the root, the predefined ones included, with
// its endpoints, sorted by name. The default network is defined on first use.
func (m *Manager) all() ([]Info, error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	def, err := m.getLocked(DefaultNetwork)
	if err != nil {
		return nil, err
	}
	nets, err := m.listLocked()
	if err != nil {
		return nil, err
	}
	nets = append(nets, m.predefined("host", def.Created), m.predefined("none", def.Created))
	sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
	out := make([]Info, 0, len(nets))
	for _, n := range nets {
		i := Info{Network: n}
		if n.Name != "host" && n.Name != "none" {
			l, err := m.readLeases(n.Name)
			if err != nil {
				return nil, err
			}
			i.Endpoints = l.sorted()
		}
		out = append(out, i)
	}
	return out, nil
}

// Lookup finds a network as docker does: by full ID, then by name, then by a
// unique ID prefix; host and none too. Two networks that an ID prefix matches
// are an ErrInvalid.
func (m *Manager) Lookup(ref string) (Info, error) {
	all, err := m.all()
	if err != nil {
		return Info{}, err
	}
	if ref != "" {
		for _, i := range all {
			if i.ID == ref {
				return i, nil
			}
		}
		for _, i := range all {
			if i.Name == ref {
				return i, nil
			}
		}
		var found []Info
		for _, i := range all {
			if strings.HasPrefix(i.ID, ref) {
				found = append(found, i)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return Info{}, invalidf("network %s is ambiguous (%d matches found based on ID prefix)", ref, len(found))
		}
	}
	return Info{}, &notFoundError{ref}
}

// notFoundError is docker's "network X not found", an ErrNotFound.
type notFoundError struct{ ref string }

func (e *notFoundError) Error() string        { return "network " + e.ref + " not found" }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// Filters select networks for Select and Prune: docker's keys. Each key's values
// are alternatives, the keys all apply.
type Filters struct {
	Names     []string // name=: a regular expression searched in the name (filter.MatchName)
	IDs       []string // id=: the same, in the ID (a prefix matches)
	Labels    []string // label=KEY or KEY=VALUE: every one
	NotLabels []string // label!=: none of them
	Drivers   []string // driver=: exactly
	Scopes    []string // scope=: local, the only scope hull has
	Types     []string // type=custom or builtin (the predefined networks)
	Dangling  *bool    // dangling=: no container on it (predefined networks are never dangling)
	Until     time.Time
}

// ParseFilters reads KEY=VALUE filters (the CLI's --filter, the API's filters
// parameter) with the keys given: those of Select (name, id, label, driver,
// scope, type, dangling) or of Prune (label, label!, until). A bad one is an
// ErrInvalid.
func ParseFilters(args []string, keys ...string) (Filters, error) {
	var f Filters
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return f, invalidf("bad filter %q: want KEY=VALUE", a)
		}
		if !slices.Contains(keys, k) {
			return f, invalidf("invalid filter '%s'", k)
		}
		switch k {
		case "name", "id":
			if err := filter.CheckName(v); err != nil {
				return f, invalid(err)
			}
			if k == "name" {
				f.Names = append(f.Names, v)
			} else {
				f.IDs = append(f.IDs, v)
			}
		case "label":
			f.Labels = append(f.Labels, v)
		case "label!":
			f.NotLabels = append(f.NotLabels, v)
		case "driver":
			f.Drivers = append(f.Drivers, v)
		case "scope":
			f.Scopes = append(f.Scopes, v)
		case "type":
			if v != "custom" && v != "builtin" {
				return f, invalidf("invalid filter: 'type'='%s'", v)
			}
			f.Types = append(f.Types, v)
		case "dangling":
			if f.Dangling != nil {
				return f, invalidf(`got more than one value for filter key "dangling"`)
			}
			var b bool
			switch v {
			case "1", "true":
				b = true
			case "0", "false":
			default:
				return f, invalidf(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`)
			}
			f.Dangling = &b
		case "until":
			t, err := parseUntil(v, time.Now())
			if err != nil {
				return f, err
			}
			if f.Until.IsZero() || t.Before(f.Until) {
				f.Until = t
			}
		}
	}
	return f, nil
}

// ListFilterKeys and PruneFilterKeys are the keys ParseFilters takes for Select
// and for Prune, as docker's daemon takes them.
var (
	ListFilterKeys  = []string{"name", "id", "label", "driver", "scope", "type", "dangling"}
	PruneFilterKeys = []string{"label", "label!", "until"}
)

var unixTime = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,9})?$`)

// parseUntil reads until= as docker's daemon does: a duration before now
// (10m), unix seconds with an optional fraction, or an RFC 3339 time or date
// (local when it has no zone).
func parseUntil(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if unixTime.MatchString(v) {
		sec, frac, _ := strings.Cut(v, ".")
		s, _ := strconv.ParseInt(sec, 10, 64)
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		return time.Unix(s, ns), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, invalidf("invalid filter 'until=%s': want a duration, a unix time or an RFC 3339 time", v)
}

func hasLabel(labels map[string]string, l string) bool {
	k, v, withValue := strings.Cut(l, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == v)
}

// match tells whether n passes every filter but Dangling.
func (f Filters) match(n *Network) bool {
	anyOf := func(vs []string, ok func(string) bool) bool { return len(vs) == 0 || slices.ContainsFunc(vs, ok) }
	return anyOf(f.Names, func(v string) bool { return filter.MatchName(v, n.Name) }) &&
		anyOf(f.IDs, func(v string) bool { return filter.MatchName(v, n.ID) }) &&
		anyOf(f.Drivers, func(v string) bool { return v == n.Driver }) &&
		anyOf(f.Scopes, func(v string) bool { return v == "local" }) &&
		anyOf(f.Types, func(v string) bool { return (v == "builtin") == IsPredefined(n.Name) }) &&
		!slices.ContainsFunc(f.Labels, func(l string) bool { return !hasLabel(n.Labels, l) }) &&
		!slices.ContainsFunc(f.NotLabels, func(l string) bool { return hasLabel(n.Labels, l) }) &&
		(f.Until.IsZero() || n.Created.Before(f.Until))
}

// Select returns the networks that pass f, the predefined ones included, with
// their endpoints, sorted by name: what `network ls` shows.
func (m *Manager) Select(f Filters) ([]Info, error) {
	all, err := m.all()
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, i := range all {
		if !f.match(i.Network) {
			continue
		}
		if f.Dangling != nil {
			dangling := !IsPredefined(i.Name) && len(i.Endpoints) == 0
			if dangling != *f.Dangling {
				continue
			}
		}
		out = append(out, i)
	}
	return out, nil
}

// bridgeOptions judges docker's bridge driver options (see CreateOptions.Options)
// and returns the bridge name and MTU they ask for, if any.
func bridgeOptions(opts map[string]string) (string, int, error) {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var bridge string
	var mtu int
	for _, k := range keys {
		v := opts[k]
		switch k {
		case "com.docker.network.bridge.name":
			if !strings.HasPrefix(v, BridgePrefix) || len(v) > 15 || !ifnameRE.MatchString(v) {
				return "", 0, invalidf("option %s=%s: a bridge name of at most 15 characters starting with %q (the firewall isolates hull's bridges by it)", k, v, BridgePrefix)
			}
			bridge = v
		case "com.docker.network.driver.mtu":
			// 68: IPv4's minimum; 65535: a veth's maximum
			n, err := strconv.Atoi(v)
			if err != nil || n < 68 || n > 65535 {
				return "", 0, invalidf("option %s=%s: an MTU from 68 to 65535", k, v)
			}
			mtu = n
		case "com.docker.network.bridge.enable_icc", "com.docker.network.bridge.enable_ip_masquerade":
			if b, err := strconv.ParseBool(v); err != nil || !b {
				return "", 0, invalidf("option %s=%s is not supported: hull's networks always have it on", k, v)
			}
		case "com.docker.network.bridge.host_binding_ipv4":
			if v != "0.0.0.0" {
				return "", 0, invalidf("option %s=%s is not supported: publish on an address with -p ADDR:PORT:PORT", k, v)
			}
		default:
			if strings.HasPrefix(k, "com.docker.network.") {
				return "", 0, invalidf("option %s is not supported", k)
			}
		}
	}
	return bridge, mtu, nil
}

var ifnameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
