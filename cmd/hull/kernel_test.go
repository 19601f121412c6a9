package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hullproject/hull/engine"
)

// capBit names the capabilities by bit, as linux/capability.h numbers them: the
// test's own table, apart from hull's.
var capBit = strings.Fields(`CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID
	SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
	SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE
	SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN
	SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE`)

// kernelOf is `hull inspect --kernel`'s Kernel section of container ref.
func kernelOf(t *testing.T, h *hullEnv, ref string) *engine.Kernel {
	t.Helper()
	var k engine.Kernel
	out := h.ok("inspect", "--kernel", "-f", "{{json .Kernel}}", ref)
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("inspect --kernel %s: %v: %s", ref, err, out)
	}
	return &k
}

func pidOf(t *testing.T, h *hullEnv, ref string) int {
	t.Helper()
	pid, err := strconv.Atoi(h.inspect(ref, "{{.State.Pid}}"))
	if err != nil || pid <= 0 {
		t.Fatalf("pid of %s: %q", ref, h.inspect(ref, "{{.State.Pid}}"))
	}
	return pid
}

// nftRules are the rules of the inet tables whose hull comment names one of words,
// as `nft -j list ruleset` shows them: "chain handle key".
func nftRules(t *testing.T, words ...string) []string {
	t.Helper()
	out, err := exec.Command("nft", "-j", "list", "ruleset").Output()
	if err != nil {
		t.Fatalf("nft: %v", err)
	}
	var rs struct {
		Nftables []struct {
			Rule *struct {
				Family, Table, Chain, Comment string
				Handle                        uint64
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &rs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range rs.Nftables {
		r := x.Rule
		if r == nil || r.Family != "inet" || !strings.HasPrefix(r.Comment, "hull:") {
			continue
		}
		key := strings.TrimPrefix(r.Comment, "hull:")
		for _, f := range strings.Fields(key) {
			host, _, _ := strings.Cut(f, ":")
			if slices.Contains(words, f) || slices.Contains(words, host) {
				got = append(got, fmt.Sprintf("%s %d %s", r.Chain, r.Handle, key))
				break
			}
		}
	}
	slices.Sort(got)
	return got
}

// procStatus is a field of /proc/PID/status (statusField), which must be there.
func procStatus(t *testing.T, pid int, key string) string {
	t.Helper()
	v := statusField(strconv.Itoa(pid), key)
	if v == "" {
		t.Fatalf("no %s in /proc/%d/status", key, pid)
	}
	return v
}

// capsFromStatus decodes a set of /proc/PID/status with the test's own table.
func capsFromStatus(t *testing.T, pid int, key string) []string {
	t.Helper()
	mask, err := strconv.ParseUint(procStatus(t, pid, key), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for bit := 0; bit < 64; bit++ {
		if mask&(1<<bit) != 0 {
			if bit >= len(capBit) {
				t.Fatalf("%s of %d: capability %d is not in the test's table", key, pid, bit)
			}
			names = append(names, "CAP_"+capBit[bit])
		}
	}
	slices.Sort(names)
	return names
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// nsInode is /proc/PID/ns/NAME's inode, from the link's text.
func nsInode(t *testing.T, pid int, name string) uint64 {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, name+":["), "]"), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", l, err)
	}
	return n
}

// hostCgroupFile reads a file of the process's cgroup: v1File on the v1
// hierarchy of controller when the host has one (this hybrid host), else v2File
// in its cgroup2 cgroup (a pure v2 host, mounted at /sys/fs/cgroup); the path is
// /proc/PID/cgroup's.
func hostCgroupFile(t *testing.T, pid int, controller, v1File, v2File string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var dir, file string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		switch {
		case len(parts) != 3:
		case slices.Contains(strings.Split(parts[1], ","), controller):
			dir, file = filepath.Join("/sys/fs/cgroup", parts[1], parts[2]), v1File
		case parts[1] == "" && dir == "":
			dir, file = filepath.Join("/sys/fs/cgroup", parts[2]), v2File
		}
	}
	v, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(v))
}

// checkCommon compares what every container's Kernel section says with what the
// test reads itself: namespaces, capabilities, no_new_privs, seccomp, mounts.
func checkCommon(t *testing.T, k *engine.Kernel, pid int) {
	t.Helper()
	if k.Pid != pid {
		t.Errorf("pid %d, want %d", k.Pid, pid)
	}
	for _, name := range []string{"pid", "net", "ipc", "uts", "mnt", "cgroup", "user"} {
		if got, want := k.Namespaces[name].Inode, nsInode(t, pid, name); got != want {
			t.Errorf("%s namespace: inode %d, /proc says %d", name, got, want)
		}
	}
	for set, key := range map[string]string{"bounding": "CapBnd", "effective": "CapEff", "permitted": "CapPrm", "inheritable": "CapInh", "ambient": "CapAmb"} {
		if got, want := sorted(k.Capabilities[set]), capsFromStatus(t, pid, key); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("capabilities %s: %v, /proc says %v", set, got, want)
		}
	}
	if got, want := k.NoNewPrivs, procStatus(t, pid, "NoNewPrivs") == "1"; got != want {
		t.Errorf("noNewPrivs %v, /proc says %v", got, want)
	}
	mode := map[string]string{"0": "disabled", "1": "strict", "2": "filter"}[procStatus(t, pid, "Seccomp")]
	filters, _ := strconv.Atoi(procStatus(t, pid, "Seccomp_filters"))
	if k.Seccomp.Mode != mode || k.Seccomp.Filters != filters {
		t.Errorf("seccomp %+v, /proc says %s with %d filters", k.Seccomp, mode, filters)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		want = append(want, strings.Fields(l)[4])
	}
	for _, m := range k.Mounts {
		got = append(got, m.Point)
	}
	if !slices.Equal(got, want) || !slices.Contains(got, "/") || !slices.Contains(got, "/proc") {
		t.Errorf("mount points %v, /proc/%d/mountinfo says %v", got, pid, want)
	}
}

// TestInspectKernel: `hull inspect --kernel` says what the test reads itself from
// /proc and /sys, for a container with limits on the default bridge, one with
// capabilities added and dropped, no seccomp and no network, one that joins the
// first's pid namespace, and one in a pod; and it says where the kernel differs
// from the spec when the test changes a limit behind hull's back.
func TestInspectKernel(t *testing.T) {
	h := netEnv(t, "hull")

	h.ok("run", "-d", "--name", "limited", "-m", "64m", "--pids-limit", "50", "-p", "127.0.0.1::80", "busybox", "sleep", "1000")
	pid := pidOf(t, h, "limited")
	k := kernelOf(t, h, "limited")
	checkCommon(t, k, pid)
	if k.Seccomp.Mode != "filter" || k.Seccomp.Filters < 1 || len(k.Differs) != 0 {
		t.Errorf("limited: seccomp %+v, differs %q", k.Seccomp, k.Differs)
	}
	mem, pids := hostCgroupFile(t, pid, "memory", "memory.limit_in_bytes", "memory.max"), hostCgroupFile(t, pid, "pids", "pids.max", "pids.max")
	var gotMem, gotPids string
	for _, g := range k.Cgroups {
		if v, ok := g.Files["memory.limit_in_bytes"]; ok {
			gotMem = v
		} else if v, ok := g.Files["memory.max"]; ok {
			gotMem = v
		}
		if v, ok := g.Files["pids.max"]; ok {
			gotPids = v
		}
	}
	if mem != "67108864" || gotMem != mem || pids != "50" || gotPids != pids {
		t.Errorf("limits: memory %q pids %q, /sys says %q %q", gotMem, gotPids, mem, pids)
	}
	// eth0 on the bridge: its address, and its peer on the host.
	var eth0 *struct{ addr, peer, bridge string }
	for _, it := range k.Network {
		if it.Name == "eth0" && it.Kind == "veth" && len(it.Addresses) > 0 {
			eth0 = &struct{ addr, peer, bridge string }{it.Addresses[0], it.HostPeer, it.Bridge}
		}
	}
	ip := h.inspect("limited", "{{.NetworkSettings.IPAddress}}")
	if eth0 == nil || !strings.HasPrefix(eth0.addr, ip+"/") {
		t.Fatalf("no eth0 with %s: %+v", ip, k.Network)
	}
	iflink := strings.TrimSpace(h.ok("exec", "limited", "cat", "/sys/class/net/eth0/iflink"))
	if idx, _ := os.ReadFile("/sys/class/net/" + eth0.peer + "/ifindex"); strings.TrimSpace(string(idx)) != iflink {
		t.Errorf("host peer %s has ifindex %q, eth0's iflink is %s", eth0.peer, idx, iflink)
	}
	if master, _ := os.Readlink("/sys/class/net/" + eth0.peer + "/master"); filepath.Base(master) != eth0.bridge || eth0.bridge == "" {
		t.Errorf("host peer %s is on %q, inspect says %q", eth0.peer, master, eth0.bridge)
	}
	// The firewall: the rules of hull's table that name its address or bridge,
	// as nft(8) lists them, its published port among them.
	want := nftRules(t, ip, eth0.bridge)
	var got []string
	for _, r := range k.Firewall {
		got = append(got, fmt.Sprintf("%s %d %s", r.Chain, r.Handle, r.Key))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) || !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "ports ") && strings.HasSuffix(s, " "+ip+":80") }) {
		t.Errorf("nftables rules %q, nft lists %q", got, want)
	}

	h.ok("run", "-d", "--name", "bare", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
		"--security-opt", "seccomp=unconfined", "--network", "none", "busybox", "sleep", "1000")
	bpid := pidOf(t, h, "bare")
	k = kernelOf(t, h, "bare")
	checkCommon(t, k, bpid)
	if eff := k.Capabilities["effective"]; !slices.Contains(eff, "CAP_NET_ADMIN") || slices.Contains(eff, "CAP_CHOWN") {
		t.Errorf("bare: effective %v", eff)
	}
	if k.Seccomp.Mode != "disabled" || k.Seccomp.Filters != 0 || len(k.Differs) != 0 {
		t.Errorf("bare: seccomp %+v, differs %q", k.Seccomp, k.Differs)
	}
	if len(k.Network) != 1 || k.Network[0].Name != "lo" {
		t.Errorf("bare (--network none): %+v", k.Network)
	}

	h.ok("run", "-d", "--name", "joiner", "--pid", "container:limited", "busybox", "sleep", "1000")
	jpid := pidOf(t, h, "joiner")
	k = kernelOf(t, h, "joiner")
	checkCommon(t, k, jpid)
	if ns := k.Namespaces["pid"]; ns.Inode != nsInode(t, pid, "pid") || !slices.Contains(ns.SharedWith, "limited") || ns.Owned || len(k.Differs) != 0 {
		t.Errorf("joiner: pid namespace %+v (limited's is %d), differs %q", ns, nsInode(t, pid, "pid"), k.Differs)
	}
	if ns := kernelOf(t, h, "limited").Namespaces["pid"]; !slices.Contains(ns.SharedWith, "joiner") {
		t.Errorf("limited: pid namespace not shared with joiner: %+v", ns)
	}

	h.ok("pod", "create", "--name", "kpod")
	t.Cleanup(func() { h.run("pod", "rm", "-f", "kpod") })
	h.ok("run", "-d", "--name", "podded", "--pod", "kpod", "busybox", "sleep", "1000")
	ppid := pidOf(t, h, "podded")
	k = kernelOf(t, h, "podded")
	checkCommon(t, k, ppid)
	for _, name := range []string{"net", "ipc", "uts"} {
		if ns := k.Namespaces[name]; !slices.Contains(ns.SharedWith, "pod:kpod") || ns.Owned {
			t.Errorf("podded: %s namespace %+v, want it the pod's", name, ns)
		}
	}
	if len(k.Differs) != 0 {
		t.Errorf("podded: differs %q", k.Differs)
	}

	// Behind hull's back: the kernel's value is what inspect shows, and the
	// difference from the spec is said.
	pidsDir := ""
	for _, g := range kernelOf(t, h, "limited").Cgroups {
		if _, ok := g.Files["pids.max"]; ok {
			pidsDir = g.Dir
		}
	}
	if err := os.WriteFile(filepath.Join(pidsDir, "pids.max"), []byte("33"), 0); err != nil {
		t.Fatal(err)
	}
	if got := hostCgroupFile(t, pid, "pids", "pids.max", "pids.max"); got != "33" {
		t.Fatalf("pids.max written to %s, the container's reads %s", pidsDir, got)
	}
	k = kernelOf(t, h, "limited")
	if len(k.Differs) != 1 || k.Differs[0] != "pids limit: the spec has 50, the kernel 33" {
		t.Errorf("after pids.max=33: differs %q", k.Differs)
	}

	if _, stderr, code := h.run("inspect", "--kernel", "nosuch"); code == 0 || !strings.Contains(stderr, "nosuch") {
		t.Errorf("inspect --kernel nosuch: exit %d, %q", code, stderr)
	}
	h.ok("stop", "-t", "0", "bare")
	if _, stderr, code := h.run("inspect", "--kernel", "bare"); code == 0 || !strings.Contains(stderr, "container bare is not running") {
		t.Errorf("inspect --kernel of a stopped container: exit %d, %q", code, stderr)
	}
}
