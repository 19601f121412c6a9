package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/hullproject/hull/image/layer"
	"github.com/hullproject/hull/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Overlay mounts snapshots with overlayfs through the new mount API: fsopen("overlay")
// and one fsconfig "lowerdir+" per layer. Unlike the classic mount(2) option string,
// which must fit in one page (4096 bytes, some 40-60 layers of long paths), lowerdir+
// has no length limit (kernel ≥ 6.8). On older kernels (Debian 12's 6.1, Ubuntu
// 22.04's 5.15) it mounts with mount(2) and the option string.
type Overlay struct{ base }

// NewOverlay returns the overlay snapshotter keeping snapshots below dir.
func NewOverlay(dir string) *Overlay { return &Overlay{base{dir}} }

func (o *Overlay) Name() string { return "overlay" }

func (o *Overlay) Prepare(key string, layers []string) (string, error) {
	return o.make(key, layers, false)
}

func (o *Overlay) View(key string, layers []string) (string, error) {
	return o.make(key, layers, true)
}

func (o *Overlay) make(key string, layers []string, ro bool) (string, error) {
	p, err := o.create(key, Info{Key: key, Layers: layers, ReadOnly: ro, Kind: "overlay"})
	if err != nil {
		return "", err
	}
	for _, d := range []string{"upper", "work", "rootfs", "empty"} {
		if err := os.Mkdir(filepath.Join(p, d), 0o755); err != nil {
			os.RemoveAll(p)
			return "", err
		}
	}
	rootfs, err := o.Mount(key)
	if err != nil {
		os.RemoveAll(p)
		return "", err
	}
	return rootfs, nil
}

func (o *Overlay) Mount(key string) (string, error) {
	in, p, err := o.info(key)
	if err != nil {
		return "", err
	}
	unlock, err := lockMount(p)
	if err != nil {
		return "", err
	}
	defer unlock()
	rootfs := filepath.Join(p, "rootfs")
	if mounted(rootfs) {
		return rootfs, nil
	}
	lowers := in.Layers
	if len(lowers) == 0 {
		lowers = []string{filepath.Join(p, "empty")} // overlayfs needs one lower
	}
	if err := mountOverlay(rootfs, lowers, filepath.Join(p, "upper"), filepath.Join(p, "work"), in.ReadOnly); err != nil {
		return "", fmt.Errorf("mount snapshot %s: %w", key, err)
	}
	return rootfs, nil
}

// lowerdirPlus is whether the kernel's overlayfs takes "lowerdir+" (6.8 and later):
// 0 not known yet, 1 yes, -1 no. A test sets -1 to exercise the classic mount.
var lowerdirPlus atomic.Int32

// mountOverlay mounts an overlay at target; lowers are lowest first.
func mountOverlay(target string, lowers []string, upper, work string, ro bool) error {
	if lowerdirPlus.Load() < 0 {
		return mountOverlayClassic(target, lowers, upper, work, ro)
	}
	err := mountOverlayAPI(target, lowers, upper, work, ro)
	switch {
	case err == nil:
		lowerdirPlus.Store(1)
	case errors.Is(err, unix.EINVAL) && lowerdirPlus.Load() == 0:
		// Before 6.5 overlayfs checks its options only at FSCONFIG_CMD_CREATE;
		// from 6.5 to 6.7 it refuses "lowerdir+" at once. Either way: EINVAL.
		if mountOverlayClassic(target, lowers, upper, work, ro) == nil {
			lowerdirPlus.Store(-1)
			return nil
		}
	}
	return err
}

// overlayOptions are the options of every snapshot. A renamed lower directory must
// be copied up whole (EXDEV to the renamer), not recorded as a redirect xattr: the
// upper dir has to read as a plain layer diff.
var overlayOptions = [][2]string{{"redirect_dir", "off"}, {"index", "off"}, {"metacopy", "off"}}

// mountOverlayClassic mounts with mount(2): the lower directories, topmost first,
// joined by ':' in one option string of at most a page. Lowers in one directory (a
// store's layers are) are named relative to it, from a thread whose working
// directory is that one: 65 bytes a layer, so some 60 layers fit. Paths holding the
// option string's separators are refused rather than escaped.
func mountOverlayClassic(target string, lowers []string, upper, work string, ro bool) error {
	dir := filepath.Dir(lowers[0])
	for _, l := range lowers {
		if filepath.Dir(l) != dir || !filepath.IsAbs(l) {
			dir = ""
			break
		}
	}
	var b strings.Builder
	b.WriteString("lowerdir=")
	for i := len(lowers) - 1; i >= 0; i-- {
		if i != len(lowers)-1 {
			b.WriteByte(':')
		}
		if dir != "" {
			b.WriteString(filepath.Base(lowers[i]))
		} else {
			b.WriteString(lowers[i])
		}
	}
	fmt.Fprintf(&b, ",upperdir=%s,workdir=%s", upper, work)
	for _, kv := range overlayOptions {
		fmt.Fprintf(&b, ",%s=%s", kv[0], kv[1])
	}
	for _, p := range append([]string{upper, work}, lowers...) {
		if strings.ContainsAny(p, ",:\\") {
			return fmt.Errorf("overlay: path %q has ',', ':' or '\\', which this kernel's overlayfs option string cannot hold (6.8 can)", p)
		}
	}
	if b.Len() >= os.Getpagesize() {
		return fmt.Errorf("overlay: %d layers make a %d-byte option string, more than this kernel's overlayfs takes (one page; 6.8 takes any number)", len(lowers), b.Len())
	}
	var flags uintptr
	if ro {
		flags = unix.MS_RDONLY
	}
	mount := func() error { return unix.Mount("overlay", target, "overlay", flags, b.String()) }
	var err error
	if dir != "" {
		err = inDir(dir, mount)
	} else {
		err = mount()
	}
	if err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	return nil
}

// inDir runs fn on a thread of its own whose working directory is dir; the rest of
// the process keeps its own. The thread is never unlocked: it ends with fn.
func inDir(dir string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare fs: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func mountOverlayAPI(target string, lowers []string, upper, work string, ro bool) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	set := func(k, v string) error {
		if err := unix.FsconfigSetString(fd, k, v); err != nil {
			return fmt.Errorf("overlay option %s=%s: %w", k, v, err)
		}
		return nil
	}
	// lowerdir+ stacks downwards: the first one given is the topmost.
	for i := len(lowers) - 1; i >= 0; i-- {
		if err := set("lowerdir+", lowers[i]); err != nil {
			return err
		}
	}
	if err := set("upperdir", upper); err != nil {
		return err
	}
	if err := set("workdir", work); err != nil {
		return err
	}
	for _, kv := range overlayOptions {
		if err := set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("create overlay: %w", err)
	}
	var attr int
	if ro {
		attr = unix.MOUNT_ATTR_RDONLY
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move mount to %s: %w", target, err)
	}
	return nil
}

func (o *Overlay) Unmount(key string) error {
	p, err := o.path(key)
	if err != nil {
		return err
	}
	unlock, err := lockMount(p)
	if err != nil {
		return err
	}
	defer unlock()
	return unmount(filepath.Join(p, "rootfs"))
}

// Diff writes the upper dir, whose whiteouts and opaque dirs are already in layer
// form. Reading the upper while mounted is fine: the container should be stopped.
func (o *Overlay) Diff(key string, w io.Writer) error {
	_, p, err := o.info(key)
	if err != nil {
		return err
	}
	return layer.Write(filepath.Join(p, "upper"), w, layer.WriteOptions{Overlay: true})
}

func (o *Overlay) Remove(key string) error {
	p, err := o.path(key)
	if err != nil {
		return err
	}
	if err := unmount(filepath.Join(p, "rootfs")); err != nil {
		return err
	}
	return os.RemoveAll(p)
}

// mounted tells whether dir is a mount point (its mount ID differs from its parent's,
// or it is on another device).
func mounted(dir string) bool {
	var a, b unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &a) != nil {
		return false
	}
	if unix.Statx(unix.AT_FDCWD, filepath.Dir(dir), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &b) != nil {
		return false
	}
	return a.Mnt_id != b.Mnt_id
}

func unmount(dir string) error {
	for mounted(dir) {
		if err := unix.Unmount(dir, 0); err != nil {
			if errors.Is(err, unix.EBUSY) {
				// Still busy (a process inside): detach so the tree can go.
				if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
					return fmt.Errorf("unmount %s: %w", dir, err)
				}
				continue
			}
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
				return nil
			}
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
	}
	return nil
}

// probeOverlay mounts a throw-away overlay in dir to learn whether overlayfs works
// there. A success is remembered for the boot (dir/.overlay-ok holds the boot ID):
// the probe costs a mount and an unmount, 5-10 ms, in every hull command that opens
// the store, twice per `hull run --rm`.
//
// The file also holds which mount worked ("classic" before kernel 6.8), so that a
// later command does not try "lowerdir+" again (each try logs a kernel message).
func probeOverlay(dir string) error {
	ok := filepath.Join(dir, ".overlay-ok")
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if len(boot) > 0 {
		if got, err := os.ReadFile(ok); err == nil && strings.HasPrefix(string(got), string(boot)) {
			if strings.TrimPrefix(string(got), string(boot)) == "classic\n" {
				lowerdirPlus.CompareAndSwap(0, -1)
			}
			return nil
		}
	}
	if err := probeOverlayMount(dir); err != nil {
		return err
	}
	if len(boot) > 0 {
		if lowerdirPlus.Load() < 0 {
			boot = append(boot, "classic\n"...)
		}
		// Only a cache: a failed write means the next command probes again.
		atomicfile.WriteFile(ok, boot, 0o600)
	}
	return nil
}

func probeOverlayMount(dir string) error {
	removeDeadProbes(dir)
	tmp, err := os.MkdirTemp(dir, fmt.Sprintf(".probe-%d-", os.Getpid()))
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	m := filepath.Join(tmp, "m")
	if err := mountOverlay(m, []string{filepath.Join(tmp, "l")}, filepath.Join(tmp, "u"), filepath.Join(tmp, "w"), false); err != nil {
		return err
	}
	return unmount(m)
}

// removeDeadProbes removes the probes of processes that are gone: one killed in the
// middle of its probe leaves the directory, perhaps still mounted. A live process's
// probe is left alone (a recycled pid only delays the removal).
func removeDeadProbes(dir string) {
	probes, _ := filepath.Glob(filepath.Join(dir, ".probe-*-*"))
	for _, p := range probes {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(p), ".probe-%d-", &pid); err != nil || pid <= 0 {
			continue
		}
		if unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		if unmount(filepath.Join(p, "m")) == nil {
			os.RemoveAll(p)
		}
	}
}
