package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/hullproject/hull/build"
	"github.com/hullproject/hull/image"
	buildtypes "github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/registry"
)

// routesBuild registers the builder: POST /build (docker's classic builder,
// version 1, over package build), /build/prune (the layer cache), and BuildKit's
// /session, which hull does not serve.
func (s *Server) routesBuild(rt *router) {
	rt.handle("POST", "/build", s.build)
	rt.handle("POST", "/build/prune", s.buildPrune)
	rt.handle("POST", "/session", s.session)
}

// errBuildKit is the answer to what only BuildKit's protocol asks: hull serves
// the classic builder (the Builder-Version header of _ping says 1).
const errBuildKit = "hull serves docker's classic builder only (API builder version 1), not BuildKit: " +
	"build with DOCKER_BUILDKIT=0 (docker build uses the classic builder when buildx is not installed)"

// session answers BuildKit's session endpoint, which the classic builder does
// not use.
func (s *Server) session(w http.ResponseWriter, r *http.Request) error {
	return notImplementedf("%s", errBuildKit)
}

// buildOptions reads POST /build's query parameters as docker's classic
// builder does (moby's api/server/router/build, newImageBuildOptions). Those
// hull cannot honour are refused with a 400 naming them, not ignored.
func buildOptions(r *http.Request) (build.Options, error) {
	q := r.URL.Query()
	var o build.Options
	switch v := q.Get("version"); v {
	case "", "1":
	case "2":
		return o, notImplementedf("BuildKit builds (version=2): %s", errBuildKit)
	default:
		return o, badRequestf("unsupported build version %q: want 1", v)
	}
	if remote := q.Get("remote"); remote != "" {
		return o, notImplementedf("remote build contexts (git repositories and URLs) are not supported: send the context as a tar in the request body")
	}
	o.Dockerfile = q.Get("dockerfile")
	if o.Dockerfile != "" {
		// docker's rule: a path inside the context, taken from its root.
		o.Dockerfile = filepath.Clean("/" + o.Dockerfile)[1:]
		if o.Dockerfile == "" {
			return o, badRequestf("dockerfile %q: not a file of the context", q.Get("dockerfile"))
		}
	}
	for _, t := range q["t"] {
		tag, err := buildTag(t)
		if err != nil {
			return o, err
		}
		o.Tags = append(o.Tags, tag)
	}
	for _, h := range q["extrahosts"] {
		// docker takes name:ip and name=ip
		if name, ip, ok := strings.Cut(h, "="); ok && !strings.Contains(name, ":") {
			h = name + ":" + ip
		}
		o.ExtraHosts = append(o.ExtraHosts, h)
	}
	o.NoCache = queryBool(r, "nocache")
	o.Pull = queryBool(r, "pull")
	o.Target = q.Get("target")
	o.Platform = q.Get("platform")
	switch n := q.Get("networkmode"); n {
	case "", "default", "bridge":
		// docker builds on its bridge network unless told otherwise
		o.Network = "bridge"
	case "none", "host":
		o.Network = n
	default:
		return o, badRequestf("networkmode %q: a build's RUN has none, host or bridge (the default)", n)
	}
	var args map[string]*string
	if err := queryJSON(q.Get("buildargs"), "buildargs", &args); err != nil {
		return o, err
	}
	for k, v := range args {
		if v == nil {
			continue // docker: a KEY without a value the client's environment lacks
		}
		if o.BuildArgs == nil {
			o.BuildArgs = map[string]string{}
		}
		o.BuildArgs[k] = *v
	}
	if err := queryJSON(q.Get("labels"), "labels", &o.Labels); err != nil {
		return o, err
	}
	var cacheFrom []string
	if err := queryJSON(q.Get("cachefrom"), "cachefrom", &cacheFrom); err != nil {
		return o, err
	}
	if len(cacheFrom) > 0 {
		return o, badRequestf("cachefrom %q: hull's builder caches by its own layer cache, not from images", cacheFrom)
	}
	// the client module's ImageBuildOutput; the API module has no type for it
	var outputs []struct {
		Type  string
		Attrs map[string]string
	}
	if err := queryJSON(q.Get("outputs"), "outputs", &outputs); err != nil {
		return o, err
	}
	for _, out := range outputs {
		if out.Type != "moby" && out.Type != "image" {
			return o, badRequestf("outputs: type %q is not supported: the API's builder writes an image to the store (hull build -o writes archives and files)", out.Type)
		}
	}
	// Limits for RUN (Build judges them, as docker does: a 400).
	limit := func(k string, v *int64) error {
		if raw := q.Get(k); raw != "" {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return badRequestf("invalid value for %s: %q", k, raw)
			}
			*v = n
		}
		return nil
	}
	var shares, period int64
	for k, v := range map[string]*int64{"memory": &o.Limits.Memory, "memswap": &o.Limits.MemorySwap, "cpushares": &shares,
		"cpuperiod": &period, "cpuquota": &o.Limits.CPUQuota, "shmsize": &o.Limits.ShmSize} {
		if err := limit(k, v); err != nil {
			return o, err
		}
	}
	if shares < 0 || period < 0 {
		return o, badRequestf("cpushares and cpuperiod: they must be positive")
	}
	o.Limits.CPUShares, o.Limits.CPUPeriod = uint64(shares), uint64(period)
	o.Limits.CpusetCpus = q.Get("cpusetcpus")
	for _, k := range []string{"cpusetmems", "cgroupparent"} {
		if q.Get(k) != "" {
			return o, badRequestf("%s: hull's builder does not set it on RUN", k)
		}
	}
	var ulimits []json.RawMessage
	if err := queryJSON(q.Get("ulimits"), "ulimits", &ulimits); err != nil {
		return o, err
	}
	if len(ulimits) > 0 {
		return o, badRequestf("ulimits: hull's builder sets no ulimits on RUN")
	}
	if len(q["securityopt"]) > 0 {
		return o, badRequestf("securityopt: hull's builder runs RUN with the default security options only")
	}
	if queryBool(r, "squash") {
		return o, badRequestf("squash is not supported")
	}
	if iso := q.Get("isolation"); iso != "" && iso != "default" {
		return o, badRequestf("isolation %q: linux containers have the default isolation only", iso)
	}
	// rm and forcerm: the classic builder's intermediate containers; hull's
	// builder leaves none, whatever they say. The rest (platform, extrahosts, the
	// tags) Build judges before its first step: a 400 then.
	return o, nil
}

// queryJSON decodes a JSON parameter; empty or "null" leaves v.
func queryJSON(raw, key string, v any) error {
	if raw == "" || raw == "null" {
		return nil
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return badRequestf("invalid %s: %w", key, err)
	}
	return nil
}

// buildTag is a t parameter as the classic builder names the image: with
// :latest when it has no tag ("Successfully tagged x:latest"); a digest is
// refused.
func buildTag(t string) (string, error) {
	if _, err := image.Normalize(t); err != nil {
		return "", badRequestf("invalid tag %q: %w", t, err)
	}
	if strings.Contains(t, "@") {
		return "", badRequestf("invalid tag %q: a build names its image by a tag, not a digest", t)
	}
	if !hasTag(t) {
		t += ":latest"
	}
	return t, nil
}

// buildKeychain gives each registry the credentials X-Registry-Config holds for
// it (docker's CLI sends every credential it has, keyed by registry address),
// and none to the others.
type buildKeychain map[string]registry.AuthConfig

func (k buildKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	host := res.RegistryStr()
	keys := []string{host, "https://" + host, "http://" + host, "https://" + host + "/v1/", "https://" + host + "/v2/"}
	if host == "index.docker.io" || host == "docker.io" || host == "registry-1.docker.io" {
		keys = append(keys, "https://index.docker.io/v1/", "docker.io", "index.docker.io")
	}
	for _, key := range keys {
		if ac, ok := k[key]; ok {
			return authn.FromConfig(authn.AuthConfig{
				Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
				IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// registryConfig reads X-Registry-Config: base64 JSON of registry address →
// registry.AuthConfig, the credentials for the pulls of FROM.
func registryConfig(r *http.Request) (buildKeychain, error) {
	h := r.Header.Get("X-Registry-Config")
	if h == "" {
		return nil, nil
	}
	var data []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if data, err = enc.DecodeString(h); err == nil {
			break
		}
	}
	var k buildKeychain
	if err == nil {
		err = json.Unmarshal(data, &k)
	}
	if err != nil {
		return nil, badRequestf("invalid X-Registry-Config header: %w", err)
	}
	return k, nil
}

// Why a build was cancelled, as its failed step says.
var (
	errServiceStopping = errors.New("build cancelled: the service is stopping")
	errClientGone      = errors.New("build cancelled: the client is gone")
)

// maxDiscardedContext bounds what is read of a refused build's context.
const maxDiscardedContext = 1 << 30

// buildWriter sends the build's JSON messages as they come: the status and
// headers with the first, a flush after each. A write that fails is the client
// gone: it cancels the build.
type buildWriter struct {
	w       http.ResponseWriter
	cancel  context.CancelFunc
	started bool
	err     error
}

func (b *buildWriter) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if !b.started {
		b.started = true
		b.w.Header().Set("Content-Type", "application/json")
		b.w.WriteHeader(http.StatusOK)
	}
	n, err := b.w.Write(p)
	if err == nil {
		err = http.NewResponseController(b.w).Flush()
	}
	if err != nil {
		b.err = err
		b.cancel()
	}
	return n, err
}

// build answers POST /build: the body is the context (a tar, plain or
// compressed, or a bare Dockerfile), the answer docker's JSON message stream
// (build.JSONProgress). Errors before the first message are answered with a
// status (docker's daemon does the same while its output is unflushed); after,
// in the stream. A client that goes away cancels the build, which leaves
// nothing behind (package build).
func (s *Server) build(w http.ResponseWriter, r *http.Request) error {
	if s.o.Builder == nil {
		return notImplementedf("this service has no builder")
	}
	// Whatever is refused, the context the client is sending is read before
	// the answer (the server writes a returned error after this): a server
	// that answers and closes mid-body leaves the client with a broken pipe
	// instead of the answer (docker's CLI closes each connection, and Go's
	// server reads no more than 256 KiB of a body it was not given).
	defer io.Copy(io.Discard, io.LimitReader(r.Body, maxDiscardedContext))
	o, err := buildOptions(r)
	if err != nil {
		return err
	}
	kc, err := registryConfig(r)
	if err != nil {
		return err
	}
	ropt := s.o.Registry
	ropt.Keychain = kc
	if kc == nil {
		ropt.Keychain = keychain{authn.Anonymous}
	}
	b := *s.o.Builder
	b.Pull = func(ctx context.Context, ref, platform string) (*image.Image, error) {
		if platform == "" {
			platform = "linux/" + goruntime.GOARCH
		}
		return s.e.Images.Pull(ctx, ref, image.PullOptions{RegistryOptions: ropt, Platform: platform})
	}
	tmp := filepath.Join(b.StateDir, "build")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	bctx, dockerfile, err := build.ReadContext(r.Body, tmp)
	if err != nil {
		return badRequest(err)
	}
	defer bctx.Close()
	// The body to its end (a tar's padding after its end): only then does the
	// server watch the connection, and cancel r.Context() when the client goes.
	io.Copy(io.Discard, io.LimitReader(r.Body, maxDiscardedContext))
	o.Context = bctx
	if dockerfile != nil {
		// a bare Dockerfile for a body: docker ignores the dockerfile parameter then
		o.DockerfileData, o.Dockerfile = dockerfile, ""
	}
	// The client gone or the service stopping cancels the build: it leaves
	// nothing behind, which a build cut off when the service exits would.
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	go func() {
		<-s.stopping(r)
		cancel(errServiceStopping)
	}()
	bw := &buildWriter{w: w, cancel: func() { cancel(errClientGone) }}
	js := build.JSONProgress(bw)
	js.Quiet = queryBool(r, "q")
	o.Progress = js
	_, err = b.Build(ctx, o)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && r.Context().Err() != nil {
		return nil // the client is gone: nobody to answer
	}
	if !bw.started {
		// Errors before the first step are the request's (options, the
		// Dockerfile, its target) as docker's daemon answers them, unless an
		// engine error says otherwise.
		if statusOf(err) == http.StatusInternalServerError {
			return badRequest(err)
		}
		return err
	}
	js.Fail(err)
	return nil
}

// buildPrune answers POST /build/prune: the layer cache's entries removed and
// the space their layers took. all, filters and the space targets
// (reserved-space, keep-storage, max-used-space, min-free-space) are
// BuildKit's knobs: hull's cache has one kind of entry, all of which a prune
// removes; a space target is refused rather than ignored.
func (s *Server) buildPrune(w http.ResponseWriter, r *http.Request) error {
	if s.o.Builder == nil {
		return notImplementedf("this service has no builder")
	}
	f, err := queryFilters(r)
	if err != nil {
		return err
	}
	var keep build.PruneOptions
	for k, vs := range f {
		switch k {
		case "until":
			if len(vs) != 1 {
				return badRequestf("filter until: want one value")
			}
			t, err := parseUntil(vs[0])
			if err != nil {
				return badRequest(err)
			}
			// until: what was made before then goes, what is newer stays
			if d := time.Since(t); d > 0 {
				keep.KeepNewerThan = d
			}
		default:
			return badRequestf("invalid filter %q: the build cache is pruned by until only", k)
		}
	}
	for _, k := range []string{"reserved-space", "keep-storage", "max-used-space", "min-free-space"} {
		n, err := queryInt(r, k, 0)
		if err != nil {
			return err
		}
		if n != 0 {
			return badRequestf("%s: hull's build cache is pruned whole (or by until), not to a size", k)
		}
	}
	// what killed builds left first: their snapshots hold layers too
	s.o.Builder.Sweep()
	res, err := build.Prune(s.e.Images, keep)
	if err != nil {
		return err
	}
	out := buildtypes.CachePruneReport{CachesDeleted: res.Deleted, SpaceReclaimed: uint64(res.Reclaimed)}
	if out.CachesDeleted == nil {
		out.CachesDeleted = []string{}
	}
	return writeJSON(w, http.StatusOK, out)
}
