package reorder

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// soakSink checks, per channel, that timestamps strictly increase (every
// generated call has distinct ones) and counts deliveries.
type soakSink struct {
	last  map[string]time.Time
	count map[string]int
	bad   []string
}

func (s *soakSink) Deliver(key Key, ev *ari.Event) {
	if !ev.Timestamp.After(s.last[key.ChannelID]) && len(s.bad) < 10 {
		s.bad = append(s.bad, fmt.Sprintf("%s: %s at %s after %s", key.ChannelID, ev.Kind,
			ev.Timestamp.Format(".000"), s.last[key.ChannelID].Format(".000")))
	}
	s.last[key.ChannelID] = ev.Timestamp
	s.count[key.ChannelID]++
}

// soakCall is one generated call: its next event index and time.
type soakCall struct {
	id     string
	n, i   int
	nextMS int
}

type callHeap []*soakCall

func (h callHeap) Len() int           { return len(h) }
func (h callHeap) Less(i, j int) bool { return h[i].nextMS < h[j].nextMS }
func (h callHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *callHeap) Push(x any)        { *h = append(*h, x.(*soakCall)) }
func (h *callHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type soakArrival struct {
	at, seq int
	ev      *ari.Event
}

type arrivalHeap []soakArrival

func (h arrivalHeap) Len() int { return len(h) }
func (h arrivalHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].seq < h[j].seq
}
func (h arrivalHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *arrivalHeap) Push(x any)   { *h = append(*h, x.(soakArrival)) }
func (h *arrivalHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// soakEvent is event i of an n-event call: StasisStart, answer, then
// rounds of playback, two digits and a variable, hang-up and StasisEnd.
func soakEvent(id string, i, n, ms int) *ari.Event {
	var e *ari.Event
	switch {
	case i == 0:
		e = start(id, ms, "Ring")
	case i == 1:
		e = sc(id, ms, "Up")
	case i == n-2:
		e = mk(ari.KindChannelHangupRequest, id, ms)
	case i == n-1:
		e = end(id, ms)
	default:
		round := fmt.Sprint("p", (i-2)/5)
		switch (i - 2) % 5 {
		case 0:
			e = pb(ari.KindPlaybackStarted, id, ms, round)
		case 1, 2:
			e = dtmf(id, ms, fmt.Sprint(i%10))
		case 3:
			e = varset(id, ms, round)
		case 4:
			e = pb(ari.KindPlaybackFinished, id, ms, round)
		}
	}
	return e
}

// TestSoakShuffledWithinWindow pushes 1M events of 10k concurrent calls
// (100k and 1k under -short), each delayed by up to W-1 ms: every channel
// must come out complete and in timestamp order.
func TestSoakShuffledWithinWindow(t *testing.T) {
	events, calls := 1_000_000, 10_000
	if testing.Short() {
		events, calls = 100_000, 1_000
	}
	const w = 20
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)

	clk := newFakeClock()
	s := &soakSink{last: map[string]time.Time{}, count: map[string]int{}}
	r := New(uniform(clk, w*time.Millisecond), s)

	ch := make(callHeap, calls)
	want := map[string]int{}
	for i := range ch {
		c := &soakCall{id: fmt.Sprint("soak-", i), n: events / calls, nextMS: rng.IntN(1000)}
		ch[i] = c
		want[c.id] = c.n
	}
	heap.Init(&ch)
	var arr arrivalHeap
	now, seq := -1, 0
	deliverBefore := func(limit int) {
		for len(arr) > 0 && arr[0].at < limit {
			a := heap.Pop(&arr).(soakArrival)
			if a.at > now {
				now = a.at
				clk.Set(base.Add(time.Duration(now) * time.Millisecond))
				r.Tick()
			}
			r.Push(a.seq%3, a.ev)
		}
	}
	for ch.Len() > 0 {
		c := ch[0]
		deliverBefore(c.nextMS)
		heap.Push(&arr, soakArrival{at: c.nextMS + rng.IntN(w), seq: seq, ev: soakEvent(c.id, c.i, c.n, c.nextMS)})
		seq++
		c.i++
		if c.i == c.n {
			heap.Pop(&ch)
			continue
		}
		c.nextMS += 1 + rng.IntN(30)
		heap.Fix(&ch, 0)
	}
	deliverBefore(1 << 62)
	clk.Advance(time.Minute)
	r.Tick()

	if len(s.bad) > 0 {
		t.Fatalf("misordered (seed %d): %v", seed, s.bad)
	}
	lost := 0
	for id, n := range want {
		lost += n - s.count[id]
	}
	st := r.Stats()
	if lost != 0 || st.Delivered != uint64(seq) || st.Pending != 0 || st.Channels != 0 {
		t.Fatalf("seed %d: %d lost of %d; stats %+v", seed, lost, seq, st)
	}
	t.Logf("%d events, %d channels: reordered %d", seq, calls, st.Reordered)
}
