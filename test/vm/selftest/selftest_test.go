package selftest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const cgroup2Magic = 0x63677270 // CGROUP2_SUPER_MAGIC

func requireVM(t *testing.T) {
	t.Helper()
	if os.Getenv("HULL_VM") != "1" {
		t.Skip("runs only in the cgroup v2 test VM (make test-cgroupv2)")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatalf("write %q to %s: %v", data, path, err)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestCgroup2Only(t *testing.T) {
	requireVM(t)
	var st syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != cgroup2Magic {
		t.Fatalf("/sys/fs/cgroup: filesystem magic %#x, want cgroup2 %#x", st.Type, cgroup2Magic)
	}
	if got := readFile(t, "/proc/self/cgroup"); got != "0::/" {
		t.Fatalf("/proc/self/cgroup = %q, want only the v2 line 0::/", got)
	}
	// cgroup_no_v1=all: a v1 hierarchy must not mount.
	dir := t.TempDir()
	if err := syscall.Mount("cgroup", dir, "cgroup", 0, "memory"); err == nil {
		syscall.Unmount(dir, 0)
		t.Fatal("mounting a cgroup v1 memory hierarchy worked; want it disabled")
	}
	ctrls := strings.Fields(readFile(t, "/sys/fs/cgroup/cgroup.controllers"))
	for _, want := range []string{"cpu", "memory", "pids", "io", "cpuset"} {
		if !contains(ctrls, want) {
			t.Errorf("cgroup.controllers %v lacks %s", ctrls, want)
		}
	}
	t.Logf("controllers: %v", ctrls)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestCgroup2Limits makes a cgroup tree with memory and pids delegated, moves a
// process in, and starts one straight into a cgroup (CLONE_INTO_CGROUP) whose
// memory.max is small enough to OOM-kill it.
func TestCgroup2Limits(t *testing.T) {
	requireVM(t)
	const root = "/sys/fs/cgroup"
	sub := strings.Fields(readFile(t, root+"/cgroup.subtree_control"))
	for _, c := range []string{"memory", "pids"} {
		if !contains(sub, c) {
			writeFile(t, root+"/cgroup.subtree_control", "+"+c)
		}
	}
	parent := filepath.Join(root, "hull-selftest-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroupTree(t, parent) })
	writeFile(t, parent+"/cgroup.subtree_control", "+memory +pids")
	leaf := filepath.Join(parent, "leaf")
	if err := os.Mkdir(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"memory.max", "pids.max", "memory.events", "cgroup.procs"} {
		if _, err := os.Stat(filepath.Join(leaf, f)); err != nil {
			t.Fatalf("leaf cgroup lacks %s: %v", f, err)
		}
	}
	writeFile(t, leaf+"/memory.max", "67108864")
	writeFile(t, leaf+"/pids.max", "16")
	if got := readFile(t, leaf+"/memory.max"); got != "67108864" {
		t.Fatalf("memory.max = %q", got)
	}

	// Move a running process in.
	sleep := exec.Command("/bin/busybox", "sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	writeFile(t, leaf+"/cgroup.procs", strconv.Itoa(sleep.Process.Pid))
	rel := strings.TrimPrefix(leaf, root)
	if got := readFile(t, "/proc/"+strconv.Itoa(sleep.Process.Pid)+"/cgroup"); got != "0::"+rel {
		t.Fatalf("moved process is in %q, want 0::%s", got, rel)
	}
	if got := readFile(t, leaf+"/pids.current"); got != "1" {
		t.Errorf("pids.current = %s, want 1", got)
	}
	sleep.Process.Kill()
	sleep.Wait()

	// A child born into a cgroup with memory.max 8M that touches 64M is OOM-killed.
	oom := filepath.Join(parent, "oom")
	if err := os.Mkdir(oom, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, oom+"/memory.max", "8388608")
	writeFile(t, oom+"/memory.swap.max", "0")
	fd, err := syscall.Open(oom, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	hog := exec.Command(os.Args[0], "-test.run=^TestHelperHog$")
	hog.Env = append(os.Environ(), "HULL_SELFTEST_HOG=1")
	hog.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	out, err := hog.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("memory hog: want it killed, got err %v, output %s", err, out)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("memory hog ended with %v, want SIGKILL by the OOM killer; output %s", ws, out)
	}
	events := readFile(t, oom+"/memory.events")
	if !strings.Contains(events, "oom_kill 1") {
		t.Fatalf("memory.events has no oom_kill: %s", events)
	}
}

// TestHelperHog is the memory hog of TestCgroup2Limits, not a test.
func TestHelperHog(t *testing.T) {
	if os.Getenv("HULL_SELFTEST_HOG") != "1" {
		t.Skip("helper")
	}
	var keep [][]byte
	for i := 0; i < 64; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(j)
		}
		keep = append(keep, b)
	}
	t.Logf("allocated %d MiB without being killed", len(keep))
}

func removeCgroupTree(t *testing.T, dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(t, filepath.Join(dir, e.Name()))
		}
	}
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("remove cgroup %s: %v", dir, err)
}

func TestOverlay(t *testing.T) {
	requireVM(t)
	if !strings.Contains(readFile(t, "/proc/filesystems"), "\toverlay") {
		t.Fatal("overlay is not in /proc/filesystems")
	}
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, dir+"/lower/a", "lower")
	opts := "lowerdir=" + dir + "/lower,upperdir=" + dir + "/upper,workdir=" + dir + "/work"
	if err := syscall.Mount("overlay", dir+"/merged", "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	defer syscall.Unmount(dir+"/merged", 0)
	if got := readFile(t, dir+"/merged/a"); got != "lower" {
		t.Fatalf("merged/a = %q", got)
	}
	writeFile(t, dir+"/merged/a", "upper")
	if got := readFile(t, dir+"/upper/a"); got != "upper" {
		t.Fatalf("copy-up: upper/a = %q", got)
	}
	if got := readFile(t, dir+"/lower/a"); got != "lower" {
		t.Fatalf("lower changed: %q", got)
	}
}

func TestVethBridge(t *testing.T) {
	requireVM(t)
	// busybox ip ignores "peer name", so the peer gets the kernel's default vethN name.
	run(t, "ip", "link", "add", "hsbr0", "type", "bridge")
	defer exec.Command("ip", "link", "del", "hsbr0").Run()
	run(t, "ip", "link", "add", "hsv0", "type", "veth")
	defer exec.Command("ip", "link", "del", "hsv0").Run()
	run(t, "ip", "link", "set", "hsv0", "master", "hsbr0")
	run(t, "ip", "link", "set", "hsbr0", "up")
	run(t, "ip", "addr", "add", "10.199.0.1/24", "dev", "hsbr0")
	if _, err := os.Stat("/sys/class/net/hsbr0/brif/hsv0"); err != nil {
		t.Fatalf("veth is not a bridge port: %v", err)
	}
	t.Log(run(t, "ip", "-o", "link", "show"))
}

func TestTun(t *testing.T) {
	requireVM(t)
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestNFTables checks the nf_tables modules are loaded and that the kernel answers a
// table dump over NETLINK_NETFILTER.
func TestNFTables(t *testing.T) {
	requireVM(t)
	for _, m := range []string{"nf_tables", "nft_chain_nat", "nft_nat", "nft_masq", "nf_nat", "nf_conntrack", "nft_ct", "veth", "bridge", "overlay"} {
		if _, err := os.Stat("/sys/module/" + m); err != nil {
			t.Errorf("module %s not loaded", m)
		}
	}
	const (
		netlinkNetfilter = 12
		nfnlSubsysNFT    = 10
		nftMsgGetTable   = 1
	)
	s, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkNetfilter)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(s)
	if err := syscall.Bind(s, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	var msg bytes.Buffer
	binary.Write(&msg, binary.NativeEndian, syscall.NlMsghdr{
		Len:   syscall.NLMSG_HDRLEN + 4,
		Type:  nfnlSubsysNFT<<8 | nftMsgGetTable,
		Flags: syscall.NLM_F_REQUEST | syscall.NLM_F_DUMP,
		Seq:   1,
	})
	msg.Write([]byte{syscall.AF_UNSPEC, 0, 0, 0}) // nfgenmsg
	if err := syscall.Sendto(s, msg.Bytes(), 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	for {
		n, _, err := syscall.Recvfrom(s, buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return
			case syscall.NLMSG_ERROR:
				code := int32(binary.NativeEndian.Uint32(m.Data[:4]))
				t.Fatalf("nf_tables table dump: errno %d", -code)
			}
		}
	}
}
