package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hullproject/hull/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cmdUpdate changes a running container's resources (runc update). The flags are
// runc's; --resources reads a whole linux.resources object (JSON) from a file or
// "-" for stdin, and the other flags, if given too, apply on top of it. Only what
// is given changes.
func cmdUpdate(fs *flag.FlagSet) func([]string) error {
	var resources string
	fs.StringVar(&resources, "resources", "", "linux.resources JSON from FILE, or - for stdin")
	fs.StringVar(&resources, "r", "", "linux.resources JSON from FILE, or - for stdin")
	vals := map[string]*string{}
	for _, f := range []struct{ name, usage string }{
		{"memory", "memory limit (bytes, or with k, m, g suffix; -1 for none)"},
		{"memory-reservation", "memory soft limit"},
		{"memory-swap", "memory plus swap limit (-1 for none)"},
		{"kernel-memory", "kernel memory limit (not supported)"},
		{"kernel-memory-tcp", "kernel TCP memory limit (not supported)"},
		{"cpu-shares", "CPU shares (relative weight)"},
		{"cpu-share", "CPU shares (runc's spelling)"},
		{"cpu-quota", "CPU time in microseconds per period (-1 for none)"},
		{"cpu-period", "CFS period in microseconds"},
		{"cpu-burst", "CFS burst in microseconds"},
		{"cpu-rt-period", "realtime period in microseconds"},
		{"cpu-rt-runtime", "realtime runtime in microseconds per period"},
		{"cpuset-cpus", "CPUs to run on (0-3,5)"},
		{"cpuset-mems", "memory nodes to use (0-1)"},
		{"pids-limit", "maximum number of tasks (-1 for none)"},
		{"blkio-weight", "block I/O weight (10-1000)"},
		{"l3-cache-schema", "Intel RDT L3 cache schema (not supported)"},
		{"mem-bw-schema", "Intel RDT memory bandwidth schema (not supported)"},
	} {
		vals[f.name] = fs.String(f.name, "", f.usage)
	}
	return func(args []string) error {
		c, err := load(args)
		if err != nil {
			return err
		}
		r := &specs.LinuxResources{}
		if resources != "" {
			if r, err = readResources(resources); err != nil {
				return err
			}
		}
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if err := resourceFlags(r, given, vals); err != nil {
			return err
		}
		return c.Update(r)
	}
}

func readResources(name string) (*specs.LinuxResources, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	r := &specs.LinuxResources{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	return r, nil
}

// resourceFlags puts the given flags into r.
func resourceFlags(r *specs.LinuxResources, given map[string]bool, vals map[string]*string) error {
	for _, name := range []string{"kernel-memory", "kernel-memory-tcp"} {
		if given[name] {
			return fmt.Errorf("--%s: kernel memory limits are not supported (the kernel deprecated them)", name)
		}
	}
	for _, name := range []string{"l3-cache-schema", "mem-bw-schema"} {
		if given[name] {
			return fmt.Errorf("--%s: Intel RDT is not supported", name)
		}
	}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	for _, f := range []struct {
		name string
		into func() **int64
	}{
		{"memory", func() **int64 { return &mem().Limit }},
		{"memory-reservation", func() **int64 { return &mem().Reservation }},
		{"memory-swap", func() **int64 { return &mem().Swap }},
	} {
		if given[f.name] {
			v, err := parseBytes(*vals[f.name])
			if err != nil {
				return fmt.Errorf("--%s: %w", f.name, err)
			}
			*f.into() = &v
		}
	}
	for _, f := range []struct {
		name string
		into func() **uint64
	}{
		{"cpu-share", func() **uint64 { return &cpu().Shares }},
		{"cpu-shares", func() **uint64 { return &cpu().Shares }},
		{"cpu-period", func() **uint64 { return &cpu().Period }},
		{"cpu-burst", func() **uint64 { return &cpu().Burst }},
		{"cpu-rt-period", func() **uint64 { return &cpu().RealtimePeriod }},
	} {
		if given[f.name] {
			v, err := strconv.ParseUint(*vals[f.name], 10, 64)
			if err != nil {
				return fmt.Errorf("--%s %q: not a number", f.name, *vals[f.name])
			}
			*f.into() = &v
		}
	}
	for _, f := range []struct {
		name string
		into func() **int64
	}{
		{"cpu-quota", func() **int64 { return &cpu().Quota }},
		{"cpu-rt-runtime", func() **int64 { return &cpu().RealtimeRuntime }},
		{"pids-limit", func() **int64 {
			if r.Pids == nil {
				r.Pids = &specs.LinuxPids{}
			}
			return &r.Pids.Limit
		}},
	} {
		if given[f.name] {
			v, err := strconv.ParseInt(*vals[f.name], 10, 64)
			if err != nil || v < -1 {
				return fmt.Errorf("--%s %q: not a number of at least -1", f.name, *vals[f.name])
			}
			*f.into() = &v
		}
	}
	if given["cpuset-cpus"] {
		cpu().Cpus = *vals["cpuset-cpus"]
	}
	if given["cpuset-mems"] {
		cpu().Mems = *vals["cpuset-mems"]
	}
	if given["blkio-weight"] {
		v, err := strconv.ParseUint(*vals["blkio-weight"], 10, 16)
		if err != nil {
			return fmt.Errorf("--blkio-weight %q: not a number", *vals["blkio-weight"])
		}
		w := uint16(v)
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = &w
	}
	return nil
}

// Compiled on first use (update only), not at every hullrt's start.
var bytesRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?) ?([kmgtp]?)(?:i?b)?$`)
})

// parseBytes reads a memory size as runc does (docker's RAMInBytes): a number of
// bytes, optionally with a binary suffix k, m, g, t or p (any case, "b" or "ib"
// after it allowed), or -1 for no limit.
func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	m := bytesRe().FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size like 512m, 2g or 1048576 (or -1 for no limit)", s)
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	n *= map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[m[2]]
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(n), nil
}

// cmdEvents prints a container's stats and OOM events (runc events), one JSON
// object a line: with --stats the stats once, otherwise stats every --interval
// and {"type":"oom"} whenever the OOM killer strikes, until the container stops.
func cmdEvents(fs *flag.FlagSet) func([]string) error {
	var stats bool
	var interval time.Duration
	fs.BoolVar(&stats, "stats", false, "print the stats once and exit")
	fs.DurationVar(&interval, "interval", 5*time.Second, "how often to print stats")
	return func(args []string) error {
		c, err := load(args)
		if err != nil {
			return err
		}
		if !stats && interval <= 0 {
			return errors.New("--interval must be positive")
		}
		if stats {
			interval = 0
		}
		enc := json.NewEncoder(os.Stdout)
		err = c.Events(interval, func(e runtime.Event) error { return enc.Encode(e) })
		if errors.Is(err, runtime.ErrNotRunning) {
			return fmt.Errorf("container %s is not running", c.ID)
		}
		return err
	}
}
