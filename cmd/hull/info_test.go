package main

import (
	"os"
	"strings"
	"testing"
)

// TestInfoCgroupVersion: hull info names the host's cgroup version as the mounts
// say it: v2 where cgroup2 is mounted at /sys/fs/cgroup (the test VM), v1 (hybrid)
// otherwise (this host: v1 controllers, cgroup2 at /sys/fs/cgroup/unified).
func TestInfoCgroupVersion(t *testing.T) {
	h := newHullEnv(t, "hull")
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	want := "v1 (hybrid)"
	for _, line := range strings.Split(string(mounts), "\n") {
		// ... mount-point ... - fstype source options
		f := strings.Fields(line)
		if i := strings.Index(line, " - "); len(f) > 4 && i > 0 && f[4] == "/sys/fs/cgroup" {
			if fs := strings.Fields(line[i+3:]); len(fs) > 0 && fs[0] == "cgroup2" {
				want = "v2"
			}
		}
	}
	out := h.ok("info")
	if !strings.Contains(out, "\nCgroup version: "+want+"\n") {
		t.Errorf("hull info, want Cgroup version: %s:\n%s", want, out)
	}
}
