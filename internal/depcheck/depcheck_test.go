// Package depcheck holds one test: the package map of docs/design.md, enforced. The
// table there says, for each package, which of hull's packages it may import; this
// test reads that table and every package's imports (go list) and fails on an import
// the table does not allow: an arrow that runs up, or sideways between two linux
// parts of the runtime. Direct imports are enough: a path of allowed edges is
// allowed.
package depcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/hullproject/hull"

// rule is one row of the table: packages matching any of pkgs may import the
// packages matching any of allow (or any package at all).
type rule struct {
	pkgs, allow []string
	any         bool
	line        int
}

// match tells whether pkg matches pattern: "x" is x itself, "x/..." is x and every
// package below it.
func match(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// specificity orders the patterns that match one package: an exact name beats a
// "/..." pattern, a longer base beats a shorter one.
func specificity(pattern string) int {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return 2 * len(base)
	}
	return 2*len(pattern) + 1
}

var quoted = regexp.MustCompile("`([^`]+)`")

// readTable reads the rows of the package map in docs/design.md: the table whose
// header is "| package | owns | may import |".
func readTable(t *testing.T, file string) []rule {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rules []rule
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(l, "|") {
			in = false
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != 3 {
			continue
		}
		if strings.TrimSpace(cells[0]) == "package" && strings.TrimSpace(cells[2]) == "may import" {
			in = true
			continue
		}
		if !in || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			continue
		}
		r := rule{line: n}
		for _, m := range quoted.FindAllStringSubmatch(cells[0], -1) {
			r.pkgs = append(r.pkgs, m[1])
		}
		allow := strings.TrimSpace(cells[2])
		r.any = strings.HasPrefix(allow, "anything")
		for _, m := range quoted.FindAllStringSubmatch(allow, -1) {
			r.allow = append(r.allow, m[1])
		}
		if len(r.pkgs) == 0 {
			t.Fatalf("%s:%d: a row of the package map names no package in backquotes", file, n)
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no package map (a table headed | package | owns | may import |)", file)
	}
	return rules
}

// ruleFor is the most specific rule whose packages match pkg, or nil.
func ruleFor(rules []rule, pkg string) *rule {
	var best *rule
	bestScore := -1
	for i := range rules {
		for _, p := range rules[i].pkgs {
			if match(p, pkg) && specificity(p) > bestScore {
				best, bestScore = &rules[i], specificity(p)
			}
		}
	}
	return best
}

// imports lists, for every package of the module (not its tests), the module's
// packages it imports, by their path below the module.
func imports(t *testing.T, root string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, msg)
	}
	deps := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		pkg := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")
		deps[pkg] = nil
		for _, imp := range f[1:] {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				deps[pkg] = append(deps[pkg], rel)
			}
		}
	}
	return deps
}

func TestPackageMap(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(root, "docs", "design.md")
	rules := readTable(t, table)
	deps := imports(t, root)
	var bad []string
	pkgs := make([]string, 0, len(deps))
	for p := range deps {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		r := ruleFor(rules, pkg)
		if r == nil {
			bad = append(bad, fmt.Sprintf("%s: not in the package map", pkg))
			continue
		}
		for _, imp := range deps[pkg] {
			ok := r.any
			for _, a := range r.allow {
				ok = ok || match(a, imp)
			}
			if !ok {
				bad = append(bad, fmt.Sprintf("%s imports %s (docs/design.md:%d allows %s)", pkg, imp, r.line, strings.Join(r.allow, ", ")))
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("the package map of docs/design.md is broken:\n  %s", strings.Join(bad, "\n  "))
	}
}

// TestMatch pins the pattern rules the table is written in.
func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, pkg string
		want         bool
	}{
		{"runtime", "runtime", true},
		{"runtime", "runtime/cgroups", false},
		{"runtime/...", "runtime", true},
		{"runtime/...", "runtime/cgroups", true},
		{"runtime/...", "runtimex", false},
		{"internal/...", "internal/proc", true},
	} {
		if got := match(c.pattern, c.pkg); got != c.want {
			t.Errorf("match(%q, %q) = %v", c.pattern, c.pkg, got)
		}
	}
	rules := []rule{{pkgs: []string{"runtime/..."}}, {pkgs: []string{"runtime"}}, {pkgs: []string{"runtime/cgroups"}}}
	for pkg, want := range map[string]int{"runtime": 1, "runtime/caps": 0, "runtime/cgroups": 2} {
		if r := ruleFor(rules, pkg); r != &rules[want] {
			t.Errorf("ruleFor(%q) is not row %d", pkg, want)
		}
	}
}
