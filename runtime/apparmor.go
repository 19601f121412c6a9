package runtime

import (
	"errors"
	"fmt"
	"os"

	"github.com/hullproject/hull/internal/fsroot"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// AppArmor: process.apparmorProfile is applied as runc applies it. The process
// asks the kernel, through its own /proc/<tid>/attr, to move into the profile at
// its next execve ("exec NAME", what libapparmor's aa_change_onexec writes), so
// the runtime's own code is never confined, and the program is from its first
// instruction. containerd's CRI, docker and podman name their default profile
// for every unprivileged container wherever AppArmor is enabled.
//
// Where AppArmor is not enabled a profile is refused (validateAppArmor), as runc
// refuses it (its write fails: "apparmor failed to apply profile: write
// /proc/self/attr/exec: invalid argument"); crun ignores it. A container that
// asked for confinement does not silently run without it, and no caller is
// broken by that: containerd, docker and podman set a profile only when AppArmor
// is enabled on the host.

// appArmorEnabledFile is the module parameter AppArmor's own tools read (aa-enabled,
// libapparmor): "Y" once the LSM is initialised, absent when it is not built in.
const appArmorEnabledFile = "/sys/module/apparmor/parameters/enabled"

// appArmorEnabled tells whether the host's kernel enforces AppArmor profiles.
func appArmorEnabled() bool {
	b, err := os.ReadFile(appArmorEnabledFile)
	return err == nil && len(b) > 0 && b[0] == 'Y'
}

// validateAppArmor refuses a profile that the host cannot apply, before anything
// is made.
func validateAppArmor(p *specs.Process) error {
	if p.ApparmorProfile == "" || appArmorEnabled() {
		return nil
	}
	return fmt.Errorf("process.apparmorProfile %q: AppArmor is not enabled on this host", p.ApparmorProfile)
}

// inheritAppArmor gives an exec'd process the container's profile when it names
// none, as runc exec does: a process without --apparmor joins the container
// confined as its init is, not unconfined.
func inheritAppArmor(p *specs.Process, spec *specs.Spec) {
	if p.ApparmorProfile == "" && spec != nil && spec.Process != nil {
		p.ApparmorProfile = spec.Process.ApparmorProfile
	}
}

// applyAppArmor makes profile this thread's profile from its next execve on. It
// runs in the container (after pivot_root, or in an exec'd process after setns),
// on the locked thread that calls execve: the attribute is per task, so it must
// be written through /proc/thread-self, not /proc/self (the thread group leader).
//
// It is written through the container's procfs, never a path string: "/proc" is
// opened without following a symlink and must be a procfs, and the file is
// resolved below it without leaving that mount (a bind mount over attr/exec
// would be another one) or following a magic link. A profile that is not loaded
// fails here (ENOENT), before the program is started.
func applyAppArmor(profile string) error {
	if profile == "" {
		return nil
	}
	fail := func(err error) error {
		return fmt.Errorf("process.apparmorProfile %q: %w", profile, err)
	}
	proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("open /proc: %w", err))
	}
	defer unix.Close(proc)
	var st unix.Statfs_t
	if err := unix.Fstatfs(proc, &st); err != nil {
		return fail(fmt.Errorf("statfs /proc: %w", err))
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fail(errors.New("/proc in the container is not a procfs"))
	}
	// The per-LSM directory (Linux 5.8 on); before it, attr/exec is AppArmor's
	// when AppArmor is the major LSM.
	name := "thread-self/attr/apparmor/exec"
	fd, err := fsroot.OpenIn(proc, name, unix.O_WRONLY, unix.RESOLVE_NO_XDEV)
	if errors.Is(err, unix.ENOENT) {
		name = "thread-self/attr/exec"
		fd, err = fsroot.OpenIn(proc, name, unix.O_WRONLY, unix.RESOLVE_NO_XDEV)
	}
	if err != nil {
		return fail(fmt.Errorf("open /proc/%s: %w", name, err))
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte("exec "+profile)); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fail(errors.New("profile not loaded (apparmor_parser loads it)"))
		}
		return fail(fmt.Errorf("write /proc/%s: %w", name, err))
	}
	return nil
}
