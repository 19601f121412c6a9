package dockerapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// bridgeName is a bridge name with a suffix of this process's, so that it
// never meets one of a concurrent run.
func bridgeName(tag string) string { return fmt.Sprintf("hull%s%d", tag, os.Getpid()%100000) }

// bridgesOf lists the links the service's root has made or may make now: the
// bridges of its networks, and the host end of a veth for each of its
// containers on each (package network names it veth<8 hex of sha256(network
// ID/container ID)>).
func bridgesOf(t *testing.T, s *dockertest.Service) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.Root, "networks", "*.json"))
	ids := strings.Fields(s.Hull(t, "ps", "-aq", "--no-trunc").Ok(t))
	var out []string
	for _, f := range files {
		var n struct{ ID, Bridge string }
		data, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(data, &n) != nil || n.Bridge == "" {
			t.Fatalf("network record %s: %v %s", f, err, data)
		}
		out = append(out, n.Bridge)
		for _, id := range ids {
			sum := sha256.Sum256([]byte(n.ID + "/" + id))
			out = append(out, "veth"+hex.EncodeToString(sum[:4]))
		}
	}
	return out
}

// checkNoKernelState fails the test if the service's root left a link (a
// bridge or veth of bridgesOf now, or of those given) or its nftables table:
// all go with the last container on a network.
func checkNoKernelState(t *testing.T, s *dockertest.Service, links ...string) {
	t.Helper()
	for _, b := range append(links, bridgesOf(t, s)...) {
		if exec.Command("ip", "link", "show", b).Run() == nil {
			t.Errorf("link %s left", b)
		}
	}
	abs, _ := filepath.Abs(s.Root)
	sum := sha256.Sum256([]byte(abs))
	table := "hull-" + hex.EncodeToString(sum[:4])
	if exec.Command("nft", "list", "table", "inet", table).Run() == nil {
		t.Errorf("nftables table %s left", table)
	}
}

// subnetOf returns "a.b.c." of a /24 subnet, to make addresses in it.
func subnetOf(sub string) string { return strings.TrimSuffix(sub, "0/24") }

// docker network create/ls/inspect/connect/disconnect/rm/prune against hull,
// compared with hull's own CLI on the same roots.
func TestDockerNetworks(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	sub := dockertest.Subnet()
	br := bridgeName("d")
	id := strings.TrimSpace(s.Docker(t, "network", "create", "--subnet", sub, "--gateway", subnetOf(sub)+"254",
		"--ip-range", subnetOf(sub)+"128/25", "--label", "tier=web", "--opt", "com.docker.network.bridge.name="+br,
		"--opt", "com.docker.network.driver.mtu=1280",
		"--attachable", "front").Ok(t))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("docker network create printed %q", id)
	}
	if stderr := s.Docker(t, "network", "create", "front").Fails(t); !strings.Contains(stderr, "network with name front already exists") {
		t.Errorf("a second create of front: %s", stderr)
	}
	s.Docker(t, "network", "create", "--internal", "--label", "tier=db", "back").Ok(t)

	// inspect, by name and by an ID prefix
	for _, ref := range []string{"front", id[:12]} {
		out := s.Docker(t, "network", "inspect", "--format",
			"{{.Id}} {{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Attachable}} {{.EnableIPv4}} {{.EnableIPv6}} "+
				"{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}} {{.Labels.tier}} "+
				`{{index .Options "com.docker.network.bridge.name"}}`, ref).Ok(t)
		want := fmt.Sprintf("%s front bridge local false true true false %s %s254 %s128/25 web %s", id, sub, subnetOf(sub), subnetOf(sub), br)
		if strings.TrimSpace(out) != want {
			t.Errorf("docker network inspect %s:\n got %s\nwant %s", ref, out, want)
		}
	}
	if stderr := s.Docker(t, "network", "inspect", "nosuch").Fails(t); !strings.Contains(stderr, "network nosuch not found") {
		t.Errorf("inspect nosuch: %s", stderr)
	}

	// ls: the predefined networks are listed; docker's rows are hull's
	ls := func(args ...string) (string, string) {
		d := s.Docker(t, append([]string{"network", "ls", "--format", "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}"}, args...)...).Ok(t)
		h := s.Hull(t, append([]string{"network", "ls", "--format", "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}"}, args...)...).Ok(t)
		return d, h
	}
	d, h := ls()
	if d != h {
		t.Errorf("network ls: docker\n%s\nhull\n%s", d, h)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(d), "\n") {
		got = append(got, strings.Join(strings.Fields(l)[1:], " "))
	}
	if want := []string{"back bridge local", "bridge bridge local", "front bridge local", "host host local", "none null local"}; !slices.Equal(got, want) {
		t.Errorf("docker network ls: %v, want %v", got, want)
	}

	// a running container (hull run) is connected, with an alias and a fixed
	// address; the network's inspect shows it, the container has the address
	s.Hull(t, "run", "-d", "--name", "c1", "--network", "back", "busybox", "sleep", "300").Ok(t)
	ip := subnetOf(sub) + "200"
	s.Docker(t, "network", "connect", "--alias", "web", "--ip", ip, "front", "c1").Ok(t)
	var nets []struct {
		Containers map[string]struct{ Name, EndpointID, MacAddress, IPv4Address, IPv6Address string }
	}
	if err := json.Unmarshal([]byte(s.Docker(t, "network", "inspect", "front").Ok(t)), &nets); err != nil || len(nets) != 1 {
		t.Fatalf("inspect front: %v", err)
	}
	c1 := strings.TrimSpace(s.Hull(t, "inspect", "--format", "{{.Id}}", "c1").Ok(t))
	ep, ok := nets[0].Containers[c1]
	if !ok || ep.Name != "c1" || ep.IPv4Address != ip+"/24" || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(ep.EndpointID) ||
		!regexp.MustCompile(`^([0-9a-f]{2}:){5}[0-9a-f]{2}$`).MatchString(ep.MacAddress) {
		t.Errorf("front's containers: %+v", nets[0].Containers)
	}
	if out := s.Hull(t, "exec", "c1", "ip", "-4", "addr").Ok(t); !strings.Contains(out, "inet "+ip+"/24") {
		t.Errorf("c1's addresses after connect:\n%s", out)
	}
	// front's links have its MTU (com.docker.network.driver.mtu)
	if out := s.Hull(t, "exec", "c1", "ip", "-o", "link", "show", "eth1").Ok(t); !strings.Contains(out, " mtu 1280 ") {
		t.Errorf("c1's interface on front:\n%s", out)
	}
	// what checkNoKernelState looks for at the end is there now
	links := bridgesOf(t, s)
	sum := sha256.Sum256([]byte(id + "/" + c1))
	veth := "veth" + hex.EncodeToString(sum[:4])
	for _, l := range []string{br, veth} {
		if !slices.Contains(links, l) || exec.Command("ip", "link", "show", l).Run() != nil {
			t.Errorf("link %s: not in %v or not there", l, links)
		}
	}
	// by its alias on the network's resolver
	if out := s.Hull(t, "exec", "c1", "nslookup", "web", subnetOf(sub)+"254").Ok(t); !strings.Contains(out, ip) {
		t.Errorf("nslookup web:\n%s", out)
	}
	if stderr := s.Docker(t, "network", "connect", "front", "c1").Fails(t); !strings.Contains(stderr, "endpoint with name c1 already exists in network front") {
		t.Errorf("a second connect: %s", stderr)
	}
	if stderr := s.Docker(t, "network", "rm", "front").Fails(t); !strings.Contains(stderr, "has active endpoints") {
		t.Errorf("rm of a network in use: %s", stderr)
	}

	// filters, as hull network ls reads them
	for _, f := range [][]string{
		{"type=custom"}, {"type=builtin"}, {"dangling=true"}, {"dangling=false"}, {"label=tier=web"}, {"label=tier"},
		{"driver=bridge"}, {"name=ront"}, {"id=" + id[:6]}, {"scope=local", "type=custom"},
	} {
		var args []string
		for _, v := range f {
			args = append(args, "--filter", v)
		}
		if d, h := ls(args...); d != h {
			t.Errorf("network ls %v: docker\n%s\nhull\n%s", f, d, h)
		}
	}
	if d, _ := ls("--filter", "dangling=true"); d != "" {
		t.Errorf("dangling=true with c1 on both: %q", d)
	}
	if stderr := s.Docker(t, "network", "ls", "--filter", "type=other").Fails(t); !strings.Contains(stderr, "invalid filter: 'type'='other'") {
		t.Errorf("--filter type=other: %s", stderr)
	}

	// disconnect a running container
	s.Docker(t, "network", "disconnect", "front", "c1").Ok(t)
	if out := s.Hull(t, "exec", "c1", "ip", "-4", "addr").Ok(t); strings.Contains(out, ip) {
		t.Errorf("c1 keeps %s after disconnect:\n%s", ip, out)
	}
	if out := s.Docker(t, "network", "inspect", "--format", "{{len .Containers}}", "front").Ok(t); strings.TrimSpace(out) != "0" {
		t.Errorf("front's containers after disconnect: %s", out)
	}
	if stderr := s.Docker(t, "network", "disconnect", "front", "c1").Fails(t); !strings.Contains(stderr, "is not connected to network front") {
		t.Errorf("a second disconnect: %s", stderr)
	}

	// a stopped container: connected in its record, attached at its start
	s.Hull(t, "create", "--name", "c2", "--network", "back", "busybox", "sleep", "300").Ok(t)
	s.Docker(t, "network", "connect", "--alias", "api", "front", "c2").Ok(t)
	// again: no error, and the first settings stay, as docker's
	s.Docker(t, "network", "connect", "--alias", "other", "front", "c2").Ok(t)
	if out := s.Hull(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}:{{$v.Aliases}} {{end}}", "c2").Ok(t); strings.TrimSpace(out) != "back:[] front:[api]" {
		t.Errorf("c2's networks after connect: %q", out)
	}
	s.Hull(t, "start", "c2").Ok(t)
	links = append(links, bridgesOf(t, s)...)
	out := s.Docker(t, "network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "front").Ok(t)
	if f := strings.Fields(out); len(f) != 2 || f[0] != "c2" || !netip.MustParsePrefix(subnetOf(sub)+"128/25").Contains(netip.MustParsePrefix(f[1]).Addr()) {
		t.Errorf("c2 on front after start (an address of the ip range): %q", out)
	}
	s.Hull(t, "stop", "-t", "0", "c2").Ok(t)
	s.Docker(t, "network", "disconnect", "front", "c2").Ok(t)
	if out := s.Hull(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "c2").Ok(t); strings.TrimSpace(out) != "back" {
		t.Errorf("c2's networks after disconnect: %q", out)
	}

	// refusals: predefined networks, docker's words
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "rm", "bridge"}, "bridge is a pre-defined network and cannot be removed"},
		{[]string{"network", "rm", "host"}, "host is a pre-defined network and cannot be removed"},
		{[]string{"network", "connect", "host", "c2"}, "cannot be connected to network host"},
		{[]string{"network", "connect", "--ip", subnetOf(dockertest.Subnet()) + "9", "bridge", "c2"}, "user specified IP address is supported on user defined networks only"},
		{[]string{"network", "connect", "--ip", "10.1.2.3", "front", "c2"}, "not a host address of network front"},
		{[]string{"network", "connect", "--ip", subnetOf(sub) + "7", "front", "c2"}, "not a host address of network front (" + sub + ", ip range " + subnetOf(sub) + "128/25"},
		{[]string{"network", "connect", "front", "nosuch"}, "nosuch"},
		{[]string{"network", "create", "--ipv6", "v6"}, "IPv6 is not supported"},
		{[]string{"network", "create", "-d", "macvlan", "mv"}, "network driver macvlan is not supported"},
		{[]string{"network", "create", "--opt", "com.docker.network.bridge.name=docker9", "b9"}, `starting with "hull"`},
	} {
		if stderr := s.Docker(t, c.args...).Fails(t); !strings.Contains(stderr, c.want) {
			t.Errorf("docker %v: %s, want %q", c.args, stderr, c.want)
		}
	}

	// prune: label and until filters; networks with running containers stay
	s.Docker(t, "network", "create", "--label", "tier=tmp", "tmp1").Ok(t)
	out = s.Docker(t, "network", "prune", "-f", "--filter", "until=1h").Ok(t)
	if strings.Contains(out, "tmp1") {
		t.Errorf("prune until=1h removed a new network: %s", out)
	}
	out = s.Docker(t, "network", "prune", "-f", "--filter", "label=tier=tmp").Ok(t)
	if !strings.Contains(out, "tmp1") || strings.Contains(out, "front") {
		t.Errorf("prune label=tier=tmp: %s", out)
	}
	out = s.Docker(t, "network", "prune", "-f").Ok(t)
	if !strings.Contains(out, "front") || strings.Contains(out, "back") || strings.Contains(out, "bridge") {
		t.Errorf("prune: %s", out)
	}
	if d, _ := ls("--filter", "type=custom"); !strings.Contains(d, " back ") || strings.Contains(d, "front") {
		t.Errorf("after the prunes: %s", d)
	}
	s.Hull(t, "rm", "-f", "c1", "c2").Ok(t)
	s.Docker(t, "network", "rm", "back").Ok(t)
	checkNoKernelState(t, s, links...)
}

// Status codes and bodies of the network endpoints, as docker's daemon answers.
func TestNetworkStatus(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	code, body := requestJSON(t, s, "POST", "/v1.50/networks/create", `{"Name":"n1","CheckDuplicate":true,"Labels":{"a":"b"}}`)
	var cr struct{ Id, Warning string }
	if err := json.Unmarshal([]byte(body), &cr); code != 201 || err != nil || len(cr.Id) != 64 || body != fmt.Sprintf(`{"Id":"%s","Warning":""}`, cr.Id) {
		t.Fatalf("create: %d %s", code, body)
	}
	s.Hull(t, "run", "-d", "--name", "busy", "--network", "n1", "busybox", "sleep", "300").Ok(t)
	for _, c := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"POST", "/networks/create", `{"Name":"n1"}`, 409, "network with name n1 already exists"},
		{"POST", "/networks/create", `{"Name":"bridge"}`, 409, "network with name bridge already exists"},
		{"POST", "/networks/create", `{"Name":"bad name"}`, 400, `invalid network name "bad name"`},
		{"POST", "/networks/create", `{"Name":""}`, 400, "a network needs a name"},
		{"POST", "/networks/create", `{"Name":"x","EnableIPv6":true}`, 400, "IPv6 is not supported"},
		{"POST", "/networks/create", `{"Name":"x","Driver":"overlay"}`, 503, "This node is not a swarm manager"},
		{"POST", "/networks/create", `{"Name":"x","Driver":"weave"}`, 404, `plugin "weave" not found`},
		{"POST", "/networks/create", `{"Name":"x","Driver":"host"}`, 403, `only one instance of "host" network is allowed`},
		{"POST", "/networks/create", `{"Name":"x","IPAM":{"Config":[{"Subnet":"fd00::/64"}]}}`, 400, "IPv6 is not supported"},
		{"POST", "/networks/create", `{"Name":"x","IPAM":{"Config":[{"Subnet":"10.1.2.3/24"}]}}`, 400, "host bits set"},
		{"POST", "/networks/create", `{"Name":"x","IPAM":{"Config":[{"Subnet":"nope"}]}}`, 400, "invalid JSON"},
		{"POST", "/networks/create", `{"Name":"x","Options":{"com.docker.network.bridge.enable_icc":"false"}}`, 400, "enable_icc=false is not supported"},
		{"POST", "/networks/create", `{"Name":"x","Options":{"com.docker.network.driver.mtu":"big"}}`, 400, "an MTU from 68 to 65535"},
		{"GET", "/networks/nosuch", "", 404, "network nosuch not found"},
		{"GET", "/networks/n1?scope=swarm", "", 404, "network n1 not found"},
		{"DELETE", "/networks/nosuch", "", 404, "network nosuch not found"},
		{"DELETE", "/networks/none", "", 403, "none is a pre-defined network and cannot be removed"},
		{"DELETE", "/networks/n1", "", 403, "error while removing network: network n1 id " + cr.Id + " has active endpoints"},
		{"POST", "/networks/n1/connect", `{"Container":"nosuch"}`, 404, "nosuch"},
		{"POST", "/networks/n1/connect", `{"Container":"busy"}`, 403, "endpoint with name busy already exists in network n1"},
		{"POST", "/networks/nosuch/connect", `{"Container":"busy"}`, 404, "network nosuch not found"},
		{"POST", "/networks/bridge/connect", `{"Container":"busy","EndpointConfig":{"Aliases":["a"]}}`, 400, "network-scoped alias is supported only for containers in user defined networks"},
		{"POST", "/networks/bridge/connect", `{"Container":"busy","EndpointConfig":{"Links":["x:y"]}}`, 400, "links are not supported"},
		{"POST", "/networks/n1/connect", `{}`, 400, "no container to connect"},
		{"POST", "/networks/bridge/disconnect", `{"Container":"busy"}`, 500, "is not connected to network bridge"},
		{"GET", "/networks?filters=" + `{"bogus":{"x":true}}`, "", 400, "invalid filter 'bogus'"},
		{"GET", "/networks?filters=" + `{"dangling":{"true":true,"false":true}}`, "", 400, `got more than one value for filter key "dangling"`},
		{"POST", "/networks/prune?filters=" + `{"dangling":{"true":true}}`, "", 400, "invalid filter 'dangling'"},
	} {
		code, body := requestJSON(t, s, c.method, c.path, c.body)
		var e struct{ Message string }
		json.Unmarshal([]byte(body), &e)
		if code != c.code || !strings.Contains(e.Message, c.msg) || strings.Contains(e.Message, "\n") {
			t.Errorf("%s %s %s: %d %s, want %d %q", c.method, c.path, c.body, code, body, c.code, c.msg)
		}
	}
	// Before API 1.52 a list entry carries an empty Containers; from it, none.
	_, body = requestJSON(t, s, "GET", `/v1.50/networks?filters={"name":{"^n1$":true}}`, "")
	if !strings.Contains(body, `"Containers":{}`) || !strings.HasPrefix(body, `[{"Name":"n1",`) {
		t.Errorf("list 1.50: %s", body)
	}
	bridges := bridgesOf(t, s)
	s.Hull(t, "rm", "-f", "busy").Ok(t)
	if code, body := requestJSON(t, s, "DELETE", "/networks/"+cr.Id[:10], ""); code != 204 || body != "" {
		t.Errorf("delete by ID prefix: %d %s", code, body)
	}
	if code, body := requestJSON(t, s, "POST", "/networks/prune", ""); code != 200 || body != `{"NetworksDeleted":null}` {
		t.Errorf("prune of nothing: %d %s", code, body)
	}
	checkNoKernelState(t, s, bridges...)
}

// The official Go client reads hull's answers into its types.
func TestNetworkGoClient(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	c, err := client.New(client.WithHost(s.Host), client.WithAPIVersion("1.50"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	sub := netip.MustParsePrefix(dockertest.Subnet())
	cr, err := c.NetworkCreate(ctx, "gonet", client.NetworkCreateOptions{Driver: "bridge", Internal: true,
		IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: sub}}},
		Labels: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Hull(t, "run", "-d", "--name", "gc1", "--network", "gonet", "busybox", "sleep", "300").Ok(t)
	in, err := c.NetworkInspect(ctx, cr.ID[:12], client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := in.Network
	if n.ID != cr.ID || n.Name != "gonet" || n.Driver != "bridge" || n.Scope != "local" || !n.Internal || n.Labels["k"] != "v" ||
		len(n.IPAM.Config) != 1 || n.IPAM.Config[0].Subnet != sub || n.IPAM.Config[0].Gateway != sub.Addr().Next() || n.Created.IsZero() {
		t.Errorf("inspect: %+v", n)
	}
	if len(n.Containers) != 1 {
		t.Fatalf("containers: %+v", n.Containers)
	}
	for id, ep := range n.Containers {
		hid := strings.TrimSpace(s.Hull(t, "inspect", "--format", "{{.Id}}", "gc1").Ok(t))
		hip := strings.TrimSpace(s.Hull(t, "inspect", "--format", "{{.NetworkSettings.Networks.gonet.IPAddress}}", "gc1").Ok(t))
		if id != hid || ep.Name != "gc1" || ep.IPv4Address.Addr().String() != hip || ep.IPv4Address.Bits() != 24 || len(ep.MacAddress) != 6 || len(ep.EndpointID) != 64 {
			t.Errorf("container %s: %+v (hull: %s %s)", id, ep, hid, hip)
		}
	}
	l, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("label", "k=v")})
	if err != nil || len(l.Items) != 1 || l.Items[0].ID != cr.ID || !l.Items[0].Internal {
		t.Errorf("list: %+v %v", l, err)
	}
	if _, err := c.NetworkRemove(ctx, "gonet", client.NetworkRemoveOptions{}); !cerrdefs.IsPermissionDenied(err) {
		t.Errorf("remove in use: %v", err)
	}
	if _, err := c.NetworkDisconnect(ctx, "gonet", client.NetworkDisconnectOptions{Container: "gc1"}); err != nil {
		t.Fatal(err)
	}
	// a paused container is connected as a running one is
	s.Hull(t, "pause", "gc1").Ok(t)
	if _, err := c.NetworkConnect(ctx, cr.ID, client.NetworkConnectOptions{Container: "gc1",
		EndpointConfig: &network.EndpointSettings{Aliases: []string{"again"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: sub.Addr().Next().Next().Next()}}}); err != nil {
		t.Fatal(err)
	}
	if in, err := c.NetworkInspect(ctx, "gonet", client.NetworkInspectOptions{}); err != nil || len(in.Network.Containers) != 1 {
		t.Errorf("after reconnect: %+v %v", in.Network.Containers, err)
	} else {
		for _, ep := range in.Network.Containers {
			if ep.IPv4Address.Addr() != sub.Addr().Next().Next().Next() {
				t.Errorf("reconnected at %s", ep.IPv4Address)
			}
		}
	}
	s.Hull(t, "unpause", "gc1").Ok(t)
	if out := s.Hull(t, "exec", "gc1", "ip", "-4", "addr").Ok(t); !strings.Contains(out, "inet "+sub.Addr().Next().Next().Next().String()+"/") {
		t.Errorf("gc1's addresses after a connect while paused:\n%s", out)
	}
	bridges := bridgesOf(t, s)
	s.Hull(t, "rm", "-f", "gc1").Ok(t)
	p, err := c.NetworkPrune(ctx, client.NetworkPruneOptions{})
	if err != nil || !slices.Equal(p.Report.NetworksDeleted, []string{"gonet"}) {
		t.Errorf("prune: %+v %v", p, err)
	}
	if _, err := c.NetworkInspect(ctx, "gonet", client.NetworkInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect after prune: %v", err)
	}
	checkNoKernelState(t, s, bridges...)
}

// docker-py's networks API.
func TestDockerPyNetworks(t *testing.T) {
	if exec.Command("python3", "-c", "import docker").Run() != nil {
		t.Skip("docker-py (python3 -c 'import docker') is not installed")
	}
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "create", "--name", "pyc2", "busybox", "true").Ok(t)
	py := func(script string, args ...string) []byte {
		t.Helper()
		out, err := exec.Command("python3", append([]string{"-c", "import docker, json, sys\nc = docker.DockerClient(base_url=sys.argv[1])\n" + script, s.Host}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker-py: %v\n%s", err, out)
		}
		return out
	}
	out := py(`
ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=sys.argv[2])])
n = c.networks.create("pynet", driver="bridge", ipam=ipam, labels={"a": "1"})
out = {"id": n.id, "got": c.networks.get(n.id[:12]).attrs,
       "listed": sorted(x.name for x in c.networks.list(filters={"label": "a=1"})),
       "names": sorted(x.name for x in c.networks.list())}
n.connect("pyc2", aliases=["two"])
print(json.dumps(out))
`, dockertest.Subnet())
	if nets := s.Hull(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}:{{$v.Aliases}} {{end}}", "pyc2").Ok(t); strings.TrimSpace(nets) != "bridge:[] pynet:[two]" {
		t.Errorf("pyc2's networks after connect: %q", nets)
	}
	out2 := py(`
n = c.networks.get("pynet")
n.disconnect("pyc2")
out = {}
try:
    c.networks.get("nosuch")
except docker.errors.NotFound as e:
    out["notfound"] = str(e.explanation)
n.remove()
out["pruned"] = c.networks.prune()
print(json.dumps(out))
`)
	if nets := s.Hull(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "pyc2").Ok(t); strings.TrimSpace(nets) != "bridge" {
		t.Errorf("pyc2's networks after disconnect: %q", nets)
	}
	var got struct {
		ID  string
		Got struct {
			Id, Name string
			IPAM     struct{ Config []struct{ Subnet string } }
		}
		Listed, Names []string
		NotFound      string
		Pruned        struct{ NetworksDeleted []string }
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := json.Unmarshal(out2, &got); err != nil {
		t.Fatalf("%v: %s", err, out2)
	}
	if got.Got.Id != got.ID || got.Got.Name != "pynet" || len(got.Got.IPAM.Config) != 1 ||
		!slices.Equal(got.Listed, []string{"pynet"}) || !slices.Equal(got.Names, []string{"bridge", "host", "none", "pynet"}) ||
		!strings.Contains(got.NotFound, "network nosuch not found") || len(got.Pruned.NetworksDeleted) != 0 {
		t.Errorf("docker-py: %s%s", out, out2)
	}
	checkNoKernelState(t, s)
}

// Networks and volumes have docker's events, from either door.
func TestNetworkVolumeEvents(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	since := time.Now().Add(-time.Second).Unix()
	id := strings.TrimSpace(s.Docker(t, "network", "create", "evnet").Ok(t))
	s.Hull(t, "run", "-d", "--name", "evc", "busybox", "sleep", "300").Ok(t)
	c := strings.TrimSpace(s.Hull(t, "inspect", "--format", "{{.Id}}", "evc").Ok(t))
	s.Docker(t, "network", "connect", "evnet", "evc").Ok(t)
	s.Hull(t, "network", "disconnect", "evnet", "evc").Ok(t)
	// a stopped container's connect and disconnect have no event, as docker's
	s.Hull(t, "create", "--name", "evstopped", "busybox", "true").Ok(t)
	s.Docker(t, "network", "connect", "evnet", "evstopped").Ok(t)
	s.Docker(t, "network", "disconnect", "evnet", "evstopped").Ok(t)
	s.Hull(t, "rm", "-f", "evc").Ok(t)
	s.Docker(t, "network", "rm", "evnet").Ok(t)
	s.Hull(t, "network", "create", "evnet2").Ok(t)
	s.Docker(t, "network", "prune", "-f").Ok(t)
	s.Hull(t, "volume", "create", "evvol").Ok(t)
	s.Docker(t, "volume", "create", "evvol").Ok(t) // exists: no second event
	s.Docker(t, "volume", "rm", "evvol").Ok(t)
	s.Docker(t, "volume", "create", "evvol2").Ok(t)
	s.Hull(t, "volume", "prune", "-f", "-a").Ok(t)
	until := time.Now().Add(time.Second).Unix()
	const format = `{{.Type}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "name"}} {{index .Actor.Attributes "container"}} {{index .Actor.Attributes "driver"}}`
	out := s.Docker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--filter", "type=network",
		"--filter", "type=volume", "--format", format).Ok(t)
	want := []string{
		"network create " + id + " evnet  ",
		"network connect " + id + " evnet " + c + " ",
		"network disconnect " + id + " evnet " + c + " ",
		"network destroy " + id + " evnet  ",
		"volume create evvol   local",
		"volume destroy evvol   local",
		"volume create evvol2   local",
		"volume destroy evvol2   local",
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	var nets, rest []string
	for _, l := range got {
		if strings.Contains(l, "evnet2") {
			nets = append(nets, strings.Fields(l)[1])
		} else {
			rest = append(rest, l)
		}
	}
	if !slices.Equal(rest, want) || !slices.Equal(nets, []string{"create", "destroy"}) {
		t.Errorf("docker events:\n%s\nwant\n%s\nand evnet2 create, destroy", out, strings.Join(want, "\n"))
	}
	hout := s.Hull(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--filter", "type=network",
		"--filter", "type=volume", "--format", format).Ok(t)
	if hout != out {
		t.Errorf("hull events:\n%s\ndocker events:\n%s", hout, out)
	}
}

// host and none list the running containers of that network mode, as docker's
// inspect does, without addresses; hull's inspect says the same.
func TestPredefinedNetworkContainers(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Hull(t, "run", "-d", "--name", "onhost", "--network", "host", "busybox", "sleep", "300").Ok(t)
	s.Hull(t, "run", "-d", "--name", "onnone", "--network", "none", "busybox", "sleep", "300").Ok(t)
	s.Hull(t, "create", "--name", "stopped", "--network", "none", "busybox", "true").Ok(t)
	const format = `{{range $id, $c := .Containers}}{{$c.Name}} {{$c.IPv4Address}} {{len $c.EndpointID}};{{end}}`
	for _, c := range []struct{ net, name string }{{"host", "onhost"}, {"none", "onnone"}} {
		out := s.Docker(t, "network", "inspect", "--format", format, c.net).Ok(t)
		if strings.TrimSpace(out) != c.name+"  64;" {
			t.Errorf("docker network inspect %s: %q", c.net, out)
		}
		var h []struct {
			Containers map[string]struct{ Name string }
		}
		if err := json.Unmarshal([]byte(s.Hull(t, "network", "inspect", c.net).Ok(t)), &h); err != nil || len(h) != 1 || len(h[0].Containers) != 1 {
			t.Errorf("hull network inspect %s: %+v %v", c.net, h, err)
		}
		for _, hc := range h[0].Containers {
			if hc.Name != c.name {
				t.Errorf("hull network inspect %s: %+v", c.net, h)
			}
		}
	}
}
