package docker

// routesImages registers images: create (pull), json, inspect, history, tag, push, delete, prune, get/load, search; distribution; build.
// Until they are written, their paths answer 404 naming the path.
func (s *Server) routesImages(rt *router) {
}
