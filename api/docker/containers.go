package docker

// routesContainers registers containers: create, start, stop, restart, kill, pause, unpause, wait, resize, json, inspect, top, stats, rename, update, export, archive, changes, prune, delete; commit.
// Until they are written, their paths answer 404 naming the path.
func (s *Server) routesContainers(rt *router) {
}
