package cti

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// BenchmarkFanout: the cost per event of handing it to N subscribers that
// keep up (each drains its queue on its own goroutine), measured from
// Deliver to the last subscriber's receive; B/subscriber is the memory one
// idle subscription holds (queue included).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmtInt(n)+"-subscribers", func(b *testing.B) {
			h, clock := newHandHub(Config{Window: 1})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			subs := make([]*Subscription, n)
			for i := range subs {
				subs[i] = h.Subscribe(Filter{}, "", "bench")
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			perSub := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			got := make(chan struct{}, n)
			for _, s := range subs {
				wg.Go(func() {
					s.Next(ctx) // the snapshot
					for {
						if _, err := s.Next(ctx); err != nil {
							return
						}
						got <- struct{}{}
					}
				})
			}
			var a ari.Event
			frame := trace[0].frame()
			if err := ari.Decode(frame, &a); err != nil {
				b.Fatal(err)
			}
			key := reorder.Key{ChannelID: a.Channel.ID}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ev := a
				h.Deliver(key, &ev)
				clock.Advance(2)
				h.Tick()
				for range n {
					<-got
				}
			}
			b.StopTimer()
			b.ReportMetric(perSub, "B/subscriber")
			cancel()
			wg.Wait()
			for _, s := range subs {
				s.Close()
			}
		})
	}
}

// BenchmarkFanoutEmit: the hub's own CPU per event with N subscribers
// (filter check and a non-blocking queue send each), without the
// goroutine hand-offs; queues are emptied with the timer stopped.
func BenchmarkFanoutEmit(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmtInt(n)+"-subscribers", func(b *testing.B) {
			const batch = 1024
			h, clock := newHandHub(Config{Window: 1, Queue: batch})
			subs := make([]*Subscription, n)
			for i := range subs {
				subs[i] = h.Subscribe(Filter{Endpoints: []string{"PJSIP"}}, "", "bench")
				subs[i].backlog = nil
			}
			var a ari.Event
			if err := ari.Decode(trace[0].frame(), &a); err != nil {
				b.Fatal(err)
			}
			key := reorder.Key{ChannelID: a.Channel.ID}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i > 0 && i%batch == 0 {
					b.StopTimer()
					for _, s := range subs {
						for len(s.ch) > 0 {
							<-s.ch
						}
					}
					b.StartTimer()
				}
				ev := a
				h.Deliver(key, &ev)
				clock.Advance(2)
				h.Tick()
			}
			b.StopTimer()
			if s := h.Stats(); s.CutOff != 0 {
				b.Fatalf("cut off: %+v", s)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event/subscriber")
		})
	}
}
