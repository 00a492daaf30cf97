package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// recObserver records what a gateway tells its Observer, in order.
type recObserver struct{ got chan any }

func newRecObserver() *recObserver { return &recObserver{got: make(chan any, 1000)} }

func (r *recObserver) SessionStarted(v SessionInfo)   { r.got <- v }
func (r *recObserver) SessionLine(v WireLine)         { r.got <- v }
func (r *recObserver) SessionPlayback(v PlaybackNote) { r.got <- v }
func (r *recObserver) SessionEnded(v Report)          { r.got <- v }
func (r *recObserver) next(t *testing.T) any {
	t.Helper()
	select {
	case v := <-r.got:
		return v
	case <-time.After(testwait.Long):
		t.Fatal("the observer was told nothing more")
		return nil
	}
}

// brief is one observed value as a line (times masked; a Report's Cause is
// checked with errors.Is by the tests).
func brief(v any) string {
	switch v := v.(type) {
	case SessionInfo:
		return fmt.Sprintf("started %s name=%s session=%s caller=%s/%s target=%s argv=%q options=%s",
			v.Channel, v.ChannelName, v.Session, v.CallerNum, v.CallerName, v.Target, v.Argv, v.Options)
	case WireLine:
		dir, line := "→", v.Line
		if v.Sent {
			dir, line = "←", strings.TrimSuffix(maskTS(v.Line+"\n"), "\n")
		}
		return fmt.Sprintf("line %s %s %s %s", v.Channel, v.Session, dir, line)
	case PlaybackNote:
		how := "started"
		switch {
		case v.Started:
		case v.Interrupted:
			how = "interrupted"
		default:
			how = "played"
		}
		return fmt.Sprintf("playback %s %s %s %s", v.Channel, v.Session, v.File, how)
	case Report:
		return fmt.Sprintf("ended %s %s app=%s served=%v status=%s", v.Channel, v.Session, v.App, v.Served, v.Status)
	}
	return fmt.Sprintf("%T", v)
}

// observedGateway runs a Gateway on benchARI with obs, serving ivr://
// clients on a listener of the test.
func observedGateway(t *testing.T, obs Observer) (*benchARI, func(f []byte), net.Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	fa := newBenchARI()
	g, err := New(Config{
		Apps:          []AppConfig{{Name: "eivr", TCPHosts: []string{"127.0.0.1:*"}}},
		NoIdleSilence: true,
		Observer:      obs,
	}, fa)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	h := <-fa.handler
	return fa, func(f []byte) {
		t.Helper()
		ev := new(ari.Event)
		if err := ari.Decode(f, ev); err != nil {
			t.Fatal(err)
		}
		h.Event(ev)
	}, ln
}

// readLine reads one event line the gateway sent to a TCP client.
func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(testwait.Long)); err != nil {
		t.Fatal(err)
	}
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := c.Read(one); err != nil {
			t.Fatalf("reading an event line (so far %q): %v", b, err)
		}
		if one[0] == '\n' {
			return strings.TrimSuffix(maskTS(string(b)+"\n"), "\n")
		}
		b = append(b, one[0])
	}
}

// The Observer's view of a call served, of a call refused and of a call
// the caller hung up: each told in the order it happened, with filled
// values, the Report last and its Cause an Err* for errors.Is.
func TestObserverSequence(t *testing.T) {
	obs := newRecObserver()
	fa, event, ln := observedGateway(t, obs)
	target := "ivr://" + ln.Addr().String()
	expect := func(want ...string) Report {
		t.Helper()
		var last Report
		for i, w := range want {
			v := obs.next(t)
			if got := brief(v); got != w {
				t.Fatalf("observed #%d:\n got %s\nwant %s", i, got, w)
			}
			if r, ok := v.(Report); ok {
				last = r
			}
		}
		return last
	}
	before := time.Now()

	// A call served: a play, then the client exits while it plays.
	event(frame("StasisStart", "c1", 0, `"args":["`+target+`(x,https://u:pw@example.com/p)","i"],`))
	c1, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	v := obs.next(t)
	info, ok := v.(SessionInfo)
	if !ok {
		t.Fatalf("first observed %s, want the SessionInfo", brief(v))
	}
	if got, want := brief(info), `started c1 name=PJSIP/a-0001 session=1 caller=5551234/ target=`+target+
		` argv=["`+target+`" "x" "https://u:xxxxx@example.com/p"] options=i`; got != want {
		t.Errorf("SessionInfo:\n got %s\nwant %s", got, want)
	}
	if info.App != "eivr" || info.Started.Before(before) || info.Started.After(time.Now()) {
		t.Errorf("SessionInfo app %q, started %v (test began %v)", info.App, info.Started, before)
	}
	if _, err := c1.Write([]byte("Q,unknown\nS,beep\n")); err != nil {
		t.Fatal(err)
	}
	<-fa.played
	if _, err := c1.Write([]byte("E,bye\n")); err != nil {
		t.Fatal(err)
	}
	r := expect(
		"line c1 1 → Q,unknown", // ignored (no reply), but the client wrote it
		"line c1 1 → S,beep",
		"playback c1 1 beep started",
		"line c1 1 → E,bye",
		"line c1 1 ← E,ts",
		"playback c1 1 beep interrupted",
		"ended c1 1 app=eivr served=true status=",
	)
	if !errors.Is(r.Cause, ErrClientExit) || !r.Started.Equal(info.Started) || r.Duration <= 0 {
		t.Errorf("report of c1: cause %v, started %v (info %v), duration %v", r.Cause, r.Started, info.Started, r.Duration)
	}

	// A call refused: no SessionStarted, only its Report (it comes first).
	event(frame("StasisStart", "c2", 1, `"args":["ivr://192.0.2.1:1"],`))
	r = expect("ended c2 2 app=eivr served=false status=DENIED")
	if !errors.Is(r.Cause, ErrDenied) {
		t.Errorf("report of c2: cause %v, want ErrDenied", r.Cause)
	}

	// A call the caller hangs up.
	event(frame("StasisStart", "c3", 2, `"args":["`+target+`"],`))
	c3, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	expect(`started c3 name=PJSIP/a-0001 session=3 caller=5551234/ target=` + target + ` argv=["` + target + `"] options=`)
	event(frame("ChannelHangupRequest", "c3", 3, `"cause":16,`))
	if l := readLine(t, c3); l != "H,ts" {
		t.Errorf("client of c3 read %q, want H,ts", l)
	}
	r = expect("line c3 3 ← H,ts", "ended c3 3 app=eivr served=true status=")
	if !errors.Is(r.Cause, ErrHangup) {
		t.Errorf("report of c3: cause %v, want ErrHangup", r.Cause)
	}
}

// A file that plays to its end is noted as played, one stopped by S as
// interrupted; every line of both directions is seen (harness: no ARI).
func TestObserverSeesLinesAndPlaybacks(t *testing.T) {
	obs := newRecObserver()
	h := startHarness(t, appSpec{}, "Up", func(e *sessionEnv, _ *fakeOps, _ *fakeConn) { e.obs = obs })
	h.cmd("S,beep")
	h.expectCalls("play sound:beep pb1")
	h.finished("pb1", "done")
	h.expectLines("F,ts,beep")
	h.cmd("S,tt-monkeys")
	h.expectCalls("play sound:tt-monkeys pb2")
	h.cmd("S,beep")
	h.expectLines("T,ts,tt-monkeys")
	h.expectCalls("stop pb2")
	h.finished("pb2", "done")
	h.expectCalls("play sound:beep pb3")
	h.cmd("E,done-01")
	h.expectLines("E,ts")
	h.outcome()
	for i, want := range []string{
		"started c1 name= session=s1 caller=/ target= argv=[] options=",
		"line c1 s1 → S,beep",
		"playback c1 s1 beep started",
		"playback c1 s1 beep played",
		"line c1 s1 ← F,ts,beep",
		"line c1 s1 → S,tt-monkeys",
		"playback c1 s1 tt-monkeys started",
		"line c1 s1 → S,beep",
		"line c1 s1 ← T,ts,tt-monkeys",
		"playback c1 s1 tt-monkeys interrupted",
		"playback c1 s1 beep started",
		"line c1 s1 → E,done-01",
		"line c1 s1 ← E,ts",
		"playback c1 s1 beep interrupted",
	} {
		if got := brief(obs.next(t)); got != want {
			t.Fatalf("observed #%d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// Observers skips nil entries and tells each of the others in turn.
func TestObservers(t *testing.T) {
	if Observers() != nil || Observers(nil, nil) != nil {
		t.Error("Observers of nothing is not nil")
	}
	a := newRecObserver()
	if Observers(nil, a) != Observer(a) {
		t.Error("Observers of one is not that one")
	}
	b := newRecObserver()
	o := Observers(a, nil, b)
	o.SessionStarted(SessionInfo{Channel: "c"})
	o.SessionLine(WireLine{Channel: "c", Line: "S,x"})
	o.SessionPlayback(PlaybackNote{Channel: "c", File: "x", Started: true})
	o.SessionEnded(Report{Channel: "c"})
	for _, r := range []*recObserver{a, b} {
		for _, want := range []string{"started c name= session= caller=/ target= argv=[] options=", "line c  → S,x", "playback c  x started", "ended c  app= served=false status="} {
			if got := brief(r.next(t)); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		}
	}
}
