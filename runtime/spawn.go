package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hullproject/hull/runtime/nsenter"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/trace"
)

// selfExe returns hullrt's own binary in a form nobody can write to, made once per
// process.
//
// The child runs hull's code inside the container's namespaces until it execs the
// container's program. Were it started from the binary on disk, a process in the
// container could open /proc/<child>/exe and, once the binary is no longer busy,
// overwrite the host's hullrt (CVE-2019-5736). The binary is therefore seen through
// a read-only overlayfs that is mounted nowhere (sealedOverlay), or, where that
// cannot be made (no CAP_SYS_ADMIN, no overlayfs, an odd binary path), copied into a
// memfd sealed against writes and resizing, which has no path on the host and
// cannot be changed by anyone (sealedCopy). The overlay makes no copy: 0.2 ms
// against 3-5 ms for copying a 6 MB binary, on every create, run and exec.
var selfExe = sync.OnceValues(func() (*os.File, error) {
	if f, err := sealedOverlay(); err == nil {
		return f, nil
	}
	return sealedCopy()
})

// sealedOverlay opens hullrt's binary through an overlayfs made with fsopen(2) and
// never attached to any mount namespace: its lower layers are the binary's
// directory over an empty one, and it has no upper layer. An overlayfs without an
// upper layer is read-only in its superblock, so neither a remount nor
// mount_setattr(2) can make it writable, and a mount that was never attached has no
// path anyone could reach it by: opening /proc/<child>/exe for writing fails with
// EROFS. runc 1.2 protects its binary the same way.
func sealedOverlay() (*os.File, error) {
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	// A binary replaced on disk reads "/path (deleted)": the name no longer leads
	// to what runs, so the copy is used.
	dir, name := filepath.Split(self)
	if !filepath.IsAbs(dir) || strings.HasSuffix(name, " (deleted)") {
		return nil, fmt.Errorf("own binary %q has no usable path", self)
	}
	mnt, err := overlayMount(dir, layersByFd)
	if err != nil {
		mnt, err = overlayMount(dir, layersByTempDir)
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open own binary in overlay: %w", err)
	}
	// The name was looked up again; a binary renamed over it in between shows a
	// different size or change time than the one that runs.
	var got, want unix.Stat_t
	if unix.Fstat(fd, &got) != nil || unix.Stat("/proc/self/exe", &want) != nil ||
		got.Size != want.Size || got.Mtim != want.Mtim || got.Ctim != want.Ctim {
		unix.Close(fd)
		return nil, errors.New("own binary changed on disk")
	}
	return os.NewFile(uintptr(fd), "/overlay:"+name), nil
}

// overlayMount makes the read-only overlay of dir, attached nowhere. overlayfs
// runs without an upper layer only with two lower ones: the first is dir, the
// second an empty directory that layers adds.
func overlayMount(dir string, layers func(ctx int, dir string) (done func(), err error)) (int, error) {
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	done, err := layers(ctx, dir)
	if err != nil {
		return -1, err
	}
	// Once the superblock holds the layers, the empty one may go.
	defer done()
	// xino is of no use here and only logs noise when the layers are on two
	// filesystems; failing to turn it off changes nothing.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, fmt.Errorf("create overlay: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return -1, fmt.Errorf("fsmount overlay: %w", err)
	}
	return mnt, nil
}

// layersByFd takes as the empty layer the root of a tmpfs made with fsopen(2)
// and never attached, given by descriptor ("lowerdir+", Linux 6.13): nothing is
// made on the host's disk (it was a mkdir and an rmdir in /tmp on every create),
// and nothing can be left behind, however the process ends.
func layersByFd(ctx int, dir string) (func(), error) {
	empty, err := emptyTmpfs()
	if err != nil {
		return nil, err
	}
	done := func() { unix.Close(empty) }
	if err := unix.FsconfigSetString(ctx, "lowerdir+", dir); err != nil {
		done()
		return nil, fmt.Errorf("overlay lowerdir+: %w", err)
	}
	if err := unix.FsconfigSetFd(ctx, "lowerdir+", empty); err != nil {
		done()
		return nil, fmt.Errorf("overlay lowerdir+ by descriptor: %w", err)
	}
	return done, nil
}

// layersByTempDir is for older kernels: the empty layer is a directory of our own,
// removed again once the superblock holds it. It must not contain or lie inside
// dir: the kernel refuses overlapping layers (ELOOP), and the copy is used then.
func layersByTempDir(ctx int, dir string) (func(), error) {
	empty, err := os.MkdirTemp("", ".hullrt-exe-")
	if err != nil {
		return nil, err
	}
	done := func() { os.Remove(empty) }
	// In lowerdir, ':' separates layers and '\' escapes.
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	if err := unix.FsconfigSetString(ctx, "lowerdir", esc.Replace(dir)+":"+esc.Replace(empty)); err != nil {
		done()
		return nil, fmt.Errorf("overlay lowerdir: %w", err)
	}
	return done, nil
}

// emptyTmpfs returns the root of a new, read-only tmpfs attached nowhere.
func emptyTmpfs() (int, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, err
	}
	return unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
}

// sealedCopy copies hullrt's binary into a memfd sealed against any change.
func sealedCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("hullrt", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	dst := os.NewFile(uintptr(fd), "/memfd:hullrt")
	// io.Copy uses copy_file_range/sendfile between the two files: no user-space copy.
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return nil, fmt.Errorf("copy own binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	// F_SEAL_WRITE fails with EBUSY while any page of the file has a reference
	// beyond the page cache's; just-copied pages can hold one for a moment (a
	// per-CPU LRU batch, the copy's pipe), longer than the kernel's own short wait
	// under load. Nothing else has the file, so trying again is safe.
	for try := 0; ; try++ {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals)
		if !errors.Is(err, unix.EBUSY) || try == 50 {
			break
		}
		time.Sleep(time.Duration(min(try+1, 10)) * time.Millisecond)
	}
	if err != nil {
		dst.Close()
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	return dst, nil
}

// nsJoin is a namespace the child joins: a file opened on the host.
type nsJoin struct {
	typ  string // "user", "mnt", ... as in /proc/PID/ns
	file *os.File
}

// spawnSpec is how to start the child.
type spawnSpec struct {
	cmd         *exec.Cmd
	parentJoins []nsJoin   // joined on the parent's thread before clone: pid, net, uts, ipc
	childJoins  []nsJoin   // joined in nsenter's constructor: user, mnt, time, cgroup
	unshare     uintptr    // made by the constructor after the joins
	fork        bool       // the constructor forks after the joins (a joined pid namespace)
	parentOnly  []*os.File // the child's copies of these are all it needs: closed after start
	mapRelease  *os.File   // released once the id maps are written (mapLater)
	tr          *trace.Tracer
}

// cloneNames maps namespace types to their clone flags.
var cloneNames = map[string]uintptr{
	"pid": unix.CLONE_NEWPID, "network": unix.CLONE_NEWNET, "mount": unix.CLONE_NEWNS,
	"ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS, "user": unix.CLONE_NEWUSER,
	"cgroup": unix.CLONE_NEWCGROUP, "time": unix.CLONE_NEWTIME,
}

// procNames maps OCI namespace types to their names in /proc/PID/ns.
var procNames = map[string]string{
	"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
	"user": "user", "cgroup": "cgroup", "time": "time",
}

// start starts the child. Namespaces joined with setns(2) on the parent's side are
// joined on a locked OS thread that is thrown away afterwards: clone(2) copies the
// calling thread's namespaces, and the Go runtime ends a thread whose goroutine exits
// while locked, so the parent's other threads never see them. setns into a pid
// namespace only affects children, which is exactly what is wanted here.
func (s *spawnSpec) start() error {
	// The constructor times its steps only for a trace (nsenter.Steps).
	if s.tr.On() {
		s.cmd.Env = append(s.cmd.Env, nsenter.TraceEnv+"=1")
	}
	// The constructor needs the fds of the namespaces it joins; they are passed as
	// extra files, after any the caller already put there.
	if len(s.childJoins) > 0 || s.unshare != 0 || s.fork {
		var fds []string
		for _, j := range s.childJoins {
			fds = append(fds, strconv.Itoa(3+len(s.cmd.ExtraFiles)))
			s.cmd.ExtraFiles = append(s.cmd.ExtraFiles, j.file)
		}
		v := strings.Join(fds, ",")
		if s.unshare != 0 {
			v += ";unshare=" + strconv.FormatUint(uint64(s.unshare), 10)
		}
		if s.fork {
			v += ";fork"
		}
		s.cmd.Env = append(s.cmd.Env, nsenter.Env+"="+v)
	}
	// The child execs hullrt through /proc/self/fd/N only after Go has moved the
	// n stdio and extra files onto 0..n-1, parking some on n, n+1, ... on the way,
	// which overwrites the parent's number for the binary once there are enough of
	// them (--preserve-fds, cgroup files). So the child execs a close-on-exec
	// duplicate numbered above all that, and keeps no descriptor of the binary.
	exe, err := selfExe()
	if err != nil {
		return err
	}
	n := 3 + len(s.cmd.ExtraFiles)
	fd, err := unix.FcntlInt(exe.Fd(), unix.F_DUPFD_CLOEXEC, 2*n+2)
	if err != nil {
		return fmt.Errorf("duplicate own binary: %w", err)
	}
	defer unix.Close(fd)
	s.cmd.Path = "/proc/self/fd/" + strconv.Itoa(fd)
	if len(s.parentJoins) == 0 {
		return s.clone()
	}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// No UnlockOSThread: this thread's namespaces are no longer the parent's.
		for _, j := range s.parentJoins {
			t0 := s.tr.Now()
			err := unix.Setns(int(j.file.Fd()), 0)
			s.tr.Step(t0, trace.Namespaces, "setns", err, trace.Args{Type: j.typ, Detail: "on the thread that clones"})
			if err != nil {
				errc <- fmt.Errorf("join %s namespace: %w", j.typ, err)
				return
			}
		}
		errc <- s.clone()
	}()
	return <-errc
}

// clone starts the child (clone3, then execve of this binary), traced.
func (s *spawnSpec) clone() error {
	t0 := s.tr.Now()
	err := s.cmd.Start()
	if s.tr.On() {
		s.tr.Step(t0, trace.Namespaces, "clone3", err, s.traceArgs())
	}
	return err
}

// release closes, once the child has its copies, the files only the child needs.
func (s *spawnSpec) release() {
	for _, j := range append(s.parentJoins, s.childJoins...) {
		j.file.Close()
	}
	for _, f := range s.parentOnly {
		f.Close()
	}
}

// joinsUserNS tells whether the child lives in a user namespace other than this
// process's: a new one, or one it joins.
func (s *spawnSpec) joinsUserNS() bool {
	if s.cmd.SysProcAttr != nil && s.cmd.SysProcAttr.Cloneflags&unix.CLONE_NEWUSER != 0 {
		return true
	}
	for _, j := range s.childJoins {
		if j.typ == "user" {
			return true
		}
	}
	return false
}

// sameNamespace tells whether the file names the namespace this process is in.
func sameNamespace(f *os.File, typ string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat("/proc/self/ns/"+typ, &b) != nil {
		return false
	}
	return a.Ino == b.Ino && a.Dev == b.Dev
}

// MarkInheritedCloexec sets close-on-exec on every descriptor this process inherited
// except stdio and the first n after it (--preserve-fds), so that nothing else the
// caller left open can reach the container.
func MarkInheritedCloexec(n int) error {
	if err := markCloexec(3 + n); err != nil {
		return fmt.Errorf("mark descriptors close-on-exec: %w", err)
	}
	return nil
}

// markCloexec sets close-on-exec on every descriptor numbered from on. It asks
// close_range(2) first. Where that is refused -- a kernel before 5.11 knows no
// CLOSE_RANGE_CLOEXEC (EINVAL), one before 5.9 no close_range (ENOSYS), and a
// seccomp filter written before it answers with whatever errno its profile chose --
// it walks /proc/self/fd and sets the flag with fcntl(2), calls every profile
// allows. If neither works it fails: a descriptor must never stay open across
// execve by default.
func markCloexec(from int) error {
	err := unix.CloseRange(uint(from), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if perr := markCloexecProc(from); perr != nil {
		return fmt.Errorf("close_range: %v; /proc/self/fd: %w", err, perr)
	}
	return nil
}

// markCloexecProc is markCloexec through /proc/self/fd. The directory must be a
// procfs: in a container /proc is whatever the spec mounted there, or else the
// image's own directory, whose list of descriptors could say anything.
func markCloexecProc(from int) error {
	fd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(fd), "/proc/self/fd")
	defer dir.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return err
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return errors.New("not a procfs")
	}
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		n, err := strconv.Atoi(name)
		if err != nil {
			return fmt.Errorf("unexpected entry %q", name)
		}
		if n < from || n == fd {
			continue
		}
		// EBADF: closed meanwhile (by another thread of the Go runtime).
		if _, err := unix.FcntlInt(uintptr(n), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("descriptor %d: %w", n, err)
		}
	}
	return nil
}
