package e2e

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
)

// BenchmarkGapBetweenFiles measures the silence between two queued files as
// a client sees it, end to end on loopback (fake Asterisk in real time, ARI
// client, reorder, session): the interval between consecutive F lines minus
// the file's length. Asterisk itself adds about 2 ms when the next file is
// posted on PlaybackFinished (ari-24).
func BenchmarkGapBetweenFiles(b *testing.B) {
	const tick = 20 * time.Millisecond
	sounds := aritest.DefaultSounds()
	sounds["tick"] = tick
	w := newWorld(b, worldOpts{speed: 1, sounds: sounds})
	ts := newTCPServer(b)
	_, c := w.tcpCall(b, ts, "", aritest.CallOptions{Answered: true})
	br := bufio.NewReader(c.c)
	const files = 20
	var gaps []time.Duration
	b.ResetTimer()
	for range b.N {
		c.send("S,tick")
		for range files - 1 {
			c.send("A,tick")
		}
		var last time.Time
		for i := range files {
			c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			l, err := br.ReadString('\n')
			if err != nil || !strings.HasPrefix(l, "F,") {
				b.Fatalf("want F, got %q, %v", l, err)
			}
			now := time.Now()
			if i > 0 {
				gaps = append(gaps, now.Sub(last)-tick)
			}
			last = now
		}
	}
	b.StopTimer()
	reportPercentilesE2E(b, gaps)
	c.send("E,x")
}

func reportPercentilesE2E(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	s := append([]time.Duration(nil), d...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	b.ReportMetric(float64(s[len(s)/2].Microseconds()), "gap-p50-µs")
	b.ReportMetric(float64(s[len(s)*99/100].Microseconds()), "gap-p99-µs")
}
