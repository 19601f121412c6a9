package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A pod's ports are published at the pod: a container of the pod serves on the
// port the pod publishes; `pod rm -f` leaves no veth, lease or rule (netEnv's
// cleanup checks the rest).
func TestPodNetwork(t *testing.T) {
	h := netEnv(t, "hull")
	// runs before netEnv's cleanup, which checks that nothing is left
	t.Cleanup(func() {
		for _, p := range strings.Fields(h.ok("pod", "ls", "-q")) {
			h.run("pod", "rm", "-f", p)
		}
	})
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	if _, stderr, code := h.run("pod", "create", "--network", "host", "--name", "bad"); code == 0 || !strings.Contains(stderr, "--network host") {
		t.Errorf("pod create --network host: exit %d %s", code, stderr)
	}
	h.ok("pod", "create", "-p", "127.0.0.1:"+port+":8080", "--name", "pp")
	h.ok("run", "-d", "--pod", "pp", "--name", "web", "busybox", "sh", "-c",
		"mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www")
	ip := strings.TrimSpace(h.ok("pod", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "pp"))
	if net.ParseIP(ip) == nil {
		t.Fatalf("pod inspect: IPAddress %q", ip)
	}
	if ports := h.ok("pod", "inspect", "-f", "{{json .NetworkSettings.Ports}}", "pp"); !strings.Contains(ports, `"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"`+port+`"}]`) {
		t.Errorf("pod inspect: Ports %s", ports)
	}
	// the container joins the pod's namespace and attaches nothing of its own
	if got := h.inspect("web", "{{.NetworkSettings.IPAddress}}"); got != "" {
		t.Errorf("the pod's container has an address of its own: %q", got)
	}
	if hosts := h.ok("exec", "web", "cat", "/etc/hosts"); !strings.Contains(hosts, ip+"\tpp") {
		t.Errorf("the container's /etc/hosts lacks the pod's address %s:\n%s", ip, hosts)
	}

	client := &http.Client{Timeout: 2 * time.Second}
	get := func() {
		t.Helper()
		var body string
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := client.Get("http://127.0.0.1:" + port + "/")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
				if resp.StatusCode == http.StatusOK && body == "hi\n" {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET 127.0.0.1:%s: %q %v", port, body, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	get()
	// a second container of the pod reaches the first on loopback; its removal
	// reconciles the network, which must keep the running pod's lease
	if out := h.ok("run", "--rm", "--pod", "pp", "busybox", "wget", "-qO-", "http://127.0.0.1:8080/"); out != "hi\n" {
		t.Errorf("from a second container of the pod: %q", out)
	}
	h.ok("network", "prune")
	get()
	// stop detaches the pod; start attaches it again
	h.ok("pod", "stop", "-t", "0", "pp")
	if got := strings.TrimSpace(h.ok("pod", "inspect", "-f", "{{.NetworkSettings}}", "pp")); got != "<nil>" {
		t.Errorf("a stopped pod's network settings: %s", got)
	}
	if _, err := client.Get("http://127.0.0.1:" + port + "/"); err == nil {
		t.Errorf("127.0.0.1:%s answers while the pod is stopped", port)
	}
	h.ok("pod", "start", "pp")
	get()

	h.ok("pod", "rm", "-f", "pp")
	if _, err := client.Get("http://127.0.0.1:" + port + "/"); err == nil {
		t.Errorf("127.0.0.1:%s still answers after pod rm -f", port)
	}
	for _, name := range rootLinks(h.root) {
		if strings.HasPrefix(name, "veth") {
			t.Errorf("pod rm -f left link %s", name)
		}
	}
	leases, _ := filepath.Glob(filepath.Join(h.root, "networks/leases/*.json"))
	for _, f := range leases {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), "containerID") {
			t.Errorf("pod rm -f left a lease in %s: %s", f, data)
		}
	}
}
