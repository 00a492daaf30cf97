package reorder

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// cpuTimer reports CPU time per operation ("cpu-ns/op") beside the wall
// time: on a shared machine the wall time mostly measures the neighbours.
type cpuTimer struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuTimer {
	b.ReportAllocs()
	b.ResetTimer()
	return &cpuTimer{start: cpuNow()}
}

func (c *cpuTimer) stop(b *testing.B) {
	d := cpuNow() - c.start
	b.StopTimer()
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

type countSink struct{ n atomic.Int64 }

func (s *countSink) Deliver(Key, *ari.Event) { s.n.Add(1) }

var benchPlaybacks = func() []string {
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = fmt.Sprint("pb-", i)
	}
	return ids
}()

// inOrderChannel is one long call's worth of reusable events: each round
// is PlaybackStarted, two digits, a variable, PlaybackFinished (no window:
// the fast path).
type inOrderChannel struct {
	evs   [5]*ari.Event
	round int
}

func newInOrderChannels(r *Reorderer, prefix string, n int) []*inOrderChannel {
	chans := make([]*inOrderChannel, n)
	for i := range chans {
		id := fmt.Sprint(prefix, i)
		r.Push(0, start(id, 0, "Up"))
		chans[i] = &inOrderChannel{evs: [5]*ari.Event{
			pb(ari.KindPlaybackStarted, id, 0, ""),
			dtmf(id, 0, "1"),
			dtmf(id, 0, "2"),
			varset(id, 0, "V"),
			pb(ari.KindPlaybackFinished, id, 0, ""),
		}}
	}
	return chans
}

// next returns event k of the channel's stream, timestamped k ms after its
// start. Reusing the event is safe: it was delivered inside its Push.
func (c *inOrderChannel) next(k int) *ari.Event {
	e := c.evs[k%5]
	e.Timestamp = base.Add(time.Duration(k+1) * time.Millisecond)
	if e.Playback != nil {
		e.Playback.ID = benchPlaybacks[(k/5)%len(benchPlaybacks)]
	}
	return e
}

// BenchmarkPushInOrder is the common case: in-order DTMF, playback and
// variable events on 1000 live channels, default configuration.
func BenchmarkPushInOrder(b *testing.B) {
	s := &countSink{}
	r := New(Config{}, s)
	chans := newInOrderChannels(r, "bench-chan-", 1000)
	s.n.Store(0)
	cpu := startCPU(b)
	for i := range b.N {
		c := chans[i%len(chans)]
		r.Push(0, c.next(i/len(chans)))
	}
	cpu.stop(b)
	if s.n.Load() != int64(b.N) {
		b.Fatalf("delivered %d of %d: %+v", s.n.Load(), b.N, r.Stats())
	}
}

// BenchmarkPushInOrderParallel is the same from several sources at once
// (each on its own channels), to show the shards at work.
func BenchmarkPushInOrderParallel(b *testing.B) {
	s := &countSink{}
	r := New(Config{}, s)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		chans := newInOrderChannels(r, fmt.Sprint("par-", next.Add(1), "-"), 256)
		for k := 0; pb.Next(); k++ {
			c := chans[k%len(chans)]
			r.Push(0, c.next(k/len(chans)))
		}
	})
}

// BenchmarkPushShuffled delivers every event up to W-1 ms late (W = 20 ms
// for every kind): nearly all events wait in a window and many are
// reordered. 1000 channels, one event per channel per ms.
func BenchmarkPushShuffled(b *testing.B) {
	const chans, blockMS, w = 1000, 64, 20
	type arrival struct {
		at, ms int
		ev     *ari.Event
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var block []arrival
	for ms := range blockMS {
		for c := range chans {
			id := fmt.Sprint("shuf-", c)
			var e *ari.Event
			switch ms % 4 {
			case 0:
				e = dtmf(id, 0, "1")
			case 1:
				e = varset(id, 0, "V")
			case 2:
				e = sc(id, 0, "Up")
			case 3:
				e = mk(ari.KindChannelConnectedLine, id, 0)
			}
			e.Channel.Connected.Number = fmt.Sprint(ms)
			block = append(block, arrival{at: ms + rng.IntN(w), ms: ms, ev: e})
		}
	}
	slices.SortStableFunc(block, func(a, b arrival) int { return a.at - b.at })
	clk := newFakeClock()
	s := &countSink{}
	cfg := uniform(clk, w*time.Millisecond)
	r := New(cfg, s)
	for c := range chans {
		r.Push(0, start(fmt.Sprint("shuf-", c), 0, "Up"))
	}
	clk.Advance(w * time.Millisecond)
	r.Tick()
	s.n.Store(0)
	period := blockMS + w + 1
	cpu := startCPU(b)
	now := -1
	for i := range b.N {
		cycle, a := i/len(block), block[i%len(block)]
		if at := cycle*period + a.at + w + 1; at != now {
			now = at
			clk.Set(base.Add(time.Duration(now) * time.Millisecond))
			r.Tick()
		}
		a.ev.Timestamp = base.Add(time.Duration(cycle*period+a.ms+w+1) * time.Millisecond)
		r.Push(0, a.ev)
	}
	cpu.stop(b)
	clk.Advance(time.Second)
	r.Tick()
	if st := r.Stats(); s.n.Load() != int64(b.N) {
		b.Fatalf("delivered %d of %d: %+v", s.n.Load(), b.N, st)
	}
	b.ReportMetric(float64(r.Stats().Reordered)/float64(b.N), "reordered/event")
}

// BenchmarkTrackedChannel measures the memory one live channel costs
// (its state, key and map entry), reported as B/channel, and one ended
// channel remembered in the LRU set (B/ended, recycled states included).
func BenchmarkTrackedChannel(b *testing.B) {
	const n = 10000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint("mem-chan-", i)
	}
	var per, ended float64
	for range b.N {
		clk := newFakeClock()
		r := New(Config{Clock: clk}, &countSink{})
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		for _, id := range ids {
			r.Push(0, start(id, 0, "Up"))
			r.Push(0, dtmf(id, 1, "1"))
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		per = float64(m1.HeapAlloc-m0.HeapAlloc) / n
		for _, id := range ids {
			r.Push(0, end(id, 2))
		}
		clk.Advance(time.Second) // StasisEnd's window
		r.Tick()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		ended = float64(m1.HeapAlloc-m0.HeapAlloc) / n
		runtime.KeepAlive(r)
	}
	b.ReportMetric(per, "B/channel")
	b.ReportMetric(ended, "B/ended")
}
