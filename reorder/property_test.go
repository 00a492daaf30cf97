package reorder

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// genCall draws one call on channel ch of app, as a real Asterisk would
// publish it (see FINDINGS.md): an optional originate prelude (ari-14),
// StasisStart, answer, digits, playbacks (media lists, cancelled queued
// ones), variables, line updates, then hang-up or continue and StasisEnd.
// Timestamps are in ms from base, strictly increasing except for ties
// between kinds no rule orders.
func genCall(t *rapid.T, app, ch string, t0 int) []*ari.Event {
	var out []*ari.Event
	ms := t0
	// Ties only where no rule orders and no copy can arise: a variable or
	// line update in the same ms as a digit or another such update.
	free := func(k ari.Kind) bool {
		return k == ari.KindChannelDtmfReceived || k == ari.KindChannelVarset || k == ari.KindChannelConnectedLine
	}
	add := func(e *ari.Event) {
		if n := len(out); n > 0 {
			step := rapid.IntRange(0, 40).Draw(t, "step")
			if step == 0 && !(free(out[n-1].Kind) && e.Kind != out[n-1].Kind &&
				(e.Kind == ari.KindChannelVarset || e.Kind == ari.KindChannelConnectedLine)) {
				step = 1
			}
			ms += step
		}
		e.Timestamp = base.Add(time.Duration(ms) * time.Millisecond)
		e.Application = app
		out = append(out, e)
	}
	nvar := 0
	state := "Ring"
	if rapid.Bool().Draw(t, "originated") {
		add(varset(ch, 0, "MYVAR"))
		d := mk(ari.KindDial, "", 0)
		d.Peer = &ari.Channel{ID: ch, State: "Down"}
		add(d)
		add(sc(ch, 0, "Ringing"))
		add(sc(ch, 0, "Up"))
		state = "Up"
	}
	add(start(ch, 0, state))
	if state == "Ring" {
		add(sc(ch, 0, "Up"))
	}
	for i := range rapid.IntRange(0, 12).Draw(t, "actions") {
		switch rapid.IntRange(0, 4).Draw(t, "action") {
		case 0:
			add(dtmf(ch, 0, rapid.SampledFrom([]string{"1", "2", "#", "*"}).Draw(t, "digit")))
		case 1:
			id := fmt.Sprint("p", i)
			add(pb(ari.KindPlaybackStarted, ch, 0, id))
			for item := range rapid.IntRange(0, 2).Draw(t, "items") {
				e := pb(ari.KindPlaybackContinuing, ch, 0, id)
				e.Playback.MediaURI = fmt.Sprint("sound:item", item)
				add(e)
				e = pb(ari.KindPlaybackStarted, ch, 0, id)
				e.Playback.MediaURI = fmt.Sprint("sound:item", item+1)
				add(e)
			}
			add(pb(ari.KindPlaybackFinished, ch, 0, id))
		case 2:
			add(pb(ari.KindPlaybackFinished, ch, 0, fmt.Sprint("cancelled", i)))
		case 3:
			nvar++
			add(varset(ch, 0, fmt.Sprint("V", nvar)))
		case 4:
			e := mk(ari.KindChannelConnectedLine, ch, 0)
			e.Channel.Connected.Number = fmt.Sprint(i)
			add(e)
		}
	}
	if rapid.Bool().Draw(t, "hangup") {
		add(mk(ari.KindChannelHangupRequest, ch, 0))
	}
	add(end(ch, 0))
	return out
}

// genCalls draws several calls with overlapping lifetimes; some share a
// channel id in two apps (a move, ari-09). The result is in timestamp
// order (stable: each call's own order).
func genCalls(t *rapid.T) []*ari.Event {
	var all []*ari.Event
	for c := range rapid.IntRange(1, 5).Draw(t, "calls") {
		app := "gw"
		if rapid.IntRange(0, 4).Draw(t, "app") == 0 {
			app = "gw2"
		}
		ch := fmt.Sprint("c", rapid.IntRange(0, c).Draw(t, "channel"))
		if slices.ContainsFunc(all, func(e *ari.Event) bool { k, _ := route(e); return k.ChannelID == ch && k.App == app }) {
			ch = fmt.Sprint("c", c, "b")
		}
		all = append(all, genCall(t, app, ch, rapid.IntRange(0, 200).Draw(t, "t0"))...)
	}
	slices.SortStableFunc(all, func(a, b *ari.Event) int { return a.Timestamp.Compare(b.Timestamp) })
	return all
}

// arrive is an event with its arrival time (ms from base) and index.
type arrive struct {
	at, idx int
	ev      *ari.Event
}

// feed pushes the arrivals in order of arrival, ticking at each step as
// Run would, then lets everything out.
func feed(r *Reorderer, clk *fakeClock, as []arrive) {
	slices.SortStableFunc(as, func(a, b arrive) int { return cmp.Compare(a.at, b.at) })
	for _, a := range as {
		clk.Set(base.Add(time.Duration(a.at) * time.Millisecond))
		r.Tick()
		r.Push(0, a.ev)
	}
	clk.Advance(2 * time.Hour)
	r.Tick()
}

// TestGeneratedShuffleWithinWindow is property (b): any shuffle whose
// displacements stay within W gives back exactly the original per-channel
// order, equal timestamps in arrival order.
func TestGeneratedShuffleWithinWindow(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		const w = 20
		evs := genCalls(rt)
		as := make([]arrive, len(evs))
		for i, e := range evs {
			ms := int(e.Timestamp.Sub(base) / time.Millisecond)
			as[i] = arrive{at: ms + rapid.IntRange(0, w-1).Draw(rt, "delay"), idx: i, ev: e}
		}
		clk := newFakeClock()
		s := &recSink{}
		r := New(uniform(clk, w*time.Millisecond), s)
		feed(r, clk, as)
		// Expected: by timestamp, ties by arrival.
		want := slices.Clone(as)
		slices.SortStableFunc(want, func(a, b arrive) int {
			return cmp.Or(a.ev.Timestamp.Compare(b.ev.Timestamp), cmp.Compare(a.at, b.at), cmp.Compare(a.idx, b.idx))
		})
		var wd []delivery
		for _, a := range want {
			k, _ := route(a.ev)
			wd = append(wd, delivery{k, a.ev})
		}
		got := s.take()
		g, wk := perKey(got), perKey(wd)
		for k := range wk {
			if g[k] != wk[k] {
				rt.Fatalf("%v\n got: %s\nwant: %s", k, g[k], wk[k])
			}
		}
		st := r.Stats()
		if st.Delivered != uint64(len(evs)) || st.Held != 0 || st.LateDropped+st.Stale+st.Duplicate != 0 {
			rt.Fatalf("stats %+v for %d events", st, len(evs))
		}
	})
}

// TestGeneratedInOrder is property (c): in-order input leaves unchanged,
// with the default configuration, and nothing is held or reordered.
func TestGeneratedInOrder(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		evs := genCalls(rt)
		as := make([]arrive, len(evs))
		for i, e := range evs {
			as[i] = arrive{at: int(e.Timestamp.Sub(base) / time.Millisecond), idx: i, ev: e}
		}
		clk := newFakeClock()
		s := &recSink{}
		r := New(Config{Clock: clk}, s)
		feed(r, clk, as)
		var wd []delivery
		for _, e := range evs {
			k, _ := route(e)
			wd = append(wd, delivery{k, e})
		}
		g, wk := perKey(s.take()), perKey(wd)
		for k := range wk {
			if g[k] != wk[k] {
				rt.Fatalf("%v\n got: %s\nwant: %s", k, g[k], wk[k])
			}
		}
		st := r.Stats()
		if st.Delivered != uint64(len(evs)) || st.Held != 0 || st.Reordered != 0 {
			rt.Fatalf("stats %+v for %d events", st, len(evs))
		}
	})
}

// sources splits evs over 1-3 sources, each event sent by at least one
// (duplicates when by several), and draws an interleaving that keeps each
// source's order.
func sources(t *rapid.T, evs []*ari.Event) (order []*ari.Event, src []int) {
	n := rapid.IntRange(1, 3).Draw(t, "sources")
	qs := make([][]*ari.Event, n)
	for _, e := range evs {
		mask := rapid.IntRange(1, 1<<n-1).Draw(t, "copies")
		for s := range n {
			if mask&(1<<s) != 0 {
				qs[s] = append(qs[s], clone(e))
			}
		}
	}
	for {
		var live []int
		for i, q := range qs {
			if len(q) > 0 {
				live = append(live, i)
			}
		}
		if len(live) == 0 {
			return order, src
		}
		s := rapid.SampledFrom(live).Draw(t, "next")
		order, src = append(order, qs[s][0]), append(src, s)
		qs[s] = qs[s][1:]
	}
}

// TestGeneratedSeveralSources is property (a): any interleaving of several
// sources that keeps each source's order, with duplicates, arriving within
// the windows, satisfies every rule and loses nothing.
func TestGeneratedSeveralSources(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		evs := genCalls(rt)
		order, src := sources(rt, evs)
		clk := newFakeClock()
		s := &recSink{}
		r := New(uniform(clk, 20*time.Millisecond), s)
		for i, e := range order {
			r.Push(src[i], e)
		}
		clk.Advance(time.Hour)
		r.Tick()
		got := s.take()
		if err := checkRules(got); err != nil {
			rt.Fatal(err)
		}
		if err := conserved(r.Stats(), len(order)); err != nil {
			rt.Fatal(err)
		}
		want := map[Key]map[string]int{}
		for _, e := range evs {
			k, _ := route(e)
			if want[k] == nil {
				want[k] = map[string]int{}
			}
			want[k][ident(e)]++
		}
		for _, d := range got {
			want[d.key][ident(d.ev)]--
		}
		for k, m := range want {
			for id, n := range m {
				if n != 0 {
					rt.Fatalf("%v: %s delivered %d times too few", k, id, n)
				}
			}
		}
	})
}

// TestGeneratedSeveralSourcesOverTime is property (a) with the default
// configuration and time passing between arrivals: windows and holds expire,
// stragglers are dropped, but every rule holds and every event is
// accounted for.
func TestGeneratedSeveralSourcesOverTime(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		evs := genCalls(rt)
		order, src := sources(rt, evs)
		clk := newFakeClock()
		s := &recSink{}
		r := New(Config{Clock: clk, HoldLimit: time.Hour}, s)
		for i, e := range order {
			clk.Advance(time.Duration(rapid.IntRange(0, 30).Draw(rt, "gap")) * time.Millisecond)
			r.Tick()
			r.Push(src[i], e)
		}
		clk.Advance(2 * time.Hour)
		r.Tick()
		got := s.take()
		if err := checkRules(got); err != nil {
			for _, e := range order {
				rt.Log("in ", label(e.Channel.ID+e.Playback.PlaybackTarget(), e), e.Timestamp.Format(".000"))
			}
			for _, d := range got {
				rt.Log("out", label(d.key.ChannelID, d.ev), d.ev.Timestamp.Format(".000"))
			}
			rt.Fatal(err)
		}
		st := r.Stats()
		if err := conserved(st, len(order)); err != nil {
			rt.Fatal(err)
		}
		if st.Pending != 0 || st.HoldReleased != 0 {
			rt.Fatalf("still pending: %+v", st)
		}
	})
}
