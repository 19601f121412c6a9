package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/testutil"
	"github.com/moby/moby/api/types/system"
)

// busyboxServer is newServer with busybox imported, for tests that create
// containers (which needs root: the rootfs is an overlay mount).
func busyboxServer(t *testing.T) (*Server, string) {
	t.Helper()
	testutil.RequireRoot(t)
	if _, err := os.Stat(testutil.Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	s, hs := newServer(t)
	if _, err := image.BusyboxImage(context.Background(), s.e.Images, "busybox"); err != nil {
		t.Fatal(err)
	}
	return s, hs.URL
}

// create makes a container that is never started (no network, no monitor) and
// removes it at the end of the test.
func create(t *testing.T, e *engine.Engine, name string, labels map[string]string) *engine.Container {
	t.Helper()
	c, err := e.Create(engine.CreateOptions{Name: name, Image: "busybox", Cmd: []string{"true"}, Network: "none", Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Remove(c.ID, true) })
	return c
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// /info tells what `hull info` tells: engine.Info.
func TestInfoEndpoint(t *testing.T) {
	s, url := busyboxServer(t)
	create(t, s.e, "web", nil)
	want, err := s.e.Info()
	if err != nil {
		t.Fatal(err)
	}
	var in system.Info
	getJSON(t, url+"/v1.50/info", &in)
	if in.Containers != 1 || in.ContainersStopped != 1 || in.ContainersRunning != 0 || in.Images != 1 ||
		in.Driver != "overlay" || in.DockerRootDir != s.e.Root || in.ServerVersion != "1.2.3" ||
		in.CgroupVersion != want.CgroupVersion || in.CgroupDriver != "cgroupfs" || in.KernelVersion != want.KernelVersion ||
		in.ID != want.ID || in.NCPU != want.NCPU || in.MemTotal != want.MemTotal || in.OSType != "linux" ||
		in.DefaultRuntime != "hull" || in.Runtimes["hull"].Path != "hull" || len(in.Runtimes) != len(want.Runtimes) ||
		strings.Join(in.SecurityOptions, " ") != "name=seccomp,profile=builtin name=cgroupns" {
		t.Errorf("info: %+v\nengine: %+v", in, want)
	}
}

// /system/df in API 1.50's shape, from engine.DiskUsage.
func TestSystemDF(t *testing.T) {
	s, url := busyboxServer(t)
	c := create(t, s.e, "web", nil)
	var du diskUsage
	getJSON(t, url+"/v1.50/system/df", &du)
	if len(du.Images) != 1 || du.Images[0].Containers != 1 || du.LayersSize <= 0 || du.LayersSize != du.Images[0].Size {
		t.Errorf("images: %d %+v", du.LayersSize, du.Images)
	}
	if len(du.Containers) != 1 || du.Containers[0].ID != c.ID || du.Containers[0].Names[0] != "/web" || du.Containers[0].State != "created" {
		t.Errorf("containers: %+v", du.Containers)
	}
	if du.Volumes == nil || du.BuildCache == nil {
		t.Errorf("volumes %v, build cache %v: want empty lists", du.Volumes, du.BuildCache)
	}
	var only diskUsage
	getJSON(t, url+"/v1.50/system/df?type=volume", &only)
	if len(only.Images) != 0 || len(only.Containers) != 0 {
		t.Errorf("type=volume: %+v", only)
	}
	if resp, _ := http.Get(url + "/system/df?type=disks"); resp.StatusCode != 400 {
		t.Errorf("type=disks: %s", resp.Status)
	}
}

// eventLines reads the JSON events of GET url until the stream ends.
func eventLines(t *testing.T, url string) []eventMessage {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var out []eventMessage
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var m eventMessage
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func actions(evs []eventMessage) string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Actor.Attributes["name"]+":"+string(ev.Action))
	}
	return strings.Join(out, " ")
}

func TestEvents(t *testing.T) {
	s, url := busyboxServer(t)
	since := time.Now()
	web := create(t, s.e, "web", map[string]string{"tier": "front"})
	create(t, s.e, "db", nil)
	if err := s.e.Rename("db", "store"); err != nil {
		t.Fatal(err)
	}
	until := time.Now()
	ts := func(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }
	q := "?since=" + ts(since) + "&until=" + ts(until)

	evs := eventLines(t, url+"/v1.50/events"+q)
	if got := actions(evs); got != "web:create db:create store:rename" {
		t.Errorf("events: %s", got)
	}
	// API 1.50's events have status, id and from beside Type, Action and Actor.
	if e := evs[0]; e.Type != "container" || e.Status != "create" || e.ID != web.ID || e.Actor.ID != web.ID || e.From != "busybox" ||
		e.Scope != "local" || e.TimeNano < since.UnixNano() || e.Time != e.TimeNano/1e9 {
		t.Errorf("event: %+v", e)
	}
	for filter, want := range map[string]string{
		`{"label":{"tier=front":true}}`:                      "web:create",
		`{"event":{"rename":true}}`:                          "store:rename",
		`{"container":{"web":true,"store":true}}`:            "web:create store:rename",
		`{"type":{"container":true},"scope":{"local":true}}`: "web:create db:create store:rename",
		`{"type":{"image":true}}`:                            "",
	} {
		if got := actions(eventLines(t, url+"/events"+q+"&filters="+urlQuery(filter))); got != want {
			t.Errorf("filters %s: %q, want %q", filter, got, want)
		}
	}
	if resp, _ := http.Get(url + "/events?filters=" + urlQuery(`{"colour":{"red":true}}`)); resp.StatusCode != 400 {
		t.Errorf("an unknown filter: %s", resp.Status)
	}

	// Without until: what happens from now on, as it happens, until the client
	// goes away.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/events?filters="+urlQuery(`{"event":{"destroy":true}}`), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if s.listeners.Load() != 1 {
		t.Errorf("%d event listeners", s.listeners.Load())
	}
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	if err := s.e.Remove(web.ID, false); err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-got:
		if !strings.Contains(line, `"Action":"destroy"`) || !strings.Contains(line, web.ID) {
			t.Errorf("followed: %s", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the destroy event did not come")
	}
	cancel()
	deadline := time.Now().Add(2 * time.Second)
	for s.active.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.active.Load() != 0 || s.listeners.Load() != 0 {
		t.Errorf("after the client left: %d requests, %d listeners", s.active.Load(), s.listeners.Load())
	}
}
