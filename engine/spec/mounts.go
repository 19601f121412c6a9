package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// DefaultMounts are the filesystems of every container Docker makes, in order: /proc,
// a private /dev (tmpfs) with its ptys, mqueue and a 64 MiB /dev/shm, and read-only
// /sys and /sys/fs/cgroup. Each call returns a new slice the caller may modify.
func DefaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
	}
}

// DefaultDeviceRules are Docker's device cgroup rules: nothing but the standard
// character devices, ptys, and mknod of any device (useless without the device
// allowed, but tar unpacking wants it).
func DefaultDeviceRules() []specs.LinuxDeviceCgroup {
	rule := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: access}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule("c", -1, -1, "m"), rule("b", -1, -1, "m"),
		rule("c", 1, 3, "rwm"), rule("c", 1, 5, "rwm"), rule("c", 1, 7, "rwm"),
		rule("c", 1, 8, "rwm"), rule("c", 1, 9, "rwm"), rule("c", 5, 0, "rwm"),
		rule("c", 5, 1, "rwm"), rule("c", 5, 2, "rwm"), rule("c", 136, -1, "rwm"),
		rule("c", 10, 200, "rwm"),
	}
}
