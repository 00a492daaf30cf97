package aritest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fastOpts() Options {
	return Options{Speed: 20, Sounds: map[string]time.Duration{
		"hello-world": 2 * time.Second, "beep": 500 * time.Millisecond, "vm-goodbye": time.Second,
		"fr:hello-world": 4 * time.Second,
	}}
}

var tsRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$`)

func TestBasicCall(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	id, err := s.StartCall("gw", []string{"arg1", "arg2"}, CallOptions{ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	ev := gw.expect("StasisStart")[0]
	if ev.str("channel", "state") != "Ring" || ev.str("channel", "id") != id || ev.str("application") != "gw" {
		t.Fatalf("StasisStart: %v", ev)
	}
	if args := ev["args"].([]any); len(args) != 2 || args[0] != "arg1" {
		t.Fatalf("args %v", args)
	}
	if !tsRE.MatchString(ev.str("timestamp")) || !tsRE.MatchString(ev.str("channel", "creationtime")) {
		t.Fatalf("timestamp format: %v", ev)
	}
	mustCall(t, s, "POST", "/channels/c1/answer", nil, 204)
	if e := gw.expect("ChannelStateChange")[0]; e.str("channel", "state") != "Up" {
		t.Fatalf("state %v", e)
	}
	mustCall(t, s, "POST", "/channels/c1/answer", nil, 204) // no second event
	b := mustCall(t, s, "POST", "/channels/c1/play/pb1", url.Values{"media": {"sound:hello-world"}}, 201)
	var pb map[string]any
	_ = json.Unmarshal(b, &pb)
	if pb["state"] != "queued" || pb["target_uri"] != "channel:c1" || pb["language"] != "en" {
		t.Fatalf("play response %s", b)
	}
	start := time.Now()
	es := gw.expect("PlaybackStarted", "PlaybackFinished")
	if el := time.Since(start); el < 80*time.Millisecond || el > 10*time.Second {
		t.Errorf("2 s at speed 20 took %v", el)
	}
	if es[1].str("playback", "state") != "done" {
		t.Fatalf("finished %v", es[1])
	}
	mustCall(t, s, "GET", "/playbacks/pb1", nil, 404)
	mustCall(t, s, "DELETE", "/channels/c1", url.Values{"reason": {"busy"}}, 204)
	es = gw.expect("ChannelHangupRequest", "StasisEnd")
	if es[0].str("cause") != "32" || es[0].str("soft") != "true" {
		t.Fatalf("hangup request %v", es[0])
	}
	end, err := s.WaitEnd(context.Background(), id)
	if err != nil || !end.HungUp || end.Cause != 17 || !end.Soft {
		t.Fatalf("end %+v %v", end, err)
	}
	mustCall(t, s, "GET", "/channels/c1", nil, 404)
	gw.quiet(s) // nothing after StasisEnd, up to the channel's end
}

func TestEventKeyOrder(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	if _, err := s.StartCall("gw", nil, CallOptions{ID: "k1"}); err != nil {
		t.Fatal(err)
	}
	raw := <-gw.raw
	want := `{"type":"StasisStart","timestamp":"`
	if !strings.HasPrefix(string(raw), want) || !strings.Contains(string(raw), `"args":[],"channel":{"id":"k1","name":"Local/s@stasisin-00000000;2","state":"Ring","protocol_id":"","caller":{"name":"Test Caller","number":"5551234"}`) ||
		!strings.HasSuffix(string(raw), `"asterisk_id":"02:fc:00:00:00:01","application":"gw"}`) {
		t.Fatalf("frame %s", raw)
	}
	if err := s.FarHangup("k1", 17); err != nil {
		t.Fatal(err)
	}
	raw = <-gw.raw
	if !strings.HasPrefix(string(raw), `{"cause":17,"type":"ChannelHangupRequest"`) {
		t.Fatalf("frame %s", raw)
	}
}

func TestAuth(t *testing.T) {
	s := newServer(t, Options{Username: "u", Password: "p"})
	resp, err := http.Get(s.URL() + "/channels")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no creds: %d", resp.StatusCode)
	}
	resp, err = http.Get(s.URL() + "/channels?api_key=u:p")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("api_key: %d", resp.StatusCode)
	}
	_, resp, err = websocket.DefaultDialer.Dial(s.WebSocketURL("gw")+"&api_key=u:x", nil)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("bad ws creds: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestFarHangupFlushesQueue(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	id, _ := s.StartCall("gw", nil, CallOptions{Answered: true})
	gw.expect("StasisStart")
	for _, pb := range []string{"p1", "p2", "p3"} {
		mustCall(t, s, "POST", "/channels/"+id+"/play/"+pb, url.Values{"media": {"sound:hello-world"}}, 201)
	}
	gw.expect("PlaybackStarted")
	if err := s.FarHangup(id, 16); err != nil {
		t.Fatal(err)
	}
	es := gw.expect("ChannelHangupRequest", "PlaybackFinished", "PlaybackStarted", "PlaybackFinished",
		"PlaybackStarted", "PlaybackFinished", "StasisEnd")
	if es[0].str("cause") != "16" || es[0].str("soft") != "" {
		t.Fatalf("hangup %v", es[0])
	}
	for _, i := range []int{1, 3, 5} {
		if es[i].str("playback", "state") != "failed" {
			t.Fatalf("event %d %v", i, es[i])
		}
	}
	gw.quiet(s)
}

func TestBlockingBehindPlayback(t *testing.T) {
	o := fastOpts()
	o.Sounds["long-prompt"] = 200 * time.Second
	s := newServer(t, o)
	gw := dialTap(t, s, "gw")
	id, _ := s.StartCall("gw", nil, CallOptions{})
	gw.expect("StasisStart")
	// GET variable is immediate: it returns long before a 10 s playback
	// ends (a margin for a starved machine), which is then stopped.
	mustCall(t, s, "POST", "/channels/"+id+"/play/long", url.Values{"media": {"sound:long-prompt"}}, 201)
	gw.expect("PlaybackStarted")
	start := time.Now()
	mustCall(t, s, "GET", "/channels/"+id+"/variable", url.Values{"variable": {"CALLERID(num)"}}, 200)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("GET variable took %v: blocked behind the 10 s playback", el)
	}
	mustCall(t, s, "DELETE", "/playbacks/long", nil, 204)
	gw.expect("PlaybackFinished")
	// Answer waits for the playback.
	mustCall(t, s, "POST", "/channels/"+id+"/play", url.Values{"media": {"sound:hello-world"}}, 201)
	gw.expect("PlaybackStarted")
	start = time.Now()
	mustCall(t, s, "POST", "/channels/"+id+"/answer", nil, 204)
	if el := time.Since(start); el < 70*time.Millisecond {
		t.Fatalf("answer returned after %v, before the 100 ms playback ended", el)
	}
	gw.expect("PlaybackFinished", "ChannelStateChange")
}

func TestVariables(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	id, _ := s.StartCall("gw", nil, CallOptions{})
	gw.expect("StasisStart")
	ch := "/channels/" + id + "/variable"
	for _, tc := range []struct {
		name, want string
		status     int
	}{
		{"CALLERID(num)", `{"value":"5551234"}`, 200},
		{"CALLERID(all)", `{"value":"\"Test Caller\" \u003c5551234\u003e"}`, 200},
		{"NOT_SET", `{"message":"Provided variable was not found"}`, 404},
		{"STASISSTATUS", `{"value":""}`, 200},
		{"UNIQUEID", `{"value":"` + id + `"}`, 200},
		{"LEN(abc)", `{"value":"3"}`, 200},
		{"NOSUCH(x)", `{"message":"Unable to read provided function"}`, 500},
	} {
		st, b := call(t, s, "GET", ch, url.Values{"variable": {tc.name}}, "")
		if st != tc.status || string(b) != tc.want {
			t.Errorf("GET %s: %d %s, want %d %s", tc.name, st, b, tc.status, tc.want)
		}
	}
	mustCall(t, s, "POST", ch, url.Values{"variable": {"FOO"}, "value": {"bar"}}, 204)
	if e := gw.expect("ChannelVarset")[0]; e.str("variable") != "FOO" || e.str("value") != "bar" {
		t.Fatalf("varset %v", e)
	}
	mustCall(t, s, "POST", ch, url.Values{"variable": {"FOO"}}, 204) // unset, no event
	mustCall(t, s, "GET", ch, url.Values{"variable": {"FOO"}}, 404)
	mustCall(t, s, "POST", ch, url.Values{"variable": {"CALLERID(num)"}, "value": {"4242"}}, 204)
	gw.expect("ChannelCallerId")
	if st, _ := call(t, s, "POST", ch, nil, `{"variable":"J","value":"v"}`); st != 204 {
		t.Fatalf("json body: %d", st)
	}
	gw.expect("ChannelVarset")
	mustCall(t, s, "GET", "/channels/nope/variable", url.Values{"variable": {"X"}}, 404)
	if st, _ := call(t, s, "POST", "/channels/"+id+"/variables", nil, `{"variables":{"B1":"x","B2":"y"}}`); st != 204 {
		t.Fatalf("bulk set: %d", st)
	}
	gw.expect("ChannelVarset", "ChannelVarset")
	if b := mustCall(t, s, "GET", "/channels/"+id+"/variables", url.Values{"variables": {"B1,B2,NOPE"}}, 200); string(b) != `{"variables":{"B1":"x","B2":"y"}}` {
		t.Fatalf("bulk get: %s", b)
	}
	vars, _ := s.Vars(id)
	if vars["J"] != "v" {
		t.Fatalf("vars %v", vars)
	}
	gw.quiet(s)
}

func TestContinue(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	id, _ := s.StartCall("gw", nil, CallOptions{Answered: true})
	gw.expect("StasisStart")
	mustCall(t, s, "POST", "/channels/"+id+"/play", url.Values{"media": {"sound:beep"}}, 201)
	mustCall(t, s, "POST", "/channels/"+id+"/continue", nil, 204)
	gw.expect("PlaybackStarted", "PlaybackFinished", "StasisEnd")
	end, err := s.WaitEnd(context.Background(), id)
	if err != nil || !end.Continued || end.Context != "stasisin" || end.Exten != "s" || end.Priority != 3 || end.HungUp {
		t.Fatalf("end %+v %v", end, err)
	}
	mustCall(t, s, "POST", "/channels/"+id+"/play", url.Values{"media": {"sound:beep"}}, 409)
	mustCall(t, s, "GET", "/channels/"+id, nil, 200)
	if err := s.FarHangup(id, 16); err != nil {
		t.Fatal(err)
	}
	mustCall(t, s, "GET", "/channels/"+id, nil, 404)
	gw.quiet(s) // the channel left Stasis: its hangup reaches no app
}

func TestDTMF(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	id, _ := s.StartCall("gw", nil, CallOptions{Answered: true})
	gw.expect("StasisStart")
	if err := s.PressDTMFs(context.Background(), id, "12#", 120*time.Millisecond, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"1", "2", "#"} {
		e := gw.expect("ChannelDtmfReceived")[0]
		if e.str("digit") != d || e.str("duration_ms") != "120" {
			t.Fatalf("dtmf %v", e)
		}
	}
	mustCall(t, s, "POST", "/channels/"+id+"/dtmf", url.Values{"dtmf": {"9"}}, 204)
	var got string // sent on the channel's Stasis thread, after the 204
	testwait.Until(t, testwait.Long, "the DTMF is sent", func() bool { got = s.SentDTMF(id); return got != "" })
	if got != "9" {
		t.Fatalf("sent %q", got)
	}
	gw.quiet(s) // sent DTMF is not received back
	if err := s.PressDTMF("nope", '1', time.Millisecond); !errors.Is(err, ErrNoChannel) {
		t.Fatalf("err %v", err)
	}
}

// TestEncodeMatchesEncodingJSON: the hand-written encoder and encoding/json
// agree on every value an event carries.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	ch := channelJSON{ID: "a\"b", Name: "Local/x;2", State: "Up", Caller: callerJSON{"Ünï\x01", "1"},
		Dialplan:     dialplanJSON{Context: "c", Exten: "e", Priority: 7, AppName: "Stasis", AppData: "gw,\\x"},
		CreationTime: "t", Language: "en"}
	for _, v := range []any{ch, playbackJSON{ID: "p", MediaURI: "sound:a", NextMediaURI: "sound:b", TargetURI: "channel:x", Language: "en", State: "playing"},
		playbackJSON{ID: "p"}, []string{"a", "b\n"}, []string{}, 42, int64(-3), true, "x\xffy", callerJSON{}} {
		want, _ := json.Marshal(v)
		if got := appendValue(nil, v); string(got) != string(want) {
			t.Errorf("%T:\n got %s\nwant %s", v, got, want)
		}
	}
}

func TestWaitEndAfterClose(t *testing.T) {
	s, err := NewServer(fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	dialTap(t, s, "gw")
	ended, _ := s.StartCall("gw", nil, CallOptions{})
	live, _ := s.StartCall("gw", nil, CallOptions{})
	if err := s.FarHangup(ended, 17); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitEnd(context.Background(), ended); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for i := 0; i < 50; i++ { // the select must not pick ErrClosed at random
		if end, err := s.WaitEnd(context.Background(), ended); err != nil || end.Cause != 17 {
			t.Fatalf("after Close: %+v %v", end, err)
		}
	}
	if _, err := s.WaitEnd(context.Background(), live); !errors.Is(err, ErrClosed) {
		t.Fatalf("live call after Close: %v", err)
	}
}

// Real ARI sends ChannelDtmfReceived for a channel in Stasis that is not
// Up (early media; issue 12, measured on Asterisk 22.10.1), with the state
// of the channel unchanged.
func TestDTMFOnUnansweredChannel(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	id, _ := s.StartCall("gw", nil, CallOptions{})
	if st := gw.expect("StasisStart")[0].str("channel", "state"); st == "Up" {
		t.Fatalf("channel state %q, want not Up", st)
	}
	if err := s.PressDTMFs(context.Background(), id, "12", 100*time.Millisecond, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"1", "2"} {
		e := gw.expect("ChannelDtmfReceived")[0]
		if e.str("digit") != d || e.str("channel", "state") == "Up" {
			t.Fatalf("dtmf %v", e)
		}
	}
}

// An h extension keeps a hung-up channel readable while it runs (measured
// on Asterisk 22.10.1, issue 12); without one the channel is gone right
// after StasisEnd.
func TestHExtenKeepsChannelReadable(t *testing.T) {
	for _, tt := range []struct {
		name   string
		hExten time.Duration
		get    int
	}{
		{"no h extension", 0, 404},
		{"h extension running", time.Minute, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, fastOpts())
			gw := dialTap(t, s, "gw")
			id, _ := s.StartCall("gw", nil, CallOptions{Answered: true, Vars: map[string]string{"PRESET": "preset-value"}, HExten: tt.hExten})
			gw.expect("StasisStart")
			if err := s.FarHangup(id, 16); err != nil {
				t.Fatal(err)
			}
			gw.expect("ChannelHangupRequest", "StasisEnd")
			b := mustCall(t, s, "GET", "/channels/"+id+"/variable", url.Values{"variable": {"PRESET"}}, tt.get)
			if tt.get != 200 {
				return
			}
			if !strings.Contains(string(b), "preset-value") {
				t.Errorf("GET PRESET = %s", b)
			}
			if b := mustCall(t, s, "GET", "/channels/"+id+"/variable", url.Values{"variable": {"HANGUPCAUSE"}}, 200); !strings.Contains(string(b), `"16"`) {
				t.Errorf("GET HANGUPCAUSE = %s", b)
			}
			mustCall(t, s, "POST", "/channels/"+id+"/variable", url.Values{"variable": {"AFTER"}, "value": {"1"}}, 409)
		})
	}
}
