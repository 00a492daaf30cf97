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

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
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
	root    string // ASTDATADIR/sounds as Asterisk reported it
	calls   atomic.Int32
	gate    chan struct{}
	err     error
	lastCtx atomic.Pointer[context.Context] // the ctx of the last fetch
}

func (f *fakeLister) soundIndex(ctx context.Context) (soundTree, error) {
	f.lastCtx.Store(&ctx)
	f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return soundTree{}, ctx.Err()
		}
	}
	if f.err != nil {
		return soundTree{}, f.err
	}
	return soundTree{root: f.root, ids: map[string][]string{"beep": {"en"}, "digits/1": {"en"}, "bonjour": {"fr"}, "foo": {"custom"}}}, nil
}

// newARISounds is the cache as the gateway builds it, on the clock now.
func newARISounds(l soundLister, now func() time.Time) *ariSounds {
	return &ariSounds{lister: l, ttl: time.Minute, fetchTimeout: soundsFetchTimeout, failTTL: soundsFailTTL,
		now: now, log: slog.New(slog.DiscardHandler)}
}

func TestARISoundsCacheShared(t *testing.T) {
	l := &fakeLister{gate: make(chan struct{})}
	now := time.Unix(0, 0)
	a := newARISounds(l, func() time.Time { return now })
	defer a.close()
	if _, known := a.cached("beep", "en"); known {
		t.Fatal("known before any fetch")
	}
	var wg sync.WaitGroup
	res := make([]bool, 10)
	ctx := &doneCounter{Context: context.Background()}
	for i := range res {
		wg.Go(func() { res[i] = a.check(ctx, "beep", "en") })
	}
	// One fetch runs (the lister counts it); every caller, the one that
	// started it included, waits on it by selecting on its ctx.Done().
	testwait.Until(t, testwait.Long, "one fetch runs and 10 callers wait on it", func() bool {
		return l.calls.Load() == 1 && ctx.n.Load() == int32(len(res))
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

// The caller whose check started the fetch leaves (its session ended):
// it gets an optimistic answer at once, and the fetch, which runs under a
// context of its own with a deadline, goes on for the caller still
// waiting, which gets the real answer from the one GET /sounds.
func TestARISoundsWaiterLeaves(t *testing.T) {
	l := &fakeLister{gate: make(chan struct{})}
	a := newARISounds(l, time.Now)
	defer a.close()
	firstCtx, leave := context.WithCancel(context.Background())
	defer leave()
	first := make(chan bool, 1)
	go func() { first <- a.check(firstCtx, "no-such", "en") }()
	testwait.Until(t, testwait.Long, "the fetch runs", func() bool { return l.calls.Load() == 1 })
	other := &doneCounter{Context: context.Background()}
	second := make(chan bool, 1)
	go func() { second <- a.check(other, "no-such", "en") }()
	testwait.Until(t, testwait.Long, "the second caller waits on the fetch", func() bool { return other.n.Load() > 0 })

	leave()
	if !<-first {
		t.Error("the caller that left got false, want the optimistic true")
	}
	fetchCtx := *l.lastCtx.Load()
	if err := fetchCtx.Err(); err != nil {
		t.Fatalf("the fetch was cancelled with its first caller: %v", err)
	}
	if dl, ok := fetchCtx.Deadline(); !ok || time.Until(dl) > soundsFetchTimeout {
		t.Errorf("fetch deadline %v (set %v), want within %v", dl, ok, soundsFetchTimeout)
	}
	close(l.gate)
	if <-second {
		t.Error("the waiting caller got true for a missing file: it did not get the fetched index")
	}
	if n := l.calls.Load(); n != 1 {
		t.Errorf("GET /sounds made %d times, want 1", n)
	}
}

// close cuts a running fetch short (the gateway's Run ends) and waits for
// it; its waiters accept the name.
func TestARISoundsClose(t *testing.T) {
	l := &fakeLister{gate: make(chan struct{})}
	a := newARISounds(l, time.Now)
	res := make(chan bool, 1)
	go func() { res <- a.check(context.Background(), "no-such", "en") }()
	testwait.Until(t, testwait.Long, "the fetch runs", func() bool { return l.calls.Load() == 1 })
	a.close()
	if err := (*l.lastCtx.Load()).Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("fetch ctx after close: %v, want context.Canceled", err)
	}
	if !<-res {
		t.Error("a waiter of the cut fetch got false, want the optimistic true")
	}
	if !a.check(context.Background(), "no-such", "en") || l.calls.Load() != 1 {
		t.Errorf("a check after close fetched (%d fetches) or rejected", l.calls.Load())
	}
}

// A failed GET /sounds (Asterisk down) is remembered for soundsFailTTL:
// names are accepted unchecked, or checked against the previous index when
// there is one, without asking Asterisk again; then the next check
// fetches again. Counted in aritest's request log; the clock is the
// test's.
func TestARISoundsNegativeCache(t *testing.T) {
	srv, err := aritest.NewServer(aritest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := ari.NewClient(ari.Config{URL: srv.URL(), Username: "asterisk", Password: "asterisk", Apps: []string{"eivr"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	gets := func() (ok, failed int) {
		for _, r := range srv.Requests() {
			if r.Method == "GET" && r.Path == "/sounds" {
				if r.Status == 200 {
					ok++
				} else {
					failed++
				}
			}
		}
		return ok, failed
	}
	tests := []struct {
		name  string
		stale bool // an index was fetched before the failure
		// what check("no-such") answers during the negative cache
		during bool
	}{
		{name: "no index yet: accepted unchecked", during: true},
		{name: "stale index answers", stale: true, during: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			a := newARISounds(soundsAdapter{cl}, func() time.Time { return now })
			defer a.close()
			ok0, failed0 := gets()
			if tt.stale {
				if a.check(context.Background(), "no-such", "en") {
					t.Fatal("missing file accepted with Asterisk up")
				}
				now = now.Add(2 * a.ttl) // the index expires
			}
			srv.FailREST("GET", "/sounds", 500, 1)
			if got := a.check(context.Background(), "no-such", "en"); got != tt.during {
				t.Errorf("check after the failed fetch = %v, want %v", got, tt.during)
			}
			if !a.check(context.Background(), "beep", "en") {
				t.Error("existing file rejected")
			}
			now = now.Add(soundsFailTTL - time.Millisecond)
			if got := a.check(context.Background(), "no-such", "en"); got != tt.during {
				t.Errorf("check within the negative cache = %v, want %v", got, tt.during)
			}
			wantOK := ok0
			if tt.stale {
				wantOK++
			}
			if ok, failed := gets(); ok != wantOK || failed != failed0+1 {
				t.Errorf("GET /sounds within the negative cache: %d ok, %d failed; want %d, %d", ok-ok0, failed-failed0, wantOK-ok0, 1)
			}
			now = now.Add(time.Millisecond) // the failure expires: fetch again
			if a.check(context.Background(), "no-such", "en") {
				t.Error("missing file accepted after the retry")
			}
			if ok, failed := gets(); ok != wantOK+1 || failed != failed0+1 {
				t.Errorf("GET /sounds after the negative cache: %d ok, %d failed; want %d, %d", ok-ok0, failed-failed0, wantOK+1-ok0, 1)
			}
		})
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
	a := newARISounds(&fakeLister{root: root}, time.Now)
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
