package ari

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// recHandler records a connection's stream.
type recHandler struct {
	conn   chan ConnInfo
	events chan *Event
	disc   chan error
}

func newRecHandler() *recHandler {
	return &recHandler{conn: make(chan ConnInfo, 4), events: make(chan *Event, 64), disc: make(chan error, 4)}
}
func (h *recHandler) Connected(i ConnInfo)   { h.conn <- i }
func (h *recHandler) Event(ev *Event)        { h.events <- ev }
func (h *recHandler) Disconnected(err error) { h.disc <- err }

// listenerFixture is a Listener on an httptest server; conns delivers each
// accepted *Conn together with its handler.
type listenerFixture struct {
	l     *Listener
	srv   *httptest.Server
	conns chan acceptedConn
}

type acceptedConn struct {
	c *Conn
	h *recHandler
}

func newListenerFixture(t testing.TB, cfg ListenerConfig) *listenerFixture {
	t.Helper()
	f := &listenerFixture{conns: make(chan acceptedConn, 16)}
	cfg.Accept = func(c *Conn) Handler {
		h := newRecHandler()
		f.conns <- acceptedConn{c, h}
		return h
	}
	l, err := NewListener(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.l = l
	f.srv = httptest.NewServer(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		f.srv.Close()
	})
	return f
}

func (f *listenerFixture) url() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ari" }

func (f *listenerFixture) accepted(t testing.TB) acceptedConn {
	t.Helper()
	select {
	case a := <-f.conns:
		return a
	case <-time.After(testwait.Long):
		t.Fatal("no connection accepted")
	}
	return acceptedConn{}
}

// fakeAsterisk is the Asterisk side of one outbound connection.
type fakeAsterisk struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

func dialListener(t testing.TB, url, user, pass string) (*fakeAsterisk, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	r := http.Request{Header: h}
	if user != "" {
		r.SetBasicAuth(user, pass)
	}
	d := websocket.Dialer{Subprotocols: []string{"ari"}, HandshakeTimeout: testwait.Long}
	ws, resp, err := d.Dial(url, h)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &fakeAsterisk{ws: ws}, resp, nil
}

func (a *fakeAsterisk) send(t *testing.T, v any) {
	t.Helper()
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if err := a.ws.WriteJSON(v); err != nil {
		t.Errorf("fake asterisk write: %v", err)
	}
}

// request reads the next RESTRequest.
func (a *fakeAsterisk) request(t *testing.T) restRequest {
	t.Helper()
	_ = a.ws.SetReadDeadline(time.Now().Add(testwait.Long))
	for {
		mt, b, err := a.ws.ReadMessage()
		if err != nil {
			t.Fatalf("fake asterisk read: %v", err)
		}
		if mt != websocket.TextMessage {
			continue
		}
		var r restRequest
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("fake asterisk: %v in %s", err, b)
		}
		return r
	}
}

func (a *fakeAsterisk) respond(t *testing.T, r restRequest, status int, reason, body string) {
	t.Helper()
	m := map[string]any{"type": "RESTResponse", "transaction_id": r.TransactionID, "request_id": r.RequestID,
		"status_code": status, "reason_phrase": reason, "uri": r.URI, "application": "gw:Local/1@x-1;2"}
	if body != "" {
		m["content_type"] = "application/json"
		m["message_body"] = body
	}
	a.send(t, m)
}

var testPeers = []Peer{{Name: "pbx1", Username: "ast1", Password: "secret1"}, {Name: "pbx2", Username: "ast2", Password: "secret2"}}

func TestListenerCredentials(t *testing.T) {
	f := newListenerFixture(t, ListenerConfig{Peers: testPeers})
	for _, tc := range []struct {
		name, user, pass string
	}{
		{"none", "", ""},
		{"wrong password", "ast1", "secret2"},
		{"unknown user", "nobody", "secret1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := dialListener(t, f.url(), tc.user, tc.pass)
			if err == nil {
				t.Fatal("connection accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("response %v, want 401", resp)
			}
		})
	}
	if got := f.l.Stats().Unknown; got != 3 {
		t.Fatalf("Unknown = %d, want 3", got)
	}
	a, _, err := dialListener(t, f.url(), "ast2", "secret2")
	if err != nil {
		t.Fatal(err)
	}
	if a.ws.Subprotocol() != "ari" {
		t.Fatalf("subprotocol %q, want ari", a.ws.Subprotocol())
	}
	acc := f.accepted(t)
	if acc.c.Peer() != "pbx2" {
		t.Fatalf("peer %q, want pbx2", acc.c.Peer())
	}
	<-acc.h.conn
	st := f.l.Stats()
	if st.Peers[1].Accepted != 1 || st.Peers[0].Accepted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestListenerEventsAndSocketREST(t *testing.T) {
	f := newListenerFixture(t, ListenerConfig{Peers: testPeers})
	a, _, err := dialListener(t, f.url(), "ast1", "secret1")
	if err != nil {
		t.Fatal(err)
	}
	acc := f.accepted(t)
	a.send(t, map[string]any{"type": "ApplicationRegistered", "application": "gw:Local/1@x-1;2"})
	a.send(t, map[string]any{"type": "StasisStart", "application": "gw:Local/1@x-1;2", "args": []string{"hello"},
		"channel": map[string]any{"id": "c1", "name": "Local/1@x-1;2", "state": "Ring"}})
	<-acc.h.conn
	for _, want := range []string{"ApplicationRegistered", "StasisStart"} {
		ev := <-acc.h.events
		if ev.Type != want {
			t.Fatalf("event %q, want %q", ev.Type, want)
		}
		if want == "StasisStart" && (ev.Channel.ID != "c1" || len(ev.Args) != 1 || ev.Args[0] != "hello") {
			t.Fatalf("StasisStart %+v", ev)
		}
	}
	if acc.c.App() != "gw:Local/1@x-1;2" {
		t.Fatalf("App %q", acc.c.App())
	}
	cl := acc.c.Client()
	ctx := context.Background()

	type result struct {
		val string
		err error
	}
	for _, tc := range []struct {
		name             string
		call             func() result
		method, uri      string
		query            []restParam
		body             string
		status           int
		reason, respBody string
		wantVal          string
		wantErr          error
	}{
		{"answer", func() result { return result{err: cl.Answer(ctx, "c1")} },
			"POST", "channels/c1/answer", nil, "", 204, "No Content", "", "", nil},
		{"get variable", func() result { v, err := cl.GetVariable(ctx, "c1", "PRESET"); return result{v, err} },
			"GET", "channels/c1/variable", []restParam{{"variable", "PRESET"}}, "", 200, "OK", `{"value":"preset-value"}`, "preset-value", nil},
		{"unset variable", func() result { v, err := cl.GetVariable(ctx, "c1", "NOPE"); return result{v, err} },
			"GET", "channels/c1/variable", []restParam{{"variable", "NOPE"}}, "", 404, "Not Found", `{"message":"Provided variable was not found"}`, "", ErrVariableNotSet},
		{"hangup of a gone channel", func() result { return result{err: cl.Hangup(ctx, "c1", "normal")} },
			"DELETE", "channels/c1", []restParam{{"reason", "normal"}}, "", 404, "Not Found", `{"message":"Channel not found"}`, "", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := make(chan result, 1)
			go func() { res <- tc.call() }()
			r := a.request(t)
			if r.Type != "RESTRequest" || r.Method != tc.method || r.URI != tc.uri || r.RequestID == "" {
				t.Fatalf("request %+v, want %s %s", r, tc.method, tc.uri)
			}
			if len(r.QueryStrings) != len(tc.query) {
				t.Fatalf("query %+v, want %+v", r.QueryStrings, tc.query)
			}
			for i := range tc.query {
				if r.QueryStrings[i] != tc.query[i] {
					t.Fatalf("query %+v, want %+v", r.QueryStrings, tc.query)
				}
			}
			// An event in between, as Asterisk interleaves them.
			a.send(t, map[string]any{"type": "ChannelVarset", "variable": "X", "value": "1", "channel": map[string]any{"id": "c1"}})
			a.respond(t, r, tc.status, tc.reason, tc.respBody)
			got := <-res
			if tc.wantErr != nil {
				if !errors.Is(got.err, tc.wantErr) {
					t.Fatalf("err %v, want %v", got.err, tc.wantErr)
				}
			} else if got.err != nil || got.val != tc.wantVal {
				t.Fatalf("got %q, %v; want %q", got.val, got.err, tc.wantVal)
			}
			if ev := <-acc.h.events; ev.Type != "ChannelVarset" {
				t.Fatalf("event %q, want ChannelVarset", ev.Type)
			}
		})
	}

	// Play sends a JSON-free POST with media as query; Asterisk's 201 body
	// is decoded.
	res := make(chan error, 1)
	var pb Playback
	go func() {
		var err error
		pb, err = cl.Play(ctx, "c1", "pb1", []string{"sound:beep"}, "")
		res <- err
	}()
	r := a.request(t)
	if r.URI != "channels/c1/play/pb1" {
		t.Fatalf("play uri %q", r.URI)
	}
	a.respond(t, r, 201, "Created", `{"id":"pb1","media_uri":"sound:beep","state":"queued"}`)
	if err := <-res; err != nil || pb.ID != "pb1" {
		t.Fatalf("play: %+v %v", pb, err)
	}

	// The socket closes with a request outstanding: the request fails with
	// ErrSocketClosed, the handler gets Disconnected.
	go func() {
		_, err := cl.GetChannel(ctx, "c1")
		res <- err
	}()
	a.request(t)
	a.ws.Close()
	if err := <-res; !errors.Is(err, ErrSocketClosed) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v, want ErrSocketClosed and ErrUnavailable", err)
	}
	select {
	case <-acc.h.disc:
	case <-time.After(testwait.Long):
		t.Fatal("no Disconnected")
	}
	if err := cl.Answer(ctx, "c1"); !errors.Is(err, ErrSocketClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestListenerRESTTimeoutAndStray(t *testing.T) {
	f := newListenerFixture(t, ListenerConfig{Peers: testPeers, RESTTimeout: 300 * time.Millisecond})
	a, _, err := dialListener(t, f.url(), "ast1", "secret1")
	if err != nil {
		t.Fatal(err)
	}
	acc := f.accepted(t)
	res := make(chan error, 1)
	go func() { res <- acc.c.Client().StopPlayback(context.Background(), "pb1") }()
	r := a.request(t)
	if err := <-res; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a deadline", err)
	}
	a.respond(t, r, 204, "No Content", "")
	testwait.Until(t, testwait.Long, "stray response counted", func() bool { return f.l.Stats().Peers[0].StrayResponses == 1 })
}

func TestListenerMaxPending(t *testing.T) {
	f := newListenerFixture(t, ListenerConfig{Peers: testPeers, MaxPending: 1})
	a, _, err := dialListener(t, f.url(), "ast1", "secret1")
	if err != nil {
		t.Fatal(err)
	}
	acc := f.accepted(t)
	cl := acc.c.Client()
	res := make(chan error, 1)
	go func() { res <- cl.StopPlayback(context.Background(), "pb1") }()
	r := a.request(t)
	if err := cl.StopPlayback(context.Background(), "pb2"); !errors.Is(err, ErrTooManyRequests) {
		t.Fatalf("second request: %v, want ErrTooManyRequests", err)
	}
	a.respond(t, r, 204, "No Content", "")
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}

// TestListenerSplit: with an HTTP route, the calls Asterisk holds behind a
// playing file go over HTTP, the others over the socket; with rest = http
// everything goes over HTTP.
func TestListenerSplit(t *testing.T) {
	var mu sync.Mutex
	var httpCalls []string
	ariHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		httpCalls = append(httpCalls, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if u, p, _ := r.BasicAuth(); u != "eivr" || p != "eivr-secret" {
			w.WriteHeader(401)
			return
		}
		if r.Method == "GET" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"value":"over-http"}`))
			return
		}
		w.WriteHeader(204)
	}))
	defer ariHTTP.Close()
	route := Config{URL: ariHTTP.URL + "/ari", Username: "eivr", Password: "eivr-secret"}
	for _, tc := range []struct {
		mode      RESTMode
		wantHTTP  []string
		getSocket bool
	}{
		{RESTAuto, []string{"POST /ari/channels/c1/answer", "POST /ari/channels/c1/variable", "POST /ari/channels/c1/continue"}, true},
		{RESTHTTP, []string{"POST /ari/channels/c1/answer", "POST /ari/channels/c1/variable", "POST /ari/channels/c1/continue", "GET /ari/channels/c1/variable"}, false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			mu.Lock()
			httpCalls = nil
			mu.Unlock()
			f := newListenerFixture(t, ListenerConfig{Peers: []Peer{{Name: "pbx1", Username: "ast1", Password: "secret1", HTTP: route, REST: tc.mode}}})
			a, _, err := dialListener(t, f.url(), "ast1", "secret1")
			if err != nil {
				t.Fatal(err)
			}
			cl := f.accepted(t).c.Client()
			ctx := context.Background()
			if err := cl.Answer(ctx, "c1"); err != nil {
				t.Fatal(err)
			}
			if err := cl.SetVariable(ctx, "c1", "X", "1"); err != nil {
				t.Fatal(err)
			}
			if err := cl.Continue(ctx, "c1", "", "", 0, ""); err != nil {
				t.Fatal(err)
			}
			res := make(chan string, 1)
			go func() {
				v, err := cl.GetVariable(ctx, "c1", "PRESET")
				if err != nil {
					v = err.Error()
				}
				res <- v
			}()
			want := "over-http"
			if tc.getSocket {
				r := a.request(t)
				if r.URI != "channels/c1/variable" {
					t.Fatalf("socket request %+v", r)
				}
				a.respond(t, r, 200, "OK", `{"value":"over-socket"}`)
				want = "over-socket"
			}
			if got := <-res; got != want {
				t.Fatalf("GET variable = %q, want %q", got, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(httpCalls, "|") != strings.Join(tc.wantHTTP, "|") {
				t.Fatalf("HTTP calls %q, want %q", httpCalls, tc.wantHTTP)
			}
		})
	}
}

func TestListenerRefuseAndClose(t *testing.T) {
	f := newListenerFixture(t, ListenerConfig{Peers: testPeers})
	a, _, err := dialListener(t, f.url(), "ast1", "secret1")
	if err != nil {
		t.Fatal(err)
	}
	acc := f.accepted(t)
	f.l.Refuse()
	if f.l.Accepting() {
		t.Fatal("Accepting after Refuse")
	}
	_, resp, err := dialListener(t, f.url(), "ast1", "secret1")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade while refusing: %v %v, want 503", resp, err)
	}
	if st := f.l.Stats().Peers[0]; st.Refused != 1 || st.Active != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The live connection still works.
	a.send(t, map[string]any{"type": "StasisStart", "channel": map[string]any{"id": "c9"}})
	<-acc.h.conn
	if ev := <-acc.h.events; ev.Channel.ID != "c9" {
		t.Fatalf("event %+v", ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
	defer cancel()
	if err := f.l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acc.h.disc:
	default:
		t.Fatal("Close returned before Disconnected")
	}
	if f.l.Active() != 0 {
		t.Fatalf("Active %d after Close", f.l.Active())
	}
}

func TestListenerConfigErrors(t *testing.T) {
	acc := func(*Conn) Handler { return nil }
	for _, tc := range []struct {
		name string
		cfg  ListenerConfig
	}{
		{"no peers", ListenerConfig{Accept: acc}},
		{"no accept", ListenerConfig{Peers: testPeers}},
		{"no name", ListenerConfig{Accept: acc, Peers: []Peer{{Username: "a", Password: "b"}}}},
		{"no password", ListenerConfig{Accept: acc, Peers: []Peer{{Name: "x", Username: "a"}}}},
		{"same user", ListenerConfig{Accept: acc, Peers: []Peer{{Name: "x", Username: "a", Password: "b"}, {Name: "y", Username: "a", Password: "c"}}}},
		{"split without http", ListenerConfig{Accept: acc, Peers: []Peer{{Name: "x", Username: "a", Password: "b", REST: RESTSplit}}}},
		{"bad http url", ListenerConfig{Accept: acc, Peers: []Peer{{Name: "x", Username: "a", Password: "b", HTTP: Config{URL: "ftp://x"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewListener(tc.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

func FuzzParseRESTResponse(f *testing.F) {
	f.Add([]byte(`{"type":"RESTResponse","transaction_id":"1","request_id":"1","status_code":200,"reason_phrase":"OK","uri":"channels/c1/variable","content_type":"application/json","message_body":"{\"value\":\"v\"}"}`))
	f.Add([]byte(`{"type":"RESTResponse","request_id":"","status_code":204}`))
	f.Add([]byte(`{"type":"RESTResponse","request_id":"x","status_code":99999999999}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRESTResponse(b)
		if err == nil && (r.RequestID == "" || r.StatusCode < 100 || r.StatusCode > 999) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// A per-call socket carries one call, so its event queue stays small
// (perCallQueue); a persistent one gets the whole QueueSize. With the
// handler stuck, the read loop keeps reading: 700 events overflow the
// per-call queue and fit in the persistent one.
func TestListenerQueueBySocketKind(t *testing.T) {
	const n = 700
	for _, tc := range []struct {
		name, app   string
		wantDropped bool
	}{
		{"per call", "gw:Local/1@x-1;2", true},
		{"persistent", "gw", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newListenerFixture(t, ListenerConfig{Peers: testPeers, QueueSize: 4096})
			a, _, err := dialListener(t, f.url(), "ast1", "secret1")
			if err != nil {
				t.Fatal(err)
			}
			acc := f.accepted(t)
			a.send(t, map[string]any{"type": "ApplicationRegistered", "application": tc.app})
			for i := range n {
				a.send(t, map[string]any{"type": "ChannelVarset", "application": tc.app, "variable": "V", "value": strconv.Itoa(i),
					"channel": map[string]any{"id": "c1", "name": "Local/1@x-1;2", "state": "Up"}})
			}
			var st PeerStats
			testwait.Until(t, testwait.Long, "the read loop has read every frame", func() bool {
				st = f.l.Stats().Peers[0]
				return st.Events+st.Dropped == n+1
			})
			if got := st.Dropped > 0; got != tc.wantDropped {
				t.Fatalf("%+v: dropped %v, want %v", st, got, tc.wantDropped)
			}
			// What was queued is delivered in order once the handler reads.
			<-acc.h.conn
			for i := int64(0); i < st.Events; i++ {
				select {
				case <-acc.h.events:
				case <-time.After(testwait.Long):
					t.Fatalf("event %d of %d not delivered", i, st.Events)
				}
			}
		})
	}
}
