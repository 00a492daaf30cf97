package reorder

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// orderSink records the deliveries per Key and counts Deliver calls that
// overlapped another one for the same Key. It yields inside Deliver, so
// that a second deliverer of the same channel (the bug this guards
// against) gets to run meanwhile.
type orderSink struct {
	mu       sync.Mutex
	inflight map[Key]int
	overlaps int
	got      map[Key][]*ari.Event
	total    int
}

func newOrderSink() *orderSink {
	return &orderSink{inflight: map[Key]int{}, got: map[Key][]*ari.Event{}}
}

func (s *orderSink) Deliver(key Key, ev *ari.Event) {
	s.mu.Lock()
	s.inflight[key]++
	if s.inflight[key] > 1 {
		s.overlaps++
	}
	s.got[key] = append(s.got[key], ev)
	s.total++
	s.mu.Unlock()
	runtime.Gosched()
	s.mu.Lock()
	s.inflight[key]--
	s.mu.Unlock()
}

// TestConcurrentSourcesKeepOrder: several sources push the events of the
// same channels at once while another goroutine moves the clock and
// Ticks. Whatever the Reorderer releases under its lock, the Sink must
// see in that order, one call at a time per channel: per channel and
// kind, the delivered DTMF and state changes have increasing timestamps
// (rules 5 and 6 never release an older one after a newer one), and no
// two Deliver calls of one channel overlap. Handing each caller's batch
// over after unlocking without a delivery token fails this.
func TestConcurrentSourcesKeepOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		clk := newFakeClock()
		sink := newOrderSink()
		r := New(Config{Clock: clk, Shards: rapid.SampledFrom([]int{1, 4}).Draw(t, "shards")}, sink)
		nch := rapid.IntRange(1, 3).Draw(t, "channels")
		nsrc := rapid.IntRange(2, 4).Draw(t, "sources")
		srcs := make([][]*ari.Event, nsrc)
		for c := range nch {
			ch := fmt.Sprint("c", c)
			r.Push(0, start(ch, 0, "Up"))
			for i := range rapid.IntRange(10, 60).Draw(t, "events") {
				var e *ari.Event
				if rapid.IntRange(0, 3).Draw(t, "kind") == 0 {
					e = sc(ch, i+1, rapid.SampledFrom([]string{"Ringing", "Up"}).Draw(t, "state"))
				} else {
					e = dtmf(ch, i+1, "1")
				}
				// Each source pushes its share in the order it got it.
				src := rapid.IntRange(0, nsrc-1).Draw(t, "source")
				srcs[src] = append(srcs[src], e)
			}
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		ticker := make(chan struct{})
		go func() {
			defer close(ticker)
			for {
				select {
				case <-stop:
					return
				default:
				}
				clk.Advance(time.Millisecond)
				r.Tick()
				runtime.Gosched()
			}
		}()
		for s, evs := range srcs {
			wg.Go(func() {
				for _, e := range evs {
					r.Push(s+1, e)
				}
			})
		}
		wg.Wait()
		close(stop)
		<-ticker
		clk.Advance(time.Second)
		r.Tick()

		sink.mu.Lock()
		defer sink.mu.Unlock()
		if sink.overlaps > 0 {
			t.Fatalf("%d Deliver calls overlapped another of the same channel", sink.overlaps)
		}
		for key, evs := range sink.got {
			last := map[ari.Kind]time.Time{}
			for i, e := range evs {
				if i == 0 && e.Kind != ari.KindStasisStart {
					t.Fatalf("%s: first delivery %s, want StasisStart", key.ChannelID, e.Kind)
				}
				if e.Kind != ari.KindChannelDtmfReceived && e.Kind != ari.KindChannelStateChange {
					continue
				}
				if p, ok := last[e.Kind]; ok && !e.Timestamp.After(p) {
					t.Fatalf("%s: %s at %v delivered after one at %v", key.ChannelID, e.Kind,
						e.Timestamp.Sub(base), p.Sub(base))
				}
				last[e.Kind] = e.Timestamp
			}
		}
		if st := r.Stats(); st.Delivered != uint64(sink.total) || st.Pending != 0 {
			t.Fatalf("stats: delivered %d pending %d, sink got %d", st.Delivered, st.Pending, sink.total)
		}
	})
}

// reentrantSink calls back into its Reorderer from Deliver, which only
// works when no lock of the Reorderer is held.
type reentrantSink struct {
	r    *Reorderer
	seen []string
}

func (s *reentrantSink) Deliver(key Key, ev *ari.Event) {
	st := s.r.Stats()
	s.seen = append(s.seen, fmt.Sprintf("%s:%d", label(key.ChannelID, ev), st.Delivered))
	if ev.Kind == ari.KindStasisStart {
		s.r.Push(1, dtmf(key.ChannelID, 5, "9")) // same shard: delivered after this call returns
	}
}

func TestDeliverRunsUnlocked(t *testing.T) {
	s := &reentrantSink{}
	s.r = New(noWindows(newFakeClock()), s)
	s.r.Push(0, start("c1", 0, "Up"))
	s.r.Push(0, dtmf("c1", 6, "1"))
	want := []string{"c1:StasisStart:1", "c1:ChannelDtmfReceived(9):2", "c1:ChannelDtmfReceived(1):3"}
	if fmt.Sprint(s.seen) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", s.seen, want)
	}
}
