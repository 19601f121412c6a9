package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// sortedFields is out's words (one name a line), sorted.
func sortedFields(out string) []string {
	l := strings.Fields(out)
	slices.Sort(l)
	return l
}

// TestNameFilterRegexp: a name= filter is a regular expression searched in the
// name, as docker's and podman's, for ps, network ls, volume ls and pod ls:
// name=^web$ selects web alone, name=web every name holding it. docker's container
// names begin with "/", and it matches both forms; an invalid expression is an
// error of hull's (125).
func TestNameFilterRegexp(t *testing.T) {
	h := newHullEnv(t, "hull")
	t.Setenv("HULL_DEFAULT_SUBNET", testSubnet())
	names := []string{"web", "myweb1", "web-2", "db"}
	for _, n := range names {
		h.ok("create", "--name", n, "--network", "none", "busybox", "true")
		h.ok("volume", "create", n)
		h.ok("network", "create", "--subnet", testSubnet(), n)
		h.ok("pod", "create", "--name", n, "--network", "none")
	}
	t.Cleanup(func() {
		for _, n := range names {
			h.run("pod", "rm", "-f", n)
			h.run("network", "rm", n)
		}
	})
	cases := []struct {
		filters []string
		want    []string
	}{
		{[]string{"name=^web$"}, []string{"web"}},
		{[]string{"name=web"}, []string{"myweb1", "web", "web-2"}},
		{[]string{"name=^web"}, []string{"web", "web-2"}},
		{[]string{"name=b[0-9]$"}, []string{"myweb1"}},
		{[]string{"name=^db$", "name=^web$"}, []string{"db", "web"}},
		{[]string{"name=^nope$"}, nil},
	}
	list := map[string][]string{
		"ps":         {"ps", "-a", "--format", "{{.Names}}"},
		"network ls": {"network", "ls", "--format", "{{.Name}}"},
		"volume ls":  {"volume", "ls", "--format", "{{.Name}}"},
		"pod ls":     {"pod", "ls"},
	}
	for what, args := range list {
		for _, c := range cases {
			cmd := slices.Clone(args)
			for _, f := range c.filters {
				cmd = append(cmd, "--filter", f)
			}
			out, stderr, code := h.run(cmd...)
			if code != 0 {
				t.Errorf("%s %v: exit %d: %s", what, c.filters, code, stderr)
				continue
			}
			var got []string
			if what == "pod ls" {
				for _, l := range strings.Split(out, "\n")[1:] { // POD ID NAME ...
					if f := strings.Fields(l); len(f) > 1 {
						got = append(got, f[1])
					}
				}
				slices.Sort(got)
			} else {
				got = sortedFields(out)
			}
			if what == "network ls" {
				got = slices.DeleteFunc(got, func(n string) bool { return n == "bridge" })
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s %v: got %v, want %v", what, c.filters, got, c.want)
			}
		}
		out, stderr, code := h.run(append(slices.Clone(args), "--filter", "name=[")...)
		if code != 125 || out != "" || !strings.Contains(stderr, "invalid filter 'name=['") {
			t.Errorf("%s name=[: exit %d, out %q, err %q", what, code, out, stderr)
		}
	}
	// docker's names begin with "/": name=^/web$ is web too.
	if got := sortedFields(h.ok("ps", "-a", "--format", "{{.Names}}", "--filter", "name=^/web$")); !slices.Equal(got, []string{"web"}) {
		t.Errorf("ps name=^/web$: %v", got)
	}
	if got := sortedFields(h.ok("ps", "-a", "--format", "{{.Names}}", "--filter", "name=/web")); !slices.Equal(got, []string{"web", "web-2"}) {
		t.Errorf("ps name=/web: %v", got)
	}
}

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
		{[]string{"network", "ls", "--filter", "name=["}, "hull network ls", "invalid filter 'name=['"},
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

// TestVersionFlag: --version and -v print docker's one line ("Docker version 28.2.2,
// build e6534b4"), the version command keeps its long form.
func TestVersionFlag(t *testing.T) {
	h := newHullEnv(t, "hull")
	long := regexp.MustCompile(`^hull version (\S+) \(commit (\S+)\)\n$`).FindStringSubmatch(h.ok("version"))
	if long == nil {
		t.Fatalf("version: %q", h.ok("version"))
	}
	want := "hull version " + long[1] + ", build " + long[2] + "\n"
	for _, flag := range []string{"--version", "-v"} {
		if out, stderr, code := h.run(flag); code != 0 || out != want || stderr != "" {
			t.Errorf("hull %s: exit %d, %q %q; want %q", flag, code, out, stderr, want)
		}
	}
	// -v of a command is still the command's own: run's volume.
	if out := h.ok("run", "--rm", "-v", "/data", "busybox", "sh", "-c", "test -d /data && echo ok"); out != "ok\n" {
		t.Errorf("run -v: %q", out)
	}
}
