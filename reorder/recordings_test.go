package reorder

import (
	"bufio"
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/recordings"
)

// arrival is one recorded event as the app under test received it.
type arrival struct {
	rx time.Duration // since the first event of the file
	ev *ari.Event
}

var gwConn = regexp.MustCompile(`^gw#[0-9]+$`)

// gwView decodes the events received on the gw#N connections of one
// recording (the "gw app view"), in arrival order.
func gwView(t testing.TB, path string) []arrival { return view(t, path, gwConn) }

// view decodes the events received on the connections conn matches.
func view(t testing.TB, path string, conn *regexp.Regexp) []arrival {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []arrival
	var first float64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var line struct {
			RX    float64         `json:"rx"`
			Conn  string          `json:"conn"`
			Event json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if line.Event == nil || !conn.MatchString(line.Conn) {
			continue
		}
		ev := new(ari.Event)
		if err := ari.Decode(slices.Clone(line.Event), ev); err != nil {
			t.Fatalf("%s: decode %s: %v", path, line.Event, err)
		}
		if out == nil {
			first = line.RX
		}
		out = append(out, arrival{rx: time.Duration((line.RX - first) * float64(time.Second)), ev: ev})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func gwRecordings(t testing.TB) map[string][]arrival {
	t.Helper()
	dir, err := recordings.Dir()
	if err != nil {
		t.Skipf("recordings not available: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "ari", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings in %s: %v", dir, err)
	}
	out := map[string][]arrival{}
	for _, f := range files {
		if a := gwView(t, f); len(a) > 0 {
			out[filepath.Base(f)] = a
		}
	}
	return out
}

// ideal is what a consumer must get from in-order input: every event in
// arrival order, except those after the end of their stream (StasisEnd, or
// ChannelDestroyed outside Stasis) until a new StasisStart.
func ideal(in []arrival) []delivery {
	ph := map[Key]phase{}
	var out []delivery
	for _, a := range in {
		key, ok := route(a.ev)
		if !ok {
			out = append(out, delivery{key, a.ev})
			continue
		}
		p := ph[key]
		switch {
		case a.ev.Kind == ari.KindStasisStart:
			p = phaseIn
		case p == phaseEnded:
			continue
		case a.ev.Kind == ari.KindStasisEnd, a.ev.Kind == ari.KindChannelDestroyed:
			p = phaseEnded
		}
		ph[key] = p
		out = append(out, delivery{key, a.ev})
	}
	return out
}

// perKey splits deliveries by stream, keeping their order.
func perKey(ds []delivery) map[Key]string {
	m := map[Key][]delivery{}
	for _, d := range ds {
		m[d.key] = append(m[d.key], d)
	}
	out := map[Key]string{}
	for k, v := range m {
		out[k] = names(v)
	}
	return out
}

// replay pushes the arrivals at their recorded times through r, ticking as
// Run would, then lets everything out.
func replay(r *Reorderer, clk *fakeClock, in []arrival, source func(i int) int) {
	for i, a := range in {
		clk.Set(base.Add(a.rx))
		r.Tick()
		r.Push(source(i), a.ev)
	}
	clk.Advance(time.Second)
	r.Tick()
}

// TestRecordingsInOrder is property (c) on real traffic: Asterisk 22.10.1
// delivered the gw view in order, so the reorderer must change nothing
// (beyond ending each stream at its end) and hold nothing.
func TestRecordingsInOrder(t *testing.T) {
	for name, in := range gwRecordings(t) {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			s := &recSink{}
			r := New(Config{Clock: clk}, s)
			replay(r, clk, in, func(int) int { return 0 })
			got, want := s.take(), ideal(in)
			if err := checkRules(got); err != nil {
				t.Fatal(err)
			}
			g, w := perKey(got), perKey(want)
			for k := range w {
				if g[k] != w[k] {
					t.Errorf("%v\n got: %s\nwant: %s", k, g[k], w[k])
				}
			}
			st := r.Stats()
			must(t, len(g) == len(w), "streams: got %d, want %d", len(g), len(w))
			must(t, st.Held == 0 && st.Reordered == 0 && st.Stale == 0 && st.Duplicate == 0 && st.Pending == 0,
				"stats %+v", st)
			if err := conserved(st, len(in)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRecordingsSeveralSources is property (a) on real traffic: the gw view
// split over several sources, each keeping its own order, some events sent
// by more than one, pushed in any interleaving, all within the windows.
// Every rule holds and nothing is lost: each event the in-order replay
// delivers is delivered exactly once.
func TestRecordingsSeveralSources(t *testing.T) {
	recs := gwRecordings(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range recs {
			if !yield(n) {
				return
			}
		}
	})
	rapid.Check(t, func(rt *rapid.T) {
		name := rapid.SampledFrom(names).Draw(rt, "recording")
		in := recs[name]
		nsrc := rapid.IntRange(1, 3).Draw(rt, "sources")
		srcs := make([][]int, nsrc)
		for i := range in {
			mask := rapid.IntRange(1, 1<<nsrc-1).Draw(rt, "copies")
			for s := range nsrc {
				if mask&(1<<s) != 0 {
					srcs[s] = append(srcs[s], i)
				}
			}
		}
		clk := newFakeClock()
		s := &recSink{}
		r := New(uniform(clk, 10*time.Second), s)
		pushed := 0
		for {
			var live []int
			for i, q := range srcs {
				if len(q) > 0 {
					live = append(live, i)
				}
			}
			if len(live) == 0 {
				break
			}
			src := rapid.SampledFrom(live).Draw(rt, "next")
			r.Push(src, clone(in[srcs[src][0]].ev))
			srcs[src] = srcs[src][1:]
			pushed++
		}
		clk.Advance(time.Minute)
		r.Tick()
		got := s.take()
		if err := checkRules(got); err != nil {
			rt.Fatal(err)
		}
		st := r.Stats()
		if err := conserved(st, pushed); err != nil {
			rt.Fatal(err)
		}
		// Nothing lost: every event of the ideal stream is delivered, but
		// for those tied with their stream's end, whose order against it
		// the interleaving decides.
		have := map[Key]map[string]int{}
		for _, d := range got {
			if have[d.key] == nil {
				have[d.key] = map[string]int{}
			}
			have[d.key][ident(d.ev)]++
		}
		ends := map[Key][]time.Time{}
		for _, a := range in {
			if k, ok := route(a.ev); ok && (a.ev.Kind == ari.KindStasisEnd || a.ev.Kind == ari.KindChannelDestroyed) {
				ends[k] = append(ends[k], a.ev.Timestamp)
			}
		}
		for _, d := range ideal(in) {
			if d.ev.Kind != ari.KindStasisEnd && d.ev.Kind != ari.KindChannelDestroyed &&
				slices.ContainsFunc(ends[d.key], d.ev.Timestamp.Equal) {
				continue
			}
			if have[d.key][ident(d.ev)] == 0 && d.key.ChannelID != "" {
				for _, g := range got {
					if g.key == d.key {
						rt.Log("out", label("", g.ev), g.ev.Timestamp.Format(".000"), g.ev.Playback.PlaybackState())
					}
				}
				rt.Logf("%+v", r.Stats())
				rt.Fatalf("lost %s at %s", label(d.key.ChannelID, d.ev), d.ev.Timestamp.Format("15:04:05.000"))
			}
		}
	})
}

// ident names one event for multiset comparisons (its raw frame when it
// has one).
func ident(ev *ari.Event) string {
	if len(ev.Raw) > 0 {
		return string(ev.Raw)
	}
	return label("", ev) + ev.Timestamp.String()
}

// uniform is a Config with the same window w for every kind and a hold
// limit long enough that nothing is released by it.
func uniform(clk Clock, w time.Duration) Config {
	ws := map[ari.Kind]time.Duration{}
	for k := range 32 {
		ws[ari.Kind(k)] = w
	}
	return Config{Windows: ws, Clock: clk, HoldLimit: time.Hour, QueueLimit: 1 << 16}
}

// TestRecordingsShuffledWithinWindow is property (b) on real traffic: each
// recorded event delayed by up to W-1 ms (events of one millisecond keep
// their recorded order, which is causal: ari-19) must give back exactly
// what the in-order replay gives.
func TestRecordingsShuffledWithinWindow(t *testing.T) {
	recs := gwRecordings(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range recs {
			if !yield(n) {
				return
			}
		}
	})
	const w = 20 * time.Millisecond
	rapid.Check(t, func(rt *rapid.T) {
		name := rapid.SampledFrom(names).Draw(rt, "recording")
		in := recs[name]
		first := in[0].ev.Timestamp
		as := make([]arrival, len(in))
		prev := map[Key]arrival{} // the last event of each stream
		for i, a := range in {
			d := time.Duration(rapid.IntRange(0, int(w/time.Millisecond)-1).Draw(rt, "delay")) * time.Millisecond
			as[i] = arrival{rx: a.ev.Timestamp.Sub(first) + d, ev: clone(a.ev)}
			k, _ := route(a.ev)
			if p, ok := prev[k]; ok && p.ev.Timestamp.Equal(a.ev.Timestamp) {
				as[i].rx = max(as[i].rx, p.rx)
			}
			prev[k] = as[i]
		}
		slices.SortStableFunc(as, func(a, b arrival) int { return cmp.Compare(a.rx, b.rx) })
		clk := newFakeClock()
		s := &recSink{}
		r := New(uniform(clk, w), s)
		replay(r, clk, as, func(int) int { return 0 })
		g, want := perKey(s.take()), perKey(ideal(in))
		for k := range want {
			if g[k] != want[k] {
				for _, a := range as {
					if kk, _ := route(a.ev); kk == k {
						rt.Log(a.rx, label("", a.ev), a.ev.Timestamp.Format(".000"))
					}
				}
				rt.Fatalf("%s %v\n got: %s\nwant: %s", name, k, g[k], want[k])
			}
		}
		if st := r.Stats(); st.Stale+st.Duplicate+st.HoldReleased != 0 || st.Pending != 0 {
			rt.Fatalf("stats %+v", st)
		}
	})
}

// TestRecordingsEveryView replays what every connection of every recording
// received (the drv app sees both halves of each call, before, during and
// after Stasis; gwall and gwall2 run with subscribeAll; gw2 gets a moved
// channel), each connection as its own source: the rules hold, nothing is
// lost unaccounted and nothing is left waiting.
func TestRecordingsEveryView(t *testing.T) {
	dir, err := recordings.Dir()
	if err != nil {
		t.Skipf("recordings not available: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "ari", "*.jsonl"))
	any := regexp.MustCompile(`.`)
	for _, f := range files {
		in := view(t, f, any)
		if len(in) == 0 {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			clk := newFakeClock()
			s := &recSink{}
			r := New(Config{Clock: clk}, s)
			replay(r, clk, in, func(int) int { return 0 })
			st := r.Stats()
			if err := conserved(st, len(in)); err != nil {
				t.Fatal(err)
			}
			if st.Pending != 0 || st.Duplicate != 0 {
				t.Fatalf("stats %+v", st)
			}
			if st.HoldReleased == 0 {
				if err := checkRules(s.take()); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%d events: %+v", len(in), st)
		})
	}
}
