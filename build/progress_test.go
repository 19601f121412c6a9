package build_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/hullproject/hull/build"
)

// screen replays what TTYProgress wrote as a terminal shows it: lines, with
// cursor-up and clear-line applied and the dim/reset attributes dropped.
func screen(out []byte) []string {
	var lines []string
	cur := ""
	s := string(out)
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, "\x1b[1A"):
			if len(lines) > 0 {
				cur = lines[len(lines)-1]
				lines = lines[:len(lines)-1]
			}
			s = s[4:]
		case strings.HasPrefix(s, "\x1b[2K"):
			cur = ""
			s = s[4:]
		case strings.HasPrefix(s, "\x1b[2m"), strings.HasPrefix(s, "\x1b[0m"):
			s = s[4:]
		case s[0] == '\n':
			lines = append(lines, cur)
			cur = ""
			s = s[1:]
		default:
			cur += s[:1]
			s = s[1:]
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// TestBuildTTYProgress: on a terminal, each step ends as one line with its
// duration or CACHED, the running step's output shows below it and is gone when
// it ends, and a failed step keeps its output.
func TestBuildTTYProgress(t *testing.T) {
	e := newEnv(t)
	e.write(map[string]string{"Dockerfile": "FROM busybox\nRUN echo first-line && echo second-line\nCOPY Dockerfile /d\n"})
	var out bytes.Buffer
	if _, err := e.build(build.Options{Tags: []string{"tty:1"}, Progress: build.TTYProgress(&out)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "first-line") {
		t.Errorf("RUN's output was never shown:\n%q", out.String())
	}
	want := []string{
		`^ => \[1/3\] FROM busybox +\d+\.\ds$`,
		`^ => \[2/3\] RUN echo first-line && echo second-line +\d+\.\ds$`,
		`^ => \[3/3\] COPY Dockerfile /d +\d+\.\ds$`,
		`^ => writing image sha256:[0-9a-f]{64}$`,
		`^ => naming to tty:1$`,
		`^\[\+\] Building \d+\.\ds FINISHED$`,
	}
	check := func(got []string, want []string) {
		t.Helper()
		ok := len(got) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = regexp.MustCompile(want[i]).MatchString(got[i])
		}
		if !ok {
			t.Errorf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check(screen(out.Bytes()), want)
	// Again: the steps from the cache.
	out.Reset()
	if _, err := e.build(build.Options{Tags: []string{"tty:1"}, Progress: build.TTYProgress(&out)}); err != nil {
		t.Fatal(err)
	}
	want[1] = `^ => CACHED \[2/3\] RUN echo first-line && echo second-line +0\.0s$`
	want[2] = `^ => CACHED \[3/3\] COPY Dockerfile /d +0\.0s$`
	check(screen(out.Bytes()), want)
	// A failed step: ERROR, and its output stays.
	e.write(map[string]string{"Dockerfile": "FROM busybox\nRUN echo why-it-failed; exit 2\n"})
	out.Reset()
	if _, err := e.build(build.Options{Progress: build.TTYProgress(&out)}); err == nil {
		t.Fatal("a failing RUN built")
	}
	check(screen(out.Bytes()), []string{
		`^ => \[1/2\] FROM busybox +\d+\.\ds$`,
		`^ => ERROR \[2/2\] RUN echo why-it-failed; exit 2 +\d+\.\ds$`,
		`^ > why-it-failed$`,
	})
}
