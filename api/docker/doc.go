// Package docker serves the Docker Engine API over hull's engine: the server of
// `hull system service`. It is a door, not a second engine: every handler
// decodes the request (moby's own types, github.com/moby/moby/api/types/...),
// calls the engine (the same calls the CLI makes, on the same --root and
// --state), and encodes the answer. A handler that needs logic the engine lacks
// (a wait condition, an exec record, a stats stream) gets it added to the engine
// as a library call with its own test, never written here. This package may
// import engine, image, network, volume, logs, build and internal/... (docs/design.md):
// not monitor, ociruntime or runtime.
//
// # The shape
//
//   - server.go: Server (New, ServeHTTP, Serve) and the middleware every request
//     goes through: activity counting (the idle timeout), panics recovered into a
//     500 with the message, a debug log line, the headers docker sends (Server,
//     API-Version, OSType, Docker-Experimental), the version in the path.
//   - version.go: /vX.Y/... and unversioned paths; 400 outside MinAPIVersion..
//     MaxAPIVersion, in docker's words. requestVersion(r) and versionAtLeast(r,
//     "1.42") tell a handler the version the client speaks.
//   - router.go: docker's route patterns, and routes, the list of areas.
//   - errors.go: the error → status mapping, docker's {"message": ...} body,
//     decodeJSON.
//   - query.go: docker's boolean, integer, time and filters parameters.
//   - stream.go: the hijack, the multiplexed stdout/stderr writer, the JSON
//     message stream (progress with mid-stream errors).
//   - listen.go: where the service listens (unix socket, tcp with TLS or on
//     loopback, socket activation).
//   - One file per area registers and holds its endpoints: system.go (_ping,
//     version, info, events, system/df), containers.go (with containers_create.go,
//     containers_inspect.go, containers_fs.go), streams.go (attach, logs, exec),
//     images.go, networks.go, volumes.go, build.go (build, build/prune: package
//     build's Builder, which the service is given in Options.Builder).
//
// # Adding an endpoint
//
// Register it in its area's routesX, with docker's method and path pattern
// (copy them from docker's API reference or its daemon's router): {name} is one
// segment, {name:.*} several (image names have slashes). Path values are
// r.PathValue("name"). A pattern registered twice panics when any Server is made,
// so two areas cannot silently claim one route.
//
//	func (s *Server) routesContainers(rt *router) {
//		rt.handle("POST", "/containers/{name}/start", s.containerStart)
//	}
//
//	func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) error {
//		if _, err := s.e.Start(r.PathValue("name"), nil); err != nil {
//			return err // ErrNoSuchContainer → 404, ErrNotModified → 304 ...
//		}
//		w.WriteHeader(http.StatusNoContent)
//		return nil
//	}
//
// A handler returns its error instead of writing it: the server answers it with
// docker's status and body (errors.go, statusOf): engine.ErrNoSuchContainer,
// ErrNoSuchPod, ErrNoSuchExec, image.ErrNotFound, network.ErrNotFound and volume.ErrNotFound →
// 404; engine.ErrConflict, image.ErrInUse, volume.ErrInUse, network.ErrExists
// and ErrAttached → 409; network.ErrInUse and ErrPredefined → 403,
// network.ErrInvalid → 400; engine.ErrNotModified → 304
// (no body); engine.OptionErrors (a refused option) → 400; anything else 500,
// logged. For what the handler judges itself use badRequestf, notFoundf,
// conflictf or notImplementedf. A new engine sentinel gets its line in statusOf.
// Once a stream has begun the status is sent: the error is only logged, so a
// streaming handler reports its own (jsonStream.Error, a Systemerr frame).
//
// Bodies: decodeJSON(r, &body) with moby's type (container.CreateRequest,
// network.CreateRequest, ...): a non-JSON Content-Type, an empty body and bad JSON
// are 400s as docker's. Answers: writeJSON(w, status, v) with moby's type. Query
// parameters: queryBool (docker's 1/true/yes), queryInt, queryTime (since/until:
// unix seconds with a fraction), queryFilters (both of docker's JSON forms), whose
// flags() are the CLI's KEY=VALUE strings the engine's Parse*Filter functions
// take, so both doors filter alike. Fields that came or went with an API
// version are decided with versionAtLeast (events drop status/id/from at 1.52).
// The engine's OptionError.Field is the Go field of CreateOptions: map it to
// docker's JSON path (HostConfig.Memory) in the message.
//
// # Streams
//
// Pull, push and load: js := newJSONStream(w); js.Progress(jsonstream.Message{...})
// for each step (safe from several goroutines); js.Error(err) if it fails after
// the first message; before the first, return the error instead. GET /events
// is the example of an open-ended stream: it ends when s.stopping(r) closes (the
// client left, or the service is stopping), so an open stream never holds a
// stop back.
//
// Attach and exec start: read the request body first, then
// conn, err := hijack(w, r, streamContentType(r, tty)) answers 101 UPGRADED
// (the client sent Upgrade: tcp) or 200 and hands over the connection. Without a
// terminal wrap it: stdout, stderr, _ := multiplex(conn). Copy the client's
// input from conn until io.EOF, which is its half-close (CloseWrite): close the
// container's stdin then, and keep sending output; conn.CloseWrite() or
// conn.Close() ends the output. The handler must not return before the stream
// is over, and must close conn: the server counts it in flight until then (the
// idle timeout waits for it). GET .../logs without a terminal writes the same
// multiplexed frames on a plain 200 answer (multiplex(w)). Clients read the
// frames with stdcopy.StdCopy (github.com/moby/moby/api/pkg/stdcopy).
//
// # Testing
//
// Handler logic: httptest over New(engine) in this package (server_test.go,
// system_test.go; an engine on t.TempDir() roots; creating containers needs
// root for the rootfs mount). Real clients: test/dockerapi, with
// api/docker/dockertest starting `hull system service` from a build of this
// tree on temporary roots: s := dockertest.Start(t, dockertest.Options{});
// s.Docker(t, "ps", "-a").Ok(t) runs the docker CLI against it with its own
// DOCKER_CONFIG, s.Hull(t, "ps", "-a") hull's CLI on the same roots to compare
// with, s.Client() an HTTP client for raw requests. Its cleanup removes the
// containers, stops the service and fails the test on anything left.
package docker
