package network

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoNetworkBinaries: hull talks to the kernel's network through netlink and
// nftables only. No program of the module (tests, benchmarks and test helpers
// aside, which may set up with ip(8)) runs ip, iptables or nft.
func TestNoNetworkBinaries(t *testing.T) {
	banned := map[string]bool{"ip": true, "iptables": true, "ip6tables": true, "iptables-nft": true,
		"iptables-legacy": true, "nft": true, "/sbin/ip": true, "/usr/sbin/ip": true, "/usr/sbin/nft": true,
		"/usr/sbin/iptables": true}
	root := filepath.Join("..")
	fset := token.NewFileSet()
	var checked int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if name := d.Name(); rel != "." && (strings.HasPrefix(name, ".") || name == "bench" || name == "test" ||
				name == "testutil" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Command" && sel.Sel.Name != "CommandContext") || len(call.Args) == 0 {
				return true
			}
			arg := call.Args[0]
			if sel.Sel.Name == "CommandContext" && len(call.Args) > 1 {
				arg = call.Args[1]
			}
			if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if prog, _ := strconv.Unquote(lit.Value); banned[prog] {
					t.Errorf("%s: runs %s", fset.Position(call.Pos()), prog)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d files checked: wrong root?", checked)
	}
}
