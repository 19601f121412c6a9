// Package filter is docker's name= filter value, as every listing that filters by
// name (ps, network ls, volume ls, pod ls) reads it. Docker (moby's
// filters.Args.Match) and podman take the value as a regular expression searched
// anywhere in the name, so `name=web` lists myweb1 and `name=^web$` only web;
// scripts rely on the latter to select one object exactly.
package filter

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// CheckName refuses a name= value that is not a regular expression (RE2 syntax, as
// docker's Go daemon reads it).
func CheckName(v string) error {
	if _, err := regexp.Compile(v); err != nil {
		return fmt.Errorf("invalid filter 'name=%s': %w", v, err)
	}
	return nil
}

// MatchName tells whether name passes the name= value v: v equals it, or v as a
// regular expression matches somewhere in it. A v that CheckName refuses matches
// only an equal name, as in docker.
func MatchName(v, name string) bool {
	if v == name {
		return true
	}
	ok, err := regexp.MatchString(v, name)
	return err == nil && ok
}

// ParseTime reads a time as docker's filters and --since/--until take one: a
// duration before now (10m), an RFC 3339 time, or unix seconds.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time, a duration or a unix time", s)
}
