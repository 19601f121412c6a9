package main

import (
	"strings"
	"testing"
)

// TestUsageErrors: hull's own errors (an unknown flag, a flag's bad value, a missing
// or invalid argument) exit 125 as docker's, before anything is done, with the
// command's usage and docker's pointer to its help; 126 and 127 stay the
// container's command's (TestRunExitCodes).
func TestUsageErrors(t *testing.T) {
	h := newHullEnv(t, "hull")
	for _, c := range []struct {
		args []string
		cmd  string // the command whose help is pointed to
		msg  string
	}{
		{[]string{"run", "--foo", "busybox"}, "hull run", "unknown flag: --foo"},
		{[]string{"run", "-m", "lots", "busybox", "true"}, "hull run", `invalid memory "lots"`},
		{[]string{"run"}, "hull run", "requires at least 1 arg"},
		{[]string{"container", "run", "--foo", "busybox"}, "hull container run", "unknown flag: --foo"},
		{[]string{"ps", "--filter", "bogus"}, "hull ps", `bad filter "bogus"`},
		{[]string{"ps", "--filter", "colour=red"}, "hull ps", `invalid filter "colour"`},
		{[]string{"ps", "-n", "many"}, "hull ps", `invalid argument "many" for "-n, --last" flag`},
		{[]string{"ps", "extra"}, "hull ps", `unknown command "extra"`},
		{[]string{"stop", "-t", "soon", "x"}, "hull stop", `invalid argument "soon" for "-t, --time" flag`},
		{[]string{"stop"}, "hull stop", "requires at least 1 arg"},
		{[]string{"kill", "-s", "SIGNOPE", "x"}, "hull kill", "SIGNOPE"},
		{[]string{"logs", "--tail", "some", "x"}, "hull logs", `--tail "some"`},
		{[]string{"cp", "a", "b"}, "hull cp", "must specify at least one container source"},
		{[]string{"volume", "ls", "--filter", "colour=red"}, "hull volume ls", `unknown filter "colour"`},
		{[]string{"volume", "rm"}, "hull volume rm", "requires at least 1 arg"},
		{[]string{"images", "--format", "{{"}, "hull images", "bad --format"},
		{[]string{"--foo"}, "hull", "unknown flag: --foo"},
	} {
		out, stderr, code := h.run(c.args...)
		want := "\n\nRun '" + c.cmd + " --help' for more information\n"
		if code != 125 || out != "" || !strings.HasPrefix(stderr, "hull: ") || !strings.Contains(stderr, c.msg) ||
			!strings.Contains(stderr, "\n\nUsage:  "+c.cmd) || !strings.HasSuffix(stderr, want) {
			t.Errorf("hull %v: exit %d, stdout %q, stderr:\n%s", c.args, code, out, stderr)
		}
	}
	if out := h.ok("ps", "-aq"); out != "" {
		t.Errorf("usage errors made containers: %q", out)
	}
	// An error of the engine, not of the call, stays 1, as docker's.
	if _, stderr, code := h.run("rm", "nosuchcontainer"); code != 1 || strings.Contains(stderr, "Usage:") {
		t.Errorf("rm nosuchcontainer: exit %d: %s", code, stderr)
	}
}
