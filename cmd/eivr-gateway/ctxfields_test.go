package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// No production code keeps a context.Context in a struct, except the
// fields listed here, each documented where it is declared with why it is
// the exception Go's guidance allows. A new one fails this test.
func TestNoContextInStructs(t *testing.T) {
	allowed := []string{
		"gateway/session.go: session.opsCtx",
	}
	var found []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		if d.IsDir() {
			if rel == "test" || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" {
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
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fl := range st.Fields.List {
				if !isContext(fl.Type) {
					continue
				}
				names := []string{"(embedded)"}
				if len(fl.Names) > 0 {
					names = names[:0]
					for _, n := range fl.Names {
						names = append(names, n.Name)
					}
				}
				for _, n := range names {
					found = append(found, filepath.ToSlash(rel)+": "+ts.Name.Name+"."+n)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		if !slices.Contains(allowed, f) {
			t.Errorf("%s keeps a context.Context in a struct: pass it as an argument", f)
		}
	}
	for _, a := range allowed {
		if !slices.Contains(found, a) {
			t.Errorf("%s is gone: drop it from the allowed list", a)
		}
	}
}

// isContext reports whether a field type is context.Context.
func isContext(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "context" && sel.Sel.Name == "Context"
}
