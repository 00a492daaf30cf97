package aritest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func TestApplicationReplaced(t *testing.T) {
	s := newServer(t, fastOpts())
	old := dialTap(t, s, "gw")
	nw := dialTap(t, s, "gw")
	e := old.expect("ApplicationReplaced")[0]
	if e.str("application") != "gw" {
		t.Fatalf("%v", e)
	}
	if _, err := s.StartCall("gw", nil, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	nw.expect("StasisStart")
	old.quiet(s)
	if n := s.Clients(); n != 2 {
		t.Fatalf("the replaced socket must stay open: %d clients", n)
	}
	// A socket for gw,gw2 replaces gw again.
	both := dialTap(t, s, "gw,gw2")
	nw.expect("ApplicationReplaced")
	if _, err := s.StartCall("gw2", nil, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	both.expect("StasisStart")
}

func TestDropLosesEvents(t *testing.T) {
	s, gw, id := upCall(t, fastOpts())
	s.DropWebSockets()
	select {
	case <-gw.done:
	case <-time.After(testwait.Long):
		t.Fatal("socket not closed")
	}
	if err := s.PressDTMF(id, '7', 100*time.Millisecond); err != nil { // lost
		t.Fatal(err)
	}
	if _, err := s.StartCall("gw", nil, CallOptions{}); !errors.Is(err, ErrNoApp) {
		t.Fatalf("StartCall without socket: %v", err)
	}
	b := mustCall(t, s, "GET", "/applications/gw", nil, 200)
	if !strings.Contains(string(b), `"channel_ids":["`+id+`"]`) {
		t.Fatalf("application: %s", b)
	}
	gw2 := dialTap(t, s, "gw")
	gw2.quiet(s) // nothing replayed
	if err := s.FarHangup(id, 16); err != nil {
		t.Fatal(err)
	}
	gw2.expect("ChannelHangupRequest", "StasisEnd")
}

func TestSlowClientDropped(t *testing.T) {
	s := newServer(t, fastOpts())
	u := s.WebSocketURL("gw") + "&api_key=asterisk:asterisk"
	conn, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer conn.Close()
	big := []byte(`{"type":"Big","pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	for i := 0; i < 400 && s.Clients() > 0; i++ { // never read: buffers fill up
		s.SendRaw(big)
	}
	testwait.Until(t, 5*time.Second, "slow client dropped", func() bool { return s.Clients() == 0 })
	if s.AppConnected("gw") {
		t.Fatal("app still connected")
	}
}

func TestFaultReorderDuplicateDelay(t *testing.T) {
	s := newServer(t, Options{Seed: 7})
	gw := dialTap(t, s, "gw")
	s.ReorderWindow(20 * time.Millisecond)
	for i := 0; i < 30; i++ {
		s.SendRaw([]byte(fmt.Sprintf(`{"type":"X","n":%d}`, i)))
	}
	seen, inOrder := map[string]bool{}, true
	for i := 0; i < 30; i++ {
		e := gw.next(5 * time.Second)
		if e.str("n") != fmt.Sprint(i) {
			inOrder = false
		}
		seen[e.str("n")] = true
	}
	if inOrder || len(seen) != 30 {
		t.Fatalf("reorder: in order %v, %d distinct", inOrder, len(seen))
	}
	s.ReorderWindow(0)

	s.Duplicate(1)
	s.SendRaw([]byte(`{"type":"D"}`))
	gw.expect("D", "D")
	s.Duplicate(0)

	s.Delay(80 * time.Millisecond)
	start := time.Now()
	s.SendRaw([]byte(`{"type":"L"}`))
	gw.expect("L")
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Fatalf("delay: arrived after %v", el)
	}
	s.Delay(0)

	s.SendMalformed()
	timeout := time.After(testwait.Long)
	for {
		select {
		case raw := <-gw.raw:
			if !json.Valid(raw) {
				return // the malformed frame arrived (and the tap's decode skipped it)
			}
		case <-timeout:
			t.Fatal("no malformed frame")
		}
	}
}

func TestFailRESTAndLatency(t *testing.T) {
	s, gw, id := upCall(t, fastOpts())
	s.FailREST("POST", "/channels/"+id+"/play", 503, 1)
	st, b := call(t, s, "POST", "/channels/"+id+"/play", url.Values{"media": {"sound:beep"}}, "")
	if st != 503 || !strings.Contains(string(b), "injected") {
		t.Fatalf("injected: %d %s", st, b)
	}
	gw.quiet(s) // no effect
	mustCall(t, s, "POST", "/channels/"+id+"/play", url.Values{"media": {"sound:beep"}}, 201)
	gw.expect("PlaybackStarted", "PlaybackFinished")

	s.RESTLatency(50 * time.Millisecond)
	start := time.Now()
	mustCall(t, s, "GET", "/channels/"+id, nil, 200)
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Fatalf("latency: %v", el)
	}
	s.RESTLatency(0)
	reqs := s.Requests()
	if len(reqs) < 3 || reqs[0].Status != 503 || reqs[0].Method != "POST" || reqs[0].Params["media"] != "sound:beep" {
		t.Fatalf("request log %+v", reqs)
	}
}

func TestRestart(t *testing.T) {
	s, gw, id := upCall(t, fastOpts())
	play(t, s, id, "p", "sound:hello-world")
	gw.expect("PlaybackStarted")
	s.Restart()
	end, err := s.WaitEnd(context.Background(), id)
	if err != nil || !end.Restarted {
		t.Fatalf("end %+v %v", end, err)
	}
	select {
	case <-gw.done:
	case <-time.After(testwait.Long):
		t.Fatal("socket survived the restart")
	}
	mustCall(t, s, "GET", "/channels/"+id, nil, 404)
	mustCall(t, s, "GET", "/playbacks/p", nil, 404)
	mustCall(t, s, "GET", "/applications/gw", nil, 404)
	gw2 := dialTap(t, s, "gw")
	if _, err := s.StartCall("gw", nil, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	gw2.expect("StasisStart")
}

func TestCloseUnblocksEverything(t *testing.T) {
	s, err := NewServer(fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	gw := dialTap(t, s, "gw")
	id, _ := s.StartCall("gw", nil, CallOptions{Answered: true})
	play(t, s, id, "p", "tone:ring")
	gw.expect("StasisStart", "PlaybackStarted")
	res := make(chan error, 1)
	go func() { // blocks behind the endless tone
		req, _ := http.NewRequest("POST", s.URL()+"/channels/"+id+"/answer", nil)
		req.SetBasicAuth("asterisk", "asterisk")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		res <- err // a 503 or a closed connection: either way it returned
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = s.WaitEnd(context.Background(), id)
	}()
	// The answer is queued behind the tone before Close (WaitEnd may or may
	// not block yet: either order must end it).
	testwait.Until(t, testwait.Long, "the answer is queued behind the tone", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, cmd := range s.chans[id].queue {
			if cmd.kind == cmdAnswer {
				return true
			}
		}
		return false
	})
	s.Close()
	select {
	case <-done:
	case <-time.After(testwait.Long):
		t.Fatal("WaitEnd still blocked after Close")
	}
	select {
	case <-res:
	case <-time.After(testwait.Long):
		t.Fatal("answer still blocked after Close")
	}
}

func TestSubscribeAll(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	u := s.WebSocketURL("mon") + "&subscribeAll=true&api_key=asterisk:asterisk"
	conn, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer conn.Close()
	id, _ := s.StartCall("gw", nil, CallOptions{})
	gw.expect("StasisStart")
	mustCall(t, s, "POST", "/channels/"+id+"/answer", nil, 204)
	gw.expect("ChannelStateChange")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for { // no StasisStart (app topic only), but the channel's events
		_, b, err := conn.ReadMessage()
		if err != nil || strings.Contains(string(b), `"type":"StasisStart"`) || !strings.Contains(string(b), `"application":"mon"`) {
			t.Fatalf("subscribeAll frame %s %v", b, err)
		}
		if strings.Contains(string(b), `"type":"ChannelStateChange"`) {
			return
		}
	}
}
