package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/transcript"
)

// call builds a transcript from "ms type text" lines: "c" a command, "e"
// an event, "d" a caller digit/hang-up event, "p"/"f" a play start/end
// ("f! file": interrupted).
func call(t *testing.T, opts string, lines ...string) *transcript.Transcript {
	t.Helper()
	tr := &transcript.Transcript{Header: transcript.Header{
		V: transcript.Version, Type: transcript.TypeHeader, App: "eivr", Session: "s1",
		Argv: []string{"/recorded/menu.pl", "hello-world"}, Options: opts, Started: time.Now(),
	}}
	var last int64
	for _, l := range lines {
		var ms int64
		var typ, text string
		f := strings.SplitN(l, " ", 3)
		if _, err := fmt.Sscan(f[0], &ms); err != nil || len(f) < 3 {
			t.Fatalf("bad line %q", l)
		}
		typ, text = f[1], f[2]
		r := transcript.Record{US: ms * 1000}
		switch typ {
		case "c":
			r.Type, r.Line = transcript.TypeCommand, text
		case "e":
			r.Type, r.Line = transcript.TypeEvent, text
		case "d":
			r.Type, r.Line, r.Caller = transcript.TypeEvent, text, transcript.CallerDTMF
			if text[0] == 'H' || text[0] == 'I' {
				r.Caller = transcript.CallerHangup
			}
		case "p":
			r.Type, r.File = transcript.TypePlay, text
		case "f", "f!":
			r.Type, r.File, r.Interrupted = transcript.TypePlayed, text, typ == "f!"
		default:
			t.Fatalf("bad type in %q", l)
		}
		tr.Records = append(tr.Records, r)
		last = ms
	}
	tr.Records = append(tr.Records, transcript.Record{US: last * 1000, Type: transcript.TypeEnd, Served: true, DurationUS: last * 1000})
	return tr
}

// menuCall is a call to menu.pl: 4 (a digit during the greeting), 1 (V, G,
// S,beep) and 2 (E).
func menuCall(t *testing.T) *transcript.Transcript {
	return call(t, "",
		"1 c O,autoclear",
		"2 c S,hello-world",
		"3 p hello-world",
		"1000 d 4,1732355012",
		"1000 e T,1732355012,hello-world",
		"1000 f! hello-world",
		"1001 c A,digits/4",
		"1002 p digits/4",
		"1500 f digits/4",
		"1500 e F,1732355012,digits/4",
		"2000 d 1,1732355013",
		"2001 c V,MENU_CHOICE=1",
		"2002 c G,MENU_CHOICE",
		"2003 e G,1732355013,MENU_CHOICE=1",
		"2004 c S,beep",
		"2005 p beep",
		"2500 d 2,1732355014",
		"2500 e T,1732355014,beep",
		"2500 f! beep",
		"2501 c E,menu-exit",
		"2501 e E,1732355014",
	)
}

func menuPL(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl not installed")
	}
	p, err := filepath.Abs("../../internal/ivr/menu.pl")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// modified writes a copy of menu.pl that plays beep2 instead of beep.
func modified(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(menuPL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "menu2.pl")
	if err := os.WriteFile(p, bytes.ReplaceAll(src, []byte(`cmd("S,beep")`), []byte(`cmd("S,beep2")`)), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, tr *transcript.Transcript, opt Options) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*testwait.Long)
	defer cancel()
	res, err := Run(ctx, tr, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func diffText(r Result) string {
	var b bytes.Buffer
	r.WriteDiff(&b, "call", -1)
	return b.String()
}

func TestReplay(t *testing.T) {
	tests := []struct {
		name     string
		tr       func(t *testing.T) *transcript.Transcript
		program  func(t *testing.T) string
		equal    bool
		quiet    time.Duration // only for a script that goes another way
		diffHas  []string
		replayed string
	}{
		{"same script", menuCall, menuPL, true, 0, nil,
			"O,autoclear|S,hello-world|A,digits/4|V,MENU_CHOICE=1|G,MENU_CHOICE|S,beep|E,menu-exit|end: E"},
		{"modified script", menuCall, modified, false, 300 * time.Millisecond, []string{"- S,beep\n", "+ S,beep2\n"},
			// beep2 was never seen: Z; the 2, recorded after beep
			// started, comes after a quiet wait
			"O,autoclear|S,hello-world|A,digits/4|V,MENU_CHOICE=1|G,MENU_CHOICE|S,beep2|E,menu-exit|end: E"},
		{"caller hangs up", func(t *testing.T) *transcript.Transcript {
			return call(t, "",
				"1 c O,autoclear",
				"2 c S,hello-world",
				"3 p hello-world",
				"500 d 5,1732355012",
				"500 e T,1732355012,hello-world",
				"501 c A,digits/5",
				"900 d H,1732355013",
			)
		}, menuPL, true, 0, nil, "O,autoclear|S,hello-world|A,digits/5|end: hangup"},
		{"recorded missing file", func(t *testing.T) *transcript.Transcript {
			// the greeting was missing in the recording: Z again
			return call(t, "",
				"1 c O,autoclear",
				"2 c S,hello-world",
				"2 e Z,1732355012,hello-world",
				"500 d 3,1732355012",
				"501 c H,menu-hangup",
				"501 e H,1732355012",
			)
		}, menuPL, true, 0, nil, "O,autoclear|S,hello-world|H,menu-hangup|end: H"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.tr(t), Options{Program: tt.program(t), Speed: 50, Quiet: tt.quiet})
			if got := strings.Join(res.Replayed, "|"); got != tt.replayed {
				t.Errorf("replayed %s\n    want %s", got, tt.replayed)
			}
			if res.Equal() != tt.equal {
				t.Errorf("Equal %v, want %v:\n%s", res.Equal(), tt.equal, diffText(res))
			}
			d := diffText(res)
			for _, s := range tt.diffHas {
				if !strings.Contains(d, s) {
					t.Errorf("diff lacks %q:\n%s", s, d)
				}
			}
		})
	}
}

// A script that goes another way still ends: the caller acts after a
// quiet wait, and a script outliving the recording is ended.
func TestReplayDivergedScriptEnds(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "silent.sh")
	// reads its events, never writes a command
	if err := os.WriteFile(script, []byte("#!/bin/sh\nwhile read l; do :; done\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	res := run(t, menuCall(t), Options{Program: script, Speed: 50, Quiet: 100 * time.Millisecond})
	if res.Equal() {
		t.Fatalf("no difference:\n%s", diffText(res))
	}
	if got := strings.Join(res.Replayed, "|"); got != EndStillAlive && got != EndClosed {
		t.Errorf("replayed %q", got)
	}
}

func TestReplayRefuses(t *testing.T) {
	red := call(t, "", "1 c S,x", "2 d X,1732355012")
	if _, err := Run(context.Background(), red, Options{Program: "/bin/true"}); !errors.Is(err, ErrRedacted) {
		t.Errorf("redacted: %v, want ErrRedacted", err)
	}
	empty := call(t, "", "1 c S,x")
	empty.Header.Argv = nil
	if _, err := Run(context.Background(), empty, Options{Program: "/bin/true"}); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v, want ErrEmpty", err)
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		a, b string
		want string
	}{
		{"a b c", "a b c", " a| b| c"},
		{"a b c", "a x c", " a|-b|+x| c"},
		{"a b", "a b c", " a| b|+c"},
		{"a b c", "b", "-a| b|-c"},
		{"", "x", "+x"},
	}
	for _, tt := range tests {
		var got []string
		for _, d := range Diff(strings.Fields(tt.a), strings.Fields(tt.b)) {
			got = append(got, string(d.Op)+d.Text)
		}
		if g := strings.Join(got, "|"); g != tt.want {
			t.Errorf("Diff(%q, %q) = %q, want %q", tt.a, tt.b, g, tt.want)
		}
	}
}
