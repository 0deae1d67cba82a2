package expandcontract

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ReadMigrations reads dir's *.sql files in name order, which is version
// order for the stores' NNNN_what.sql names.
func ReadMigrations(dir string) ([]Migration, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []Migration
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Name: filepath.Base(n), SQL: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations in %s", dir)
	}
	return ms, nil
}

// GoLiterals returns the string literals of the non-test Go files under
// root, skipping testdata and every directory (slash-separated, relative
// to root) skip reports.
func GoLiterals(root string, skip func(dir string) bool) ([]Literal, error) {
	var lits []Literal
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || skip(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if b, ok := n.(*ast.BasicLit); ok && b.Kind == token.STRING {
				if s, err := strconv.Unquote(b.Value); err == nil {
					lits = append(lits, Literal{Pos: fmt.Sprintf("%s:%d", rel, fset.Position(b.Pos()).Line), Text: s})
				}
			}
			return true
		})
		return nil
	})
	return lits, err
}
