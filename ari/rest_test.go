package ari

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const channelJSON = `{"id":"c 1","name":"Local/s@in-00000001;2","state":"Ring","protocol_id":"","caller":{"name":"Test Caller","number":"5551234"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"in","exten":"s","priority":2,"app_name":"Stasis","app_data":"gw,a"},"creationtime":"2026-11-23T18:02:57.439+0000","language":"en","channelvars":{"X":"1"}}`

var wantChannel = Channel{ID: "c 1", Name: "Local/s@in-00000001;2", State: "Ring", Language: "en",
	Caller:      CallerID{Name: "Test Caller", Number: "5551234"},
	Dialplan:    DialplanCEP{Context: "in", Exten: "s", Priority: 2, AppName: "Stasis", AppData: "gw,a"},
	ChannelVars: map[string]string{"X": "1"}}

const playbackJSON = `{"id":"pb1","media_uri":"sound:hello-world","target_uri":"channel:c 1","language":"en","state":"queued"}`

var wantPlayback = Playback{ID: "pb1", MediaURI: "sound:hello-world", TargetURI: "channel:c 1", Language: "en", State: "queued"}

func TestRESTCalls(t *testing.T) {
	f := newFake(t, false)
	c := newTestClient(t, testConfig(f))
	t.Cleanup(c.Close)
	ctx := t.Context()
	tests := []struct {
		name   string
		method string
		path   string // as Asterisk sees it (decoded), relative to /ari
		query  url.Values
		body   string // expected JSON body
		status int
		reply  string
		call   func() (any, error)
		want   any
	}{
		{"answer", "POST", "/channels/c 1/answer", url.Values{}, "", 204, "",
			func() (any, error) { return nil, c.Answer(ctx, "c 1") }, nil},
		{"hangup", "DELETE", "/channels/c 1", url.Values{"reason": {"busy"}}, "", 204, "",
			func() (any, error) { return nil, c.Hangup(ctx, "c 1", "busy") }, nil},
		{"hangup default", "DELETE", "/channels/c1", url.Values{}, "", 204, "",
			func() (any, error) { return nil, c.Hangup(ctx, "c1", "") }, nil},
		{"play with id", "POST", "/channels/c 1/play/pb1", url.Values{"media": {"sound:hello-world,sound:beep"}, "lang": {"fr"}}, "", 201, playbackJSON,
			func() (any, error) {
				return c.Play(ctx, "c 1", "pb1", []string{"sound:hello-world", "sound:beep"}, "fr")
			}, wantPlayback},
		{"play", "POST", "/channels/c1/play", url.Values{"media": {"sound:a"}}, "", 201, playbackJSON,
			func() (any, error) { return c.Play(ctx, "c1", "", []string{"sound:a"}, "") }, wantPlayback},
		{"get playback", "GET", "/playbacks/pb1", url.Values{}, "", 200, playbackJSON,
			func() (any, error) { return c.GetPlayback(ctx, "pb1") }, wantPlayback},
		{"stop playback", "DELETE", "/playbacks/pb1", url.Values{}, "", 204, "",
			func() (any, error) { return nil, c.StopPlayback(ctx, "pb1") }, nil},
		{"get global variable", "GET", "/asterisk/variable", url.Values{"variable": {"ASTDATADIR"}}, "", 200, `{"value":"/var/lib/asterisk"}`,
			func() (any, error) { return c.GetGlobalVariable(ctx, "ASTDATADIR") }, "/var/lib/asterisk"},
		{"get variable", "GET", "/channels/c1/variable", url.Values{"variable": {"CALLERID(num)"}}, "", 200, `{"value":"5551234"}`,
			func() (any, error) { return c.GetVariable(ctx, "c1", "CALLERID(num)") }, "5551234"},
		{"set variable", "POST", "/channels/c1/variable", url.Values{"variable": {"A"}, "value": {"x=y&z"}}, "", 204, "",
			func() (any, error) { return nil, c.SetVariable(ctx, "c1", "A", "x=y&z") }, nil},
		{"set empty variable", "POST", "/channels/c1/variable", url.Values{"variable": {"A"}, "value": {""}}, "", 204, "",
			func() (any, error) { return nil, c.SetVariable(ctx, "c1", "A", "") }, nil},
		{"continue next", "POST", "/channels/c1/continue", url.Values{}, "", 204, "",
			func() (any, error) { return nil, c.Continue(ctx, "c1", "", "", 0, "") }, nil},
		{"continue to", "POST", "/channels/c1/continue", url.Values{"context": {"out"}, "extension": {"100"}, "priority": {"3"}, "label": {"l"}}, "", 204, "",
			func() (any, error) { return nil, c.Continue(ctx, "c1", "out", "100", 3, "l") }, nil},
		{"move", "POST", "/channels/c1/move", url.Values{"app": {"other"}, "appArgs": {"a,b"}}, "", 204, "",
			func() (any, error) { return nil, c.Move(ctx, "c1", "other", []string{"a", "b"}) }, nil},
		{"dtmf", "POST", "/channels/c1/dtmf", url.Values{"dtmf": {"12#"}, "between": {"50"}, "duration": {"80"}}, "", 204, "",
			func() (any, error) {
				return nil, c.SendDTMF(ctx, "c1", "12#", DTMFOptions{Between: 50 * time.Millisecond, Duration: 80 * time.Millisecond})
			}, nil},
		{"ring", "POST", "/channels/c1/ring", url.Values{}, "", 204, "",
			func() (any, error) { return nil, c.Ring(ctx, "c1") }, nil},
		{"start silence", "POST", "/channels/c1/silence", url.Values{}, "", 204, "",
			func() (any, error) { return nil, c.StartSilence(ctx, "c1") }, nil},
		{"stop silence", "DELETE", "/channels/c1/silence", url.Values{}, "", 204, "",
			func() (any, error) { return nil, c.StopSilence(ctx, "c1") }, nil},
		{"originate", "POST", "/channels", url.Values{"endpoint": {"Local/s@answerer"}, "app": {"gw"}, "appArgs": {"x,y"}, "callerId": {`"A" <1>`}, "timeout": {"2"}, "channelId": {"c 1"}, "otherChannelId": {"o1"}}, `{"variables":{"V":"1"}}`, 200, channelJSON,
			func() (any, error) {
				return c.Originate(ctx, OriginateParams{Endpoint: "Local/s@answerer", App: "gw", AppArgs: []string{"x", "y"}, CallerID: `"A" <1>`,
					Timeout: 1500 * time.Millisecond, ChannelID: "c 1", OtherChannelID: "o1", Variables: map[string]string{"V": "1"}})
			}, wantChannel},
		{"create", "POST", "/channels/create", url.Values{"endpoint": {"Local/s@answerer"}, "app": {"gw"}, "channelId": {"c 1"}}, "", 200, channelJSON,
			func() (any, error) {
				return c.CreateChannel(ctx, CreateParams{Endpoint: "Local/s@answerer", App: "gw", ChannelID: "c 1"})
			}, wantChannel},
		{"dial", "POST", "/channels/c1/dial", url.Values{"caller": {"c0"}, "timeout": {"10"}}, "", 204, "",
			func() (any, error) { return nil, c.Dial(ctx, "c1", "c0", 10*time.Second) }, nil},
		{"get channel", "GET", "/channels/c 1", url.Values{}, "", 200, channelJSON,
			func() (any, error) { return c.GetChannel(ctx, "c 1") }, wantChannel},
		{"list channels", "GET", "/channels", url.Values{}, "", 200, "[" + channelJSON + "," + channelJSON + "]",
			func() (any, error) { return c.ListChannels(ctx) }, []Channel{wantChannel, wantChannel}},
		{"list no channels", "GET", "/channels", url.Values{}, "", 200, "[]",
			func() (any, error) { return c.ListChannels(ctx) }, []Channel(nil)},
		{"application", "GET", "/applications/gw", url.Values{}, "", 200, `{"name":"gw","channel_ids":["c1","c2"],"bridge_ids":[],"endpoint_ids":[],"device_names":[],"events_allowed":[],"events_disallowed":[]}`,
			func() (any, error) { return c.GetApplication(ctx, "gw") },
			Application{Name: "gw", ChannelIDs: []string{"c1", "c2"}, BridgeIDs: []string{}, EndpointIDs: []string{}, DeviceNames: []string{}}},
		{"sounds", "GET", "/sounds", url.Values{"lang": {"en"}}, "", 200, `[{"id":"beep","text":"","formats":[{"language":"en","format":"gsm"}]}]`,
			func() (any, error) { return c.Sounds(ctx, "en") },
			[]Sound{{ID: "beep", Formats: []FormatLang{{Language: "en", Format: "gsm"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				method, path, body string
				query              url.Values
			}
			f.handle(tt.method, tt.path, func(w http.ResponseWriter, r *http.Request) {
				got.method, got.path, got.query = r.Method, r.URL.Path, r.URL.Query()
				b := make([]byte, 1024)
				n, _ := r.Body.Read(b)
				got.body = string(b[:n])
				reply(tt.status, tt.reply)(w, r)
			})
			res, err := tt.call()
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if got.method != tt.method || got.path != "/ari"+tt.path || !reflect.DeepEqual(got.query, tt.query) || got.body != tt.body {
				t.Errorf("sent %s %s ?%v %q, want %s /ari%s ?%v %q", got.method, got.path, got.query, got.body, tt.method, tt.path, tt.query, tt.body)
			}
			if tt.want != nil && !reflect.DeepEqual(res, tt.want) {
				t.Errorf("result = %#v\nwant %#v", res, tt.want)
			}
		})
	}
}

func TestRESTErrors(t *testing.T) {
	f := newFake(t, false)
	c := newTestClient(t, testConfig(f))
	t.Cleanup(c.Close)
	ctx := t.Context()
	var gets, posts atomic.Int32
	f.handle("GET", "/channels/gone/variable", reply(404, `{"message":"Provided channel was not found"}`))
	f.handle("GET", "/channels/c1/variable", reply(404, `{"message":"Provided variable was not found"}`))
	f.handle("POST", "/channels/c1/answer", reply(409, `{"message":"Channel not in Stasis application"}`))
	f.handle("POST", "/channels/c1/play", reply(412, `{"message":"Channel in invalid state"}`))
	f.handle("POST", "/channels/c1/dtmf", reply(400, `{"message":"DTMF is required"}`))
	f.handle("POST", "/channels", reply(500, `{"error":"Allocation failed"}`))
	f.handle("GET", "/playbacks/p503", func(w http.ResponseWriter, r *http.Request) {
		if gets.Add(1) < 3 {
			reply(503, "")(w, r)
			return
		}
		reply(200, `{"id":"p503","state":"playing"}`)(w, r)
	})
	f.handle("DELETE", "/playbacks/p503", func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		reply(503, "")(w, r)
	})

	for _, tt := range []struct {
		name string
		err  error
		is   error
		not  error
		msg  string
	}{
		{"no channel", func() error { _, err := c.GetVariable(ctx, "gone", "X"); return err }(), ErrNotFound, ErrVariableNotSet, "ari: GET /channels/gone/variable: 404 Provided channel was not found"},
		{"unset", func() error { _, err := c.GetVariable(ctx, "c1", "X"); return err }(), ErrVariableNotSet, ErrNotFound, "Provided variable was not found"},
		{"conflict", c.Answer(ctx, "c1"), ErrConflict, ErrNotFound, "409 Channel not in Stasis application"},
		{"precondition", func() error { _, err := c.Play(ctx, "c1", "", []string{"sound:x"}, ""); return err }(), ErrPrecondition, ErrConflict, "412"},
		{"bad request", c.SendDTMF(ctx, "c1", "1", DTMFOptions{}), ErrBadRequest, ErrUnavailable, "DTMF is required"},
		{"server error", func() error { _, err := c.Originate(ctx, OriginateParams{Endpoint: "Bogus/x", App: "gw"}); return err }(), ErrUnavailable, ErrBadRequest, "500 Allocation failed"},
		{"not retried", c.StopPlayback(ctx, "p503"), ErrUnavailable, ErrNotFound, "503"},
		{"local: empty id", c.Answer(ctx, ""), ErrBadRequest, ErrNotFound, "empty channel id"},
		{"local: comma", func() error { _, err := c.Play(ctx, "c1", "", []string{"a,b"}, ""); return err }(), ErrBadRequest, nil, "comma"},
		{"unknown route", c.Ring(ctx, "c1"), ErrNotFound, ErrVariableNotSet, "404"},
	} {
		if !errors.Is(tt.err, tt.is) || (tt.not != nil && errors.Is(tt.err, tt.not)) || tt.err == nil || !strings.Contains(tt.err.Error(), tt.msg) {
			t.Errorf("%s: err = %v; want Is(%v), not Is(%v), containing %q", tt.name, tt.err, tt.is, tt.not, tt.msg)
		}
	}
	var ae *Error
	if err := c.Answer(ctx, "c1"); !errors.As(err, &ae) || ae.Status != 409 || ae.Method != "POST" || ae.Path != "/channels/c1/answer" {
		t.Errorf("errors.As: %#v", ae)
	}
	// GETs are retried on 503 (2 retries by default), other methods not.
	if p, err := c.GetPlayback(ctx, "p503"); err != nil || p.State != "playing" || gets.Load() != 3 {
		t.Errorf("GetPlayback after two 503s = %+v, %v (%d tries)", p, err, gets.Load())
	}
	if posts.Load() != 1 {
		t.Errorf("DELETE tried %d times", posts.Load())
	}
}

func TestRESTUnavailable(t *testing.T) {
	f := newFake(t, false)
	url := f.url()
	f.close() // nothing listens any more
	cfg := testConfig(f)
	cfg.URL = url
	c := newTestClient(t, cfg)
	_, err := c.GetChannel(t.Context(), "c1")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
		t.Errorf("connection refused: %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = c.Answer(ctx, "c1")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("canceled: %v, want context.Canceled and not ErrUnavailable", err)
	}
}

func TestRESTTimeouts(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.RESTTimeout, cfg.RESTLongTimeout = 50*time.Millisecond, 5*time.Second
	c := newTestClient(t, cfg)
	t.Cleanup(c.Close)
	release := make(chan struct{})
	arrived := make(chan struct{}, 2)
	slow := func(status int, body string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			select { // like Asterisk waiting for a playing file to end
			case <-release:
			case <-r.Context().Done():
				return
			}
			reply(status, body)(w, r)
		}
	}
	var tries atomic.Int32
	f.handle("POST", "/channels/c1/answer", slow(204, ""))
	f.handle("POST", "/channels/c1/variable", slow(204, ""))
	f.handle("GET", "/channels/c1", func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		<-r.Context().Done() // a server that never answers
	})

	// A short call against a server that never answers: a clear timeout,
	// not retried.
	_, err := c.GetChannel(t.Context(), "c1")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) || tries.Load() != 1 {
		t.Errorf("GetChannel on a silent server: %v (%d tries)", err, tries.Load())
	}
	// Long calls outlive RESTTimeout.
	errs := make(chan error, 2)
	go func() { errs <- c.Answer(t.Context(), "c1") }()
	go func() { errs <- c.SetVariable(t.Context(), "c1", "A", "1") }()
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(waitFor):
			t.Fatal("long call did not reach the server")
		}
	}
	// Let RESTTimeout pass for both, the point of the test: short calls
	// started after they arrived time out one after another (3 in a row, so
	// that a long call's own expiry, had it one, has been acted on).
	for range 3 {
		if _, err := c.GetChannel(t.Context(), "c1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("short call beside the long ones: %v, want a timeout", err)
		}
	}
	close(release)
	for range 2 {
		select {
		case err := <-errs:
			if err != nil {
				t.Errorf("long call: %v", err)
			}
		case <-time.After(waitFor):
			t.Fatal("long call did not return")
		}
	}
}

func TestRESTKeepAlive(t *testing.T) {
	f := newFake(t, false)
	c := newTestClient(t, testConfig(f))
	t.Cleanup(c.Close)
	f.handle("GET", "/channels/c1", reply(200, channelJSON))
	f.handle("POST", "/channels/c1/answer", reply(204, ""))
	for range 50 {
		if _, err := c.GetChannel(t.Context(), "c1"); err != nil {
			t.Fatal(err)
		}
		if err := c.Answer(t.Context(), "c1"); err != nil {
			t.Fatal(err)
		}
	}
	// One connection per pool: gets are answered at once, answer may
	// block behind a playing file (TestRESTConnectionCap).
	if n := f.connCount(); n != 2 {
		t.Errorf("100 sequential calls used %d connections, want 2", n)
	}
}

func BenchmarkRESTAnswer(b *testing.B) {
	f := newFake(b, false)
	c := newTestClient(b, testConfig(f))
	b.Cleanup(c.Close)
	f.handle("POST", "/channels/c1/answer", reply(204, ""))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Answer(b.Context(), "c1"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRoute(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"/channels", "/channels"},
		{"/channels/create", "/channels/create"},
		{"/channels/externalMedia", "/channels/externalMedia"},
		{"/channels/c%201", "/channels/{id}"},
		{"/channels/1700000000.42/answer", "/channels/{id}/answer"},
		{"/channels/c1/play", "/channels/{id}/play"},
		{"/channels/c1/play/pb-7", "/channels/{id}/play/{id}"},
		{"/channels/c1/variable", "/channels/{id}/variable"},
		{"/channels/c1/snoop/s1", "/channels/{id}/snoop/{id}"},
		{"/playbacks/pb1", "/playbacks/{id}"},
		{"/playbacks/pb1/control", "/playbacks/{id}/control"},
		{"/applications/eivr", "/applications/{id}"},
		{"/applications/eivr/subscription", "/applications/{id}/subscription"},
		{"/sounds", "/sounds"},
		{"/sounds/hello-world", "/sounds/{id}"},
		{"/asterisk/info", "/asterisk/info"},
		{"/asterisk/modules/res_ari.so", "/asterisk/modules/{id}"},
		{"/recordings/stored/r1/copy", "/recordings/stored/{id}/copy"},
		{"/bridges/create", "/bridges/create"},
		{"/bridges/b1/addChannel", "/bridges/{id}/addChannel"},
		{"/endpoints/PJSIP/alice", "/endpoints/{id}/{id}"},
		{"/endpoints/PJSIP/alice/sendMessage", "/endpoints/{id}/{id}/sendMessage"},
		{"/endpoints/sendMessage", "/endpoints/sendMessage"},
		{"/events/user/ev", "/events/user/{id}"},
		{"/deviceStates/Stasis:x", "/deviceStates/{id}"},
	} {
		if got := route(tt.path); got != tt.want {
			t.Errorf("route(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestOnREST(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	calls := make(chan RESTCall, 16)
	cfg.OnREST = func(rc RESTCall) { calls <- rc }
	c := newTestClient(t, cfg)
	t.Cleanup(c.Close)
	ctx := t.Context()
	var gets atomic.Int32
	f.handle("POST", "/channels/c 1/play/pb1", reply(201, playbackJSON))
	f.handle("POST", "/channels/c1/answer", reply(409, `{"message":"Channel not in Stasis application"}`))
	f.handle("GET", "/playbacks/p503", func(w http.ResponseWriter, r *http.Request) {
		if gets.Add(1) < 2 {
			reply(503, "")(w, r)
			return
		}
		reply(200, `{"id":"p503","state":"playing"}`)(w, r)
	})
	if _, err := c.Play(ctx, "c 1", "pb1", []string{"sound:x"}, ""); err != nil {
		t.Fatal(err)
	}
	c.Answer(ctx, "c1")
	if _, err := c.GetPlayback(ctx, "p503"); err != nil {
		t.Fatal(err)
	}
	// Nothing listens: a transport error is status 0.
	f.close()
	c.Hangup(ctx, "c1", "")
	want := []RESTCall{
		{Method: "POST", Route: "/channels/{id}/play/{id}", Status: 201, Attempt: 1},
		{Method: "POST", Route: "/channels/{id}/answer", Status: 409, Attempt: 1},
		{Method: "GET", Route: "/playbacks/{id}", Status: 503, Attempt: 1},
		{Method: "GET", Route: "/playbacks/{id}", Status: 200, Attempt: 2},
		{Method: "DELETE", Route: "/channels/{id}", Status: 0, Attempt: 1},
	}
	for i, w := range want {
		select {
		case got := <-calls:
			if got.Duration <= 0 {
				t.Errorf("call %d: duration %v", i, got.Duration)
			}
			got.Duration = 0
			if got != w {
				t.Errorf("call %d = %+v, want %+v", i, got, w)
			}
		case <-time.After(waitFor):
			t.Fatalf("call %d (%+v) not reported", i, w)
		}
	}
	select {
	case got := <-calls:
		t.Errorf("unexpected report %+v", got)
	default:
	}
}

// Concurrent calls beyond MaxConnsPerHost wait for a connection of the
// capped pool instead of opening one each; the calls Asterisk holds behind
// a playing file have their own pool (MaxBlockingConns) and never hold up
// the others.
func TestRESTConnectionCap(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.MaxConnsPerHost, cfg.MaxBlockingConns = 4, 2
	c := newTestClient(t, cfg)
	t.Cleanup(c.Close)
	arrived := make(chan string, 64)
	release, releaseLong := make(chan struct{}), make(chan struct{})
	held := func(gate chan struct{}, status int, body string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			arrived <- r.Method + " " + r.URL.Path
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
			reply(status, body)(w, r)
		}
	}
	f.handle("GET", "/channels/c1", held(release, 200, channelJSON))
	f.handle("POST", "/channels/c1/variable", held(releaseLong, 204, ""))
	f.handle("GET", "/channels/c2", reply(200, channelJSON))

	wait := func(n int, what string) {
		t.Helper()
		for range n {
			select {
			case <-arrived:
			case <-time.After(waitFor):
				t.Fatalf("%s: fewer than %d requests reached the server", what, n)
			}
		}
	}
	// The calls' contexts trace the transport: every call announces that
	// it wants a connection (GetConn) before it waits for one, so once all
	// have, the ones holding a connection (GotConn) are exactly the caps.
	var wanted, got atomic.Int32
	allWaiting := make(chan struct{})
	const calls = 20
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		GetConn: func(string) {
			if wanted.Add(1) == 2*calls {
				close(allWaiting)
			}
		},
		GotConn: func(httptrace.GotConnInfo) { got.Add(1) },
	})
	errs := make(chan error, 2*calls)
	for range calls {
		go func() { _, err := c.GetChannel(ctx, "c1"); errs <- err }()
		go func() { errs <- c.SetVariable(ctx, "c1", "A", "1") }()
	}
	wait(cfg.MaxConnsPerHost+cfg.MaxBlockingConns, "both pools fill")
	select {
	case <-allWaiting:
	case <-time.After(waitFor):
		t.Fatalf("only %d of %d calls asked for a connection", wanted.Load(), 2*calls)
	}
	if n := got.Load(); n != int32(cfg.MaxConnsPerHost+cfg.MaxBlockingConns) {
		t.Fatalf("%d calls hold a connection while the server holds them all, want %d", n, cfg.MaxConnsPerHost+cfg.MaxBlockingConns)
	}

	// The blocked sets do not hold up the quick calls.
	close(release)
	wait(calls-cfg.MaxConnsPerHost, "the queued gets run")
	if _, err := c.GetChannel(t.Context(), "c2"); err != nil {
		t.Errorf("a get while the blocking pool is full: %v", err)
	}
	close(releaseLong)
	wait(calls-cfg.MaxBlockingConns, "the queued sets run")
	for range 2 * calls {
		select {
		case err := <-errs:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(waitFor):
			t.Fatal("a call did not return")
		}
	}
}
