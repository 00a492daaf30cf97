package ari

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// RESTMode says which way a connection's REST calls travel.
type RESTMode uint8

const (
	// RESTAuto is RESTSplit when the peer has an HTTP route, else
	// RESTSocket.
	RESTAuto RESTMode = iota
	// RESTSocket sends every call over the outbound WebSocket. Asterisk
	// runs one socket's requests one at a time, so a call it holds behind
	// a playing file (answer, set variable, continue, move) delays every
	// later call on that socket: acceptable only on per-call sockets, and
	// even there a held call delays that call's own playback stops.
	RESTSocket
	// RESTSplit sends the calls Asterisk answers at once over the socket
	// and the calls it holds (answer, set variable, continue, move) over
	// plain HTTP: nothing ever waits behind a held call. Needs Peer.HTTP.
	RESTSplit
	// RESTHTTP sends every call over plain HTTP (the socket carries only
	// events). Needs Peer.HTTP.
	RESTHTTP
)

// String returns the configuration name of m.
func (m RESTMode) String() string {
	switch m {
	case RESTSocket:
		return "socket"
	case RESTSplit:
		return "split"
	case RESTHTTP:
		return "http"
	}
	return "auto"
}

// ParseRESTMode parses "auto", "socket", "split" or "http" ("" = auto).
func ParseRESTMode(s string) (RESTMode, error) {
	switch s {
	case "", "auto":
		return RESTAuto, nil
	case "socket":
		return RESTSocket, nil
	case "split":
		return RESTSplit, nil
	case "http":
		return RESTHTTP, nil
	}
	return RESTAuto, fmt.Errorf("%w: rest mode %q (want auto, socket, split or http)", ErrConfig, s)
}

// Peer is one Asterisk allowed to connect: the credentials its
// websocket_client.conf sends (HTTP Basic), and optionally an HTTP route
// to its ARI for the REST calls that must not travel over the socket.
type Peer struct {
	// Name labels the Asterisk in logs, metrics and Conn.Peer.
	Name string
	// Username and Password are websocket_client.conf's username and
	// password. Usernames are unique among the peers: they identify the
	// Asterisk.
	Username, Password string
	// HTTP, if its URL is set, is the ARI base of this Asterisk reachable
	// over HTTP (URL, Username/Password of an ARI user, TLS, timeouts), as
	// for NewClient. Apps and the event settings are ignored.
	HTTP Config
	// REST picks the way of the REST calls (RESTAuto by default).
	REST RESTMode
}

// ListenerConfig configures a Listener. Zero values select the defaults of
// Config.
type ListenerConfig struct {
	Peers []Peer
	// Accept is called for every authenticated connection, before any of
	// its messages, and returns the Handler of that connection's events
	// (called as for Client.Run: Connected, Event..., Disconnected, from
	// one goroutine per connection). Returning nil closes the connection.
	Accept func(c *Conn) Handler
	Logger *slog.Logger

	// QueueSize bounds each connection's events waiting for its Handler
	// (default 8192; overflow is dropped and counted, as for Client.Run).
	// A per-call connection (its first event an ApplicationRegistered of
	// "<app>:<channel>") keeps min(QueueSize, 256).
	QueueSize int
	// ReadLimit is the largest frame accepted (default 16 MiB).
	ReadLimit int64
	// PingInterval and PongTimeout: the listener pings every PingInterval
	// and drops a socket silent for PingInterval+PongTimeout (defaults
	// 5 s and 5 s). While a REST request is outstanding on the socket the
	// limit is RESTLongTimeout+PongTimeout instead: Asterisk does not
	// answer pings while it runs a request it holds.
	PingInterval, PongTimeout time.Duration
	// RESTTimeout and RESTLongTimeout bound the REST calls as in Config.
	RESTTimeout, RESTLongTimeout time.Duration
	// MaxPending bounds the REST requests outstanding on one socket
	// (default 256); more fail at once with ErrTooManyRequests.
	MaxPending int
	// WriteTimeout bounds writing one frame (default 5 s).
	WriteTimeout time.Duration
}

// Listener accepts Asterisk's outbound ARI WebSockets (res_websocket_client,
// ari.conf type = outbound_websocket), persistent or per call, as an
// http.Handler: mount it on the path of websocket_client.conf's uri, over
// http or https. See the package documentation.
type Listener struct {
	cfg    ListenerConfig
	log    *slog.Logger
	up     websocket.Upgrader
	byUser map[string]*peerState
	peers  []*peerState

	refusing atomic.Bool
	unknown  atomic.Uint64 // refused: no or wrong credentials
	seq      atomic.Uint64
	authLog  rateLog
	authMu   sync.Mutex

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	wg     sync.WaitGroup // live connections
	closed bool
}

type peerState struct {
	Peer
	longTr    http.RoundTripper // the HTTP route's pools (nil without HTTP)
	shortTr   http.RoundTripper
	closeIdle []func()
	stats     struct {
		accepted, refused, active, events, dropped, decodeErrors, restResponses, strayResponses atomic.Int64
	}
}

// PeerStats are one Asterisk's counters.
type PeerStats struct {
	Name         string
	Accepted     int64 // connections accepted
	Refused      int64 // upgrades refused while draining (Refuse)
	Active       int64 // connections open now
	Events       int64 // events queued for Handlers
	Dropped      int64 // events dropped on a full queue
	DecodeErrors int64 // frames that did not decode
	// StrayResponses are RESTResponses nobody waited for (timed out).
	StrayResponses int64
}

// ListenerStats are the listener's counters.
type ListenerStats struct {
	Peers []PeerStats // in the order of ListenerConfig.Peers
	// Unknown counts upgrades refused for missing or wrong credentials.
	Unknown uint64
}

// NewListener checks cfg and returns a listener accepting connections.
func NewListener(cfg ListenerConfig) (*Listener, error) {
	if cfg.Accept == nil {
		return nil, fmt.Errorf("%w: listener needs Accept", ErrConfig)
	}
	if len(cfg.Peers) == 0 {
		return nil, fmt.Errorf("%w: listener needs at least one peer", ErrConfig)
	}
	base := Config{QueueSize: cfg.QueueSize, ReadLimit: cfg.ReadLimit, PingInterval: cfg.PingInterval,
		PongTimeout: cfg.PongTimeout, RESTTimeout: cfg.RESTTimeout, RESTLongTimeout: cfg.RESTLongTimeout}
	base.setDefaults()
	cfg.QueueSize, cfg.ReadLimit, cfg.PingInterval, cfg.PongTimeout = base.QueueSize, base.ReadLimit, base.PingInterval, base.PongTimeout
	cfg.RESTTimeout, cfg.RESTLongTimeout = base.RESTTimeout, base.RESTLongTimeout
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 256
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Listener{
		cfg: cfg, log: log, byUser: map[string]*peerState{}, conns: map[*Conn]struct{}{},
		up: websocket.Upgrader{
			Subprotocols:    []string{"ari"},
			ReadBufferSize:  64 << 10,
			WriteBufferSize: 4 << 10,
			// Asterisk sends no Origin; a browser must never reach this.
			CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
		},
	}
	names := map[string]bool{}
	for _, p := range cfg.Peers {
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("%w: a listener peer has no name", ErrConfig)
		case names[p.Name]:
			return nil, fmt.Errorf("%w: listener peer %q twice", ErrConfig, p.Name)
		case p.Username == "" || p.Password == "":
			return nil, fmt.Errorf("%w: listener peer %q needs a username and a password", ErrConfig, p.Name)
		case l.byUser[p.Username] != nil:
			return nil, fmt.Errorf("%w: listener peers %q and %q have the same username", ErrConfig, l.byUser[p.Username].Name, p.Name)
		}
		names[p.Name] = true
		ps := &peerState{Peer: p}
		if ps.REST == RESTAuto {
			ps.REST = RESTSocket
			if p.HTTP.URL != "" {
				ps.REST = RESTSplit
			}
		}
		if ps.REST != RESTSocket && p.HTTP.URL == "" {
			return nil, fmt.Errorf("%w: listener peer %q: rest mode %s needs an HTTP URL", ErrConfig, p.Name, ps.REST)
		}
		if p.HTTP.URL != "" {
			hc := p.HTTP
			hc.Apps, hc.Transport, hc.LongTransport = nil, nil, nil
			hc.setDefaults()
			if _, _, err := hc.endpoints(); err != nil {
				return nil, fmt.Errorf("listener peer %q: %w", p.Name, err)
			}
			tr, trLong := newTransport(hc, hc.MaxConnsPerHost), newTransport(hc, hc.MaxBlockingConns)
			ps.shortTr, ps.longTr = tr, trLong
			ps.closeIdle = []func(){tr.CloseIdleConnections, trLong.CloseIdleConnections}
		}
		l.byUser[p.Username] = ps
		l.peers = append(l.peers, ps)
	}
	return l, nil
}

// Refuse makes the listener refuse new upgrades with 503 (a load
// balancer then tries another instance; Asterisk's per-call connect
// fails and the channel goes on in the dialplan). Live connections stay.
// Resume undoes it.
func (l *Listener) Refuse() { l.refusing.Store(true) }

// Resume lets the listener accept upgrades again after Refuse.
func (l *Listener) Resume() { l.refusing.Store(false) }

// Accepting reports whether new connections are accepted.
func (l *Listener) Accepting() bool { return !l.refusing.Load() }

// Active is the number of open connections.
func (l *Listener) Active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Stats returns the counters.
func (l *Listener) Stats() ListenerStats {
	out := ListenerStats{Unknown: l.unknown.Load()}
	for _, p := range l.peers {
		s := &p.stats
		out.Peers = append(out.Peers, PeerStats{Name: p.Name, Accepted: s.accepted.Load(), Refused: s.refused.Load(),
			Active: s.active.Load(), Events: s.events.Load(), Dropped: s.dropped.Load(),
			DecodeErrors: s.decodeErrors.Load(), StrayResponses: s.strayResponses.Load()})
	}
	return out
}

// Close refuses new connections, closes every open one and waits until
// their Handlers got Disconnected (or ctx ends). Idle HTTP connections are
// released.
func (l *Listener) Close(ctx context.Context) error {
	l.Refuse()
	l.mu.Lock()
	l.closed = true
	conns := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	for _, p := range l.peers {
		for _, f := range p.closeIdle {
			f()
		}
	}
	return err
}

// peerFor authenticates r.
func (l *Listener) peerFor(r *http.Request) *peerState {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	p := l.byUser[user]
	if p == nil {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(pass), []byte(p.Password)) != 1 {
		return nil
	}
	return p
}

// ServeHTTP upgrades one of Asterisk's outbound connections and serves it
// until it closes. It returns only after the connection's Handler got
// Disconnected.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := l.peerFor(r)
	if p == nil {
		n := l.unknown.Add(1)
		l.authMu.Lock()
		logIt := l.authLog.ok()
		l.authMu.Unlock()
		if logIt {
			l.log.Warn("ari listener: refused a connection with unknown credentials", "remote", r.RemoteAddr, "refused_total", n)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="eivr"`)
		http.Error(w, "unknown credentials", http.StatusUnauthorized)
		return
	}
	if l.refusing.Load() {
		p.stats.refused.Add(1)
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "websocket upgrade expected", http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	l.wg.Add(1)
	l.mu.Unlock()
	defer l.wg.Done()

	ws, err := l.up.Upgrade(w, r, nil)
	if err != nil {
		l.log.Warn("ari listener: upgrade failed", "asterisk", p.Name, "remote", r.RemoteAddr, "err", err)
		return
	}
	c, err := l.newConn(p, ws, r.RemoteAddr)
	if err != nil { // cannot happen: the peer's config was checked
		l.log.Error("ari listener: connection set-up", "asterisk", p.Name, "err", err)
		ws.Close()
		return
	}
	l.mu.Lock()
	l.conns[c] = struct{}{}
	closed := l.closed
	l.mu.Unlock()
	p.stats.accepted.Add(1)
	p.stats.active.Add(1)
	defer func() {
		p.stats.active.Add(-1)
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	}()
	if closed {
		ws.Close()
		return
	}
	h := l.cfg.Accept(c)
	if h == nil {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "refused"), time.Now().Add(time.Second))
		ws.Close()
		return
	}
	c.serve(h)
}

// Conn is one accepted outbound connection of an Asterisk. Its REST client
// sends calls back to that Asterisk (over the socket or its HTTP route, by
// the peer's RESTMode).
type Conn struct {
	l      *Listener
	peer   *peerState
	ws     *websocket.Conn
	rest   *socketREST
	client *Client
	seq    uint64
	remote string
	log    *slog.Logger

	wmu      sync.Mutex // one writer at a time
	lastSeen atomic.Int64
	app      atomic.Pointer[string]
	cause    atomic.Pointer[error]
}

// sockBase is the (unused) ARI base of a socket-only REST client: the
// socket transport reads only the path.
const sockBase = "http://outbound.invalid/ari"

func (l *Listener) newConn(p *peerState, ws *websocket.Conn, remote string) (*Conn, error) {
	c := &Conn{l: l, peer: p, ws: ws, seq: l.seq.Add(1), remote: remote}
	c.log = l.log.With("asterisk", p.Name, "conn", c.seq)
	cc := p.HTTP
	if cc.URL == "" {
		cc = Config{URL: sockBase, OnREST: p.HTTP.OnREST}
	}
	cc.Apps, cc.Logger = nil, c.log
	cc.RESTTimeout, cc.RESTLongTimeout = l.cfg.RESTTimeout, l.cfg.RESTLongTimeout
	rest, _, err := cc.endpoints()
	if err != nil {
		return nil, err
	}
	c.rest = newSocketREST(strings.TrimSuffix(rest.EscapedPath(), "/")+"/", l.cfg.MaxPending, c.writeText)
	switch p.REST {
	case RESTSocket:
		cc.Transport = c.rest
	case RESTSplit:
		cc.Transport, cc.LongTransport = c.rest, p.longTr
	case RESTHTTP:
		cc.Transport, cc.LongTransport = p.shortTr, p.longTr
	}
	c.client, err = NewClient(cc)
	if err != nil {
		return nil, err
	}
	c.lastSeen.Store(time.Now().UnixNano())
	return c, nil
}

// Peer is the name of the Asterisk this connection came from.
func (c *Conn) Peer() string { return c.peer.Name }

// Seq numbers the listener's connections from 1.
func (c *Conn) Seq() uint64 { return c.seq }

// Remote is the peer's address.
func (c *Conn) Remote() string { return c.remote }

// App is the application of the connection's first ApplicationRegistered
// ("" before it; a per-call connection's is "<app>:<channel name>", see
// SplitPerCallApp).
func (c *Conn) App() string {
	if p := c.app.Load(); p != nil {
		return *p
	}
	return ""
}

// Client returns the REST client of this connection: its calls go back to
// the Asterisk the connection came from. Its Run is not used.
func (c *Conn) Client() *Client { return c.client }

// Close closes the socket; the Handler gets Disconnected.
func (c *Conn) Close() {
	c.setCause(errors.New("ari listener: connection closed locally"))
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
	c.ws.Close()
}

func (c *Conn) setCause(err error) { c.cause.CompareAndSwap(nil, &err) }

// writeText writes one text frame (the socket REST transport).
func (c *Conn) writeText(ctx context.Context, b []byte) error {
	dl := time.Now().Add(c.l.cfg.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(dl)
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// IsNormalClose reports whether err, a listener connection's
// Disconnected error, is the normal close (1000) Asterisk sends when it
// is done with the socket (a per-call socket after its channel left).
func IsNormalClose(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure
}

// SplitPerCallApp splits a per-call connection's application name
// "<app>:<channel name>" (Asterisk 22's per_call_config) into the app and
// the channel name; ok is false for a plain app name.
func SplitPerCallApp(app string) (base, channel string, ok bool) {
	return strings.Cut(app, ":")
}

// serve runs the connection: the read loop on this goroutine, a pinger
// and one dispatch goroutine calling h; all are joined before it returns.
func (c *Conn) serve(h Handler) {
	cfg := &c.l.cfg
	c.ws.SetReadLimit(cfg.ReadLimit)
	c.ws.SetPongHandler(func(string) error {
		c.lastSeen.Store(time.Now().UnixNano())
		return nil
	})
	// A per-call socket carries one call: its queue starts small and
	// grows to QueueSize only for a connection that is not per-call
	// (readLoop), so that thousands of per-call sockets do not each hold
	// QueueSize slots.
	q := make(chan item, min(cfg.QueueSize, perCallQueue)+controlSlots)
	q <- item{conn: &ConnInfo{Seq: int(c.seq)}}
	var wg sync.WaitGroup
	wg.Add(2)
	go func(q chan item) {
		defer wg.Done()
		for {
			it, ok := <-q // drains what was read before the socket closed
			if !ok {
				return
			}
			switch {
			case it.next != nil:
				q = it.next
			case it.ev != nil:
				h.Event(it.ev)
			case it.conn != nil:
				h.Connected(*it.conn)
			default:
				h.Disconnected(it.err)
			}
		}
	}(q)
	done := make(chan struct{})
	go func() {
		defer wg.Done()
		c.pingLoop(done)
	}()
	c.log.Info("ari listener: connection accepted", "remote", c.remote, "rest", c.peer.REST.String())
	err := c.readLoop(&q)
	if p := c.cause.Load(); p != nil {
		err = fmt.Errorf("%w (%w)", *p, err)
	}
	close(done)
	c.ws.Close()
	c.rest.close(err)
	q <- item{err: err} // a control slot is always free: the read loop has stopped
	close(q)
	wg.Wait()
	c.log.Info("ari listener: connection closed", "app", c.App(), "err", err)
}

func (c *Conn) pingLoop(done <-chan struct{}) {
	cfg := &c.l.cfg
	t := time.NewTicker(cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		limit := cfg.PingInterval + cfg.PongTimeout
		if c.rest.outstanding() > 0 {
			limit = cfg.RESTLongTimeout + cfg.PongTimeout
		}
		if quiet := time.Since(time.Unix(0, c.lastSeen.Load())); quiet > limit {
			c.setCause(fmt.Errorf("ari listener: no frame or pong from Asterisk for %v", quiet.Round(time.Millisecond)))
			c.ws.Close()
			return
		}
		if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.PongTimeout)); err != nil {
			return // the read loop sees the broken socket
		}
	}
}

// perCallQueue is the event queue of a connection until its first event
// shows it is not a per-call one (then it is Config.QueueSize).
const perCallQueue = 256

// readLoop reads frames until the socket fails: RESTResponses go to their
// requests, events to the queue (*qp), never waiting for the Handler.
// After the connection's first event, a connection that is not per-call
// moves to a queue of QueueSize: the old queue's last item names the new
// one, and *qp is set to it.
func (c *Conn) readLoop(qp *chan item) error {
	q := *qp
	first := true
	var (
		buf     []byte
		scratch Event
		dropLog rateLog
		decLog  rateLog
	)
	st := &c.peer.stats
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			return c.readErr(err)
		}
		if buf, err = readFrame(buf[:0], r); err != nil {
			return c.readErr(err)
		}
		c.lastSeen.Store(time.Now().UnixNano())
		if mt != websocket.TextMessage {
			continue
		}
		if err := Decode(buf, &scratch); err != nil {
			st.decodeErrors.Add(1)
			if decLog.ok() {
				c.log.Error("ari listener: dropping a frame that does not decode", "err", err, "frame", truncate(buf, 200))
			}
			continue
		}
		if scratch.Type == "RESTResponse" {
			resp, err := parseRESTResponse(buf)
			if err != nil {
				st.decodeErrors.Add(1)
				if decLog.ok() {
					c.log.Error("ari listener: bad RESTResponse", "err", err, "frame", truncate(buf, 200))
				}
				continue
			}
			if !c.rest.deliver(resp) {
				st.strayResponses.Add(1)
				c.log.Warn("ari listener: RESTResponse for no waiting request (timed out?)", "request_id", resp.RequestID, "uri", resp.URI, "status", resp.StatusCode)
			}
			continue
		}
		ev := newEvent(buf)
		_ = Decode(ev.Raw, ev) // decoded once already
		if ev.Type == "ApplicationRegistered" && c.app.Load() == nil {
			app := ev.Application
			c.app.Store(&app)
			c.log.Debug("ari listener: application registered", "app", app)
		}
		if first {
			first = false
			_, _, perCall := SplitPerCallApp(ev.Application)
			if full := c.l.cfg.QueueSize + controlSlots; (ev.Type != "ApplicationRegistered" || !perCall) && cap(q) < full {
				nq := make(chan item, full)
				q <- item{next: nq} // a control slot is always free
				close(q)
				q, *qp = nq, nq
			}
		}
		if len(q) < cap(q)-controlSlots {
			st.events.Add(1)
			q <- item{ev: ev}
		} else {
			st.dropped.Add(1)
			if dropLog.ok() {
				c.log.Error("ari listener: event queue full, dropping events (handler too slow)", "event", ev.Type, "channel", ev.Channel.ID)
			}
		}
	}
}

func (c *Conn) readErr(err error) error {
	if errors.Is(err, websocket.ErrReadLimit) {
		return fmt.Errorf("ari listener: frame larger than ReadLimit (%d bytes): %w", c.l.cfg.ReadLimit, err)
	}
	return fmt.Errorf("ari listener: %w", err)
}

// readFrame appends the rest of one message from r to buf (the listener
// reads through gorilla's NextReader; the client's read loop has its own
// frame reader, frames.go).
func readFrame(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
