package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"golang.org/x/sys/unix"
)

// The flags docker's run, create, update, exec, images, ps, inspect and logs have
// and hull lacked until issue 14: each takes effect where the kernel or the record
// shows it, and each refusal exits 125 naming its flag.

// cgroupV2 tells whether this host mounts cgroup2 alone (the test VM).
func cgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// hostHas tells whether the host's v1 hierarchy of controller has file (a kernel
// without CFQ or BFQ has no blkio.weight, for one).
func hostHas(controller, file string) bool {
	_, err := os.Stat(filepath.Join("/sys/fs/cgroup", controller, file))
	return err == nil
}

// keyed reads the "key=value" lines a container printed.
func keyed(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// TestRunCgroupFlags: docker's cgroup and kernel flags reach the kernel, read back
// from inside the container (its cgroup namespace shows its own cgroup as the
// root) and from the host, on cgroup v1 (this host) and v2 (the VM); inspect
// shows them where docker does; update changes the ones docker's update does.
// What a host cannot apply is dropped with a warning, as docker drops it.
func TestRunCgroupFlags(t *testing.T) {
	if _, err := os.Stat("/dev/loop0"); err != nil {
		t.Skip("no /dev/loop0 to throttle")
	}
	v2 := cgroupV2()
	runtimes(t, func(t *testing.T, h *hullEnv) {
		parent := fmt.Sprintf("hull-test-%d-%s", os.Getpid(), h.runtime)
		t.Cleanup(func() { removeCgroupParent(t, parent) })
		// v1 files, then v2's
		script := strings.Join([]string{
			"echo period=$(" + cgroupFile("cpu/cpu.cfs_period_us", "cpu.max") + ")",
			"echo quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null)",
			"echo reservation=$(" + cgroupFile("memory/memory.soft_limit_in_bytes", "memory.low") + ")",
			"echo swappiness=$(cat /sys/fs/cgroup/memory/memory.swappiness 2>/dev/null)",
			"echo oom=$(grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null)",
			"echo mems=$(" + cgroupFile("cpuset/cpuset.mems", "cpuset.mems") + ")",
			"echo weight=$(cat /sys/fs/cgroup/blkio/blkio.weight /sys/fs/cgroup/blkio/blkio.bfq.weight /sys/fs/cgroup/io.bfq.weight /sys/fs/cgroup/io.weight 2>/dev/null | head -n1)",
			"echo rbps=$(cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device 2>/dev/null || grep ^7:0 /sys/fs/cgroup/io.max)",
			"echo wiops=$(cat /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device 2>/dev/null)",
			"echo adj=$(cat /proc/self/oom_score_adj)",
			"echo shm=$(df -k /dev/shm | tail -n1 | awk '{print $2}')",
			"echo shmmax=$(cat /proc/sys/kernel/shmmax)",
			"echo portstart=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)",
			// --device-cgroup-rule: a node of loop devices, made here, may be read
			"mknod /tmp/loop b 7 0 && head -c 0 /tmp/loop && echo rule=read",
			"sleep 1000",
		}, "; ")
		out, stderr, code := h.run("run", "-d", "--network", "none", "--name", "knobs", "--cgroup-parent", parent,
			"--cpu-period", "50000", "--cpu-quota", "25000", "-m", "128m", "--memory-reservation", "32m",
			"--memory-swappiness", "10", "--oom-kill-disable", "--cpuset-mems", "0", "--blkio-weight", "300",
			"--device-read-bps", "/dev/loop0:1mb", "--device-write-iops", "/dev/loop0:100", "--oom-score-adj", "300",
			"--shm-size", "16m", "--sysctl", "kernel.shmmax=1234567", "--sysctl", "net.ipv4.ip_unprivileged_port_start=99",
			"--device-cgroup-rule", "b 7:* r", "busybox", "sh", "-c", script)
		if code != 0 {
			t.Fatalf("run: exit %d: %s", code, stderr)
		}
		id := strings.TrimSpace(out)
		// What the host cannot apply: a warning each, as docker's.
		weightOK := v2 || hostHas("blkio", "blkio.weight") || hostHas("blkio", "blkio.bfq.weight")
		for _, c := range []struct {
			dropped bool
			flag    string
		}{{v2, "--memory-swappiness"}, {v2, "--oom-kill-disable"}, {!weightOK, "--blkio-weight"}} {
			if got := strings.Contains(stderr, c.flag+" discarded"); got != c.dropped {
				t.Errorf("warning that %s was discarded: %v, want %v: %q", c.flag, got, c.dropped, stderr)
			}
		}
		var k map[string]string
		if !waitFor(10*time.Second, func() bool { k = keyed(h.ok("logs", "knobs")); return k["rule"] != "" }) {
			t.Fatalf("the container did not get past its checks: %q", h.ok("logs", "knobs"))
		}
		want := map[string]string{
			"period": "50000", "quota": "25000", "reservation": "33554432", "swappiness": "10", "oom": "oom_kill_disable 1",
			"mems": "0", "weight": "300", "rbps": "7:0 1048576", "wiops": "7:0 100",
			"adj": "300", "shm": "16384", "shmmax": "1234567", "portstart": "99", "rule": "read",
		}
		if v2 {
			want["period"], want["quota"], want["swappiness"], want["oom"], want["wiops"] = "25000 50000", "", "", "", ""
			want["rbps"] = "7:0 rbps=1048576 wbps=max riops=max wiops=100"
			if k["weight"] == "default 2930" { // io.weight: runc's conversion of 300 from 10-1000 to 1-10000
				want["weight"] = k["weight"]
			} else {
				want["weight"] = "default 300" // io.bfq.weight takes 300 as it is
			}
		} else if !weightOK {
			want["weight"] = ""
		}
		for key, v := range want {
			if k[key] != v {
				t.Errorf("%s: %q, want %q", key, k[key], v)
			}
		}
		// The cgroup is below the parent, on the host.
		dir := filepath.Join("/sys/fs/cgroup/memory", parent, "hull-"+id)
		if v2 {
			dir = filepath.Join("/sys/fs/cgroup", parent, "hull-"+id)
		}
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("--cgroup-parent: %v", err)
		}
		wantSwappiness, wantOOM, wantWeight := "10", "true", "300"
		if v2 {
			wantSwappiness, wantOOM = "<nil>", "false"
		}
		if !weightOK {
			wantWeight = "0"
		}
		if got := h.inspect("knobs", "{{.HostConfig.CgroupParent}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} "+
			"{{.HostConfig.MemoryReservation}} {{if .HostConfig.MemorySwappiness}}{{.HostConfig.MemorySwappiness}}{{else}}<nil>{{end}} "+
			"{{.HostConfig.OomKillDisable}} {{.HostConfig.CpusetMems}} {{.HostConfig.BlkioWeight}} {{json .HostConfig.BlkioDeviceReadBps}} "+
			"{{json .HostConfig.BlkioDeviceWriteIOps}} {{.HostConfig.OomScoreAdj}} {{.HostConfig.ShmSize}} {{json .HostConfig.Sysctls}} "+
			"{{json .HostConfig.DeviceCgroupRules}}"); got != parent+" 50000 25000 33554432 "+wantSwappiness+" "+wantOOM+" 0 "+wantWeight+
			` [{"Path":"/dev/loop0","Rate":1048576}] [{"Path":"/dev/loop0","Rate":100}] 300 16777216 `+
			`{"kernel.shmmax":"1234567","net.ipv4.ip_unprivileged_port_start":"99"} ["b 7:* r"]` {
			t.Errorf("inspect: %s", got)
		}

		// update: docker's update flags, at once in the kernel and in the record
		h.ok("update", "--cpu-period", "100000", "--cpu-quota", "30000", "--memory-reservation", "48m", "--cpuset-mems", "0", "knobs")
		k = keyed(h.ok("exec", "knobs", "sh", "-c", "echo period=$("+cgroupFile("cpu/cpu.cfs_period_us", "cpu.max")+
			"); echo quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null); echo reservation=$("+
			cgroupFile("memory/memory.soft_limit_in_bytes", "memory.low")+")"))
		want = map[string]string{"period": "100000", "quota": "30000", "reservation": "50331648"}
		if v2 {
			want["period"], want["quota"] = "30000 100000", ""
		}
		for key, v := range want {
			if k[key] != v {
				t.Errorf("after update, %s: %q, want %q", key, k[key], v)
			}
		}
		if got := h.inspect("knobs", "{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.MemoryReservation}}"); got != "100000 30000 50331648" {
			t.Errorf("inspect after update: %s", got)
		}
		// docker's conflicts: --cpus over a period and quota; a reservation over the limit
		if _, stderr, code := h.run("update", "--cpus", "1", "knobs"); code != 1 || !strings.Contains(stderr, "conflicting options") {
			t.Errorf("update --cpus over --cpu-quota: exit %d %q", code, stderr)
		}
		if _, stderr, code := h.run("update", "--memory-reservation", "256m", "knobs"); code != 1 || !strings.Contains(stderr, "memory reservation") {
			t.Errorf("update --memory-reservation over -m: exit %d %q", code, stderr)
		}
		h.ok("rm", "-f", "knobs")

		// The real-time budget: cgroup v1's only (docker refuses it elsewhere).
		args := []string{"run", "--rm", "--network", "none", "--cpu-rt-period", "1000000", "--cpu-rt-runtime", "10000",
			"busybox", "cat", "/sys/fs/cgroup/cpu/cpu.rt_runtime_us", "/sys/fs/cgroup/cpu/cpu.rt_period_us"}
		out, stderr, code = h.run(args...)
		if v2 || !hostHas("cpu", "cpu.rt_runtime_us") {
			if code != 125 || !strings.Contains(stderr, "--cpu-rt-period and --cpu-rt-runtime need") {
				t.Errorf("--cpu-rt-runtime without the real-time scheduler: exit %d %q", code, stderr)
			}
		} else if code != 0 || out != "10000\n1000000\n" {
			t.Errorf("--cpu-rt-runtime: exit %d %q %q", code, out, stderr)
		}
		// --blkio-weight-device: the weight of one device
		out, stderr, code = h.run("run", "--rm", "--network", "none", "--blkio-weight-device", "/dev/loop0:200", "busybox", "sh", "-c",
			"cat /sys/fs/cgroup/blkio/blkio.weight_device /sys/fs/cgroup/blkio/blkio.bfq.weight_device /sys/fs/cgroup/io.bfq.weight /sys/fs/cgroup/io.weight 2>/dev/null | grep 7:0 || echo none")
		switch {
		case !weightOK:
			if code != 0 || out != "none\n" || !strings.Contains(stderr, "--blkio-weight-device discarded") {
				t.Errorf("--blkio-weight-device on a host without weights: exit %d %q %q", code, out, stderr)
			}
		case code != 0 && v2 && strings.Contains(stderr, "io.weight"):
			// io.weight of one device needs io.cost enabled on it (blk-iocost);
			// the kernel refuses it otherwise, and the runtime says so
		case code != 0 || !strings.HasPrefix(out, "7:0 "):
			t.Errorf("--blkio-weight-device: exit %d %q %q", code, out, stderr)
		}
	})
}

// removeCgroupParent removes a --cgroup-parent's directories, which stay after
// the containers in them (docker leaves them too).
func removeCgroupParent(t *testing.T, parent string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", parent))
	if d := filepath.Join("/sys/fs/cgroup", parent); cgroupV2() {
		dirs = []string{d}
	}
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			t.Errorf("remove the cgroup parent %s: %v", d, err)
		}
	}
}

// TestRunDockerFlags: docker's other flags of run and create: annotations in the
// bundle, the domain name, exposed ports, label files, legacy links, log drivers,
// -a, -h, --platform, the health check's start interval, the API socket; and the
// options hull refuses, each exiting 125 with one line naming its flag, leaving
// no container behind.
func TestRunDockerFlags(t *testing.T) {
	h := netEnv(t, "hull")
	// --annotation: the OCI annotations of the bundle's config.json
	id := strings.TrimSpace(h.ok("create", "--network", "none", "--name", "ann", "--annotation", "org.example/team=web",
		"--annotation", "empty=", "busybox", "true"))
	var spec struct{ Annotations map[string]string }
	data, err := os.ReadFile(filepath.Join(h.root, "containers", id, "bundle", "config.json"))
	if err != nil || json.Unmarshal(data, &spec) != nil || spec.Annotations["org.example/team"] != "web" || len(spec.Annotations) != 2 {
		t.Errorf("annotations in the bundle: %v %v", spec.Annotations, err)
	}
	if got := h.inspect("ann", "{{json .HostConfig.Annotations}}"); got != `{"empty":"","org.example/team":"web"}` {
		t.Errorf("inspect annotations: %s", got)
	}

	// --domainname, -h: the uts namespace's names, and /etc/hosts on a network
	out := h.ok("run", "--rm", "-h", "box", "--domainname", "example.org", "busybox", "sh", "-c",
		"hostname; cat /proc/sys/kernel/domainname; grep -c 'box.example.org box' /etc/hosts")
	if out != "box\nexample.org\n1\n" {
		t.Errorf("-h, --domainname: %q", out)
	}

	// --expose: in inspect beside the image's and -p's ports, and -P publishes it
	h.ok("run", "-d", "--name", "web", "--expose", "7000-7001/udp", "--expose", "8080", "-P", "busybox", "sleep", "1000")
	if got := h.inspect("web", "{{json .Config.ExposedPorts}}"); got != `{"7000/udp":{},"7001/udp":{},"8080/tcp":{}}` {
		t.Errorf("exposed ports: %s", got)
	}
	if ports := h.ok("port", "web"); strings.Count(ports, "->") != 3 || !strings.Contains(ports, "8080/tcp -> 0.0.0.0:") {
		t.Errorf("-P of --expose's ports: %q", ports)
	}

	// --link on the default network: an /etc/hosts line for the alias and the name
	webIP := h.inspect("web", "{{.NetworkSettings.IPAddress}}")
	out = h.ok("run", "--rm", "--link", "web:frontend", "busybox", "sh", "-c", "grep frontend /etc/hosts; ping -c1 -W2 frontend >/dev/null && echo reached")
	if want := webIP + "\tfrontend " + h.inspect("web", "{{.Id}}")[:12] + " web\nreached\n"; out != want {
		t.Errorf("--link: %q, want %q", out, want)
	}
	h.ok("create", "--name", "linker", "--link", "web", "busybox", "true")
	if got := h.inspect("linker", "{{json .HostConfig.Links}}"); got != `["/web:/linker/web"]` {
		t.Errorf("inspect links: %s", got)
	}
	h.ok("create", "--name", "idle", "busybox", "true")

	// --label-file: docker's KEY=VALUE lines, -l after them
	labels := filepath.Join(t.TempDir(), "labels")
	os.WriteFile(labels, []byte("# team\n  tier=web\nowner=a b \nbare\nkept=x\n"), 0o644)
	h.ok("create", "--network", "none", "--name", "lab", "--label-file", labels, "-l", "kept=y", "busybox", "true")
	if got := h.inspect("lab", "{{json .Config.Labels}}"); got != `{"kept":"y","owner":"a b ","tier":"web"}` {
		t.Errorf("--label-file: %s", got)
	}

	// --log-driver: none keeps nothing (logs refuses, as docker's); local keeps
	// the file with docker's local defaults
	h.ok("run", "--network", "none", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hello")
	if _, stderr, code := h.run("logs", "quiet"); code == 0 || !strings.Contains(stderr, "does not support reading") {
		t.Errorf("logs of --log-driver none: exit %d %q", code, stderr)
	}
	if got := h.inspect("quiet", "{{.HostConfig.LogConfig.Type}} [{{.LogPath}}]"); got != "none []" {
		t.Errorf("inspect of --log-driver none: %s", got)
	}
	if _, err := os.Stat(filepath.Join(h.root, "containers", h.inspect("quiet", "{{.Id}}"), h.inspect("quiet", "{{.Id}}")+"-json.log")); err == nil {
		t.Error("--log-driver none wrote a log")
	}
	h.ok("run", "--network", "none", "--name", "loc", "--log-driver", "local", "busybox", "echo", "kept")
	if got := h.ok("logs", "loc"); got != "kept\n" {
		t.Errorf("logs of --log-driver local: %q", got)
	}
	if got := h.inspect("loc", "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-file\"}}"); got != "local 5" {
		t.Errorf("inspect of --log-driver local: %s", got)
	}

	// -a: only the streams named
	out, stderr, code := h.run("run", "--rm", "--network", "none", "-a", "stderr", "busybox", "sh", "-c", "echo out; echo err >&2")
	if code != 0 || out != "" || stderr != "err\n" {
		t.Errorf("-a stderr: exit %d %q %q", code, out, stderr)
	}
	if got, _, _ := h.runIn(strings.NewReader("typed\n"), "run", "--rm", "--network", "none", "-a", "stdin", "-a", "stdout", "busybox", "cat"); got != "typed\n" {
		t.Errorf("-a stdin -a stdout: %q", got)
	}

	// --platform: the image's own only
	h.ok("run", "--rm", "--network", "none", "--platform", "linux/amd64", "busybox", "true")
	if _, stderr, code := h.run("run", "--rm", "--network", "none", "--platform", "linux/arm64", "busybox", "true"); code != 125 ||
		!strings.Contains(stderr, "does not match the specified platform (linux/arm64)") {
		t.Errorf("--platform linux/arm64 of an amd64 image: exit %d %q", code, stderr)
	}

	// --health-start-interval: checks come that often within the start period
	h.ok("run", "-d", "--network", "none", "--name", "hc", "--health-cmd", "true", "--health-interval", "1h",
		"--health-start-period", "1h", "--health-start-interval", "200ms", "busybox", "sleep", "1000")
	if !waitFor(4*time.Second, func() bool { return h.inspect("hc", "{{.State.Health.Status}}") == "healthy" }) {
		t.Errorf("--health-start-interval 200ms: still %s", h.inspect("hc", "{{.State.Health.Status}}"))
	}
	if got := h.inspect("hc", "{{.Config.Healthcheck.StartInterval}}"); got != "200ms" {
		t.Errorf("inspect start interval: %s", got)
	}

	// accepted and dropped or ignored, as docker does on Linux
	out, stderr, code = h.run("run", "--rm", "--network", "none", "--kernel-memory", "64m", "--cpu-count", "2",
		"--disable-content-trust", "--isolation", "default", "--volume-driver", "local", "busybox", "echo", "ran")
	if code != 0 || out != "ran\n" || !strings.Contains(stderr, "--kernel-memory ignored") || !strings.Contains(stderr, "--cpu-count and --cpu-percent discarded") {
		t.Errorf("accepted flags: exit %d %q %q", code, out, stderr)
	}

	// --use-api-socket: the socket of `hull system service` at /var/run/docker.sock
	if _, stderr, code := h.run("run", "--rm", "--network", "none", "--use-api-socket", "busybox", "true"); code != 125 || !strings.Contains(stderr, "no Docker API socket") {
		t.Errorf("--use-api-socket without a service: exit %d %q", code, stderr)
	}
	l, err := net.Listen("unix", filepath.Join(h.state, "docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if out := h.ok("run", "--rm", "--network", "none", "--use-api-socket", "busybox", "sh", "-c", "test -S /var/run/docker.sock && echo socket"); out != "socket\n" {
		t.Errorf("--use-api-socket: %q", out)
	}

	before := h.ok("ps", "-aq")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--gpus", "all"}, "--gpus is not supported"},
		{[]string{"--storage-opt", "size=1G"}, "--storage-opt is not supported"},
		{[]string{"--isolation", "hyperv"}, "invalid --isolation"},
		{[]string{"--volume-driver", "nfs"}, `volume driver "nfs"`},
		{[]string{"--ip6", "2001:db8::33"}, "invalid --ip6"},
		{[]string{"--link-local-ip", "169.254.1.1"}, "--link-local-ip is not supported"},
		{[]string{"--io-maxiops", "10"}, "--io-maxiops"},
		{[]string{"--io-maxbandwidth", "10m"}, "--io-maxbandwidth"},
		{[]string{"--log-driver", "journald"}, `log driver "journald" is not supported`},
		{[]string{"--log-driver", "syslog"}, `log driver "syslog" is not supported`},
		{[]string{"--platform", "windows/amd64"}, "invalid --platform"},
		{[]string{"--link", "nosuch:x"}, "--link nosuch"},
		{[]string{"--link", "idle"}, "cannot link to a non running container"},
		{[]string{"--link", "web", "--network", "host"}, "cannot be used with --link"},
		{[]string{"--expose", "80/sctp"}, "invalid --expose"},
		{[]string{"--domainname", "x", "--uts", "host"}, "--domainname and --uts host"},
		{[]string{"--annotation", "=v"}, "invalid --annotation"},
		{[]string{"--health-start-interval", "1us"}, "--health-start-interval"},
		{[]string{"-a", "stdout", "-d"}, "cannot specify both --attach and --detach"},
		{[]string{"-a", "stdall"}, "valid streams are STDIN, STDOUT and STDERR"},
		{[]string{"--cpu-period", "10"}, "invalid --cpu-period"},
		{[]string{"--cpu-quota", "10"}, "invalid --cpu-quota"},
		{[]string{"--cpus", "1", "--cpu-quota", "50000"}, "--cpus and --cpu-quota"},
		{[]string{"--cpuset-mems", "0-4095"}, "memory nodes are not available"},
		{[]string{"--memory-reservation", "1m"}, "minimum memory reservation"},
		{[]string{"--memory-swappiness", "101"}, "--memory-swappiness"},
		{[]string{"--oom-score-adj", "1001"}, "--oom-score-adj"},
		{[]string{"--blkio-weight", "5"}, "--blkio-weight"},
		{[]string{"--blkio-weight-device", "/dev/loop0"}, "invalid --blkio-weight-device"},
		{[]string{"--blkio-weight-device", "/dev/null:100"}, "not a block device"},
		{[]string{"--device-read-bps", "loop0:1mb"}, "invalid --device-read-bps"},
		{[]string{"--device-write-bps", "/dev/nonexistent:1mb"}, "--device-write-bps /dev/nonexistent"},
		{[]string{"--device-read-iops", "/dev/loop0:1k"}, "invalid --device-read-iops"},
		{[]string{"--device-cgroup-rule", "c 1:3 rwx"}, "invalid --device-cgroup-rule"},
		{[]string{"--cgroup-parent", "../up"}, "invalid --cgroup-parent"},
		{[]string{"--sysctl", "kernel.pid_max=1"}, "--sysctl kernel.pid_max is not allowed"},
		{[]string{"--sysctl", "net.ipv4.ip_forward=1", "--network", "host"}, "not allowed with --network host"},
		{[]string{"--shm-size", "x"}, "invalid --shm-size"},
		{[]string{"--label-file", "/nonexistent/labels"}, "/nonexistent/labels"},
	} {
		args := append(append([]string{"run", "--rm"}, c.args...), "busybox", "true")
		_, stderr, code := h.run(args...)
		if code != 125 || !strings.Contains(stderr, c.msg) || strings.Count(errorLine(stderr), "\n") != 1 {
			t.Errorf("run %v: exit %d %q, want 125 and %q", c.args, code, stderr, c.msg)
		}
	}
	if after := h.ok("ps", "-aq"); after != before {
		t.Errorf("refused runs left containers: %q, before %q", after, before)
	}
}

// TestExecAndListFlags: exec --env-file and --detach-keys, images --filter and
// --no-trunc, ps --size, inspect --type and --size, logs --details.
func TestExecAndListFlags(t *testing.T) {
	h := newHullEnv(t, "hull")
	h.detached("--name", "x", "-e", "A=1", "busybox", "sh", "-c", "echo logged; sleep 1000")

	env := filepath.Join(t.TempDir(), "env")
	os.WriteFile(env, []byte("B=from-file\n# c\nHULL_TEST_UNSET\nA=file\n"), 0o644)
	if out := h.ok("exec", "--env-file", env, "-e", "A=flag", "x", "sh", "-c", "echo $A $B"); out != "flag from-file\n" {
		t.Errorf("exec --env-file: %q", out)
	}
	if _, stderr, code := h.run("exec", "--detach-keys", "ctrl-1", "x", "true"); code != 125 || !strings.Contains(stderr, "invalid detach key") {
		t.Errorf("exec --detach-keys ctrl-1: exit %d %q", code, stderr)
	}
	// With a terminal the keys detach: hull exits 0, the command runs on.
	p := h.startOnPty("exec", "-it", "--detach-keys", "ctrl-x", "x", "sh", "-c", "trap '' HUP; echo ready; sleep 1000")
	if !p.Expect("ready") {
		t.Fatalf("exec -it: %q", p.Output())
	}
	p.Master.Write([]byte{24}) // ctrl-x
	if code := p.Exit(); code != 0 {
		t.Errorf("exec -it detached: exit %d %q", code, p.Output())
	}
	if ps := h.ok("exec", "x", "ps", "-o", "args"); !strings.Contains(ps, "sleep 1000\n") || strings.Count(ps, "sleep 1000") != 2 {
		t.Errorf("the detached command does not run on: %q", ps)
	}

	// images: --filter, --no-trunc, the REPOSITORY argument
	h.ok("tag", "busybox", "other:1")
	imgID := h.inspect("x", "{{.Image}}")
	if out := h.ok("images", "--no-trunc", "-q"); out != imgID+"\n" {
		t.Errorf("images --no-trunc -q: %q, want %s", out, imgID)
	}
	if out := h.ok("images", "--filter", "reference=oth*", "--format", "{{.Repository}}:{{.Tag}}"); out != "docker.io/library/other:1\n" {
		t.Errorf("images --filter reference: %q", out)
	}
	if out := h.ok("images", "busybox", "--format", "{{.Repository}}"); out != "docker.io/library/busybox\n" {
		t.Errorf("images busybox: %q", out)
	}
	if out := h.ok("images", "-f", "dangling=true", "-q"); out != "" {
		t.Errorf("images -f dangling=true: %q", out)
	}
	if _, stderr, code := h.run("images", "-f", "size=1"); code != 125 || !strings.Contains(stderr, "invalid filter") {
		t.Errorf("images -f size=1: exit %d %q", code, stderr)
	}

	// ps --size, inspect --size: what the container wrote, and that plus its image
	h.ok("exec", "x", "sh", "-c", "head -c 100000 /dev/zero > /big")
	if out := h.ok("ps", "--size", "--format", "{{.Names}} {{.Size}}"); !strings.HasPrefix(out, "x 10") || !strings.Contains(out, "(virtual 2.") {
		t.Errorf("ps --size: %q", out)
	}
	if out := h.ok("ps", "-s"); !strings.Contains(strings.SplitN(out, "\n", 2)[0], "SIZE") {
		t.Errorf("ps -s header: %q", out)
	}
	var sizes []struct{ SizeRw, SizeRootFs uint64 }
	if err := json.Unmarshal([]byte(h.ok("inspect", "--size", "x")), &sizes); err != nil || len(sizes) != 1 ||
		sizes[0].SizeRw < 100000 || sizes[0].SizeRootFs < sizes[0].SizeRw+1<<20 {
		t.Errorf("inspect --size: %+v %v", sizes, err)
	}
	if out := h.ok("inspect", "x"); strings.Contains(out, "SizeRw") {
		t.Error("inspect without --size shows sizes")
	}

	// inspect --type, and inspect of other objects by name
	h.ok("volume", "create", "vol")
	if out := h.inspect("busybox", "{{.Id}}"); out != imgID {
		t.Errorf("inspect of an image: %q", out)
	}
	if out := h.inspect("vol", "{{.Name}}"); out != "vol" {
		t.Errorf("inspect of a volume: %q", out)
	}
	if out := h.ok("inspect", "--type", "volume", "-f", "{{.Name}}", "vol"); out != "vol\n" {
		t.Errorf("inspect --type volume: %q", out)
	}
	if _, stderr, code := h.run("inspect", "--type", "container", "vol"); code != 1 || !strings.Contains(stderr, "no such container") {
		t.Errorf("inspect --type container of a volume: exit %d %q", code, stderr)
	}
	if _, stderr, code := h.run("inspect", "nothing-by-this-name"); code != 1 || !strings.Contains(stderr, "no such object: nothing-by-this-name") {
		t.Errorf("inspect of nothing: exit %d %q", code, stderr)
	}
	if _, stderr, code := h.run("inspect", "--type", "node", "x"); code != 125 || !strings.Contains(stderr, "--type") {
		t.Errorf("inspect --type node: exit %d %q", code, stderr)
	}

	// logs --details: docker's extra details (none here) and a space before each line
	if out := h.ok("logs", "--details", "x"); out != " logged\n" {
		t.Errorf("logs --details: %q", out)
	}
	if out := h.ok("logs", "-n", "1", "x"); out != "logged\n" {
		t.Errorf("logs -n 1: %q", out)
	}
	h.ok("volume", "rm", "vol")
}

// TestPullAllTagsAndRunQuiet: pull --all-tags pulls every tag of a repository (and
// refuses a name with a tag, as docker's); run -q pulls a missing image without a
// word on stdout or stderr, where run without it says it pulls.
func TestPullAllTagsAndRunQuiet(t *testing.T) {
	src := newHullEnv(t, "hull")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, ref := range []string{"/lib/bb:1", "/lib/bb:2", "/lib/other:1"} {
		src.ok("push", "busybox", host+ref)
	}

	dst := newHullEnv(t, "hull")
	dst.ok("pull", "--all-tags", "-q", host+"/lib/bb")
	if got := dst.ok("images", "--format", "{{.Repository}}:{{.Tag}}", host+"/lib/*"); got != host+"/lib/bb:1\n"+host+"/lib/bb:2\n" {
		t.Errorf("pull --all-tags: images %q", got)
	}
	if _, stderr, code := dst.run("pull", "-a", host+"/lib/bb:1"); code != 125 || !strings.Contains(stderr, "tag can't be used with --all-tags") {
		t.Errorf("pull -a of a tag: exit %d %q", code, stderr)
	}

	out, stderr, code := dst.run("run", "--rm", "-q", "--network", "none", host+"/lib/other:1", "echo", "ran")
	if code != 0 || out != "ran\n" || stderr != "" {
		t.Errorf("run -q of an image to pull: exit %d %q %q", code, out, stderr)
	}
	dst.ok("rmi", host+"/lib/other:1")
	out, stderr, code = dst.run("run", "--rm", "--network", "none", host+"/lib/other:1", "echo", "ran")
	if code != 0 || out != "ran\n" || !strings.Contains(stderr, "Unable to find image") {
		t.Errorf("run of an image to pull: exit %d %q %q", code, out, stderr)
	}
}
