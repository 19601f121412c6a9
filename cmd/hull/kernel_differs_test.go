package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hullproject/hull/internal/proc"
)

// hostCgroupDir is the directory of process pid's cgroup with controller, and
// whether it is on a v1 hierarchy (else the cgroup2 one), as the test reads
// /proc/PID/cgroup itself.
func hostCgroupDir(t *testing.T, pid int, controller string) (string, bool) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var v2 string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		switch {
		case len(parts) != 3:
		case slices.Contains(strings.Split(parts[1], ","), controller):
			return filepath.Join("/sys/fs/cgroup", parts[1], parts[2]), true
		case parts[1] == "":
			v2 = parts[2]
		}
	}
	// hybrid hosts mount cgroup2 at unified/
	for _, root := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
			return filepath.Join(root, v2), false
		}
	}
	t.Fatalf("no cgroup with %s for %d", controller, pid)
	return "", false
}

func writeFile(t *testing.T, path, value string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInspectKernelDiffers: inspect --kernel compares CPU limits (quota and
// period, shares or weight, cpuset), the device rules (where the kernel shows
// them: v1's devices.list) and the mounts with the spec. A container made with
// --cpus, --cpuset-cpus, --cpu-shares, --device and -v agrees with its spec; once
// the test changes each behind hull's back (the cgroup files, a mount taken away
// and one added in the container's mount namespace), each difference is listed.
func TestInspectKernelDiffers(t *testing.T) {
	h := netEnv(t, "hull")
	data := t.TempDir()
	h.ok("run", "-d", "--name", "cpus", "--cpus", "0.5", "--cpuset-cpus", "0", "--cpu-shares", "512",
		"--device", "/dev/zero:/dev/xzero", "-v", data+":/data", "busybox", "sleep", "1000")
	pid := pidOf(t, h, "cpus")
	k := kernelOf(t, h, "cpus")
	if len(k.Differs) != 0 {
		t.Fatalf("a container as made differs from its spec: %q", k.Differs)
	}
	cpuDir, cpuV1 := hostCgroupDir(t, pid, "cpu")
	cpusetDir, _ := hostCgroupDir(t, pid, "cpuset")
	devDir, devV1 := hostCgroupDir(t, pid, "devices")
	if cpuV1 {
		if q := hostCgroupFile(t, pid, "cpu", "cpu.cfs_quota_us", ""); q != "50000" {
			t.Fatalf("cpu.cfs_quota_us is %q", q)
		}
	} else if q := hostCgroupFile(t, pid, "cpu", "", "cpu.max"); q != "50000 100000" {
		t.Fatalf("cpu.max is %q", q)
	}
	if !slices.ContainsFunc(k.Mounts, func(m proc.Mount) bool { return m.Point == "/data" }) {
		t.Fatalf("no /data in the Kernel section's mounts: %+v", k.Mounts)
	}

	want := []string{"cpu quota", "cpu shares", "mount /data (bind from " + data + "): in the spec, not in the container's mount table",
		"mount /extra (tmpfs from extra): in the container's mount table, not in the spec"}
	if cpuV1 {
		writeFile(t, filepath.Join(cpuDir, "cpu.cfs_quota_us"), "100000")
		writeFile(t, filepath.Join(cpuDir, "cpu.shares"), "2048")
	} else {
		writeFile(t, filepath.Join(cpuDir, "cpu.max"), "100000 100000")
		writeFile(t, filepath.Join(cpuDir, "cpu.weight"), "500")
		want[1] = "cpu weight"
	}
	if runtime.NumCPU() > 1 {
		writeFile(t, filepath.Join(cpusetDir, "cpuset.cpus"), "0-1")
		want = append(want, "cpuset.cpus: the spec has 0, the kernel 0-1")
	}
	if devV1 {
		// /dev/zero (c 1:5) loses write
		writeFile(t, filepath.Join(devDir, "devices.deny"), "c 1:5 w")
		want = append(want, "devices allowed (devices.list): the spec has [c 1:5 rwm], the kernel [c 1:5 rm] instead")
	}
	for _, args := range [][]string{{"umount", "/data"}, {"mkdir", "/extra"}, {"mount", "-t", "tmpfs", "extra", "/extra"}} {
		// nsenter -m: the container's mount namespace and its root; the
		// commands are the container's own
		if out, err := exec.Command("nsenter", append([]string{"-t", fmt.Sprint(pid), "-m"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("nsenter %s: %v: %s", args, err, out)
		}
	}
	k = kernelOf(t, h, "cpus")
	for _, w := range want {
		if !slices.ContainsFunc(k.Differs, func(d string) bool { return strings.HasPrefix(d, w) }) {
			t.Errorf("no difference %q listed in %q", w, k.Differs)
		}
	}
	if len(k.Differs) != len(want) {
		t.Errorf("%d differences listed, %d made: %q", len(k.Differs), len(want), k.Differs)
	}
}
