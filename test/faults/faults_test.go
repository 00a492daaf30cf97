package faults

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// The ARI events socket drops mid-call. Natively nothing happens to the
// call; through ARI the events of the outage are lost. The call that is
// still there carries on (its playback finished during the outage: F is
// still sent), the one the caller hung up during the outage gets H.
func TestWebSocketDroppedMidCall(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	idLive, live := w.tcpCall(ts, "")
	idGone, gone := w.tcpCall(ts, "")
	live.send("S,hello-world") // 71 ms at speed 20: ends during the outage
	gone.params(ts.url())

	w.Srv.DropWebSockets()
	w.farHangup(idGone)
	gone.expect("H,ts")
	gone.expectEOF()
	wantHungUp(t, w.waitEnd(idGone), "")
	live.expect("F,ts,hello-world")
	w.waitConnected()
	w.round(idLive, live, ts.url())
}

// Asterisk restarts: every channel vanishes without an event. After the
// reconnect the gateway finds the calls gone and ends their sessions as a
// hang-up (H, as a script gets when its channel hangs up); new calls are
// served again.
func TestAsteriskRestarted(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	_, playing := w.tcpCall(ts, "")
	idle, idleC := w.tcpCall(ts, "")
	playing.send("S,tt-monkeys")
	idleC.params(ts.url())

	w.Srv.Restart()
	for _, c := range []*client{playing, idleC} {
		c.expect("H,ts")
		c.expectEOF()
	}
	if end := w.waitEnd(idle); !end.Restarted {
		t.Errorf("end %+v", end)
	}
	w.waitSessions(0)
	w.waitConnected()
	id, c := w.tcpCall(ts, "")
	w.round(id, c, ts.url())
}

// recorder is a second ARI client's handler.
type recorder struct{ starts chan string }

func (r *recorder) Connected(ari.ConnInfo) {}
func (r *recorder) Disconnected(error)     {}
func (r *recorder) Event(ev *ari.Event) {
	if ev.Kind == ari.KindStasisStart {
		r.starts <- ev.Channel.ID
	}
}

// Another client registers the same Stasis app (ApplicationReplaced): the
// gateway stops being ready and takes no new calls (they go to the other
// client); when it shuts down, its live call goes back to the dialplan with
// EIVRGW_STATUS=SHUTDOWN instead of being left in a Stasis app nobody serves.
func TestApplicationReplaced(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	idLive, live := w.tcpCall(ts, "")
	live.params(ts.url())

	rec := w.takeOver()
	id := w.call(ts.url() + "(x)")
	select {
	case got := <-rec.starts:
		if got != id {
			t.Errorf("other client got StasisStart for %s, want %s", got, id)
		}
	case <-time.After(testwait.Long):
		t.Fatal("the new owner of the app got no StasisStart")
	}
	// aritest picks the receiver of an event when it emits it: the new
	// owner got StasisStart, so the gateway's socket never will, and it
	// cannot have connected for this call (nor will it).
	ts.noConnection(t)

	w.Close()
	wantContinued(t, w.waitEnd(idLive), gateway.StatusShutdown)
}

// takeOver starts a second ARI client on the app (ApplicationReplaced for
// the gateway) and waits until the gateway has seen it. The client stops
// at the end of the test.
func (w *world) takeOver() *recorder {
	w.t.Helper()
	other, err := ari.NewClient(ari.Config{URL: w.Srv.URL(), Username: "asterisk", Password: "asterisk", Apps: []string{app}})
	if err != nil {
		w.t.Fatal(err)
	}
	rec := &recorder{starts: make(chan string, 4)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { other.Run(ctx, rec); close(done) }()
	w.t.Cleanup(func() { cancel(); <-done; other.Close() })
	w.until("the gateway sees ApplicationReplaced", func() bool { return !w.GW.Ready() })
	return rec
}

// After ApplicationReplaced the events of the gateway's live calls go to
// the other client. Natively the script gets H at once when the caller
// hangs up; the gateway keeps the call and polls its channel over REST, so
// the script gets H within about a second, and the session ends.
func TestApplicationReplacedCallerHangsUp(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	c.params(ts.url())
	w.takeOver()

	// The call keeps working while the app is replaced: its playback's
	// end is found by polling.
	c.send("S,beep")
	c.expect("F,ts,beep")

	w.farHangup(id)
	c.c.SetReadDeadline(time.Now().Add(testwait.Long))
	l, err := c.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "H,") {
		t.Errorf("caller hung up after the takeover: script got %q, %v (want H); %d sessions live", l, err, w.GW.Sessions())
	}
	c.expectEOF()
	w.waitSessions(0)
	if !strings.Contains(w.Logs.String(), "DTMF") {
		t.Errorf("no error line about the takeover naming DTMF:\n%s", w.Logs.String())
	}
}

// With option i the client is told I,HANGUP once and keeps its session
// (native behaviour), also while the app is replaced.
func TestApplicationReplacedCallerHangsUpOptionI(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "i")
	c.params(ts.url())
	w.takeOver()

	w.farHangup(id)
	c.expect("I,ts,HANGUP")
	c.send("P,y") // still served after the hangup, as native
	c.expect("P,ts," + ts.url() + ",x")
	c.send("E,bye")
	c.expect("E,ts")
	c.expectEOF()
	w.waitSessions(0)
}

// When the app is reclaimed, events flow again: a hangup is seen from
// its ARI events (ChannelHangupRequest) as before the takeover.
func TestApplicationReplacedReclaimed(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	c.params(ts.url())
	w.takeOver()

	w.Client.Reclaim()
	// Not waitConnected: the app is connected throughout (the other
	// client holds it until the gateway's new socket takes it back), so
	// wait for the gateway's own second connection to be reconciled.
	w.reconciled(2)
	w.press(id, '5') // DTMF reaches the script again
	c.expect("5,ts")
	w.farHangup(id)
	c.expect("H,ts")
	c.expectEOF()
	w.waitSessions(0)
	if !strings.Contains(w.Logs.String(), "hang-up polling stops") {
		t.Error("the polling of the replaced app did not stop after Reclaim")
	}
}

// REST 5xx: a play Asterisk refuses is skipped without an event (as a file
// that fails to play natively, §7.5) and the playlist goes on; a set that
// fails does not stop the script; the call ends as the script says.
func TestREST5xx(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	w.Srv.FailREST("POST", "/channels/"+id+"/play", 500, 1)
	w.Srv.FailREST("POST", "/channels/"+id+"/variable", 503, 1)
	c.send("S,vm-goodbye", "A,beep")
	c.expect("F,ts,beep")
	c.send("V,FAULT=1")
	w.round(id, c, ts.url())
}

// REST timeouts: a play whose response never comes in time is given up
// (the playlist moves on); once Asterisk answers again the call ends as the
// script says. Whether the timed-out play ran is unknown to the gateway, so
// an F for it is accepted.
func TestRESTTimeouts(t *testing.T) {
	w := newWorld(t, opts{ariCf: func(c *ari.Config) { c.RESTTimeout = 300 * time.Millisecond }})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	c.params(ts.url())
	w.Srv.RESTLatency(5 * time.Second) // RESTTimeout is 300 ms
	c.send("S,hello-world")
	w.until("the play times out", func() bool { return strings.Contains(w.Logs.String(), "play failed; skipping the file") })
	w.Srv.RESTLatency(0)
	c.send("A,beep")
	for {
		l, err := c.next()
		if err != nil {
			t.Fatalf("waiting for F,ts,beep: %v", err)
		}
		if l == "F,ts,beep" {
			break
		}
		if l != "F,ts,hello-world" {
			t.Fatalf("script received %q", l)
		}
	}
	w.round(id, c, ts.url())
}

// Malformed frames, unknown event types and every event sent twice: the
// call goes on exactly as without them (one F, one digit), the bad frames
// are counted and the socket is kept.
func TestMalformedUnknownDuplicateEvents(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	w.Srv.Duplicate(1)
	id, c := w.tcpCall(ts, "")
	w.Srv.SendMalformed()
	w.Srv.SendRaw([]byte(`{"type":"BridgeCreated","timestamp":"2026-11-23T18:02:35.545+0000","application":"eivr","bridge":{"id":"b1"}}`))
	w.Srv.SendRaw([]byte(`{"type":"ChannelDtmfReceived","application":"eivr","digit":5,"channel":"` + id + `"}`))
	w.Srv.SendRaw([]byte(`{"type":"NoSuchEvent","application":"eivr","channel":{"id":"` + id + `"}}`))
	c.send("S,beep")
	c.expect("F,ts,beep")
	w.press(id, '3')
	c.expect("3,ts")
	w.round(id, c, ts.url())
	st := w.Client.Stats()
	if st.DecodeErrors < 1 || st.Reconnects != 0 {
		t.Errorf("ARI stats %+v: want the malformed frames counted and no reconnect", st)
	}
}

// shuffled runs one scripted call with aritest shuffling the events that
// arrive within d: the script must see exactly what it sees without. The
// media runs at speed 2, so that tt-monkeys (5.2 s) outlasts the rest of
// the call on a starved machine: its F would come in the middle.
func shuffled(t *testing.T, d time.Duration) {
	w := newWorld(t, opts{speed: 2})
	ts := newTCPServer(t)
	w.Srv.ReorderWindow(d)
	for range 3 {
		id, c := w.tcpCall(ts, "")
		c.send("S,beep", "A,beep")
		c.expect("F,ts,beep", "F,ts,beep")
		w.press(id, '1')
		c.expect("1,ts")
		c.send("S,tt-monkeys")
		w.press(id, '2')
		c.expect("2,ts")
		w.round(id, c, ts.url())
	}
}

// Events shuffled within the reorder window (20 ms): the transcript is the
// unshuffled one.
func TestEventsShuffledWithinWindow(t *testing.T) { shuffled(t, 15*time.Millisecond) }

// Events shuffled beyond the window and the hold limit (50 ms): the order
// can no longer be guaranteed by the gateway, but the script actions that
// wait for each other still see it, and no call is lost.
func TestEventsShuffledBeyondWindow(t *testing.T) { shuffled(t, 120*time.Millisecond) }

// A program that crashes: native ExternalIVR returns -1, the channel hangs
// up (no status: the client ended the session).
func TestScriptCrashes(t *testing.T) {
	w := newWorld(t, opts{})
	id := w.call(script("scripts/transport/crash.sh"))
	wantHungUp(t, w.waitEnd(id), "")
}

// A program that never exits: the call is kept as long as the caller stays
// (native); when the caller hangs up, the program gets EOF, then SIGTERM,
// then (ignore-term) SIGKILL, and is reaped.
func TestScriptHangs(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	for i, args := range []string{"", "(ignore-term)"} {
		id := w.call(script("scripts/transport/hang.pl") + args)
		w.waitSessions(1)
		// Barriers: the program has set its handlers and sleeps (its
		// "ready" on stderr is logged), then a whole other call on the same
		// gateway starts, runs and ends; the hanging call is still there.
		w.until("the program is ready", func() bool { return strings.Count(w.Logs.String(), "line=ready") > i })
		other, c := w.tcpCall(ts, "")
		w.round(other, c, ts.url())
		w.waitSessions(1)
		if _, ended := w.Srv.Ended(id); ended || w.GW.Sessions() != 1 {
			t.Fatalf("%s: call not kept", args)
		}
		w.farHangup(id)
		w.waitSessions(0)
		w.until("the program is reaped", func() bool { return len(children()) == 0 })
	}
}

// A program that floods stdout with commands: its reader is throttled by
// back-pressure (its own pipe fills), another call on the same gateway
// answers as usual, and the flooder is reaped when its call ends. Flooding
// with ignored lines keeps the call (as native); flooding with P, whose
// replies it never reads, ends it as a slow client.
func TestScriptFloods(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	ignored := w.call(script("faults/testdata/flood-unknown.pl"))
	replies := w.call(script("scripts/transport/flood.pl"))
	w.waitSessions(2) // both floods are going
	for range 3 {
		start := time.Now()
		id, c := w.tcpCall(ts, "")
		w.round(id, c, ts.url())
		t.Logf("other call's round with the floods going on: %v", time.Since(start))
	}
	if _, ended := w.Srv.Ended(ignored); ended {
		t.Fatal("the call flooding ignored lines ended")
	}
	w.farHangup(ignored)
	wantHungUp(t, w.waitEnd(ignored), "")
	wantHungUp(t, w.waitEnd(replies), gateway.StatusSlowClient)
	w.waitSessions(0)
}

// A program that never reads its events: once its pipe and the bounded
// buffer are full the session ends (EIVRGW_STATUS=SLOW_CLIENT, hang-up)
// instead of growing; other calls are unaffected.
func TestScriptNeverReads(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id := w.call(script("scripts/transport/no-read.pl"))
	w.waitSessions(1)
	stop := make(chan struct{})
	pressed := make(chan int, 1)
	go func() {
		n := 0
		defer func() { pressed <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if w.Srv.PressDTMF(id, '#', time.Millisecond) != nil {
				return
			}
			n++
		}
	}()
	other, c := w.tcpCall(ts, "")
	w.round(other, c, ts.url())
	end := w.waitEnd(id)
	close(stop)
	t.Logf("%d digits pressed", <-pressed)
	wantHungUp(t, end, gateway.StatusSlowClient)
}

// A TCP server that refuses the connection: native ExternalIVR returns -1
// (hang-up); the gateway says why in EIVRGW_STATUS.
func TestTCPServerRefuses(t *testing.T) {
	w := newWorld(t, opts{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	id := w.call("ivr://" + addr + "(x)")
	wantHungUp(t, w.waitEnd(id), gateway.StatusStartFailed)
}

// A TCP server that closes the connection mid-call: native ExternalIVR
// returns -1 and the channel hangs up.
func TestTCPServerClosesMidCall(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	c.send("S,tt-monkeys")
	w.until("the play starts", w.requested("POST", "/channels/"+id+"/play"))
	c.c.Close()
	wantHungUp(t, w.waitEnd(id), "")
}

// A TCP server that accepts and never says anything is legal ExternalIVR
// (no timeout natively): the call is kept until the caller hangs up, and
// the server then gets H.
func TestSilentTCPServerKept(t *testing.T) {
	hold := 6 * time.Second // beyond every gateway timeout (connect, call, stop, flush)
	if testing.Short() {
		hold = 1500 * time.Millisecond
	}
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	time.Sleep(hold)
	if _, ended := w.Srv.Ended(id); ended || w.GW.Sessions() != 1 {
		t.Fatalf("silent server's call not kept after %v", hold)
	}
	w.farHangup(id)
	c.expect("H,ts")
	c.expectEOF()
}

// A configuration reload during calls: live calls are untouched even when
// the new allow-list no longer admits them; new calls follow the new list.
func TestReloadDuringCalls(t *testing.T) {
	w := newWorld(t, opts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(ts, "")
	c.send("S,tt-monkeys")
	narrowed := defaultApp()
	narrowed.TCPHosts = []string{"192.0.2.1:*"}
	if err := w.GW.Reload([]gateway.AppConfig{narrowed}); err != nil {
		t.Fatal(err)
	}
	denied := w.call(ts.url() + "(x)")
	end := w.waitEnd(denied)
	if end.Vars[gateway.StatusVariable] != gateway.StatusDenied {
		t.Errorf("new call after the reload: end %+v, want %s", end, gateway.StatusDenied)
	}
	c.send("S,beep")
	c.expect("T,ts,tt-monkeys", "F,ts,beep")
	w.round(id, c, ts.url())

	if err := w.GW.Reload([]gateway.AppConfig{defaultApp()}); err != nil {
		t.Fatal(err)
	}
	id, c = w.tcpCall(ts, "")
	w.round(id, c, ts.url())
}
