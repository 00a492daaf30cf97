package reorder

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// One test per rule of doc.go, in its order.

func TestInOrderDeliversInsidePush(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(Config{Clock: clk}, s) // default windows: DTMF and playback have none
	r.Push(0, start("c1", 0, "Up"))
	expect(t, s, "c1:StasisStart")
	r.Push(0, pb(ari.KindPlaybackStarted, "c1", 1, "p1"))
	r.Push(0, dtmf("c1", 2, "1"))
	r.Push(0, pb(ari.KindPlaybackFinished, "c1", 3, "p1"))
	// No Tick: everything left inside Push.
	expect(t, s, "c1:PlaybackStarted(p1) c1:ChannelDtmfReceived(1) c1:PlaybackFinished(p1)")
	st := r.Stats()
	must(t, st.Held == 0 && st.Reordered == 0 && st.Pending == 0, "stats %+v", st)
}

func TestPreStasisKindsPassThrough(t *testing.T) {
	// ari-14: an originated channel gets ChannelVarset, ChannelCallerId, Dial
	// and ChannelStateChange before its StasisStart (ChannelCreated may never come).
	clk := newFakeClock()
	s := &recSink{}
	r := New(noWindows(clk), s)
	r.Push(0, varset("c1", 0, "MYVAR"))
	r.Push(0, mk(ari.KindChannelCallerId, "c1", 0))
	d := mk(ari.KindDial, "", 0)
	d.Peer = &ari.Channel{ID: "c1", State: "Ringing"}
	d.DialStatus = "RINGING"
	r.Push(0, d)
	r.Push(0, sc("c1", 1, "Ringing"))
	r.Push(0, sc("c1", 1000, "Up"))
	r.Push(0, start("c1", 1001, "Up"))
	expect(t, s, "c1:ChannelVarset(MYVAR) c1:ChannelCallerId c1:Dial c1:ChannelStateChange(Ringing) c1:ChannelStateChange(Up) c1:StasisStart")
	must(t, r.Stats().Held == 0, "held %+v", r.Stats())
}

func TestStasisKindsWaitForStasisStart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		startMS int // the StasisStart timestamp; equal to the DTMF's in the tie case
	}{{"earlier", 0}, {"same ms", 5}} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			s := &recSink{}
			r := New(noWindows(clk), s)
			r.Push(1, dtmf("c1", 5, "7"))
			r.Push(1, pb(ari.KindPlaybackStarted, "c1", 6, "p1"))
			expect(t, s, "")
			clk.Advance(10 * time.Millisecond)
			r.Push(0, start("c1", tc.startMS, "Up"))
			expect(t, s, "c1:StasisStart c1:ChannelDtmfReceived(7) c1:PlaybackStarted(p1)")
			st := r.Stats()
			must(t, st.Held == 1 && st.HoldReleased == 0 && st.Pending == 0, "stats %+v", st)
		})
	}
}

func TestHoldLimitReleases(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	cfg := noWindows(clk)
	cfg.HoldLimit = 50 * time.Millisecond
	r := New(cfg, s)
	r.Push(0, dtmf("c1", 0, "1"))
	r.Push(0, dtmf("c1", 1, "2"))
	clk.Advance(49 * time.Millisecond)
	next := r.Tick()
	expect(t, s, "")
	must(t, next.Equal(base.Add(50*time.Millisecond)), "next deadline %v", next)
	clk.Advance(time.Millisecond)
	r.Tick()
	expect(t, s, "c1:ChannelDtmfReceived(1) c1:ChannelDtmfReceived(2)")
	st := r.Stats()
	must(t, st.Held == 2 && st.HoldReleased == 2 && st.Pending == 0, "stats %+v", st)
	// Nothing waits for the StasisStart any more: the next one is held afresh.
	r.Push(0, start("c1", 100, "Up"))
	r.Push(0, dtmf("c1", 101, "3"))
	expect(t, s, "c1:StasisStart c1:ChannelDtmfReceived(3)")
}

func TestStasisEndIsLast(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(noWindows(clk), s)
	r.Push(0, start("c1", 0, "Up"))
	r.Push(0, end("c1", 10))
	// ari-14: an originated channel gets STASISSTATUS and ChannelDestroyed
	// after StasisEnd; late events of the session come after it too.
	r.Push(0, varset("c1", 10, "STASISSTATUS"))
	r.Push(0, mk(ari.KindChannelDestroyed, "c1", 11))
	r.Push(1, dtmf("c1", 9, "5"))
	r.Push(1, clone(end("c1", 10)))
	r.Push(1, start("c1", 0, "Up")) // the same StasisStart from a lagging source
	expect(t, s, "c1:StasisStart c1:StasisEnd")
	st := r.Stats()
	must(t, st.LateDropped == 4 && st.Duplicate == 1 && st.Channels == 0, "stats %+v", st)
	// A channel may enter the app again (continue, then Stasis() once more).
	r.Push(0, start("c1", 20, "Up"))
	r.Push(0, dtmf("c1", 21, "6"))
	expect(t, s, "c1:StasisStart c1:ChannelDtmfReceived(6)")
}

func TestMoveStartsOtherAppBeforeEnd(t *testing.T) {
	// ari-09: POST /move delivers gw2's StasisStart before gw's StasisEnd
	// (same ms). They are different streams; neither waits for the other.
	clk := newFakeClock()
	s := &recSink{}
	r := New(noWindows(clk), s)
	r.Push(0, start("c1", 0, "Up"))
	moved := start("c1", 7, "Up")
	moved.Application = "gw2"
	r.Push(1, moved)
	r.Push(0, end("c1", 7))
	got := s.take()
	must(t, len(got) == 3 && got[1].key.App == "gw2" && got[1].ev.Kind == ari.KindStasisStart &&
		got[2].key.App == "gw" && got[2].ev.Kind == ari.KindStasisEnd, "got %s", names(got))
	r.Push(1, end("c1", 1007)) // gw's key has ended; gw2's has not
	got = s.take()
	must(t, len(got) == 0, "gw2 StasisEnd was routed to gw: %s", names(got))
	e := end("c1", 1007)
	e.Application = "gw2"
	r.Push(1, e)
	must(t, len(s.take()) == 1, "gw2 StasisEnd not delivered")
}

func TestPlaybackStages(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(noWindows(clk), s)
	r.Push(0, start("c1", 0, "Up"))
	s.take()
	// Continuing before Started: held until the Started arrives.
	r.Push(1, pb(ari.KindPlaybackContinuing, "c1", 5, "p1"))
	expect(t, s, "")
	r.Push(0, pb(ari.KindPlaybackStarted, "c1", 4, "p1"))
	expect(t, s, "c1:PlaybackStarted(p1) c1:PlaybackContinuing(p1)")
	// ari-07: Started(b) of a media list after Continuing(a), same id.
	r.Push(0, pb(ari.KindPlaybackStarted, "c1", 6, "p1"))
	// ari-05: unpause publishes a second Started.
	r.Push(0, pb(ari.KindPlaybackStarted, "c1", 7, "p1"))
	r.Push(0, pb(ari.KindPlaybackFinished, "c1", 8, "p1"))
	expect(t, s, "c1:PlaybackStarted(p1) c1:PlaybackStarted(p1) c1:PlaybackFinished(p1)")
	// ari-05/22: a queued playback deleted before it started: Finished alone.
	r.Push(0, pb(ari.KindPlaybackFinished, "c1", 9, "p2"))
	expect(t, s, "c1:PlaybackFinished(p2)")
	// Nothing of a playback after its Finished.
	r.Push(1, pb(ari.KindPlaybackStarted, "c1", 3, "p2"))
	late := pb(ari.KindPlaybackContinuing, "c1", 7, "p1")
	late.Playback.MediaURI = "sound:other"
	r.Push(1, late)
	expect(t, s, "")
	st := r.Stats()
	must(t, st.LateDropped == 2 && st.Held == 1, "stats %+v", st)
}

func TestStateChangeNeverBackwards(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(noWindows(clk), s)
	r.Push(0, sc("c1", 0, "Ringing"))
	r.Push(0, sc("c1", 5, "Up"))
	r.Push(1, sc("c1", 3, "Ringing")) // older
	r.Push(1, sc("c1", 5, "Ringing")) // same ms, not further along
	r.Push(0, start("c1", 6, "Up"))
	r.Push(1, sc("c1", 4, "Ring")) // older than the StasisStart's snapshot
	r.Push(0, sc("c1", 9, "Busy")) // newer: delivered, whatever its rank
	expect(t, s, "c1:ChannelStateChange(Ringing) c1:ChannelStateChange(Up) c1:StasisStart c1:ChannelStateChange(Busy)")
	must(t, r.Stats().Stale == 3, "stats %+v", r.Stats())
}

func TestDuplicatesDropped(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(noWindows(clk), s)
	evs := []*ari.Event{start("c1", 0, "Up"), dtmf("c1", 1, "1"), dtmf("c1", 2, "1"), pb(ari.KindPlaybackStarted, "c1", 2, "p")}
	for _, e := range evs {
		r.Push(0, e)
		r.Push(1, clone(e)) // the same event from another source
	}
	// The same digit pressed again later is not a duplicate.
	expect(t, s, "c1:StasisStart c1:ChannelDtmfReceived(1) c1:ChannelDtmfReceived(1) c1:PlaybackStarted(p)")
	must(t, r.Stats().Duplicate == 4, "stats %+v", r.Stats())
}

func TestChannelDestroyedAfterStasisEnd(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(noWindows(clk), s)
	r.Push(0, start("c1", 0, "Up"))
	r.Push(1, mk(ari.KindChannelDestroyed, "c1", 3))
	expect(t, s, "c1:StasisStart")
	r.Push(0, end("c1", 2))
	// StasisEnd is last: the destroy that overtook it is dropped.
	expect(t, s, "c1:StasisEnd")
	// Never an end in sight: the destroy ends the stream at the hold limit.
	r.Push(0, start("c2", 0, "Up"))
	r.Push(0, mk(ari.KindChannelDestroyed, "c2", 3))
	clk.Advance(DefaultHoldLimit)
	r.Tick()
	expect(t, s, "c2:StasisStart c2:ChannelDestroyed")
	r.Push(0, dtmf("c2", 4, "1"))
	expect(t, s, "")
	// A channel that never was in Stasis ends with its ChannelDestroyed (ari-14 no answer).
	r.Push(0, mk(ari.KindChannelHangupRequest, "c3", 0))
	r.Push(0, mk(ari.KindChannelDestroyed, "c3", 1))
	r.Push(0, varset("c3", 2, "X"))
	expect(t, s, "c3:ChannelHangupRequest c3:ChannelDestroyed")
	must(t, r.Stats().Channels == 0, "stats %+v", r.Stats())
}

func TestWindowOrdersByTimestamp(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(Config{Clock: clk}, s) // ChannelStateChange: 20 ms
	r.Push(0, start("c1", 0, "Down"))
	s.take()
	r.Push(0, sc("c1", 12, "Up"))
	clk.Advance(15 * time.Millisecond)
	r.Tick()
	r.Push(1, sc("c1", 10, "Ringing")) // 15 ms late: within the window
	expect(t, s, "")
	// A digit behind a waiting state change waits with it (per-channel order).
	r.Push(0, dtmf("c1", 14, "1"))
	clk.Advance(5 * time.Millisecond)
	r.Tick()
	// The late one waits its own window, for anything older still on the way.
	expect(t, s, "")
	clk.Advance(15 * time.Millisecond)
	r.Tick()
	expect(t, s, "c1:ChannelStateChange(Ringing) c1:ChannelStateChange(Up) c1:ChannelDtmfReceived(1)")
	st := r.Stats()
	must(t, st.Reordered == 1 && st.Stale == 0 && st.Pending == 0, "stats %+v", st)
	// Equal timestamps keep their arrival order.
	r.Push(0, mk(ari.KindChannelConnectedLine, "c1", 30))
	r.Push(0, mk(ari.KindChannelCallerId, "c1", 30))
	clk.Advance(20 * time.Millisecond)
	r.Tick()
	expect(t, s, "c1:ChannelConnectedLine c1:ChannelCallerId")
}

func TestEventsWithoutTimestamp(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(Config{Clock: clk}, s)
	r.Push(0, start("c1", 0, "Up"))
	a := sc("c1", 0, "Ringing")
	a.Timestamp = time.Time{}
	b := dtmf("c1", 0, "1")
	b.Timestamp = time.Time{}
	r.Push(0, a)
	r.Push(0, b)
	clk.Advance(DefaultWindow)
	r.Tick()
	// Without a timestamp a state change can only be judged by its rank:
	// Ringing after Up goes backwards.
	expect(t, s, "c1:StasisStart c1:ChannelDtmfReceived(1)")
	st := r.Stats()
	must(t, st.NoTimestamp == 2 && st.Stale == 1, "stats %+v", st)
}

func TestFloodOverflowsOneChannelOnly(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(Config{Clock: clk, QueueLimit: 4, Windows: map[ari.Kind]time.Duration{ari.KindChannelVarset: time.Second}}, s)
	r.Push(0, start("c1", 0, "Up"))
	r.Push(0, start("c2", 0, "Up"))
	s.take()
	for i := range 10 {
		r.Push(0, varset("c1", 1+i, fmt.Sprint(i)))
	}
	// The six oldest left early, in order; the other channel is unaffected.
	expect(t, s, "c1:ChannelVarset(0) c1:ChannelVarset(1) c1:ChannelVarset(2) c1:ChannelVarset(3) c1:ChannelVarset(4) c1:ChannelVarset(5)")
	r.Push(0, dtmf("c2", 1, "9"))
	expect(t, s, "c2:ChannelDtmfReceived(9)")
	st := r.Stats()
	must(t, st.Overflow == 6 && st.Pending == 4, "stats %+v", st)
}

func TestIdleChannelsExpire(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(Config{Clock: clk, IdleTimeout: time.Minute}, s)
	r.Push(0, start("c1", 0, "Up")) // never ends
	r.Push(0, start("c2", 0, "Up"))
	for range 8 {
		clk.Advance(10 * time.Second)
		r.Tick()
		r.Push(0, dtmf("c2", int(clk.Now().Sub(base)/time.Millisecond), "1"))
	}
	st := r.Stats()
	must(t, st.Expired == 1 && st.Channels == 1, "stats %+v", st)
}

func TestKindsFilter(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	cfg := noWindows(clk)
	cfg.Kinds = []ari.Kind{ari.KindChannelDtmfReceived, ari.KindPlaybackFinished}
	r := New(cfg, s)
	r.Push(0, dtmf("c1", 1, "1")) // still waits for the StasisStart it is not given
	r.Push(0, start("c1", 0, "Up"))
	r.Push(0, varset("c1", 2, "X"))
	r.Push(0, pb(ari.KindPlaybackContinuing, "c1", 4, "p")) // tracked, waits for Started
	r.Push(0, pb(ari.KindPlaybackStarted, "c1", 3, "p"))
	r.Push(0, pb(ari.KindPlaybackFinished, "c1", 5, "p"))
	r.Push(0, end("c1", 6))
	r.Push(0, dtmf("c1", 7, "2"))
	expect(t, s, "c1:ChannelDtmfReceived(1) c1:PlaybackFinished(p)")
	st := r.Stats()
	must(t, st.Filtered == 5 && st.LateDropped == 1 && st.Channels == 0, "stats %+v", st)
}

func TestPassThroughWithoutChannel(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(Config{Clock: clk}, s)
	r.Push(0, &ari.Event{Kind: ari.KindApplicationReplaced, Type: "ApplicationReplaced", Application: "gw"})
	b := pb(ari.KindPlaybackStarted, "", 1, "bp")
	b.Playback.TargetURI = "bridge:b1"
	r.Push(0, b)
	g := varset("", 2, "GLOBAL")
	r.Push(0, g)
	got := s.take()
	must(t, len(got) == 3 && got[0].key == (Key{App: "gw"}) && got[1].key.ChannelID == "" && got[2].ev == g, "got %s", names(got))
	must(t, r.Stats().Passthrough == 3 && r.Stats().Channels == 0, "stats %+v", r.Stats())
}

func TestEndedSetIsBounded(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	cfg := noWindows(clk)
	cfg.EndedSize, cfg.Shards = 2, 1
	r := New(cfg, s)
	for _, c := range []string{"a", "b", "c"} {
		r.Push(0, start(c, 0, "Up"))
		r.Push(0, end(c, 1))
	}
	s.take()
	r.Push(0, dtmf("c", 0, "1")) // remembered: dropped
	r.Push(0, dtmf("a", 0, "1")) // forgotten: a new channel, held for its StasisStart
	must(t, r.Stats().LateDropped == 1 && r.Stats().Held == 1, "stats %+v", r.Stats())
}

func TestRunDrivesWindowsAndHolds(t *testing.T) {
	clk := newFakeClock()
	clk.made = make(chan struct{}, 1)
	s := &recSink{got: make(chan struct{}, 16)}
	r := New(Config{Clock: clk}, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	r.Push(0, start("c1", 0, "Ring"))
	wait(t, s.got)
	s.take()
	wait(t, clk.made) // Run has started
	if err := r.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run: %v, want ErrRunning", err)
	}
	r.Push(0, sc("c1", 1, "Up"))  // window 20 ms
	r.Push(0, dtmf("c2", 1, "1")) // held 50 ms for its StasisStart
	// Move the clock in 1 ms steps until both have left.
	var got []delivery
	deadline := time.After(testwait.Long)
	for len(got) < 2 {
		select {
		case <-s.got:
			got = append(got, s.take()...)
		case <-deadline:
			t.Fatalf("delivered only %s", names(got))
		case <-time.After(time.Millisecond):
			clk.Advance(time.Millisecond)
		}
	}
	must(t, names(got) == "c1:ChannelStateChange(Up) c2:ChannelDtmfReceived(1)", "got %s", names(got))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	must(t, r.Stats().Pending == 0, "stats %+v", r.Stats())
}

func wait(t *testing.T, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(testwait.Long):
		t.Fatal("no delivery")
	}
}

func TestConcurrentSources(t *testing.T) {
	clk := newFakeClock()
	s := &recSink{}
	r := New(noWindows(clk), s)
	const chans, digits = 50, 40
	var wg sync.WaitGroup
	for src := range 3 { // three sources, each with every event: two thirds are duplicates
		wg.Go(func() {
			for c := range chans {
				ch := fmt.Sprint("c", c)
				r.Push(src, start(ch, 0, "Up"))
				for d := range digits {
					r.Push(src, dtmf(ch, 1+d, fmt.Sprint(d%10)))
				}
				r.Push(src, end(ch, digits+1))
			}
		})
	}
	wg.Wait()
	got := s.take()
	per := map[string][]*ari.Event{}
	for _, d := range got {
		per[d.key.ChannelID] = append(per[d.key.ChannelID], d.ev)
	}
	must(t, len(per) == chans, "channels %d", len(per))
	for ch, evs := range per {
		if len(evs) != digits+2 {
			var b []string
			for _, e := range evs {
				b = append(b, label(ch, e)+e.Timestamp.Format(".000"))
			}
			t.Fatalf("%s: %d events: %v", ch, len(evs), b)
		}
		for i := 1; i < len(evs); i++ {
			must(t, evs[i].Timestamp.After(evs[i-1].Timestamp), "%s out of order at %d", ch, i)
		}
	}
	st := r.Stats()
	must(t, st.Delivered == chans*(digits+2) && st.Duplicate+st.LateDropped == 2*chans*(digits+2), "stats %+v", st)
}
