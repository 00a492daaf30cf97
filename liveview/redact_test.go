package liveview

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/transcript"
)

// lines is an Observer that keeps what it is told (a fake).
type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) add(s string)                           { l.mu.Lock(); defer l.mu.Unlock(); l.got = append(l.got, s) }
func (l *lines) SessionStarted(s gateway.SessionInfo)   { l.add("start " + s.Session) }
func (l *lines) SessionLine(w gateway.WireLine)         { l.add(w.Session + " " + w.Line) }
func (l *lines) SessionPlayback(p gateway.PlaybackNote) { l.add(p.Session + " play " + p.File) }
func (l *lines) SessionEnded(r gateway.Report)          { l.add("end " + r.Session) }

func TestRedact(t *testing.T) {
	rules := func(app string) transcript.Redaction {
		if app == "bank" {
			return transcript.Redaction{DTMF: true, Vars: []string{"PIN"}}
		}
		return transcript.Redaction{}
	}
	tests := []struct {
		app  string
		want []string
	}{
		{"bank", []string{"start s", "s V,PIN=[redacted]", "s X,1764763200", "s play beep", "end s"}},
		{"menu", []string{"start s", "s V,PIN=1234", "s 7,1764763200", "s play beep", "end s"}},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			got := &lines{}
			o := Redact(got, rules)
			o.SessionStarted(gateway.SessionInfo{App: tt.app, Session: "s"})
			o.SessionLine(gateway.WireLine{Session: "s", Line: "V,PIN=1234"})
			o.SessionLine(gateway.WireLine{Session: "s", Sent: true, Line: "7,1764763200"})
			o.SessionPlayback(gateway.PlaybackNote{Session: "s", File: "beep"})
			o.SessionEnded(gateway.Report{App: tt.app, Session: "s"})
			if strings.Join(got.got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q\nwant %q", got.got, tt.want)
			}
			if n := len(o.(*redacting).sessions); n != 0 {
				t.Errorf("%d sessions left after the end", n)
			}
		})
	}
	if Redact(nil, rules) != nil {
		t.Error("Redact(nil) is not nil")
	}
}

// TestRedactConcurrent: sessions of several apps at once (for -race).
func TestRedactConcurrent(t *testing.T) {
	got := &lines{}
	o := Redact(got, func(string) transcript.Redaction { return transcript.Redaction{DTMF: true} })
	var wg sync.WaitGroup
	for n := range 8 {
		wg.Go(func() {
			s := fmt.Sprint("s", n)
			o.SessionStarted(gateway.SessionInfo{App: "a", Session: s})
			for range 20 {
				o.SessionLine(gateway.WireLine{Session: s, Sent: true, Line: "5,1"})
			}
			o.SessionEnded(gateway.Report{Session: s})
		})
	}
	wg.Wait()
	for _, l := range got.got {
		if strings.HasSuffix(l, " 5,1") {
			t.Fatalf("a digit passed: %q", l)
		}
	}
}
