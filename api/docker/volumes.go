package docker

// routesVolumes registers volumes: create, list, inspect, delete, prune.
// Until they are written, their paths answer 404 naming the path.
func (s *Server) routesVolumes(rt *router) {
}
