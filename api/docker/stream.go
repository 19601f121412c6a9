package docker

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/jsonstream"
)

// Streams, as docker's daemon writes them:
//
//   - A JSON message stream (pull, push, load, events): status 200 at once, then
//     one JSON object a line, each flushed. An error once it has begun is a last
//     message, {"errorDetail":{"message":...},"error":...}: the status is long
//     sent. jsonStream writes one.
//   - A hijacked connection (attach, exec start): the handler takes the
//     connection from net/http (hijack), answers 101 UPGRADED when the client
//     asked for `Upgrade: tcp` and 200 OK otherwise, and then speaks raw bytes
//     both ways: the client's stdin in, the container's output out. A client
//     that has sent all its input closes its write side (a half-close): Read
//     returns io.EOF while output still flows; the server closes the connection
//     when the output ends.
//   - The output of a container without a terminal is multiplexed: each chunk
//     prefixed by 8 bytes, [stream, 0, 0, 0, size (4 bytes, big endian)], stream
//     1 for stdout and 2 for stderr (3 for the daemon's own error). multiplex
//     writes it; stdcopy.StdCopy (github.com/moby/moby/api/pkg/stdcopy, what
//     docker's clients use) reads it. With a terminal the output is raw.

// streamContentType is the Content-Type of an attach or exec stream: raw with a
// terminal; multiplexed without one, which API 1.42 and later name as such.
func streamContentType(r *http.Request, tty bool) string {
	if !tty && versionAtLeast(r, "1.42") {
		return types.MediaTypeMultiplexedStream
	}
	return types.MediaTypeRawStream
}

// hijackedConn is a connection taken over from net/http.
type hijackedConn struct {
	net.Conn
	r *bufio.Reader // holds what the client sent right after its request
}

// Read reads the client's input; io.EOF once it closed its side.
func (c *hijackedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite ends the output (the client reads EOF) and leaves the input open.
func (c *hijackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// hijack takes the request's connection over, as docker's attach and exec
// start do: it answers "101 UPGRADED" (Upgrade: tcp) if the client asked for
// the upgrade and "200 OK" if not (docker's CLI always asks; older clients
// did not), with contentType and the headers already set on w. The handler
// owns the connection from then on: it must close it, and must not return
// before the stream is over (the server counts a request in flight as
// activity, and the idle timeout waits for it). Read the request body, if
// any, before.
func hijack(w http.ResponseWriter, r *http.Request, contentType string) (*hijackedConn, error) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("hijack the connection: %w", err)
	}
	// The server's deadlines (reading the request's header) must not cut the stream.
	conn.SetDeadline(time.Time{})
	upgrade := r.Header.Get("Upgrade") == "tcp"
	if sw, ok := w.(*statusWriter); ok {
		sw.status, sw.wrote = http.StatusOK, true
		if upgrade {
			sw.status = http.StatusSwitchingProtocols
		}
	}
	h := w.Header().Clone()
	h.Set("Content-Type", contentType)
	if upgrade {
		h.Set("Connection", "Upgrade")
		h.Set("Upgrade", "tcp")
		fmt.Fprint(rw, "HTTP/1.1 101 UPGRADED\r\n")
	} else {
		fmt.Fprint(rw, "HTTP/1.1 200 OK\r\n")
	}
	h.Write(rw)
	fmt.Fprint(rw, "\r\n")
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil, err
	}
	return &hijackedConn{Conn: conn, r: rw.Reader}, nil
}

// multiplex returns writers that frame what is written to each as one stream of
// docker's multiplexed protocol on w: stdout (1), stderr (2) and the daemon's
// own error (3, which a client's StdCopy returns as an error). They may be
// written from several goroutines; each Write is one whole frame.
func multiplex(w io.Writer) (stdout, stderr, syserr io.Writer) {
	mu := &sync.Mutex{}
	return &muxWriter{mu, w, stdcopy.Stdout}, &muxWriter{mu, w, stdcopy.Stderr}, &muxWriter{mu, w, stdcopy.Systemerr}
}

type muxWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	stream stdcopy.StdType
}

func (m *muxWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if uint64(len(p)) > 1<<32-1 {
		return 0, errors.New("multiplexed frame too large")
	}
	frame := make([]byte, 8+len(p))
	frame[0] = byte(m.stream)
	binary.BigEndian.PutUint32(frame[4:], uint32(len(p)))
	copy(frame[8:], p)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.w.Write(frame); err != nil {
		return 0, err
	}
	if f, ok := m.w.(http.Flusher); ok {
		f.Flush()
	}
	return len(p), nil
}

// jsonStream writes docker's JSON message stream on an HTTP answer. Its
// methods may be called from several goroutines (a pull's layers progress at
// once).
type jsonStream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
}

func newJSONStream(w http.ResponseWriter) *jsonStream {
	return &jsonStream{w: w, enc: json.NewEncoder(w)}
}

// Begin sends the status (200) and the headers now, before the first message:
// a client waiting on a quiet stream (events) knows it is open.
func (s *jsonStream) Begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.begin()
}

func (s *jsonStream) begin() {
	if s.started {
		return
	}
	s.started = true
	s.w.Header().Set("Content-Type", "application/json")
	s.w.WriteHeader(http.StatusOK)
	http.NewResponseController(s.w).Flush()
}

// Send writes v as one message and flushes it; an error is the client's
// going away.
func (s *jsonStream) Send(v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.begin()
	if err := s.enc.Encode(v); err != nil {
		return err
	}
	return http.NewResponseController(s.w).Flush()
}

// streamMessage is jsonstream.Message with the "error" string beside
// errorDetail, which docker still sends and older clients (docker-py, compose
// v1) read.
type streamMessage struct {
	jsonstream.Message
	ErrorMessage string `json:"error,omitempty"`
}

// Progress sends a progress message: {"status":...,"progressDetail":...,"id":...}.
func (s *jsonStream) Progress(m jsonstream.Message) error {
	return s.Send(streamMessage{Message: m})
}

// Error ends the stream with err as its last message. Before anything was sent
// the handler should rather return err: it is then answered with its status.
func (s *jsonStream) Error(err error) error {
	return s.Send(streamMessage{
		Message:      jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}},
		ErrorMessage: err.Error(),
	})
}

// Started tells whether the status has been sent.
func (s *jsonStream) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}
