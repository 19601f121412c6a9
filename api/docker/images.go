package docker

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// routesImages registers images: create (pull, import), json, inspect, history,
// tag, push, delete, prune, get/load, search; distribution.
func (s *Server) routesImages(rt *router) {
	rt.handle("POST", "/images/create", s.imageCreate)
	rt.handle("GET", "/images/json", s.imageList)
	rt.handle("POST", "/images/load", s.imageLoad)
	rt.handle("POST", "/images/prune", s.imagePrune)
	rt.handle("GET", "/images/search", s.imageSearch)
	rt.handle("GET", "/images/get", s.imageSaveMany)
	rt.handle("GET", "/images/{name:.*}/json", s.imageInspect)
	rt.handle("GET", "/images/{name:.*}/history", s.imageHistory)
	rt.handle("POST", "/images/{name:.*}/tag", s.imageTag)
	rt.handle("POST", "/images/{name:.*}/push", s.imagePush)
	rt.handle("GET", "/images/{name:.*}/get", s.imageSave)
	rt.handle("DELETE", "/images/{name:.*}", s.imageDelete)
	rt.handle("GET", "/distribution/{name:.*}/json", s.distributionInspect)
}

// registryOptions are the service's registry options with the request's
// credentials: X-Registry-Auth (base64url JSON of registry.AuthConfig), or
// none, as docker's daemon pulls without the header. The service's own
// user's docker config is not read: the caller's credentials are the caller's.
func (s *Server) registryOptions(r *http.Request) (image.RegistryOptions, error) {
	o := s.o.Registry
	o.Keychain = keychain{authn.Anonymous}
	h := r.Header.Get(registry.AuthHeader)
	if h == "" {
		return o, nil
	}
	var data []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if data, err = enc.DecodeString(h); err == nil {
			break
		}
	}
	var ac registry.AuthConfig
	if err == nil {
		err = json.Unmarshal(data, &ac)
	}
	if err != nil {
		return o, badRequestf("invalid X-Registry-Auth header: %w", err)
	}
	if ac != (registry.AuthConfig{}) {
		o.Keychain = keychain{authn.FromConfig(authn.AuthConfig{
			Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
			IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
		})}
	}
	return o, nil
}

// keychain gives one authenticator for every registry: a request's
// X-Registry-Auth is for the registry the request names.
type keychain struct{ a authn.Authenticator }

func (k keychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

// imageRef is the reference of name with the query's tag, which may be a
// digest, as docker's pull and push read them: the tag replaces name's own.
func imageRef(name, tag string) (string, error) {
	ref := name
	if tag != "" {
		if i := strings.LastIndexByte(ref, '@'); i >= 0 {
			ref = ref[:i]
		} else if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
			ref = ref[:i]
		}
		if strings.Contains(tag, ":") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	if _, err := image.Normalize(ref); err != nil {
		return "", badRequestf("invalid reference format: %s", ref)
	}
	return ref, nil
}

// hasTag tells whether ref names a tag or a digest.
func hasTag(ref string) bool {
	return strings.Contains(ref, "@") || strings.LastIndexByte(ref, ':') > strings.LastIndexByte(ref, '/')
}

// repoPath is what docker's pull says it pulls from: the repository's path
// without the registry ("library/busybox", "x" for 127.0.0.1:5000/x).
func repoPath(ref string) string {
	full, _ := image.Normalize(ref)
	_, p, _ := strings.Cut(full, "/")
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		return p[:i]
	}
	if i := strings.LastIndexByte(p, ':'); i >= 0 {
		return p[:i]
	}
	return p
}

// tagOf is the tag or digest of a reference (latest when it has none).
func tagOf(ref string) string {
	full, _ := image.Normalize(ref)
	if i := strings.LastIndexByte(full, '@'); i >= 0 {
		return full[i+1:]
	}
	return full[strings.LastIndexByte(full, ':')+1:]
}

// imageCreate answers POST /images/create: a pull (fromImage, tag, platform)
// or an import (fromSrc), as a JSON progress stream.
func (s *Server) imageCreate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("fromSrc") != "" {
		return s.imageImport(w, r)
	}
	from := q.Get("fromImage")
	if from == "" {
		return badRequestf("fromImage or fromSrc is required")
	}
	platform := q.Get("platform")
	if platform != "" {
		if parts := strings.Split(platform, "/"); len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return badRequestf("invalid platform %q: want os/arch[/variant]", platform)
		}
	}
	ref, err := imageRef(from, q.Get("tag"))
	if err != nil {
		return err
	}
	ropt, err := s.registryOptions(r)
	if err != nil {
		return err
	}
	refs := []string{ref}
	if q.Get("tag") == "" && !hasTag(from) {
		// docker's API: no tag pulls every tag of the repository.
		tags, err := s.e.Images.Tags(r.Context(), ref, ropt)
		if err != nil {
			return err
		}
		refs = nil
		for _, t := range tags {
			refs = append(refs, ref+":"+t)
		}
	}
	js := newJSONStream(w)
	for _, ref := range refs {
		if err := s.pull(r, js, ref, platform, ropt); err != nil {
			if !js.Started() {
				return err
			}
			return js.Error(err)
		}
	}
	return nil
}

// pull pulls one reference, its progress on js.
func (s *Server) pull(r *http.Request, js *jsonStream, ref, platform string, ropt image.RegistryOptions) error {
	st := s.e.Images
	before := ""
	if img, err := st.Get(ref); err == nil {
		before = img.Manifest.String()
	}
	p := &pullProgress{js: js, from: "Pulling from " + repoPath(ref), tag: tagOf(ref), upToDate: before != "", fresh: map[string]bool{}}
	img, err := st.Pull(r.Context(), ref, image.PullOptions{RegistryOptions: ropt, Platform: platform, Progress: p})
	if err != nil {
		return err
	}
	p.begin()
	js.Progress(jsonstream.Message{Status: "Digest: " + img.RepoDigest().String()})
	full, _ := image.Normalize(ref)
	if before == img.Manifest.String() {
		js.Progress(jsonstream.Message{Status: "Status: Image is up to date for " + image.Familiar(full)})
	} else {
		js.Progress(jsonstream.Message{Status: "Status: Downloaded newer image for " + image.Familiar(full)})
	}
	return nil
}

// pullProgress tells a pull's steps as docker's daemon does: "Pulling from",
// then per layer "Pulling fs layer", "Downloading" (with its bytes), "Download
// complete" and "Pull complete", or "Already exists".
type pullProgress struct {
	js        *jsonStream
	from, tag string
	// upToDate: the image was in the store; layers it has are not listed.
	upToDate bool
	mu       sync.Mutex
	began    bool
	fresh    map[string]bool // layers fetched by this pull
}

// begin sends "Pulling from" once, when the manifest is known (a pull that
// fails before has sent nothing, and is answered with its status).
func (p *pullProgress) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.began {
		p.began = true
		p.js.Progress(jsonstream.Message{Status: p.from, ID: p.tag})
	}
}

func (p *pullProgress) Layers(ls []image.PullLayer) {
	p.begin()
	all := true
	for _, l := range ls {
		all = all && l.Exists
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range ls {
		switch {
		case !l.Exists:
			p.fresh[l.ID] = true
			p.js.Progress(jsonstream.Message{Status: "Pulling fs layer", Progress: &jsonstream.Progress{}, ID: l.ID})
		case !(all && p.upToDate):
			p.js.Progress(jsonstream.Message{Status: "Already exists", Progress: &jsonstream.Progress{}, ID: l.ID})
		}
	}
}

func (p *pullProgress) Track(id string, size int64, r io.Reader) io.Reader {
	return &progressReader{r: r, send: func(n int64) {
		p.js.Progress(jsonstream.Message{Status: "Downloading", Progress: &jsonstream.Progress{Current: n, Total: size}, ID: id})
	}}
}

func (p *pullProgress) Done(id, status string) {
	if status == "downloaded" {
		p.js.Progress(jsonstream.Message{Status: "Verifying Checksum", Progress: &jsonstream.Progress{}, ID: id})
		p.js.Progress(jsonstream.Message{Status: "Download complete", Progress: &jsonstream.Progress{}, ID: id})
	}
}

func (p *pullProgress) Unpacked(id string) {
	p.mu.Lock()
	fresh := p.fresh[id]
	p.mu.Unlock()
	if fresh {
		p.js.Progress(jsonstream.Message{Status: "Pull complete", Progress: &jsonstream.Progress{}, ID: id})
	}
}

// progressReader reports the bytes read through it, at most every 100ms and
// at the end.
type progressReader struct {
	r    io.Reader
	n    int64
	last time.Time
	send func(n int64)
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.n += int64(n)
	if now := time.Now(); err != nil || now.Sub(pr.last) >= 100*time.Millisecond {
		pr.last = now
		pr.send(pr.n)
	}
	return n, err
}

// imageImport answers POST /images/create?fromSrc=-: a one-layer image of the
// rootfs tarball in the body (plain, gzip or zstd), named repo[:tag], its
// config made by the changes.
func (s *Server) imageImport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if src := q.Get("fromSrc"); src != "-" {
		return notImplementedf("import from %s is not supported: send the archive as the body with fromSrc=-", src)
	}
	// changes are Dockerfile instructions (docker import --change).
	opt := image.ImportOptions{Comment: q.Get("message")}
	if err := engine.ApplyChanges(&opt.Config, q["changes"]); err != nil {
		return badRequest(err)
	}
	ref := ""
	if repo := q.Get("repo"); repo != "" {
		var err error
		if ref, err = imageRef(repo, q.Get("tag")); err != nil {
			return err
		}
	}
	img, err := s.e.Images.Import(r.Body, ref, opt)
	if err != nil {
		return err
	}
	js := newJSONStream(w)
	return js.Progress(jsonstream.Message{Status: img.Config.String()})
}

// imageList answers GET /images/json, filtered (reference, label, dangling,
// before, since), newest first.
func (s *Server) imageList(w http.ResponseWriter, r *http.Request) error {
	f, err := queryFilters(r)
	if err != nil {
		return err
	}
	st := s.e.Images
	lf, err := image.ParseListFilter(f.flags())
	if err != nil {
		return badRequest(err)
	}
	imgs, err := st.List()
	if err != nil {
		return err
	}
	// shared-size counts over every image, before the filter.
	all := imgs
	if imgs, err = st.Filter(imgs, lf); err != nil {
		return err // before=/since= an image there is not: 404
	}
	// shared-size: the size of the layers each image shares with another.
	users := map[string]int{}
	if queryBool(r, "shared-size") {
		for _, img := range all {
			seen := map[string]bool{}
			for _, l := range img.Layers {
				if !seen[l.DiffID.String()] {
					seen[l.DiffID.String()] = true
					users[l.DiffID.String()]++
				}
			}
		}
	}
	out := []imagetypes.Summary{}
	for i := range imgs {
		img := &imgs[i]
		cfg, err := st.Config(img)
		if err != nil {
			cfg = nil
		}
		sum := imagetypes.Summary{ID: img.Config.String(), Size: st.Size(img), SharedSize: -1, Containers: -1}
		sum.RepoTags, sum.RepoDigests = familiar(image.RepoNames(img, lf.Names(img)))
		if cfg != nil {
			sum.Labels = cfg.Config.Labels
			if cfg.Created != nil {
				sum.Created = cfg.Created.Unix()
			}
		}
		if sum.Labels == nil {
			sum.Labels = map[string]string{}
		}
		if len(users) > 0 {
			sum.SharedSize = 0
			seen := map[string]bool{}
			for _, l := range img.Layers {
				if d := l.DiffID.String(); !seen[d] && users[d] > 1 {
					seen[d] = true
					sum.SharedSize += st.LayerSize(l.DiffID)
				}
			}
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return writeJSON(w, http.StatusOK, out)
}

// familiar is docker's short form of names.
func familiar(tags, digests []string) ([]string, []string) {
	for i, t := range tags {
		tags[i] = image.Familiar(t)
	}
	for i, d := range digests {
		digests[i] = image.Familiar(d)
	}
	return tags, digests
}

// imageInspect answers GET /images/{name}/json as docker's image inspect.
func (s *Server) imageInspect(w http.ResponseWriter, r *http.Request) error {
	st := s.e.Images
	img, err := st.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	raw, err := st.ReadBlob(img.Config, 8<<20)
	if err != nil {
		return err
	}
	// docker's config, with what OCI's lacks (Healthcheck, Shell, OnBuild).
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("image config %s: %w", img.Config, err)
	}
	_, mraw, err := st.Manifest(img)
	if err != nil {
		return err
	}
	out := imagetypes.InspectResponse{
		ID: img.Config.String(), Author: cfg.Author, Config: &cfg.Config,
		Architecture: cfg.Architecture, Variant: cfg.Variant, Os: cfg.OS, OsVersion: cfg.OSVersion,
		Size:       st.Size(img),
		RootFS:     imagetypes.RootFS{Type: "layers"},
		Metadata:   imagetypes.Metadata{LastTagTime: img.Added},
		Descriptor: &ocispec.Descriptor{MediaType: img.MediaType, Digest: img.Manifest, Size: int64(len(mraw))},
	}
	out.RepoTags, out.RepoDigests = familiar(image.RepoNames(img, img.Names))
	if cfg.Created != nil {
		out.Created = cfg.Created.Format(time.RFC3339Nano)
	}
	for _, l := range img.Layers {
		out.RootFS.Layers = append(out.RootFS.Layers, l.DiffID.String())
	}
	if n := len(cfg.History); n > 0 {
		out.Comment = cfg.History[n-1].Comment
	}
	return writeJSON(w, http.StatusOK, out)
}

// imageHistory answers GET /images/{name}/history: the config's history, newest
// first; the newest entry is the image (its ID and tags), the others
// "<missing>", each with the size of the layer it made.
func (s *Server) imageHistory(w http.ResponseWriter, r *http.Request) error {
	st := s.e.Images
	img, err := st.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	cfg, err := st.Config(img)
	if err != nil {
		return err
	}
	tags, _ := familiar(image.RepoNames(img, img.Names))
	out := []imagetypes.HistoryResponseItem{}
	layer := 0
	for _, h := range cfg.History {
		item := imagetypes.HistoryResponseItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Tags: nil}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer && layer < len(img.Layers) {
			item.Size = st.LayerSize(img.Layers[layer].DiffID)
			layer++
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		out = append(out, imagetypes.HistoryResponseItem{Size: st.Size(img)})
		if cfg.Created != nil {
			out[0].Created = cfg.Created.Unix()
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	out[0].ID, out[0].Tags = img.Config.String(), tags
	return writeJSON(w, http.StatusOK, out)
}

// imageTag answers POST /images/{name}/tag?repo=R&tag=T: 201.
func (s *Server) imageTag(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	repo := q.Get("repo")
	if repo == "" {
		return badRequestf("repository name must have at least one component")
	}
	if strings.Contains(repo, "@") || strings.Contains(q.Get("tag"), ":") {
		return badRequestf("refusing to create a tag with a digest reference")
	}
	target, err := imageRef(repo, q.Get("tag"))
	if err != nil {
		return err
	}
	if err := s.e.Images.Tag(r.PathValue("name"), target); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// imageDelete answers DELETE /images/{name}?force=&noprune=: what was untagged
// and deleted.
func (s *Server) imageDelete(w http.ResponseWriter, r *http.Request) error {
	lines, err := s.e.Images.Remove(r.PathValue("name"), queryBool(r, "force"))
	if err != nil && lines == nil {
		return err
	}
	// After the records changed, an error is the garbage collection's: the
	// image is gone, its blobs wait for the next collection.
	if err != nil {
		s.log.Warn("api: image removal: collect garbage", "error", err)
	}
	out := []imagetypes.DeleteResponse{}
	for _, l := range lines {
		if n, ok := strings.CutPrefix(l, "Untagged: "); ok {
			out = append(out, imagetypes.DeleteResponse{Untagged: image.Familiar(n)})
		} else if id, ok := strings.CutPrefix(l, "Deleted: "); ok {
			out = append(out, imagetypes.DeleteResponse{Deleted: id})
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// imagePrune answers POST /images/prune: filters dangling (false: every unused
// image), until, label, label!.
func (s *Server) imagePrune(w http.ResponseWriter, r *http.Request) error {
	f, err := queryFilters(r)
	if err != nil {
		return err
	}
	pf, err := image.ParsePruneFilter(f.flags(), time.Now())
	if err != nil {
		return badRequest(err)
	}
	rep, err := s.e.Images.PruneImages(pf)
	if rep == nil {
		return err
	}
	if err != nil {
		s.log.Warn("api: image prune: collect garbage", "error", err)
	}
	out := imagetypes.PruneReport{SpaceReclaimed: uint64(rep.Reclaimed)}
	for _, n := range rep.Untagged {
		out.ImagesDeleted = append(out.ImagesDeleted, imagetypes.DeleteResponse{Untagged: image.Familiar(n)})
	}
	for _, id := range rep.Deleted {
		out.ImagesDeleted = append(out.ImagesDeleted, imagetypes.DeleteResponse{Deleted: id.String()})
	}
	return writeJSON(w, http.StatusOK, out)
}

// imagePush answers POST /images/{name}/push?tag=T: the tag, or with none
// every tag of the repository, as a JSON progress stream.
func (s *Server) imagePush(w http.ResponseWriter, r *http.Request) error {
	name, tag := r.PathValue("name"), r.URL.Query().Get("tag")
	ropt, err := s.registryOptions(r)
	if err != nil {
		return err
	}
	var refs []string
	if tag == "" && !hasTag(name) {
		if refs, err = s.e.Images.RepoTags(name); err != nil {
			return badRequestf("invalid reference format: %s", name)
		}
		if len(refs) == 0 {
			return notFoundf("An image does not exist locally with the tag: %s", name)
		}
	} else {
		ref, err := imageRef(name, tag)
		if err != nil {
			return err
		}
		if _, err := s.e.Images.Get(ref); err != nil {
			if errors.Is(err, image.ErrNotFound) {
				return notFoundf("An image does not exist locally with the tag: %s", ref)
			}
			return err
		}
		refs = []string{ref}
	}
	js := newJSONStream(w)
	full, _ := image.Normalize(refs[0])
	js.Progress(jsonstream.Message{Status: "The push refers to repository [" + full[:strings.LastIndexByte(full, ':')] + "]"})
	for _, ref := range refs {
		if err := s.push(r, js, ref, ropt); err != nil {
			return js.Error(err)
		}
	}
	return nil
}

func (s *Server) push(r *http.Request, js *jsonStream, ref string, ropt image.RegistryOptions) error {
	img, err := s.e.Images.Get(ref)
	if err != nil {
		return err
	}
	for _, l := range img.Layers {
		js.Progress(jsonstream.Message{Status: "Preparing", Progress: &jsonstream.Progress{}, ID: l.Blob.Encoded()[:12]})
	}
	p := &pushProgress{js: js}
	pushed, err := s.e.Images.Push(r.Context(), ref, "", image.PushOptions{RegistryOptions: ropt, Progress: p})
	if err != nil {
		return err
	}
	tag := tagOf(ref)
	js.Progress(jsonstream.Message{Status: fmt.Sprintf("%s: digest: %s size: %d", tag, pushed.Digest, pushed.Size)})
	aux, _ := json.Marshal(map[string]any{"Tag": tag, "Digest": pushed.Digest.String(), "Size": pushed.Size})
	raw := json.RawMessage(aux)
	return js.Progress(jsonstream.Message{Progress: &jsonstream.Progress{}, Aux: &raw})
}

// pushProgress tells a push's layers as docker's daemon does: "Pushing" with
// its bytes, then "Pushed", or "Layer already exists".
type pushProgress struct{ js *jsonStream }

func (p *pushProgress) Track(id string, size int64, r io.Reader) io.Reader {
	return &progressReader{r: r, send: func(n int64) {
		p.js.Progress(jsonstream.Message{Status: "Pushing", Progress: &jsonstream.Progress{Current: n, Total: size}, ID: id})
	}}
}

func (p *pushProgress) Done(id, status string) {
	switch status {
	case "pushed":
		p.js.Progress(jsonstream.Message{Status: "Pushed", Progress: &jsonstream.Progress{}, ID: id})
	case "exists":
		p.js.Progress(jsonstream.Message{Status: "Layer already exists", Progress: &jsonstream.Progress{}, ID: id})
	}
}

// imageSave answers GET /images/{name}/get: a docker-archive of the image.
func (s *Server) imageSave(w http.ResponseWriter, r *http.Request) error {
	return s.save(w, []string{r.PathValue("name")})
}

// imageSaveMany answers GET /images/get?names=A&names=B: a docker-archive of
// the images.
func (s *Server) imageSaveMany(w http.ResponseWriter, r *http.Request) error {
	names := r.URL.Query()["names"]
	if len(names) == 0 {
		return badRequestf("no images named: want names=IMAGE")
	}
	return s.save(w, names)
}

// save writes the docker-archive (what docker load and podman load read).
// Every name is looked up first, so that a missing one is a 404, not a broken
// tarball.
func (s *Server) save(w http.ResponseWriter, names []string) error {
	for _, n := range names {
		if _, err := s.e.Images.Get(n); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	return s.e.Images.Save(w, names, "docker")
}

// imageLoad answers POST /images/load?quiet=: the images of the docker-archive
// or OCI layout tarball in the body, as a JSON stream of "Loaded image" lines.
func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) error {
	imgs, err := s.e.Images.Load(r.Context(), r.Body)
	if err != nil {
		return badRequest(err)
	}
	js := newJSONStream(w)
	for _, img := range imgs {
		if len(img.Names) == 0 {
			js.Send(jsonstream.Message{Stream: "Loaded image ID: " + img.Config.String() + "\n"})
			continue
		}
		for _, n := range img.Names {
			js.Send(jsonstream.Message{Stream: "Loaded image: " + image.Familiar(n) + "\n"})
		}
	}
	js.Begin()
	return nil
}

// imageSearch answers GET /images/search: hull has no registry search.
func (s *Server) imageSearch(w http.ResponseWriter, r *http.Request) error {
	return notImplementedf("not supported: hull has no registry search")
}

// distributionInspect answers GET /distribution/{name}/json: what the registry
// serves under the name, without pulling it.
func (s *Server) distributionInspect(w http.ResponseWriter, r *http.Request) error {
	ref, err := imageRef(r.PathValue("name"), "")
	if err != nil {
		return err
	}
	ropt, err := s.registryOptions(r)
	if err != nil {
		return err
	}
	d, err := ropt.Inspect(r.Context(), ref)
	if err != nil {
		return err
	}
	out := registry.DistributionInspect{Descriptor: d.Descriptor, Platforms: d.Platforms}
	if out.Platforms == nil {
		out.Platforms = []ocispec.Platform{}
	}
	return writeJSON(w, http.StatusOK, out)
}
