package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every error code is declared with the others in app/error.go and has its
// one HTTP status here; none is added elsewhere (an init() once added 401).
func TestEveryCodeHasAStatus(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "error.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(n.Name, "E") {
					v, _ := strconv.Unquote(lit.Value)
					codes[v] = true
				}
			}
		}
	}
	if !codes["unauthorized"] {
		t.Error("unauthorized is not declared in app/error.go")
	}
	for c := range codes {
		if _, ok := statusOf[c]; !ok {
			t.Errorf("code %q has no HTTP status", c)
		}
	}
	for c := range statusOf {
		if !codes[c] {
			t.Errorf("status table code %q is not declared in app/error.go", c)
		}
	}
}
