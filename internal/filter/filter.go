// Package filter is docker's name= filter value, as every listing that filters by
// name (ps, network ls, volume ls, pod ls) reads it. Docker (moby's
// filters.Args.Match) and podman take the value as a regular expression searched
// anywhere in the name, so `name=web` lists myweb1 and `name=^web$` only web;
// scripts rely on the latter to select one object exactly.
package filter

import (
	"fmt"
	"regexp"
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
