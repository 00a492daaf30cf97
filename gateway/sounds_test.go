package gateway

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func TestLanguages(t *testing.T) {
	tests := map[string][]string{
		"":            {"", "en"},
		"en":          {"en", ""},
		"fr":          {"fr", "", "en"},
		"en_GB_style": {"en_GB_style", "en_GB", "en", ""},
		"pt_BR":       {"pt_BR", "pt", "", "en"},
	}
	for in, want := range tests {
		if got := languages(in); !reflect.DeepEqual(got, want) {
			t.Errorf("languages(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDiskSounds(t *testing.T) {
	dir := t.TempDir()
	abs := t.TempDir()
	for _, f := range []string{
		filepath.Join(dir, "en", "beep.gsm"),
		filepath.Join(dir, "en", "digits", "1.wav"),
		filepath.Join(dir, "fr", "bonjour.ulaw"),
		filepath.Join(dir, "rootfile.gsm"),
		filepath.Join(abs, "en", "custom.sln16"),
		filepath.Join(abs, "plain.gsm"),
	} {
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, nil, 0o644)
	}
	d := diskSounds{dir: dir}
	tests := []struct {
		name, lang string
		want       bool
	}{
		{"beep", "en", true},
		{"beep", "fr", true}, // falls back to en
		{"beep.gsm", "en", false},
		{"digits/1", "en", true},
		{"bonjour", "fr_CA", true},
		{"bonjour", "en", false},
		{"rootfile", "en", true}, // no-language directory
		{"no-such-file", "en", false},
		{filepath.Join(abs, "custom"), "en", true},
		{filepath.Join(abs, "plain"), "de", true},
		{"/nonexistent/path/file", "en", false},
		{"http://example.com/x.wav", "en", true},
	}
	for _, tt := range tests {
		if ok, known := d.cached(tt.name, tt.lang); !known || ok != tt.want {
			t.Errorf("exists(%q, %q) = %v, %v; want %v", tt.name, tt.lang, ok, known, tt.want)
		}
	}
}

// doneCounter counts the calls of Done: a check waiting on another's fetch
// selects on it.
type doneCounter struct {
	context.Context
	n atomic.Int32
}

func (c *doneCounter) Done() <-chan struct{} {
	c.n.Add(1)
	return c.Context.Done()
}

type fakeLister struct {
	root  string // ASTDATADIR/sounds as Asterisk reported it
	calls atomic.Int32
	gate  chan struct{}
	err   error
}

func (f *fakeLister) soundIndex(ctx context.Context) (soundTree, error) {
	f.calls.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	if f.err != nil {
		return soundTree{}, f.err
	}
	return soundTree{root: f.root, ids: map[string][]string{"beep": {"en"}, "digits/1": {"en"}, "bonjour": {"fr"}, "foo": {"custom"}}}, nil
}

func TestARISoundsCacheShared(t *testing.T) {
	l := &fakeLister{gate: make(chan struct{})}
	now := time.Unix(0, 0)
	a := &ariSounds{lister: l, ttl: time.Minute, now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler)}
	if _, known := a.cached("beep", "en"); known {
		t.Fatal("known before any fetch")
	}
	var wg sync.WaitGroup
	res := make([]bool, 10)
	ctx := &doneCounter{Context: context.Background()}
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = a.check(ctx, "beep", "en")
		}()
	}
	// One caller fetches (the lister counts it); every other one queues on
	// that fetch, which it does by selecting on ctx.Done().
	testwait.Until(t, testwait.Long, "one fetch runs and 9 callers wait on it", func() bool {
		return l.calls.Load() == 1 && ctx.n.Load() == int32(len(res)-1)
	})
	close(l.gate)
	wg.Wait()
	for i, r := range res {
		if !r {
			t.Errorf("check %d = false", i)
		}
	}
	if n := l.calls.Load(); n != 1 {
		t.Errorf("GET /sounds made %d times, want 1", n)
	}
	for _, tt := range []struct {
		name, lang string
		want       bool
	}{
		{"beep", "fr", true}, {"bonjour", "fr_CA", true}, {"bonjour", "en", false},
		{"custom/foo", "en", true}, // sounds/custom/foo: "foo" in language "custom" (ari-23)
		{"custom/bar", "en", false}, {"no-such", "en", false}, {"/abs/path", "en", true},
	} {
		if ok, known := a.cached(tt.name, tt.lang); !known || ok != tt.want {
			t.Errorf("cached(%q,%q) = %v,%v want %v", tt.name, tt.lang, ok, known, tt.want)
		}
	}
	now = now.Add(2 * time.Minute)
	if _, known := a.cached("beep", "en"); known {
		t.Error("still known after the TTL")
	}
}

func TestARISoundsFailureAccepts(t *testing.T) {
	l := &fakeLister{err: errors.New("boom")}
	a := &ariSounds{lister: l, ttl: time.Minute, now: time.Now, log: slog.New(slog.DiscardHandler)}
	if !a.check(context.Background(), "anything", "en") {
		t.Error("a failed GET /sounds rejected the name")
	}
}

// Issue 12 gap 3: without sounds_dir the check resolves names against the
// sounds tree as ast_fileexists does (measured natively on Asterisk
// 22.10.1: "../sounds/en/beep" plays, ".../sounds/en/beep.gsm" and
// "beep.gsm" get Z), and checks absolute paths into the sounds directory
// once Asterisk has told its data directory.
func TestSoundTreeLikeFileExists(t *testing.T) {
	ids := map[string][]string{"beep": {"en"}, "digits/1": {"en"}, "bonjour": {"fr"}, "foo": {"custom"}}
	const root = "/var/lib/asterisk/sounds"
	tests := []struct {
		name, lang string
		root       string
		want       bool
	}{
		{"beep", "en", root, true},
		{"beep.gsm", "en", root, false}, // the extension is appended natively: beep.gsm.gsm
		{"../sounds/en/beep", "en", root, true},
		{"../sounds/en/beep", "en", "", true}, // data directory unknown: resolved the same way
		{"en/../beep", "fr", "", true},
		{"../sounds/en/nope", "en", "", false},
		{"../../../etc/passwd", "en", "", true}, // leaves the tree: not checkable, accepted
		{"digits/../digits/1", "en", "", true},
		{"custom/foo", "en", "", true},
		{root + "/en/beep", "en", root, true},
		{root + "/en/beep.gsm", "en", root, false},
		{root + "/beep", "en", root, true}, // <dir>/<lang>/<file>: .../sounds/en/beep
		{root + "/beep", "fr", root, true}, // then the en fallback
		{root + "/fr/beep", "en", root, false},
		{root + "/../sounds/en/beep", "en", root, true},
		{root + "/en/beep.gsm", "en", "", true},   // data directory unknown: accepted unchecked
		{"/elsewhere/beep.gsm", "en", root, true}, // outside the sounds directory: accepted unchecked
	}
	for _, tt := range tests {
		tree := &soundTree{ids: ids, root: tt.root}
		if got := tree.exists(tt.name, tt.lang); got != tt.want {
			t.Errorf("exists(%q, %q) with root %q = %v, want %v", tt.name, tt.lang, tt.root, got, tt.want)
		}
	}
}

// An absolute path is answered from the cached index like any name (Z at
// once, as native), and accepted before Asterisk has told its data
// directory.
func TestARISoundsAbsolutePath(t *testing.T) {
	const root = "/var/lib/asterisk/sounds"
	a := &ariSounds{lister: &fakeLister{root: root}, ttl: time.Minute, now: time.Now, log: slog.New(slog.DiscardHandler)}
	if _, known := a.cached(root+"/en/beep.gsm", "en"); known {
		t.Fatal("an absolute path was answered before the index was fetched")
	}
	if a.check(context.Background(), root+"/en/beep.gsm", "en") {
		t.Error("missing absolute path accepted")
	}
	if ok, known := a.cached(root+"/en/beep", "en"); !ok || !known {
		t.Errorf("cached(existing absolute path) = %v, %v", ok, known)
	}
}
