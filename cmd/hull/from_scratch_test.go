package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hullproject/hull/internal/testutil"
)

// docStep is one `$` line of a ```console block in a document and the output
// lines that must follow it.
type docStep struct {
	line int
	cmd  string
	want []string
}

// docSteps reads the `$` lines of the ```console blocks of file.
func docSteps(t *testing.T, file string) []docStep {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []docStep
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```console"):
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case !in:
		case strings.HasPrefix(l, "$ "):
			steps = append(steps, docStep{line: n, cmd: l[2:]})
		case len(steps) > 0 && l != "":
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, l)
		}
	}
	return steps
}

// docPattern turns an expected line into a regexp: "…" stands for anything.
func docPattern(want string) *regexp.Regexp {
	parts := strings.Split(want, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// TestFromScratchDoc runs every command of docs/from-scratch.md in order, as the
// document says (bash, pipefail, in one scratch directory, `hull` on temporary
// roots and a default network of the test's own), and checks that its output has
// the lines the document shows under it, in order. The document starts as the
// seed did, from a Debian made with debootstrap: skipped with the reason when
// debootstrap or Debian's mirror is not there.
func TestFromScratchDoc(t *testing.T) {
	testutil.NeedDebootstrap(t)
	h := netEnv(t, "hull")
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nexec " + h.bin + " --root " + h.root + " --state " + h.state + ` "$@"` + "\n"
	if err := os.WriteFile(filepath.Join(bin, "hull"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.run("pod", "rm", "-f", "duo") })
	work := t.TempDir()
	steps := docSteps(t, "../../docs/from-scratch.md")
	if len(steps) < 20 {
		t.Fatalf("%d commands in the document", len(steps))
	}
	if !strings.HasPrefix(steps[0].cmd, "debootstrap ") {
		t.Fatalf("from-scratch.md:%d: the document starts with %q, not the seed's debootstrap", steps[0].line, steps[0].cmd)
	}
	for _, s := range steps {
		cmd := exec.Command("bash", "-o", "pipefail", "-c", s.cmd)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		limit := 2 * time.Minute
		if strings.HasPrefix(s.cmd, "debootstrap ") {
			if !strings.Contains(s.cmd, testutil.DebianMirror) {
				t.Fatalf("from-scratch.md:%d: debootstrap not from %s, the mirror checked above", s.line, testutil.DebianMirror)
			}
			limit = 10 * time.Minute
		}
		timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
		out, err := cmd.CombinedOutput()
		timer.Stop()
		if err != nil {
			t.Fatalf("from-scratch.md:%d: %s: %v\n%s", s.line, s.cmd, err, out)
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		i := 0
		for _, w := range s.want {
			if w == "…" {
				continue
			}
			re := docPattern(w)
			for i < len(lines) && !re.MatchString(lines[i]) {
				i++
			}
			if i == len(lines) {
				t.Fatalf("from-scratch.md:%d: %s: no line %q (in order) in the output:\n%s", s.line, s.cmd, w, out)
			}
			i++
		}
	}
}
