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

type fakeLister struct {
	calls atomic.Int32
	gate  chan struct{}
	err   error
}

func (f *fakeLister) soundIndex(ctx context.Context) (map[string][]string, error) {
	f.calls.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	if f.err != nil {
		return nil, f.err
	}
	return map[string][]string{"beep": {"en"}, "digits/1": {"en"}, "bonjour": {"fr"}, "foo": {"custom"}}, nil
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
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = a.check(context.Background(), "beep", "en")
		}()
	}
	time.Sleep(10 * time.Millisecond) // let them all queue on the one fetch
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
