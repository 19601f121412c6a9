package resident

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/logs"
)

// Tests of hull-monitor, the C resident, run directly: this test binary,
// re-executed as a helper, starts the container's "init" (a shell that exits
// when told) and execs hull-monitor with a Handover the test made, the way the
// engine's monitor hands over; hull-monitor execs this binary back ("woken"),
// which reports what it was given.

const (
	roleEnv   = "RESIDENT_TEST_ROLE"
	reportEnv = "RESIDENT_TEST_REPORT"
)

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "helper":
		helper()
	case "woken":
		woken()
	}
	code := testutil.Main(m)
	if monitorDir != "" {
		os.RemoveAll(monitorDir)
	}
	os.Exit(code)
}

// The helper's descriptors, from the test's ExtraFiles.
const (
	fdOut = 3 + iota
	fdErr
	fdListener
	fdKeep
	fdCtl // init's stdin: a line tells it how to end
)

// initScript is the container's init: told to end, it leaves an orphan (a
// process that exits at once, re-parented to the resident, its subreaper), and
// ends as told: a number is its exit code, "kill" a SIGKILL.
const initScript = `read x; (sh -c 'exit 0' &); sleep 0.2; [ "$x" = kill ] && kill -9 $$; exit $x`

// helper starts init and execs hull-monitor with the Handover in
// $RESIDENT_TEST_STATE (Pid filled in).
func helper() {
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	h, err := ParseHandover(os.Getenv("RESIDENT_TEST_STATE"))
	if err != nil {
		die(err)
	}
	ctl := os.NewFile(fdCtl, "ctl")
	init := exec.Command("/bin/sh", "-c", initScript)
	init.Stdin = ctl
	if err := init.Start(); err != nil {
		die(err)
	}
	ctl.Close()
	os.WriteFile(os.Getenv("RESIDENT_TEST_PIDFILE"), []byte(strconv.Itoa(init.Process.Pid)), 0o600)
	h.Pid = init.Process.Pid
	// Descriptors this process inherited by accident (go test's) are not the
	// resident's to hand on: close them, so the engine's side sees exactly
	// what the resident passes.
	for fd := fdCtl + 1; fd < 1024; fd++ {
		if fl, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); e == 0 && fl&syscall.FD_CLOEXEC == 0 {
			syscall.Close(fd)
		}
	}
	var env []string
	if e := os.Getenv("RESIDENT_TEST_OWNENV"); e != "" {
		env = strings.Split(e, "\n")
	}
	mon := os.Getenv("RESIDENT_TEST_MONITOR")
	die(Exec(mon, []string{mon, "--id", h.ID}, h, env))
}

// report is what the woken engine's monitor saw.
type report struct {
	State   string
	Environ []string
	Fds     []int
	Zombies int // children exited and not collected
	Now     int64
	Client  string // what the attach client sent
	Links   []string
}

// woken reports its state, descriptors and children; with an attach client it
// greets it, reads its answer, and ends the container (it is init's parent now).
func woken() {
	r := report{State: os.Getenv(Env), Now: time.Now().UnixNano()}
	// the open descriptors, before this process opens any
	for fd := range 1024 {
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); e == 0 {
			r.Fds = append(r.Fds, fd)
		}
	}
	// as execve gave it (os.Environ drops a repeated name)
	env, _ := os.ReadFile("/proc/self/environ")
	r.Environ = strings.Split(strings.TrimSuffix(string(env), "\x00"), "\x00")
	for _, fd := range r.Fds {
		l, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		r.Links = append(r.Links, l)
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		stat, err := os.ReadFile("/proc/" + p.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(os.Getpid()) {
			r.Zombies++
		}
	}
	h, err := ParseHandover(r.State)
	if err == nil && h.Reason == ReasonAttach && len(h.Clients) == 1 {
		c := os.NewFile(uintptr(h.Clients[0]), "client")
		c.Write([]byte("hello from the engine\n"))
		b := make([]byte, 64)
		n, _ := c.Read(b)
		r.Client = string(b[:n])
		syscall.Kill(h.Pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(h.Pid, &ws, 0, nil)
	}
	data, _ := json.Marshal(r)
	if err := os.WriteFile(os.Getenv(reportEnv), data, 0o600); err != nil {
		os.Exit(4)
	}
	os.Exit(0)
}

var (
	monitorOnce sync.Once
	monitorBin  string
	monitorDir  string // hull-monitor built for these tests
	monitorErr  error
)

// monitorPath is hull-monitor: beside $HULL, or built once as make builds it.
func monitorPath(t *testing.T) string {
	t.Helper()
	monitorOnce.Do(func() {
		if bin := os.Getenv("HULL"); bin != "" {
			monitorBin = filepath.Join(filepath.Dir(bin), "hull-monitor")
			_, monitorErr = os.Stat(monitorBin)
			return
		}
		if monitorDir, monitorErr = os.MkdirTemp("", "hull-monitor-test-"); monitorErr != nil {
			return
		}
		monitorBin, monitorErr = testutil.Monitor(monitorDir)
	})
	if monitorErr != nil {
		t.Fatal(monitorErr)
	}
	return monitorBin
}

// residentRun is one hull-monitor under test.
type residentRun struct {
	t        *testing.T
	dir      string
	h        *Handover // as handed over (Pid filled in by the helper)
	out, err *os.File  // the container's stdout and stderr, write ends
	ctl      *os.File  // init's stdin
	sock     string
	cmd      *exec.Cmd
	stderr   bytes.Buffer
	done     chan error
	started  time.Time
	finished bool
}

// startResident starts the helper (and so init and hull-monitor) with h's
// fields; ownEnv non-nil: h.Environ is left empty and hull-monitor runs with
// ownEnv, which it must give the engine's monitor.
func startResident(t *testing.T, h *Handover, ownEnv []string) *residentRun {
	r := &residentRun{t: t, dir: t.TempDir(), h: h, done: make(chan error, 1), started: time.Now()}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, _ := os.Pipe()
	keepR, keepW, _ := os.Pipe()
	ctlR, ctlW, _ := os.Pipe()
	r.out, r.err, r.ctl = outW, errW, ctlW
	r.sock = filepath.Join(r.dir, "attach.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: r.sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	lf, _ := l.File()
	l.Close()
	t.Cleanup(func() {
		for _, f := range []*os.File{outW, errW, keepW, ctlW} {
			f.Close()
		}
		// init, if the resident left it: its pid from the helper
		if b, err := os.ReadFile(filepath.Join(r.dir, "init.pid")); err == nil {
			if pid, _ := strconv.Atoi(string(b)); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if !r.finished && r.cmd.Process != nil {
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	h.Out, h.Err, h.Listener, h.Keep = fdOut, fdErr, fdListener, []int{fdKeep}
	if h.LogPath == "" {
		h.LogPath = filepath.Join(r.dir, "c-json.log")
	}
	h.Exe, _ = os.Executable()
	env := []string{roleEnv + "=woken", reportEnv + "=" + filepath.Join(r.dir, "report")}
	if ownEnv == nil {
		// (no cgroup files held open by the Go runtime: the test counts the
		// descriptors the engine's monitor is woken with)
		// A stale state in it is not passed on (resident.Exec's rule).
		h.Environ = append(env, "PATH=/usr/bin:/bin", "QUOTED=a \"b\" \\ é\x7f\n", Env+"=stale", "GODEBUG=containermaxprocs=0,updatemaxprocs=0")
	} else {
		ownEnv = append(ownEnv, env...)
	}
	r.cmd = exec.Command(os.Args[0])
	r.cmd.Env = []string{
		roleEnv + "=helper",
		"RESIDENT_TEST_STATE=" + string(h.Encode()),
		"RESIDENT_TEST_MONITOR=" + monitorPath(t),
		"RESIDENT_TEST_PIDFILE=" + filepath.Join(r.dir, "init.pid"),
		"RESIDENT_TEST_OWNENV=" + strings.Join(ownEnv, "\n"),
	}
	r.cmd.ExtraFiles = []*os.File{outR, errR, lf, keepR, ctlR}
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*os.File{outR, errR, lf, keepR, ctlR} {
		f.Close()
	}
	go func() { r.done <- r.cmd.Wait() }()
	// hull-monitor runs once it has the log open
	deadline := time.Now().Add(10 * time.Second)
	for {
		if slices.ContainsFunc(fdLinks(r.cmd.Process.Pid), func(l string) bool { return l == h.LogPath }) {
			break
		}
		select {
		case err := <-r.done:
			t.Fatalf("hull-monitor ended before it opened the log: %v\n%s", err, r.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("hull-monitor did not open the log")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", r.cmd.Process.Pid)); filepath.Base(exe) != "hull-monitor" {
		t.Fatalf("the helper runs %q, not hull-monitor", exe)
	}
	return r
}

// fdLinks are what pid's descriptors are open on.
func fdLinks(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd/", pid)
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink(dir + e.Name())
		out = append(out, l)
	}
	return out
}

// wait waits for the woken engine's monitor's report.
func (r *residentRun) wait() (*report, *Handover) {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.finished = true
		if err != nil {
			r.t.Fatalf("resident and woken: %v\n%s", err, r.stderr.String())
		}
	case <-time.After(20 * time.Second):
		r.t.Fatalf("no exec back from hull-monitor\n%s", r.stderr.String())
	}
	data, err := os.ReadFile(filepath.Join(r.dir, "report"))
	if err != nil {
		r.t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		r.t.Fatal(err)
	}
	h, err := ParseHandover(rep.State)
	if err != nil {
		r.t.Fatalf("the state hull-monitor handed back: %v\n%q", err, rep.State)
	}
	return &rep, h
}

// writeChunks writes data in pieces of odd sizes, so the resident's reads end
// anywhere in a line.
func writeChunks(t *testing.T, f *os.File, data []byte) {
	f.SetWriteDeadline(time.Now().Add(10 * time.Second)) // a resident that stops reading fails the test
	for i, n := 0, 1; len(data) > 0; i++ {
		n = min(len(data), []int{1, 7, 4093, 333, 16385, 2}[i%6])
		if _, err := f.Write(data[:n]); err != nil {
			t.Error(err)
			return
		}
		data = data[n:]
		if i%5 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// logLines splits a json-file log into its lines, checks each line's time is
// Go's RFC3339Nano form of a time in [from, to], and returns each line without
// its time, by stream.
func logLines(t *testing.T, data []byte, from, to time.Time) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		i := strings.LastIndex(line, `,"time":"`)
		if i < 0 || !strings.HasSuffix(line, "\"}\n") {
			t.Fatalf("not a json-file line: %q", line)
		}
		ts := line[i+len(`,"time":"`) : len(line)-3]
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || tm.UTC().Format(time.RFC3339Nano) != ts {
			t.Errorf("time %q: not as Go writes it (%v)", ts, err)
		}
		if tm.Before(from) || tm.After(to) {
			t.Errorf("time %s: not in [%s, %s]", ts, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
		}
		var e logs.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out[e.Stream] = append(out[e.Stream], line[:i])
	}
	return out
}

// goLog is what logs.Writer writes for the same output (CopyFrom, from pending),
// as logLines gives it.
func goLog(t *testing.T, stream string, pending, data []byte) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "go.log")
	w, err := logs.Create(p, logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if _, err := w.CopyFrom(stream, bytes.NewReader(data), nil, pending); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b, _ := os.ReadFile(p)
	return logLines(t, b, before, time.Now())[stream]
}

// tricky is output a container may write: every escape appendString makes,
// invalid UTF-8, a 40 KiB line, lines of exactly and one past 16 KiB, a rune
// cut at 16 KiB, and a last line without its newline.
func tricky() (stdout, stderr []byte) {
	var b bytes.Buffer
	b.WriteString("ing the line begun before\n")
	b.WriteString(`<a href="x">&amp;</a> \ back` + "\n")
	b.WriteString("\u2028 and \u2029 line separators, \ufffd itself, é ü 日本 🎉\n")
	b.WriteString("nul\x00 bell\x07 esc\x1b del\x7f tab\t cr\r ff\f end\n")
	b.WriteString("bad \xff\xfe \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf trunc \xe2\x82\n")
	b.WriteString(strings.Repeat("0123456789", 4096) + "\n")
	b.WriteString(strings.Repeat("x", logs.MaxLine-1) + "\n")
	b.WriteString(strings.Repeat("y", logs.MaxLine) + "\n")
	b.WriteString(strings.Repeat("z", logs.MaxLine-1) + "é after a cut rune\n")
	for i := range 200 {
		fmt.Fprintf(&b, "short line %d <%c>\n", i, rune(i))
	}
	b.WriteString("the end, without a newline")
	stdout = b.Bytes()
	stderr = []byte("an error\n" + strings.Repeat("\x01\xff", 9000) + "\nstill open: no end")
	return stdout, stderr
}

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("%s: line %d of %d (want %d):\n got %.300q\nwant %.300q", what, i+1, len(got), len(want), g, w)
			return
		}
	}
}

// TestResidentExit: the container's output logged exactly as logs.Writer logs
// it, init reaped with its orphan, and the engine's monitor woken with the exit
// and every field it handed over back as it was.
func TestResidentExit(t *testing.T) {
	h := &Handover{
		Args: []string{"engine", "--root", "/var/lib/my \"hull\"", "monitor", "--resume", "é\x01"},
		ID:   "c0ffee", LogOpts: []string{"max-size=10m"},
		Pending: map[string][]byte{"stdout": []byte("pend\xff-"), "stderr": {}},
		Engine:  []byte(`{"run":2,"startedAt":"2026-12-07T05:00:00Z","x":"\u2028 <>"}`),
	}
	r := startResident(t, h, nil)
	stdout, stderr := tricky()
	var wg sync.WaitGroup
	wg.Go(func() { writeChunks(t, r.out, stdout) })
	wg.Go(func() { writeChunks(t, r.err, stderr) })
	wg.Wait()
	// stdout ends before init, stderr stays open: the resident waits
	// DrainTimeout for it, and then logs its line in progress.
	r.out.Close()
	time.Sleep(200 * time.Millisecond)
	exited := time.Now()
	r.ctl.Write([]byte("7\n"))
	rep, got := r.wait()
	woke := time.Unix(0, rep.Now)

	data, err := os.ReadFile(h.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, data, r.started, woke)
	equalLines(t, "stdout", lines["stdout"], goLog(t, "stdout", h.Pending["stdout"], stdout))
	equalLines(t, "stderr", lines["stderr"], goLog(t, "stderr", nil, stderr))

	want := *h
	want.Pid = got.Pid
	want.Out, want.Err, want.Pending = -1, -1, nil
	want.Reason, want.Code, want.At = ReasonExited, 7, got.At
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("handed back:\n%+v\nwant\n%+v", got, &want)
	}
	if got.At.Before(exited) || woke.Sub(got.At) < DrainTimeout-100*time.Millisecond || woke.Sub(got.At) > DrainTimeout+time.Second {
		t.Errorf("exit at %s, woken %s later (exit asked at %s): want DrainTimeout (%s) between", got.At, woke.Sub(got.At), exited, DrainTimeout)
	}
	if rep.Zombies != 0 {
		t.Errorf("woken with %d children not collected", rep.Zombies)
	}
	// 0-2, the attach socket and the kept descriptor: nothing of the resident's.
	if want := []int{0, 1, 2, fdListener, fdKeep}; !slices.Equal(rep.Fds, want) {
		t.Errorf("woken with descriptors %v %q, want %v", rep.Fds, rep.Links, want)
	}
	wantEnv := []string{Env + "=" + rep.State}
	for _, kv := range h.Environ {
		if !strings.HasPrefix(kv, Env+"=") {
			wantEnv = append(wantEnv, kv)
		}
	}
	if !slices.Equal(rep.Environ, wantEnv) {
		t.Errorf("woken with environment %q, want %q", rep.Environ, wantEnv)
	}
}

// TestResidentAttach: a client connecting to the attach socket wakes the
// engine's monitor with the connection, and the lines in progress as pending.
func TestResidentAttach(t *testing.T) {
	h := &Handover{Args: []string{"engine"}, ID: "a77ac4", Code: 3, At: time.Unix(1765090800, 123456789).UTC(), Clients: []int{}}
	r := startResident(t, h, nil)
	r.out.Write([]byte("line1\nhalf \xff \"q\" \\ é\x00\x01"))
	r.err.Write([]byte("e1\nepart\t"))
	data := func() string { b, _ := os.ReadFile(h.LogPath); return string(b) }
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(data(), `"line1\n"`) || !strings.Contains(data(), `"e1\n"`) {
		if time.Now().After(deadline) {
			t.Fatalf("log: %q", data())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c, err := net.Dial("unix", r.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	greeting := make([]byte, 64)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(greeting)
	if string(greeting[:n]) != "hello from the engine\n" {
		t.Fatalf("attach client read %q, %v\n%s", greeting[:n], err, r.stderr.String())
	}
	c.Write([]byte("hello from the client"))
	rep, got := r.wait()
	if rep.Client != "hello from the client" {
		t.Errorf("the engine read %q from the client", rep.Client)
	}
	if len(got.Clients) != 1 || !slices.Contains(rep.Fds, got.Clients[0]) {
		t.Fatalf("clients %v, woken with descriptors %v", got.Clients, rep.Fds)
	}
	want := *h
	want.Pid, want.Clients, want.Reason = got.Pid, got.Clients, ReasonAttach
	want.Pending = map[string][]byte{"stdout": []byte("half \xff \"q\" \\ é\x00\x01"), "stderr": []byte("epart\t")}
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("handed back:\n%+v\nwant\n%+v", got, &want)
	}
	if want := []int{0, 1, 2, fdOut, fdErr, fdListener, fdKeep, got.Clients[0]}; !slices.Equal(rep.Fds, want) {
		t.Errorf("woken with descriptors %v, want %v", rep.Fds, want)
	}
	lines := logLines(t, []byte(data()), r.started, time.Unix(0, rep.Now))
	if want := map[string][]string{"stdout": {`{"log":"line1\n","stream":"stdout"`}, "stderr": {`{"log":"e1\n","stream":"stderr"`}}; !reflect.DeepEqual(lines, want) {
		t.Errorf("log: %q", data())
	}
}

// TestResidentRotation: max-size and max-file as logs.Writer rotates: a file is
// started afresh exactly when the next entry would take it past max-size, and
// max-file files are kept, the newest lines of the output; a log there before
// counts. Also: a signal's end is 128+signal, and without Environ the engine's
// monitor gets the resident's own environment.
func TestResidentRotation(t *testing.T) {
	const maxSize = 2048
	old := strings.Repeat(`{"log":"from before\n","stream":"stdout","time":"2026-12-07T05:00:00Z"}`+"\n", 20)
	for _, c := range []struct {
		name    string
		maxFile int
		before  string // the log's content at the start
		lines   int
		files   int // the files there at the end
	}{
		{"max-file=1", 1, "", 300, 1},
		{"max-file=3", 3, "", 300, 3},
		{"a log before", 3, old, 12, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			h := &Handover{Args: []string{"engine"}, ID: "r0", LogPath: filepath.Join(dir, "c-json.log"),
				LogOpts: []string{"max-size=2k", "max-file=" + strconv.Itoa(c.maxFile)}}
			if c.before != "" {
				os.WriteFile(h.LogPath, []byte(c.before), 0o640)
			}
			r := startResident(t, h, []string{"OWN=1"})
			var out bytes.Buffer
			for i := range c.lines {
				fmt.Fprintf(&out, "line %d %s\n", i, strings.Repeat("<", i%40))
			}
			writeChunks(t, r.out, out.Bytes())
			r.out.Close()
			r.err.Close()
			time.Sleep(100 * time.Millisecond)
			r.ctl.Write([]byte("kill\n"))
			rep, got := r.wait()
			if got.Code != 128+int(syscall.SIGKILL) || got.Reason != ReasonExited {
				t.Errorf("killed init: %s %d", got.Reason, got.Code)
			}
			if want := []string{Env + "=" + rep.State, "OWN=1", roleEnv + "=woken", reportEnv + "=" + filepath.Join(r.dir, "report")}; !slices.Equal(rep.Environ, want) {
				t.Errorf("woken with environment %q, want %q", rep.Environ, want)
			}

			var files []string // oldest first
			for i := c.files - 1; i >= 1; i-- {
				files = append(files, h.LogPath+"."+strconv.Itoa(i))
			}
			files = append(files, h.LogPath)
			if _, err := os.Stat(h.LogPath + "." + strconv.Itoa(c.files)); err == nil {
				t.Errorf("max-file %d: a file more than %d", c.maxFile, c.files)
			}
			var kept []string
			prev := -1
			for _, p := range files {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if len(data) > maxSize || len(data) == 0 {
					t.Errorf("%s: %d bytes (max-size %d)", filepath.Base(p), len(data), maxSize)
				}
				first := bytes.IndexByte(data, '\n') + 1
				if prev >= 0 && prev+first <= maxSize {
					t.Errorf("%s started with %d bytes before it, when %d more fit", filepath.Base(p), prev, maxSize-prev)
				}
				prev = len(data)
				if bytes.HasPrefix(data, []byte(old)) {
					data = data[len(old):]
				}
				kept = append(kept, logLines(t, data, r.started, time.Unix(0, rep.Now))["stdout"]...)
			}
			all := goLog(t, "stdout", nil, out.Bytes())
			if c.before != "" {
				if b, _ := os.ReadFile(files[0]); !strings.HasPrefix(string(b), old) || !slices.Equal(kept, all) {
					t.Errorf("the log before and its continuation: %d lines of %d, %.200q", len(kept), len(all), b)
				}
			} else if len(kept) == 0 || len(kept) >= len(all) || !slices.Equal(kept, all[len(all)-len(kept):]) {
				t.Errorf("kept %d lines, not the last of the %d written: %q", len(kept), len(all), kept)
			}
		})
	}
}

// TestResidentRefusesBadState: a state that ParseHandover would not read, or
// that hull-monitor cannot act on, ends it at once with a one-line error, and
// nothing made.
func TestResidentRefusesBadState(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "c-json.log")
	// (a pid that is never there: a state read by mistake ends in an error
	// about it, not in a resident watching someone's process)
	good := "exe \"/bin/true\"\npid 2147483647\nlogPath " + strconv.Quote(log) + "\n"
	for _, state := range []string{
		`{"Exe":"/bin/true"}`,
		strings.TrimSuffix(good, "\n"),
		good + "exe /bin/true\n",
		good + "exe \"a\n",
		good + "arg \"a\"b\"\n",
		good + "arg \"a\\q\"\n",
		good + "arg \"\\ud800\"\n",
		good + "arg \"\\x4\"\n",
		good + "arg \"\\400\"\n",
		good + "arg \"\\'\"\n",
		good + "arg \"raw \xff\"\n",
		good + "arg \"tab\t\"\n",
		good + "id \"x\" \n",
		good + "pid x\n",
		good + "pid 99999999999\n",
		good + "out 1.5\n",
		good + "out -2\n",
		good + "at 9223372036854775808\n",
		good + "pending stdin \"x\"\n",
		good + "pending stdout\n",
		good + "pending stdout \n",
		good + "logOpt \"max-size=-1\"\n",
		good + "logOpt \"max-file=0\"\n",
		good + "logOpt \"compress=true\"\n",
		good + "logPath \"a\\x00b\"\n",
		good + "unknown 1\n",
		good + "\n",
		"exe \"/bin/true\"\nlogPath " + strconv.Quote(log) + "\n",
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, monitorPath(t))
		cmd.Env = []string{Env + "=" + state}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		msg := stderr.String()
		if err == nil || !strings.HasPrefix(msg, "hull-monitor: monitor state: ") || strings.Count(msg, "\n") != 1 {
			t.Errorf("state %q: %v, %q", state, err, msg)
		}
		if _, err := os.Stat(log); err == nil {
			t.Fatalf("state %q: the log was made", state)
		}
	}
	cmd := exec.Command(monitorPath(t))
	cmd.Env = []string{}
	if out, err := cmd.CombinedOutput(); err == nil || string(out) != "hull-monitor: no monitor state in $"+Env+"\n" {
		t.Errorf("no state: %v, %q", err, out)
	}
}
