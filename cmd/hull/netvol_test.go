package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The docker options hull's network and volume commands share with the Docker
// API: network create --ip-range, ls --filter type/dangling, connect --ip,
// disconnect -f, prune --filter; volume create --opt.
func TestNetworkVolumeDockerOptions(t *testing.T) {
	h := netEnv(t, "hull")
	sub := testSubnet() // 10.214.N.0/24
	pre := strings.TrimSuffix(sub, "0/24")
	id := strings.TrimSpace(h.ok("network", "create", "--subnet", sub, "--ip-range", pre+"16/28", "--label", "k=v",
		"-o", "custom.opt=1", "ranged"))
	// inspect finds a network by an ID prefix, as docker's, and shows its options
	if out := h.ok("network", "inspect", id[:12]); !strings.Contains(out, `"name": "ranged"`) || !strings.Contains(out, `"custom.opt": "1"`) {
		t.Errorf("network inspect %s:\n%s", id[:12], out)
	}
	if out := h.ok("inspect", "--type", "network", "-f", "{{.Driver}}", "none"); out != "null\n" {
		t.Errorf("inspect --type network none: %q", out)
	}
	if out := h.ok("network", "ls", "--format", "{{.Name}}", "--filter", "type=builtin"); out != "bridge\nhost\nnone\n" {
		t.Errorf("ls type=builtin: %q", out)
	}
	if out := h.ok("network", "ls", "--format", "{{.Name}}", "--filter", "dangling=true"); out != "ranged\n" {
		t.Errorf("ls dangling=true: %q", out)
	}
	h.ok("run", "-d", "--name", "c1", "--network", "none", "busybox", "sleep", "300")
	if _, stderr, code := h.run("network", "connect", "ranged", "c1"); code == 0 || !strings.Contains(stderr, "network mode none") {
		t.Errorf("connect of a container in network mode none: %d %s", code, stderr)
	}
	// --network takes an ID prefix, as docker's; the record names the network
	h.ok("run", "-d", "--name", "c2", "--network", id[:10], "busybox", "sleep", "300")
	if got := h.inspect("c2", "{{.HostConfig.NetworkMode}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}"); got != "ranged ranged" {
		t.Errorf("c2 run with --network %s: %q", id[:10], got)
	}
	if ip := h.inspect("c2", "{{.NetworkSettings.IPAddress}}"); ip != pre+"16" {
		t.Errorf("c2's address %s, want the range's first, %s16", ip, pre)
	}
	h.ok("create", "--name", "c3", "busybox", "true")
	if _, stderr, code := h.run("network", "connect", "--ip", pre+"3", "ranged", "c3"); code == 0 || !strings.Contains(stderr, "ip range") {
		t.Errorf("connect --ip outside the range: %d %s", code, stderr)
	}
	h.ok("network", "connect", "--ip", pre+"20", "ranged", "c3")
	if got := h.inspect("c3", `{{(index .NetworkSettings.Networks "ranged").IPAMConfig.IPv4Address}}`); got != pre+"20" {
		t.Errorf("c3's fixed address on ranged: %q", got)
	}
	if out := h.ok("network", "ls", "--format", "{{.Name}}", "--filter", "dangling=false", "--filter", "type=custom"); out != "ranged\n" {
		t.Errorf("ls dangling=false type=custom: %q", out)
	}
	h.ok("rm", "-f", "c2")
	if _, stderr, code := h.run("network", "disconnect", "-f", "ranged", "c2"); code == 0 || !strings.Contains(stderr, "c2") {
		t.Errorf("disconnect -f of a container gone with no endpoint left: %d %s", code, stderr)
	}
	h.ok("network", "disconnect", "-f", "ranged", "c3")
	if got := h.inspect("c3", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"); got != "bridge" {
		t.Errorf("c3's networks after disconnect -f: %q", got)
	}
	if out := h.ok("network", "prune", "--filter", "label=k=other"); out != "" {
		t.Errorf("prune label=k=other: %q", out)
	}
	if out := h.ok("network", "prune", "--filter", "label=k=v"); out != "ranged\n" {
		t.Errorf("prune label=k=v: %q", out)
	}
	if _, stderr, code := h.run("network", "ls", "--filter", "type=other"); code != 125 || !strings.Contains(stderr, "'type'='other'") {
		t.Errorf("ls type=other: %d %s", code, stderr)
	}

	dev := t.TempDir()
	h.ok("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+dev, "bound")
	h.ok("run", "--rm", "--network", "none", "-v", "bound:/v", "busybox", "sh", "-c", "echo hi > /v/f")
	if data, err := os.ReadFile(filepath.Join(dev, "f")); err != nil || string(data) != "hi\n" {
		t.Errorf("the bound volume's device: %q %v", data, err)
	}
	if _, stderr, code := h.run("volume", "create", "-o", "size=1g", "x"); code != 125 || !strings.Contains(stderr, `invalid option: "size"`) {
		t.Errorf("volume create -o size: %d %s", code, stderr)
	}
	if _, stderr, code := h.run("volume", "create", "-d", "nfs", "x"); code != 125 || !strings.Contains(stderr, `only "local"`) {
		t.Errorf("volume create -d nfs: %d %s", code, stderr)
	}
}
