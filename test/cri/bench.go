package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// benchResult is the pod start benchmark: per handler the times of
// RunPodSandbox + CreateContainer + StartContainer, and the memory of the shims
// (and of everything else the handler leaves running per pod).
type benchResult struct {
	handlers []string
	starts   map[string][]time.Duration
	shimKB   map[string]float64 // PSS per pod of the shim processes
	podKB    map[string]float64 // PSS per pod of the pod's own processes (pause, sleep)
	pods     int
}

func (b *benchResult) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "\npod start (RunPodSandbox + CreateContainer + StartContainer), %d rounds per handler, alternating:\n", len(b.starts[b.handlers[0]]))
	med := map[string]time.Duration{}
	for _, h := range b.handlers {
		d := append([]time.Duration(nil), b.starts[h]...)
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		med[h] = d[len(d)/2]
		fmt.Fprintf(&s, "  %-6s median %6.1f ms  min %6.1f ms  max %6.1f ms\n", h, ms(med[h]), ms(d[0]), ms(d[len(d)-1]))
	}
	if len(b.handlers) == 2 {
		fmt.Fprintf(&s, "  %s/%s median ratio %.2f\n", b.handlers[1], b.handlers[0], float64(med[b.handlers[1]])/float64(med[b.handlers[0]]))
	}
	fmt.Fprintf(&s, "memory per pod (PSS, %d pods per handler running):\n", b.pods)
	for _, h := range b.handlers {
		fmt.Fprintf(&s, "  %-6s shim %7.0f KB   pod processes %7.0f KB\n", h, b.shimKB[h], b.podKB[h])
	}
	return s.String()
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func runBench(d *containerd, handlers []string, rounds, pods int, work string) (*benchResult, error) {
	conn, err := grpc.NewClient("unix://"+d.sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rc, ic := cri.NewRuntimeServiceClient(conn), cri.NewImageServiceClient(conn)
	ctx := context.Background()
	const image = "registry.k8s.io/e2e-test-images/busybox:1.29-2"
	if _, err := ic.PullImage(ctx, &cri.PullImageRequest{Image: &cri.ImageSpec{Image: image}}); err != nil {
		return nil, fmt.Errorf("pull %s: %w", image, err)
	}
	logs := filepath.Join(work, "bench-logs")
	n := 0
	start := func(h string) (string, time.Duration, error) {
		n++
		cfg := &cri.PodSandboxConfig{
			Metadata:     &cri.PodSandboxMetadata{Name: "bench-" + strconv.Itoa(n), Uid: "bench-uid-" + strconv.Itoa(n), Namespace: "bench"},
			LogDirectory: filepath.Join(logs, strconv.Itoa(n)),
			Linux:        &cri.LinuxPodSandboxConfig{},
		}
		os.MkdirAll(cfg.LogDirectory, 0o755)
		t := time.Now()
		pod, err := rc.RunPodSandbox(ctx, &cri.RunPodSandboxRequest{Config: cfg, RuntimeHandler: h})
		if err != nil {
			return "", 0, fmt.Errorf("%s: RunPodSandbox: %w", h, err)
		}
		c, err := rc.CreateContainer(ctx, &cri.CreateContainerRequest{PodSandboxId: pod.PodSandboxId, SandboxConfig: cfg, Config: &cri.ContainerConfig{
			Metadata: &cri.ContainerMetadata{Name: "sleep"}, Image: &cri.ImageSpec{Image: image},
			Command: []string{"sleep", "3600"}, LogPath: "sleep.log", Linux: &cri.LinuxContainerConfig{},
		}})
		if err == nil {
			_, err = rc.StartContainer(ctx, &cri.StartContainerRequest{ContainerId: c.ContainerId})
		}
		took := time.Since(t)
		if err != nil {
			stopPod(ctx, rc, pod.PodSandboxId)
			return "", 0, fmt.Errorf("%s: container: %w", h, err)
		}
		return pod.PodSandboxId, took, nil
	}
	b := &benchResult{handlers: handlers, starts: map[string][]time.Duration{}, shimKB: map[string]float64{}, podKB: map[string]float64{}, pods: pods}
	// One of each first, not counted: image unpack and caches.
	for _, h := range handlers {
		id, _, err := start(h)
		if err != nil {
			return nil, err
		}
		stopPod(ctx, rc, id)
	}
	for i := 0; i < rounds; i++ {
		for j := range handlers {
			h := handlers[(i+j)%len(handlers)] // alternate which goes first
			id, took, err := start(h)
			if err != nil {
				return nil, err
			}
			b.starts[h] = append(b.starts[h], took)
			stopPod(ctx, rc, id)
		}
	}
	for _, h := range handlers {
		var ids []string
		for i := 0; i < pods; i++ {
			id, _, err := start(h)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		time.Sleep(2 * time.Second) // let the shims settle
		shim, pod := podMemory(d.sock, ids)
		b.shimKB[h], b.podKB[h] = shim/float64(pods), pod/float64(pods)
		for _, id := range ids {
			stopPod(ctx, rc, id)
		}
	}
	return b, nil
}

func stopPod(ctx context.Context, rc cri.RuntimeServiceClient, id string) {
	rc.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: id})
	rc.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: id})
}

// podMemory adds up the PSS of the shims serving the pods ids (a runc v2 shim is
// named by its sandbox's id), and of their descendants (the pods' processes).
func podMemory(sock string, ids []string) (shim, pod float64) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	parent := map[int]int{}
	var shims []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			s := string(st)
			if i := strings.LastIndexByte(s, ')'); i > 0 {
				if f := strings.Fields(s[i+1:]); len(f) > 2 {
					parent[pid], _ = strconv.Atoi(f[1])
				}
			}
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		args := strings.Split(string(cmdline), "\x00")
		if len(args) == 0 || !strings.HasSuffix(args[0], "containerd-shim-runc-v2") || !strings.Contains(string(cmdline), sock) {
			continue
		}
		for i, a := range args {
			if a == "-id" && i+1 < len(args) && want[args[i+1]] {
				shims = append(shims, pid)
			}
		}
	}
	isShim := map[int]bool{}
	for _, p := range shims {
		isShim[p] = true
		shim += pss(p)
	}
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if isShim[q] {
				pod += pss(p)
				break
			}
		}
	}
	return shim, pod
}

// pss is a process's proportional set size in KB.
func pss(pid int) float64 {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Pss:"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return n
		}
	}
	return 0
}
