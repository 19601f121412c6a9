package docker

import (
	"net/http"
	"regexp"
	"strings"
)

// handlerFunc is an endpoint: it answers the request, or returns the error the
// server answers for it (see statusOf) when it has written nothing yet. After a
// stream has begun an error can only be logged: a streaming handler reports its
// own mid-stream errors (jsonStream.Error, a multiplexed stream's end).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// router maps a method and a path (the version already taken off) to an
// endpoint. Patterns are docker's own (its daemon's route table can be copied):
// {name} is one path segment, {name:.*} one or more (an image name has slashes);
// a handler reads them with r.PathValue("name"). A path without a variable is
// looked up first; patterns are tried in the order they were registered.
// Registering a method and pattern twice panics: two areas claiming one route
// is a bug every test that makes a Server finds.
type router struct {
	exact    map[string]handlerFunc // "GET /_ping"
	patterns []*route
	seen     map[string]bool
}

type route struct {
	method string
	re     *regexp.Regexp
	names  []string
	h      handlerFunc
}

var variable = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(:\.\*)?\}`)

// handle registers h for method and pattern.
func (rt *router) handle(method, pattern string, h handlerFunc) {
	if rt.exact == nil {
		rt.exact, rt.seen = map[string]handlerFunc{}, map[string]bool{}
	}
	key := method + " " + pattern
	if rt.seen[key] {
		panic("api/docker: route registered twice: " + key)
	}
	rt.seen[key] = true
	if !strings.Contains(pattern, "{") {
		rt.exact[key] = h
		return
	}
	var names []string
	expr := "^"
	last := 0
	for _, m := range variable.FindAllStringSubmatchIndex(pattern, -1) {
		expr += regexp.QuoteMeta(pattern[last:m[0]])
		names = append(names, pattern[m[2]:m[3]])
		if m[4] >= 0 {
			expr += "(.+)"
		} else {
			expr += "([^/]+)"
		}
		last = m[1]
	}
	expr += regexp.QuoteMeta(pattern[last:]) + "$"
	rt.patterns = append(rt.patterns, &route{method: method, re: regexp.MustCompile(expr), names: names, h: h})
}

// lookup finds the endpoint of r and sets its path values.
func (rt *router) lookup(r *http.Request) handlerFunc {
	if h := rt.exact[r.Method+" "+r.URL.Path]; h != nil {
		return h
	}
	for _, p := range rt.patterns {
		if p.method != r.Method {
			continue
		}
		if m := p.re.FindStringSubmatch(r.URL.Path); m != nil {
			for i, name := range p.names {
				r.SetPathValue(name, m[i+1])
			}
			return p.h
		}
	}
	return nil
}

// pageNotFound answers a path no endpoint serves, as docker does (404, for a
// wrong method too), naming the path.
func pageNotFound(w http.ResponseWriter, r *http.Request) error {
	path, _, _ := strings.Cut(r.RequestURI, "?")
	if path == "" {
		path = r.URL.Path
	}
	return notFoundf("page not found: %s %s", r.Method, path)
}

// routes lists the endpoints. Each area registers its own in its own file, so
// that the areas grow without touching each other's files.
func (s *Server) routes(rt *router) {
	s.routesSystem(rt)     // system.go: _ping, version, info, events, system/df
	s.routesContainers(rt) // containers.go
	s.routesStreams(rt)    // streams.go: attach, logs, exec
	s.routesImages(rt)     // images.go
	s.routesNetworks(rt)   // networks.go
	s.routesVolumes(rt)    // volumes.go
	s.routesBuild(rt)      // build.go: build, build/prune, session
}
