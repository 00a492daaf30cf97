package ari_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

const deadline = 10 * time.Second

// chanHandler forwards the stream to channels.
type chanHandler struct {
	conns chan ari.ConnInfo
	evs   chan *ari.Event
	disc  chan error
}

func newChanHandler() *chanHandler {
	return &chanHandler{conns: make(chan ari.ConnInfo, 16), evs: make(chan *ari.Event, 4096), disc: make(chan error, 16)}
}

func (h *chanHandler) Connected(info ari.ConnInfo) { h.conns <- info }
func (h *chanHandler) Event(ev *ari.Event)         { h.evs <- ev }
func (h *chanHandler) Disconnected(err error)      { h.disc <- err }

func (h *chanHandler) connected(t *testing.T, seq int) {
	t.Helper()
	select {
	case info := <-h.conns:
		if info.Seq != seq {
			t.Fatalf("Connected seq %d, want %d", info.Seq, seq)
		}
	case <-time.After(deadline):
		t.Fatalf("no Connected %d", seq)
	}
}

// wait returns the next event of kind k matching ok, skipping others.
func (h *chanHandler) wait(t *testing.T, k ari.Kind, ok func(*ari.Event) bool) *ari.Event {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case ev := <-h.evs:
			if ev.Kind == k && (ok == nil || ok(ev)) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event", k)
			return nil
		}
	}
}

func startClient(t *testing.T, url string, h ari.Handler) *ari.Client {
	t.Helper()
	c, err := ari.NewClient(ari.Config{URL: url, Username: "asterisk", Password: "asterisk", Apps: []string{"gw"},
		BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(deadline):
			t.Error("Run did not return")
		}
		c.Close()
	})
	return c
}

// TestAgainstAritest runs the client against the fake Asterisk: a call
// through answer, playback, variables, DTMF, a dropped socket, a takeover
// and a hangup.
func TestAgainstAritest(t *testing.T) {
	srv, err := aritest.NewServer(aritest.Options{Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	h := newChanHandler()
	c := startClient(t, srv.URL(), h)
	ctx := t.Context()
	h.connected(t, 1)

	id, err := srv.StartCall("gw", []string{"ivr://x(a)", "n"}, aritest.CallOptions{ID: "call-1"})
	if err != nil {
		t.Fatal(err)
	}
	ev := h.wait(t, ari.KindStasisStart, nil)
	if ev.Channel.ID != id || ev.Channel.State != "Ring" || !slices.Equal(ev.Args, []string{"ivr://x(a)", "n"}) || ev.Timestamp.IsZero() || ev.Application != "gw" {
		t.Errorf("StasisStart = %+v", ev)
	}
	if err := c.Answer(ctx, id); err != nil {
		t.Fatal(err)
	}
	h.wait(t, ari.KindChannelStateChange, func(ev *ari.Event) bool { return ev.Channel.State == "Up" })

	pb, err := c.Play(ctx, id, "pb-1", []string{"sound:beep"}, "")
	if err != nil || pb.ID != "pb-1" || pb.TargetURI != "channel:"+id {
		t.Fatalf("Play = %+v, %v", pb, err)
	}
	h.wait(t, ari.KindPlaybackStarted, func(ev *ari.Event) bool { return ev.Playback.PlaybackID() == "pb-1" })
	ev = h.wait(t, ari.KindPlaybackFinished, func(ev *ari.Event) bool { return ev.Playback.PlaybackID() == "pb-1" })
	if ev.Playback.PlaybackState() != "done" {
		t.Errorf("PlaybackFinished state %q", ev.Playback.PlaybackState())
	}
	if _, err := c.GetPlayback(ctx, "pb-1"); !errors.Is(err, ari.ErrNotFound) {
		t.Errorf("GetPlayback after the end: %v, want ErrNotFound", err)
	}

	if _, err := c.GetVariable(ctx, id, "NOPE"); !errors.Is(err, ari.ErrVariableNotSet) || errors.Is(err, ari.ErrNotFound) {
		t.Errorf("unset variable: %v", err)
	}
	if _, err := c.GetVariable(ctx, "no-such-channel", "X"); !errors.Is(err, ari.ErrNotFound) || errors.Is(err, ari.ErrVariableNotSet) {
		t.Errorf("missing channel: %v", err)
	}
	if err := c.SetVariable(ctx, id, "FOO", "a b,c"); err != nil {
		t.Fatal(err)
	}
	ev = h.wait(t, ari.KindChannelVarset, func(ev *ari.Event) bool { return ev.Variable == "FOO" })
	if ev.Value != "a b,c" || ev.Channel.ID != id {
		t.Errorf("ChannelVarset = %+v", ev)
	}
	if v, err := c.GetVariable(ctx, id, "FOO"); err != nil || v != "a b,c" {
		t.Errorf("GetVariable = %q, %v", v, err)
	}

	if err := srv.PressDTMF(id, '5', 120*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ev = h.wait(t, ari.KindChannelDtmfReceived, nil)
	if ev.Digit != "5" || ev.DurationMs != 120 || ev.Channel.ID != id {
		t.Errorf("DTMF = %q %d", ev.Digit, ev.DurationMs)
	}

	app, err := c.GetApplication(ctx, "gw")
	if err != nil || !slices.Contains(app.ChannelIDs, id) {
		t.Errorf("GetApplication = %+v, %v", app, err)
	}
	if ch, err := c.GetChannel(ctx, id); err != nil || ch.ID != id || ch.State != "Up" || ch.Name == "" {
		t.Errorf("GetChannel = %+v, %v", ch, err)
	}
	if chs, err := c.ListChannels(ctx); err != nil || len(chs) == 0 {
		t.Errorf("ListChannels = %d, %v", len(chs), err)
	}
	if snds, err := c.Sounds(ctx, "en"); err != nil || len(snds) == 0 {
		t.Errorf("Sounds = %d, %v", len(snds), err)
	}
	if info, err := c.AsteriskInfo(ctx); err != nil || info.System.EntityID == "" {
		t.Errorf("AsteriskInfo = %+v, %v", info, err)
	}

	// Bad frames are skipped; the stream goes on.
	srv.SendMalformed()
	if err := srv.PressDTMF(id, '7', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	h.wait(t, ari.KindChannelDtmfReceived, func(ev *ari.Event) bool { return ev.Digit == "7" })
	if c.Stats().DecodeErrors != 1 {
		t.Errorf("stats %+v, want 1 decode error", c.Stats())
	}

	// A dropped socket: Disconnected, then Connected 2 and events again.
	srv.DropWebSockets()
	select {
	case <-h.disc:
	case <-time.After(deadline):
		t.Fatal("no Disconnected")
	}
	h.connected(t, 2)
	if err := srv.PressDTMF(id, '9', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	h.wait(t, ari.KindChannelDtmfReceived, func(ev *ari.Event) bool { return ev.Digit == "9" })

	// Hang up: cause 32 soft, then StasisEnd.
	if err := c.Hangup(ctx, id, "normal"); err != nil {
		t.Fatal(err)
	}
	ev = h.wait(t, ari.KindChannelHangupRequest, nil)
	if ev.Cause != 32 || !ev.Soft {
		t.Errorf("ChannelHangupRequest cause %d soft %v", ev.Cause, ev.Soft)
	}
	h.wait(t, ari.KindStasisEnd, func(ev *ari.Event) bool { return ev.Channel.ID == id })
	if err := c.Answer(ctx, id); !errors.Is(err, ari.ErrNotFound) && !errors.Is(err, ari.ErrConflict) {
		t.Errorf("Answer after hangup: %v", err)
	}

	// Another client takes the app over: the first is told, is not Ready,
	// and does not take it back.
	if !c.Ready() {
		t.Fatal("not Ready before the takeover")
	}
	h2 := newChanHandler()
	startClient(t, srv.URL(), h2)
	h2.connected(t, 1)
	h.wait(t, ari.KindApplicationReplaced, nil)
	testwait.Until(t, deadline, "not Ready after ApplicationReplaced", func() bool { return !c.Ready() })
	id2, err := srv.StartCall("gw", nil, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := h2.wait(t, ari.KindStasisStart, nil); ev.Channel.ID != id2 {
		t.Errorf("new owner got %+v", ev)
	}
	select {
	case info := <-h.conns:
		t.Errorf("replaced client reconnected: %+v", info)
	default:
	}
}
