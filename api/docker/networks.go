package docker

// routesNetworks registers networks: create, list, inspect, connect, disconnect, delete, prune.
// Until they are written, their paths answer 404 naming the path.
func (s *Server) routesNetworks(rt *router) {
}
