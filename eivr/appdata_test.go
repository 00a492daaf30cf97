package eivr

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestSplitter_2_1: SplitAppArgs is Asterisk's standard argument splitter
// (eivr-protocol.md §2.1). The splitter itself is internal/astargs, whose
// TestSplit holds the full table; these few rows only check that
// SplitAppArgs hands its input and cap to it unchanged.
func TestSplitter_2_1(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want []string
	}{
		{"", 2, nil},
		{"a,", 32, []string{"a", ""}},
		{`"a,b",c`, 32, []string{"a,b", "c"}},
		{`a\,b,c`, 32, []string{"a,b", "c"}},
		{"(a,b),[c,d],e", 32, []string{"(a,b)", "[c,d]", "e"}},
		{`a,"b",\c,(d`, 2, []string{"a", `"b",\c,(d`}},
		{"a\x00,b", 32, []string{"a"}},
	}
	for _, tt := range tests {
		if got := SplitAppArgs(tt.in, tt.max); !slices.Equal(got, tt.want) {
			t.Errorf("SplitAppArgs(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestAppData_2_3 is the table of §2.3 (plus the rows of §2.2 and §3.2's
// first example), in the dialplan form and in the Stasis form.
func TestAppData_2_3(t *testing.T) {
	tests := []struct {
		data    string
		argv    []string
		opts    Options
		wantErr error
	}{
		{data: "/usr/bin/foo(a,b),n", argv: []string{"/usr/bin/foo", "a", "b"}, opts: Options{NoAnswer: true}},
		{data: "/usr/bin/foo", argv: []string{"/usr/bin/foo"}},
		{data: "/usr/bin/foo()", argv: []string{"/usr/bin/foo", ""}},
		{data: "/usr/bin/foo(a,)", argv: []string{"/usr/bin/foo", "a", ""}},
		{data: "/usr/bin/foo(a(b),c)", argv: []string{"/usr/bin/foo", "a(b)", "c"}},
		{data: "/usr/bin/foo(a)xyz,n", argv: []string{"/usr/bin/foo", "a"}, opts: Options{NoAnswer: true}},
		{data: "/usr/bin/foo(a(b,c),n", argv: []string{"/usr/bin/foo", "a(b,c"}},
		{data: "/usr/bin/foo(a,b", wantErr: ErrMissingParen},
		{data: `/usr/bin/foo("a,b",c)`, argv: []string{"/usr/bin/foo", "a", "b", "c"}},
		{data: `/usr/bin/foo(\"a,b\",c)`, argv: []string{"/usr/bin/foo", "a,b", "c"}},
		{data: "ivr://[::1]:3000(x,y),i", argv: []string{"ivr://[::1]:3000", "x", "y"}, opts: Options{IgnoreHangup: true}},
		{data: "(a)", argv: []string{"", "a"}}, // exec of "" fails later, as native (§3.1)
		{data: ",n", wantErr: ErrNoTarget},     // native: NULL dereference (§10 Q19)
		{data: ",", wantErr: ErrNoTarget},
		{data: `""`, wantErr: ErrNoTarget},
		{data: "", wantErr: ErrEmptyData},
		// §2.2: the options are the raw rest, cut at their first ','.
		{data: "/bin/x,n,junk", argv: []string{"/bin/x"}, opts: Options{NoAnswer: true}},
		{data: "/bin/x,i,n", argv: []string{"/bin/x"}, opts: Options{IgnoreHangup: true}},
		{data: "/bin/x(a,b)", argv: []string{"/bin/x", "a", "b"}},
		{data: "/bin/x(a,b),", argv: []string{"/bin/x", "a", "b"}},
		// quotes and backslashes are processed in both passes
		{data: `/bin/x(\\\,)`, argv: []string{"/bin/x", ","}},
		{data: `/bin/x(a\\\\b)`, argv: []string{"/bin/x", `a\b`}},
		// the first '(' opens, even inside what looks like a path
		{data: "/bin/x(y)(z)", argv: []string{"/bin/x", "y)(z"}},
		// §3.2 / 22.10.1 (eivr-18-tcp-ivr-url.log)
		{data: "ivr://127.0.0.1(arg1,arg2)", argv: []string{"ivr://127.0.0.1", "arg1", "arg2"}},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			app, err := ParseAppData(tt.data)
			checkApp(t, fmt.Sprintf("ParseAppData(%q)", tt.data), app, err, tt.argv, tt.opts, tt.wantErr)
			args := stasisArgs(tt.data)
			app, err = ParseStasisArgs(args)
			checkApp(t, fmt.Sprintf("ParseStasisArgs(%q)", args), app, err, tt.argv, tt.opts, tt.wantErr)
		})
	}
}

func checkApp(t *testing.T, call string, app App, err error, argv []string, opts Options, wantErr error) {
	t.Helper()
	if wantErr != nil {
		var pe *ParseError
		if !errors.Is(err, wantErr) || !errors.As(err, &pe) {
			t.Errorf("%s = %+v, %v; want a *ParseError wrapping %v", call, app, err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
	if !slices.Equal(app.Argv, argv) || app.Options != opts {
		t.Errorf("%s = argv %q options %+v; want %q %+v", call, app.Argv, app.Options, argv, opts)
	}
}

// stasisArgs is what a StasisStart carries for Stasis(eivr,<data>): Stasis()
// splits its data with the standard splitter into the app name and at most
// 128 arguments (apps/app_stasis.c MAX_ARGS).
func stasisArgs(data string) []string {
	if data == "" {
		return nil // ExternalIVR() becomes Stasis(eivr)
	}
	f := SplitAppArgs("eivr,"+data, 129)
	return f[1:]
}

// TestStasisSplit_ariMapping_2_1 checks stasisArgs against what Asterisk
// 22.10.1 sent: Stasis(gw,arg1,arg2) gave "args":["arg1","arg2"].
func TestStasisSplit_ariMapping_2_1(t *testing.T) {
	for data, want := range map[string][]string{
		"arg1,arg2": {"arg1", "arg2"},
		"c2c,42":    {"c2c", "42"},
		"hold":      {"hold"},
		"fromh,16":  {"fromh", "16"},
	} {
		if got := SplitAppArgs("gw,"+data, 129)[1:]; !slices.Equal(got, want) {
			t.Errorf("Stasis(gw,%s) args = %q, want %q", data, got, want)
		}
	}
	if got := SplitAppArgs("gw", 129)[1:]; len(got) != 0 {
		t.Errorf("Stasis(gw) args = %q, want none", got)
	}
	if _, err := ParseStasisArgs(nil); !errors.Is(err, ErrEmptyData) {
		t.Errorf("ParseStasisArgs(nil) error = %v, want ErrEmptyData", err)
	}
}

// TestArgvCap_2_3: at most 32 argv elements; the 32nd is the raw rest.
func TestArgvCap_2_3(t *testing.T) {
	args := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "a%d", i)
		}
		return b.String()
	}
	app, err := ParseAppData("/bin/x(" + args(31) + ")")
	if err != nil || len(app.Argv) != 32 || app.Argv[31] != "a30" {
		t.Errorf("31 arguments: argv %q, %v; want 32 elements ending in a30", app.Argv, err)
	}
	// the 32nd element is not unescaped (it is the splitter's raw rest)
	// (pass 1 makes `\"q\"` of `\\\"q\\\"`; pass 2 keeps it raw)
	app, err = ParseAppData(`/bin/x(` + args(30) + `,\\\"q\\\")`)
	if err != nil || len(app.Argv) != 32 || app.Argv[31] != `\"q\"` {
		t.Errorf("32nd element: argv %q, %v; want it to end in %q", app.Argv, err, `\"q\"`)
	}
	for _, n := range []int{32, 40} {
		data := "/bin/x(" + args(n) + ")"
		if _, err := ParseAppData(data); !errors.Is(err, ErrTooManyArgs) || !strings.Contains(err.Error(), "a31") {
			t.Errorf("%d arguments: error %v, want ErrTooManyArgs naming the input", n, err)
		}
	}
}

// TestOptions_2_4: option letters, case-sensitive, unknown ones ignored, a
// parenthesised argument skipped.
func TestOptions_2_4(t *testing.T) {
	tests := []struct {
		opts     string
		want     Options
		warnings int
	}{
		{"", Options{}, 0},
		{"n", Options{NoAnswer: true}, 0},
		{"i", Options{IgnoreHangup: true}, 0},
		{"d", Options{RunDead: true}, 0},
		{"nid", Options{true, true, true}, 0},
		{"dn", Options{NoAnswer: true, RunDead: true}, 0},
		{"N", Options{}, 1},                                         // case-sensitive
		{"xn", Options{NoAnswer: true}, 1},                          // unknown letters ignored
		{"n(abc)i", Options{NoAnswer: true, IgnoreHangup: true}, 0}, // argument skipped
		{"x(a(b)c)i", Options{IgnoreHangup: true}, 1},               // nested parentheses
		{`i(")")n`, Options{IgnoreHangup: true, NoAnswer: true}, 0}, // quoted ')' when the argument starts with '"'
		{`i(a")"n)d`, Options{true, true, true}, 2},                 // quotes count only first: i(a") then letters " n ) d
		{`i(\))n`, Options{IgnoreHangup: true, NoAnswer: true}, 0},  // backslash hides ')'
		{"in(abc", Options{IgnoreHangup: true}, 1},                  // no ')': stop; n does not count
		{"n(abc", Options{}, 1},                                     //
		{"i()n", Options{IgnoreHangup: true, NoAnswer: true}, 0},    //
	}
	for _, tt := range tests {
		app, err := ParseAppData("/bin/x," + tt.opts)
		if err != nil {
			t.Fatalf("ParseAppData(/bin/x,%s): %v", tt.opts, err)
		}
		want := tt.want
		if app.Options != want || len(app.Warnings) != tt.warnings {
			t.Errorf("options %q = %+v, warnings %q; want %+v and %d warnings", tt.opts, app.Options, app.Warnings, want, tt.warnings)
		}
	}
}

// TestHostPort_3_2 is the host/port table of §3.2.
func TestHostPort_3_2(t *testing.T) {
	tests := []struct {
		target, host, port string
		wantErr            error
	}{
		{"ivr://name", "name", "2949", nil},
		{"ivr://1.2.3.4", "1.2.3.4", "2949", nil},
		{"ivr://name:4000", "name", "4000", nil},
		{"ivr://name:ivr", "name", "ivr", nil}, // a service name, for the resolver
		{"ivr://name:", "name", "2949", nil},   // empty port: default (glibc)
		{"ivr://name:0", "name", "2949", nil},  // port 0: default
		{"ivr://[::1]", "::1", "2949", nil},
		{"ivr://[::1]:3000", "::1", "3000", nil},
		{"ivr://::1", "::1", "2949", nil},                   // two or more ':' : the whole string
		{"ivr://fe80::1:3000", "fe80::1:3000", "2949", nil}, // a port needs brackets
		{"ivr://[::1", "::1", "2949", nil},                  // no ']'
		{"ivr://[::1]junk", "::1", "2949", nil},             // junk ignored
		{"ivr://[::1]junk:5", "::1", "2949", nil},           //
		{"ivr://", "", "", ErrEmptyHost},
		{"ivr://:3000", "", "", ErrEmptyHost},
		{"/usr/bin/foo", "", "", ErrNotTCP},
		{"IVR://name", "", "", ErrNotTCP}, // the prefix is case-sensitive (§3)
	}
	for _, tt := range tests {
		app := App{Argv: []string{tt.target, "x"}}
		host, port, err := app.HostPort()
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("HostPort(%q) = %q, %q, %v; want error %v", tt.target, host, port, err, tt.wantErr)
			}
			continue
		}
		if err != nil || host != tt.host || port != tt.port || !app.IsTCP() {
			t.Errorf("HostPort(%q) = %q, %q, %v (IsTCP %v); want %q, %q", tt.target, host, port, err, app.IsTCP(), tt.host, tt.port)
		}
	}
}

// TestPReply_6: P replies the argv joined by ',', cut to 99 bytes (§6, §10 Q12).
func TestPReply_6(t *testing.T) {
	tests := []struct{ data, want string }{
		{"/usr/bin/foo(arg1,arg2)", "/usr/bin/foo,arg1,arg2"},
		{"ivr://host:4000(x)", "ivr://host:4000,x"},
		{"/usr/bin/foo()", "/usr/bin/foo,"},
		{"(a)", ",a"},
		// 22.10.1: eivr-05-opt-n-then-T.log, cut in the middle of "eivr-05-drv"
		{"/srv/ast/tools/eivr-client.py(/srv/ast/tools/eivr-scen/05.txt,/srv/ast/captures/eivr-05.log,eivr-05-drv),n",
			"/srv/ast/tools/eivr-client.py,/srv/ast/tools/eivr-scen/05.txt,/srv/ast/captures/eivr-05.log,eivr-05"},
	}
	for _, tt := range tests {
		app, err := ParseAppData(tt.data)
		if err != nil {
			t.Fatal(err)
		}
		if got := app.PReply(); got != tt.want {
			t.Errorf("PReply of %q = %q, want %q", tt.data, got, tt.want)
		}
	}
}

// TestParseError names the input.
func TestParseError(t *testing.T) {
	_, err := ParseAppData("/usr/bin/foo(a,b")
	if err == nil || !strings.Contains(err.Error(), `"/usr/bin/foo(a,b"`) || !strings.Contains(err.Error(), "parenthesis") {
		t.Errorf("error %v: want the input and the reason", err)
	}
	_, err = ParseStasisArgs([]string{"", "n"})
	if err == nil || !strings.Contains(err.Error(), `",n"`) {
		t.Errorf("error %v: want the input", err)
	}
}

// TestAppWarnings: what native ignores silently is reported to the caller.
func TestAppWarnings(t *testing.T) {
	app, err := ParseAppData("/bin/x(a)tail,nq,extra")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(app.Warnings, "\n")
	for _, want := range []string{`"tail"`, `"extra"`, `'q'`} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q do not mention %s", app.Warnings, want)
		}
	}
	app, _ = ParseStasisArgs([]string{"/bin/x", "n", "junk"})
	if len(app.Warnings) != 1 || !strings.Contains(app.Warnings[0], "junk") {
		t.Errorf("Stasis extraneous args: warnings %q", app.Warnings)
	}
}

// FormatAppData is the inverse of ParseAppData for argv elements that
// survive Asterisk's two passes (no '(' in the target, at most 31 arguments):
// every special byte is escaped twice.
func formatAppData(argv []string, opts string) string {
	esc := func(s string) string {
		var b strings.Builder
		for i := range len(s) {
			if strings.IndexByte(`\",()[]`, s[i]) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
		}
		return b.String()
	}
	var b strings.Builder
	b.WriteString(esc(esc(argv[0])))
	if len(argv) > 1 {
		b.WriteByte('(')
		for i, a := range argv[1:] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(esc(esc(a)))
		}
		b.WriteByte(')')
	}
	if opts != "" {
		b.WriteString("," + opts)
	}
	return b.String()
}

func FuzzParseAppData(f *testing.F) {
	for _, s := range []string{
		"/usr/bin/foo(a,b),n", "/usr/bin/foo()", "/usr/bin/foo(a(b,c),n", `/usr/bin/foo(\"a,b\",c)`,
		"ivr://[::1]:3000(x,y),i", ",n", "(a)", `a"b(c\)d`, "x,n(a(b)c)i", "x,i(\"))\")d", "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		app, err := ParseAppData(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != data {
				t.Fatalf("ParseAppData(%q) error %v is not a *ParseError naming the input", data, err)
			}
			return
		}
		if len(app.Argv) == 0 || len(app.Argv) > MaxArgv {
			t.Fatalf("ParseAppData(%q): %d argv elements", data, len(app.Argv))
		}
		if p := app.PReply(); len(p) > MaxPReply || !strings.HasPrefix(strings.Join(app.Argv, ","), p) {
			t.Fatalf("PReply %q", p)
		}
		if app.IsTCP() {
			_, _, _ = app.HostPort()
		}
		// The Stasis form gives the same argv.
		sApp, sErr := ParseStasisArgs(stasisArgs(data))
		if sErr != nil || !slices.Equal(sApp.Argv, app.Argv) {
			t.Fatalf("data %q: ParseAppData argv %q, Stasis form %q, %v", data, app.Argv, sApp.Argv, sErr)
		}
		// ... and the same options, unless the options hold what only
		// Stasis unescapes (ari-mapping.md §2.1).
		if f := SplitAppArgs(data, 2); len(f) == 2 && !strings.ContainsAny(f[1], `"\([`) && sApp.Options != app.Options {
			t.Fatalf("data %q: options %+v, Stasis form %+v", data, app.Options, sApp.Options)
		}
		// Round trip where one exists.
		if strings.IndexByte(app.Argv[0], '(') < 0 && len(app.Argv) < MaxArgv && (len(app.Argv) > 1 || app.Argv[0] != "") {
			again, err := ParseAppData(formatAppData(app.Argv, "nid"))
			if err != nil || !slices.Equal(again.Argv, app.Argv) || again.Options != (Options{true, true, true}) {
				t.Fatalf("round trip of %q via %q: %q, %+v, %v", app.Argv, formatAppData(app.Argv, "nid"), again.Argv, again.Options, err)
			}
		}
	})
}
