package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/runtime"
	"github.com/hullproject/hull/volume"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"web", "a", "my-app_1.2", "A9"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/web", "a/b", "..", ".", "-x", "_x", "a b", "é", "x\n"} {
		if err := CheckName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// fakeRecords writes bare records, as Create would, for resolution tests.
func fakeRecords(t *testing.T, recs map[string]string) *Engine {
	e := &Engine{Root: t.TempDir(), StateDir: t.TempDir()}
	for id, name := range recs {
		os.MkdirAll(e.dir(id), 0o700)
		if err := e.save(&Container{ID: id, Name: name, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestResolve(t *testing.T) {
	a := "abc1" + strings.Repeat("0", 60)
	b := "abc2" + strings.Repeat("0", 60)
	e := fakeRecords(t, map[string]string{a: "web", b: "db"})
	for ref, want := range map[string]string{"web": a, "/db": b, "abc1": a, "abc2": b, a: a} {
		if got, err := e.Resolve(ref); err != nil || got != want {
			t.Errorf("resolve %q = %q, %v", ref, got, err)
		}
	}
	if _, err := e.Resolve("abc"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := e.Resolve("nope"); err == nil {
		t.Error("unknown name resolved")
	}
	if _, err := e.Resolve(""); err == nil {
		t.Error("empty ref resolved")
	}
}

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\napp:x:1000:\nwheel:x:10:app,other\n"), 0o644)
	cases := map[string]specs.User{
		"":          {},
		"app":       {UID: 1000, GID: 1000, AdditionalGids: []uint32{10}},
		"1000":      {UID: 1000, GID: 1000, AdditionalGids: []uint32{10}},
		"app:wheel": {UID: 1000, GID: 10},
		"4242":      {UID: 4242},
		"4242:7":    {UID: 4242, GID: 7},
	}
	for in, want := range cases {
		got, err := resolveUser(root, in, nil)
		if err != nil || got.UID != want.UID || got.GID != want.GID || !slices.Equal(got.AdditionalGids, want.AdditionalGids) {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := resolveUser(root, "ghost", nil); err == nil {
		t.Error("unknown user name accepted")
	}
	if _, err := resolveUser(root, "app:ghost", nil); err == nil {
		t.Error("unknown group name accepted")
	}
	// --group-add: by name and number, a group the user has already counted once
	if got, err := resolveUser(root, "app", []string{"wheel", "44", "root"}); err != nil || !slices.Equal(got.AdditionalGids, []uint32{10, 44, 0}) {
		t.Errorf("app with --group-add wheel,44,root: %+v %v", got, err)
	}
	if _, err := resolveUser(root, "app", []string{"ghost"}); err == nil || !strings.Contains(err.Error(), "unable to find group ghost") {
		t.Errorf("--group-add ghost: %v", err)
	}
	if home := homeOf(root, 1000); home != "/home/app" {
		t.Errorf("home %q", home)
	}
}

// An image whose /etc/passwd is a symlink out of its root must not read the host's.
func TestResolveUserSymlinkStaysInRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	host := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(host, []byte("hostuser:x:4321:4321::/:/bin/sh\n"), 0o644)
	os.Symlink(host, filepath.Join(root, "etc/passwd"))
	os.Symlink("../../../../../../.."+host, filepath.Join(root, "etc/group"))
	if _, err := resolveUser(root, "hostuser", nil); err == nil {
		t.Fatal("user resolved through a symlink out of the rootfs")
	}
}

// An image whose /etc/passwd or /etc/group is a FIFO (or any file that is not a
// regular one) must not hang the lookup: opening a FIFO for reading waits for a
// writer that never comes.
func TestResolveUserFifoDoesNotHang(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	for _, f := range []string{"passwd", "group"} {
		if err := unix.Mkfifo(filepath.Join(root, "etc", f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := resolveUser(root, "1000:1000", []string{"wheel"})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("group wheel resolved from a FIFO")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("resolveUser hangs on an image whose /etc/passwd is a FIFO")
	}
}

func TestCapsFor(t *testing.T) {
	c := capsFor(false, nil, nil)
	if len(c) != 14 {
		t.Fatalf("defaults: %v", c)
	}
	c = capsFor(false, []string{"sys_admin"}, []string{"CAP_NET_RAW", "chown"})
	if !slices.Contains(c, "CAP_SYS_ADMIN") || slices.Contains(c, "CAP_NET_RAW") || slices.Contains(c, "CAP_CHOWN") || len(c) != 13 {
		t.Errorf("add/drop: %v", c)
	}
	c = capsFor(false, []string{"KILL"}, []string{"ALL"})
	if !slices.Equal(c, []string{"CAP_KILL"}) {
		t.Errorf("drop ALL add KILL: %v", c)
	}
	if err := (&CreateOptions{CapAdd: []string{"CAP_BOGUS"}}).Validate(); err == nil {
		t.Error("unknown capability accepted")
	}
}

func TestCommandAndEnv(t *testing.T) {
	img := &ocispec.ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"a"}}
	if ep, cmd := command(img, &CreateOptions{}); !slices.Equal(ep, []string{"/ep"}) || !slices.Equal(cmd, []string{"a"}) {
		t.Errorf("image: %v %v", ep, cmd)
	}
	if ep, cmd := command(img, &CreateOptions{Cmd: []string{"b"}}); !slices.Equal(ep, []string{"/ep"}) || !slices.Equal(cmd, []string{"b"}) {
		t.Errorf("args: %v %v", ep, cmd)
	}
	ep := []string{"/other"}
	if e, cmd := command(img, &CreateOptions{Entrypoint: &ep}); !slices.Equal(e, ep) || cmd != nil {
		t.Errorf("--entrypoint: %v %v", e, cmd)
	}
	if got := mergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4"}); !slices.Equal(got, []string{"A=1", "B=3", "C=4"}) {
		t.Errorf("env: %v", got)
	}
}

func TestMakeSpecDefaults(t *testing.T) {
	root := t.TempDir()
	c := &Container{ID: strings.Repeat("a", 64), Path: "sh", Config: Config{Hostname: "h"}, HostConfig: HostConfig{NetworkMode: "none"}}
	// makeSpec takes judged options, as Create's plan has them.
	specOf := func(c *Container, img *ocispec.ImageConfig, rootfs, recDir string, o *CreateOptions) (*specs.Spec, error) {
		set, err := o.parse()
		if err != nil {
			return nil, err
		}
		return makeSpec(&createPlan{c: c, config: img, o: o, createSettings: set}, rootfs, recDir, specs.User{})
	}
	s, err := specOf(c, &ocispec.ImageConfig{}, root, "/rec", &CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Process.Capabilities.Bounding) != 14 || s.Linux.Seccomp == nil || len(s.Linux.MaskedPaths) == 0 {
		t.Error("missing default confinement")
	}
	if s.Linux.Resources.Pids == nil || *s.Linux.Resources.Pids.Limit != DefaultPidsLimit {
		t.Error("no pids limit")
	}
	var ns []string
	for _, n := range s.Linux.Namespaces {
		ns = append(ns, string(n.Type))
	}
	slices.Sort(ns)
	if strings.Join(ns, ",") != "cgroup,ipc,mount,network,pid,uts" {
		t.Errorf("namespaces %v", ns)
	}
	shm := false
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" && slices.Contains(m.Options, "size=65536k") {
			shm = true
		}
	}
	if !shm {
		t.Error("no 64 MiB /dev/shm")
	}
	c.HostConfig.NetworkMode = "host"
	s, _ = specOf(c, &ocispec.ImageConfig{}, root, "/rec", &CreateOptions{Privileged: true, Memory: 8 << 20, NanoCPUs: 5e8, Ulimits: []string{"nofile=10:20"}, SecurityOpt: []string{"no-new-privileges"}})
	for _, n := range s.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace {
			t.Error("--network host has a network namespace")
		}
	}
	if s.Linux.Seccomp != nil || s.Linux.MaskedPaths != nil || len(s.Process.Capabilities.Bounding) < 38 {
		t.Error("--privileged still confined")
	}
	if *s.Linux.Resources.Memory.Limit != 8<<20 || *s.Linux.Resources.CPU.Quota != 50000 || s.Process.Rlimits[0].Hard != 20 || !s.Process.NoNewPrivileges {
		t.Error("limits not applied")
	}
	if s, err := specOf(c, &ocispec.ImageConfig{}, root, "/rec", &CreateOptions{Umask: "077"}); err != nil || s.Process.User.Umask == nil || *s.Process.User.Umask != 0o77 {
		t.Errorf("--umask 077: not in the spec (%v)", err)
	}
	// --security-opt systempaths=unconfined: nothing of /proc and /sys hidden
	// or read-only, the rest of the confinement kept.
	s, err = specOf(c, &ocispec.ImageConfig{}, root, "/rec", &CreateOptions{SecurityOpt: []string{"systempaths=unconfined"}})
	if err != nil || s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil || s.Linux.Seccomp == nil || len(s.Process.Capabilities.Bounding) != 14 {
		t.Errorf("systempaths=unconfined: %v", err)
	}
	if _, err := specOf(c, &ocispec.ImageConfig{}, root, "/rec", &CreateOptions{SecurityOpt: []string{"label=x"}}); err == nil {
		t.Error("unsupported security-opt accepted")
	}
	// --security-opt apparmor=PROFILE as docker's daemon takes it: the profile
	// where the host has AppArmor, nothing where it has not (the runtime would
	// refuse it), nothing for unconfined or a privileged container.
	want := ""
	if runtime.AppArmorEnabled() {
		want = "hull-test"
	}
	for _, o := range []struct {
		opts CreateOptions
		want string
	}{
		{CreateOptions{SecurityOpt: []string{"apparmor=hull-test"}}, want},
		{CreateOptions{SecurityOpt: []string{"apparmor:hull-test"}}, want},
		{CreateOptions{SecurityOpt: []string{"apparmor=unconfined"}}, ""},
		{CreateOptions{Privileged: true, SecurityOpt: []string{"apparmor=hull-test"}}, ""},
	} {
		s, err := specOf(c, &ocispec.ImageConfig{}, root, "/rec", &o.opts)
		if err != nil || s.Process.ApparmorProfile != o.want {
			t.Errorf("%v privileged %v: apparmorProfile %q, want %q (%v)", o.opts.SecurityOpt, o.opts.Privileged, s.Process.ApparmorProfile, o.want, err)
		}
	}
}

// TestExitCodeOf: the runtime's kind decides the code, never the text: a missing
// bind-mount source says "no such file or directory" and is hull's own failure.
func TestExitCodeOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("start: %w", runtime.ErrNotFound), 127},
		{fmt.Errorf("start: %w", runtime.ErrNotExecutable), 126},
		{errors.New(`mount /x: bind source: stat /src: no such file or directory`), 125},
		{errors.New(`exec "/etc": permission denied`), 125},
		{errors.New(`cgroup: something`), 125},
	} {
		if got := ExitCodeOf(c.err); got != c.want {
			t.Errorf("%s: %d, want %d", c.err, got, c.want)
		}
	}
}

// TestContainerFilter: ps's filters, as the Docker API's container list will take
// them: bad ones refused, the rest matched as docker does.
func TestContainerFilter(t *testing.T) {
	for _, bad := range []string{"bogus", "colour=red", "status=sleepy", "exited=x", "name=[", "health=fine", "is-task=maybe"} {
		if _, err := ParseContainerFilter([]string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	c := &Container{ID: "abc123" + strings.Repeat("0", 58), Name: "web", Image: "sha256:feed", ImageRef: "busybox",
		Config:     Config{Labels: map[string]string{"tier": "front"}, Healthcheck: &HealthConfig{Test: []string{"CMD", "true"}}},
		State:      ContainerState{Status: StatusExited, ExitCode: 3, Health: &Health{Status: HealthHealthy}},
		HostConfig: HostConfig{NetworkMode: "app"},
		NetworkSettings: NetworkSettings{Networks: map[string]*EndpointSettings{"app": {}},
			Ports: map[string][]PortBinding{"80/tcp": {{HostPort: "8080"}}, "53/udp": nil}},
		Mounts:  []MountRecord{{Mount: volume.Mount{Type: volume.TypeVolume, Source: "data", Destination: "/data"}}},
		Created: time.Now()}
	c.Config.ExposedPorts = map[string]struct{}{"80/tcp": {}, "7000/udp": {}}
	list := []*Container{
		{ID: "f0" + strings.Repeat("0", 62), Name: "old", Created: c.Created.Add(-time.Hour)}, c,
		{ID: "f1" + strings.Repeat("0", 62), Name: "new", Created: c.Created.Add(time.Hour)},
	}
	if f, _ := ParseContainerFilter([]string{"since=nope"}); !errors.Is(f.Resolve(list), ErrNoSuchContainer) {
		t.Error("since=nope: no error")
	}
	for _, c2 := range []struct {
		filters []string
		want    bool
	}{
		{nil, true},
		{[]string{"status=exited", "status=running"}, true},
		{[]string{"status=running"}, false},
		{[]string{"name=^/web$"}, true},
		{[]string{"name=^we"}, true},
		{[]string{"name=db"}, false},
		{[]string{"id=abc1"}, true},
		{[]string{"label=tier=front", "exited=3"}, true},
		{[]string{"label=tier=back"}, false},
		{[]string{"label=tier=front", "label=tier=back"}, false}, // every label, as docker's
		{[]string{"label=tier", "label=tier=front"}, true},
		{[]string{"exited=0"}, false},
		{[]string{"ancestor=busybox"}, true},
		{[]string{"ancestor=fee"}, true},
		{[]string{"ancestor=alpine"}, false},
		{[]string{"network=app"}, true},
		{[]string{"network=bridge"}, false},
		{[]string{"health=healthy"}, true},
		{[]string{"health=none"}, false},
		{[]string{"before=new"}, true},
		{[]string{"before=old"}, false},
		{[]string{"since=old"}, true},
		{[]string{"since=new"}, false},
		{[]string{"since=abc1"}, false}, // itself
		{[]string{"volume=data"}, true},
		{[]string{"volume=/data"}, true},
		{[]string{"volume=other"}, false},
		{[]string{"publish=80"}, true},
		{[]string{"publish=79-81/tcp"}, true},
		{[]string{"publish=53/udp"}, false}, // not bound to a host port
		{[]string{"expose=7000/udp"}, true},
		{[]string{"expose=7000"}, false},
		{[]string{"is-task=false"}, true},
		{[]string{"is-task=true"}, false},
	} {
		f, err := ParseContainerFilter(c2.filters)
		if err == nil {
			err = f.Resolve(list)
		}
		if err != nil || f.Match(c) != c2.want {
			t.Errorf("%v: match %v (%v), want %v", c2.filters, f.Match(c), err, c2.want)
		}
	}
}

// TestMakeSpecOptions: docker's options of issue 14 land in the spec where a
// runtime applies them: cgroup limits, the cgroup parent, /dev/shm's size,
// oom_score_adj, sysctls, device rules, annotations, the domain name.
func TestMakeSpecOptions(t *testing.T) {
	id := strings.Repeat("b", 64)
	c := &Container{ID: id, Path: "sh", Config: Config{Hostname: "h", Domainname: "example.org"}, HostConfig: HostConfig{NetworkMode: "none"}}
	swappiness := int64(10)
	o := &CreateOptions{Memory: 64 << 20, Annotations: map[string]string{"org.example/a": "b"}, Domainname: "example.org",
		ResourceOptions: ResourceOptions{
			CgroupLimits: CgroupLimits{CPUPeriod: 50000, CPUQuota: 25000, CPURealtimePeriod: 1000000, CPURealtimeRuntime: 10000,
				CpusetMems: "0", MemoryReservation: 32 << 20, BlkioWeight: 300},
			CgroupParent: "batch.slice", MemorySwappiness: &swappiness, OomKillDisable: true, OomScoreAdj: 500, ShmSize: 1 << 20,
			BlkioWeightDevice:  []WeightDevice{{"/dev/loop0", 200}},
			BlkioDeviceReadBps: []ThrottleDevice{{"/dev/loop0", 1 << 20}}, BlkioDeviceWriteIOps: []ThrottleDevice{{"/dev/loop0", 100}},
			DeviceCgroupRules: []string{"b 7:* rw", "a *:* m"}, Sysctls: map[string]string{"kernel.shmmax": "1024"},
		}}
	if _, err := os.Stat("/dev/loop0"); err != nil {
		t.Skip("no /dev/loop0")
	}
	set := &createSettings{}
	var r refusals
	o.parseResources(set, &r)
	if err := r.err(); err != nil {
		t.Fatal(err)
	}
	p := &createPlan{c: c, config: &ocispec.ImageConfig{}, o: o, createSettings: set}
	s, err := makeSpec(p, t.TempDir(), "/rec", specs.User{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Linux.CgroupsPath != "/batch.slice/hull-"+id {
		t.Errorf("cgroups path %s", s.Linux.CgroupsPath)
	}
	res := s.Linux.Resources
	cpu, mem, blk := res.CPU, res.Memory, res.BlockIO
	if cpu == nil || *cpu.Period != 50000 || *cpu.Quota != 25000 || *cpu.RealtimePeriod != 1000000 || *cpu.RealtimeRuntime != 10000 || cpu.Mems != "0" {
		t.Errorf("cpu %+v", cpu)
	}
	if mem == nil || *mem.Reservation != 32<<20 || *mem.Swappiness != 10 || !*mem.DisableOOMKiller || *mem.Limit != 64<<20 {
		t.Errorf("memory %+v", mem)
	}
	if blk == nil || *blk.Weight != 300 || len(blk.WeightDevice) != 1 || *blk.WeightDevice[0].Weight != 200 || blk.WeightDevice[0].Major != 7 ||
		len(blk.ThrottleReadBpsDevice) != 1 || blk.ThrottleReadBpsDevice[0].Rate != 1<<20 || len(blk.ThrottleWriteIOPSDevice) != 1 {
		t.Errorf("block IO %+v", blk)
	}
	rules := res.Devices[len(res.Devices)-2:]
	if rules[0].Type != "b" || *rules[0].Major != 7 || rules[0].Minor != nil || rules[0].Access != "rw" || rules[1].Type != "a" || rules[1].Major != nil {
		t.Errorf("device rules %+v", rules)
	}
	if s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != 500 || s.Linux.Sysctl["kernel.shmmax"] != "1024" ||
		s.Annotations["org.example/a"] != "b" || s.Domainname != "example.org" {
		t.Errorf("oom_score_adj %v, sysctls %v, annotations %v, domain %q", s.Process.OOMScoreAdj, s.Linux.Sysctl, s.Annotations, s.Domainname)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" && !slices.Contains(m.Options, "size=1048576") {
			t.Errorf("/dev/shm %v", m.Options)
		}
	}
	// A uts namespace that is not the container's own takes no domain name.
	c.HostConfig.UTSMode = "host"
	applyNamespaces(c, s)
	if s.Domainname != "" || s.Hostname != "" {
		t.Errorf("--uts host keeps hostname %q, domainname %q", s.Hostname, s.Domainname)
	}
}

// TestPlatform: --platform's grammar and what matches an image's config.
func TestPlatform(t *testing.T) {
	for in, want := range map[string]string{"linux/amd64": "linux/amd64", "amd64": "linux/amd64", "x86_64": "linux/amd64",
		"linux/arm64/v8": "linux/arm64", "aarch64": "linux/arm64", "linux/arm": "linux/arm/v7", "armhf": "linux/arm/v7", "LINUX/AMD64": "linux/amd64"} {
		if p, err := parsePlatform(in); err != nil || p.String() != want {
			t.Errorf("parsePlatform(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"windows/amd64", "linux/", "/amd64", "a/b/c/d", "darwin"} {
		if _, err := parsePlatform(bad); err == nil {
			t.Errorf("parsePlatform(%q) accepted", bad)
		}
	}
	p, _ := parsePlatform("linux/amd64")
	if !p.matches(ocispec.Platform{OS: "linux", Architecture: "amd64"}) || !p.matches(ocispec.Platform{Architecture: "amd64"}) ||
		p.matches(ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}) {
		t.Error("linux/amd64 matches wrongly")
	}
	p, _ = parsePlatform("linux/arm64")
	if !p.matches(ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}) {
		t.Error("linux/arm64 does not match an arm64/v8 image")
	}
}

// recordName reads the name of a record in any key order, and calls a record
// that is not JSON damaged.
func TestRecordName(t *testing.T) {
	id := strings.Repeat("a", 64)
	e := &Engine{Root: t.TempDir(), StateDir: t.TempDir()}
	os.MkdirAll(e.dir(id), 0o700)
	for rec, want := range map[string]string{
		`{"Id":"` + id + `","Name":"web","Created":"2026-01-01T00:00:00Z"}`:                        "web",
		`{"Id":"` + id + `","Config":{"Name":"no","Labels":{"a":"b"}},"Args":[1,[2]],"Name":"db"}`: "db",
		`{"Id":"` + id + `"}`: "",
	} {
		if err := os.WriteFile(filepath.Join(e.dir(id), "config.json"), []byte(rec), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := e.recordName(id); err != nil || got != want {
			t.Errorf("%s: name %q, %v; want %q", rec, got, err, want)
		}
	}
	for _, rec := range []string{`{"Id":`, `[]`, `{"Name":7}`} {
		os.WriteFile(filepath.Join(e.dir(id), "config.json"), []byte(rec), 0o600)
		if got, err := e.recordName(id); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("%s: name %q, %v; want damaged", rec, got, err)
		}
	}
	if _, err := e.recordName(strings.Repeat("b", 64)); !errors.Is(err, ErrNoSuchContainer) {
		t.Errorf("missing record: %v", err)
	}
}

// A census resolves as Resolve does, from one reading of the records, and follows
// a rename made after it was taken.
func TestCensusResolve(t *testing.T) {
	a := "abc1" + strings.Repeat("0", 60)
	b := "abc2" + strings.Repeat("0", 60)
	c := "def0" + strings.Repeat("0", 60)
	// c is named like a prefix of a's ID: a name goes before a prefix
	e := fakeRecords(t, map[string]string{a: "web", b: "db", c: "abc1"})
	s := e.NewCensus()
	for ref, want := range map[string]string{"web": a, "/db": b, "abc1": c, "abc2": b, a: a, "def": c} {
		if got, err := s.Get(ref); err != nil || got.ID != want {
			t.Errorf("census get %q = %v, %v", ref, got, err)
		}
		if got, err := e.Resolve(ref); err != nil || got != want {
			t.Errorf("resolve %q = %q, %v", ref, got, err)
		}
	}
	for _, ref := range []string{"abc", "nope", ""} {
		if got, err := s.Get(ref); err == nil {
			t.Errorf("census get %q = %v", ref, got.ID)
		}
	}
	if _, err := s.Get("abc"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if err := e.Rename("web", "www"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("web"); err == nil {
		t.Errorf("census get of a name given away: %s", got.ID)
	}
	if err := e.Rename("db", "web"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("web"); err != nil || got.ID != b {
		t.Errorf("census get of a name taken since = %v, %v; want %s", got, err, b)
	}
}
