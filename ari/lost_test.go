package ari

import (
	"fmt"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// lossRecorder is a recorder that is also a LossHandler.
type lossRecorder struct{ *recorder }

func (r lossRecorder) EventsLost(n uint64) { r.got <- fmt.Sprint("lost ", n) }

// TestEventsLostReportedInOrder: the events a stuck Handler made the read
// loop drop are reported once, after the events queued before the drops
// and before the next event read.
func TestEventsLostReportedInOrder(t *testing.T) {
	f := newFake(t, false)
	var logs logBuf
	cfg := testConfig(f)
	cfg.QueueSize = 8
	cfg.Logger = logs.logger()
	c := newTestClient(t, cfg)
	rec := newRecorder()
	rec.block = make(chan struct{})
	run(t, c, lossRecorder{rec})

	s := f.accept()
	rec.expect(t, "connected 1")
	const n = 50
	for i := range n {
		s.c.SetWriteDeadline(time.Now().Add(time.Second))
		if err := s.c.WriteMessage(1, []byte(frameDTMF)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	testwait.Until(t, waitFor, "the read loop handled every frame", func() bool {
		st := c.Stats()
		return st.Events+st.Dropped >= n
	})
	close(rec.block)
	st := c.Stats()
	for range st.Events {
		rec.expect(t, "event ChannelDtmfReceived")
	}
	s.c.SetWriteDeadline(time.Now().Add(time.Second))
	if err := s.c.WriteMessage(1, []byte(frameDTMF)); err != nil {
		t.Fatal(err)
	}
	rec.expect(t, fmt.Sprint("lost ", st.Dropped))
	rec.expect(t, "event ChannelDtmfReceived")
	if d := c.Stats().Dropped; d != st.Dropped {
		t.Errorf("dropped %d, then %d: the event after the loss must be queued", st.Dropped, d)
	}
}
