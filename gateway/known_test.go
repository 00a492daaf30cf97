package gateway

import (
	"strings"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// settled waits until the control lane has run everything queued so far:
// a D queued behind the sets is called only after their results were
// handled on the loop.
func (h *harness) settled(sets ...string) {
	h.t.Helper()
	h.cmd("D,9")
	h.expectCalls(sets...)
	if c := h.call(); !strings.HasPrefix(c, "dtmf 9 ") {
		h.t.Fatalf("REST call %q, want dtmf 9", c)
	}
}

// Issue 12 gaps 2 and 4: G answers what Asterisk cannot (a value that is
// not UTF-8, a channel already destroyed after the far end hung up) from
// what the session wrote, read or saw in its channel's channelvars.
func TestGFallsBackOnWhatTheSessionKnows(t *testing.T) {
	tests := []struct {
		name   string
		before []string          // commands while the channel exists
		sets   []string          // the REST sets they make
		vars   map[string]string // set in Asterisk beforehand
		snap   map[string]string // channelvars of the hang-up's snapshot
		after  []string          // commands after the hang-up
		asets  []string
		gets   []string
		want   string
	}{
		{name: "not UTF-8", before: []string{"V,CHOICE=caf\xe9"}, sets: []string{"set CHOICE=caf\xe9"},
			after: nil, gets: []string{"get CHOICE"}, want: "G,ts,CHOICE=caf\xe9"},
		{name: "set after hang-up", after: []string{"V,AFTER=1"}, asets: []string{"set AFTER=1"},
			gets: []string{"get AFTER"}, want: "G,ts,AFTER=1"},
		{name: "channelvars", snap: map[string]string{"PRESET": "preset-value"},
			gets: []string{"get PRESET", "get OTHER"}, want: "G,ts,PRESET=preset-value,OTHER="},
		{name: "read before", vars: map[string]string{"X": "1"}, before: []string{"G,X"}, gets: []string{"get X"},
			want: "G,ts,X=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, appSpec{ignoreHangup: true}, "Up", nil)
			h.ops.mu.Lock()
			for k, v := range tt.vars {
				h.ops.vars[k] = v
			}
			h.ops.mu.Unlock()
			h.cmd(tt.before...)
			for _, c := range tt.before {
				if c[0] == 'G' {
					h.expectCalls("get " + c[2:])
					h.expectLines("G,ts," + c[2:] + "=" + tt.vars[c[2:]])
				}
			}
			hangup := tt.after != nil || tt.snap != nil || tt.vars != nil
			if len(tt.sets) > 0 {
				h.settled(tt.sets...)
			}
			if hangup {
				h.ops.mu.Lock()
				h.ops.gone = true
				h.ops.mu.Unlock()
				h.event(&ari.Event{Kind: ari.KindChannelHangupRequest, Cause: 16, Channel: ari.Channel{ID: "c1", ChannelVars: tt.snap}})
				h.event(&ari.Event{Kind: ari.KindStasisEnd})
				h.expectLines("I,ts,HANGUP")
			}
			h.cmd(tt.after...)
			if len(tt.asets) > 0 {
				h.settled(tt.asets...)
			}
			var names []string
			for _, g := range tt.gets {
				names = append(names, strings.TrimPrefix(g, "get "))
			}
			h.cmd("G," + strings.Join(names, ","))
			h.expectCalls(tt.gets...)
			h.expectLines(tt.want)
		})
	}
}

// A value of the script's own is not replaced by a snapshot's.
func TestRememberPrefersTheScriptsValue(t *testing.T) {
	s := &session{ch: "c1"}
	s.remember("A", "mine", true)
	s.noteSnapshot(&ari.Channel{ID: "c1", ChannelVars: map[string]string{"A": "old", "B": "b"}})
	s.noteSnapshot(&ari.Channel{ID: "other", ChannelVars: map[string]string{"C": "c"}})
	for name, want := range map[string]string{"A": "mine", "B": "b"} {
		if v, ok := s.recall(name, ari.ErrNotFound); !ok || v != want {
			t.Errorf("recall(%s) = %q %v, want %q", name, v, ok, want)
		}
	}
	if _, ok := s.recall("C", ari.ErrNotFound); ok {
		t.Error("another channel's snapshot was remembered")
	}
	if _, ok := s.recall("B", ari.ErrVariableNotSet); ok {
		t.Error("a snapshot value answered a variable Asterisk says is not set")
	}
	for i := range maxKnown + 10 {
		s.remember("N"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "v", false)
	}
	if len(s.known) > maxKnown {
		t.Errorf("%d names remembered, bound %d", len(s.known), maxKnown)
	}
}
