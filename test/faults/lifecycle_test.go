package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/gateway"
)

// maxInFlight is the largest number of requests matching keep that the
// fake Asterisk was serving at one instant, from its request log.
func maxInFlight(reqs []aritest.Request, keep func(aritest.Request) bool) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, r := range reqs {
		if keep(r) {
			edges = append(edges, edge{r.Time, 1}, edge{r.Time.Add(r.Elapsed), -1})
		}
	}
	// Ends before starts at the same instant: touching is not overlapping.
	for i := 1; i < len(edges); i++ {
		for j := i; j > 0 && (edges[j].at.Before(edges[j-1].at) || edges[j].at.Equal(edges[j-1].at) && edges[j].delta < edges[j-1].delta); j-- {
			edges[j], edges[j-1] = edges[j-1], edges[j]
		}
	}
	n, peak := 0, 0
	for _, e := range edges {
		n += e.delta
		peak = max(peak, n)
	}
	return peak
}

// A script floods V (distinct names) faster than Asterisk answers: the
// gateway keeps at most limits.pending_ops of them pending and reads the
// script's next command only below the bound; every variable still reaches
// the dialplan, which continues after the last one.
func TestVFloodBounded(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 400
	}
	const bound = 8
	w := newWorld(t, opts{gwCf: func(c *gateway.Config) { c.MaxPendingOps = bound }})
	w.Srv.RESTLatency(time.Millisecond)
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "V,F%d=%d\n", i, i)
	}
	b.WriteString("E,done")
	c.send(b.String())
	c.expect("E,ts")
	c.expectEOF()
	end := w.waitEnd(id)
	wantContinued(t, end, "")
	for i := range n {
		if v := end.Vars[fmt.Sprintf("F%d", i)]; v != fmt.Sprint(i) {
			t.Fatalf("F%d = %q at the dialplan, want %d", i, v, i)
		}
	}
	sets := func(r aritest.Request) bool { return r.Method == "POST" && strings.HasSuffix(r.Path, "/variable") }
	if got := maxInFlight(w.Srv.Requests(), sets); got > bound {
		t.Errorf("%d variable sets in flight at once, bound %d", got, bound)
	}
	if s := w.GW.LifecycleStats(); s.VarsLost != 0 {
		t.Errorf("VarsLost = %d", s.VarsLost)
	}
}

// Asterisk answers every REST call 20 ms late; the script sends 300 V then
// E. Native V is synchronous: the dialplan must see all 300 (before the
// fix it saw 95; here FlushTimeout is 500 ms, which only bounds a stall).
func TestSlowRESTVariablesBeforeE(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 100
	}
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	c.params(ts.url())
	w.Srv.RESTLatency(20 * time.Millisecond)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "V,SLOW%d=%d\n", i, i)
	}
	b.WriteString("E,done")
	c.send(b.String())
	c.expect("E,ts")
	c.expectEOF()
	end := w.WaitEnd(id, time.Duration(n)*100*time.Millisecond+10*time.Second)
	wantContinued(t, end, "")
	set := 0
	for i := range n {
		if end.Vars[fmt.Sprintf("SLOW%d", i)] == fmt.Sprint(i) {
			set++
		}
	}
	if set != n {
		t.Errorf("%d of %d variables set when the dialplan continued", set, n)
	}
	t.Logf("slow REST (20 ms): %d of %d variables set before the dialplan continued", set, n)
}
