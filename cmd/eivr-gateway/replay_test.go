package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/transcript"
)

// A demo call recorded by `run` (menu.pl on aritest, transcripts on)
// replays identically against the same script (exit 0, no diff) and
// reports a diff (exit 1) against a modified copy; --check does the same
// for the folder.
func TestTranscriptRecordAndReplay(t *testing.T) {
	sim := newSim(t, 20)
	menu := menuPath(t)
	dir := t.TempDir()
	trDir := filepath.Join(dir, "transcripts")
	p := writeFile(t, dir, "gw.toml", runConfig(sim, menu, "transcripts = \""+trDir+"\"\nredact_vars = [\"PIN\"]\n"))
	g := startGateway(t, dir, p)
	g.waitLog("ARI connected", nil)

	scriptLog := filepath.Join(dir, "menu.log")
	ch, err := sim.StartCall("eivr", []string{menu + "(hello-world," + scriptLog + ")"}, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g.waitLog("session started", map[string]string{"channel": ch})
	// The caller: 4 (appends digits/4), 1 (V, G, then S,beep), 2 (E);
	// each once the script has seen the one before.
	for _, d := range []struct {
		digit rune
		seen  string
	}{{'4', "4,"}, {'1', "G,"}, {'2', "E,"}} {
		if err := sim.PressDTMF(ch, d.digit, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		testwait.Until(t, testwait.Long, "menu.pl read "+d.seen, func() bool {
			b, _ := os.ReadFile(scriptLog)
			return bytes.Contains(b, []byte("\n"+d.seen)) || bytes.HasPrefix(b, []byte(d.seen))
		})
	}
	waitEnd(t, sim, ch)
	var file string
	testwait.Until(t, testwait.Long, "the transcript has its end record", func() bool {
		files, _ := filepath.Glob(filepath.Join(trDir, "*.jsonl"))
		if len(files) != 1 {
			return false
		}
		f, err := os.Open(files[0])
		if err != nil {
			return false
		}
		defer f.Close()
		tr, err := transcript.Read(f)
		if err != nil {
			return false
		}
		_, ok := tr.End()
		file = files[0]
		return ok
	})
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("transcript mode %v (%v), want 0600", fi.Mode(), err)
	}

	// The same script (the recorded argv).
	r := runBin(t, dir, 2*testwait.Long, nil, "replay", file, "--speed", "4")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote the 7 recorded commands") {
		t.Errorf("replay against the same script: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	// A modified copy: beep2 instead of beep.
	src, err := os.ReadFile(menu)
	if err != nil {
		t.Fatal(err)
	}
	modified := writeFile(t, dir, "menu2.pl", strings.ReplaceAll(string(src), `cmd("S,beep")`, `cmd("S,beep2")`))
	if err := os.Chmod(modified, 0o700); err != nil {
		t.Fatal(err)
	}
	r = runBin(t, dir, 2*testwait.Long, nil, "replay", file, "--program", modified, "--speed", "4", "--quiet", "500ms")
	if r.code != 1 || !strings.Contains(r.stdout, "- S,beep\n") || !strings.Contains(r.stdout, "+ S,beep2\n") {
		t.Errorf("replay against a modified script: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	// The folder as a regression suite.
	r = runBin(t, dir, 2*testwait.Long, nil, "replay", "--check", trDir, "--speed", "4")
	if r.code != 0 || !strings.Contains(r.stdout, "1 of 1 transcripts replayed identically") {
		t.Errorf("replay --check: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBin(t, dir, 2*testwait.Long, nil, "replay", "--check", trDir, "--program", modified, "--speed", "4", "--quiet", "500ms")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  "+file) || !strings.Contains(r.stdout, "0 of 1 transcripts") {
		t.Errorf("replay --check, modified: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestReplayUsage(t *testing.T) {
	for _, args := range [][]string{
		{"replay"},
		{"replay", "a.jsonl", "b.jsonl"},
		{"replay", "--program", "/x", "--tcp", "h:1", "a.jsonl"},
		{"replay", "--speed", "0", "a.jsonl"},
		{"replay", "--check", "dir", "a.jsonl"},
	} {
		var out, errb bytes.Buffer
		if code := dispatch(t.Context(), args, env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
}
