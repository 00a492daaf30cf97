package main

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// prodDeps returns the module path and, per package of the module, its
// non-test dependencies (go list -deps).
func prodDeps(t *testing.T) (string, map[string][]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-f", "{{.ImportPath}} {{.Module.Path}}{{range .Deps}} {{.}}{{end}}", "./...")
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	mod := ""
	pkgs := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			t.Fatalf("go list line %q", sc.Text())
		}
		mod = f[1]
		pkgs[f[0]] = f[2:]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return mod, pkgs
}

// No production package depends on a package under test/: the graph of
// non-test imports (go list -deps), checked for every package of the module
// outside test/.
func TestNoProductionImportOfTest(t *testing.T) {
	mod, pkgs := prodDeps(t)
	underTest := func(p string) bool { return p == mod+"/test" || strings.HasPrefix(p, mod+"/test/") }
	checked := map[string][]string{}
	for pkg, deps := range pkgs {
		if underTest(pkg) {
			continue
		}
		checked[strings.TrimPrefix(pkg, mod+"/")] = deps
		for _, d := range deps {
			if underTest(d) {
				t.Errorf("production package %s imports %s", pkg, d)
			}
		}
	}
	// The check saw the graph: the demo's binary and what it embeds.
	deps, ok := checked["cmd/eivr-gateway"]
	if !ok || !slices.ContainsFunc(deps, func(d string) bool { return strings.HasSuffix(d, "/internal/ivr/tcpivr") }) {
		t.Fatalf("go list did not report cmd/eivr-gateway with its dependency internal/ivr/tcpivr: %v", checked)
	}
}

// The layers have no back-edge: ari and eivr know nothing of each other
// nor of what is built on them; reorder sits below gateway; only cmd
// assembles the pipeline.
func TestImportLayers(t *testing.T) {
	mod, pkgs := prodDeps(t)
	never := map[string][]string{
		"ari":     {"eivr", "reorder", "gateway", "cmd"},
		"eivr":    {"ari", "reorder", "gateway", "cmd"},
		"reorder": {"eivr", "gateway", "cmd"},
		"gateway": {"cmd"},
	}
	under := func(p, dir string) bool { return p == mod+"/"+dir || strings.HasPrefix(p, mod+"/"+dir+"/") }
	seen := 0
	for pkg, deps := range pkgs {
		for layer, banned := range never {
			if pkg != mod+"/"+layer {
				continue
			}
			seen++
			for _, d := range deps {
				for _, b := range banned {
					if under(d, b) {
						t.Errorf("%s imports %s: a back-edge in the layers", layer, d)
					}
				}
			}
		}
	}
	if seen != len(never) {
		t.Fatalf("go list reported %d of the %d layer packages", seen, len(never))
	}
	if !slices.Contains(pkgs[mod+"/gateway"], mod+"/reorder") {
		t.Errorf("gateway does not import reorder: the check would not see the layering")
	}
}
