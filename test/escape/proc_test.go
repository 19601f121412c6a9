package escape_test

import (
	"os"
	"strings"
	"testing"
)

// TestProcSysAndMasks: the host-wide knobs under /proc cannot be written (they are
// read-only binds), the masked /proc and /sys entries read as empty, and a mask
// cannot be taken off. core_pattern is written with its current value, so a missing
// defence fails the test without changing the host.
func TestProcSysAndMasks(t *testing.T) {
	pattern := strings.TrimSuffix(readFile(t, "/proc/sys/kernel/core_pattern"), "\n")
	eachRuntime(t, func(t *testing.T, r *rt) {
		cases := [][]string{
			{"core_pattern", "write", "/proc/sys/kernel/core_pattern", pattern},
			{"keys", "read", "/proc/keys"},
			{"timer_list", "read", "/proc/timer_list"},
			{"acpi", "ls", "/proc/acpi"},
			{"firmware", "ls", "/sys/firmware"},
			{"umount_keys", "umount", "/proc/keys"},
			{"umount_proc_sys", "umount", "/proc/sys"},
			{"umount_firmware", "umount", "/sys/firmware"},
			{"keys_after_umount", "read", "/proc/keys"},
		}
		want := map[string]string{
			"core_pattern":      "errno=EROFS",
			"keys":              "bytes=0",
			"timer_list":        "bytes=0",
			"acpi":              "entries=0",
			"firmware":          "entries=0",
			"umount_keys":       "errno=EPERM",
			"umount_proc_sys":   "errno=EPERM",
			"umount_firmware":   "errno=EPERM",
			"keys_after_umount": "bytes=0",
		}
		// "h" (print help to the kernel log) is the harmless sysrq, should it get
		// through. This kernel may be built without sysrq.
		if _, err := os.Stat("/proc/sysrq-trigger"); err == nil {
			cases = append(cases, []string{"sysrq", "write", "/proc/sysrq-trigger", "h"})
			want["sysrq"] = "errno=EROFS"
		} else {
			t.Log("this kernel has no /proc/sysrq-trigger: not tested")
		}
		out, stderr, code := r.runFg(r.bundle(script(cases), nil))
		if code != 0 {
			t.Fatalf("run: exit %d: %s", code, stderr)
		}
		expect(t, results(out), want)
	})
}
