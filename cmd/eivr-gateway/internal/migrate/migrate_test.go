package migrate

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/eivr"
)

var update = flag.Bool("update", false, "rewrite test/migrate/golden.txt")

const repoRoot = "../../../.."

func TestParseLine(t *testing.T) {
	type call struct{ data, wrapper string }
	tests := []struct {
		line  string
		kind  LineKind
		exten string
		calls []call
	}{
		{"exten => 100,1,ExternalIVR(/bin/x(a,b),n)", LineExten, "100", []call{{"/bin/x(a,b),n", ""}}},
		{"  same  =>  n(lbl),externalivr(ivr://h(x))  ; comment ExternalIVR(/no)", LineSame, "", []call{{"ivr://h(x)", ""}}},
		{"exten = _X.,1,EXTERNALIVR(/bin/x)", LineExten, "_X.", []call{{"/bin/x", ""}}},
		{"exten => 100/5551212,1,ExternalIVR(/bin/x)", LineExten, "100", []call{{"/bin/x", ""}}},
		{"Exten => h,n,ExternalIVR (/bin/x,d)", LineExten, "h", []call{{"/bin/x,d", ""}}},
		{"exten => 1,1,Exec(ExternalIVR(/bin/x(a)))", LineExten, "1", []call{{"/bin/x(a)", "Exec"}}},
		{"exten => 1,1,TryExec(ExternalIVR(/bin/x))", LineExten, "1", []call{{"/bin/x", "TryExec"}}},
		{`exten => 1,1,ExecIf($["${A}"="1"]?ExternalIVR(ivr://h:3000(x)):ExternalIVR(/bin/y))`, LineExten, "1",
			[]call{{"ivr://h:3000(x)", "ExecIf"}, {"/bin/y", "ExecIf"}}},
		{`exten => 1,1,ExecIf($[1]?NoOp(x):ExternalIVR(/bin/y(a:b)))`, LineExten, "1", []call{{"/bin/y(a:b)", "ExecIf"}}},
		{`exten => 1,1,ExternalIVR(/bin/x(a\;b))`, LineExten, "1", []call{{"/bin/x(a;b)", ""}}},
		{"exten => 1,1,NoOp(ExternalIVR(/bin/x))", LineExten, "1", nil},
		{"exten => 1,1,ExternalIVRX(/bin/x)", LineExten, "1", nil},
		{";exten => 1,1,ExternalIVR(/bin/x)", LineOther, "", nil},
		{"include => other", LineOther, "", nil},
		{"exten => 1", LineOther, "", nil},
		{"same => ExternalIVR(/bin/x)", LineSame, "", nil},
		{"", LineOther, "", nil},
	}
	for _, tt := range tests {
		ln, _ := ParseLine(tt.line, false)
		var got []call
		for _, c := range ln.Calls {
			got = append(got, call{c.Data, c.Wrapper})
			if c.Close >= 0 && !strings.EqualFold(tt.line[c.Name:c.NameEnd], "ExternalIVR") {
				t.Errorf("ParseLine(%q): name span %q", tt.line, tt.line[c.Name:c.NameEnd])
			}
		}
		if ln.Kind != tt.kind || ln.Exten != tt.exten || !reflect.DeepEqual(got, tt.calls) {
			t.Errorf("ParseLine(%q) = kind %d exten %q calls %q; want %d %q %q", tt.line, ln.Kind, ln.Exten, got, tt.kind, tt.exten, tt.calls)
		}
	}
}

func TestBlockComments(t *testing.T) {
	lines := []string{
		"exten => 1,1,ExternalIVR(/a) ;-- starts here",
		"exten => 2,1,ExternalIVR(/b)",
		"--; exten => 3,1,ExternalIVR(/c)",
		"exten => 4,1,ExternalIVR(/d) ;-- one line --;",
		"exten => 5,1,ExternalIVR(/e)",
	}
	want := []int{1, 0, 0, 1, 1}
	in := false
	for i, l := range lines {
		var ln Line
		ln, in = ParseLine(l, in)
		if len(ln.Calls) != want[i] {
			t.Errorf("line %d %q: %d calls, want %d", i+1, l, len(ln.Calls), want[i])
		}
	}
}

// The sample dialplan under test/migrate gives the reviewed report.
func TestGolden(t *testing.T) {
	t.Chdir(repoRoot)
	res, err := Scan("test/migrate/extensions.conf", "eivr")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := res.WriteReport(&out); err != nil {
		t.Fatal(err)
	}
	out.WriteString("== not converted (stderr) ==\n")
	if err := res.WriteProblems(&out); err != nil {
		t.Fatal(err)
	}
	golden := "test/migrate/golden.txt"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got := out.String(); got != string(want) {
		t.Errorf("report differs from %s (run with -update after review):\n%s", golden, got)
	}
}

// Every rewrite in the sample is proved: the old and new forms give the
// same program, arguments and options.
func TestRewritesKeepTheApp(t *testing.T) {
	t.Chdir(repoRoot)
	res, err := Scan("test/migrate/extensions.conf", "eivr")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rewrites) < 8 {
		t.Fatalf("only %d rewrites", len(res.Rewrites))
	}
	for _, rw := range res.Rewrites {
		oldData := strings.TrimSuffix(rw.Old[strings.IndexByte(rw.Old, '(')+1:], ")")
		old, err := eivr.ParseAppData(strings.ReplaceAll(oldData, `\;`, ";"))
		if err != nil {
			t.Fatalf("%s:%d: %v", rw.File, rw.Line, err)
		}
		newData := strings.TrimSuffix(strings.TrimPrefix(rw.New, "Stasis("), ")")
		f := eivr.SplitAppArgs(strings.ReplaceAll(newData, `\;`, ";"), stasisMaxArgs)
		neu, err := eivr.ParseStasisArgs(f[1:])
		if err != nil || f[0] != "eivr" || !reflect.DeepEqual(old.Argv, neu.Argv) || old.Options != neu.Options {
			t.Errorf("%s:%d: %s -> %s: %+v vs %+v (%v)", rw.File, rw.Line, rw.Old, rw.New, old, neu, err)
		}
	}
}

func TestApply(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "extensions.conf")
	orig := "[a]\r\nexten => 1,1,ExternalIVR(/bin/ivr(x),n) ; keep\r\nexten => 2,1,Hangup()"
	if err := os.WriteFile(conf, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := Scan(conf, "gw")
	if err != nil {
		t.Fatal(err)
	}
	written, err := res.Apply()
	if err != nil || len(written) != 1 {
		t.Fatalf("Apply = %v, %v", written, err)
	}
	got, _ := os.ReadFile(conf)
	want := "[a]\r\nexten => 1,1,Stasis(gw,/bin/ivr(x),n) ; keep\r\nexten => 2,1,Hangup()"
	if string(got) != want {
		t.Errorf("after Apply:\n%q\nwant\n%q", got, want)
	}
	bak, _ := os.ReadFile(conf + ".bak")
	if string(bak) != orig {
		t.Errorf("backup = %q, want the original", bak)
	}
	if fi, _ := os.Stat(conf); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode())
	}
	// A second run finds nothing to do; a third with a pending rewrite refuses to clobber the backup.
	if err := os.WriteFile(conf, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	res, _ = Scan(conf, "gw")
	if _, err := res.Apply(); err == nil {
		t.Error("Apply over an existing .bak succeeded")
	}
}

func TestStanzaEscapes(t *testing.T) {
	r := &Result{App: "eivr", Rewrites: []Rewrite{
		{App: eivr.App{Argv: []string{`/opt/ivr/*`}}},
		{App: eivr.App{Argv: []string{`/opt/"q"`}}},
		{App: eivr.App{Argv: []string{`ivr://[::1]:2949`}}},
		{App: eivr.App{Argv: []string{`ivr://h:3000`}}},
	}}
	want := "[[app]]\nname = \"eivr\"\nprograms = [\n  \"/opt/\\\"q\\\"\",\n  \"/opt/ivr/\\\\*\",\n]\ntcp_hosts = [\n  \"[::1]\",\n  \"h:3000\",\n]\n"
	if got := r.Stanza(); got != want {
		t.Errorf("Stanza:\n%s\nwant\n%s", got, want)
	}
}

func FuzzMigrate(f *testing.F) {
	for _, s := range []string{
		"exten => 100,1,ExternalIVR(/bin/x(a,b),n)",
		`exten => 1,1,ExecIf($["${A}"="1"]?ExternalIVR(ivr://h:3000(x)):ExternalIVR(/bin/y))`,
		"same => n,Exec(ExternalIVR(/a\\;b(\"x,y\")))",
		"exten => h,1,ExternalIVR(/a,d) ;-- x",
		"exten=>1,1,ExternalIVR,/x",
		"exten => 1,1,ExternalIVR((((",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, line string, inBlock bool) {
		ln, _ := ParseLine(line, inBlock)
		for _, c := range ln.Calls {
			if c.OldSyntax || c.Close < 0 {
				continue
			}
			if !(c.Name < c.NameEnd && c.NameEnd <= c.Open && c.Open < c.Close && c.Close < len(line)) ||
				line[c.Open] != '(' || line[c.Close] != ')' || !strings.EqualFold(line[c.Name:c.NameEnd], "ExternalIVR") {
				t.Fatalf("ParseLine(%q): bad call %+v", line, c)
			}
		}
		if strings.Contains(line, "#") {
			return // no #include of arbitrary files (/dev/zero) from the fuzzer
		}
		// The whole pipeline on a one-line file never panics, and a
		// rewritten line differs only inside the call.
		dir := t.TempDir()
		p := filepath.Join(dir, "e.conf")
		if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := Scan(p, "eivr")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Diff()
		_ = res.Stanza()
		for _, rw := range res.Rewrites {
			if !strings.HasPrefix(rw.New, "Stasis(eivr,") {
				t.Fatalf("rewrite %q", rw.New)
			}
		}
	})
}

// --write on a symlinked include (and a symlinked main file) rewrites the
// link's target and keeps the link; it used to replace the link with a
// regular file (issue 13 item 15).
func TestApplyThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	etc := filepath.Join(dir, "etc")
	for _, d := range []string{shared, etc} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	menus := "[menus]\nexten => 1,1,ExternalIVR(/bin/ivr(x),n)\n"
	main := "[a]\nexten => 2,1,ExternalIVR(/bin/ivr(y))\n#include \"menus.conf\"\n"
	for name, content := range map[string]string{"menus.conf": menus, "main.conf": main} {
		if err := os.WriteFile(filepath.Join(shared, name), []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "shared", name), filepath.Join(etc, name)); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(etc, "main.conf")
	res, err := Scan(conf, "gw")
	if err != nil {
		t.Fatal(err)
	}
	written, err := res.Apply()
	if err != nil || len(written) != 2 {
		t.Fatalf("Apply = %q, %v; want both files written", written, err)
	}
	for name, want := range map[string]string{
		"menus.conf": "[menus]\nexten => 1,1,Stasis(gw,/bin/ivr(x),n)\n",
		"main.conf":  "[a]\nexten => 2,1,Stasis(gw,/bin/ivr(y))\n#include \"menus.conf\"\n",
	} {
		link := filepath.Join(etc, name)
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symlink (%v, %v)", link, fi.Mode(), err)
		}
		if got, _ := os.ReadFile(filepath.Join(shared, name)); string(got) != want {
			t.Errorf("target of %s:\n%q\nwant\n%q", name, got, want)
		}
		if fi, _ := os.Stat(filepath.Join(shared, name)); fi.Mode().Perm() != 0o640 {
			t.Errorf("target of %s: mode %v, want 0640", name, fi.Mode())
		}
		if _, err := os.Stat(link + ".bak"); err != nil {
			t.Errorf("no backup beside the link: %v", err)
		}
	}
}
