package proc

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// child starts a real process that sleeps, and kills and reaps it at the end of
// the test if the test did not.
func child(t *testing.T) *exec.Cmd {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	cmd := exec.Command(sleep, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// waitState waits until pid's state letter is want.
func waitState(t *testing.T, pid int, want byte) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if st, err := ReadStat(pid); err == nil && st.State == want {
			return
		}
	}
	t.Fatalf("pid %d never reached state %c", pid, want)
}

// A process is alive while it runs, not once it is a zombie, nor once reaped.
func TestAliveZombieGone(t *testing.T) {
	cmd := child(t)
	pid := cmd.Process.Pid
	st, err := ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPid != os.Getpid() {
		t.Errorf("ppid %d, want %d", st.PPid, os.Getpid())
	}
	if st.Exited() || !Alive(pid, st.Start) {
		t.Fatalf("a running child is not alive: %+v", st)
	}

	cmd.Process.Kill()
	waitState(t, pid, 'Z') // exited, not reaped: still in /proc
	if Alive(pid, st.Start) {
		t.Error("a zombie is alive")
	}
	if zst, err := ReadStat(pid); err != nil || !zst.Exited() || zst.Start != st.Start {
		t.Errorf("zombie: %+v %v", zst, err)
	}
	if _, err := Open(pid, st.Start); !errors.Is(err, ErrGone) {
		t.Errorf("open a zombie: got %v, want ErrGone", err)
	}
	if !WaitGone(pid, st.Start, time.Second) {
		t.Error("WaitGone: a zombie is not gone")
	}

	cmd.Wait()
	if _, err := ReadStat(pid); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read a reaped pid: got %v, want ErrNotExist", err)
	}
	if Alive(pid, st.Start) {
		t.Error("a reaped process is alive")
	}
	if !WaitGone(pid, st.Start, time.Second) {
		t.Error("WaitGone: a reaped process is not gone")
	}
}

// The start time names the process: the same pid with another start time (what a
// recycled pid looks like) is not it, and Open refuses it.
func TestStartTimeNamesTheProcess(t *testing.T) {
	cmd := child(t)
	pid := cmd.Process.Pid
	start, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []uint64{start - 1, start + 1, 0} {
		if Alive(pid, other) {
			t.Errorf("alive with start time %d, the process started at %d", other, start)
		}
		if p, err := Open(pid, other); !errors.Is(err, ErrGone) {
			if p != nil {
				p.Close()
			}
			t.Errorf("open with start time %d: got %v, want ErrGone", other, err)
		}
	}
	// Nothing was signalled through a refused Open: the process still runs.
	if !Alive(pid, start) {
		t.Fatal("the process died")
	}
	for _, pid := range []int{0, -1} {
		if Alive(pid, 0) {
			t.Errorf("pid %d is alive", pid)
		}
		if _, err := Open(pid, 0); !errors.Is(err, ErrGone) {
			t.Errorf("open pid %d: got %v, want ErrGone", pid, err)
		}
	}
}

// Wait returns false at its timeout while the process runs, and true once a signal
// sent through the pidfd killed it.
func TestPidfdSignalWait(t *testing.T) {
	cmd := child(t)
	pid := cmd.Process.Pid
	start, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(pid, start)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t0 := time.Now()
	if p.Wait(200 * time.Millisecond) {
		t.Fatal("Wait: a running process exited")
	}
	if d := time.Since(t0); d < 190*time.Millisecond || d > 5*time.Second {
		t.Errorf("Wait(200ms) took %v", d)
	}
	if WaitGone(pid, start, 50*time.Millisecond) {
		t.Fatal("WaitGone: a running process is gone")
	}
	if err := p.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(10 * time.Second) {
		t.Fatal("Wait: the killed process did not exit")
	}
	cmd.Wait()
	if err := p.Signal(unix.SIGKILL); !errors.Is(err, unix.ESRCH) {
		t.Errorf("signal a reaped process: got %v, want ESRCH", err)
	}
}

// WaitGone returns as soon as the process exits, not at its timeout.
func TestWaitGoneReturnsAtExit(t *testing.T) {
	cmd := child(t)
	pid := cmd.Process.Pid
	start, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		cmd.Process.Kill()
	}()
	t0 := time.Now()
	if !WaitGone(pid, start, time.Minute) {
		t.Fatal("WaitGone: the killed process is not gone")
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("WaitGone took %v", d)
	}
}

// A command name may hold spaces and parentheses: the fields after it are found
// after the last ')', so a name cannot forge a state, a parent or a start time.
// The name is this process's own (/proc/self/comm: a process may rename itself).
func TestReadStatHostileName(t *testing.T) {
	old, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	const name = "x) Z 1 (y"
	if err := os.WriteFile("/proc/self/comm", []byte(name), 0); err != nil {
		t.Skipf("rename this process: %v", err)
	}
	defer os.WriteFile("/proc/self/comm", old, 0)
	if data, _ := os.ReadFile("/proc/self/stat"); !strings.Contains(string(data), "("+name+")") {
		t.Fatalf("the name did not take: %s", data)
	}
	want, err := StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PPid != os.Getppid() || st.Exited() || st.Start != want || st.Start == 0 {
		t.Fatalf("stat of a process named %q: %+v, want ppid %d", name, st, os.Getppid())
	}
	if !Alive(os.Getpid(), st.Start) {
		t.Fatal("not alive")
	}
}

func TestParseStat(t *testing.T) {
	// fields 3 (state), 4 (ppid) and on as head, zeros up to field 21, then
	// field 22 (start time) and two.
	line := func(head, start string) []byte {
		zeros := strings.Repeat(" 0", 19-len(strings.Fields(head)))
		return []byte("42 (a) b) (c) " + head + zeros + " " + start + " 0 0")
	}
	st, err := parseStat(42, line("R 7", "12345"))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != 'R' || st.PPid != 7 || st.Start != 12345 || st.Flags != 0 {
		t.Errorf("got %+v", st)
	}
	// field 9, flags: a kernel thread's (PF_KTHREAD | PF_FORKNOEXEC)
	if st, err := parseStat(42, line("S 2 0 0 0 -1 2097216", "5")); err != nil || st.Flags&PFKthread == 0 {
		t.Errorf("kernel thread: %+v, %v", st, err)
	}
	for _, bad := range [][]byte{
		nil,
		[]byte("42 (a"),
		[]byte("42 (a)"),
		[]byte("42 (a) R 7 0 0"),
		line("R x", "12345"),
		line("R 7", "-1"),
		line("RS 7", "12345"),
		line("R 7 0 0 0 -1 x", "12345"),
	} {
		if _, err := parseStat(42, bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}
