// Package testutil holds what hull's integration tests share: the root check, the
// leak check every integration package runs from TestMain, and a busybox rootfs.
package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/proc"
)

// RequireRoot skips t unless the test runs as root. In CI the tests run as root, so
// nothing that needs the kernel is skipped there.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// IsRoot tells whether the tests run as root.
func IsRoot() bool { return os.Geteuid() == 0 }

// Busybox is the static busybox the test rootfs is built from (Debian's busybox-static).
const Busybox = "/bin/busybox"

// BusyboxRootfs fills dir with a minimal rootfs: /bin/busybox, a symlink per applet
// and the empty directories a container expects. It fails the test when busybox is not
// a static binary, since a dynamic one would not run inside the rootfs.
func BusyboxRootfs(t testing.TB, dir string) {
	t.Helper()
	if err := MakeBusyboxRootfs(dir); err != nil {
		t.Fatal(err)
	}
}

// MakeBusyboxRootfs is BusyboxRootfs for callers without a testing.TB.
func MakeBusyboxRootfs(dir string) error {
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "tmp", "root", "run", "var", "usr/bin", "usr/sbin", "sbin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	data, err := os.ReadFile(Busybox)
	if err != nil {
		return fmt.Errorf("busybox-static is needed for test rootfs: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		p := filepath.Join(dir, "bin", applet)
		if err := os.Symlink("busybox", p); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot is the part of the host's state a test can leak: mounts, cgroups, links,
// network namespaces, nftables tables, processes, and the default state
// directories of hull and the runtimes (a fresh machine has none).
type Snapshot struct {
	Mounts    map[string]bool
	Cgroups   map[string]bool
	Links     map[string]bool
	Netns     map[string]bool
	NftTables map[string]bool
	Procs     map[string]bool
	State     map[string]bool
}

// Take reads the host's state now.
func Take() Snapshot {
	return Snapshot{
		Mounts:    mounts(),
		Cgroups:   cgroupDirs(),
		Links:     entries("/sys/class/net"),
		Netns:     entries("/run/netns"),
		NftTables: nftTables(),
		Procs:     procs(),
		State:     existing(stateDirs),
	}
}

// Leaks lists, one line each, what is in after and not in before.
func Leaks(before, after Snapshot) []string {
	var out []string
	diff := func(kind string, a, b map[string]bool) {
		for k := range b {
			if !a[k] {
				out = append(out, kind+": "+k)
			}
		}
	}
	diff("mount", before.Mounts, after.Mounts)
	diff("cgroup", before.Cgroups, after.Cgroups)
	diff("link", before.Links, after.Links)
	diff("netns", before.Netns, after.Netns)
	diff("nftables table", before.NftTables, after.NftTables)
	diff("process", before.Procs, after.Procs)
	diff("state directory", before.State, after.State)
	sort.Strings(out)
	return out
}

// Main runs the package's tests and then the leak check; use it as
//
//	func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
//
// A leak fails the package even when every test passed.
func Main(m *testing.M) int {
	before := Take()
	code := m.Run()
	// HULL_LEAKCHECK=0 turns the check off for a developer who runs several
	// packages' tests at once by hand; `make test` and CI always check.
	if !IsRoot() || os.Getenv("HULL_LEAKCHECK") == "0" {
		return code
	}
	if leaks := Leaks(before, Take()); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "leak check: the tests left %d things behind:\n  %s\n", len(leaks), strings.Join(leaks, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	return code
}

// stateDirs are the default state directories of hull, hullrt and the peers the
// tests drive: a fresh machine has none of them, and a test that makes one (a
// command run without --root, a peer that passes its runtime none) leaves state a
// user's machine would not have.
var stateDirs = []string{"/var/lib/hull", "/run/hull", "/run/hullrt", "/run/runc", "/run/crun", "/run/netns"}

// existing lists the paths of paths that exist.
func existing(paths []string) map[string]bool {
	set := map[string]bool{}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			set[p] = true
		}
	}
	return set
}

func mounts() map[string]bool {
	set := map[string]bool{}
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 {
			set[f[4]] = true
		}
	}
	return set
}

func cgroupDirs() map[string]bool {
	set := map[string]bool{}
	root := "/sys/fs/cgroup"
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.Count(rel, "/") > 6 {
			return filepath.SkipDir
		}
		set[rel] = true
		return nil
	})
	return set
}

// entries lists the names in dir.
func entries(dir string) map[string]bool {
	set := map[string]bool{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		set[e.Name()] = true
	}
	return set
}

func nftTables() map[string]bool {
	set := map[string]bool{}
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		return set
	}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			set[l] = true
		}
	}
	return set
}

// procs lists processes that belong to hull's tests: anything running hull, hullrt,
// hull-monitor or a test binary, and anything whose root is not the host's (a container's process).
func procs() map[string]bool {
	set := map[string]bool{}
	// A zombie is its parent's business, and the parent is checked.
	for _, p := range Processes() {
		pid := strconv.Itoa(p.Pid)
		exe, _ := os.Readlink("/proc/" + pid + "/exe")
		root, _ := os.Readlink("/proc/" + pid + "/root")
		base := filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
		ours := base == "hull" || base == "hullrt" || base == "hull-monitor" ||
			strings.HasPrefix(exe, "/memfd:") || (root != "" && root != "/")
		if ours {
			set[pid+" "+p.Cmdline()] = true
		}
	}
	return set
}

// Process is a live process as the tests see it: its pid and arguments.
type Process struct {
	Pid  int
	Argv []string
}

// Cmdline is the process's arguments joined by spaces.
func (p Process) Cmdline() string { return strings.Join(p.Argv, " ") }

// Processes lists the live processes but this one: no zombies, no kernel
// threads. A process whose exec has released its parent (which goes on, as rm
// does once it has started its deleter) reads an empty command line until the
// kernel has set up its arguments; that one is read again, for up to 100 ms,
// so that a scan right after its parent ended does not take it for nobody's.
func Processes() []Process {
	var out []Process
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		st, err := proc.ReadStat(pid)
		if err != nil || st.Exited() || st.Flags&proc.PFKthread != 0 {
			continue
		}
		name := "/proc/" + e.Name() + "/cmdline"
		cmd, err := os.ReadFile(name)
		for try := 0; err == nil && len(cmd) == 0 && try < 100; try++ {
			time.Sleep(time.Millisecond)
			cmd, err = os.ReadFile(name)
		}
		if err != nil {
			continue // gone
		}
		out = append(out, Process{Pid: pid, Argv: strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")})
	}
	return out
}

// ProcWhere says where process pid is: its command line, state and wait
// channel, and each thread's kernel stack, for a test that gives up waiting
// for it to end.
func ProcWhere(pid int) string {
	dir := fmt.Sprintf("/proc/%d", pid)
	var b strings.Builder
	cmdline, _ := os.ReadFile(dir + "/cmdline")
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	status, _ := os.ReadFile(dir + "/status")
	state := ""
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "State:"); ok {
			state = strings.TrimSpace(v)
		}
	}
	wchan, _ := os.ReadFile(dir + "/wchan")
	fmt.Fprintf(&b, "pid %d %s wchan %s: %s\n", pid, state, wchan, Process{pid, argv}.Cmdline())
	tasks, _ := os.ReadDir(dir + "/task")
	for _, task := range tasks {
		stack, _ := os.ReadFile(dir + "/task/" + task.Name() + "/stack")
		for _, l := range strings.Split(strings.TrimSpace(string(stack)), "\n") {
			if l != "" {
				fmt.Fprintf(&b, "    %s %s\n", task.Name(), l)
			}
		}
	}
	return b.String()
}
