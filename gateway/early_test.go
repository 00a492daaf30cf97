package gateway

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// Issue 12 gap 1: DTMF that reaches an unanswered channel (option n) is
// delivered, in order, right after T has answered, as native does.
func TestEarlyDTMFDeliveredAfterT(t *testing.T) {
	tests := []struct {
		name   string
		digits []string
		limit  int
		want   []string
		drops  uint64
	}{
		{name: "in order", digits: []string{"1", "2", "#"}, want: []string{"1,ts", "2,ts", "#,ts"}},
		{name: "bounded", digits: []string{"1", "2", "3", "4", "5"}, limit: 3, want: []string{"1,ts", "2,ts", "3,ts"}, drops: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dropped atomic.Uint64
			h := startHarness(t, appSpec{noAnswer: true}, "Ring", func(e *sessionEnv, _ *fakeOps, _ *fakeConn) {
				e.earlyDropped, e.earlyLimit = &dropped, tt.limit
			})
			for _, d := range tt.digits {
				h.dtmf(d)
			}
			if tt.drops > 0 {
				// The drops are the last digits handled: once counted,
				// every digit was handled while the channel was not Up.
				deadline := time.Now().Add(10 * time.Second)
				for dropped.Load() < tt.drops {
					if time.Now().After(deadline) {
						t.Fatalf("dropped = %d after 10s, want %d", dropped.Load(), tt.drops)
					}
					runtime.Gosched()
				}
			}
			h.cmd("T,answer")
			h.expectCalls("answer")
			h.expectLines(tt.want...)
			h.cmd("P,x") // nothing else was sent before P's reply
			h.expectLines("P,ts,/usr/bin/ivr,a,b")
			if got := dropped.Load(); got != tt.drops {
				t.Errorf("dropped = %d, want %d", got, tt.drops)
			}
		})
	}
}

// A channel answered by someone else (ChannelStateChange to Up) gets the
// held digits at once, as native reads frames as soon as it is Up.
func TestEarlyDTMFDeliveredOnStateUp(t *testing.T) {
	h := startHarness(t, appSpec{noAnswer: true}, "Ring", nil)
	h.dtmf("7")
	h.dtmf("8")
	h.event(&ari.Event{Kind: ari.KindChannelStateChange, Channel: ari.Channel{State: "Up"}})
	h.expectLines("7,ts", "8,ts")
}

// A hang-up before the answer discards the held digits (option i keeps
// the session: T then answers nothing and P shows no digit came first).
func TestEarlyDTMFDiscardedOnHangup(t *testing.T) {
	h := startHarness(t, appSpec{noAnswer: true, ignoreHangup: true}, "Ring", nil)
	h.dtmf("1")
	h.event(&ari.Event{Kind: ari.KindChannelHangupRequest, Cause: 16})
	h.expectLines("I,ts,HANGUP")
	h.cmd("T,x", "P,x")
	h.expectCalls("answer")
	h.expectLines("P,ts,/usr/bin/ivr,a,b")
}
