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

// No production package depends on a package under test/: the graph of
// non-test imports (go list -deps), checked for every package of the module
// outside test/.
func TestNoProductionImportOfTest(t *testing.T) {
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
	checked := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			t.Fatalf("go list line %q", sc.Text())
		}
		pkg, mod, deps := f[0], f[1], f[2:]
		underTest := func(p string) bool { return p == mod+"/test" || strings.HasPrefix(p, mod+"/test/") }
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
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// The check saw the graph: the demo's binary and what it embeds.
	deps, ok := checked["cmd/eivr-gateway"]
	if !ok || !slices.ContainsFunc(deps, func(d string) bool { return strings.HasSuffix(d, "/internal/ivr/tcpivr") }) {
		t.Fatalf("go list did not report cmd/eivr-gateway with its dependency internal/ivr/tcpivr: %v", checked)
	}
}
