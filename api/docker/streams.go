package docker

// routesStreams registers the streams: attach, logs, exec create/start/resize/inspect.
// Until they are written, their paths answer 404 naming the path.
func (s *Server) routesStreams(rt *router) {
}
