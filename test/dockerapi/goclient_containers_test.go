package dockerapi

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hullproject/hull/api/docker/dockertest"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// The official Go client decodes hull's answers into moby's own types, and
// reads the status codes as docker's: a wait registered before the start, the
// errors' kinds (not found, conflict, invalid), the shapes of inspect, list and
// stats.
func TestGoClientContainers(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := client.New(client.WithHost(s.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	mem := int64(32 << 20)
	created, err := cl.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   "gc",
		Config: &container.Config{Image: "busybox", Cmd: []string{"sh", "-c", "sleep 1; exit 2"}, Labels: map[string]string{"k": "v"}},
		HostConfig: &container.HostConfig{
			NetworkMode: "none", Resources: container.Resources{Memory: mem},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.ID) != 64 || len(created.Warnings) != 0 {
		t.Errorf("create: %+v", created)
	}
	wait := cl.ContainerWait(ctx, "gc", client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := cl.ContainerStart(ctx, "gc", client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	in, err := cl.ContainerInspect(ctx, "gc", client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := in.Container
	if c.Name != "/gc" || c.State == nil || c.State.Status != container.StateRunning || !c.State.Running || c.State.Pid == 0 ||
		c.Config.Labels["k"] != "v" || c.HostConfig.Memory != mem || c.HostConfig.NetworkMode != "none" || c.Config.Image != "busybox" {
		t.Errorf("inspect: %s", in.Raw)
	}
	if _, err := time.Parse(time.RFC3339Nano, c.State.StartedAt); err != nil {
		t.Errorf("StartedAt %q: %v", c.State.StartedAt, err)
	}
	list, err := cl.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", "k=v")})
	if err != nil || len(list.Items) != 1 || list.Items[0].ID != created.ID || list.Items[0].State != container.StateRunning || list.Items[0].Names[0] != "/gc" {
		t.Errorf("list: %+v, %v", list, err)
	}
	st, err := cl.ContainerStats(ctx, "gc", client.ContainerStatsOptions{IncludePreviousSample: false})
	if err != nil {
		t.Fatal(err)
	}
	var sample container.StatsResponse
	err = json.NewDecoder(st.Body).Decode(&sample)
	st.Body.Close()
	if err != nil || sample.ID != created.ID || sample.MemoryStats.Limit != uint64(mem) || sample.CPUStats.OnlineCPUs == 0 {
		t.Errorf("stats: %+v, %v", sample, err)
	}
	if _, err := cl.ContainerRemove(ctx, "gc", client.ContainerRemoveOptions{}); !cerrdefs.IsConflict(err) {
		t.Errorf("remove of a running container: %v, want a conflict", err)
	}
	select {
	case res := <-wait.Result:
		if res.StatusCode != 2 || res.Error != nil {
			t.Errorf("wait: %+v", res)
		}
	case err := <-wait.Error:
		t.Fatalf("wait: %v", err)
	case <-ctx.Done():
		t.Fatal("the wait did not answer")
	}
	if _, err := cl.ContainerKill(ctx, "gc", client.ContainerKillOptions{}); !cerrdefs.IsConflict(err) {
		t.Errorf("kill of a stopped container: %v, want a conflict", err)
	}
	if _, err := cl.ContainerInspect(ctx, "nope", client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect of no container: %v, want not found", err)
	}
	_, err = cl.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "busybox"},
		HostConfig: &container.HostConfig{Resources: container.Resources{Memory: 1}}})
	if !cerrdefs.IsInvalidArgument(err) {
		t.Errorf("create with Memory 1: %v, want invalid argument", err)
	}
	if _, err := cl.ContainerRemove(ctx, "gc", client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
}
