// Package trace records the kernel-visible steps of a container's life as JSON
// lines: one record per step (a clone3, a mount, a cgroup file written, a
// capability set applied, a veth made), with when it started, how long it took and
// how it ended. `hullrt --trace FILE` (or HULLRT_TRACE) and `hull run --explain`
// write it; `hull run --explain` reads it back (Read) and draws it.
//
// # Schema, version 1
//
// Each line is one JSON object (here folded):
//
//	{"v":1,"ts":1765070000123456789,"dur":41230,"pid":4242,"proc":"init",
//	"ingredient":"mounts","op":"mount","args":{"source":"proc","target":"/proc",
//	"type":"proc","flags":["MS_NOSUID","MS_NODEV","MS_NOEXEC"]},"result":"ok"}
//
// Its fields:
//
//   - v: the schema's version, 1. A reader skips records of a version it does not
//     know; fields are only ever added within a version.
//   - ts: when the step started, in nanoseconds since the Unix epoch
//     (CLOCK_REALTIME, so that the records of several processes sort together).
//   - dur: how long it took, in nanoseconds (the monotonic clock).
//   - pid: the process (as the host sees it) that made the step.
//   - proc: which part of hull that process is: "engine" (hull's own command),
//     "monitor", "create", "start", "exec", "delete" (hullrt's verbs, or the
//     in-process runtime's), "init" (the container's init, before execve),
//     "infra" (a pod's infra process, before it reports to the engine).
//   - ingredient: what the step builds, one of the Ingredient constants: image,
//     rootfs, namespaces, sysctl, mounts, cgroups, capabilities, rlimits,
//     seccomp, network, hooks, process.
//   - op: the system call or kernel interface used, named as in its man page
//     (clone3, unshare, setns, mount, open_tree, move_mount, mount_setattr,
//     pivot_root, mknodat, mkdir, write for a cgroup, sysctl or /proc file,
//     capset, prctl, seccomp, setrlimit, execve, netlink, nftables; several
//     joined by "+" when one step makes them in turn, as a bind mount's
//     open_tree+mount_setattr+move_mount), or "compile" (a seccomp filter
//     built), "exec" (a hook run), "wait": time one process spends waiting for
//     another, so that the records of a start account for all of it.
//   - args: what the step was given, names for numbers: source, target, type,
//     flags (decoded to their names, e.g. CLONE_NEWNS, MS_BIND, MOUNT_ATTR_RDONLY),
//     file and value (a cgroup or /proc file and what was written), count (e.g. a
//     seccomp filter's instructions), detail (free text). Absent keys were empty.
//   - result: "ok", or the errno's name ("EPERM"), or "error" when the failure
//     was not a system call's.
//   - error: the error's text, when result is not "ok".
//
// execve of the container's program leaves no process to write its record, so init
// writes it just before the call, with dur 0; a failure of the call is reported by
// the caller of start, as ever.
//
// # Cost when off
//
// A nil *Tracer is off: every method returns at once, and Step takes its
// arguments by value (strings and integers, flags still as a number), so a call
// site costs a nil check and nothing is allocated. Work done only for a trace
// (joining names, reading a file) is guarded by On.
package trace

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Version is the schema's version, written in every record as "v".
const Version = 1

// Env names the file that hullrt traces into when --trace is not given.
const Env = "HULLRT_TRACE"

// Ingredient is what a step builds.
type Ingredient string

// The ingredients, in the order `hull run --explain` shows them.
const (
	Image        Ingredient = "image"
	Rootfs       Ingredient = "rootfs"
	Namespaces   Ingredient = "namespaces"
	Sysctl       Ingredient = "sysctl"
	Mounts       Ingredient = "mounts"
	Cgroups      Ingredient = "cgroups"
	Capabilities Ingredient = "capabilities"
	Rlimits      Ingredient = "rlimits"
	Seccomp      Ingredient = "seccomp"
	Network      Ingredient = "network"
	Hooks        Ingredient = "hooks"
	Process      Ingredient = "process"
)

// Ingredients lists every ingredient in display order.
var Ingredients = []Ingredient{Image, Rootfs, Namespaces, Sysctl, Mounts, Cgroups, Capabilities, Rlimits, Seccomp, Network, Hooks, Process}

// Flags names the set a step's flags belong to, for decoding them to names.
type Flags uint8

const (
	NoFlags    Flags = iota
	CloneFlags       // CLONE_NEW*
	MountFlags       // MS_*
	MountAttr        // MOUNT_ATTR_*
	OpenTree         // OPEN_TREE_*, AT_RECURSIVE
	CapSet           // a capability set as a bit mask: CAP_*
	FlagsCount       // not flags: Flags holds a plain number (printed as is)
)

// Args is what a step was given. Flags stay a number until the record is written.
type Args struct {
	Source, Target, Type string
	Flags                uint64
	FlagSet              Flags
	File, Value          string
	Count                int
	Detail               string
}

// Record is one line of a trace.
type Record struct {
	V          int            `json:"v"`
	TS         int64          `json:"ts"`
	Dur        int64          `json:"dur"`
	Pid        int            `json:"pid"`
	Proc       string         `json:"proc"`
	Ingredient Ingredient     `json:"ingredient"`
	Op         string         `json:"op"`
	Args       map[string]any `json:"args,omitempty"`
	Result     string         `json:"result"`
	Error      string         `json:"error,omitempty"`
}

// Start is when the record's step started.
func (r Record) Start() time.Time { return time.Unix(0, r.TS) }

// End is when it ended.
func (r Record) End() time.Time { return time.Unix(0, r.TS+r.Dur) }

// Tracer writes records to one file. Several processes may write the same file:
// it is opened O_APPEND and each record is one write(2). A nil Tracer is off.
type Tracer struct {
	mu   sync.Mutex
	f    *os.File
	proc string
	pid  int
}

// Open opens (creating it, 0600) the trace file path for appending; proc says
// which part of hull writes (see the schema).
func Open(path, proc string) (*Tracer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	return New(f, proc), nil
}

// New traces into f, an open file (appending), which the Tracer owns.
func New(f *os.File, proc string) *Tracer {
	return &Tracer{f: f, proc: proc, pid: os.Getpid()}
}

// On tells whether t records; guard with it the work a call site does only for
// its record.
func (t *Tracer) On() bool { return t != nil }

// File is the trace's file, to hand to another process (nil when off).
func (t *Tracer) File() *os.File {
	if t == nil {
		return nil
	}
	return t.f
}

// As is a Tracer on the same file for another part of hull (proc), in this
// process. It shares the file: close only one of them.
func (t *Tracer) As(proc string) *Tracer {
	if t == nil {
		return nil
	}
	return &Tracer{f: t.f, proc: proc, pid: os.Getpid()}
}

// Close closes the file.
func (t *Tracer) Close() error {
	if t == nil {
		return nil
	}
	return t.f.Close()
}

// Now is the start time to give Step: the zero time when off, without reading
// the clock.
func (t *Tracer) Now() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Now()
}

// Step records a step that started at start (from Now) and ends now, with the
// error it returned (nil: "ok").
//
// It inlines to the nil check: a call site of a trace that is off runs no code of
// this package (nor faults its pages in).
func (t *Tracer) Step(start time.Time, ing Ingredient, op string, err error, a Args) {
	if t != nil {
		t.step(start, ing, op, err, a)
	}
}

func (t *Tracer) step(start time.Time, ing Ingredient, op string, err error, a Args) {
	t.write(start, time.Since(start), ing, op, err, a)
}

// Span records a step whose start and end the caller measured.
func (t *Tracer) Span(start, end time.Time, ing Ingredient, op string, err error, a Args) {
	if t != nil {
		t.span(start, end, ing, op, err, a)
	}
}

func (t *Tracer) span(start, end time.Time, ing Ingredient, op string, err error, a Args) {
	t.write(start, end.Sub(start), ing, op, err, a)
}

// write is Step's slow half, apart so that the nil check stays cheap and the
// arguments escape only here.
func (t *Tracer) write(start time.Time, dur time.Duration, ing Ingredient, op string, err error, a Args) {
	r := Record{V: Version, TS: start.UnixNano(), Dur: int64(dur), Pid: t.pid, Proc: t.proc,
		Ingredient: ing, Op: op, Args: a.encode(), Result: "ok"}
	if err != nil {
		r.Result, r.Error = result(err), err.Error()
	}
	b, jerr := json.Marshal(r)
	if jerr != nil {
		return
	}
	b = append(b, '\n')
	t.mu.Lock()
	// A trace that cannot be written must not fail the container: the error is
	// dropped (the file is the caller's, and a full disk shows there).
	t.f.Write(b)
	t.mu.Unlock()
}

// result names err's errno, or "error".
func result(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return strings.ToUpper(name)
		}
		return fmt.Sprintf("errno %d", int(errno))
	}
	return "error"
}

func (a Args) encode() map[string]any {
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("source", a.Source)
	put("target", a.Target)
	put("type", a.Type)
	put("file", a.File)
	put("value", a.Value)
	put("detail", a.Detail)
	if a.Count != 0 {
		m["count"] = a.Count
	}
	switch {
	case a.FlagSet == FlagsCount:
		m["flags"] = a.Flags
	case a.FlagSet != NoFlags && a.Flags != 0:
		m["flags"] = FlagNames(a.FlagSet, a.Flags)
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// Read reads a trace, skipping records of another version and lines that are not
// records (a trace cut short by a crash ends in half a line).
func Read(r io.Reader) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var rec Record
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.V != Version {
			continue
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	return out, nil
}

// ReadFile reads the trace in the file path.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// FdEnv names the descriptor a process inherits its parent's trace on (hull's
// monitor, from the engine that spawned it).
const FdEnv = "HULL_TRACE_FD"

// Inherit is the trace a parent passed in FdEnv, for proc; nil when there is none.
// It removes the variable and marks the descriptor close-on-exec, so that
// neither reaches a program this process starts unless it passes them on itself.
func Inherit(proc string) *Tracer {
	v, ok := os.LookupEnv(FdEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(FdEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	// Only a regular file opened for appending is a trace: a number that names
	// something else (a stale variable) is left alone.
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil || fl&unix.O_APPEND == 0 {
		return nil
	}
	unix.CloseOnExec(fd)
	return New(os.NewFile(uintptr(fd), "trace"), proc)
}
