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
		{"SecurityOpt", "unsupported --security-opt", func(o *CreateOptions) { o.SecurityOpt = []string{"label=x"} }},
		// docker's flags of issue 14
		{"CPUPeriod", "CPU cfs period can not be less than 1ms", func(o *CreateOptions) { o.CPUPeriod = 999 }},
		{"CPUPeriod", "larger than 1s", func(o *CreateOptions) { o.CPUPeriod = 1000001 }},
		{"CPUPeriod", "--cpus and --cpu-period", func(o *CreateOptions) { o.CPUPeriod, o.NanoCPUs = 50000, 1e9 }},
		{"CPUQuota", "CPU cfs quota can not be less than 1ms", func(o *CreateOptions) { o.CPUQuota = 999 }},
		{"CPUQuota", "CPU cfs quota", func(o *CreateOptions) { o.CPUQuota = -2 }},
		{"CPUQuota", "--cpus and --cpu-quota", func(o *CreateOptions) { o.CPUQuota, o.NanoCPUs = 50000, 1e9 }},
		{"CPURealtimePeriod", "--cpu-rt-period: it must be positive", func(o *CreateOptions) { o.CPURealtimePeriod = -1 }},
		{"CPURealtimeRuntime", "cannot be higher than --cpu-rt-period", func(o *CreateOptions) { o.CPURealtimePeriod, o.CPURealtimeRuntime = 1000, 2000 }},
		{"CpusetMems", "want a list like 0-3,5", func(o *CreateOptions) { o.CpusetMems = "x" }},
		{"CpusetMems", "memory nodes are not available", func(o *CreateOptions) { o.CpusetMems = "0-4095" }},
		{"MemoryReservation", "minimum memory reservation allowed is 6MB", func(o *CreateOptions) { o.MemoryReservation = 1 << 20 }},
		{"MemoryReservation", "it must be positive", func(o *CreateOptions) { o.MemoryReservation = -1 }},
		{"MemoryReservation", "can not be less than memory reservation", func(o *CreateOptions) { o.Memory, o.MemoryReservation = 8<<20, 16<<20 }},
		{"BlkioWeight", "from 10 to 1000", func(o *CreateOptions) { o.BlkioWeight = 5 }},
		{"BlkioWeight", "from 10 to 1000", func(o *CreateOptions) { o.BlkioWeight = 1001 }},
		{"CgroupParent", "invalid --cgroup-parent", func(o *CreateOptions) { o.CgroupParent = "../escape" }},
		{"CgroupParent", "invalid --cgroup-parent", func(o *CreateOptions) { o.CgroupParent = "/" }},
		{"MemorySwappiness", "range is 0-100", func(o *CreateOptions) { v := int64(101); o.MemorySwappiness = &v }},
		{"OomScoreAdj", "[-1000, 1000]", func(o *CreateOptions) { o.OomScoreAdj = 1001 }},
		{"ShmSize", "SHM size can not be less than 0", func(o *CreateOptions) { o.ShmSize = -1 }},
		{"KernelMemory", "--kernel-memory", func(o *CreateOptions) { o.KernelMemory = -1 }},
		{"BlkioWeightDevice", "from 10 to 1000", func(o *CreateOptions) { o.BlkioWeightDevice = []WeightDevice{{"/dev/loop0", 1}} }},
		{"BlkioWeightDevice", "not a block device", func(o *CreateOptions) { o.BlkioWeightDevice = []WeightDevice{{"/dev/null", 100}} }},
		{"BlkioDeviceReadBps", "no such file", func(o *CreateOptions) { o.BlkioDeviceReadBps = []ThrottleDevice{{"/dev/nonexistent", 1}} }},
		{"BlkioDeviceWriteBps", "not a block device", func(o *CreateOptions) { o.BlkioDeviceWriteBps = []ThrottleDevice{{"/dev/null", 1}} }},
		{"BlkioDeviceReadIOps", "--device-read-iops /dev/zero", func(o *CreateOptions) { o.BlkioDeviceReadIOps = []ThrottleDevice{{"/dev/zero", 1}} }},
		{"BlkioDeviceWriteIOps", "--device-write-iops", func(o *CreateOptions) { o.BlkioDeviceWriteIOps = []ThrottleDevice{{"/etc/passwd", 1}} }},
		{"DeviceCgroupRules", "invalid --device-cgroup-rule", func(o *CreateOptions) { o.DeviceCgroupRules = []string{"c 1:3 rwx"} }},
		{"DeviceCgroupRules", "invalid --device-cgroup-rule", func(o *CreateOptions) { o.DeviceCgroupRules = []string{"x *:* m"} }},
		{"Sysctls", "is not allowed: only ipc", func(o *CreateOptions) { o.Sysctls = map[string]string{"kernel.pid_max": "1"} }},
		{"Sysctls", "not allowed with --network host", func(o *CreateOptions) { o.Network, o.Sysctls = "host", map[string]string{"net.ipv4.ip_forward": "1"} }},
		{"Sysctls", "not allowed with --ipc host", func(o *CreateOptions) { o.IPC, o.Sysctls = "host", map[string]string{"kernel.shmmax": "1"} }},
		{"Sysctls", "not allowed with --uts host", func(o *CreateOptions) { o.UTS, o.Sysctls = "host", map[string]string{"kernel.domainname": "x"} }},
		{"Sysctls", "invalid --sysctl", func(o *CreateOptions) { o.Sysctls = map[string]string{"net.core.x": "a\nb"} }},
		{"LogDriver", `log driver "journald" is not supported`, func(o *CreateOptions) { o.LogDriver = "journald" }},
		{"LogDriver", `log driver "syslog" is not supported`, func(o *CreateOptions) { o.LogDriver = "syslog" }},
		{"LogOpts", "max-file", func(o *CreateOptions) { o.LogDriver, o.LogOpts = "local", []string{"max-file=0"} }},
		{"Annotations", "the key is empty", func(o *CreateOptions) { o.Annotations = map[string]string{"": "v"} }},
		{"Labels", "the name is empty", func(o *CreateOptions) { o.Labels = map[string]string{" ": "v"} }},
		{"Domainname", "--domainname and --uts host", func(o *CreateOptions) { o.Domainname, o.UTS = "example.org", "host" }},
		{"Domainname", "invalid --domainname", func(o *CreateOptions) { o.Domainname = "a b" }},
		{"Network", "the other container's hostname", func(o *CreateOptions) { o.Network, o.Domainname = "container:other", "example.org" }},
		{"Platform", "linux containers only", func(o *CreateOptions) { o.Platform = "windows/amd64" }},
		{"Platform", "want os/arch", func(o *CreateOptions) { o.Platform = "linux/" }},
		{"Isolation", "only default", func(o *CreateOptions) { o.Isolation = "hyperv" }},
		{"VolumeDriver", `volume driver "nfs"`, func(o *CreateOptions) { o.VolumeDriver = "nfs" }},
		{"StorageOpt", "--storage-opt is not supported", func(o *CreateOptions) { o.StorageOpt = map[string]string{"size": "1G"} }},
		{"GPUs", "--gpus is not supported", func(o *CreateOptions) { o.GPUs = "all" }},
		{"IOMaximumBandwidth", "--io-maxbandwidth", func(o *CreateOptions) { o.IOMaximumBandwidth = 1 }},
		{"IOMaximumIOps", "--io-maxiops", func(o *CreateOptions) { o.IOMaximumIOps = 1 }},
		{"ExposedPorts", "invalid --expose", func(o *CreateOptions) { o.ExposedPorts = []string{"80/sctp"} }},
		{"ExposedPorts", "invalid --expose", func(o *CreateOptions) { o.ExposedPorts = []string{"90-80"} }},
		{"Links", "invalid --link", func(o *CreateOptions) { o.Links = []string{"a:b:c"} }},
		{"Links", "--network host cannot be used with --link", func(o *CreateOptions) { o.Network, o.Links = "host", []string{"db"} }},
		{"IP6", "IPv4 only", func(o *CreateOptions) { o.IP6 = "2001:db8::33" }},
		{"LinkLocalIPs", "--link-local-ip", func(o *CreateOptions) { o.LinkLocalIPs = []string{"169.254.1.1"} }},
		{"HealthStartInterval", "--health-start-interval", func(o *CreateOptions) { o.HealthStartInterval = time.Microsecond }},
		{"NoHealthcheck", "conflicting options", func(o *CreateOptions) { o.NoHealthcheck, o.HealthStartInterval = true, time.Second }},
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
		// docker's flags of issue 14, well said
		{Image: "busybox", Network: "bridge", Memory: 64 << 20, Annotations: map[string]string{"a": "b"}, Domainname: "example.org",
			LogDriver: "local", LogOpts: []string{"max-size=1m"}, AttachStdout: true, Platform: "linux/amd64", Isolation: "default",
			VolumeDriver: "local", CPUCount: 2, CPUPercent: 50,
			NetOptions:     NetOptions{ExposedPorts: []string{"80", "7000-7010/udp"}, Links: []string{"db:database", "/cache"}},
			MonitorOptions: MonitorOptions{HealthCmd: "true", HealthStartInterval: time.Second},
			ResourceOptions: ResourceOptions{
				CgroupLimits: CgroupLimits{CPUPeriod: 50000, CPUQuota: 25000, CpusetMems: "0", MemoryReservation: 32 << 20, BlkioWeight: 300},
				CgroupParent: "batch.slice", MemorySwappiness: new(int64), OomKillDisable: true, OomScoreAdj: -500, ShmSize: 1 << 30,
				KernelMemory: 64 << 20, BlkioWeightDevice: []WeightDevice{{"/dev/loop0", 200}},
				BlkioDeviceReadBps: []ThrottleDevice{{"/dev/loop0", 1 << 20}}, BlkioDeviceWriteIOps: []ThrottleDevice{{"/dev/loop0", 100}},
				DeviceCgroupRules: []string{"c 1:3 rwm", "b *:* r", "a *:* m"},
				Sysctls:           map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1024", "fs.mqueue.msg_max": "20", "kernel.domainname": "x"},
			}},
		{Image: "busybox", ResourceOptions: ResourceOptions{CgroupLimits: CgroupLimits{CPUQuota: -1}, MemorySwappiness: func() *int64 { v := int64(-1); return &v }()}},
		{Image: "busybox", NanoCPUs: 1e9, Platform: "amd64", LogDriver: "none", LogOpts: []string{"whatever=1"}},
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
		{UpdateOptions{Resources: Resources{CgroupLimits: CgroupLimits{CPUPeriod: 10, CPUQuota: 10, MemoryReservation: 1, BlkioWeight: 1, CpusetMems: "x"}}},
			[]string{"CPUPeriod", "CPUQuota", "CpusetMems", "MemoryReservation", "BlkioWeight"}},
		{UpdateOptions{Resources: Resources{NanoCPUs: 1e9, CgroupLimits: CgroupLimits{CPUQuota: 50000}}}, []string{"CPUQuota"}},
		{UpdateOptions{Resources: Resources{CgroupLimits: CgroupLimits{CPUPeriod: 100000, CPUQuota: -1, MemoryReservation: 8 << 20, BlkioWeight: 10, CpusetMems: "0"}}}, nil},
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
	if errs := OptionErrors((&ExecOptions{Args: []string{"true"}, DetachKeys: "ctrl-1"}).Validate()); len(errs) != 1 || errs[0].Field != "DetachKeys" {
		t.Errorf("exec --detach-keys ctrl-1: %v", errs)
	}
	if err := (&ExecOptions{Args: []string{"true"}, DetachKeys: "ctrl-a,x"}).Validate(); err != nil {
		t.Errorf("exec --detach-keys ctrl-a,x: %v", err)
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

// The forms of --security-opt docker's daemon takes: KEY=VALUE, the older
// KEY:VALUE (compose files write no-new-privileges:true), and a boolean
// no-new-privileges.
func TestSecurityOptForms(t *testing.T) {
	for _, c := range []struct {
		opt     string
		nnp     bool
		seccomp string
	}{
		{"no-new-privileges", true, "default"},
		{"no-new-privileges=true", true, "default"},
		{"no-new-privileges:true", true, "default"},
		{"no-new-privileges=false", false, "default"},
		{"no-new-privileges:0", false, "default"},
		{"seccomp:unconfined", false, "unconfined"},
		{"seccomp=unconfined", false, "unconfined"},
		{"systempaths=unconfined", false, "default"},
		{"apparmor=unconfined", false, "default"},
		{"apparmor:hull-test", false, "default"},
	} {
		o := &CreateOptions{Image: "x", SecurityOpt: []string{c.opt}}
		s, err := o.parse()
		if err != nil || s.noNewPrivileges != c.nnp || s.seccomp != c.seccomp {
			t.Errorf("%s: no-new-privileges %v seccomp %q (%v)", c.opt, s.noNewPrivileges, s.seccomp, err)
		}
	}
	for _, bad := range []string{"no-new-privileges=maybe", "no-new-privileges:x", "seccomp", "apparmor", "apparmor=", "systempaths=x"} {
		if _, err := (&CreateOptions{Image: "x", SecurityOpt: []string{bad}}).parse(); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// --umask (HostConfig.Umask): an octal mode the container process starts with.
func TestUmask(t *testing.T) {
	s, err := (&CreateOptions{Image: "x", Umask: "0027"}).parse()
	if err != nil || s.umask == nil || *s.umask != 0o27 {
		t.Errorf("--umask 0027: %v %v", s.umask, err)
	}
	if s, _ := (&CreateOptions{Image: "x"}).parse(); s.umask != nil {
		t.Error("a umask without --umask")
	}
	for _, bad := range []string{"0999", "1000", "x", "-1"} {
		err := (&CreateOptions{Image: "x", Umask: bad}).Validate()
		if f := OptionErrors(err); len(f) != 1 || f[0].Field != "Umask" {
			t.Errorf("--umask %s: %v", bad, err)
		}
	}
}
