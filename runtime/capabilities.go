package runtime

import (
	"log/slog"

	"github.com/hullproject/hull/runtime/caps"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// grantCaps replaces p.Capabilities with the part the container's process can be
// given, and logs a warning for the rest: runtime-spec (process.capabilities) wants
// a capability that cannot be granted logged, and the container run without it.
// It runs in the parent, where the log is, so that init gets a set it cannot fail
// to apply (caps.Grantable).
//
// inUserNS tells that the process will live in a user namespace other than the
// runtime's. A new or joined user namespace gives its members every capability the
// kernel supports, bounding set included, whatever the runtime holds in its own.
// Otherwise init is started by execve as root from this process, and holds at most
// this process's bounding set.
func grantCaps(p *specs.Process, inUserNS bool, log *slog.Logger) {
	if p.Capabilities == nil {
		return
	}
	set, warnings := caps.Parse(p.Capabilities)
	held := caps.Supported()
	if !inUserNS {
		held = caps.Bounding()
	}
	set, more := set.Grantable(held)
	for _, w := range append(warnings, more...) {
		log.Warn(w)
	}
	p.Capabilities = set.Spec()
}

// logger is l, or one that drops everything.
func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Capabilities lists, by name, every capability the running kernel supports and
// those this process holds in its bounding set: the most a container started by
// this process can be given without a user namespace of its own. An engine asks
// for --privileged and --cap-add ALL.
func Capabilities() (supported, held []string) {
	return caps.List(caps.Supported()), caps.List(caps.Bounding())
}

// CapabilityNames decodes a capability set (a bit per capability, as
// /proc/PID/status shows it in hex) into the capabilities' names.
func CapabilityNames(set uint64) []string { return caps.List(set) }
