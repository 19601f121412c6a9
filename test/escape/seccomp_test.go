package escape_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestSeccompDefaultProfile: the system calls Docker's default profile refuses to a
// container with Docker's capabilities fail with EPERM, clone3 with ENOSYS (so a
// libc falls back to clone, which the profile filters by flags), as does a syscall
// newer than the profile (file_getattr, Linux 6.17, number 468), and a host process
// cannot be ptraced (it is not in the container's pid namespace: ESRCH). Each is
// tried from the container's init ("run") and from an exec'd process ("exec"); the
// process reports Seccomp: 2 (filter mode).
func TestSeccompDefaultProfile(t *testing.T) {
	host := exec.Command("sleep", "300")
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Process.Kill(); host.Wait() })
	hostPid := strconv.Itoa(host.Process.Pid)

	cases := [][]string{{"status", "status"}}
	want := map[string]string{}
	for _, c := range []string{"mount", "unshare-user", "keyctl", "bpf", "open_by_handle_at", "io_uring_setup",
		"init_module", "finit_module", "delete_module", "reboot", "kexec_load"} {
		cases = append(cases, []string{c, "syscall", c})
		want[c] = "errno=EPERM"
	}
	cases = append(cases, []string{"clone3", "syscall", "clone3"}, []string{"ptrace", "syscall", "ptrace", hostPid},
		[]string{"newer", "sys", "468", "0", "0", "0", "0", "0"})
	want["clone3"] = "errno=ENOSYS"
	want["newer"] = "errno=ENOSYS"
	want["ptrace"] = "errno=ESRCH"
	check := func(t *testing.T, out string) {
		t.Helper()
		got := results(out)
		expect(t, got, want)
		if !strings.Contains(got["status"]+" ", "Seccomp=2 ") {
			t.Errorf("the process is not under a seccomp filter: %s", got["status"])
		}
		if st, _ := os.ReadFile("/proc/" + hostPid + "/status"); !strings.Contains(string(st), "TracerPid:\t0\n") {
			t.Errorf("the host's sleep is being traced:\n%s", st)
		}
	}
	eachRuntime(t, func(t *testing.T, r *rt) {
		t.Run("run", func(t *testing.T) {
			r := r.sub(t)
			out, stderr, code := r.runFg(r.bundle(script(cases), nil))
			if code != 0 {
				t.Fatalf("run: exit %d: %s", code, stderr)
			}
			check(t, out)
		})
		t.Run("exec", func(t *testing.T) {
			r := r.sub(t)
			id, _ := r.start(r.bundle([]string{"/bin/sleep", "600"}, nil))
			out, stderr, code := r.run(append([]string{"exec", id}, script(cases)...)...)
			if code != 0 {
				t.Fatalf("exec: exit %d: %s", code, stderr)
			}
			check(t, out)
		})
	})
}
