package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inspect of several containers in one command (one census of the records) shows
// each one's namespaces as inspect of it alone does, and as /proc has them: with
// whom each namespace is shared, read from the inodes of every running
// container's namespaces and hull's own ("host").
func TestInspectManyNamespaces(t *testing.T) {
	h := newHullEnv(t, "hull")
	names := []string{"x", "y", "z", "w"}
	h.ok("run", "-d", "--network", "none", "--name", "x", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--network", "none", "--name", "y", "--pid", "container:x", "--uts", "host", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--network", "none", "--name", "z", "--ipc", "container:x", "busybox", "sleep", "1000")
	h.ok("run", "-d", "--network", "none", "--name", "w", "--uts", "host", "--cgroupns", "host", "busybox", "sleep", "1000")
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
	if len(all) != 5 || all[4].Namespaces != nil {
		t.Fatalf("inspect of 5: %d objects, the created one's namespaces %v", len(all), all[len(all)-1].Namespaces)
	}
	all = all[:4]
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
				want = append(want, "host")
			}
			for _, o := range all {
				if o.Name != c.Name && ino(o.State.Pid, ns) == mine {
					want = append(want, strings.TrimPrefix(o.Name, "/"))
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
	if s := all[0].Namespaces["ipc"].SharedWith; !slices.Equal(s, []string{"z"}) {
		t.Errorf("x's ipc namespace shared with %v", s)
	}
	if s := all[3].Namespaces["uts"].SharedWith; !slices.Equal(s, []string{"host", "y"}) {
		t.Errorf("w's uts namespace shared with %v", s)
	}
}

// With many containers listed and compared at once (List and the census read them
// several at a time), one whose monitor and process were killed shows as exited in
// ps, and in no running container's namespaces.
func TestListTruthfulMany(t *testing.T) {
	h := newHullEnv(t, "hull")
	var names []string
	for i := range 6 {
		names = append(names, fmt.Sprintf("m%d", i))
		h.ok("run", "-d", "--network", "none", "--name", names[i], "busybox", "sleep", "1000")
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
	out := h.ok("inspect", "-f", "{{json .Namespaces.user.SharedWith}}", "m0", "m5")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var with []string
		if err := json.Unmarshal([]byte(line), &with); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(with, "m3") || len(with) != 5 { // host and 4 others
			t.Errorf("user namespace shared with %v", with)
		}
	}
}
