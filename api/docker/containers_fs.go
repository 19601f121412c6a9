package docker

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A container's processes, resource use and files: top, stats, export,
// changes, archive (docker cp) and commit.

// containerTop answers GET /containers/{name}/top?ps_args=: the host's ps
// (default -ef), the lines of the container's processes, split as docker's.
func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) error {
	pids, err := s.e.Top(r.PathValue("name"))
	if err != nil {
		return err
	}
	t, err := engine.Ps(strings.Fields(r.URL.Query().Get("ps_args")))
	if err != nil {
		return badRequest(err)
	}
	out := container.TopResponse{Titles: t.Titles(), Processes: [][]string{}}
	for _, l := range t.Of(pids) {
		out.Processes = append(out.Processes, t.Fields(l))
	}
	return writeJSON(w, http.StatusOK, out)
}

// statsInterval is how often a stats stream samples, as docker's collector.
const statsInterval = time.Second

// containerStats answers GET /containers/{name}/stats?stream=&one-shot=: a
// sample each second (stream, the default); with stream=false one answer
// with the sample before it (precpu, a second earlier) for the CPU
// percentage, or one-shot=true without. A container that does not run gets
// docker's empty sample.
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) error {
	stream := !r.URL.Query().Has("stream") || queryBool(r, "stream")
	oneShot := queryBool(r, "one-shot")
	if stream && oneShot {
		return badRequestf("cannot have stream=true and one-shot=true")
	}
	c, err := s.e.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	empty := container.StatsResponse{ID: c.ID, Name: "/" + c.Name, OSType: "linux"}
	if !c.State.Running() {
		return writeJSON(w, http.StatusOK, empty)
	}
	sample := func() (*engine.Stats, error) {
		st, err := s.e.Stats(c.ID)
		if statusOf(err) == http.StatusConflict {
			return nil, nil // it stopped meanwhile
		}
		return st, err
	}
	prev, err := sample()
	if err != nil {
		return err
	}
	stop := s.stopping(r)
	if !stream {
		cur := prev
		if !oneShot && prev != nil {
			select {
			case <-stop:
				return nil
			case <-time.After(statsInterval):
			}
			if cur, err = sample(); err != nil {
				return err
			}
		} else {
			prev = nil
		}
		return writeJSON(w, http.StatusOK, statsResponse(empty, cur, prev))
	}
	js := newJSONStream(w)
	if err := js.Send(statsResponse(empty, prev, nil)); err != nil || prev == nil {
		return nil
	}
	for {
		select {
		case <-stop:
			return nil
		case <-time.After(statsInterval):
		}
		cur, err := sample()
		if err != nil || cur == nil {
			js.Send(empty) // it stopped: docker's last, empty sample
			return nil
		}
		if err := js.Send(statsResponse(empty, cur, prev)); err != nil {
			return nil
		}
		prev = cur
	}
}

// statsResponse is docker's StatsResponse of a sample and the one before it.
func statsResponse(base container.StatsResponse, cur, prev *engine.Stats) container.StatsResponse {
	out := base
	if cur == nil {
		return out
	}
	out.Read = cur.Read
	out.CPUStats = cpuStats(cur)
	if prev != nil {
		out.PreRead, out.PreCPUStats = prev.Read, cpuStats(prev)
	}
	// The usage as the cgroup counts it (the page cache in): docker's clients
	// subtract inactive_file themselves.
	usage := cur.MemUsage
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := cur.MemStat[k]; ok {
			usage += v
			break
		}
	}
	out.MemoryStats = container.MemoryStats{Usage: usage, MaxUsage: cur.MemMax, Stats: cur.MemStat, Failcnt: cur.MemFailcnt, Limit: cur.MemLimit}
	out.PidsStats = container.PidsStats{Current: cur.Pids, Limit: cur.PidsLimit}
	out.NumProcs = 0
	for _, b := range cur.BlkioBytes {
		out.BlkioStats.IoServiceBytesRecursive = append(out.BlkioStats.IoServiceBytesRecursive, container.BlkioStatEntry{Major: b.Major, Minor: b.Minor, Op: b.Op, Value: b.Value})
	}
	for _, b := range cur.BlkioOps {
		out.BlkioStats.IoServicedRecursive = append(out.BlkioStats.IoServicedRecursive, container.BlkioStatEntry{Major: b.Major, Minor: b.Minor, Op: b.Op, Value: b.Value})
	}
	if len(cur.Networks) > 0 {
		out.Networks = map[string]container.NetworkStats{}
		for name, n := range cur.Networks {
			out.Networks[name] = container.NetworkStats{
				RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
				TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped,
			}
		}
	}
	return out
}

func cpuStats(st *engine.Stats) container.CPUStats {
	return container.CPUStats{
		CPUUsage: container.CPUUsage{
			TotalUsage: st.CPUTotal, PercpuUsage: st.PerCPU, UsageInKernelmode: st.CPUKernel, UsageInUsermode: st.CPUUser,
		},
		SystemUsage: st.SystemCPU, OnlineCPUs: st.OnlineCPUs,
		ThrottlingData: container.ThrottlingData{Periods: st.ThrottlePeriods, ThrottledPeriods: st.ThrottledPeriods, ThrottledTime: st.ThrottledTime},
	}
}

// containerExport answers GET /containers/{name}/export: its filesystem as a
// tar.
func (s *Server) containerExport(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := s.e.Get(name); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	return s.e.Export(name, w)
}

// containerChanges answers GET /containers/{name}/changes.
func (s *Server) containerChanges(w http.ResponseWriter, r *http.Request) error {
	changes, err := s.e.Changes(r.PathValue("name"))
	if err != nil {
		return err
	}
	out := []container.FilesystemChange{}
	for _, c := range changes {
		out = append(out, container.FilesystemChange{Path: c.Path, Kind: container.ChangeType(c.Kind)})
	}
	return writeJSON(w, http.StatusOK, out)
}

// pathStat stats the archive's path and sets docker's
// X-Docker-Container-Path-Stat header (base64 of the JSON PathStat).
func (s *Server) pathStat(w http.ResponseWriter, r *http.Request) (*engine.PathStat, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return nil, badRequestf("path is required")
	}
	st, err := s.e.StatPath(r.PathValue("name"), p)
	if errors.Is(err, engine.ErrNoSuchPath) {
		return nil, notFoundf("Could not find the file %s in container %s", p, r.PathValue("name"))
	}
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(container.PathStat{Name: st.Name, Size: st.Size, Mode: st.Mode, Mtime: st.Mtime, LinkTarget: st.LinkTarget})
	if err != nil {
		return nil, err
	}
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(data))
	return st, nil
}

// containerArchiveHead answers HEAD /containers/{name}/archive?path=: the
// path's stat in the header.
func (s *Server) containerArchiveHead(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.pathStat(w, r); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// containerArchiveGet answers GET /containers/{name}/archive?path=: the path
// as a tar (docker cp CONTAINER:PATH ...).
func (s *Server) containerArchiveGet(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.pathStat(w, r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	return s.e.ArchiveFrom(r.PathValue("name"), r.URL.Query().Get("path"), w, engine.CopyOptions{})
}

// containerArchivePut answers PUT /containers/{name}/archive?path=&copyUIDGID=:
// the tar in the body unpacked into the directory path, every entry confined
// to the container's root filesystem or the volume there (engine/cp.go).
func (s *Server) containerArchivePut(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	st, err := s.pathStat(w, r)
	if err != nil {
		return err
	}
	w.Header().Del("X-Docker-Container-Path-Stat")
	if !st.Mode.IsDir() {
		return badRequestf("extraction point is not a directory: %s", r.URL.Query().Get("path"))
	}
	if err := s.e.ExtractTo(name, r.URL.Query().Get("path"), r.Body, engine.CopyOptions{Archive: queryBool(r, "copyUIDGID")}); err != nil {
		if errors.Is(err, engine.ErrReadOnly) {
			// docker's 403: the rootfs, or the volume there, is read-only
			return &httpError{http.StatusForbidden, err}
		}
		return badRequest(err)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// commit answers POST /commit?container=&repo=&tag=&comment=&changes=: an
// image of the container's changes, its config the container's with the
// body's fields and the changes over it. author is not recorded and pause not
// done (hull's commit does neither).
func (s *Server) commit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	name := q.Get("container")
	if name == "" {
		return badRequestf("container is required")
	}
	var body container.Config
	if r.ContentLength != 0 && r.Body != nil {
		if err := decodeJSON(r, &body); err != nil && !strings.Contains(err.Error(), "EOF") {
			return err
		}
	}
	ref := q.Get("repo")
	if ref != "" {
		tag := q.Get("tag")
		if tag == "" {
			tag = "latest"
		}
		ref += ":" + tag
	}
	// changes are Dockerfile instructions (docker commit --change), after the
	// body's config.
	o := engine.CommitOptions{Comment: q.Get("comment"), Change: func(cfg *ocispec.ImageConfig) error {
		overConfig(cfg, &body)
		if err := engine.ApplyChanges(cfg, q["changes"]); err != nil {
			return badRequest(err)
		}
		return nil
	}}
	img, err := s.e.Commit(name, ref, o)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, common.IDResponse{ID: img.ID().String()})
}

// overConfig puts the fields set in c over the image config cfg, as docker's
// commit merges its body.
func overConfig(cfg *ocispec.ImageConfig, c *container.Config) {
	if c.Cmd != nil {
		cfg.Cmd = c.Cmd
	}
	if c.Entrypoint != nil {
		cfg.Entrypoint = c.Entrypoint
	}
	if c.Env != nil {
		cfg.Env = c.Env
	}
	if c.User != "" {
		cfg.User = c.User
	}
	if c.WorkingDir != "" {
		cfg.WorkingDir = c.WorkingDir
	}
	if c.StopSignal != "" {
		cfg.StopSignal = c.StopSignal
	}
	for k, v := range c.Labels {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	for p := range c.ExposedPorts {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[p.String()] = struct{}{}
	}
	for v := range c.Volumes {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
}
