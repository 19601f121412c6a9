package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	goruntime "runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hullproject/hull/build"
	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
)

// Server answers the Docker Engine API over one engine. It is an http.Handler;
// Serve runs it on listeners with an idle timeout and a graceful stop.
type Server struct {
	e   *engine.Engine
	o   Options
	log *slog.Logger
	rt  router

	// active counts the requests in flight, streams included (a streaming or
	// hijacking handler returns when its stream ends); lastDone is when the last
	// one ended (unix nanoseconds). The idle timeout reads both.
	active   atomic.Int64
	lastDone atomic.Int64
	// listeners counts the GET /events streams open (Info's NEventsListener).
	listeners atomic.Int64
	// closing is closed when Serve begins to stop: open-ended streams (events,
	// logs --follow, stats) end then instead of holding the stop back.
	closing     chan struct{}
	closingOnce sync.Once
}

// Options are what the server reports about itself.
type Options struct {
	Version string // hull's version, the API's "server version"
	Commit  string
	// Logger gets a debug line for every request and an error for every panic
	// and 500; nil is slog.Default().
	Logger *slog.Logger
	// ShutdownGrace is how long Serve lets requests in flight finish once it is
	// told to stop; 0 is 5 seconds.
	ShutdownGrace time.Duration
	// Registry is how pulls and pushes speak to registries (the insecure ones,
	// as the CLI's); credentials come from each request's X-Registry-Auth.
	Registry image.RegistryOptions
	// Builder builds POST /build's images (its Pull is set per request, with
	// the request's credentials); nil answers 501. Its Runtime must make RUN's
	// containers children of this process (package build).
	Builder *build.Builder
}

// New makes the server of engine e.
func New(e *engine.Engine, o Options) *Server {
	s := &Server{e: e, o: o, log: o.Logger, closing: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.o.Version == "" {
		s.o.Version = "dev"
	}
	if s.o.ShutdownGrace == 0 {
		s.o.ShutdownGrace = 5 * time.Second
	}
	s.lastDone.Store(time.Now().UnixNano())
	s.routes(&s.rt)
	return s
}

// ServeHTTP answers one request: the middleware (activity, panics, the request's
// log line, docker's headers, the version in the path), then the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer func() {
		s.lastDone.Store(time.Now().UnixNano())
		s.active.Add(-1)
	}()
	sw := &statusWriter{ResponseWriter: w}
	start := time.Now()
	path := r.URL.Path
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("api: panic", "method", r.Method, "path", path, "panic", p, "stack", string(debug.Stack()))
			if !sw.wrote {
				writeError(sw, fmt.Errorf("internal error: %v", p))
			}
		}
		s.log.Debug("api", "method", r.Method, "path", path, "status", sw.status, "duration", time.Since(start))
	}()
	h := sw.Header()
	h.Set("Server", fmt.Sprintf("hull/%s (%s)", s.o.Version, goruntime.GOOS))
	h.Set("API-Version", MaxAPIVersion)
	h.Set("OSType", goruntime.GOOS)
	h.Set("Docker-Experimental", "false")
	vr, err := withVersion(r)
	if err == nil {
		handler := s.rt.lookup(vr)
		if handler == nil {
			handler = pageNotFound
		}
		err = handler(sw, vr)
	}
	if err == nil {
		return
	}
	if code := statusOf(err); code >= 500 {
		s.log.Error("api: request failed", "method", r.Method, "path", path, "error", err)
	}
	if sw.wrote {
		// A stream has begun (or the connection is hijacked): too late for a
		// status code.
		s.log.Debug("api: error after the answer began", "method", r.Method, "path", path, "error", err)
		return
	}
	writeError(sw, err)
}

// statusWriter notes the status code and whether the answer has begun. Unwrap
// lets http.ResponseController reach the connection's Flush and Hijack.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stopping is closed when the request ends or the server begins to stop: an
// open-ended stream (events, logs --follow, stats) ends at either.
func (s *Server) stopping(r *http.Request) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		close(done)
	}()
	return done
}

// Serve answers on every listener (and closes them) until ctx is done, or until
// the server has been idle for idle (no request in flight, no stream open; 0
// never). It then stops accepting, lets the requests in flight finish for up
// to Options.ShutdownGrace, ends the streams still open, and returns nil; or
// the first listener's failure.
func (s *Server) Serve(ctx context.Context, ls []net.Listener, idle time.Duration) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	// HTTP/1.1 only: attach and exec hijack the connection, which HTTP/2 has not.
	hs.Protocols = new(http.Protocols)
	hs.Protocols.SetHTTP1(true)
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errc <- hs.Serve(l) }()
	}
	var tick <-chan time.Time
	if idle > 0 {
		t := time.NewTicker(min(max(idle/10, 10*time.Millisecond), time.Second))
		defer t.Stop()
		tick = t.C
	}
	var err error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case err = <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			break wait
		case <-tick:
			if s.active.Load() == 0 && time.Since(time.Unix(0, s.lastDone.Load())) >= idle {
				s.log.Debug("api: idle, stopping", "idle", idle)
				break wait
			}
		}
	}
	s.shutdown(hs)
	return err
}

// shutdown stops hs: no new connection, the requests in flight given the grace
// period, then the open-ended streams told to end and a moment to do so.
func (s *Server) shutdown(hs *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.ShutdownGrace)
	defer cancel()
	s.closingOnce.Do(func() { close(s.closing) })
	hs.Shutdown(ctx)
	// Hijacked connections are not the http.Server's any more: wait for their
	// handlers as for the others.
	for s.active.Load() > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	hs.Close()
}
