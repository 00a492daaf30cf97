package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr/eivrtest"
)

// BenchmarkDTMFToScript: latency of a caller's digit to the script's read
// (from the fake Asterisk publishing ChannelDtmfReceived to the ivr://
// client reading its event line), p50/p99 over b.N digits; "idle" with
// the CTI stream quiet, "flood" while phone calls flood the CTI stream
// (~5000 events/s, in the same process: it shares the CPU), and
// "flood-stalled-consumer" with, besides, a consumer that never reads (a
// fresh one each time the last is cut off). flood vs
// flood-stalled-consumer is the cost of the stalled consumer.
func BenchmarkDTMFToScript(b *testing.B) {
	for _, mode := range []string{"idle", "flood", "flood-stalled-consumer"} {
		b.Run(mode, func(b *testing.B) {
			sim, err := aritest.NewServer(aritest.Options{Speed: 1000, WriteTimeout: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer sim.Close()
			sim.AddEndpoints("PJSIP/1000", "PJSIP/1002")
			addr := ctiGateway(b, sim, func(c *config.Config) { c.CTI.Queue = 64 })
			ivr := eivrtest.NewServer(b)
			ch, err := sim.StartCall("eivr", []string{ivr.URL()}, aritest.CallOptions{Answered: true})
			if err != nil {
				b.Fatal(err)
			}
			script := acceptIVR(b, ivr)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if mode != "idle" {
				wg.Go(func() { flood(ctx, sim, addr, mode != "flood") })
			}
			lat := make([]time.Duration, 0, b.N)
			lost := 0
			b.ResetTimer()
			for i := range b.N {
				d := rune('0' + i%10)
				// Each press lasts 40–103 ms (40–103 µs at Speed 1000): a
				// digit and duration repeat only 64 presses apart. With one
				// fixed duration the same digit came back 10 presses later,
				// often within the same millisecond: an exact copy of an
				// event among its channel's last 16 (kind, timestamp,
				// fields), which reorder drops as a duplicate (rule 7), and
				// the benchmark counted it lost. A caller cannot press one
				// digit twice within a millisecond.
				press := time.Duration(40+i%64) * time.Millisecond
				if err := sim.PressDTMF(ch, d, press); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				// A digit not read within 2 s is counted as lost (reported),
				// and the next one is pressed.
				rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
				for {
					ev, err := script.Event(rctx)
					if err != nil {
						lost++
						break
					}
					if rune(ev.Tag) == d {
						lat = append(lat, time.Since(t0))
						break
					}
				}
				rcancel()
			}
			b.StopTimer()
			cancel()
			wg.Wait()
			b.ReportMetric(float64(lost), "lost-digits")
			if len(lat) == 0 {
				b.Fatal("no digit reached the script")
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// flood makes phone calls on the CTI stream until ctx ends, with (stalled)
// a consumer of /v1/events that never reads always connected.
func flood(ctx context.Context, sim *aritest.Server, addr string, stalled bool) {
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for i := 0; ctx.Err() == nil; i++ {
		if stalled && i%200 == 0 { // a fresh stalled consumer (the last one may be cut off)
			if conn != nil {
				conn.Close()
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetReadBuffer(4096)
			fmt.Fprintf(c, "GET /v1/events HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n")
			conn = c
		}
		p, err := sim.PhoneCall("PJSIP/1000", "PJSIP/1002", aritest.PhoneOptions{})
		if err != nil {
			return
		}
		sim.PhoneHangup(p)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Microsecond):
		}
	}
}
