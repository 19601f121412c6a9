package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/internal/testutil"
	"github.com/hullproject/hull/volume"
)

// TestValidateNamesTheField: each bad option is refused by Validate, alone, by an
// *OptionError that names its field, with hull's message.
func TestValidateNamesTheField(t *testing.T) {
	for _, c := range []struct {
		field, msg string
		set        func(o *CreateOptions)
	}{
		{"Name", "invalid container name", func(o *CreateOptions) { o.Name = "a/b" }},
		{"Network", "want none, host, container:NAME or a network", func(o *CreateOptions) { o.Network = "default" }},
		{"StopSignal", "SIGNOPE", func(o *CreateOptions) { o.StopSignal = "SIGNOPE" }},
		{"LogOpts", "max-size", func(o *CreateOptions) { o.LogOpts = []string{"max-size=lots"} }},
		{"Runtime", "not found", func(o *CreateOptions) { o.Runtime = "/nonexistent/runc" }},
		{"Memory", "minimum memory limit", func(o *CreateOptions) { o.Memory = 1 << 10 }},
		{"Memory", "must be positive", func(o *CreateOptions) { o.Memory = -1 }},
		{"MemorySwap", "always set the memory limit", func(o *CreateOptions) { o.MemorySwap = 64 << 20 }},
		{"MemorySwap", "larger than the memory limit", func(o *CreateOptions) { o.Memory, o.MemorySwap = 64<<20, 32<<20 }},
		{"MemorySwap", "want bytes or -1", func(o *CreateOptions) { o.MemorySwap = -2 }},
		{"CPUShares", "cpu-shares", func(o *CreateOptions) { o.CPUShares = -5 }},
		{"NanoCPUs", "--cpus", func(o *CreateOptions) { o.NanoCPUs = -1 }},
		{"CpusetCpus", "not available", func(o *CreateOptions) { o.CpusetCpus = "0-99999" }},
		{"CpusetCpus", "want a list like 0-3,5", func(o *CreateOptions) { o.CpusetCpus = "abc" }},
		{"Devices", "not a device", func(o *CreateOptions) { o.Devices = []string{"/etc/passwd"} }},
		{"Devices", "permissions", func(o *CreateOptions) { o.Devices = []string{"/dev/null:/dev/n:rwx"} }},
		{"DNS", `invalid --dns "x"`, func(o *CreateOptions) { o.DNS = []string{"x"} }},
		{"ExtraHosts", "nocolon", func(o *CreateOptions) { o.ExtraHosts = []string{"nocolon"} }},
		{"Network", "need a network", func(o *CreateOptions) { o.Publish = []string{"80"} }},
		{"Network", "the other container's hostname", func(o *CreateOptions) { o.Network, o.Hostname = "container:other", "h" }},
		{"Publish", "x", func(o *CreateOptions) { o.Network, o.Publish = "bridge", []string{"x"} }},
		{"IP", "want an IPv4 address", func(o *CreateOptions) { o.Network, o.IP = "bridge", "1.2.3" }},
		{"MacAddress", "unicast", func(o *CreateOptions) { o.Network, o.MacAddress = "bridge", "01:00:00:00:00:01" }},
		{"Restart", "invalid restart policy", func(o *CreateOptions) { o.Restart = "sometimes" }},
		{"Restart", "conflicting options: --restart and --rm", func(o *CreateOptions) { o.Restart, o.AutoRemove = "always", true }},
		{"HealthInterval", "--health-interval", func(o *CreateOptions) { o.HealthInterval = -time.Second }},
		{"HealthTimeout", "--health-timeout", func(o *CreateOptions) { o.HealthTimeout = time.Microsecond }},
		{"HealthStartPeriod", "--health-start-period", func(o *CreateOptions) { o.HealthStartPeriod = -1 }},
		{"HealthRetries", "--health-retries", func(o *CreateOptions) { o.HealthRetries = -1 }},
		{"NoHealthcheck", "conflicting options", func(o *CreateOptions) { o.NoHealthcheck, o.HealthCmd = true, "true" }},
		{"Userns", "not supported", func(o *CreateOptions) { o.Userns = "private" }},
		{"Pid", "--pid", func(o *CreateOptions) { o.Pid = "shared" }},
		{"IPC", "--ipc", func(o *CreateOptions) { o.IPC = "shared" }},
		{"UTS", "--uts", func(o *CreateOptions) { o.UTS = "shared" }},
		{"Cgroupns", "--cgroupns", func(o *CreateOptions) { o.Cgroupns = "shared" }},
		{"Hostname", "--hostname and --uts host", func(o *CreateOptions) { o.Hostname, o.UTS = "h", "host" }},
		{"Volumes", "invalid volume specification", func(o *CreateOptions) { o.Volumes = []string{"/a::/b"} }},
		{"Mounts", "invalid mount", func(o *CreateOptions) { o.Mounts = []string{"type=nope,target=/x"} }},
		{"Tmpfs", "not an absolute path", func(o *CreateOptions) { o.Tmpfs = []string{"relative"} }},
		{"Tmpfs", "duplicate mount point: /data", func(o *CreateOptions) { o.Volumes, o.Tmpfs = []string{"/data"}, []string{"/data"} }},
		{"VolumesFrom", "mode must be ro or rw", func(o *CreateOptions) { o.VolumesFrom = []string{"other:rx"} }},
		{"CapAdd", `unknown capability "CAP_BOGUS"`, func(o *CreateOptions) { o.CapAdd = []string{"bogus"} }},
		{"CapDrop", `unknown capability "CAP_BOGUS"`, func(o *CreateOptions) { o.CapDrop = []string{"bogus"} }},
		{"Ulimits", "want name=soft[:hard]", func(o *CreateOptions) { o.Ulimits = []string{"nofile"} }},
		{"SecurityOpt", "unsupported --security-opt", func(o *CreateOptions) { o.SecurityOpt = []string{"apparmor=x"} }},
	} {
		o := CreateOptions{Image: "busybox", Network: "none"}
		c.set(&o)
		err := o.Validate()
		errs := OptionErrors(err)
		if len(errs) != 1 || errs[0].Field != c.field || !strings.Contains(err.Error(), c.msg) || err.Error() != errs[0].Error() {
			t.Errorf("%s: %v, want one refusal of %s saying %q", c.field, err, c.field, c.msg)
		}
	}
	// What is well said passes; --privileged takes every capability, whatever
	// --cap-add names.
	for _, o := range []CreateOptions{
		{Image: "busybox"},
		{Image: "busybox", Network: "bridge", NetOptions: NetOptions{Publish: []string{"8080:80", "53/udp"}, IP: "10.0.0.5", MacAddress: "02:00:00:00:00:01"},
			Memory: 64 << 20, MemorySwap: -1, CPUShares: 512, NanoCPUs: 5e8, CpusetCpus: "0", Devices: []string{"/dev/null:/dev/n:r"},
			CapAdd: []string{"sys_admin"}, CapDrop: []string{"ALL"}, Ulimits: []string{"nofile=10:20"},
			SecurityOpt: []string{"no-new-privileges", "seccomp=unconfined"}, MonitorOptions: MonitorOptions{Restart: "on-failure:3", HealthInterval: time.Second},
			VolumeOptions: VolumeOptions{Volumes: []string{"/data", "/tmp:/host:ro"}, Tmpfs: []string{"/run:size=1m"}, VolumesFrom: []string{"x:ro"}}},
		{Image: "busybox", Privileged: true, CapAdd: []string{"bogus"}},
		{Image: "busybox", Network: "container:other", NamespaceOptions: NamespaceOptions{Pid: "container:other", IPC: "shareable", UTS: "host", Cgroupns: "host"}},
	} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v refused: %v", o, err)
		}
	}
}

// TestValidateAllAtOnce: three bad options, three refusals, in the options' order,
// one line each.
func TestValidateAllAtOnce(t *testing.T) {
	o := CreateOptions{Image: "busybox", Network: "none", Memory: 1 << 10, NetOptions: NetOptions{DNS: []string{"x"}},
		MonitorOptions: MonitorOptions{Restart: "sometimes"}}
	err := o.Validate()
	var fields []string
	for _, e := range OptionErrors(err) {
		fields = append(fields, e.Field)
	}
	if !slices.Equal(fields, []string{"Memory", "DNS", "Restart"}) || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("refusals of %v:\n%v", fields, err)
	}
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Field != "Memory" {
		t.Errorf("errors.As finds %+v", oe)
	}
}

// TestValidateUpdateAndExec: update's and exec's options are judged the same way;
// what depends on the container is Update's to judge.
func TestValidateUpdateAndExec(t *testing.T) {
	for _, c := range []struct {
		o      UpdateOptions
		fields []string
	}{
		{UpdateOptions{Resources: Resources{Memory: 1 << 10}}, []string{"Memory"}},
		{UpdateOptions{Resources: Resources{NanoCPUs: -1, CPUShares: -1, CpusetCpus: "abc"}}, []string{"CPUShares", "NanoCPUs", "CpusetCpus"}},
		{UpdateOptions{Resources: Resources{MemorySwap: -2}, Restart: "always:2"}, []string{"MemorySwap", "Restart"}},
		// no memory limit in the options: the container's decides
		{UpdateOptions{Resources: Resources{MemorySwap: 64 << 20}}, nil},
		{UpdateOptions{Restart: "unless-stopped", Resources: Resources{Memory: 64 << 20, PidsLimit: -1}}, nil},
	} {
		var fields []string
		for _, e := range OptionErrors(c.o.Validate()) {
			fields = append(fields, e.Field)
		}
		if !slices.Equal(fields, c.fields) {
			t.Errorf("%+v: refusals of %v, want %v", c.o, fields, c.fields)
		}
	}
	if errs := OptionErrors((&ExecOptions{}).Validate()); len(errs) != 1 || errs[0].Field != "Args" {
		t.Errorf("exec without a command: %v", errs)
	}
	if err := (&ExecOptions{Args: []string{"true"}}).Validate(); err != nil {
		t.Errorf("exec true: %v", err)
	}
}

// TestCreateRefusedLeavesNothing: what Create's plan refuses (the network, pod and
// container the options name) comes at once, before anything is written; what it
// refuses after its rootfs is mounted (a user the image does not have) leaves
// nothing either: no record, snapshot, bundle, volume or mount.
func TestCreateRefusedLeavesNothing(t *testing.T) {
	testutil.RequireRoot(t)
	if _, err := os.Stat(testutil.Busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	root, state := t.TempDir(), t.TempDir()
	e, err := New(root, state)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.BusyboxImage(context.Background(), e.Images, "busybox"); err != nil {
		t.Fatal(err)
	}
	_, err = e.Create(CreateOptions{Image: "busybox", Network: "nosuchnet", Cmd: []string{"true"},
		NamespaceOptions: NamespaceOptions{Pod: "nosuchpod"}, VolumeOptions: VolumeOptions{VolumesFrom: []string{"nosuchcontainer"}}})
	var fields []string
	for _, e := range OptionErrors(err) {
		fields = append(fields, e.Field)
	}
	if !slices.Equal(fields, []string{"Network", "Pod", "VolumesFrom"}) {
		t.Errorf("the plan's refusals: %v\n%v", fields, err)
	}
	_, err = e.Create(CreateOptions{Image: "busybox", Network: "none", User: "ghost", Cmd: []string{"true"},
		VolumeOptions: VolumeOptions{Volumes: []string{"/etc"}}})
	if errs := OptionErrors(err); len(errs) != 1 || errs[0].Field != "User" || !strings.Contains(err.Error(), "unable to find user ghost") {
		t.Errorf("--user ghost: %v", err)
	}
	var left []string
	for _, dir := range []string{filepath.Join(root, "containers"), filepath.Join(root, "volumes"), filepath.Join(state, "containers")} {
		ents, _ := os.ReadDir(dir)
		for _, ent := range ents {
			if !strings.HasSuffix(ent.Name(), ".lock") && !strings.HasSuffix(ent.Name(), ".json") {
				left = append(left, filepath.Join(dir, ent.Name()))
			}
		}
	}
	if snaps, err := e.Images.Snapshotter().List(); err != nil || len(snaps) > 0 {
		left = append(left, "snapshots")
	}
	if vs, err := e.Volumes(); err == nil {
		if l, err := vs.List(volume.Filters{}); err != nil || len(l) > 0 {
			left = append(left, "volumes")
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), root) {
		left = append(left, "mounts")
	}
	if len(left) > 0 {
		t.Errorf("refused creates left %v", left)
	}
}
