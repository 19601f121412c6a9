package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// detached runs a container in the background without a network (none of these
// tests needs one) and returns its ID.
func (h *hullEnv) detached(args ...string) string {
	h.t.Helper()
	return strings.TrimSpace(h.ok(append([]string{"run", "-d", "--network", "none"}, args...)...))
}

// cpuTicks is the user+system time of a host process, in clock ticks.
func cpuTicks(t *testing.T, pid string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}

func TestPauseUnpause(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.detached("--name", "busy", "busybox", "sh", "-c", "while :; do :; done")
		pid := h.inspect("busy", "{{.State.Pid}}")
		h.ok("pause", "busy")
		if got := h.inspect("busy", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"); got != "paused true true" {
			t.Errorf("paused: %s", got)
		}
		if out := h.ok("ps", "--format", "{{.Status}}"); !strings.HasSuffix(strings.TrimSpace(out), "(Paused)") {
			t.Errorf("ps of a paused container: %q", out)
		}
		before := cpuTicks(t, pid)
		time.Sleep(time.Second)
		if after := cpuTicks(t, pid); after != before {
			t.Errorf("paused container used CPU: %d -> %d ticks", before, after)
		}
		if _, stderr, code := h.run("pause", "busy"); code == 0 || !strings.Contains(stderr, "already paused") {
			t.Errorf("pause twice: exit %d %s", code, stderr)
		}
		if _, stderr, code := h.run("exec", "busy", "true"); code != 125 || !strings.Contains(stderr, "is paused") {
			t.Errorf("exec in a paused container: exit %d %s", code, stderr)
		}
		h.ok("unpause", "busy")
		before = cpuTicks(t, pid)
		time.Sleep(time.Second)
		if after := cpuTicks(t, pid); after-before < 5 {
			t.Errorf("unpaused container used %d ticks in a second", after-before)
		}
		if _, stderr, code := h.run("unpause", "busy"); code == 0 || !strings.Contains(stderr, "not paused") {
			t.Errorf("unpause of a running container: exit %d %s", code, stderr)
		}
		// A paused container is still stopped at once: it is thawed to take the signal.
		h.ok("pause", "busy")
		start := time.Now()
		h.ok("rm", "-f", "busy")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("rm -f of a paused container took %v", d)
		}
		h.ok("create", "--network", "none", "--name", "idle", "busybox", "true")
		if _, stderr, code := h.run("pause", "idle"); code == 0 || !strings.Contains(stderr, "not running") {
			t.Errorf("pause of a created container: exit %d %s", code, stderr)
		}
	})
}

// cgroupFile is a shell command that prints a cgroup file inside the container,
// cgroup v1 (controller/file) or v2 (file).
func cgroupFile(v1, v2 string) string {
	return "cat /sys/fs/cgroup/" + v1 + " 2>/dev/null || cat /sys/fs/cgroup/" + v2
}

func TestUpdateAndRestart(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		id := h.detached("--name", "u", "-m", "64m", "busybox", "sleep", "1000")
		limits := func() string {
			return h.ok("exec", "u", "sh", "-c", cgroupFile("memory/memory.limit_in_bytes", "memory.max")+"; "+
				cgroupFile("pids/pids.max", "pids.max")+"; "+cgroupFile("cpu/cpu.shares", "cpu.weight"))
		}
		if out := limits(); !strings.HasPrefix(out, "67108864\n2048\n") {
			t.Fatalf("before update: %q", out)
		}
		h.ok("update", "-m", "96m", "--pids-limit", "99", "--cpu-shares", "512", "u")
		// v2: shares as a weight, by hull's curve (crun's and runc 1.3's, which
		// sends 1024 to the default 100) or by runc 1.1's line
		weight := map[string]string{"hull": "59", "runc": "20"}[h.runtime]
		want := func(out string) bool {
			return out == "100663296\n99\n512\n" || out == "100663296\n99\n"+weight+"\n"
		}
		if out := limits(); !want(out) {
			t.Errorf("after update: %q", out)
		}
		if got := h.inspect("u", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}}"); got != "100663296 99 512" {
			t.Errorf("inspect after update: %s", got)
		}
		pid := h.inspect("u", "{{.State.Pid}}")
		h.ok("restart", "-t", "1", "u")
		if got := h.inspect("u", "{{.Id}} {{.State.Status}}"); got != id+" running" {
			t.Errorf("after restart: %s", got)
		}
		if h.inspect("u", "{{.State.Pid}}") == pid {
			t.Error("restart kept the old process")
		}
		if out := limits(); !want(out) {
			t.Errorf("after restart: %q", out)
		}
		// a stopped container: the next start has the new limit
		h.ok("stop", "-t", "1", "u")
		h.ok("update", "-m", "80m", "u")
		h.ok("restart", "u") // restart of a stopped container starts it
		if out := limits(); !strings.HasPrefix(out, "83886080\n") {
			t.Errorf("update of a stopped container: %q", out)
		}
		if _, stderr, code := h.run("update", "-m", "1k", "u"); code == 0 || !strings.Contains(stderr, "memory") {
			t.Errorf("update -m 1k: exit %d %s", code, stderr)
		}
		if _, stderr, code := h.run("update", "--restart", "sometimes", "u"); code == 0 || !strings.Contains(stderr, "restart policy") {
			t.Errorf("update --restart sometimes: exit %d %s", code, stderr)
		}
		h.ok("update", "--restart", "on-failure:3", "u")
		if got := h.inspect("u", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"); got != "on-failure:3" {
			t.Errorf("update --restart: %s", got)
		}
		// a --rm container survives its restart (docker's too), and still goes at its end
		h.ok("run", "-d", "--rm", "--network", "none", "--name", "gone", "busybox", "sleep", "1000")
		h.ok("restart", "-t", "0", "gone")
		if got := h.inspect("gone", "{{.State.Status}} {{.HostConfig.AutoRemove}}"); got != "running true" {
			t.Errorf("after restart of a --rm container: %q", got)
		}
		h.ok("stop", "-t", "0", "gone")
		for i := 0; ; i++ { // its monitor removes it just after recording the end
			if _, _, code := h.run("inspect", "gone"); code != 0 {
				break
			}
			if i == 50 {
				t.Fatal("a --rm container outlived its stop after a restart")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestRename(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		id := strings.TrimSpace(h.ok("create", "--network", "none", "--name", "one", "busybox", "true"))
		h.ok("create", "--network", "none", "--name", "other", "busybox", "true")
		h.ok("rename", "one", "two")
		if got := h.inspect("two", "{{.Id}} {{.Name}}"); got != id+" /two" {
			t.Errorf("after rename: %s", got)
		}
		if _, _, code := h.run("inspect", "one"); code == 0 {
			t.Error("the old name still resolves")
		}
		for _, c := range []struct{ to, msg string }{
			{"other", "already in use"}, {"a/b", "invalid container name"}, {"..", "invalid container name"},
		} {
			_, stderr, code := h.run("rename", "two", c.to)
			if code != 125 || !strings.Contains(stderr, c.msg) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("rename to %q: exit %d %q", c.to, code, stderr)
			}
		}
		if _, stderr, code := h.run("rename", "nope", "three"); code != 125 || !strings.Contains(stderr, "no such container") {
			t.Errorf("rename of a missing container: exit %d %s", code, stderr)
		}
		if out := h.ok("ps", "-a", "--format", "{{.Names}}"); out != "other\ntwo\n" {
			t.Errorf("names after failed renames: %q", out)
		}
	})
}

// tarNames lists the entries of a tar.
func tarNames(t *testing.T, data []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		names = append(names, hdr.Name)
	}
}

func TestCp(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		h.detached("--name", "c", "busybox", "sleep", "1000")
		host := t.TempDir()
		os.WriteFile(filepath.Join(host, "f"), []byte("from the host\n"), 0o640)
		os.MkdirAll(filepath.Join(host, "d", "sub"), 0o755)
		os.WriteFile(filepath.Join(host, "d", "sub", "g"), []byte("deep\n"), 0o644)

		// host -> container: a file into a directory, under a new name, a directory
		h.ok("cp", filepath.Join(host, "f"), "c:/tmp/")
		h.ok("cp", filepath.Join(host, "f"), "c:/tmp/renamed")
		h.ok("cp", filepath.Join(host, "d"), "c:/tmp/d")
		out := h.ok("exec", "c", "sh", "-c", "cat /tmp/f /tmp/renamed /tmp/d/sub/g; stat -c '%u %a' /tmp/f")
		if out != "from the host\nfrom the host\ndeep\n0 640\n" {
			t.Errorf("copied in: %q", out)
		}
		// container -> host
		h.ok("exec", "c", "sh", "-c", "mkdir -p /out/x && echo made inside > /out/x/h && ln -s h /out/x/link")
		h.ok("cp", "c:/out", filepath.Join(host, "out"))
		if data, _ := os.ReadFile(filepath.Join(host, "out", "x", "h")); string(data) != "made inside\n" {
			t.Errorf("copied out: %q", data)
		}
		if l, _ := os.Readlink(filepath.Join(host, "out", "x", "link")); l != "h" {
			t.Errorf("symlink copied out as %q", l)
		}
		h.ok("cp", "c:/out/x/.", host) // contents only
		if _, err := os.Stat(filepath.Join(host, "h")); err != nil {
			t.Errorf("cp DIR/. : %v", err)
		}
		// - : a tar on stdout and on stdin
		tarOut := h.ok("cp", "c:/out", "-")
		if names := strings.Join(tarNames(t, []byte(tarOut)), " "); names != "out/ out/x/ out/x/h out/x/link" {
			t.Errorf("cp CONTAINER:SRC -: %s", names)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "piped", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg})
		tw.Write([]byte("piped\n"))
		tw.Close()
		if _, stderr, code := h.runIn(bytes.NewReader(buf.Bytes()), "cp", "-", "c:/tmp"); code != 0 {
			t.Fatalf("cp - : %s", stderr)
		}
		if out := h.ok("exec", "c", "cat", "/tmp/piped"); out != "piped\n" {
			t.Errorf("cp - : %q", out)
		}
		// a stopped container
		h.ok("stop", "-t", "0", "c")
		h.ok("cp", "c:/tmp/renamed", filepath.Join(host, "back"))
		if data, _ := os.ReadFile(filepath.Join(host, "back")); string(data) != "from the host\n" {
			t.Errorf("cp from a stopped container: %q", data)
		}
		if _, stderr, code := h.run("cp", "c:/nonexistent", host); code == 0 || !strings.Contains(stderr, "nonexistent") {
			t.Errorf("cp of a missing file: exit %d %s", code, stderr)
		}
		h.ok("create", "--network", "none", "--read-only", "--name", "ro", "busybox", "true")
		if _, stderr, code := h.run("cp", filepath.Join(host, "f"), "ro:/tmp/"); code == 0 || !strings.Contains(stderr, "read-only") {
			t.Errorf("cp into a --read-only container: exit %d %s", code, stderr)
		}
	})
}

// TestCpSymlinkEscape plants symlinks in a container that point at host paths and
// checks that cp, both ways, only ever reaches the container's own tree.
func TestCpSymlinkEscape(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		secret := t.TempDir() // exists on the host only
		os.WriteFile(filepath.Join(secret, "key"), []byte("host secret\n"), 0o600)
		marker := "hull-cp-escape-" + strconv.Itoa(os.Getpid())
		t.Cleanup(func() { os.Remove("/etc/" + marker) })
		h.detached("--name", "evil", "busybox", "sh", "-c",
			"ln -s "+secret+" /abs && ln -s ../../../../../../.."+secret+" /rel && ln -s /etc /etclink && "+
				"ln -s "+secret+"/key /keylink && sleep 1000")
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, _, code := h.run("exec", "evil", "test", "-L", "/keylink"); code == 0 {
				break
			}
		}
		out := t.TempDir()
		for _, src := range []string{"evil:/abs/key", "evil:/rel/key", "evil:/abs/", "evil:/etclink/debian_version"} {
			if _, _, code := h.run("cp", src, filepath.Join(out, "got")); code == 0 {
				t.Errorf("cp %s out succeeded", src)
			}
		}
		// the link itself is copied, never what it points to on the host; -L
		// follows it inside the container, where there is nothing
		h.ok("cp", "evil:/keylink", filepath.Join(out, "link"))
		if l, err := os.Readlink(filepath.Join(out, "link")); err != nil || l != secret+"/key" {
			t.Errorf("cp of a symlink: %q %v", l, err)
		}
		if _, _, code := h.run("cp", "-L", "evil:/keylink", filepath.Join(out, "followed")); code == 0 {
			t.Error("cp -L followed a symlink out of the container")
		}
		if data, _, _ := h.run("cp", "evil:/abs", "-"); strings.Contains(data, "host secret") {
			t.Error("cp - read the host")
		}
		// writes: into the directory a link names, under a link, through a tar
		src := filepath.Join(t.TempDir(), "planted")
		os.WriteFile(src, []byte("x\n"), 0o644)
		for _, dst := range []string{"evil:/abs/", "evil:/abs/planted", "evil:/rel/planted", "evil:/rel/"} {
			h.run("cp", src, dst)
		}
		h.run("cp", src, "evil:/etclink/"+marker)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: secret, Mode: 0o777})
		tw.WriteHeader(&tar.Header{Name: "l/viatar", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
		tw.Write([]byte("x\n"))
		tw.WriteHeader(&tar.Header{Name: "../../../../../.." + secret + "/dotdot", Typeflag: tar.TypeReg, Mode: 0o644})
		tw.Close()
		h.runIn(bytes.NewReader(buf.Bytes()), "cp", "-", "evil:/tmp")
		h.runIn(bytes.NewReader(buf.Bytes()), "cp", "-", "evil:/abs")
		h.run("cp", src, "evil:/abs") // replaces the link, in the container
		ents, _ := os.ReadDir(secret)
		if len(ents) != 1 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("cp wrote to the host through a container symlink: %v", names)
		}
		if _, err := os.Lstat("/etc/" + marker); err == nil {
			t.Error("cp wrote into the host's /etc")
		}
		if out, _, code := h.run("exec", "evil", "cat", "/etc/"+marker); code != 0 || out != "x\n" {
			t.Errorf("the copy through /etclink did not land in the container's /etc: %q", out)
		}
	})
}

func TestEvents(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		// follows by default: one start event arrives while it waits
		cmd := exec.Command(h.bin, "--root", h.root, "--state", h.state, "events", "--filter", "event=start", "--format", "{{.Actor.Attributes.name}}")
		var follow bytes.Buffer
		cmd.Stdout = &follow
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		time.Sleep(300 * time.Millisecond)
		h.ok("run", "--rm", "--network", "none", "--name", "ev", "busybox", "true")
		for deadline := time.Now().Add(5 * time.Second); follow.Len() == 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		if follow.String() != "ev\n" {
			t.Errorf("events following: %q", follow.String())
		}
		h.ok("run", "--network", "none", "--name", "other", "busybox", "true")

		out := h.ok("events", "--since", "1h", "--until", "0s", "--filter", "container=ev", "--format", "{{.Action}}")
		if out != "create\nstart\ndie\ndestroy\n" {
			t.Errorf("events of run --rm: %q", out)
		}
		out = h.ok("events", "--since", "1h", "--until", "0s", "--filter", "event=die", "--filter", "type=container")
		if strings.Count(out, "\n") != 2 || !strings.Contains(out, " container die ") || !strings.Contains(out, "exitCode=0") || !strings.Contains(out, "name=other") {
			t.Errorf("events --filter event=die: %q", out)
		}
		line := h.ok("events", "--since", "1h", "--until", "0s", "--filter", "container=other", "--filter", "event=create", "--format", "{{json .}}")
		var ev struct {
			Type, Action string
			Actor        struct{ ID string }
			TimeNano     int64 `json:"timeNano"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Type != "container" || ev.Action != "create" || len(ev.Actor.ID) != 64 || ev.TimeNano == 0 {
			t.Errorf("events --format '{{json .}}': %q %v", line, err)
		}
		if _, stderr, code := h.run("events", "--filter", "colour=red"); code == 0 || !strings.Contains(stderr, "invalid filter") {
			t.Errorf("bad filter: exit %d %s", code, stderr)
		}
	})
}

func TestEventsRotate(t *testing.T) {
	h := newHullEnv(t, "hull")
	// a full events file is rotated: two files at most, each about a MiB
	big := bytes.Repeat([]byte(`{"Type":"container","Action":"filler","timeNano":1}`+"\n"), (1<<20)/50+10)
	os.WriteFile(filepath.Join(h.root, "events.log"), big, 0o600)
	h.ok("create", "--network", "none", "--name", "r", "busybox", "true")
	h.ok("rm", "r")
	if st, err := os.Stat(filepath.Join(h.root, "events.log")); err != nil || st.Size() > 1<<20 {
		t.Errorf("events.log not rotated: %v", err)
	}
	if out := h.ok("events", "--since", "1h", "--until", "0s", "--format", "{{.Action}}"); out != "create\ndestroy\n" {
		t.Errorf("events across a rotation: %q", out)
	}
}

func TestSystemPrune(t *testing.T) {
	for _, rt := range []string{"hull", "runc"} {
		t.Run(rt, func(t *testing.T) {
			h := netEnv(t, rt)
			h.network("unused", "--internal")
			h.network("used", "--internal")
			h.ok("run", "-d", "--name", "up", "--network", "used", "busybox", "sleep", "1000")
			h.ok("run", "--name", "done", "--network", "none", "-l", "keep=yes", "busybox", "true")
			h.ok("create", "--name", "new", "--network", "none", "busybox", "true")
			df := h.ok("system", "df")
			if !strings.Contains(df, "\nContainers ") || !strings.Contains(df, "Images ") || strings.Fields(df[strings.Index(df, "\nContainers "):])[1] != "3" {
				t.Errorf("system df: %s", df)
			}
			out := h.ok("container", "prune", "-f", "--filter", "label!=keep")
			if !strings.Contains(out, "Deleted Containers:") || strings.Count(h.ok("ps", "-aq"), "\n") != 2 {
				t.Errorf("container prune --filter: %s", out)
			}
			out = h.ok("system", "prune", "-f")
			if !strings.Contains(out, "Deleted Networks:\nunused\n") || !strings.Contains(out, "Total reclaimed space:") {
				t.Errorf("system prune: %s", out)
			}
			if got := h.ok("ps", "-a", "--format", "{{.Names}}"); got != "up\n" {
				t.Errorf("after prune: %q", got)
			}
			nets := h.ok("network", "ls")
			if strings.Contains(nets, "unused") || !strings.Contains(nets, "used") {
				t.Errorf("networks after prune: %s", nets)
			}
		})
	}
}

func TestNewRunFlags(t *testing.T) {
	runtimes(t, func(t *testing.T, h *hullEnv) {
		out := h.ok("run", "--rm", "--network", "none", "--device", "/dev/loop-control:/dev/lc", "--device", "/dev/fuse:/dev/fr:r",
			"-m", "64m", "--memory-swap", "128m", "--cpu-shares", "512", "--cpuset-cpus", "0", "busybox", "sh", "-c",
			"test -c /dev/lc && exec 3<>/dev/lc && echo rw; exec 4</dev/fr && echo r; (exec 5<>/dev/fr) 2>/dev/null || echo not-w; "+
				cgroupFile("memory/memory.memsw.limit_in_bytes", "memory.swap.max")+"; "+cgroupFile("cpuset/cpuset.cpus", "cpuset.cpus"))
		if out != "rw\nr\nnot-w\n134217728\n0\n" && out != "rw\nr\nnot-w\n67108864\n0\n" {
			t.Errorf("devices, swap, cpuset inside: %q", out)
		}
		h.ok("create", "--network", "none", "--name", "flags", "--device", "/dev/loop-control:/dev/lc:rw", "--memory-swap", "-1", "-m", "32m",
			"--cpu-shares", "256", "--cpuset-cpus", "0", "--pull", "never", "busybox", "true")
		got := h.inspect("flags", "{{range .HostConfig.Devices}}{{.PathOnHost}}:{{.PathInContainer}}:{{.CgroupPermissions}}{{end}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}}")
		if got != "/dev/loop-control:/dev/lc:rw -1 256 0" {
			t.Errorf("inspect: %s", got)
		}
		before := h.ok("ps", "-aq")
		for _, c := range []struct {
			args []string
			msg  string
		}{
			{[]string{"--device", "/dev/nonexistent"}, "/dev/nonexistent"},
			{[]string{"--device", "/etc/passwd"}, "not a device"},
			{[]string{"--device", "/dev/null:/dev/n:rwx"}, "permissions"},
			{[]string{"--pull", "sometimes"}, "pull policy"},
			{[]string{"--memory-swap", "32m", "-m", "64m"}, "memory-swap"},
			{[]string{"--cpuset-cpus", "0-999"}, "not available"},
			{[]string{"--cpu-shares", "-5"}, "cpu-shares"},
		} {
			_, stderr, code := h.run(append(append([]string{"run", "--rm", "--network", "none"}, c.args...), "busybox", "true")...)
			if code != 125 || !strings.Contains(stderr, c.msg) || strings.Count(errorLine(stderr), "\n") != 1 {
				t.Errorf("run %v: exit %d %q", c.args, code, stderr)
			}
		}
		if _, stderr, code := h.run("run", "--rm", "--pull", "never", "nosuchimage", "true"); code != 125 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("--pull never of a missing image: exit %d %q", code, stderr)
		}
		if after := h.ok("ps", "-aq"); after != before {
			t.Errorf("bad flags left containers: %q", after)
		}

		// ps -n, -l, --filter
		if _, _, code := h.run("run", "--network", "none", "--name", "e3", "-l", "k=v", "busybox", "sh", "-c", "exit 3"); code != 3 {
			t.Fatalf("exit 3: %d", code)
		}
		h.detached("--name", "live", "busybox", "sleep", "1000")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"-l"}, "live\n"},
			{[]string{"-n", "2"}, "live\ne3\n"},
			{[]string{"--filter", "status=exited"}, "e3\n"},
			{[]string{"--filter", "exited=3"}, "e3\n"},
			{[]string{"-a", "--filter", "label=k=v"}, "e3\n"},
			{[]string{"-a", "--filter", "name=liv"}, "live\n"},
			{[]string{"--filter", "status=created"}, "flags\n"},
			{[]string{"-a", "--filter", "ancestor=busybox", "--filter", "status=running"}, "live\n"},
			{[]string{"--filter", "id=" + h.inspect("e3", "{{.Id}}")[:10], "-a"}, "e3\n"},
		} {
			if out := h.ok(append([]string{"ps", "--format", "{{.Names}}"}, c.args...)...); out != c.want {
				t.Errorf("ps %v: %q, want %q", c.args, out, c.want)
			}
		}
		if _, stderr, code := h.run("ps", "--filter", "status=sleepy"); code == 0 || !strings.Contains(stderr, "invalid filter") {
			t.Errorf("ps --filter status=sleepy: exit %d %s", code, stderr)
		}

		// logs --until, exec --privileged
		h.ok("run", "--network", "none", "--name", "talk", "busybox", "sh", "-c", "echo early; sleep 1; echo late")
		var times []time.Time
		for _, l := range strings.Split(strings.TrimSpace(h.ok("logs", "-t", "talk")), "\n") {
			ts, _ := time.Parse(time.RFC3339Nano, strings.Fields(l)[0])
			times = append(times, ts)
		}
		if len(times) != 2 {
			t.Fatalf("logs -t: %v", times)
		}
		mid := times[0].Add(times[1].Sub(times[0]) / 2)
		if out := h.ok("logs", "--until", mid.Format(time.RFC3339Nano), "talk"); out != "early\n" {
			t.Errorf("logs --until: %q", out)
		}
		caps := func(args ...string) string {
			return h.ok(append(append([]string{"exec"}, args...), "live", "grep", "CapEff", "/proc/self/status")...)
		}
		if plain, priv := caps(), caps("--privileged"); plain == priv || !strings.Contains(priv, "000001ff") && !strings.Contains(priv, "000003ff") {
			t.Errorf("exec --privileged: %q, without: %q", priv, plain)
		}
	})
}
