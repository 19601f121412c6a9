package main

import (
	"slices"
	"testing"
)

// TestTopLevelNames: each entry of topLevel makes the command it is named after,
// and what it uses is a top-level command too (commandOnly builds them by name).
func TestTopLevelNames(t *testing.T) {
	cmds := topLevel(&globals{})
	names := map[string]bool{}
	for _, c := range cmds {
		if names[c.name] {
			t.Errorf("%s listed twice", c.name)
		}
		names[c.name] = true
		if got := c.make().Name(); got != c.name {
			t.Errorf("topLevel's %q makes the command %q", c.name, got)
		}
	}
	for _, c := range cmds {
		for _, u := range c.uses {
			if !names[u] {
				t.Errorf("%s uses %q, not a top-level command", c.name, u)
			}
		}
	}
}

// TestCommandOnly: a command named on the line is built alone, with what it runs
// itself (run's and create's --pull run the pull command); anything that may need
// the rest of the tree (help, the root's flags, docker's groups, completion, a
// name cobra is to suggest a fix for) gets the whole tree.
func TestCommandOnly(t *testing.T) {
	cmds := topLevel(&globals{})
	for _, tc := range []struct {
		args []string
		want []string // nil: the whole tree
	}{
		{[]string{"run", "--rm", "busybox", "true"}, []string{"run", "pull"}},
		{[]string{"--root", "/r", "--state=/s", "create", "busybox"}, []string{"create", "pull"}},
		{[]string{"--insecure-registry", "h:5000", "--root=/r", "rm", "-f", "x"}, []string{"rm"}},
		{[]string{"network", "ls"}, []string{"network"}},
		{[]string{"pod-infra", "h"}, []string{"pod-infra"}},
		{nil, nil},
		{[]string{"--root"}, nil},
		{[]string{"-v"}, nil},
		{[]string{"--help"}, nil},
		{[]string{"--debug", "run"}, nil},
		{[]string{"help", "run"}, nil},
		{[]string{"container", "run", "busybox"}, nil},
		{[]string{"image", "ls"}, nil},
		{[]string{"completion", "bash"}, nil},
		{[]string{"__complete", "run", ""}, nil},
		{[]string{"rnu"}, nil},
	} {
		var got []string
		for _, c := range commandOnly(tc.args, cmds) {
			got = append(got, c.Name())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("commandOnly(%q) builds %q, want %q", tc.args, got, tc.want)
		}
	}
}
