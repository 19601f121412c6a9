package testutil

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on every
// architecture Linux runs on, whatever the kernel's HZ).
const clockTicks = 100

// SpinnerShare runs measure beside a busy loop that no limit applies to and
// returns the share of one CPU the loop got meanwhile: what any busy process
// could get on this host at that time. A test of a CPU limit compares against
// it, so that a loaded host (which gives every process less) does not fail the
// test, while a wrong limit (which holds a loop below what the host gives)
// still does.
func SpinnerShare(t testing.TB, measure func()) float64 {
	t.Helper()
	cmd := exec.Command(Busybox, "sh", "-c", "while :; do :; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	time.Sleep(100 * time.Millisecond) // past its start
	c1, t1 := cpuTicks(t, cmd.Process.Pid), time.Now()
	measure()
	c2, t2 := cpuTicks(t, cmd.Process.Pid), time.Now()
	return float64(c2-c1) / clockTicks / t2.Sub(t1).Seconds()
}

// cpuTicks is pid's user and system time in clock ticks.
func cpuTicks(t testing.TB, pid int) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command's closing parenthesis: state is field 3,
	// utime 14 and stime 15.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return u + st
}
