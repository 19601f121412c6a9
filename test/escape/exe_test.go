package escape_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestOverwriteRuntimeBinary is CVE-2019-5736: a process in the container opens
// /proc/PID/exe of every process it sees for writing -- directly, and by reopening
// an O_PATH descriptor through /proc/self/fd once the binary is no longer busy --
// while the test starts several execs into the container, so that the runtime's
// own process shows up inside. Half of the execs run /evil, a script whose
// interpreter is "#!/proc/self/exe": the kernel resolves that in the process that
// execs it, so the runtime runs its own binary again, now with the container's
// credentials, where the attack can open it (the CVE's trick). The runtime binary
// on the host must stay byte-identical with the same mtime (guardHost checks
// sha256, mode and mtime), and the attack must not have written to any runtime's
// binary.
//
// The attacker is the container's init ("run") or an exec'd process ("exec").
func TestOverwriteRuntimeBinary(t *testing.T) {
	const attackFor = 3 * time.Second
	eachRuntime(t, func(t *testing.T, r *rt) {
		t.Run("run", func(t *testing.T) {
			r := r.sub(t)
			id, out := r.start(r.bundle([]string{"/attack", "exeattack", attackFor.String()}, evilScript(t)))
			execStorm(t, r, id, attackFor)
			r.waitStopped(id, attackFor+10*time.Second)
			checkExeAttack(t, r, readFile(t, out.Name()))
		})
		t.Run("exec", func(t *testing.T) {
			r := r.sub(t)
			id, _ := r.start(r.bundle([]string{"/attack", "sleep"}, evilScript(t)))
			out := r.tempFile()
			if code := r.runWith(out, out, "exec", "-d", id, "/attack", "exeattack", attackFor.String()); code != 0 {
				t.Fatalf("exec -d: exit %d: %s", code, readFile(t, out.Name()))
			}
			execStorm(t, r, id, attackFor)
			var res string
			for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				if res = readFile(t, out.Name()); strings.Contains(res, "written=") {
					break
				}
			}
			checkExeAttack(t, r, res)
		})
	})
}

// evilScript puts /evil into the rootfs: a script run by the runtime's own binary.
func evilScript(t *testing.T) func(*specs.Spec, string) {
	return func(_ *specs.Spec, rootfs string) {
		if err := os.WriteFile(filepath.Join(rootfs, "evil"), []byte("#!/proc/self/exe\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// execStorm runs short execs into the container for about d, of /bin/true and of
// /evil (which fails: the runtime's binary does not know the command "/evil").
func execStorm(t *testing.T, r *rt, id string, d time.Duration) {
	t.Helper()
	n := 0
	for end := time.Now().Add(d - 500*time.Millisecond); time.Now().Before(end) || n < 4; n++ {
		if n%2 == 1 {
			r.run("exec", id, "/evil")
			continue
		}
		if _, stderr, code := r.run("exec", id, "/bin/true"); code != 0 {
			t.Errorf("exec %d: exit %d: %s", n, code, stderr)
		}
	}
	t.Logf("%d execs during the attack", n)
}

func checkExeAttack(t *testing.T, r *rt, out string) {
	t.Helper()
	kv := keyValues(out)
	if _, ok := kv["written"]; !ok {
		t.Fatalf("the attack did not finish: %q", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if target, ok := strings.CutPrefix(l, "wrote "); ok {
			t.Errorf("the attack wrote to %s", target)
		}
	}
	seen, _ := strconv.Atoi(kv["seen"])
	t.Logf("%s: the attack saw %s runtime processes it could not inspect and %d whose binary it could open, opened %s for writing, wrote %s",
		r.name, kv["visible"], seen, kv["opened"], kv["written"])
	for _, l := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(l, "saw "); ok {
			t.Logf("  saw %s", s)
		}
	}
	if seen == 0 {
		// Not a failure of the defence, but then the run proved nothing.
		t.Logf("warning: the attack never caught a runtime process inside the container")
	}
}
