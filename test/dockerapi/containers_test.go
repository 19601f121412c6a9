package dockerapi

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/api/docker/dockertest"
	"golang.org/x/sys/unix"
)

// raw sends a request to the service and returns its status and body.
func raw(t *testing.T, s *dockertest.Service, method, path, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://docker"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// inspectField is docker inspect -f's answer, trimmed.
func inspectField(t *testing.T, s *dockertest.Service, name, format string) string {
	t.Helper()
	return strings.TrimSpace(s.Docker(t, "inspect", "-f", format, name).Ok(t))
}

// The lifecycle through the docker CLI: create, start, wait, restart, stop,
// kill, pause, unpause, rm; hull's CLI sees each step.
func TestDockerContainerLifecycle(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	id := strings.TrimSpace(s.Docker(t, "create", "--name", "c1", "--network", "none", "-e", "A=b", "-l", "tier=web",
		"busybox", "sh", "-c", "exit 3").Ok(t))
	if len(id) != 64 {
		t.Fatalf("docker create printed %q", id)
	}
	if st := strings.TrimSpace(s.Hull(t, "inspect", "-f", "{{.State.Status}} {{.Config.Labels.tier}}", "c1").Ok(t)); st != "created web" {
		t.Errorf("hull inspect after docker create: %q", st)
	}
	s.Docker(t, "start", "c1").Ok(t)
	if code := strings.TrimSpace(s.Docker(t, "wait", "c1").Ok(t)); code != "3" {
		t.Errorf("docker wait: %q, want 3", code)
	}
	if got := inspectField(t, s, "c1", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.Name}} {{index .Config.Env 0}}"); !strings.HasPrefix(got, "exited 3 false /c1 ") {
		t.Errorf("docker inspect: %q", got)
	}
	if !strings.Contains(inspectField(t, s, "c1", "{{json .Config.Env}}"), `"A=b"`) {
		t.Errorf("env: %s", inspectField(t, s, "c1", "{{json .Config.Env}}"))
	}

	// run -d, stop (304 the second time), start (304 when running), restart.
	s.Docker(t, "run", "-d", "--name", "svc", "--network", "none", "busybox", "sleep", "300").Ok(t)
	if st := inspectField(t, s, "svc", "{{.State.Status}}"); st != "running" {
		t.Fatalf("after run -d: %s", st)
	}
	if code, body := raw(t, s, "POST", "/v1.50/containers/svc/start", ""); code != http.StatusNotModified || body != "" {
		t.Errorf("start of a running container: %d %q, want 304", code, body)
	}
	pid := inspectField(t, s, "svc", "{{.State.Pid}}")
	s.Docker(t, "restart", "-t", "1", "svc").Ok(t)
	if st, pid2 := inspectField(t, s, "svc", "{{.State.Status}}"), inspectField(t, s, "svc", "{{.State.Pid}}"); st != "running" || pid2 == pid {
		t.Errorf("after restart: %s, pid %s (was %s)", st, pid2, pid)
	}
	s.Docker(t, "pause", "svc").Ok(t)
	if st := strings.TrimSpace(s.Hull(t, "inspect", "-f", "{{.State.Status}}", "svc").Ok(t)); st != "paused" {
		t.Errorf("hull inspect after docker pause: %s", st)
	}
	if code, body := raw(t, s, "POST", "/v1.50/containers/svc/pause", ""); code != http.StatusConflict {
		t.Errorf("pause of a paused container: %d %s, want 409", code, body)
	}
	s.Docker(t, "unpause", "svc").Ok(t)
	if st := inspectField(t, s, "svc", "{{.State.Status}}"); st != "running" {
		t.Errorf("after unpause: %s", st)
	}
	start := time.Now()
	s.Docker(t, "stop", "-t", "1", "svc").Ok(t)
	if st := inspectField(t, s, "svc", "{{.State.Status}} {{.State.ExitCode}}"); st != "exited 143" && st != "exited 137" {
		t.Errorf("after stop: %s", st)
	}
	if time.Since(start) > 8*time.Second {
		t.Errorf("stop -t 1 took %v", time.Since(start))
	}
	if code, _ := raw(t, s, "POST", "/v1.50/containers/svc/stop", ""); code != http.StatusNotModified {
		t.Errorf("stop of a stopped container: %d, want 304", code)
	}
	if code, body := raw(t, s, "POST", "/v1.50/containers/svc/kill", ""); code != http.StatusConflict || !strings.Contains(body, "not running") {
		t.Errorf("kill of a stopped container: %d %s, want 409", code, body)
	}

	// kill with a signal, which the container's shell traps.
	s.Docker(t, "run", "-d", "--name", "trap", "--network", "none", "busybox", "sh", "-c", `trap "exit 9" USR1; sleep 300 & wait`).Ok(t)
	s.Docker(t, "kill", "-s", "USR1", "trap").Ok(t)
	if code := strings.TrimSpace(s.Docker(t, "wait", "trap").Ok(t)); code != "9" {
		t.Errorf("exit code after kill -s USR1: %s, want 9 (the trap's)", code)
	}
	if code, body := raw(t, s, "POST", "/v1.50/containers/svc/kill?signal=NOPE", ""); code != http.StatusBadRequest {
		t.Errorf("kill with a bad signal: %d %s", code, body)
	}

	// rm: refused while running, forced, and gone for hull too.
	s.Docker(t, "start", "svc").Ok(t)
	if msg := s.Docker(t, "rm", "svc").Fails(t); !strings.Contains(msg, "running") {
		t.Errorf("docker rm of a running container: %s", msg)
	}
	if code, _ := raw(t, s, "DELETE", "/v1.50/containers/svc", ""); code != http.StatusConflict {
		t.Errorf("DELETE of a running container: %d, want 409", code)
	}
	// A program that cannot start: docker's CLI reads run's exit code from the
	// 400's words, as with docker (127 not found, 126 not executable).
	for _, c := range []struct {
		prog string
		code int
	}{{"nope", 127}, {"/etc/passwd", 126}} {
		if r := s.Docker(t, "run", "-d", "--name", "bad"+c.prog[len(c.prog)-1:], "--network", "none", "busybox", c.prog); r.Code != c.code {
			t.Errorf("docker run -d busybox %s: exit %d, want %d: %s", c.prog, r.Code, c.code, r.Stderr)
		}
	}
	s.Docker(t, "rm", "-f", "svc", "c1", "trap", "bade", "badd").Ok(t)
	if out := s.Hull(t, "ps", "-aq").Ok(t); strings.TrimSpace(out) != "" {
		t.Errorf("hull ps -aq after docker rm -f: %q", out)
	}
	if code, body := raw(t, s, "DELETE", "/v1.50/containers/svc", ""); code != http.StatusNotFound {
		t.Errorf("DELETE of a removed container: %d %s, want 404", code, body)
	}
	if code, _ := raw(t, s, "DELETE", "/v1.50/containers/"+id+"?link=1", ""); code != http.StatusBadRequest {
		t.Errorf("DELETE ?link=1: %d, want 400", code)
	}
}

// docker run relies on a wait registered before the start: the wait
// (condition=next-exit) answers the headers at once, then the exit of a
// container that ends at once.
func TestDockerWaitBeforeStart(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "create", "--name", "quick", "--network", "none", "busybox", "sh", "-c", "exit 7").Ok(t)
	req, _ := http.NewRequest("POST", "http://docker/v1.50/containers/quick/wait?condition=next-exit", nil)
	resp, err := s.Client().Do(req) // returns at the headers
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("wait: %d", resp.StatusCode)
	}
	// A wait for not-running on a created container answers at once.
	if code, body := raw(t, s, "POST", "/v1.50/containers/quick/wait", ""); code != 200 || !strings.Contains(body, `"StatusCode":0`) {
		t.Errorf("wait not-running on a created container: %d %s", code, body)
	}
	s.Docker(t, "start", "quick").Ok(t)
	var res struct {
		StatusCode int
		Error      *struct{ Message string }
	}
	done := make(chan error, 1)
	go func() { done <- json.NewDecoder(resp.Body).Decode(&res) }()
	select {
	case err := <-done:
		if err != nil || res.StatusCode != 7 || res.Error != nil {
			t.Errorf("wait next-exit: %+v, %v; want StatusCode 7", res, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the wait registered before the start did not answer the exit")
	}
	if code, body := raw(t, s, "POST", "/v1.50/containers/quick/wait?condition=soon", ""); code != http.StatusBadRequest {
		t.Errorf("wait with a bad condition: %d %s", code, body)
	}
	if code, _ := raw(t, s, "POST", "/v1.50/containers/nope/wait", ""); code != http.StatusNotFound {
		t.Errorf("wait on no container: %d", code)
	}
	// condition=removed answers once the container (--rm) is gone.
	s.Docker(t, "create", "--rm", "--name", "gone", "--network", "none", "busybox", "sh", "-c", "exit 5").Ok(t)
	req, _ = http.NewRequest("POST", "http://docker/v1.50/containers/gone/wait?condition=removed", nil)
	resp2, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	s.Docker(t, "start", "gone").Ok(t)
	res.StatusCode = -1
	if err := json.NewDecoder(resp2.Body).Decode(&res); err != nil || res.StatusCode != 5 {
		t.Errorf("wait removed: %+v, %v; want 5", res, err)
	}
	if out := s.Hull(t, "ps", "-aq", "--filter", "name=gone").Ok(t); strings.TrimSpace(out) != "" {
		t.Errorf("the --rm container is still there: %q", out)
	}
}

// Every option docker's CLI sends in the create body reaches the engine: what
// docker inspect shows, what hull inspect shows, and what the container sees.
func TestDockerCreateOptions(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Docker(t, "run", "-d", "--name", "opts", "-p", "127.0.0.1::80", "-v", dir+":/data:ro", "-v", "/anon",
		"--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m", "--tmpfs", "/run2:size=2m",
		"--restart", "on-failure:3", "-m", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "50",
		"--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "--security-opt", "no-new-privileges", "--init",
		"--log-opt", "max-size=1m", "-l", "a=b", "-e", "X=1", "-w", "/tmp", "-u", "1000:1000", "--entrypoint", "sh",
		"--hostname", "hn", "--stop-signal", "SIGUSR1", "--stop-timeout", "3", "--health-cmd", "true",
		"--health-interval", "1s", "--ulimit", "nofile=100:200", "--add-host", "db:10.1.2.3", "--dns-search", "example.org",
		"busybox", "-c", "sleep 300").Ok(t)
	for _, c := range []struct{ format, want string }{
		{"{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}", "67108864 134217728 500000000 512 50"},
		{"{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "on-failure:3"},
		{"{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} {{json .HostConfig.SecurityOpt}} {{.HostConfig.Init}}", `["CAP_NET_ADMIN"] ["CAP_CHOWN"] ["no-new-privileges"] true`},
		{"{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}}", "json-file 1048576"}, // hull keeps the size in bytes
		{"{{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.Hostname}}", `1000:1000 /tmp ["sh"] ["-c","sleep 300"] hn`},
		{"{{.Config.StopSignal}} {{.Config.StopTimeout}} {{json .Config.Healthcheck.Test}} {{.Config.Labels.a}}", `SIGUSR1 3 ["CMD-SHELL","true"] b`},
		{"{{json .HostConfig.ExtraHosts}} {{json .HostConfig.DnsSearch}}", `["db:10.1.2.3"] ["example.org"]`},
		{"{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}}{{end}}", "nofile=100:200"},
		{"{{(index (index .HostConfig.PortBindings \"80/tcp\") 0).HostIp}}", "127.0.0.1"},
	} {
		if got := inspectField(t, s, "opts", c.format); got != c.want {
			t.Errorf("docker inspect %s: %q, want %q", c.format, got, c.want)
		}
	}
	// hull inspect on the same roots: the same record.
	var h []struct {
		HostConfig struct {
			Memory, NanoCpus, PidsLimit int64
			CapAdd                      []string
		}
		Config struct{ User, Hostname string }
	}
	if err := json.Unmarshal([]byte(s.Hull(t, "inspect", "opts").Ok(t)), &h); err != nil || len(h) != 1 {
		t.Fatalf("hull inspect: %v", err)
	}
	if hc := h[0].HostConfig; hc.Memory != 64<<20 || hc.NanoCpus != 5e8 || hc.PidsLimit != 50 || len(hc.CapAdd) != 1 || h[0].Config.User != "1000:1000" || h[0].Config.Hostname != "hn" {
		t.Errorf("hull inspect: %+v", h[0])
	}
	if port := inspectField(t, s, "opts", `{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`); port == "" || port == "0" {
		t.Errorf("published port: %q", port)
	}
	if ports := s.Docker(t, "ps", "--format", "{{.Ports}}", "--filter", "name=opts").Ok(t); !strings.Contains(ports, "127.0.0.1:") || !strings.Contains(ports, "->80/tcp") {
		t.Errorf("docker ps ports: %q", ports)
	}
	s.Docker(t, "create", "--name", "notup", "-p", "80", "busybox", "true").Ok(t)
	if ports := s.Docker(t, "ps", "-a", "--format", "{{.Ports}}", "--filter", "name=notup").Ok(t); strings.TrimSpace(ports) != "" {
		t.Errorf("docker ps of a container that does not run shows ports: %q", ports)
	}
	mounts := inspectField(t, s, "opts", "{{range .Mounts}}{{.Type}}:{{.Destination}}:{{.RW}} {{end}}")
	for _, m := range []string{"bind:/data:false", "volume:/anon:true", "tmpfs:/scratch:true", "tmpfs:/run2:true"} {
		if !strings.Contains(mounts, m) {
			t.Errorf("mounts %q lack %s", mounts, m)
		}
	}
	inside := s.Hull(t, "exec", "opts", "sh", "-c", "hostname; id -u; pwd; ulimit -n; cat /data/f; grep -c ' /scratch tmpfs\\| /run2 tmpfs' /proc/mounts; grep db /etc/hosts").Ok(t)
	if want := "hn\n1000\n/tmp\n100\nfrom the host\n2\n10.1.2.3\tdb\n"; inside != want {
		t.Errorf("inside the container:\n%s\nwant:\n%s", inside, want)
	}
	// The options docker has beyond hull's first set (the i14-cli-flags ones).
	s.Docker(t, "run", "-d", "--name", "opts2", "--domainname", "example.com", "--expose", "7000/udp", "--shm-size", "8m",
		"--sysctl", "net.ipv4.ip_forward=1", "--oom-score-adj", "300", "--annotation", "org.x=y", "--log-driver", "local",
		"--memory-reservation", "32m", "--cpu-period", "50000", "--cpu-quota", "25000", "--device-cgroup-rule", "c 1:3 rwm",
		"--health-cmd", "true", "--health-start-period", "5s", "--health-start-interval", "200ms", "busybox", "sleep", "300").Ok(t)
	for _, c := range []struct{ format, want string }{
		{"{{.Config.Domainname}} {{json .Config.ExposedPorts}} {{.HostConfig.ShmSize}} {{json .HostConfig.Sysctls}}", `example.com {"7000/udp":{}} 8388608 {"net.ipv4.ip_forward":"1"}`},
		{"{{.HostConfig.OomScoreAdj}} {{json .HostConfig.Annotations}} {{.HostConfig.LogConfig.Type}}", `300 {"org.x":"y"} local`},
		{"{{.HostConfig.MemoryReservation}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{json .HostConfig.DeviceCgroupRules}}", `33554432 50000 25000 ["c 1:3 rwm"]`},
		{"{{.Config.Healthcheck.StartInterval}}", "200ms"},
	} {
		if got := inspectField(t, s, "opts2", c.format); got != c.want {
			t.Errorf("docker inspect %s: %q, want %q", c.format, got, c.want)
		}
	}
	inside = s.Hull(t, "exec", "opts2", "sh", "-c", "cat /proc/sys/kernel/domainname /proc/sys/net/ipv4/ip_forward /proc/1/oom_score_adj; df -k /dev/shm | tail -1").Ok(t)
	if f := strings.Fields(inside); len(f) < 5 || f[0] != "example.com" || f[1] != "1" || f[2] != "300" || f[4] != "8192" {
		t.Errorf("inside opts2: %q", inside)
	}

	// HEALTHCHECK with docker's exec form, and a label filter on it.
	s.Docker(t, "run", "-d", "--name", "hc", "--network", "none", "--health-cmd", "true", "--health-interval", "100ms", "busybox", "sleep", "300").Ok(t)
	body := `{"Image":"busybox","Cmd":["sleep","300"],"Healthcheck":{"Test":["CMD","true"],"Interval":100000000},"HostConfig":{"NetworkMode":"none"}}`
	if code, out := raw(t, s, "POST", "/v1.50/containers/create?name=hcexec", body); code != http.StatusCreated {
		t.Fatalf("create with an exec-form health check: %d %s", code, out)
	}
	s.Docker(t, "start", "hcexec").Ok(t)
	deadline := time.Now().Add(15 * time.Second)
	for inspectField(t, s, "hcexec", "{{.State.Health.Status}}") != "healthy" {
		if time.Now().After(deadline) {
			t.Fatalf("exec-form health check: %s", inspectField(t, s, "hcexec", "{{json .State.Health}}"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := inspectField(t, s, "hcexec", "{{json .Config.Healthcheck.Test}}"); got != `["CMD","true"]` {
		t.Errorf("exec-form test: %s", got)
	}
}

// What hull cannot honour is refused with a 400 naming docker's field; a
// name in use is a 409; an image that is not there a 404 that makes the CLI
// pull.
func TestDockerCreateRefusals(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	for _, c := range []struct {
		body string
		code int
		want []string
	}{
		{`{"Image":"busybox","HostConfig":{"Memory":1024,"CpusetCpus":"999"}}`, 400, []string{"HostConfig.Memory: minimum memory limit", "HostConfig.CpusetCpus"}},
		{`{"Image":"busybox","HostConfig":{"Sysctls":{"kernel.panic":"1"},"OomScoreAdj":5000}}`, 400, []string{"HostConfig.Sysctls", "HostConfig.OomScoreAdj"}},
		{`{"Image":"busybox","HostConfig":{"Umask":4095}}`, 400, []string{"HostConfig.Umask"}},
		{`{"Image":"busybox","HostConfig":{"MaskedPaths":[]}}`, 400, []string{"HostConfig.MaskedPaths"}},
		{`{"Image":"busybox","HostConfig":{"DeviceRequests":[{"Count":-1,"Capabilities":[["gpu"]]}]}}`, 400, []string{"HostConfig.DeviceRequests"}},
		{`{"Image":"busybox","HostConfig":{"Isolation":"hyperv"}}`, 400, []string{"HostConfig.Isolation"}},
		{`{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"syslog"}}}`, 400, []string{"HostConfig.LogConfig.Type"}},
		{`{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}`, 400, []string{"HostConfig.RestartPolicy"}},
		{`{"Image":"busybox","HostConfig":{"Binds":["relative:/x:zz"]}}`, 400, []string{"HostConfig.Binds"}},
		{`{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"npipe","Target":"/x"}]}}`, 400, []string{"HostConfig.Mounts"}},
		{`{"Image":"busybox","HostConfig":{"Links":["nope:b"]}}`, 400, []string{"HostConfig.Links", "nope"}},
		{`{"Image":"busybox","StopSignal":"SIGNOPE"}`, 400, []string{"Config.StopSignal"}},
		{`{"Image":"busybox","Healthcheck":{"Test":["WHAT"]}}`, 400, []string{"Config.Healthcheck.Test"}},
		{`{"Image":"nosuchimage:1"}`, 404, []string{"No such image: nosuchimage:1"}},
		{`{"Image":`, 400, []string{"invalid JSON"}},
	} {
		code, body := raw(t, s, "POST", "/v1.50/containers/create", c.body)
		if code != c.code {
			t.Errorf("%s: %d %s, want %d", c.body, code, body, c.code)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: %s lacks %q", c.body, body, w)
			}
		}
	}
	s.Docker(t, "create", "--name", "taken", "--network", "none", "busybox", "true").Ok(t)
	if code, body := raw(t, s, "POST", "/v1.50/containers/create?name=taken", `{"Image":"busybox"}`); code != http.StatusConflict || !strings.Contains(body, "already in use") {
		t.Errorf("name in use: %d %s, want 409", code, body)
	}
	if msg := s.Docker(t, "create", "-m", "64m", "--memory-reservation", "128m", "busybox", "true").Fails(t); !strings.Contains(msg, "HostConfig.Memory") {
		t.Errorf("docker create --memory-reservation over -m: %s", msg)
	}
	if out := s.Hull(t, "ps", "-aq").Ok(t); len(strings.Fields(out)) != 1 {
		t.Errorf("refused creates left containers: %q", out)
	}
}

// A container waiting to be restarted by its policy is restarting and, as
// docker's, running; docker ps lists it.
func TestDockerRestarting(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "run", "-d", "--name", "flap", "--network", "none", "--restart", "always", "busybox", "sh", "-c", "exit 1").Ok(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := inspectField(t, s, "flap", "{{.State.Status}} {{.State.Restarting}} {{.State.Running}}")
		if got == "restarting true true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never seen restarting: %s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := s.Docker(t, "ps", "--format", "{{.Names}}").Ok(t); !strings.Contains(out, "flap") {
		t.Errorf("docker ps does not list a restarting container: %q", out)
	}
	s.Docker(t, "rm", "-f", "flap").Ok(t)
}

// Options as compose files and docker's CLI write them, each of which hull
// refused or got wrong: a tmpfs of mode 1777 (the sticky bit), the KEY:VALUE
// form of --security-opt, -v /path beside a volume on the same path (the CLI
// sends the first in Config.Volumes, as docker-compose 1.29 sends every
// service volume), a bind without the mounts below its source, and
// --security-opt systempaths=unconfined (sent as empty MaskedPaths and
// ReadonlyPaths).
func TestDockerComposeOptions(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "run", "-d", "--name", "c", "--network", "none", "--mount", "type=tmpfs,target=/x,tmpfs-mode=1777",
		"--security-opt", "no-new-privileges:true", "-v", "/data", "-v", "named:/data",
		"busybox", "sh", "-c", "stat -c %a /x; grep NoNewPrivs /proc/self/status; grep -c ' /data ' /proc/self/mountinfo").Ok(t)
	s.Docker(t, "wait", "c").Ok(t)
	if out, want := s.Hull(t, "logs", "c").Ok(t), "1777\nNoNewPrivs:\t1\n1\n"; out != want {
		t.Errorf("docker run: %q, want %q", out, want)
	}
	s.Docker(t, "rm", "c").Ok(t)
	// bind-recursive=disabled: the bind leaves out the mounts below its source.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", filepath.Join(dir, "sub"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(dir, "sub"), unix.MNT_DETACH) })
	for _, c := range []struct{ opt, want string }{{"", "1\n"}, {",bind-recursive=disabled", "0\n"}} {
		id := strings.TrimSpace(s.Docker(t, "run", "-d", "--network", "none", "--mount", "type=bind,src="+dir+",dst=/x"+c.opt,
			"busybox", "sh", "-c", "grep -c ' /x/sub ' /proc/self/mountinfo").Ok(t))
		s.Docker(t, "wait", id).Ok(t)
		if out := s.Hull(t, "logs", id).Ok(t); out != c.want {
			t.Errorf("docker run --mount ...%s: /x/sub mounted %q times, want %q", c.opt, out, c.want)
		}
		s.Docker(t, "rm", id).Ok(t)
	}
	// systempaths=unconfined: /proc/interrupts is not masked any more.
	for _, c := range []struct {
		opts []string
		want string
	}{{nil, "1\n"}, {[]string{"--security-opt", "systempaths=unconfined"}, "0\n"}} {
		args := append(append([]string{"run", "-d", "--network", "none"}, c.opts...), "busybox", "sh", "-c", "grep -c ' /proc/interrupts ' /proc/self/mountinfo")
		id := strings.TrimSpace(s.Docker(t, args...).Ok(t))
		s.Docker(t, "wait", id).Ok(t)
		if out := s.Hull(t, "logs", id).Ok(t); out != c.want {
			t.Errorf("docker run %v: /proc/interrupts masked %q times, want %q", c.opts, out, c.want)
		}
		s.Docker(t, "rm", id).Ok(t)
	}
	if out := s.Hull(t, "volume", "ls", "-q").Ok(t); out != "named\n" {
		t.Errorf("volumes: %q, want only named (no anonymous one for -v /data)", out)
	}
	s.Hull(t, "volume", "rm", "named").Ok(t)
}

// docker run with two networks, an address on each: the CLI sends both in the
// create body's EndpointsConfig, the second connected after the create with
// its address, MAC address and alias, as compose does for a service's
// ipv4_address on each network.
func TestDockerTwoNetworksAddresses(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	sub1, sub2 := dockertest.Subnet(), dockertest.Subnet()
	ip1, ip2 := strings.TrimSuffix(sub1, "0/24")+"10", strings.TrimSuffix(sub2, "0/24")+"20"
	s.Docker(t, "network", "create", "--subnet", sub1, "n1").Ok(t)
	s.Docker(t, "network", "create", "--subnet", sub2, "n2").Ok(t)
	// Options are what the create gave, as docker's (docker-compose 1.29
	// compares them with its file's); the default network shows its bridge.
	if out := s.Docker(t, "network", "inspect", "-f", "{{json .Options}}", "n1").Ok(t); out != "{}\n" {
		t.Errorf("docker network inspect n1: Options %s, want {}", out)
	}
	if out := s.Docker(t, "network", "inspect", "-f", `{{index .Options "com.docker.network.bridge.name"}}`, "bridge").Ok(t); !strings.HasPrefix(out, "hull") {
		t.Errorf("docker network inspect bridge: bridge name %q", out)
	}
	s.Docker(t, "run", "-d", "--name", "two", "--network", "name=n1,ip="+ip1,
		"--network", "name=n2,ip="+ip2+",mac-address=02:42:ac:11:00:07,alias=second", "busybox", "sleep", "300").Ok(t)
	if out := s.Hull(t, "exec", "two", "sh", "-c", "ip -4 -o addr show eth1; cat /sys/class/net/eth1/address").Ok(t); !strings.Contains(out, " "+ip2+"/24 ") || !strings.HasSuffix(out, "02:42:ac:11:00:07\n") {
		t.Errorf("the second network's link: %q, want %s and its MAC address", out, ip2)
	}
	got := inspectField(t, s, "two", `{{range $n, $e := .NetworkSettings.Networks}}{{$n}}={{$e.IPAddress}},{{join $e.Aliases ","}} {{end}}`)
	if !strings.Contains(got, "n1="+ip1) || !strings.Contains(got, "n2="+ip2+",") || !strings.Contains(got, "second") {
		t.Errorf("docker inspect: %q", got)
	}
	s.Docker(t, "rm", "-f", "two").Ok(t)
	s.Docker(t, "network", "rm", "n1", "n2").Ok(t)
}

// docker run --link on a user network: docker's CLI (and compose, for a
// service's links:) sends the links in the network's EndpointsConfig too;
// the linked container is the alias in /etc/hosts. docker-compose 1.29 sends
// them again when it connects the container.
func TestDockerLinkUserNetwork(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "network", "create", "--subnet", dockertest.Subnet(), "n").Ok(t)
	s.Docker(t, "run", "-d", "--name", "web", "--network", "n", "busybox", "sleep", "300").Ok(t)
	s.Docker(t, "run", "-d", "--name", "c", "--network", "n", "--link", "web:www", "busybox", "sleep", "300").Ok(t)
	ip := inspectField(t, s, "web", "{{.NetworkSettings.Networks.n.IPAddress}}")
	if out := s.Hull(t, "exec", "c", "grep", "-w", "www", "/etc/hosts").Ok(t); !strings.HasPrefix(out, ip+"\t") && !strings.HasPrefix(out, ip+" ") {
		t.Errorf("c's /etc/hosts line for www: %q, want web's address %s", out, ip)
	}
	// A connect with the links the container has (docker-compose 1.29 sends
	// them again) is a connect; a new link is still refused.
	s.Docker(t, "network", "create", "--subnet", dockertest.Subnet(), "n2").Ok(t)
	if code, body := raw(t, s, "POST", "/v1.50/networks/n2/connect", `{"Container":"c","EndpointConfig":{"Links":["web:www"]}}`); code != http.StatusOK {
		t.Errorf("connect with c's own link: %d %s", code, body)
	}
	if code, body := raw(t, s, "POST", "/v1.50/networks/n2/connect", `{"Container":"web","EndpointConfig":{"Links":["c:x"]}}`); code != http.StatusBadRequest {
		t.Errorf("connect with a new link: %d %s, want 400", code, body)
	}
	s.Docker(t, "rm", "-f", "c", "web").Ok(t)
	s.Docker(t, "network", "rm", "n", "n2").Ok(t)
}

// docker create --network container:X while X is only created, as compose
// does for network_mode service:X: the create succeeds, the start needs X
// running, as docker's, and then shares its network.
func TestDockerNetworkOfCreatedContainer(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	s.Docker(t, "create", "--name", "web", "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc").Ok(t)
	s.Docker(t, "create", "--name", "side", "--network", "container:web", "busybox", "sleep", "300").Ok(t)
	if msg := s.Docker(t, "start", "side").Fails(t); !strings.Contains(msg, "not running") {
		t.Errorf("docker start side before web: %s", msg)
	}
	s.Docker(t, "start", "web").Ok(t)
	s.Docker(t, "start", "side").Ok(t)
	host := inspectField(t, s, "web", "{{.Config.Hostname}}")
	if out := s.Hull(t, "exec", "side", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/hostname").Ok(t); out != host+"\n" {
		t.Errorf("side fetching web's /etc/hostname from web's port on their shared loopback: %q, want %q", out, host)
	}
	s.Docker(t, "rm", "-f", "side", "web").Ok(t)
}

// HostConfig.Umask (the official types have it; docker's CLI sends none) is
// the container process's umask, as hull run --umask's.
func TestDockerUmask(t *testing.T) {
	s := dockertest.Start(t, dockertest.Options{})
	if code, body := raw(t, s, "POST", "/v1.50/containers/create?name=u", `{"Image":"busybox","Cmd":["sh","-c","umask"],"HostConfig":{"NetworkMode":"none","Umask":63}}`); code != http.StatusCreated {
		t.Fatalf("create with Umask: %d %s", code, body)
	}
	s.Docker(t, "start", "u").Ok(t)
	s.Docker(t, "wait", "u").Ok(t)
	if out := s.Hull(t, "logs", "u").Ok(t); out != "0077\n" {
		t.Errorf("umask in the container: %q, want 0077", out)
	}
	if out := s.Hull(t, "run", "--rm", "--network", "none", "--umask", "0027", "busybox", "sh", "-c", "umask").Ok(t); out != "0027\n" {
		t.Errorf("hull run --umask 0027: %q", out)
	}
	if code, body := raw(t, s, "POST", "/v1.50/containers/create", `{"Image":"busybox","HostConfig":{"Umask":4095}}`); code != http.StatusBadRequest || !strings.Contains(body, "HostConfig.Umask") {
		t.Errorf("create with Umask 07777: %d %s, want 400 naming HostConfig.Umask", code, body)
	}
	s.Docker(t, "rm", "u").Ok(t)
}
