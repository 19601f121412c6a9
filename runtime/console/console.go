// Package console makes a container's terminal and hands it around: a pty pair opened
// inside the container's own devpts, its master passed over a unix socket with
// SCM_RIGHTS (runc's --console-socket protocol), and a foreground proxy that copies
// between the user's terminal and the master and forwards window-size changes.
package console

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// OpenPty opens a new pty pair through ptmx (the container's /dev/ptmx, so the pair
// lives in the container's devpts instance) and returns the master and the slave.
func OpenPty(ptmx string) (master, slave *os.File, err error) {
	mfd, err := unix.Open(ptmx, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", ptmx, err)
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the slave through the master, so the slave is the one that
	// belongs to this master even if the container swapped its /dev/pts.
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if e != 0 {
		master.Close()
		return nil, nil, fmt.Errorf("open pty peer: %w", e)
	}
	sfd := int(r)
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		unix.Close(sfd)
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	return master, os.NewFile(uintptr(sfd), "/dev/pts/"+strconv.Itoa(n)), nil
}

// SetSize sets the window size of a terminal.
func SetSize(f *os.File, rows, cols uint16) error {
	ws := &unix.Winsize{Row: rows, Col: cols}
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		return fmt.Errorf("set window size: %w", err)
	}
	return nil
}

// CopySize copies the window size of from onto to.
func CopySize(from, to *os.File) error {
	ws, err := unix.IoctlGetWinsize(int(from.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return err
	}
	return unix.IoctlSetWinsize(int(to.Fd()), unix.TIOCSWINSZ, ws)
}

// SendFd sends f over the unix socket conn with name as the message body, the way
// runc's console socket protocol does.
func SendFd(conn *os.File, name string, fd int) error {
	oob := unix.UnixRights(fd)
	if err := unix.Sendmsg(int(conn.Fd()), []byte(name), oob, nil, 0); err != nil {
		return fmt.Errorf("send fd: %w", err)
	}
	return nil
}

// RecvFd receives one file descriptor sent with SendFd.
func RecvFd(conn *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := unix.Recvmsg(int(conn.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive fd: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive fd: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, f...)
		}
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receive fd: expected one descriptor, got %d", len(fds))
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// DialSocket connects to a console socket given by path.
func DialSocket(path string) (*os.File, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	defer c.Close()
	f, err := c.File()
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	return f, nil
}

// Proxy connects the user's terminal (in, out) to a pty master until the master
// closes: it puts in into raw mode when it is a terminal, copies both ways, and
// forwards SIGWINCH as window-size changes. The returned restore puts the user's
// terminal back and stops the resize forwarding; call it once the process exited.
func Proxy(master *os.File, in *os.File, out io.Writer) (wait func(), restore func()) {
	return ProxyInput(master, in, in, out)
}

// ProxyInput is Proxy with the input read from r rather than from in, the user's
// terminal, which still gives raw mode and the window size: r may filter what is
// typed (docker's detach keys). When r ends, input stops; the output goes on.
func ProxyInput(master, in *os.File, r io.Reader, out io.Writer) (wait func(), restore func()) {
	var state *term.State
	if term.IsTerminal(int(in.Fd())) {
		state, _ = term.MakeRaw(int(in.Fd()))
		_ = CopySize(in, master)
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		for range winch {
			_ = CopySize(in, master)
		}
	}()
	go func() { _, _ = io.Copy(master, r) }()
	done := make(chan struct{})
	go func() {
		// EIO is how a pty master reports that the last slave closed.
		_, err := io.Copy(out, master)
		if err != nil && !errors.Is(err, unix.EIO) && !errors.Is(err, os.ErrClosed) {
			fmt.Fprintf(os.Stderr, "console: %v\n", err)
		}
		close(done)
	}()
	return func() { <-done }, func() {
		signal.Stop(winch)
		close(winch)
		if state != nil {
			_ = term.Restore(int(in.Fd()), state)
		}
	}
}
