package docker

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
)

// routesContainers registers containers: create, start, stop, restart, kill,
// pause, unpause, wait, json, inspect, top, stats, rename, update, export,
// archive, changes, prune, delete; commit. Resize, attach, logs and exec are
// streams.go's.
func (s *Server) routesContainers(rt *router) {
	rt.handle("POST", "/containers/create", s.containerCreate)
	rt.handle("GET", "/containers/json", s.containerList)
	rt.handle("POST", "/containers/prune", s.containerPrune)
	rt.handle("GET", "/containers/{name}/json", s.containerInspect)
	rt.handle("POST", "/containers/{name}/start", s.containerStart)
	rt.handle("POST", "/containers/{name}/stop", s.containerStop)
	rt.handle("POST", "/containers/{name}/restart", s.containerRestart)
	rt.handle("POST", "/containers/{name}/kill", s.containerKill)
	rt.handle("POST", "/containers/{name}/pause", s.containerPause)
	rt.handle("POST", "/containers/{name}/unpause", s.containerUnpause)
	rt.handle("POST", "/containers/{name}/wait", s.containerWait)
	rt.handle("POST", "/containers/{name}/rename", s.containerRename)
	rt.handle("POST", "/containers/{name}/update", s.containerUpdate)
	rt.handle("DELETE", "/containers/{name}", s.containerDelete)
	rt.handle("GET", "/containers/{name}/top", s.containerTop)
	rt.handle("GET", "/containers/{name}/stats", s.containerStats)
	rt.handle("GET", "/containers/{name}/export", s.containerExport)
	rt.handle("GET", "/containers/{name}/changes", s.containerChanges)
	rt.handle("GET", "/containers/{name}/archive", s.containerArchiveGet)
	rt.handle("HEAD", "/containers/{name}/archive", s.containerArchiveHead)
	rt.handle("PUT", "/containers/{name}/archive", s.containerArchivePut)
	rt.handle("POST", "/commit", s.commit)
}

// noContent answers 204, docker's answer to a verb that has nothing to say.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// containerStart answers POST /containers/{name}/start: 204, 304 if it runs
// already. A program that cannot be started is a 400 whose message says why in
// the words docker's CLI reads for run's exit code (127, 126).
func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("checkpoint") != "" {
		return badRequestf("checkpoints are not supported")
	}
	if _, err := s.e.Start(r.PathValue("name"), nil); err != nil {
		var se *engine.StartError
		if errors.As(err, &se) {
			return badRequest(err)
		}
		return err
	}
	return noContent(w)
}

// stopParams reads stop's and restart's t (seconds) and signal.
func stopParams(r *http.Request) (*int, unix.Signal, error) {
	var timeout *int
	if r.URL.Query().Get("t") != "" {
		t, err := queryInt(r, "t", 0)
		if err != nil {
			return nil, 0, err
		}
		timeout = &t
	}
	var sig unix.Signal
	if v := r.URL.Query().Get("signal"); v != "" {
		var err error
		if sig, err = engine.ParseSignal(v); err != nil {
			return nil, 0, badRequest(err)
		}
	}
	return timeout, sig, nil
}

// containerStop answers POST /containers/{name}/stop?t=&signal=: 204, 304 if
// it does not run.
func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) error {
	timeout, sig, err := stopParams(r)
	if err != nil {
		return err
	}
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return errNotModified
	}
	if err := s.e.StopWith(c.ID, timeout, sig); err != nil {
		return err
	}
	return noContent(w)
}

// errNotModified is answered 304, without a body.
var errNotModified = &httpError{http.StatusNotModified, errors.New("not modified")}

// containerRestart answers POST /containers/{name}/restart?t=&signal=.
func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) error {
	timeout, sig, err := stopParams(r)
	if err != nil {
		return err
	}
	if err := s.e.RestartWith(r.PathValue("name"), timeout, sig); err != nil {
		return err
	}
	return noContent(w)
}

// containerKill answers POST /containers/{name}/kill?signal= (default KILL):
// 409 if it does not run.
func (s *Server) containerKill(w http.ResponseWriter, r *http.Request) error {
	sig := unix.SIGKILL
	if v := r.URL.Query().Get("signal"); v != "" {
		var err error
		if sig, err = engine.ParseSignal(v); err != nil {
			return badRequest(err)
		}
	}
	if err := s.e.Kill(r.PathValue("name"), sig); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) containerPause(w http.ResponseWriter, r *http.Request) error {
	if err := s.e.Pause(r.PathValue("name")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) containerUnpause(w http.ResponseWriter, r *http.Request) error {
	if err := s.e.Unpause(r.PathValue("name")); err != nil {
		return err
	}
	return noContent(w)
}

// containerWait answers POST /containers/{name}/wait?condition=: the status
// and headers at once, once the wait is registered (docker's CLI starts the
// container only then), and {"StatusCode":N} when the condition holds.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) error {
	cond, err := engine.ParseWaitCondition(r.URL.Query().Get("condition"))
	if err != nil {
		return badRequest(err)
	}
	wt, err := s.e.RegisterWait(r.PathValue("name"), cond)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
	res, err := wt.Wait(s.stopping(r))
	if errors.Is(err, engine.ErrWaitStopped) {
		return nil // the client went away, or the service stops
	}
	out := container.WaitResponse{StatusCode: int64(res.Code)}
	switch {
	case err != nil:
		out = container.WaitResponse{StatusCode: -1, Error: &container.WaitExitError{Message: err.Error()}}
	case res.Error != "":
		out.Error = &container.WaitExitError{Message: res.Error}
	}
	return writeJSONBody(w, out)
}

// containerRename answers POST /containers/{name}/rename?name=.
func (s *Server) containerRename(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Query().Get("name"), "/")
	if name == "" {
		return badRequestf("a new name is required")
	}
	if err := s.e.Rename(r.PathValue("name"), name); err != nil {
		if engine.CheckName(name) != nil {
			return badRequest(err)
		}
		return err
	}
	return noContent(w)
}

// containerUpdate answers POST /containers/{name}/update: the limits and the
// restart policy, as hull update changes them.
func (s *Server) containerUpdate(w http.ResponseWriter, r *http.Request) error {
	var req container.UpdateConfig
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	o := engine.UpdateOptions{Resources: engine.Resources{
		Memory: req.Memory, MemorySwap: req.MemorySwap, NanoCPUs: req.NanoCPUs, CPUShares: req.CPUShares,
		CpusetCpus: req.CpusetCpus, CgroupLimits: cgroupLimits(&req.Resources),
	}}
	if req.PidsLimit != nil {
		if o.PidsLimit = *req.PidsLimit; o.PidsLimit <= 0 {
			o.PidsLimit = -1
		}
	}
	if p := req.RestartPolicy; p.Name != "" {
		o.Restart = string(p.Name)
		if p.MaximumRetryCount > 0 {
			o.Restart += ":" + strconv.Itoa(p.MaximumRetryCount)
		}
	}
	var refused []string
	refuse := func(set bool, field, why string) {
		if set {
			refused = append(refused, field+": "+why)
		}
	}
	// What docker's update cannot change either.
	const fixed = "cannot be updated"
	rs := &req.Resources
	refuse(rs.CgroupParent != "", "CgroupParent", fixed)
	refuse(len(rs.BlkioWeightDevice)+len(rs.BlkioDeviceReadBps)+len(rs.BlkioDeviceWriteBps)+len(rs.BlkioDeviceReadIOps)+len(rs.BlkioDeviceWriteIOps) > 0,
		"BlkioWeightDevice", fixed)
	refuse(len(rs.Devices)+len(rs.DeviceCgroupRules)+len(rs.DeviceRequests) > 0, "Devices", fixed)
	refuse(rs.MemorySwappiness != nil && *rs.MemorySwappiness != -1, "MemorySwappiness", fixed)
	refuse(rs.OomKillDisable != nil && *rs.OomKillDisable, "OomKillDisable", fixed)
	refuse(len(rs.Ulimits) > 0, "Ulimits", fixed)
	if len(refused) > 0 {
		return badRequestf("%s", strings.Join(refused, "; "))
	}
	if err := s.e.Update(r.PathValue("name"), o); err != nil {
		return updateError(err)
	}
	return writeJSON(w, http.StatusOK, container.UpdateResponse{Warnings: []string{}})
}

// updateError names update's refused options by docker's JSON fields.
func updateError(err error) error {
	oes := engine.OptionErrors(err)
	if len(oes) == 0 {
		return err
	}
	var msgs []string
	for _, oe := range oes {
		field := strings.TrimPrefix(createFields[oe.Field], "HostConfig.")
		if field == "" {
			field = oe.Field
		}
		msgs = append(msgs, field+": "+oe.Err.Error())
	}
	return badRequestf("%s", strings.Join(msgs, "; "))
}

// containerDelete answers DELETE /containers/{name}?force=&v=&link=.
func (s *Server) containerDelete(w http.ResponseWriter, r *http.Request) error {
	if queryBool(r, "link") {
		return badRequestf("legacy links are not supported: %s has none to remove", r.PathValue("name"))
	}
	name, force := r.PathValue("name"), queryBool(r, "force")
	var err error
	if queryBool(r, "v") {
		err = s.e.RemoveWithVolumes(name, force)
	} else {
		err = s.e.Remove(name, force)
	}
	if err != nil {
		return err
	}
	return noContent(w)
}

// containerPrune answers POST /containers/prune?filters= (until, label,
// label!=).
func (s *Server) containerPrune(w http.ResponseWriter, r *http.Request) error {
	f, err := queryFilters(r)
	if err != nil {
		return err
	}
	var pf engine.PruneFilter
	for k, vs := range f {
		switch k {
		case "until":
			for _, v := range vs {
				t, err := parseUntil(v)
				if err != nil {
					return badRequest(err)
				}
				pf.Until = t
			}
		case "label":
			pf.Label = append(pf.Label, vs...)
		case "label!":
			pf.NotLabel = append(pf.NotLabel, vs...)
		default:
			return badRequestf("invalid filter %q", k)
		}
	}
	gone, space, err := s.e.PruneContainers(pf)
	if err != nil {
		return err
	}
	if gone == nil {
		gone = []string{}
	}
	return writeJSON(w, http.StatusOK, container.PruneReport{ContainersDeleted: gone, SpaceReclaimed: space})
}

// parseUntil reads prune's until: unix seconds (with a fraction), an RFC 3339
// time, or a duration ago (10m), as docker's.
func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, errors.New("invalid filter 'until=" + v + "': want a time or a duration")
	}
	var ns int64
	if frac != "" && len(frac) <= 9 {
		ns, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	return time.Unix(s, ns), nil
}

// writeJSONBody writes v as JSON on an answer whose status was sent.
func writeJSONBody(w http.ResponseWriter, v any) error {
	return json.NewEncoder(w).Encode(v)
}
