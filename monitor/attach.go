package monitor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hullproject/hull/runtime/console"
	"golang.org/x/sys/unix"
)

// The attach protocol. A client (the command that started the container, over the
// socket pair it forked the monitor with; or `hull attach`, over the unix socket in
// the container's state directory) talks to the monitor in SOCK_SEQPACKET messages,
// so a message is never split or merged: one type byte, then the payload.
//
//	monitor → client
//	MsgStdout data      the container's stdout (all its output with a terminal)
//	MsgStderr data      its stderr
//	MsgControl JSON     Control: {"pid":N} the program runs; {"error":"...","code":N}
//	                    it could not start; {"exit":N} it ended (the last message)
//	client → monitor
//	MsgStdin data       input, for its stdin or its terminal
//	MsgCloseStdin       the starter's input ended: the container's stdin closes
//	MsgResize rows cols window size of its terminal (two big-endian uint16)
//	MsgSignal signo     a signal for the container (--sig-proxy), one byte
//	MsgContainer id     the container to run: the first message to a monitor
//	                    started before its container existed (`hull monitor -`)
//
// An attached client that reads too slowly for WriteTimeout is dropped rather than
// allowed to stall the container's output (and its log); the starter is not: it
// holds the container back as a pipe to its stdout would.
const (
	MsgStdout     = 'o'
	MsgStderr     = 'e'
	MsgControl    = 'm'
	MsgStdin      = 'i'
	MsgCloseStdin = 'c'
	MsgResize     = 'w'
	MsgSignal     = 's'
	MsgContainer  = 'C'
)

// MaxMsg bounds one message; output is cut into chunks below it.
const MaxMsg = 32 << 10

// WriteTimeout is how long a client may hold up the container's output.
const WriteTimeout = 5 * time.Second

// Control is the payload of a MsgControl message.
type Control struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
	Exit  *int   `json:"exit,omitempty"`
}

// Hub connects the attached clients to the running container. Its zero value has no
// clients and refuses new ones until Begin.
type Hub struct {
	mu      sync.Mutex
	clients map[*net.UnixConn]bool // true: the starter, whose end of input closes stdin
	live    bool
	in      *os.File // the container's input: pty master or stdin pipe; nil: none
	master  *os.File // the pty master, for window sizes
	signal  func(unix.Signal)
}

// Begin opens the hub for a run of the container: in (may be nil) takes input,
// master (may be nil) window sizes, signal the clients' signals.
func (h *Hub) Begin(in, master *os.File, signal func(unix.Signal)) {
	h.mu.Lock()
	h.live, h.in, h.master, h.signal = true, in, master, signal
	h.mu.Unlock()
}

// End tells every client the container ended with code and drops them all.
func (h *Hub) End(code int) {
	h.Control(Control{Exit: &code})
	h.mu.Lock()
	for c := range h.clients {
		c.Close()
	}
	h.clients = nil
	h.live, h.in, h.master = false, nil, nil
	h.mu.Unlock()
}

// Clients counts the attached clients.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Add makes conn a client. A starter may join before Begin (it must see the first
// byte of output); its input is served once Serve is called for it.
func (h *Hub) Add(conn *net.UnixConn, starter bool) {
	h.mu.Lock()
	if h.clients == nil {
		h.clients = map[*net.UnixConn]bool{}
	}
	h.clients[conn] = starter
	h.mu.Unlock()
}

// Serve reads conn's input until it goes. What it sent before (a starter's first
// window size) is applied before Serve returns, so before the program starts.
func (h *Hub) Serve(conn *net.UnixConn) {
	buf := make([]byte, MaxMsg+1)
	if rc, err := conn.SyscallConn(); err == nil {
		for {
			n, rerr := 0, error(nil)
			rc.Read(func(fd uintptr) bool {
				n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
				return true // never wait: only what is queued
			})
			if rerr != nil || n <= 0 {
				break
			}
			h.handle(conn, buf[:n])
		}
	}
	go func() {
		for {
			n, err := conn.Read(buf)
			if err != nil || n == 0 {
				break
			}
			h.handle(conn, buf[:n])
		}
		h.drop(conn)
	}()
}

// handle acts on one message from conn.
func (h *Hub) handle(conn *net.UnixConn, msg []byte) {
	h.mu.Lock()
	in, master, signal, starter := h.in, h.master, h.signal, h.clients[conn]
	h.mu.Unlock()
	p := msg[1:]
	switch msg[0] {
	case MsgStdin:
		if in != nil {
			in.Write(p)
		}
	case MsgCloseStdin:
		if starter && in != nil && in != master {
			h.mu.Lock()
			h.in = nil
			h.mu.Unlock()
			in.Close()
		}
	case MsgResize:
		if master != nil && len(p) == 4 {
			console.SetSize(master, binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:]))
		}
	case MsgSignal:
		if signal != nil && len(p) == 1 {
			signal(unix.Signal(p[0]))
		}
	}
}

func (h *Hub) drop(conn *net.UnixConn) {
	h.mu.Lock()
	delete(h.clients, conn)
	h.mu.Unlock()
	conn.Close()
}

// Accept serves clients connecting to l until it is closed: each joins if the
// container runs and is told NotRunning otherwise.
func (h *Hub) Accept(l *net.UnixListener) {
	for {
		conn, err := l.AcceptUnix()
		if err != nil {
			// closed, or a deadline (a monitor handing over) ends the serving
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of fds, say: no busy loop
			continue
		}
		h.mu.Lock()
		live := h.live
		h.mu.Unlock()
		if !live {
			SendControl(conn, Control{Error: "the container is not running", Code: 125})
			conn.Close()
			continue
		}
		h.Add(conn, false)
		h.Serve(conn)
	}
}

// SendControl sends m to one client.
func SendControl(c *net.UnixConn, m Control) error {
	c.SetWriteDeadline(time.Now().Add(WriteTimeout))
	return Send(c, MsgControl, mustJSON(m))
}

// Control sends m to every client.
func (h *Hub) Control(m Control) { h.broadcast(MsgControl, mustJSON(m)) }

// Stdout and Stderr are the writers the container's output is copied to. Their
// writes never fail: a client that fails is dropped.
func (h *Hub) Stdout() io.Writer { return stream{h, MsgStdout} }
func (h *Hub) Stderr() io.Writer { return stream{h, MsgStderr} }

type stream struct {
	h   *Hub
	typ byte
}

func (s stream) Write(p []byte) (int, error) {
	s.h.broadcast(s.typ, p)
	return len(p), nil
}

func (h *Hub) broadcast(typ byte, p []byte) {
	h.mu.Lock()
	if len(h.clients) == 0 {
		h.mu.Unlock()
		return
	}
	type peer struct {
		c       *net.UnixConn
		starter bool
	}
	peers := make([]peer, 0, len(h.clients))
	for c, starter := range h.clients {
		peers = append(peers, peer{c, starter})
	}
	h.mu.Unlock()
	for len(p) > 0 || typ == MsgControl {
		chunk := p[:min(len(p), MaxMsg)]
		p = p[len(chunk):]
		for _, pr := range peers {
			// The starter holds the container back as its own stdout would
			// (`hull run | less`); another client is dropped if it stalls.
			if !pr.starter {
				pr.c.SetWriteDeadline(time.Now().Add(WriteTimeout))
			}
			if err := Send(pr.c, typ, chunk); err != nil {
				h.drop(pr.c)
			}
		}
		if typ == MsgControl {
			return
		}
	}
}

// Send sends one message of type typ.
func Send(c *net.UnixConn, typ byte, p []byte) error {
	msg := make([]byte, 1+len(p))
	msg[0] = typ
	copy(msg[1:], p)
	_, err := c.Write(msg)
	return err
}

func mustJSON(v any) []byte {
	data, _ := json.Marshal(v)
	return data
}
