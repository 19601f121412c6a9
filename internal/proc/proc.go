// Package proc reads /proc: whether a process still runs (and waits for it to
// end), and what it is (status.go: its privileges, its mounts as it sees them).
//
// A pid alone names whatever process holds it now: once its process is reaped the
// kernel may give it to another. A pid with its start time (/proc/<pid>/stat field
// 22, clock ticks since boot) names one process, so every check here takes both,
// as runc does. A pidfd (pidfd_open(2)) then pins the process it was opened on: a
// signal sent through it, or a wait on it, can only reach that process. Open checks
// the start time after opening the pidfd, so a pid recycled before the open is
// caught too.
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Stat is what hull reads of /proc/<pid>/stat.
type Stat struct {
	// State is the state letter (field 3): R, S, D, T, Z (a zombie: exited,
	// not yet reaped), X (dead), ...
	State byte
	// PPid is the parent's pid (field 4).
	PPid int
	// Start is the start time (field 22), in clock ticks since boot.
	Start uint64
	// Flags are the kernel's PF_* flags (field 9).
	Flags uint64
}

// PFKthread is the flag of a kernel thread (PF_KTHREAD), whose command line is
// always empty.
const PFKthread = 0x00200000

// ReadStat reads /proc/<pid>/stat. The error of a pid that names no process
// wraps os.ErrNotExist.
func ReadStat(pid int) (Stat, error) {
	// open, one read, close: an *os.File would also fstat the file, try and
	// fail to add it to the poller and set it non-blocking and back, for each
	// of the hundreds of liveness checks of a hull ps. The kernel makes the
	// line in one go (seq_file); one longer than the buffer is read again whole.
	name := "/proc/" + strconv.Itoa(pid) + "/stat"
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stat{}, &os.PathError{Op: "open", Path: name, Err: err}
	}
	var buf [1024]byte
	n, err := unix.Read(fd, buf[:])
	for err == unix.EINTR {
		n, err = unix.Read(fd, buf[:])
	}
	unix.Close(fd)
	if err != nil {
		return Stat{}, &os.PathError{Op: "read", Path: name, Err: err}
	}
	data := buf[:n]
	if n == len(buf) {
		if data, err = os.ReadFile(name); err != nil {
			return Stat{}, err
		}
	}
	return parseStat(pid, data)
}

func parseStat(pid int, data []byte) (Stat, error) {
	// The command name (field 2) may hold spaces and parentheses: split after the
	// last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return Stat{}, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[i+2:]))
	// fields[0] is field 3 (state), fields[1] field 4 (ppid); field 22 is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return Stat{}, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	ppid, err1 := strconv.Atoi(fields[1])
	start, err2 := strconv.ParseUint(fields[19], 10, 64)
	flags, err3 := strconv.ParseUint(fields[6], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Stat{}, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return Stat{State: fields[0][0], PPid: ppid, Start: start, Flags: flags}, nil
}

// StartTime returns pid's start time, to name its process with Alive and Open
// later.
func StartTime(pid int) (uint64, error) {
	st, err := ReadStat(pid)
	return st.Start, err
}

// Exited tells a state letter of a process that has ended: a zombie, or dead.
func (s Stat) Exited() bool { return s.State == 'Z' || s.State == 'X' }

// Alive tells whether pid is still the process that started at start, and has not
// exited (a zombie has).
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := ReadStat(pid)
	return err == nil && st.Start == start && !st.Exited()
}

// ErrGone says the process named by a pid and a start time no longer runs: it
// exited, or its pid names another process now.
var ErrGone = errors.New("process gone")

// Pidfd is a pidfd of one process, checked to be the one that started at a given
// time. Close it after use.
type Pidfd struct {
	fd    int
	pid   int
	start uint64
}

// Open opens a pidfd of pid if pid is still the process that started at start:
// ErrGone if it is not. The check comes after the open, as the pidfd pins the
// process it was opened on: whatever passes the check is the process itself, and
// stays it.
func Open(pid int, start uint64) (*Pidfd, error) {
	if pid <= 0 {
		return nil, ErrGone
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil, ErrGone
	}
	if err != nil {
		return nil, fmt.Errorf("pidfd of %d: %w", pid, err)
	}
	if !Alive(pid, start) {
		unix.Close(fd)
		return nil, ErrGone
	}
	return &Pidfd{fd: fd, pid: pid, start: start}, nil
}

// Close releases the pidfd.
func (p *Pidfd) Close() error { return unix.Close(p.fd) }

// Signal sends sig to the process; it fails with ESRCH once the process exited.
func (p *Pidfd) Signal(sig unix.Signal) error {
	return unix.PidfdSendSignal(p.fd, sig, nil, 0)
}

// Wait waits until the process has exited (a zombie has), up to timeout, and tells
// whether it has. A pidfd polls readable once its process exited, whoever its
// parent is, so no reaping is needed and no SIGCHLD is missed.
func (p *Pidfd) Wait(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms < 0 {
			ms = 0 // poll waits forever on a negative timeout
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}, ms)
		if err == unix.EINTR {
			continue
		}
		return n > 0 || !Alive(p.pid, p.start)
	}
}

// WaitGone waits until pid, started at start, has exited, up to timeout, and tells
// whether it has. A process that is gone already (or was never there) is gone.
func WaitGone(pid int, start uint64, timeout time.Duration) bool {
	p, err := Open(pid, start)
	if err != nil {
		return true
	}
	defer p.Close()
	return p.Wait(timeout)
}
