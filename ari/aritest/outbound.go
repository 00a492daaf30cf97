package aritest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Outbound configures Asterisk's outbound WebSockets (websocket_client.conf
// + ari.conf type = outbound_websocket) for one app: the fake dials the
// application instead of waiting for it.
type Outbound struct {
	// URL is websocket_client.conf's uri, e.g. "ws://127.0.0.1:PORT/ari".
	URL string
	// Username and Password are sent as HTTP Basic.
	Username, Password string
	// TLS is used for wss (nil = system roots).
	TLS *tls.Config
	// PerCall is connection_type = per_call_config: every call entering
	// Stasis(App) through StartCall gets its own connection, whose app is
	// "<App>:<channel name>", closed PerCallCloseDelay after the channel
	// left Stasis. Otherwise (persistent) one connection serves App,
	// redialled after ReconnectInterval while the server runs.
	PerCall bool
	App     string
	// PerCallDelay delays StasisStart after the per-call connection is up
	// (Asterisk 22.10.1: 500 ms, a polling sleep in ari_websockets.c;
	// scaled by Options.Speed; default 0).
	PerCallDelay time.Duration
	// PerCallCloseDelay is how long a per-call socket stays open after its
	// channel left Stasis (Asterisk: 3 s; scaled by Speed; default 0).
	PerCallCloseDelay time.Duration
	// ReconnectInterval is the persistent connection's redial delay
	// (default 100 ms, not scaled).
	ReconnectInterval time.Duration
}

// ErrDial is wrapped when the fake cannot connect to the application: the
// dialplan would go on after Stasis() (STASISSTATUS=FAILED).
var ErrDial = errors.New("aritest: outbound connection failed")

// outbound is one configured app of Outbound (Server.mu).
type outbound struct {
	cfg Outbound
}

// AddOutbound makes the fake connect to the application for o.App. A
// persistent connection is dialled at once and redialled whenever it
// drops; it returns when the first attempt is done (its error is
// returned, the redials go on). With PerCall, StartCall(o.App, ...) dials
// one connection per call.
func (s *Server) AddOutbound(o Outbound) error {
	if o.App == "" || o.URL == "" {
		return errors.New("aritest: Outbound needs App and URL")
	}
	if o.ReconnectInterval <= 0 {
		o.ReconnectInterval = 100 * time.Millisecond
	}
	ob := &outbound{cfg: o}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.outbound == nil {
		s.outbound = map[string]*outbound{}
	}
	if s.outbound[o.App] != nil {
		s.mu.Unlock()
		return fmt.Errorf("aritest: outbound for %q twice", o.App)
	}
	s.outbound[o.App] = ob
	s.mu.Unlock()
	if o.PerCall {
		return nil
	}
	first := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.persistentLoop(ob, first)
	}()
	return <-first
}

// KillOutbound closes the connections of app (the persistent one, or the
// per-call ones of live calls) as a network failure would: no close frame.
// A persistent connection is redialled.
func (s *Server) KillOutbound(app string) {
	s.mu.Lock()
	var cs []*wsClient
	for c := range s.clients {
		if c.outApp == app {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.kill()
	}
}

func (s *Server) persistentLoop(ob *outbound, first chan<- error) {
	for {
		c, err := s.dialOutbound(ob.cfg, []string{ob.cfg.App})
		if first != nil {
			first <- err
			first = nil
		}
		if err == nil {
			s.serveOutbound(c, ob.cfg.App)
		}
		t := time.NewTimer(ob.cfg.ReconnectInterval)
		select {
		case <-s.done:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// dialOutbound connects to the application and registers the socket for
// apps (replacing an older socket, as an inbound one would).
func (s *Server) dialOutbound(o Outbound, apps []string) (*wsClient, error) {
	h := http.Header{}
	r := http.Request{Header: h}
	r.SetBasicAuth(o.Username, o.Password)
	d := websocket.Dialer{Subprotocols: []string{"ari"}, TLSClientConfig: o.TLS, HandshakeTimeout: 10 * time.Second,
		ReadBufferSize: 4096, WriteBufferSize: 16384}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	conn, resp, err := d.DialContext(ctx, o.URL, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w: %s: %s", ErrDial, o.URL, resp.Status)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrDial, o.URL, err)
	}
	c := newClient(s)
	c.conn = conn
	c.outApp = o.App
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return nil, ErrClosed
	}
	s.clients[c] = struct{}{}
	for _, n := range apps {
		a := s.apps[n]
		if a == nil {
			a = &app{name: n}
			s.apps[n] = a
		}
		if a.client != nil && a.client != c {
			a.client.enqueueLocked(encodeEvent("ApplicationReplaced", time.Now(), s.opts.AsteriskID, n, nil, nil))
		}
		a.client = c
		c.enqueueLocked(encodeEvent("ApplicationRegistered", time.Now(), s.opts.AsteriskID, n, nil, nil))
	}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	s.log.Debug("aritest: outbound websocket connected", "url", o.URL, "app", strings.Join(apps, ","))
	return c, nil
}

// serveOutbound reads the socket until it closes: RESTRequests are run
// one at a time, in order, on the fake's REST handler (as Asterisk 22.10
// does in the socket's read loop: a request it holds delays the next),
// and answered with RESTResponse on the socket, in order with the events.
func (s *Server) serveOutbound(c *wsClient, app string) {
	c.conn.SetReadLimit(1 << 20)
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			break
		}
		var req restRequestJSON
		if err := json.Unmarshal(b, &req); err != nil || req.Type != "RESTRequest" {
			s.log.Warn("aritest: outbound websocket: not a RESTRequest", "frame", string(b))
			continue
		}
		s.mu.Lock()
		c.inFlight++
		s.mu.Unlock()
		resp := s.runRESTRequest(req, app)
		s.mu.Lock()
		c.enqueueLocked(resp)
		if c.inFlight--; c.inFlight == 0 && c.closeWhenIdle {
			c.enqueueCloseLocked()
		}
		s.mu.Unlock()
	}
	c.kill()
	s.unregister(c)
	s.log.Debug("aritest: outbound websocket gone", "app", c.outApp)
}

type restRequestJSON struct {
	Type          string `json:"type"`
	TransactionID string `json:"transaction_id"`
	RequestID     string `json:"request_id"`
	Method        string `json:"method"`
	URI           string `json:"uri"`
	ContentType   string `json:"content_type"`
	MessageBody   string `json:"message_body"`
	QueryStrings  []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"query_strings"`
}

// runRESTRequest serves one RESTRequest with the fake's HTTP routes and
// returns the RESTResponse frame.
func (s *Server) runRESTRequest(req restRequestJSON, app string) []byte {
	q := url.Values{}
	for _, p := range req.QueryStrings {
		q.Add(p.Name, p.Value)
	}
	target := "/ari/" + strings.TrimPrefix(req.URI, "/")
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	status, reason, ctype, body := 400, "Bad Request", "application/json", `{"message":"Invalid RESTRequest"}`
	hr, err := http.NewRequest(req.Method, target, strings.NewReader(req.MessageBody))
	if err == nil {
		hr.SetBasicAuth(s.opts.Username, s.opts.Password)
		if req.ContentType != "" {
			hr.Header.Set("Content-Type", req.ContentType)
		}
		rec := httptest.NewRecorder()
		s.hs.Handler.ServeHTTP(rec, hr)
		status, reason = rec.Code, http.StatusText(rec.Code)
		ctype, body = rec.Header().Get("Content-Type"), strings.TrimSpace(rec.Body.String())
	}
	post := []kv{{"transaction_id", req.TransactionID}, {"request_id", req.RequestID}, {"status_code", status},
		{"reason_phrase", reason}, {"uri", req.URI}}
	if body != "" {
		post = append(post, kv{"content_type", ctype}, kv{"message_body", body})
	}
	return encodeEvent("RESTResponse", time.Now(), s.opts.AsteriskID, app, nil, post)
}

// startPerCall is StartCall for an app with a per-call Outbound: it dials
// the connection, registers "<app>:<channel name>" on it, waits
// PerCallDelay and enters the channel into that app.
func (s *Server) startPerCall(ob *outbound, args []string, opt CallOptions) (string, error) {
	if opt.Name == "" {
		s.mu.Lock()
		ctx := opt.Context
		if ctx == "" {
			ctx = "stasisin"
		}
		exten := opt.Exten
		if exten == "" || opt.Dead {
			exten = "s"
		}
		opt.Name = s.localNameLocked(ctx, exten) + ";2"
		s.mu.Unlock()
	}
	app := ob.cfg.App + ":" + opt.Name
	c, err := s.dialOutbound(ob.cfg, []string{app})
	if err != nil {
		return "", err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serveOutbound(c, app)
	}()
	if d := s.speedDur(ob.cfg.PerCallDelay); d > 0 && !s.sleep(d) {
		c.kill()
		return "", ErrClosed
	}
	id, err := s.startCall(app, args, opt)
	if err != nil {
		c.kill()
		return "", err
	}
	s.mu.Lock()
	r := s.ends[id]
	s.mu.Unlock()
	s.wg.Add(1)
	go func() { // close the socket after the channel left Stasis
		defer s.wg.Done()
		select {
		case <-r.done:
		case <-c.done:
			return
		case <-s.done:
			return
		}
		if d := s.speedDur(ob.cfg.PerCallCloseDelay); d > 0 && !s.sleep(d) {
			return
		}
		// After the frames queued so far and the responses of the
		// requests being served.
		s.mu.Lock()
		if c.inFlight == 0 {
			c.enqueueCloseLocked()
		} else {
			c.closeWhenIdle = true
		}
		s.mu.Unlock()
	}()
	return id, nil
}

// perCallLocked returns the per-call Outbound of app, or nil.
func (s *Server) perCallLocked(app string) *outbound {
	if ob := s.outbound[app]; ob != nil && ob.cfg.PerCall {
		return ob
	}
	return nil
}

// enqueueCloseLocked queues a normal close after the frames queued so far.
// s.mu held.
func (c *wsClient) enqueueCloseLocked() {
	c.qmu.Lock()
	c.q = append(c.q, frame{at: time.Now(), close: true})
	c.qmu.Unlock()
	select {
	case c.sig <- struct{}{}:
	default:
	}
}

// closeNormal sends a close frame (1000) and drops the socket.
func (c *wsClient) closeNormal() {
	c.s.connMu.Lock()
	conn := c.conn
	c.s.connMu.Unlock()
	if conn != nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}
	c.kill()
}
