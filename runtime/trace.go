package runtime

// The trace's helpers (internal/trace): what a step's record says, built only when
// a trace is on. Call sites stay one line each: Now before the step, Step after.

import (
	"math/bits"
	"os"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hullproject/hull/internal/trace"
	"github.com/hullproject/hull/runtime/nsenter"
	"github.com/hullproject/hull/runtime/rootfs"
)

// traceArgs describes the child's start: the clone flags of its new namespaces,
// and what nsenter's constructor and the parent's thread join before it runs.
func (s *spawnSpec) traceArgs() trace.Args {
	a := trace.Args{FlagSet: trace.CloneFlags, Source: "hullrt " + strings.Join(s.cmd.Args[1:], " ")}
	if attr := s.cmd.SysProcAttr; attr != nil {
		a.Flags = uint64(attr.Cloneflags)
		if attr.UseCgroupFD {
			a.Flags |= unix.CLONE_INTO_CGROUP
		}
	}
	var d []string
	if len(s.parentJoins) > 0 {
		d = append(d, "setns before clone: "+joinTypes(s.parentJoins))
	}
	if len(s.childJoins) > 0 {
		d = append(d, "setns in the child: "+joinTypes(s.childJoins))
	}
	if s.unshare != 0 {
		d = append(d, "unshare in the child: "+strings.Join(trace.FlagNames(trace.CloneFlags, uint64(s.unshare)), "|"))
	}
	a.Detail = strings.Join(d, "; ")
	return a
}

func joinTypes(js []nsJoin) string {
	var names []string
	for _, j := range js {
		names = append(names, j.typ)
	}
	return strings.Join(names, ",")
}

// traceHooks records a kind of hooks run as one step.
func traceHooks(tr *trace.Tracer, start time.Time, kind string, hooks []specs.Hook, err error) {
	if !tr.On() || len(hooks) == 0 {
		return
	}
	var paths []string
	for _, h := range hooks {
		paths = append(paths, h.Path)
	}
	tr.Step(start, trace.Hooks, "exec", err, trace.Args{Type: kind, Count: len(hooks), Detail: strings.Join(paths, " ")})
}

// traceMount records one of the spec's mounts, named by the calls rootfs makes
// for it: a bind is a detached copy of the source's tree (open_tree), its flags
// set (mount_setattr) and attached (move_mount); a remount only sets flags; any
// other is a new filesystem mounted with mount(2).
func traceMount(tr *trace.Tracer, start time.Time, m specs.Mount, idmapped bool, err error) {
	o, _ := rootfs.ParseOptions(m.Options)
	op := "mount"
	switch {
	case idmapped:
		op = "move_mount"
	case o.Flags&unix.MS_REMOUNT != 0:
		op = "mount_setattr"
	case o.Bind || m.Type == "bind":
		op = "open_tree+mount_setattr+move_mount"
	}
	tr.Step(start, trace.Mounts, op, err, trace.Args{Source: m.Source, Target: m.Destination, Type: m.Type,
		Flags: uint64(o.Flags), FlagSet: trace.MountFlags, Detail: o.Data})
}

// childTracer is the tracer of init or of an exec'd process: on the descriptor its
// parent passed, when it traces.
func childTracer(b *bootstrap) *trace.Tracer {
	if b.TraceFd <= 0 {
		return nil
	}
	proc := "init"
	if b.Exec {
		proc = "exec"
	}
	tr := trace.New(os.NewFile(uintptr(b.TraceFd), "trace"), proc)
	if b.SentAt > 0 {
		tr.Span(time.Unix(0, b.SentAt), time.Now(), trace.Process, "wait", nil,
			trace.Args{Detail: proc + " starts (Go runtime, nsenter) and reads its bootstrap"})
	}
	traceNsenter(tr)
	return tr
}

// traceNsenter writes the steps nsenter's constructor made before the Go runtime
// started (nsenter.Steps), now that a record can be written.
func traceNsenter(tr *trace.Tracer) {
	const where = "in nsenter's constructor (C), before the Go runtime starts"
	for _, s := range nsenter.Steps() {
		end := s.Start.Add(s.Dur)
		switch s.Op {
		case "setns":
			tr.Span(s.Start, end, trace.Namespaces, "setns", s.Err, trace.Args{Flags: s.Arg, FlagSet: trace.CloneFlags, Detail: where})
		case "unshare":
			tr.Span(s.Start, end, trace.Namespaces, "unshare", s.Err, trace.Args{Flags: s.Arg, FlagSet: trace.CloneFlags, Detail: where})
		case "write":
			tr.Span(s.Start, end, trace.Cgroups, "write", s.Err, trace.Args{File: "tasks", Value: "0", Detail: "a v1 cgroup joined by the thread itself, " + where})
		case "fork":
			tr.Span(s.Start, end, trace.Namespaces, "fork", s.Err, trace.Args{Detail: "into the joined pid namespace, " + where})
		}
	}
}

func bitCount(set uint64) int { return bits.OnesCount64(set) }
