package aritest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// appSide is the application end of the fake's outbound connections: an
// httptest server accepting them, each delivered on conns.
type appSide struct {
	srv   *httptest.Server
	conns chan *appConn
	wg    sync.WaitGroup
}

type appConn struct {
	ws     *websocket.Conn
	frames chan evt
	closed chan error
}

func newAppSide(t *testing.T, user, pass string) *appSide {
	t.Helper()
	a := &appSide{conns: make(chan *appConn, 16)}
	up := websocket.Upgrader{Subprotocols: []string{"ari"}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if ws.Subprotocol() != "ari" {
			t.Errorf("subprotocol %q", ws.Subprotocol())
		}
		c := &appConn{ws: ws, frames: make(chan evt, 64), closed: make(chan error, 1)}
		a.conns <- c
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				c.closed <- err
				close(c.frames)
				return
			}
			var e evt
			if err := json.Unmarshal(b, &e); err != nil {
				t.Errorf("frame %s: %v", b, err)
			}
			c.frames <- e
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *appSide) url() string { return "ws" + strings.TrimPrefix(a.srv.URL, "http") + "/ari" }

func (a *appSide) next(t *testing.T) *appConn {
	t.Helper()
	select {
	case c := <-a.conns:
		return c
	case <-time.After(testwait.Long):
		t.Fatal("no outbound connection")
	}
	return nil
}

// expectEither waits for one frame of each type, in either order, skipping
// the others, and returns the first type's.
func (c *appConn) expectEither(t *testing.T, typ, other string) evt {
	t.Helper()
	var got evt
	var haveTyp, haveOther bool
	tm := time.After(testwait.Long)
	for !haveTyp || !haveOther {
		select {
		case e, ok := <-c.frames:
			if !ok {
				t.Fatalf("socket closed waiting for %s and %s", typ, other)
			}
			switch e.typ() {
			case typ:
				if !haveTyp {
					got, haveTyp = e, true
				}
			case other:
				haveOther = true
			}
		case <-tm:
			t.Fatalf("no %s and %s", typ, other)
		}
	}
	return got
}

// expect returns the next frame of type typ, skipping the others.
func (c *appConn) expect(t *testing.T, typ string) evt {
	t.Helper()
	tm := time.After(testwait.Long)
	for {
		select {
		case e, ok := <-c.frames:
			if !ok {
				t.Fatalf("socket closed waiting for %s", typ)
			}
			if e.typ() == typ {
				return e
			}
		case <-tm:
			t.Fatalf("no %s", typ)
		}
	}
}

func (c *appConn) rest(t *testing.T, id, method, uri string, q map[string]string) {
	t.Helper()
	var qs []map[string]string
	for k, v := range q {
		qs = append(qs, map[string]string{"name": k, "value": v})
	}
	if err := c.ws.WriteJSON(map[string]any{"type": "RESTRequest", "transaction_id": "t" + id, "request_id": id,
		"method": method, "uri": uri, "query_strings": qs}); err != nil {
		t.Fatal(err)
	}
}

func TestOutbound(t *testing.T) {
	for _, perCall := range []bool{false, true} {
		name := "persistent"
		if perCall {
			name = "per call"
		}
		t.Run(name, func(t *testing.T) {
			s := newServer(t, Options{Speed: 50})
			a := newAppSide(t, "ast", "pw")
			if err := s.AddOutbound(Outbound{URL: a.url(), Username: "ast", Password: "pw", App: "gw", PerCall: perCall}); err != nil {
				t.Fatal(err)
			}
			var c *appConn
			if !perCall {
				c = a.next(t)
				if got := c.expect(t, "ApplicationRegistered").str("application"); got != "gw" {
					t.Fatalf("registered %q", got)
				}
			}
			id, err := s.StartCall("gw", []string{"ivr://x", "n"}, CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantApp := "gw"
			if perCall {
				c = a.next(t)
				reg := c.expect(t, "ApplicationRegistered").str("application")
				if !strings.HasPrefix(reg, "gw:Local/s@stasisin-") || !strings.HasSuffix(reg, ";2") {
					t.Fatalf("per-call app %q, want gw:<channel name>", reg)
				}
				wantApp = reg
			}
			ss := c.expect(t, "StasisStart")
			if ss.str("application") != wantApp || ss.str("channel", "id") != id {
				t.Fatalf("StasisStart %v", ss)
			}
			if perCall && wantApp != "gw:"+ss.str("channel", "name") {
				t.Fatalf("app %q, channel name %q", wantApp, ss.str("channel", "name"))
			}
			c.rest(t, "r1", "POST", "channels/"+id+"/answer", nil)
			c.rest(t, "r2", "GET", "channels/"+id+"/variable", map[string]string{"variable": "NOPE"})
			if e := c.expect(t, "ChannelStateChange"); e.str("channel", "state") != "Up" {
				t.Fatalf("state %v", e)
			}
			if r1 := c.expect(t, "RESTResponse"); r1.str("request_id") != "r1" || r1.str("status_code") != "204" {
				t.Fatalf("RESTResponse %v", r1)
			}
			r2 := c.expect(t, "RESTResponse")
			if r2.str("request_id") != "r2" || r2.str("status_code") != "404" || !strings.Contains(r2.str("message_body"), "Provided variable was not found") {
				t.Fatalf("RESTResponse %v", r2)
			}
			if !hasRequest(s, "POST", "/channels/"+id+"/answer") {
				t.Fatal("answer not in the request log")
			}
			c.rest(t, "r3", "POST", "channels/"+id+"/continue", nil)
			// The 204 and the StasisEnd race (the channel's thread leaves
			// Stasis while the request returns): either order is right.
			r3 := c.expectEither(t, "RESTResponse", "StasisEnd")
			if r3.str("status_code") != "204" || r3.str("message_body") != "" {
				t.Fatalf("continue %v", r3)
			}
			if perCall {
				select {
				case err := <-c.closed:
					if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
						t.Fatalf("per-call socket closed with %v, want 1000", err)
					}
				case <-time.After(testwait.Long):
					t.Fatal("per-call socket not closed after the channel left")
				}
				return
			}
			// A killed persistent connection is redialled.
			s.KillOutbound("gw")
			c2 := a.next(t)
			c2.expect(t, "ApplicationRegistered")
		})
	}
}

func TestOutboundUnreachable(t *testing.T) {
	s := newServer(t, Options{})
	a := newAppSide(t, "ast", "pw")
	if err := s.AddOutbound(Outbound{URL: a.url(), Username: "ast", Password: "wrong", App: "gw", PerCall: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartCall("gw", nil, CallOptions{}); !errors.Is(err, ErrDial) {
		t.Fatalf("StartCall: %v, want ErrDial", err)
	}
	if err := s.AddOutbound(Outbound{URL: a.url(), Username: "ast", Password: "wrong", App: "gw2"}); !errors.Is(err, ErrDial) {
		t.Fatalf("persistent: %v, want ErrDial", err)
	}
}

func hasRequest(s *Server, method, path string) bool {
	for _, r := range s.Requests() {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}
