package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The kubelet test: a real kubelet, standalone (no API server), with the harness's
// containerd as its runtime and "hull" as containerd's default handler, runs a
// static pod of two containers and tears it down when its manifest goes.

// kubeletStaging are k8s.io/kubernetes's staging modules: its go.mod points them
// at ./staging, which a module that requires it must replace by their published
// versions (v0.X.Y for kubernetes v1.X.Y).
var kubeletStaging = []string{
	"api", "apiextensions-apiserver", "apimachinery", "apiserver", "cli-runtime", "client-go",
	"cloud-provider", "cluster-bootstrap", "code-generator", "component-base", "component-helpers",
	"controller-manager", "cri-api", "cri-client", "csi-translation-lib", "dynamic-resource-allocation",
	"endpointslice", "externaljwt", "kms", "kube-aggregator", "kube-controller-manager", "kube-proxy",
	"kube-scheduler", "kubectl", "kubelet", "metrics", "mount-utils", "pod-security-admission",
	"sample-apiserver", "sample-cli-plugin", "sample-controller",
}

// buildKubelet builds the kubelet of k8s.io/kubernetes at version (v1.34.2) in a
// scratch module, once, into cache/kubelet-VERSION.
func buildKubelet(cache, version string) (string, error) {
	bin := filepath.Join(cache, "kubelet-"+version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	minor := strings.SplitN(strings.TrimPrefix(version, "v1."), ".", 2)
	if len(minor) != 2 {
		return "", fmt.Errorf("kubelet version %q: want v1.X.Y", version)
	}
	staging := "v0." + minor[0] + "." + minor[1]
	src := filepath.Join(cache, "kubelet-src-"+version)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	mod := "module hullkubelet\n\ngo 1.26\n\nrequire k8s.io/kubernetes " + version + "\n\n"
	for _, m := range kubeletStaging {
		mod += "replace k8s.io/" + m + " => k8s.io/" + m + " " + staging + "\n"
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(mod), 0o644); err != nil {
		return "", err
	}
	tools := "package main\n\nimport _ \"k8s.io/kubernetes/cmd/kubelet/app\"\n\nfunc main() {}\n"
	if err := os.WriteFile(filepath.Join(src, "tools.go"), []byte(tools), 0o644); err != nil {
		return "", err
	}
	if err := goCmd(src, "mod", "tidy").Run(); err != nil {
		return "", fmt.Errorf("kubelet %s: go mod tidy: %w", version, err)
	}
	if err := goCmd(src, "build", "-trimpath", "-o", bin+".tmp", "k8s.io/kubernetes/cmd/kubelet").Run(); err != nil {
		return "", fmt.Errorf("build kubelet %s: %w", version, err)
	}
	return bin, os.Rename(bin+".tmp", bin)
}

const (
	kubeletNode = "hullnode"
	staticPod   = "hull-static"
)

// The static pod: two containers sharing the pod's network namespace and an
// emptyDir, with memory and cpu limits. box fetches web's page over localhost
// into the emptyDir, and is live while /shared/healthy exists (its command makes
// it at every start).
const staticPodManifest = `apiVersion: v1
kind: Pod
metadata:
  name: hull-static
  namespace: default
spec:
  terminationGracePeriodSeconds: 2
  volumes:
  - name: shared
    emptyDir: {}
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/nginx:1.14-2
    resources:
      limits: {memory: 64Mi, cpu: 200m}
    volumeMounts:
    - {name: shared, mountPath: /shared}
  - name: box
    image: registry.k8s.io/e2e-test-images/busybox:1.29-2
    command: ["sh", "-c", "touch /shared/healthy; while :; do wget -q -O /shared/fetched http://127.0.0.1:80/; sleep 1; done"]
    resources:
      limits: {memory: 32Mi, cpu: 100m}
    volumeMounts:
    - {name: shared, mountPath: /shared}
    livenessProbe:
      exec:
        command: ["test", "-f", "/shared/healthy"]
      periodSeconds: 1
      failureThreshold: 1
`

// kubeletTest runs the kubelet against d and checks the static pod's life on
// hull; steps says what it saw, one line each.
func kubeletTest(d *containerd, kubelet, hullBin, hullRoot, dir string) (steps []string, err error) {
	step := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		steps = append(steps, s)
		logf("kubelet: %s", s)
	}
	kdir := filepath.Join(dir, "kubelet")
	manifests := filepath.Join(kdir, "manifests")
	for _, p := range []string{manifests, filepath.Join(kdir, "root"), filepath.Join(kdir, "pod-logs"), filepath.Join(kdir, "certs")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return steps, err
		}
	}
	port, err := freePort()
	if err != nil {
		return steps, err
	}
	healthz, err := freePort()
	if err != nil {
		return steps, err
	}
	// No API server: anonymous, always allowed, on 127.0.0.1. cgroupsPerQOS off
	// and no node allocatable enforcement: the kubelet makes no kubepods cgroups
	// of its own on the host. Eviction off: the host's disk and memory are the
	// other engineers' too.
	conf := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://%[1]s
imageServiceEndpoint: unix://%[1]s
staticPodPath: %[2]s
fileCheckFrequency: 1s
syncFrequency: 2s
failSwapOn: false
failCgroupV1: false
address: 127.0.0.1
port: %[3]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[4]d
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
cgroupsPerQOS: false
enforceNodeAllocatable: []
podLogsDir: %[5]s
evictionHard: {memory.available: "0%%", nodefs.available: "0%%", imagefs.available: "0%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: ""
`, d.sock, manifests, port, healthz, filepath.Join(kdir, "pod-logs"))
	confFile := filepath.Join(kdir, "config.yaml")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return steps, err
	}
	logFile, err := os.Create(filepath.Join(kdir, "kubelet.log"))
	if err != nil {
		return steps, err
	}
	defer logFile.Close()
	cmd := exec.Command(kubelet, "--config", confFile, "--root-dir", filepath.Join(kdir, "root"),
		"--cert-dir", filepath.Join(kdir, "certs"), "--hostname-override", kubeletNode, "--v", "2")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return steps, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		unmountBelow(kdir)
		if err != nil {
			err = fmt.Errorf("%w\nkubelet's log (%s), last lines:\n%s", err, logFile.Name(), tail(logFile.Name(), 15))
		}
	}()

	conn, err := grpc.NewClient("unix://"+d.sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return steps, err
	}
	defer conn.Close()
	rc := cri.NewRuntimeServiceClient(conn)
	ctx := context.Background()
	// wait polls cond every half second until it is true, the kubelet exits,
	// or the time is up.
	wait := func(what string, limit time.Duration, cond func() (bool, error)) error {
		deadline := time.Now().Add(limit)
		for {
			ok, err := cond()
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			if ok {
				return nil
			}
			select {
			case <-exited:
				return fmt.Errorf("%s: the kubelet exited", what)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: not within %s", what, limit)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	// running finds the pod's ready sandbox and its running containers by name.
	running := func() (string, map[string]*cri.Container, error) {
		pods, err := rc.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{Filter: &cri.PodSandboxFilter{
			State:         &cri.PodSandboxStateValue{State: cri.PodSandboxState_SANDBOX_READY},
			LabelSelector: map[string]string{"io.kubernetes.pod.name": staticPod + "-" + kubeletNode},
		}})
		if err != nil || len(pods.Items) == 0 {
			return "", nil, err
		}
		id := pods.Items[0].Id
		cs, err := rc.ListContainers(ctx, &cri.ListContainersRequest{Filter: &cri.ContainerFilter{
			PodSandboxId: id, State: &cri.ContainerStateValue{State: cri.ContainerState_CONTAINER_RUNNING}}})
		if err != nil {
			return "", nil, err
		}
		m := map[string]*cri.Container{}
		for _, c := range cs.Containers {
			m[c.Metadata.Name] = c
		}
		return id, m, nil
	}
	execIn := func(c *cri.Container, args ...string) (string, error) {
		r, err := rc.ExecSync(ctx, &cri.ExecSyncRequest{ContainerId: c.Id, Cmd: args, Timeout: 10})
		if err != nil {
			return "", err
		}
		if r.ExitCode != 0 {
			return "", fmt.Errorf("%v: exit %d: %s", args, r.ExitCode, r.Stderr)
		}
		return string(r.Stdout), nil
	}

	start := time.Now()
	if err := os.WriteFile(filepath.Join(manifests, "hull-static.yaml"), []byte(staticPodManifest), 0o644); err != nil {
		return steps, err
	}
	var pod string
	var cs map[string]*cri.Container
	if err := wait("the static pod's two containers running", 3*time.Minute, func() (bool, error) {
		var err error
		pod, cs, err = running()
		return len(cs) == 2, err
	}); err != nil {
		return steps, err
	}
	status, err := rc.PodSandboxStatus(ctx, &cri.PodSandboxStatusRequest{PodSandboxId: pod})
	if err != nil {
		return steps, err
	}
	if h := status.Status.RuntimeHandler; h != "" && h != "hull" {
		return steps, fmt.Errorf("the pod's runtime handler is %q, want hull", h)
	}
	// hullrt's own state names every container of the pod, sandbox included.
	out, err := exec.Command(hullBin, "--root", filepath.Join(hullRoot, "k8s.io"), "list", "-q").Output()
	if err != nil {
		return steps, fmt.Errorf("hullrt list: %w", err)
	}
	for _, id := range []string{pod, cs["web"].Id, cs["box"].Id} {
		if !strings.Contains(string(out), id) {
			return steps, fmt.Errorf("hullrt does not know container %s:\n%s", id, out)
		}
	}
	step("static pod up on hullrt in %s: sandbox and containers web, box in hullrt's state", time.Since(start).Round(100*time.Millisecond))

	if err := wait("box fetching web's page over the pod's localhost into the emptyDir", time.Minute, func() (bool, error) {
		page, err := execIn(cs["web"], "cat", "/shared/fetched")
		return err == nil && strings.Contains(page, "nginx"), nil
	}); err != nil {
		return steps, err
	}
	step("shared network namespace and emptyDir: box fetched web's page from 127.0.0.1:80, web reads it in /shared")

	limit, err := execIn(cs["web"], "sh", "-c", "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
	if err != nil {
		return steps, err
	}
	if strings.TrimSpace(limit) != strconv.Itoa(64<<20) {
		return steps, fmt.Errorf("web's memory limit %q, want %d", strings.TrimSpace(limit), 64<<20)
	}
	step("resource limits: web's cgroup memory limit is 64Mi")

	first := cs["box"].Id
	if _, err := execIn(cs["box"], "rm", "/shared/healthy"); err != nil {
		return steps, err
	}
	t := time.Now()
	if err := wait("box restarted after its liveness probe failed", 2*time.Minute, func() (bool, error) {
		_, cs, err = running()
		return cs["box"] != nil && cs["box"].Id != first && cs["box"].Metadata.Attempt >= 1, err
	}); err != nil {
		return steps, err
	}
	step("liveness: box failed its probe and was restarted (attempt %d) in %s", cs["box"].Metadata.Attempt, time.Since(t).Round(100*time.Millisecond))

	if err := os.Remove(filepath.Join(manifests, "hull-static.yaml")); err != nil {
		return steps, err
	}
	t = time.Now()
	if err := wait("the pod torn down after its manifest was removed", 2*time.Minute, func() (bool, error) {
		st, err := rc.PodSandboxStatus(ctx, &cri.PodSandboxStatusRequest{PodSandboxId: pod})
		if err != nil {
			return true, nil // removed altogether
		}
		if st.Status.State != cri.PodSandboxState_SANDBOX_NOTREADY {
			return false, nil
		}
		cs, err := rc.ListContainers(ctx, &cri.ListContainersRequest{Filter: &cri.ContainerFilter{
			PodSandboxId: pod, State: &cri.ContainerStateValue{State: cri.ContainerState_CONTAINER_RUNNING}}})
		return err == nil && len(cs.Containers) == 0, err
	}); err != nil {
		return steps, err
	}
	// Nothing of the pod runs on hullrt any more.
	out, _ = exec.Command(hullBin, "--root", filepath.Join(hullRoot, "k8s.io"), "list").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "running") || strings.Contains(l, "created") {
			return steps, fmt.Errorf("hullrt still runs a container of the pod: %s", l)
		}
	}
	step("manifest removed: pod stopped in %s, no container of it left running on hullrt", time.Since(t).Round(100*time.Millisecond))
	return steps, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// unmountBelow detaches every mount below dir, deepest first.
func unmountBelow(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) > 4 && strings.HasPrefix(fl[4], dir+"/") {
			points = append(points, fl[4])
		}
	}
	f.Close()
	for i := len(points) - 1; i >= 0; i-- {
		syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}
