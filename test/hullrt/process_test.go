package hullrt_test

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProcessFields sets every process field a container init takes and reads each
// back from inside, exactly: the program prints them and the test compares.
func TestProcessFields(t *testing.T) {
	e := newEnv(t)
	umask := uint32(0o027)
	adj := 321
	script := `echo "env $FOO|$BAR"
echo "cwd $(pwd)"
echo "id $(id -u) $(id -g) $(id -G)"
echo "umask $(umask)"
echo "nofile $(ulimit -n) $(ulimit -Hn)"
echo "limits $(grep 'Max open files' /proc/self/limits | tr -s ' ')"
echo "oom $(cat /proc/self/oom_score_adj)"
echo "host $(hostname) $(dnsdomainname 2>/dev/null || cat /proc/sys/kernel/domainname)"
echo "domain $(cat /proc/sys/kernel/domainname)"
grep -e ^Groups -e ^Cap -e ^NoNewPrivs /proc/self/status
touch /rootfs-write 2>/dev/null && echo "root writable" || echo "root readonly"
`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		p := s.Process
		p.Env = []string{"PATH=/bin", "FOO=foo value", "BAR="}
		p.Cwd = "/etc"
		p.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{2000, 3000}, Umask: &umask}
		p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024}}
		p.OOMScoreAdj = &adj
		p.NoNewPrivileges = true
		p.Capabilities = &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"},
			Effective:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
			Permitted:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
			Inheritable: []string{"CAP_NET_BIND_SERVICE", "CAP_SETUID"},
			Ambient:     []string{"CAP_NET_BIND_SERVICE"},
		}
		s.Hostname = "fields"
		s.Domainname = "example.test"
		s.Root.Readonly = true
	})
	out := e.runOut(b, cid("p1"))
	want := []string{
		"env foo value|",
		"cwd /etc",
		"id 1000 1001 1001 2000 3000",
		"umask 0027",
		"nofile 512 1024",
		"limits Max open files 512 1024 files ",
		"oom 321",
		"domain example.test",
		"Groups:\t2000 3000 ",
		// A non-root program keeps across execve exactly its ambient set, in
		// permitted and effective alike; inheritable and bounding stay as set.
		fmt.Sprintf("CapInh:\t%016x", capBits(t, "CAP_NET_BIND_SERVICE", "CAP_SETUID")),
		fmt.Sprintf("CapPrm:\t%016x", capBits(t, "CAP_NET_BIND_SERVICE")),
		fmt.Sprintf("CapEff:\t%016x", capBits(t, "CAP_NET_BIND_SERVICE")),
		fmt.Sprintf("CapBnd:\t%016x", capBits(t, "CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID")),
		fmt.Sprintf("CapAmb:\t%016x", capBits(t, "CAP_NET_BIND_SERVICE")),
		"NoNewPrivs:\t1",
		"root readonly",
	}
	have := map[string]bool{}
	for _, l := range lines(out) {
		have[l] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("missing %q in\n%s", w, out)
		}
	}
	if !strings.Contains(out, "host fields ") {
		t.Errorf("hostname: %s", out)
	}
}

// TestRootCapabilities: a root program gets at execve its bounding set (plus
// inheritable) as permitted and effective; the configured bounding set is exact.
func TestRootCapabilities(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", "grep -e ^Cap -e ^NoNewPrivs /proc/self/status"}, func(s *specs.Spec) {
		s.Process.NoNewPrivileges = false
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding:  []string{"CAP_CHOWN", "CAP_SYS_ADMIN"},
			Effective: []string{"CAP_CHOWN"}, Permitted: []string{"CAP_CHOWN"},
		}
	})
	out := e.runOut(b, cid("p2"))
	bnd := capBits(t, "CAP_CHOWN", "CAP_SYS_ADMIN")
	want := fmt.Sprintf("CapInh:\t%016x\nCapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\nNoNewPrivs:\t0\n", 0, bnd, bnd, bnd, 0)
	if out != want {
		t.Errorf("capabilities\n%s\nwant\n%s", out, want)
	}
}

// TestConsole runs a container on a terminal handed over through --console-socket:
// the size is the configured one, stdio is the pty, /dev/console is it too.
func TestConsole(t *testing.T) {
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", "stty size; tty; stat -c '%t:%T' /dev/console; stat -L -c '%t:%T' /proc/self/fd/0"}, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 111}
	})
	sock, masters := consoleSocket(t)
	e.must("create", "--bundle", b, "--console-socket", sock, cid("t1"))
	m, ok := <-masters
	if !ok {
		t.Fatal("no pty master received")
	}
	defer m.Close()
	e.must("start", cid("t1"))
	out := readMaster(t, m)
	l := lines(out)
	if len(l) != 4 || l[0] != "33 111" || l[1] != "/dev/pts/0" || l[2] != "88:0" || l[3] != "88:0" {
		t.Errorf("terminal output %q", out)
	}
	e.waitStatus(cid("t1"), "stopped")
	e.must("delete", cid("t1"))
}
