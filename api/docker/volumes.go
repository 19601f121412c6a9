package docker

import (
	"errors"
	"net/http"
	"slices"

	hullvolume "github.com/hullproject/hull/volume"
	"github.com/moby/moby/api/types/volume"
)

// routesVolumes registers volumes: create, list, inspect, update, delete, prune.
func (s *Server) routesVolumes(rt *router) {
	rt.handle("GET", "/volumes", s.volumeList)
	rt.handle("POST", "/volumes/create", s.volumeCreate)
	rt.handle("POST", "/volumes/prune", s.volumePrune)
	rt.handle("GET", "/volumes/{name}", s.volumeInspect)
	rt.handle("PUT", "/volumes/{name}", s.volumeUpdate)
	rt.handle("DELETE", "/volumes/{name}", s.volumeDelete)
}

// errNoSwarm is docker's answer to what only a swarm manager does (cluster
// volumes): hull is never one.
var errNoSwarm = &httpError{http.StatusServiceUnavailable,
	errors.New(`This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`)}

// apiVolume is a volume in the API's shape: what `hull volume inspect` shows.
func apiVolume(v *hullvolume.Volume) volume.Volume {
	i := v.Info()
	return volume.Volume{Name: i.Name, Driver: i.Driver, Mountpoint: i.Mountpoint, CreatedAt: i.CreatedAt,
		Labels: i.Labels, Options: i.Options, Scope: i.Scope}
}

// volumeFilters reads the filters parameter as `hull volume ls --filter` reads
// its flags, taking only the keys given; a bad one is a 400.
func volumeFilters(r *http.Request, keys ...string) (hullvolume.Filters, error) {
	f, err := queryFilters(r)
	if err != nil {
		return hullvolume.Filters{}, err
	}
	for k := range f {
		if !slices.Contains(keys, k) {
			return hullvolume.Filters{}, badRequestf("invalid filter '%s'", k)
		}
	}
	vf, err := hullvolume.ParseFilters(f.flags())
	if err != nil {
		return vf, badRequest(err)
	}
	return vf, nil
}

// volumeName is the volume of the path; a name no volume can have is docker's
// 404, not a 500.
func volumeName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if hullvolume.ValidName(name) != nil {
		return "", notFoundf("get %s: %w", name, hullvolume.ErrNotFound)
	}
	return name, nil
}

// volumeList answers GET /volumes, filtered by name, label, label!, driver and
// dangling.
func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) error {
	f, err := volumeFilters(r, "name", "label", "label!", "driver", "dangling")
	if err != nil {
		return err
	}
	vs, err := s.e.Volumes()
	if err != nil {
		return err
	}
	list, err := vs.List(f)
	if err != nil {
		return err
	}
	out := volume.ListResponse{Volumes: []volume.Volume{}}
	for _, v := range list {
		out.Volumes = append(out.Volumes, apiVolume(v))
	}
	return writeJSON(w, http.StatusOK, out)
}

// volumeCreate answers POST /volumes/create: a volume of the local driver, with
// its driver options (type, device, o) and labels. A name that exists returns
// that volume as it is, as docker does; an empty one makes an anonymous volume.
func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.ClusterVolumeSpec != nil && versionAtLeast(r, "1.42") {
		return errNoSwarm
	}
	if req.Driver != "" && req.Driver != hullvolume.Driver {
		return notFoundf("error looking up volume plugin %s: plugin %q not found", req.Driver, req.Driver)
	}
	if req.Name != "" {
		if err := hullvolume.ValidName(req.Name); err != nil {
			return badRequest(err)
		}
	}
	if err := hullvolume.ValidateOptions(req.DriverOpts); err != nil {
		return badRequestf("create %s: %w", req.Name, err)
	}
	v, err := s.e.CreateVolume(req.Name, hullvolume.CreateOptions{Labels: req.Labels, Options: req.DriverOpts})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, apiVolume(v))
}

// volumeInspect answers GET /volumes/{name}.
func (s *Server) volumeInspect(w http.ResponseWriter, r *http.Request) error {
	name, err := volumeName(r)
	if err != nil {
		return err
	}
	vs, err := s.e.Volumes()
	if err != nil {
		return err
	}
	v, err := vs.Get(name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, apiVolume(v))
}

// volumeUpdate answers PUT /volumes/{name}: only cluster volumes are updated,
// and hull has no swarm, so docker's answer without one.
func (s *Server) volumeUpdate(w http.ResponseWriter, r *http.Request) error {
	return &httpError{http.StatusServiceUnavailable, errors.New("volume update only valid for cluster volumes, but swarm is unavailable")}
}

// volumeDelete answers DELETE /volumes/{name}: 409 while a container uses it,
// force or not; force makes a missing volume no error.
func (s *Server) volumeDelete(w http.ResponseWriter, r *http.Request) error {
	force := queryBool(r, "force")
	name := r.PathValue("name")
	if hullvolume.ValidName(name) != nil {
		if force {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return notFoundf("get %s: %w", name, hullvolume.ErrNotFound)
	}
	if err := s.e.RemoveVolume(name, force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// volumePrune answers POST /volumes/prune: the unused volumes that pass the
// label filters; from API 1.42 on anonymous ones only, unless all=true.
func (s *Server) volumePrune(w http.ResponseWriter, r *http.Request) error {
	f, err := volumeFilters(r, "label", "label!", "all")
	if err != nil {
		return err
	}
	if !versionAtLeast(r, "1.42") {
		f.All = true
	}
	rep, err := s.e.PruneVolumes(f)
	if err != nil {
		return err
	}
	out := volume.PruneReport{VolumesDeleted: rep.VolumesDeleted, SpaceReclaimed: rep.SpaceReclaimed}
	return writeJSON(w, http.StatusOK, out)
}
