// Package ptytest runs a command on a pseudo-terminal that a test drives, the way
// a user's shell runs it: a session of its own with the pty as its controlling
// terminal (24 rows, 80 columns), everything it shows collected for the test to
// wait on. The engine's tests (`hull run -it`, attach, exec -it) and the Docker
// API's (the docker CLI on a terminal) share it.
package ptytest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hullproject/hull/runtime/console"
)

// Term is a command running on a terminal: Master is the terminal's other end,
// where the test types and resizes (console.SetSize on Master).
type Term struct {
	Master *os.File

	t   testing.TB
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

// Start starts cmd with the slave side as its stdin, stdout and stderr and its
// controlling terminal. The test's cleanup kills what is left of it.
func Start(t testing.TB, cmd *exec.Cmd) *Term {
	t.Helper()
	master, slave, err := console.OpenPty("/dev/ptmx")
	if err != nil {
		t.Fatal(err)
	}
	console.SetSize(slave, 24, 80)
	p := &Term{Master: master, t: t, cmd: cmd}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		master.Close()
		slave.Close()
		t.Fatal(err)
	}
	slave.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); master.Close() })
	return p
}

// Type writes s to the terminal as if typed.
func (p *Term) Type(s string) {
	if _, err := p.Master.Write([]byte(s)); err != nil {
		p.t.Errorf("typing %q: %v", s, err)
	}
}

// Expect tells whether the terminal showed s within 15 seconds.
func (p *Term) Expect(s string) bool { return p.ExpectWithin(15*time.Second, s) }

// ExpectWithin tells whether the terminal showed s within d.
func (p *Term) ExpectWithin(d time.Duration, s string) bool {
	deadline := time.Now().Add(d)
	for {
		if strings.Contains(p.Output(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Output is everything the terminal showed so far.
func (p *Term) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Exit waits up to 20 seconds for the command's end and returns its exit code
// (-1 when a signal ended it); the test fails if it does not end.
func (p *Term) Exit() int {
	p.t.Helper()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		p.t.Fatalf("%s did not exit; the terminal shows %q", p.cmd.Path, p.Output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// Signal sends sig to the command (SIGWINCH after a resize of Master, as a
// terminal emulator does).
func (p *Term) Signal(sig os.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Errorf("signal %v: %v", sig, err)
	}
}
