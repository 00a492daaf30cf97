package faults

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// gateSink is a sink of the event pipeline (after the gateway) that, once
// armed, blocks the first event it gets until released: a lagging
// consumer stalls the ARI dispatch goroutine.
type gateSink struct {
	mu      sync.Mutex
	armed   bool
	blocked chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGateSink() *gateSink {
	return &gateSink{blocked: make(chan struct{}), open: make(chan struct{})}
}

func (g *gateSink) Deliver(_ reorder.Key, _ *ari.Event) {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(g.blocked)
		<-g.open
	}
}

func (g *gateSink) arm() {
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
}

func (g *gateSink) release() { g.once.Do(func() { close(g.open) }) }

// The ARI client's queue overflows (the pipeline lags: a sink is stuck) and
// drops events, StasisStarts among them. The loss is reported in order
// (ari.LossHandler) and reconciles the app as a reconnect does: GET
// /applications/{app}, and the calls whose StasisStart was dropped are
// adopted (GET /channels/{id}); every call gets its script.
func TestEventQueueOverflowResyncs(t *testing.T) {
	gate := newGateSink()
	w := newWorld(t, opts{ariCf: func(c *ari.Config) { c.QueueSize = 4 }, sinks: []reorder.Sink{gate}})
	defer gate.release()
	w.reconciled(1)
	ts := newTCPServer(t)

	gate.arm()
	ids := []string{w.call(ts.url()+"(x)", "")}
	select {
	case <-gate.blocked:
	case <-time.After(testwait.Long):
		t.Fatal("the pipeline never delivered the first call's events")
	}
	for len(ids) < 8 {
		ids = append(ids, w.call(ts.url()+"(x)", ""))
	}
	w.until("the ARI client drops events", func() bool { return w.Client.Stats().Dropped > 0 })
	gate.release()
	// The loss is reported before the next event read: one more call.
	ids = append(ids, w.call(ts.url()+"(x)", ""))

	for range ids {
		c := ts.accept(t)
		c.send("E,done")
		c.expect("E,ts")
	}
	for _, id := range ids {
		wantContinued(t, w.waitEnd(id), "")
	}
	s := w.GW.LifecycleStats()
	// Once released, the tiny queue may overflow again (the calls' answers
	// come in a burst): at least one resync, each with its GET.
	if s.ResyncOverflow == 0 || s.Adopted == 0 || s.ResyncReconnect != 0 {
		t.Errorf("lifecycle stats %+v: want overflow resyncs, adopted calls, no reconnect", s)
	}
	apps, chans := 0, 0
	for _, r := range w.Srv.Requests() {
		switch {
		case r.Method == "GET" && r.Path == "/applications/"+app:
			apps++
		case r.Method == "GET" && strings.HasPrefix(r.Path, "/channels/") && strings.Count(r.Path, "/") == 2:
			chans++
		}
	}
	if apps < 2 || uint64(apps) > 1+s.ResyncOverflow || chans == 0 {
		t.Errorf("GET /applications/%s: %d (want 1 for the connect + at most 1 per overflow resync, %d), GET /channels/{id}: %d (want the adopted calls')",
			app, apps, s.ResyncOverflow, chans)
	}
}
