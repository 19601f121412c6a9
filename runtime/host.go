package runtime

import "github.com/hullproject/hull/runtime/cgroups"

// CgroupMode is how a host mounts cgroups: legacy (v1 only), hybrid (v1
// controllers plus cgroup2 at /sys/fs/cgroup/unified) or unified (cgroup2 only).
// Its String is that name.
type CgroupMode = cgroups.Mode

// The host cgroup modes, for callers above the runtime (the engine, hull info),
// which ask the runtime rather than look at /sys/fs/cgroup themselves.
const (
	CgroupLegacy  = cgroups.Legacy
	CgroupHybrid  = cgroups.Hybrid
	CgroupUnified = cgroups.Unified
)

// HostCgroupMode tells how this host mounts cgroups: what the runtime detected
// (once, from the filesystem magic of /sys/fs/cgroup and /sys/fs/cgroup/unified)
// and drives its cgroups by.
func HostCgroupMode() CgroupMode { return cgroups.HostMode() }

// CgroupSupports tells whether this host's cgroups can apply a linux.resources
// field that a host may lack while it has the field's controller (cgroups.Supports
// lists them): memory.swappiness, memory.disableOOMKiller, blockIO.weight,
// blockIO.weightDevice, cpu.realtimePeriod, cpu.realtimeRuntime.
func CgroupSupports(field string) bool { return cgroups.Supports(field) }

// AppArmorEnabled tells whether AppArmor is enabled on this host, and so whether
// the runtime applies a process.apparmorProfile (it refuses one otherwise). The
// engine sets docker's --security-opt apparmor=PROFILE only where it is, as
// docker's daemon does.
func AppArmorEnabled() bool { return appArmorEnabled() }
