package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// countOps answers every REST call at once, after latency, keeping
// nothing (so that the heap measured is the gateway's).
type countOps struct {
	*fakeOps
	latency time.Duration
	sets    atomic.Int64
}

func (c *countOps) SetVariable(ctx context.Context, ch, name, value string) error {
	if c.latency > 0 {
		t := time.NewTimer(c.latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.sets.Add(1)
	return nil
}
func (c *countOps) Continue(ctx context.Context, ch, cx, e string, p int, l string) error { return nil }

// BenchmarkVFlood: one session, a client writing b.N V lines of distinct
// names as fast as it can, then E. Reports sets/s, the peak live heap
// (as of each GC) above the start and the most calls pending at once,
// with the default bound (64) and unbounded (the behaviour before it).
func BenchmarkVFlood(b *testing.B) {
	for _, bc := range []struct {
		name    string
		bound   int
		latency time.Duration
	}{
		{"bound=64/latency=0", 64, 0},
		{"bound=64/latency=1ms", 64, time.Millisecond},
		{"unbounded/latency=1ms", 1 << 30, time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ops := &countOps{fakeOps: newFakeOps(), latency: bc.latency}
			ops.calls = make(chan string, 1<<20)
			conn := newFakeConn()
			env := testEnv(nil, conn, allSounds{})
			env.ops = ops
			env.maxPending = bc.bound
			env.flushTimeout = time.Minute
			env.flushMax = time.Hour
			s := newSession(env, slog.New(slog.DiscardHandler), "s1", ari.Channel{ID: "c1", State: "Up"}, appSpec{}, 64)
			runtime.GC()
			live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			metrics.Read(live)
			base := live[0].Value.Uint64()
			var peak atomic.Uint64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // live heap (as of each GC) sampler
				defer wg.Done()
				t := time.NewTicker(2 * time.Millisecond)
				defer t.Stop()
				sm := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						metrics.Read(sm)
						if v := sm[0].Value.Uint64(); v > base && v-base > peak.Load() {
							peak.Store(v - base)
						}
					}
				}
			}()
			b.ResetTimer()
			start := time.Now()
			done := make(chan outcome, 1)
			go func() { done <- s.run(context.Background(), context.Background()) }()
			go func() {
				buf := make([]byte, 0, 64<<10)
				for i := range b.N {
					buf = fmt.Appendf(buf, "V,X%d=1\n", i)
					if len(buf) > 60<<10 {
						conn.cmdW.Write(buf)
						buf = buf[:0]
					}
				}
				buf = append(buf, "E,done\n"...)
				conn.cmdW.Write(buf)
			}()
			<-done
			el := time.Since(start)
			b.StopTimer()
			close(stop)
			wg.Wait()
			conn.cmdW.Close()
			if got := ops.sets.Load(); got != int64(b.N) {
				b.Fatalf("%d of %d sets made", got, b.N)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "sets/s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-live-heap-MiB")
			b.ReportMetric(float64(s.ctlPeak), "peak-pending")
		})
	}
}
