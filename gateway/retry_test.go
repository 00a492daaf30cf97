package gateway

import (
	"context"
	"testing"
)

// The session that left a channel unreleased is still registered while its
// serve goroutine finishes; the retry loop may look at the channel in that
// window (the queueing kicks it). That session must not count as one that
// took the channel back: CI lost a background release this way. Another
// session, or an admission on its way, does take it back.
func TestRetryKeptWhileEndingSessionRegistered(t *testing.T) {
	g, err := New(Config{Apps: []AppConfig{{Name: "eivr"}}, NoIdleSilence: true}, newBenchARI())
	if err != nil {
		t.Fatal(err)
	}
	slots := make(chan struct{}) // no slot: nothing starts, only the bookkeeping runs
	for _, tc := range []struct {
		name     string
		register string // id of the session registered for the channel ("" none)
		admit    bool
		kept     bool
	}{
		{"ending session still registered", "s1", false, true},
		{"nothing registered", "", false, true},
		{"a new session owns it", "s2", false, false},
		{"an admission is on its way", "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const ch = "c1"
			g.mu.Lock()
			clear(g.retry)
			clear(g.sessions)
			clear(g.admitting)
			if tc.register != "" {
				g.sessions[ch] = &session{id: tc.register, ch: ch}
			}
			if tc.admit {
				g.admitting[ch] = &admission{}
			}
			g.queueReleaseLocked(ch, "s1", endHangup, StatusDenied)
			g.mu.Unlock()
			g.startDueRetries(context.Background(), slots)
			g.mu.Lock()
			_, kept := g.retry[ch]
			g.mu.Unlock()
			if kept != tc.kept {
				t.Errorf("retry entry kept: %v, want %v", kept, tc.kept)
			}
		})
	}
}
