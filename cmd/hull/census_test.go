package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inspect of several containers in one command (one census of the records) shows
// each one's namespaces as inspect of it alone does, and as /proc has them: with
// whom each namespace is shared, read from the inodes of every running
// container's namespaces and hull's own, where a namespace that is the host's
// shows "host" alone (the others on the host's are not enumerated), and a
// namespace joined through another joiner (v joined z, which joined x) is found.
func TestInspectManyNamespaces(t *testing.T) {
	h := newHullEnv(t, "hull")
	names := []string{"x", "y", "z", "w", "v"}
	h.ok("run", "-d", "--network", "none", "--name", "x", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--network", "none", "--name", "y", "--pid", "container:x", "--uts", "host", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--network", "none", "--name", "z", "--ipc", "container:x", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--network", "none", "--name", "w", "--uts", "host", "--cgroupns", "host", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--network", "none", "--name", "v", "--ipc", "container:z", "busybox", "sleep", "1000")
	h.ok("create", "--network", "none", "--name", "c", "busybox", "true") // not running: in no one's list

	type info struct {
		Inode      uint64
		Owned      bool
		SharedWith []string
	}
	var all []struct {
		Name       string
		State      struct{ Pid int }
		Namespaces map[string]info
	}
	if err := json.Unmarshal([]byte(h.ok(append([]string{"inspect"}, append(names, "c")...)...)), &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 || all[5].Namespaces != nil {
		t.Fatalf("inspect of 6: %d objects, the created one's namespaces %v", len(all), all[len(all)-1].Namespaces)
	}
	all = all[:5]
	ino := func(pid int, ns string) uint64 {
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, ns), &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	for i, c := range all {
		if c.Name != "/"+names[i] {
			t.Fatalf("object %d is %s, want %s", i, c.Name, names[i])
		}
		var alone []struct{ Namespaces map[string]info }
		if err := json.Unmarshal([]byte(h.ok("inspect", names[i])), &alone); err != nil {
			t.Fatal(err)
		}
		if a, b := fmt.Sprint(alone[0].Namespaces), fmt.Sprint(c.Namespaces); a != b {
			t.Errorf("%s alone: %s\nwith the others: %s", names[i], a, b)
		}
		for _, ns := range []string{"pid", "ipc", "uts", "net", "cgroup", "mnt", "user"} {
			mine := ino(c.State.Pid, ns)
			var want []string
			if ino(os.Getpid(), ns) == mine {
				want = append(want, "host") // and no one else
			} else {
				for _, o := range all {
					if o.Name != c.Name && ino(o.State.Pid, ns) == mine {
						want = append(want, strings.TrimPrefix(o.Name, "/"))
					}
				}
			}
			slices.Sort(want)
			got := c.Namespaces[ns]
			if got.Inode != mine || strconv.Quote(strings.Join(got.SharedWith, ",")) != strconv.Quote(strings.Join(want, ",")) {
				t.Errorf("%s's %s: inode %d shared with %v; /proc: %d shared with %v", names[i], ns, got.Inode, got.SharedWith, mine, want)
			}
		}
	}
	// the joins as set up, lest the test compare nothing
	if s := all[1].Namespaces["pid"].SharedWith; !slices.Equal(s, []string{"x"}) {
		t.Errorf("y's pid namespace shared with %v", s)
	}
	if s := all[0].Namespaces["ipc"].SharedWith; !slices.Equal(s, []string{"v", "z"}) {
		t.Errorf("x's ipc namespace shared with %v", s)
	}
	if s := all[4].Namespaces["ipc"].SharedWith; !slices.Equal(s, []string{"x", "z"}) {
		t.Errorf("v's ipc namespace shared with %v", s)
	}
	for i, c := range all {
		if s := c.Namespaces["user"].SharedWith; !slices.Equal(s, []string{"host"}) {
			t.Errorf("%s's user namespace shared with %v", names[i], s)
		}
	}
	if s := all[3].Namespaces["uts"].SharedWith; !slices.Equal(s, []string{"host"}) {
		t.Errorf("w's uts namespace shared with %v", s)
	}
}

// With many containers listed and compared at once (List and the census read them
// several at a time), one whose monitor and process were killed shows as exited in
// ps, and in no running container's namespaces: m1 ... m5 joined m0's ipc
// namespace, and m3 was killed.
func TestListTruthfulMany(t *testing.T) {
	h := newHullEnv(t, "hull")
	var names []string
	for i := range 6 {
		names = append(names, fmt.Sprintf("m%d", i))
		args := []string{"run", "-d", "--network", "none", "--name", names[i]}
		if i > 0 {
			args = append(args, "--ipc", "container:m0")
		}
		h.ok(append(args, "busybox", "sleep", "1000")...)
	}
	mon := int(h.record(h.inspect("m3", "{{.Id}}"))["State"].(map[string]any)["MonitorPid"].(float64))
	pid, _ := strconv.Atoi(h.inspect("m3", "{{.State.Pid}}"))
	if mon <= 0 || pid <= 0 {
		t.Fatalf("m3: monitor %d, pid %d", mon, pid)
	}
	unix.Kill(mon, unix.SIGKILL)
	unix.Kill(pid, unix.SIGKILL)
	waitGone(t, mon)
	waitGone(t, pid)
	if out := h.ok("ps", "--format", "{{.Names}}"); strings.Contains(out, "m3") || strings.Count(out, "\n") != 5 {
		t.Errorf("ps after m3 was killed:\n%s", out)
	}
	if out := h.ok("ps", "-a", "--format", "{{.Names}} {{.State}}"); !strings.Contains(out, "m3 exited\n") || strings.Count(out, "running") != 5 {
		t.Errorf("ps -a after m3 was killed:\n%s", out)
	}
	if got := h.inspect("m3", "{{.State.Status}}"); got != "exited" {
		t.Errorf("m3 inspected: %s", got)
	}
	out := h.ok("inspect", "-f", "{{json .Namespaces.ipc.SharedWith}} {{json .Namespaces.user.SharedWith}}", "m0", "m5")
	want := []string{`["m1","m2","m4","m5"] ["host"]`, `["m0","m1","m2","m4"] ["host"]`}
	if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
		t.Errorf("m0's and m5's ipc and user namespaces shared with\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// inspect finds who joined a container's namespaces by the join index
// (<root>/joins), and stays truthful when the index is stale or missing: a root
// whose index is gone (containers started by a hull without it) gets it built
// from the records, an entry whose joiner's record is gone (rm died half-way) is
// dropped, and a joiner whose process died is not listed.
func TestInspectJoinIndex(t *testing.T) {
	h := newHullEnv(t, "hull")
	h.ok("run", "-d", "--network", "none", "--name", "x", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--network", "none", "--name", "y", "--pid", "container:x", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--network", "none", "--name", "u", "busybox", "sleep", "1000") // joins no one
	x := h.inspect("x", "{{.Id}}")
	const pidOf = "{{json .Namespaces.pid.SharedWith}}"
	if got := h.inspect("x", pidOf); got != `["y"]` {
		t.Fatalf("x's pid namespace shared with %s", got)
	}
	if _, err := os.Stat(filepath.Join(h.root, "joins", x, h.inspect("y", "{{.Id}}"))); err != nil {
		t.Fatalf("y's entry under x's: %v", err)
	}
	// A root without the index: built again, y found.
	if err := os.RemoveAll(filepath.Join(h.root, "joins")); err != nil {
		t.Fatal(err)
	}
	if got := h.inspect("x", pidOf); got != `["y"]` {
		t.Errorf("without the index, x's pid namespace shared with %s", got)
	}
	// A stale entry (no record): not listed, and removed.
	stale := filepath.Join(h.root, "joins", x, strings.Repeat("ab", 32))
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// One that names a container that did not join x: not listed.
	if err := os.WriteFile(filepath.Join(h.root, "joins", x, h.inspect("u", "{{.Id}}")), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := h.inspect("x", pidOf); got != `["y"]` {
		t.Errorf("with stale entries, x's pid namespace shared with %s", got)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale entry: %v", err)
	}
	// y's process and monitor die: no longer listed.
	mon := int(h.record(h.inspect("y", "{{.Id}}"))["State"].(map[string]any)["MonitorPid"].(float64))
	pid, _ := strconv.Atoi(h.inspect("y", "{{.State.Pid}}"))
	unix.Kill(mon, unix.SIGKILL)
	unix.Kill(pid, unix.SIGKILL)
	waitGone(t, mon)
	waitGone(t, pid)
	if got := h.inspect("x", pidOf); got != `[]` {
		t.Errorf("after y was killed, x's pid namespace shared with %s", got)
	}
	// rm takes the entry, and the target's directory once empty, along.
	h.ok("rm", "-f", "y")
	if ents, err := os.ReadDir(filepath.Join(h.root, "joins")); err != nil || len(ents) != 0 {
		t.Errorf("join index after rm: %v %v", ents, err)
	}
}

// A name resolves through its hint (<root>/names) only while the record has that
// name: after a rename, and a new container taking the old name, each name gives
// its own container. (The names are not hex: "b" is also the prefix of an ID
// one time in sixteen, and a reference resolves ID prefixes, as docker's does.)
func TestNameHint(t *testing.T) {
	h := newHullEnv(t, "hull")
	h.ok("create", "--network", "none", "--name", "pa", "busybox", "true")
	first := h.inspect("pa", "{{.Id}}")
	if data, err := os.ReadFile(filepath.Join(h.root, "names", "pa")); err != nil || string(data) != first {
		t.Fatalf("hint of pa: %q %v", data, err)
	}
	h.ok("rename", "pa", "pb")
	h.ok("create", "--network", "none", "--name", "pa", "busybox", "true")
	second := h.ok("inspect", "-f", "{{.Id}}", "pa", "pb")
	if want := h.inspect("pa", "{{.Id}}") + "\n" + first + "\n"; second != want || strings.HasPrefix(second, first) {
		t.Errorf("inspect pa pb after the rename: %q, want %q", second, want)
	}
	h.ok("rm", "pb")
	if _, stderr, code := h.run("inspect", "pb"); code == 0 || !strings.Contains(stderr, "no such") {
		t.Errorf("inspect of removed pb: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(h.root, "names", "pb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("hint of removed pb: %v", err)
	}
}
