package hullrt_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// oldDockerProfile is testdata/seccomp-docker-19.03.json: Docker's default profile
// of the 19.03 line as dockerd hands it to the runtime for a default container on
// x86_64 (the includes and excludes resolved for Docker's default capabilities:
// chroot allowed, clone only without namespace flags, the CAP_SYS_ADMIN calls not at
// all). It predates Linux 5.9: no close_range, clone3, faccessat2, openat2, rseq or
// membarrier. With SCMP_ACT_ERRNO as its default, close_range gets ENOSYS (it is
// above the highest number the profile names, see the seccomp package).
func oldDockerProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	data, err := os.ReadFile("testdata/seccomp-docker-19.03.json")
	if err != nil {
		t.Fatal(err)
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// TestSeccompOldProfile: under a profile older than close_range, with and without
// no_new_privs (which decides whether the filter is loaded before or after init's
// last steps), the container runs, an exec'd process runs, and neither holds more
// than stdio. Three variants: the profile as Docker wrote it (close_range gets
// ENOSYS), one that names a syscall newer than close_range, as generators that know
// newer calls but not this one do (close_range falls to the default: EPERM, the
// error of the issue), and the same with a defaultErrnoRet of its own (EACCES).
func TestSeccompOldProfile(t *testing.T) {
	newer := func(t *testing.T, p *specs.LinuxSeccomp) {
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"epoll_pwait2"}, Action: specs.ActAllow})
	}
	variants := []struct {
		name  string
		edit  func(*testing.T, *specs.LinuxSeccomp)
		errno unix.Errno // what close_range gets in the container
	}{
		{"docker-19.03", func(*testing.T, *specs.LinuxSeccomp) {}, unix.ENOSYS},
		{"newer-names", newer, unix.EPERM},
		{"defaultErrnoRet", func(t *testing.T, p *specs.LinuxSeccomp) {
			newer(t, p)
			p.DefaultErrnoRet = uintp(uint(unix.EACCES))
		}, unix.EACCES},
	}
	for _, v := range variants {
		for _, nnp := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/nnp=%v", v.name, nnp), func(t *testing.T) {
				e := newEnv(t)
				rootfs := attackRootfs(t)
				sc := oldDockerProfile(t)
				v.edit(t, sc)
				profile := func(nnp bool) func(s *specs.Spec) {
					return func(s *specs.Spec) {
						s.Root.Path = rootfs
						s.Process.NoNewPrivileges = nnp
						s.Linux.Seccomp = sc
					}
				}
				// close_range(3, ~0, CLOSE_RANGE_CLOEXEC), as init would make it.
				probes := []probe{
					{"echo", "echo hello", "0 hello"},
					{"fds", "ls /proc/self/fd", "0 0 1 2 3"},
					{"close_range", "/attack sys " + strconv.Itoa(unix.SYS_CLOSE_RANGE) + " 3 4294967295 4", errno(v.errno)},
				}
				b := e.bundle(probeScript(probes), profile(nnp))
				if out, stderr, code := e.runIn(b, nil, "run", cid("sc-old")); code != 0 {
					t.Errorf("run: exit %d: %s", code, stderr)
				} else {
					checkProbes(t, out, probes)
				}

				// The exec'd process runs under a filter of its own, loaded by the
				// same steps; its no_new_privs is the process file's.
				id := cid("sc-old-exec")
				e.startDetached(e.bundle([]string{"sleep", "100"}, profile(true)), id)
				proc := specs.Process{Args: probeScript(probes), Env: []string{"PATH=/bin"}, Cwd: "/", NoNewPrivileges: nnp}
				data, _ := json.Marshal(proc)
				pf := filepath.Join(t.TempDir(), "process.json")
				if err := os.WriteFile(pf, data, 0o644); err != nil {
					t.Fatal(err)
				}
				out, stderr, code := e.run("exec", "--process", pf, id)
				if code != 0 {
					t.Fatalf("exec: exit %d: %s", code, stderr)
				}
				checkProbes(t, out, probes)
			})
		}
	}
}

// TestSeccompCloseRangeRefusedEarly: a filter with a NOTIFY action is loaded early,
// while init still talks to create, so init itself runs under it; one that refuses
// close_range leaves init to mark its descriptors through /proc/self/fd.
func TestSeccompCloseRangeRefusedEarly(t *testing.T) {
	for _, nnp := range []bool{false, true} {
		t.Run(fmt.Sprintf("nnp=%v", nnp), func(t *testing.T) {
			e := newEnv(t)
			a := newAgent(t)
			probes := []probe{
				{"echo", "echo hello", "0 hello"},
				{"fds", "ls /proc/self/fd", "0 0 1 2 3"},
			}
			b := e.bundle(probeScript(probes), func(s *specs.Spec) {
				s.Process.NoNewPrivileges = nnp
				s.Linux.Seccomp = &specs.LinuxSeccomp{
					DefaultAction: specs.ActAllow,
					ListenerPath:  a.path,
					Syscalls: []specs.LinuxSyscall{
						{Names: []string{"close_range"}, Action: specs.ActErrno},
						{Names: []string{"acct"}, Action: specs.ActNotify},
					},
				}
			})
			checkProbes(t, e.runOut(b, cid("sc-early")), probes)
		})
	}
}
