package docker

import (
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/logs"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// routesStreams registers the streams: attach, logs, exec create/start/resize/inspect.
func (s *Server) routesStreams(rt *router) {
	rt.handle("POST", "/containers/{name}/attach", s.containerAttach)
	rt.handle("GET", "/containers/{name}/attach/ws", s.containerAttachWS)
	rt.handle("POST", "/containers/{name}/resize", s.containerResize)
	rt.handle("GET", "/containers/{name}/logs", s.containerLogs)
	rt.handle("POST", "/containers/{name}/exec", s.execCreate)
	rt.handle("POST", "/exec/{id}/start", s.execStart)
	rt.handle("POST", "/exec/{id}/resize", s.execResize)
	rt.handle("GET", "/exec/{id}/json", s.execInspect)
}

// output is where an attached stream's output goes: the container's stdout and
// stderr, framed (multiplex) without a terminal, raw with one. Its writers may be
// handed out before the connection is taken over (a client attached before the
// start): they wait for it. A client that went away makes them fail silently and
// closes gone, so that the copying can stop.
type output struct {
	ready          chan struct{}
	stdout, stderr io.Writer
	gone           chan struct{}
	goneOnce       sync.Once
}

func newOutput() *output {
	return &output{ready: make(chan struct{}), gone: make(chan struct{})}
}

// connect sends the output to w: stdout and stderr (nil: not asked for, dropped).
func (o *output) connect(w io.Writer, tty, stdout, stderr bool) {
	o.stdout, o.stderr = w, w
	if !tty {
		o.stdout, o.stderr, _ = multiplex(w)
	}
	if !stdout {
		o.stdout = io.Discard
	}
	if !stderr {
		o.stderr = io.Discard
	}
	close(o.ready)
}

func (o *output) writer(stderr bool) io.Writer { return &outputWriter{o, stderr} }

type outputWriter struct {
	o      *output
	stderr bool
}

func (w *outputWriter) Write(p []byte) (int, error) {
	<-w.o.ready
	dst := w.o.stdout
	if w.stderr {
		dst = w.o.stderr
	}
	if _, err := dst.Write(p); err != nil {
		w.o.goneOnce.Do(func() { close(w.o.gone) })
		return 0, err
	}
	return len(p), nil
}

// headRead waits, a while at most, until the client has read the head of the
// answer on a hijacked connection before any output is sent: docker-py reads
// the head through a buffer and the stream from the raw socket after it, so
// output that came with the head would be lost (it was, in one attach of
// three with logs=1). On a unix socket SIOCOUTQ counts the bytes sent that
// the peer has not read yet; on TCP it counts unacknowledged ones, which says
// nothing of the client's reading, so it is not waited for there.
func headRead(c *hijackedConn) {
	uc, ok := c.Conn.(*net.UnixConn)
	if !ok {
		return
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return
	}
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		n := 0
		if cerr := rc.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); cerr != nil || err != nil || n == 0 {
			return
		}
	}
}

// hangup is closed when the client of a hijacked unix connection has closed it
// whole (not its half-close: the end of its input), or when stop is closed. A
// client waiting for a start sends nothing and is sent nothing, so only the
// kernel tells it left: POLLHUP is set once both directions are shut, where a
// half-close sets POLLRDHUP alone. On TCP a close and a half-close both are a
// FIN: it is never closed there.
func hangup(c *hijackedConn, stop <-chan struct{}) <-chan struct{} {
	gone := make(chan struct{})
	uc, ok := c.Conn.(*net.UnixConn)
	if !ok {
		return gone
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return gone
	}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			hup := false
			rc.Control(func(fd uintptr) {
				fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
				if n, err := unix.Poll(fds, 0); err == nil && n == 1 {
					hup = fds[0].Revents&unix.POLLHUP != 0
				}
			})
			if hup {
				close(gone)
				return
			}
		}
	}()
	return gone
}

// input reads a hijacked connection's input (the client's stdin) into chunks on
// in, watching for the detach keys when keys is not nil; in is closed at the end
// of input (the client's half-close, or it went), and detached also when the
// keys were typed.
func readInput(conn io.Reader, keys []byte) (in chan []byte, detached chan struct{}) {
	in, detached = make(chan []byte, 16), make(chan struct{})
	go func() {
		defer close(in)
		var d *engine.Detacher
		if keys != nil {
			d = &engine.Detacher{Keys: keys}
		}
		buf := make([]byte, 32<<10)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				p, hit := append([]byte(nil), buf[:n]...), false
				if d != nil {
					p, hit = d.Feed(p)
				}
				if len(p) > 0 {
					in <- p
				}
				if hit {
					close(detached)
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return in, detached
}

// containerAttach answers POST /containers/{id}/attach: the hijacked stream of
// the container's output (and its input with stdin=1 when it was created with
// OpenStdin), until the container ends or the client types the detach keys (a
// container with a terminal). With
// logs=1 its log comes first; stream=0 ends there. A container that is not running
// is waited for: its next start (docker run and start -a attach, then start) has
// the client as its starter, which sees the first byte of output, and whose end of
// input closes the container's stdin.
func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) error {
	keys, err := engine.ParseDetachKeys(r.URL.Query().Get("detachKeys"))
	if err != nil {
		return badRequest(err)
	}
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	switch c.State.Status {
	case engine.StatusPaused:
		return conflictf("container %s is paused, unpause the container before attach", c.Name)
	case engine.StatusRestarting:
		return conflictf("container %s is restarting, wait until the container is running", c.Name)
	}
	stream, withLogs := queryBool(r, "stream"), queryBool(r, "logs")
	stdin := queryBool(r, "stdin") && c.Config.OpenStdin
	tty := c.Config.Tty
	out := newOutput()
	var pending *engine.PendingAttach
	if stream && !c.State.Running() {
		// Registered before the 101: the client's start may follow at once.
		if pending, err = s.e.AttachNext(c.ID, &engine.Attach{Stdout: out.writer(false), Stderr: out.writer(true)}); err != nil {
			return err
		}
	}
	conn, err := hijack(w, r, streamContentType(r, tty))
	if err != nil {
		if pending != nil {
			pending.Cancel()
		}
		return err
	}
	defer conn.Close()
	headRead(conn)
	out.connect(conn, tty, queryBool(r, "stdout"), queryBool(r, "stderr"))
	if withLogs {
		if err := s.e.Logs(c.ID, engine.LogsOptions{Tail: -1}, func(en logs.Entry) error {
			_, err := out.writer(en.Stream == "stderr").Write([]byte(en.Log))
			return err
		}); err != nil {
			s.log.Debug("api: attach: logs", "container", c.ID, "error", err)
		}
	}
	if !stream {
		conn.CloseWrite()
		return nil
	}
	// The detach keys are watched for with a terminal only, as docker's: a
	// stream of bytes (a file piped in) holds them by chance.
	var ks []byte
	if stdin && tty {
		ks = keys
	}
	in, detached := readInput(conn, ks)
	var sess *engine.Session
	var wait func() (int, error)
	if pending != nil {
		waited := make(chan struct{})
		left := hangup(conn, waited)
		var h *engine.Handle
		select {
		case h = <-pending.Started():
		case <-left: // gone unseen otherwise until the start
		case <-detached:
		case <-s.closing:
		}
		close(waited)
		if h == nil {
			// The start failed (its caller was told why), another client
			// took the wait over, or this one is gone.
			pending.Cancel()
			return nil
		}
		sess, wait = h.Session, h.Wait
	} else {
		if sess, err = s.e.Attach(c.ID); err != nil {
			// Ended between the look and the attach: nothing more to send.
			s.log.Debug("api: attach", "container", c.ID, "error", err)
			conn.CloseWrite()
			return nil
		}
		wait = func() (int, error) { return sess.Wait(out.writer(false), out.writer(true)) }
	}
	go func() {
		for p := range in {
			if stdin {
				sess.Write(p)
			}
		}
		select {
		case <-detached:
		default:
			if stdin {
				sess.CloseInput() // the starter's: the container's stdin closes
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		wait()
		close(done)
	}()
	select {
	case <-done:
	case <-detached:
	case <-out.gone:
	case <-s.closing:
	}
	// Closing the session detaches: the container runs on.
	sess.Close()
	<-done
	conn.CloseWrite()
	return nil
}

// containerAttachWS answers GET /containers/{id}/attach/ws, which hull does not
// serve.
func (s *Server) containerAttachWS(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.e.Get(r.PathValue("name")); err != nil {
		return err
	}
	return notImplementedf("attach over a websocket is not supported: use POST /containers/{id}/attach")
}

// querySize reads the h and w parameters of a resize, as docker: both required.
func querySize(r *http.Request) (rows, cols uint16, err error) {
	var v [2]uint16
	for i, key := range []string{"h", "w"} {
		s := r.URL.Query().Get(key)
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return 0, 0, badRequestf("invalid value for %s: %q: want a number from 0 to 65535", key, s)
		}
		v[i] = uint16(n)
	}
	return v[0], v[1], nil
}

// containerResize answers POST /containers/{id}/resize: the window size of the
// container's terminal.
func (s *Server) containerResize(w http.ResponseWriter, r *http.Request) error {
	rows, cols, err := querySize(r)
	if err != nil {
		return err
	}
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return conflictf("container %s is not running", c.Name)
	}
	sess, err := s.e.Attach(c.ID)
	if err != nil {
		return conflictf("%w", err)
	}
	defer sess.Close()
	if err := sess.Resize(rows, cols); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// containerLogs answers GET /containers/{id}/logs: the container's log, framed
// as multiplexed stdout and stderr without a terminal, raw with one; with
// follow=1 until the container is not running (or the client leaves). Each
// line as hull logs writes it with the same flags (timestamps, details).
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) error {
	stdout, stderr := queryBool(r, "stdout"), queryBool(r, "stderr")
	if !stdout && !stderr {
		return badRequestf("bad parameters: you must choose at least one stream")
	}
	o := engine.LogsOptions{Tail: -1, Follow: queryBool(r, "follow")}
	var err error
	if o.Since, _, err = queryTime(r, "since"); err != nil {
		return err
	}
	if o.Until, _, err = queryTime(r, "until"); err != nil {
		return err
	}
	if t := r.URL.Query().Get("tail"); t != "" && t != "all" {
		if o.Tail, err = strconv.Atoi(t); err != nil || o.Tail < 0 {
			return badRequestf("invalid value for tail: %q: want a number or all", t)
		}
	}
	timestamps, details := queryBool(r, "timestamps"), queryBool(r, "details")
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	if c.HostConfig.LogConfig.Type == engine.LogNone {
		// as docker's: its log drivers that keep nothing cannot be read (engine.Logs)
		return notImplementedf("configured logging driver does not support reading")
	}
	w.Header().Set("Content-Type", streamContentType(r, c.Config.Tty))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	out := newOutput()
	out.connect(w, c.Config.Tty, stdout, stderr)
	o.Stop = s.stopping(r)
	err = s.e.Logs(c.ID, o, func(en logs.Entry) error {
		line := en.Log
		if details {
			// the entry's attributes (KEY=VALUE,...; hull's have none), then a
			// space, as hull logs --details
			line = " " + line
		}
		if timestamps {
			line = en.Time.Format(time.RFC3339Nano) + " " + line
		}
		if _, err := out.writer(en.Stream == "stderr").Write([]byte(line)); err != nil {
			return err
		}
		if c.Config.Tty && o.Follow {
			rc.Flush()
		}
		return nil
	})
	if err != nil {
		s.log.Debug("api: logs", "container", c.ID, "error", err)
	}
	return nil
}

// execCreate answers POST /containers/{id}/exec: an exec record to start later.
func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecCreateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	o := engine.ExecOptions{
		Args: req.Cmd, Env: req.Env, User: req.User, WorkingDir: req.WorkingDir,
		Privileged: req.Privileged, Tty: req.Tty, DetachKeys: req.DetachKeys,
	}
	if req.ConsoleSize != nil && req.Tty {
		o.ConsoleSize = &specs.Box{Height: req.ConsoleSize[0], Width: req.ConsoleSize[1]}
	}
	rec, err := s.e.CreateExec(r.PathValue("name"), engine.ExecRecord{
		Options:     o,
		AttachStdin: req.AttachStdin, AttachStdout: req.AttachStdout, AttachStderr: req.AttachStderr,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: rec.ID})
}

// execStart answers POST /exec/{id}/start: in the background (Detach), or on the
// hijacked connection as attach's, framed as the request's Tty says (as
// docker's). The stream ends when the process has ended and its output is sent,
// or at the detach keys (the process runs on). A process that cannot start is
// told on the stream, as docker's daemon does; its exit code (126, 127) is the
// exec's.
func (s *Server) execStart(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecStartRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
	}
	id := r.PathValue("id")
	rec, err := s.e.InspectExec(id)
	if err != nil {
		return err
	}
	switch {
	case rec.Running:
		return conflictf("exec %s is already running", id)
	case rec.ExitCode != nil:
		return conflictf("exec %s has already run", id)
	}
	if req.Detach {
		wait, err := s.e.StartExec(id, engine.ExecIO{})
		if err != nil {
			return err
		}
		go wait() // records its end
		return nil
	}
	// The process's ends of its stdio, and the service's.
	var xio engine.ExecIO
	var theirs []*os.File
	var stdinW, stdoutR, stderrR *os.File
	defer func() {
		for _, f := range theirs {
			f.Close()
		}
	}()
	pipe := func(theirEnd **os.File, input bool) (*os.File, error) {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		if input {
			*theirEnd = pr
			theirs = append(theirs, pr)
			return pw, nil
		}
		*theirEnd = pw
		theirs = append(theirs, pw)
		return pr, nil
	}
	if rec.AttachStdin {
		if stdinW, err = pipe(&xio.Stdin, true); err != nil {
			return err
		}
		defer stdinW.Close()
	}
	if rec.AttachStdout {
		if stdoutR, err = pipe(&xio.Stdout, false); err != nil {
			return err
		}
		defer stdoutR.Close()
	}
	if rec.AttachStderr {
		if stderrR, err = pipe(&xio.Stderr, false); err != nil {
			return err
		}
		defer stderrR.Close()
	}
	var master *os.File
	if rec.Options.Tty {
		xio.Console = func(m *os.File) { master = m }
	}
	// The answer first, then the process, as docker's: a client reading the
	// answer's head with a buffer (docker-py) would swallow output sent with it.
	conn, err := hijack(w, r, streamContentType(r, req.Tty))
	if err != nil {
		return err
	}
	defer conn.Close()
	headRead(conn)
	out := newOutput()
	out.connect(conn, req.Tty, true, true)
	wait, err := s.e.StartExec(id, xio)
	for _, f := range theirs {
		f.Close()
	}
	theirs = nil
	if master != nil {
		defer master.Close()
	}
	if err != nil {
		out.writer(false).Write([]byte(err.Error() + "\r\n"))
		conn.CloseWrite()
		return nil
	}
	// Output: the pty's master (hull's runtime), or the pipes.
	var copies sync.WaitGroup
	copyOut := func(src *os.File, stderr bool) {
		copies.Add(1)
		go func() {
			defer copies.Done()
			io.Copy(out.writer(stderr), src)
		}()
	}
	var in io.WriteCloser = stdinW
	if master != nil {
		copyOut(master, false)
		if rec.AttachStdin {
			in = nopCloser{master}
		}
	} else {
		if stdoutR != nil {
			copyOut(stdoutR, false)
		}
		if stderrR != nil {
			copyOut(stderrR, true)
		}
	}
	var keys []byte
	if rec.AttachStdin && rec.Options.Tty { // with a terminal only, as attach's
		keys, _ = engine.ParseDetachKeys(rec.Options.DetachKeys)
	}
	input, detached := readInput(conn, keys)
	go func() {
		for p := range input {
			if in != nil {
				in.Write(p)
			}
		}
		if in != nil {
			in.Close() // the process's stdin ends with the client's
		}
	}()
	done := make(chan struct{})
	go func() {
		wait()
		close(done)
	}()
	select {
	case <-done:
		// Its output may still be on its way: a while for the copies, not
		// forever (a child of its own may hold the pipes).
		copied := make(chan struct{})
		go func() { copies.Wait(); close(copied) }()
		select {
		case <-copied:
		case <-time.After(2 * time.Second):
		}
	case <-detached:
	case <-out.gone:
	case <-s.closing:
	}
	conn.CloseWrite()
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// execResize answers POST /exec/{id}/resize: the window size of the exec's
// terminal.
func (s *Server) execResize(w http.ResponseWriter, r *http.Request) error {
	rows, cols, err := querySize(r)
	if err != nil {
		return err
	}
	if err := s.e.ResizeExec(r.PathValue("id"), rows, cols); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// execInspect answers GET /exec/{id}/json.
func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) error {
	rec, err := s.e.InspectExec(r.PathValue("id"))
	if err != nil {
		return err
	}
	priv := rec.Options.Privileged
	pc := &container.ExecProcessConfig{Tty: rec.Options.Tty, Arguments: []string{}, Privileged: &priv, User: rec.Options.User}
	if len(rec.Options.Args) > 0 {
		pc.Entrypoint, pc.Arguments = rec.Options.Args[0], append(pc.Arguments, rec.Options.Args[1:]...)
	}
	var keys []byte
	if rec.Options.DetachKeys != "" {
		keys, _ = engine.ParseDetachKeys(rec.Options.DetachKeys)
	}
	return writeJSON(w, http.StatusOK, container.ExecInspectResponse{
		ID: rec.ID, Running: rec.Running, ExitCode: rec.ExitCode, ProcessConfig: pc,
		OpenStdin: rec.AttachStdin, OpenStdout: rec.AttachStdout, OpenStderr: rec.AttachStderr,
		ContainerID: rec.ContainerID, DetachKeys: keys, Pid: rec.Pid,
	})
}
