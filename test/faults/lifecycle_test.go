package faults

import (
	"context"

	"fmt"
	"github.com/eivr-gateway/eivr-gateway/ari"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
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
	w := newWorld(t, opts{gwCf: func(c *gateway.Config) { c.PendingOps, c.FlushTimeout = bound, 3*time.Second }})
	w.Srv.RESTLatency(time.Millisecond)
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "V,F%d=%d\n", i, i)
	}
	b.WriteString("E,done")
	start := time.Now()
	c.send(b.String())
	c.expect("E,ts")
	c.expectEOF()
	end := w.waitEnd(id)
	el := time.Since(start)
	wantContinued(t, end, "")
	for i := range n {
		if v := end.Vars[fmt.Sprintf("F%d", i)]; v != fmt.Sprint(i) {
			t.Fatalf("F%d = %q at the dialplan, want %d", i, v, i)
		}
	}
	sets := func(r aritest.Request) bool { return r.Method == "POST" && strings.HasSuffix(r.Path, "/variable") }
	got := maxInFlight(w.Srv.Requests(), sets)
	if got > bound {
		t.Errorf("%d variable sets in flight at once, bound %d", got, bound)
	}
	t.Logf("V flood: %d sets in %v (%.0f REST requests/s at 1 ms latency), at most %d in flight", n, el.Round(time.Millisecond), float64(n)/el.Seconds(), got)
	if s := w.GW.LifecycleStats(); s.VarsLost != 0 {
		t.Errorf("VarsLost = %d", s.VarsLost)
	}
}

// Asterisk answers every REST call 20 ms late; the script sends 300 V then
// E. Native V is synchronous: the dialplan must see all 300 (before the
// fix it saw 95 with the default 2 s FlushTimeout).
func TestSlowRESTVariablesBeforeE(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 200
	}
	// FlushTimeout now bounds a stall (no set completing): 3 s holds on a
	// starved machine; as the bound of the whole wait (before the fix) it
	// let 150 of 200 through.
	w := newWorld(t, opts{gwCf: func(c *gateway.Config) { c.FlushTimeout = 3 * time.Second }})
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

// reconciled waits until the reconcile of connection seq is done (the
// first one releases what a previous run left: a channel created before
// it ends could be taken for one).
func (w *world) reconciled(seq int) {
	w.t.Helper()
	want := fmt.Sprintf("msg=\"reconciled the app's channels\" component=gateway app=%s seq=%d", app, seq)
	w.until("the reconcile of connection "+fmt.Sprint(seq)+" is done", func() bool { return strings.Contains(w.Logs.String(), want) })
}

// ghostStart is a StasisStart frame for a channel Asterisk does not have.
func ghostStart(id, state, arg string) []byte {
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000-0700")
	return fmt.Appendf(nil, `{"type":"StasisStart","timestamp":%q,"asterisk_id":"02:fc:00:00:00:01","application":%q,"args":[%q],`+
		`"channel":{"id":%q,"name":"PJSIP/ghost-0001","state":%q,"protocol_id":"","caller":{"name":"","number":"1"},"connected":{"name":"","number":""},`+
		`"accountcode":"","dialplan":{"context":"stasisin","exten":"s","priority":2,"app_name":"Stasis","app_data":"eivr"},"creationtime":%q,"language":"en"}}`,
		ts, app, arg, id, state, ts)
}

// A StasisStart for a channel that does not exist (item 10): the answer
// gets 404 "Channel not found" and the session ends without starting the
// client; on an Up channel (no answer) the first REST call's 404 ends it
// with H. An empty channel id starts nothing.
func TestStasisStartForMissingChannel(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	w.Srv.SendRaw(ghostStart("", "Ring", ts.url()))
	w.until("the empty id is refused", func() bool {
		return strings.Contains(w.Logs.String(), "StasisStart without a channel id")
	})
	w.Srv.SendRaw(ghostStart("ghost-ring", "Ring", ts.url()))
	w.until("the ringing ghost's session ends", func() bool {
		return strings.Contains(w.Logs.String(), "channel not found; the client is not started")
	})
	w.waitSessions(0)
	ts.noConnection(t) // its session ended before any connect

	w.Srv.SendRaw(ghostStart("ghost-up", "Up", ts.url()))
	c := ts.accept(t)
	c.send("S,beep")
	c.expect("H,ts")
	c.expectEOF()
	w.waitSessions(0)
	id, c2 := w.tcpCall(ts, "")
	w.round(id, c2, ts.url()) // real calls unaffected
}

// One 500 on the continue after E (item 3): the continue is retried and
// the dialplan goes on.
func TestContinueFailsOnce(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	w.Srv.FailREST("POST", "/channels/"+id+"/continue", 500, 1)
	c.params(ts.url())
	c.send("E,bye")
	c.expect("E,ts")
	c.expectEOF()
	wantContinued(t, w.waitEnd(id), "")
}

// The continue keeps failing: after the retries the channel is hung up
// instead of being left in Stasis.
func TestContinueKeepsFailing(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	w.Srv.FailREST("POST", "/channels/"+id+"/continue", 500, -1)
	c.params(ts.url())
	c.send("E,bye")
	c.expect("E,ts")
	c.expectEOF()
	wantHungUp(t, w.waitEnd(id), "")
}

// The hangup after a refusal keeps failing: the channel is counted as
// unreleased and released by the reconcile after the next reconnect,
// with the status of its refusal.
func TestHangupFailsReleasedOnReconnect(t *testing.T) {
	// The background retries are off: this is about the reconcile.
	w := newWorld(t, opts{gwCf: func(c *gateway.Config) { c.ReleaseRetry = -1 }})
	w.reconciled(1)
	const id = "unreleased-1"
	w.Srv.FailREST("DELETE", "/channels/"+id, 500, -1)
	if _, err := w.Srv.StartCall(app, []string{"/not/allowed"}, aritest.CallOptions{ID: id}); err != nil {
		t.Fatal(err)
	}
	w.until("the channel is counted unreleased", func() bool { return w.GW.LifecycleStats().Unreleased == 1 })
	if _, ended := w.Srv.Ended(id); ended {
		t.Fatal("the channel left the app though every hangup failed")
	}
	w.Srv.FailREST("DELETE", "/channels/"+id, 500, 0)
	w.Srv.DropWebSockets()
	wantHungUp(t, w.waitEnd(id), gateway.StatusDenied)
	if s := w.GW.LifecycleStats(); s.Orphans != 1 {
		t.Errorf("orphans released: %d, want 1", s.Orphans)
	}
}

// The quick retries of a hangup all fail (a starved Asterisk): the
// channel is not left in Stasis, a background retry releases it without
// any reconnect, with the status of its refusal.
func TestHangupFailsReleasedByRetry(t *testing.T) {
	w := newWorld(t, opts{})
	w.reconciled(1)
	const id = "unreleased-2"
	w.Srv.FailREST("DELETE", "/channels/"+id, 503, 4) // the session's four attempts
	if _, err := w.Srv.StartCall(app, []string{"/not/allowed"}, aritest.CallOptions{ID: id}); err != nil {
		t.Fatal(err)
	}
	wantHungUp(t, w.waitEnd(id), gateway.StatusDenied)
	w.until("the retry is counted", func() bool { return w.GW.LifecycleStats().ReleasedOnRetry == 1 })
	s := w.GW.LifecycleStats()
	if s.Unreleased != 1 || s.ReleasedOnRetry != 1 || s.ResyncReconnect != 0 || s.Orphans != 0 {
		t.Errorf("lifecycle %+v: want 1 unreleased, released on retry, no reconnect, no orphan", s)
	}
}

// predecessor is a gateway run that dies without releasing anything (as
// after kill -9): an ARI client that takes the calls and then vanishes.
func predecessor(t *testing.T, srv *aritest.Server, calls []aritest.CallOptions) []string {
	t.Helper()
	client, err := ari.NewClient(ari.Config{URL: srv.URL(), Username: "asterisk", Password: "asterisk", Apps: []string{app}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{starts: make(chan string, len(calls))}
	done := make(chan struct{})
	go func() { defer close(done); client.Run(ctx, rec) }()
	testwait.Until(t, testwait.Long, "the predecessor connects", func() bool { return srv.AppConnected(app) })
	var ids []string
	for _, o := range calls {
		id, err := srv.StartCall(app, []string{"/usr/bin/ivr"}, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := <-rec.starts; got != id {
			t.Fatalf("predecessor got StasisStart for %s, want %s", got, id)
		}
		ids = append(ids, id)
	}
	cancel() // the socket closes; nothing is continued or hung up
	<-done
	client.Close()
	return ids
}

// A gateway killed mid-call and restarted (item 17): the channels its
// predecessor left in the app are sent back to the dialplan with
// EIVRGW_STATUS=RESTARTED on start; new calls are served.
func TestGatewayKilledAndRestarted(t *testing.T) {
	noLeaks(t)
	srv, err := aritest.NewServer(aritest.Options{Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	ids := predecessor(t, srv, []aritest.CallOptions{{Answered: true}, {}})
	w := newWorld(t, opts{srv: srv})
	for _, id := range ids {
		wantContinued(t, w.waitEnd(id), gateway.StatusRestarted)
	}
	if s := w.GW.LifecycleStats(); s.Orphans != uint64(len(ids)) {
		t.Errorf("orphans released: %d, want %d", s.Orphans, len(ids))
	}
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	w.round(id, c, ts.url())
}

// A StasisStart lost with the events socket (item 18): after the
// reconnect the call is in the app with no session; its session starts
// late from dialplan.app_data and the script runs as usual.
func TestLostStasisStartAdopted(t *testing.T) {
	w := newWorld(t, opts{})
	w.reconciled(1)
	ts := newTCPServer(t)
	w.Srv.LoseStasisStarts(1)
	id := w.call(ts.url()+"(x)", "")
	w.Srv.DropWebSockets()
	c := ts.accept(t)
	w.round(id, c, ts.url())
	if s := w.GW.LifecycleStats(); s.Adopted != 1 {
		t.Errorf("adopted: %d, want 1", s.Adopted)
	}
}

// ... but after an outage longer than AdoptWindow the call goes back to
// the dialplan with EIVRGW_STATUS=LATE instead of starting a script the
// caller waited too long for.
func TestLostStasisStartTooLate(t *testing.T) {
	w := newWorld(t, opts{gwCf: func(c *gateway.Config) { c.AdoptWindow = time.Nanosecond }})
	w.reconciled(1)
	ts := newTCPServer(t)
	w.Srv.LoseStasisStarts(1)
	id := w.call(ts.url()+"(x)", "")
	w.Srv.DropWebSockets()
	wantContinued(t, w.waitEnd(id), gateway.StatusLate)
	ts.noConnection(t)
}

// An event frame over the read limit (item 9) drops the events socket;
// the StasisStart it carried is lost. After the reconnect the channel is
// found in the app and released: here its 100 kB application string is
// not on the allow-list, so it is hung up with EIVRGW_STATUS=DENIED.
func TestOversizedFrameChannelReleased(t *testing.T) {
	w := newWorld(t, opts{ariCf: func(c *ari.Config) { c.ReadLimit = 64 << 10 }})
	w.reconciled(1)
	id := w.call("/not/allowed("+strings.Repeat("x", 100<<10)+")", "")
	wantHungUp(t, w.waitEnd(id), gateway.StatusDenied)
	if s := w.Client.Stats(); s.Oversized < 1 { // every event carrying the channel is oversized
		t.Errorf("oversized frames: %d, want at least 1", s.Oversized)
	}
}

// An option-d session on a hung-up channel (Stasis() in the h extension)
// whose channel is destroyed while the events socket is down (item 12):
// the session ends (the script gets EOF, not H) instead of running on.
func TestOptionDSessionEndsWithChannel(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, err := w.Srv.StartCall(app, []string{ts.url() + "(x)", "d"}, aritest.CallOptions{Dead: true})
	if err != nil {
		t.Fatal(err)
	}
	c := ts.accept(t)
	c.params(ts.url())
	w.farHangup(id) // the h extension ends: the channel is destroyed (no event: it left Stasis)
	w.Srv.DropWebSockets()
	c.expectEOF()
	w.waitSessions(0)
}

// A call that entered the app while another client had taken it over is
// that client's (item 3): when the gateway reclaims the app, and at every
// later reconnect, the reconcile leaves it alone.
func TestReclaimLeavesOtherClientsChannels(t *testing.T) {
	w := newWorld(t, opts{})
	w.reconciled(1)
	rec := w.takeOver()
	id := w.call("/usr/bin/other-ivr")
	if got := <-rec.starts; got != id {
		t.Fatalf("the other client got StasisStart for %s, want %s", got, id)
	}
	w.Client.Reclaim()
	w.waitConnected()
	w.until("the reconcile leaves the other client's channel alone", func() bool {
		return strings.Contains(w.Logs.String(), "channels another ARI client started in the app are left alone")
	})
	w.Srv.DropWebSockets()
	w.waitConnected()
	w.reconciled(3)
	if end, ended := w.Srv.Ended(id); ended {
		t.Errorf("the other client's channel was released: %+v", end)
	}
	if s := w.GW.LifecycleStats(); s.Orphans != 0 || s.Adopted != 0 {
		t.Errorf("lifecycle %+v, want no orphan released or adopted", s)
	}
}
