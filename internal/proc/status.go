package proc

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Privileges is what /proc/<pid>/status says of a process's privileges: its five
// capability sets (a bit per capability), no_new_privs, and its seccomp mode and
// number of filters.
type Privileges struct {
	Inheritable, Permitted, Effective, Bounding, Ambient uint64
	NoNewPrivs                                           bool
	// Seccomp is the mode: 0 disabled, 1 strict, 2 filter.
	Seccomp int
	// SeccompFilters counts the filters attached (each a program of its own;
	// Linux 5.9 and later).
	SeccompFilters int
}

// ReadPrivileges reads them from /proc/<pid>/status.
func ReadPrivileges(pid int) (Privileges, error) {
	var p Privileges
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return p, err
	}
	defer f.Close()
	caps := map[string]*uint64{"CapInh": &p.Inheritable, "CapPrm": &p.Permitted, "CapEff": &p.Effective, "CapBnd": &p.Bounding, "CapAmb": &p.Ambient}
	ints := map[string]*int{"Seccomp": &p.Seccomp, "Seccomp_filters": &p.SeccompFilters}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch {
		case caps[key] != nil:
			if *caps[key], err = strconv.ParseUint(val, 16, 64); err != nil {
				return p, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
			}
		case ints[key] != nil:
			if *ints[key], err = strconv.Atoi(val); err != nil {
				return p, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
			}
		case key == "NoNewPrivs":
			p.NoNewPrivs = val == "1"
		}
	}
	return p, sc.Err()
}

// Mount is one line of /proc/<pid>/mountinfo: a mount as that process sees it,
// its mount point relative to the process's root.
type Mount struct {
	ID       int    `json:"id"`
	Parent   int    `json:"parent"`
	Root     string `json:"root"`  // the part of the filesystem mounted
	Point    string `json:"point"` // where, from the process's root
	Options  string `json:"options"`
	FSType   string `json:"fstype"`
	Source   string `json:"source"`
	SuperOpt string `json:"superOptions"`
}

// ReadMounts reads /proc/<pid>/mountinfo.
func ReadMounts(pid int) ([]Mount, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent maj:min root point opts [optional...] - fstype source superopts
		before, after, ok := strings.Cut(sc.Text(), " - ")
		pre, post := strings.Fields(before), strings.Fields(after)
		if !ok || len(pre) < 6 || len(post) < 3 {
			return nil, fmt.Errorf("/proc/%d/mountinfo: bad line %q", pid, sc.Text())
		}
		m := Mount{Root: Unescape(pre[3]), Point: Unescape(pre[4]), Options: pre[5], FSType: post[0], Source: Unescape(post[1]), SuperOpt: post[2]}
		m.ID, _ = strconv.Atoi(pre[0])
		m.Parent, _ = strconv.Atoi(pre[1])
		out = append(out, m)
	}
	return out, sc.Err()
}

// Unescape undoes mountinfo's octal escapes (\040 for a space, \011, \012, \134)
// in a path field of /proc/PID/mountinfo.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
