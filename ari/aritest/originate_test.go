package aritest

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func types(es []evt) string {
	var out []string
	for _, e := range es {
		s := e.typ()
		switch s {
		case "Dial":
			s += "(" + e.str("dialstatus") + ")"
		case "ChannelStateChange":
			s += "(" + e.str("channel", "state") + ")"
		case "ChannelDestroyed", "ChannelHangupRequest":
			s += "(" + e.str("cause") + ")"
		case "ChannelVarset":
			s += "(" + e.str("variable") + "=" + e.str("value") + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func collect(t *testing.T, tp *tap, n int) []evt {
	t.Helper()
	out := make([]evt, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, tp.next(5*time.Second))
	}
	return out
}

func TestOriginateAnswer(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	st, b := call(t, s, "POST", "/channels", url.Values{"endpoint": {"Local/s@answerer/n"}, "app": {"gw"},
		"appArgs": {"c2c,42"}, "channelId": {"o1"}, "callerId": {"ClickToCall <100>"}}, "")
	if st != 200 {
		t.Fatalf("originate %d %s", st, b)
	}
	var ch map[string]any
	_ = json.Unmarshal(b, &ch)
	if ch["id"] != "o1" || ch["state"] != "Down" {
		t.Fatalf("channel %s", b)
	}
	es := collect(t, gw, 7)
	if got, want := types(es), "Dial() ChannelStateChange(Ringing) Dial(RINGING) ChannelStateChange(Up) Dial(ANSWER) ChannelVarset(STASISSTATUS=) StasisStart"; got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	if a := es[6]["args"].([]any); len(a) != 2 || a[0] != "c2c" || es[6].str("channel", "caller", "number") != "100" {
		t.Fatalf("StasisStart %v", es[6])
	}
	mustCall(t, s, "DELETE", "/channels/o1", nil, 204)
	if got, want := types(collect(t, gw, 4)), "ChannelHangupRequest(32) StasisEnd ChannelVarset(STASISSTATUS=SUCCESS) ChannelDestroyed(16)"; got != want {
		t.Fatalf("hangup events\n got %s\nwant %s", got, want)
	}
}

func TestOriginateBusyAndNoAnswer(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	s.SetEndpoint("PJSIP/busy", Endpoint{Outcome: Busy})
	s.SetEndpoint("PJSIP/away", Endpoint{Outcome: NoAnswer})
	mustCall(t, s, "POST", "/channels", url.Values{"endpoint": {"PJSIP/busy"}, "app": {"gw"}, "channelId": {"b1"}}, 200)
	if got, want := types(collect(t, gw, 3)), "Dial() Dial(BUSY) ChannelDestroyed(0)"; got != want {
		t.Fatalf("busy\n got %s\nwant %s", got, want)
	}
	mustCall(t, s, "POST", "/channels", url.Values{"endpoint": {"PJSIP/away"}, "app": {"gw"}, "channelId": {"n1"}, "timeout": {"3"}}, 200)
	if got, want := types(collect(t, gw, 4)), "Dial() ChannelStateChange(Ringing) Dial(RINGING) ChannelDestroyed(19)"; got != want {
		t.Fatalf("no answer\n got %s\nwant %s", got, want)
	}
	end, err := s.WaitEnd(context.Background(), "n1")
	if err != nil || !end.HungUp || end.Cause != 19 {
		t.Fatalf("end %+v %v", end, err)
	}
	gw.quiet(s)
}

func TestCreateDial(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	mustCall(t, s, "POST", "/channels/create", url.Values{"endpoint": {"Local/s@answerer/n"}, "app": {"gw"}, "channelId": {"cr"}}, 200)
	es := collect(t, gw, 3)
	if got, want := types(es), "ChannelDialplan ChannelVarset(STASISSTATUS=) StasisStart"; got != want || es[2].str("channel", "state") != "Down" {
		t.Fatalf("create\n got %s\nwant %s", got, want)
	}
	mustCall(t, s, "POST", "/channels/cr/play", url.Values{"media": {"sound:beep"}}, 412) // Down
	mustCall(t, s, "POST", "/channels/cr/dial", url.Values{"timeout": {"10"}}, 204)
	if got, want := types(collect(t, gw, 5)), "Dial() ChannelStateChange(Ringing) Dial(RINGING) ChannelStateChange(Up) Dial(ANSWER)"; got != want {
		t.Fatalf("dial\n got %s\nwant %s", got, want)
	}
	mustCall(t, s, "POST", "/channels/cr/dial", nil, 409)
}

func TestOriginateErrors(t *testing.T) {
	s := newServer(t, fastOpts())
	dialTap(t, s, "gw")
	for _, tc := range []struct {
		q    url.Values
		code int
		body string
	}{
		{url.Values{"endpoint": {"Bogus/foo"}, "app": {"gw"}}, 500, `{"error":"Allocation failed"}`},
		{url.Values{"endpoint": {"Local/s@x/n"}, "app": {"gw"}, "channelId": {"X-caller"}, "otherChannelId": {"X"}}, 409, `{"message":"Channel with given unique ID already exists"}`},
		{url.Values{"app": {"gw"}}, 400, ""},
	} {
		st, b := call(t, s, "POST", "/channels", tc.q, "")
		if st != tc.code || (tc.body != "" && string(b) != tc.body) {
			t.Errorf("%v: %d %s, want %d %s", tc.q, st, b, tc.code, tc.body)
		}
	}
}

func TestMoveAndContinueElsewhere(t *testing.T) {
	s := newServer(t, Options{Speed: 20, Contexts: []string{"stasisin"}})
	gw := dialTap(t, s, "gw")
	gw2 := dialTap(t, s, "gw2")
	id, _ := s.StartCall("gw", []string{"a"}, CallOptions{Answered: true})
	gw.expect("StasisStart")
	mustCall(t, s, "POST", "/channels/"+id+"/move", url.Values{"app": {"gw2"}, "appArgs": {"moved,x"}}, 204)
	e := gw2.expect("StasisStart")[0]
	if a := e["args"].([]any); len(a) != 2 || a[0] != "moved" || e.str("channel", "dialplan", "app_data") != "gw,a" {
		t.Fatalf("moved %v", e)
	}
	gw.expect("StasisEnd")
	mustCall(t, s, "POST", "/channels/"+id+"/continue", url.Values{"context": {"nonexistent"}}, 204)
	gw2.expect("StasisEnd")
	testwait.Until(t, 5*time.Second, "channel gone", func() bool { _, err := s.State(id); return err != nil })
}

func TestSoundsAndInfo(t *testing.T) {
	s := newServer(t, fastOpts())
	var snds []soundJSON
	_ = json.Unmarshal(mustCall(t, s, "GET", "/sounds", nil, 200), &snds)
	if len(snds) != 3 || snds[1].ID != "hello-world" || len(snds[1].Formats) != 2 {
		t.Fatalf("sounds %+v", snds)
	}
	_ = json.Unmarshal(mustCall(t, s, "GET", "/sounds", url.Values{"lang": {"fr"}}, 200), &snds)
	if len(snds) != 1 {
		t.Fatalf("fr sounds %+v", snds)
	}
	mustCall(t, s, "GET", "/sounds", url.Values{"format": {"wav"}}, 404)
	mustCall(t, s, "GET", "/sounds/beep", nil, 200)
	mustCall(t, s, "GET", "/sounds/nope", nil, 404)
	var info map[string]map[string]any
	_ = json.Unmarshal(mustCall(t, s, "GET", "/asterisk/info", nil, 200), &info)
	if info["system"]["version"] != "22.10.1" || !tsRE.MatchString(info["status"]["startup_time"].(string)) {
		t.Fatalf("info %v", info)
	}
	def := newServer(t, Options{})
	_ = json.Unmarshal(mustCall(t, def, "GET", "/sounds/digits%2F1", nil, 200), &snds[0])
	if snds[0].ID != "digits/1" {
		t.Fatalf("digits/1: %+v", snds[0])
	}
}

// Originate and create run Stasis("app,appArgs"): Asterisk's standard
// splitter, so parentheses protect commas (an ExternalIVR application
// string) and quotes and backslashes are removed. A move's appArgs are
// split on every comma (strtok_r), empty fields dropped.
func TestStasisAppArgsSplit(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	gw2 := dialTap(t, s, "gw2")
	stasisStart := func(tp *tap) evt { // skips the dial's events
		for {
			if e := tp.next(5 * time.Second); e.typ() == "StasisStart" {
				return e
			}
		}
	}
	args := func(e evt) []string {
		var out []string
		for _, a := range e["args"].([]any) {
			out = append(out, a.(string))
		}
		return out
	}
	for _, tc := range []struct {
		appArgs string
		want    []string
	}{
		{"/prog(a,b),n", []string{"/prog(a,b)", "n"}},
		{`ivr://h(x,"y,z"),[a,b],c\,d,`, []string{"ivr://h(x,y,z)", "[a,b]", "c,d", ""}},
		{"plain", []string{"plain"}},
	} {
		mustCall(t, s, "POST", "/channels", url.Values{"endpoint": {"Local/s@answerer/n"}, "app": {"gw"}, "appArgs": {tc.appArgs}}, 200)
		e := stasisStart(gw)
		if got := args(e); strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("originate appArgs %q: StasisStart args %q, want %q", tc.appArgs, got, tc.want)
		}
	}
	mustCall(t, s, "POST", "/channels/create", url.Values{"endpoint": {"Local/s@answerer/n"}, "app": {"gw"}, "appArgs": {"/prog(a,b),n"}, "channelId": {"cr"}}, 200)
	e := stasisStart(gw)
	if got := args(e); len(got) != 2 || got[0] != "/prog(a,b)" || got[1] != "n" || e.str("channel", "dialplan", "app_data") != "gw,/prog(a,b),n" {
		t.Errorf("create: StasisStart args %q, app_data %q", got, e.str("channel", "dialplan", "app_data"))
	}
	mustCall(t, s, "POST", "/channels/cr/move", url.Values{"app": {"gw2"}, "appArgs": {"/prog(a,b),,n"}}, 204)
	if got := args(stasisStart(gw2)); strings.Join(got, "|") != "/prog(a|b)|n" {
		t.Errorf("move: StasisStart args %q, want [/prog(a b) n]", got)
	}
}
