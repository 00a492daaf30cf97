package ari

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Handler receives the stream. All three are called from ONE dispatch
// goroutine, in order; they must not block for long (the client buffers,
// bounded, so the socket read loop never stalls; overflow is counted and
// logged).
type Handler interface {
	// Connected is called after every successful (re)connect, before any
	// of its events: resync here (GET /applications/{app}), since events
	// raised while the socket was down are lost, not replayed.
	Connected(info ConnInfo)
	// Event delivers one event; the handler owns ev.
	Event(ev *Event)
	// Disconnected is called when the socket is lost (Run reconnects
	// with backoff). It is not called when Run's context ends.
	Disconnected(err error)
}

// ConnInfo describes one WebSocket connection.
type ConnInfo struct {
	Seq  int      // 1 = first connect, then +1 per reconnect
	Apps []string // the applications subscribed on this connection
}

// ErrReplaced is the cause logged when Asterisk sends ApplicationReplaced.
var ErrReplaced = errors.New("ari: application replaced by another client")

// errRunning is returned by a second concurrent Run.
var errRunning = errors.New("ari: Run is already running on this client")

// item is one entry of the dispatch queue.
type item struct {
	ev   *Event    // Event
	conn *ConnInfo // Connected
	err  error     // Disconnected (when ev and conn are nil and lost is 0)
	lost uint64    // LossHandler.EventsLost (lost.go)
	// next: the listener's read loop moved to a larger queue; this is
	// the old one's last item (listen.go).
	next chan item
}

// Run connects the event WebSocket and calls h until ctx ends, reconnecting
// with jittered exponential backoff (Config.BackoffMin..BackoffMax) after
// every loss or failed attempt. It returns ctx's error (or an error at once
// if the config has no Apps or Run is already running).
//
// Goroutines: Run itself dials and supervises; per connection one read loop
// (reads, decodes, queues without ever waiting) and one pinger; one
// dispatch goroutine calls h. All are joined before Run returns; events
// still queued then are discarded.
//
// ApplicationReplaced for an app (another client connected with the same
// app name) is logged as an error and delivered to h; Ready turns false.
// Run keeps the socket (Asterisk leaves it open), and when it reconnects
// it subscribes only the apps not replaced; with none left it waits for
// ctx or Reclaim.
func (c *Client) Run(ctx context.Context, h Handler) error {
	if len(c.cfg.Apps) == 0 {
		return fmt.Errorf("%w: Run needs at least one app", ErrConfig)
	}
	if !c.running.CompareAndSwap(false, true) {
		return errRunning
	}
	defer c.running.Store(false)

	// The read loop fills at most QueueSize slots; the spare ones keep
	// Connected/Disconnected from waiting behind a full queue.
	q := make(chan item, c.cfg.QueueSize+controlSlots)
	dctx, stopDispatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		dispatch(dctx, q, h)
	}()
	defer func() {
		stopDispatch()
		wg.Wait()
	}()

	bo := backoff{min: c.cfg.BackoffMin, max: c.cfg.BackoffMax}
	seq := 0
	for {
		// A pending Reclaim is for this (re)connect.
		select {
		case <-c.reclaim:
		default:
		}
		apps := c.activeApps()
		if len(apps) == 0 {
			c.log.Error("ari: every application was replaced by another client; waiting for Reclaim",
				"app", strings.Join(c.cfg.Apps, ","))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-c.reclaim:
				bo.reset()
				continue
			}
		}
		conn, hc, err := c.dial(ctx, apps)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.stats.dialErrors.Add(1)
			d := bo.next()
			c.log.Warn("ari: event stream connect failed", "app", strings.Join(apps, ","), "err", err, "retry_in", d)
			if !sleep(ctx, d) {
				return ctx.Err()
			}
			continue
		}
		seq++
		c.stats.connects.Add(1)
		if seq > 1 {
			c.stats.reconnects.Add(1)
		}
		c.log.Info("ari: event stream connected", "app", strings.Join(apps, ","), "seq", seq)
		c.connected.Store(true) // before Connected, so a Handler sees Ready()
		if !enqueue(ctx, q, item{conn: &ConnInfo{Seq: seq, Apps: apps}}) {
			c.connected.Store(false)
			conn.Close()
			return ctx.Err()
		}
		start := time.Now()
		err = c.serve(ctx, conn, hc, q)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Warn("ari: event stream lost", "app", strings.Join(apps, ","), "err", err)
		if !enqueue(ctx, q, item{err: err}) {
			return ctx.Err()
		}
		if time.Since(start) > c.cfg.BackoffMax {
			bo.reset()
		}
		if errors.Is(err, errReclaim) {
			continue
		}
		if !sleep(ctx, bo.next()) {
			return ctx.Err()
		}
	}
}

// controlSlots are queue slots reserved for Connected/Disconnected.
const controlSlots = 4

// errReclaim ends a connection on Reclaim.
var errReclaim = errors.New("ari: reconnecting to reclaim replaced applications")

func dispatch(ctx context.Context, q <-chan item, h Handler) {
	done := ctx.Done()
	for {
		// A queued item is taken without the two-case select (a burst is
		// the common case); only an empty queue waits on ctx as well.
		var it item
		select {
		case it = <-q:
		default:
			select {
			case <-done:
				return
			case it = <-q:
			}
		}
		select {
		case <-done: // the rest of the queue is discarded
			return
		default:
		}
		switch {
		case it.ev != nil:
			h.Event(it.ev)
		case it.conn != nil:
			h.Connected(*it.conn)
		case it.lost > 0:
			if lh, ok := h.(LossHandler); ok {
				lh.EventsLost(it.lost)
			}
		default:
			h.Disconnected(it.err)
		}
	}
}

// enqueue is the blocking send used for Connected/Disconnected, which are
// never dropped (it runs on Run's goroutine, not on the read loop).
func enqueue(ctx context.Context, q chan<- item, it item) bool {
	select {
	case q <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// backoff is jittered exponential backoff: uniform in [d/2, d], d doubling
// from min to max.
type backoff struct{ min, max, cur time.Duration }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else if b.cur *= 2; b.cur > b.max {
		b.cur = b.max
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

// eventsURL returns the WebSocket URL for apps; withKey adds api_key (never
// log that form).
func (c *Client) eventsURL(apps []string, withKey bool) string {
	u := *c.ws
	var q strings.Builder
	q.WriteString("app=")
	for i, a := range apps {
		if i > 0 {
			q.WriteByte(',') // Asterisk splits app on literal commas
		}
		q.WriteString(url.QueryEscape(a))
	}
	if c.cfg.SubscribeAll {
		q.WriteString("&subscribeAll=true")
	}
	if withKey && c.cfg.APIKey != "" && c.cfg.Username == "" && c.cfg.Password == "" {
		q.WriteString("&api_key=")
		q.WriteString(url.QueryEscape(c.cfg.APIKey))
	}
	u.RawQuery = q.String()
	return u.String()
}

// dial connects the event socket; the *handshakeConn under it is what the
// read loop reads the frames from (see frames.go).
func (c *Client) dial(ctx context.Context, apps []string) (*websocket.Conn, *handshakeConn, error) {
	hdr := http.Header{}
	if c.cfg.Username != "" || c.cfg.Password != "" {
		req := http.Request{Header: hdr}
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	var hc *handshakeConn
	d := frameDialer(c.dialer, func(h *handshakeConn) { hc = h })
	conn, resp, err := d.DialContext(dctx, c.eventsURL(apps, true), hdr)
	if err != nil {
		where := c.eventsURL(apps, false)
		if resp != nil {
			msg := resp.Status
			if resp.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				resp.Body.Close()
				if b = bytes.TrimSpace(b); len(b) > 0 {
					msg += ": " + string(b)
				}
			}
			hint := ""
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				hint = " (credentials rejected)"
			case http.StatusForbidden:
				hint = " (user not allowed)"
			}
			return nil, nil, fmt.Errorf("ari: connect %s: handshake refused: %s%s", where, c.cfg.redact(msg), hint)
		}
		return nil, nil, fmt.Errorf("ari: connect %s: %w", where, c.redactErr(err))
	}
	hc.byteReads = false // the response is read; the frames follow
	return conn, hc, nil
}

// serve runs one connection until it is lost or ctx ends; it joins its
// goroutines before returning the cause.
func (c *Client) serve(ctx context.Context, conn *websocket.Conn, hc *handshakeConn, q chan<- item) error {
	timeout := c.cfg.PingInterval + c.cfg.PongTimeout
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	fr := newFrameReader(hc, conn, c.cfg.ReadLimit, func() {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
	})
	var (
		wg      sync.WaitGroup
		readErr error
		done    = make(chan struct{})
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(done)
		readErr = c.readLoop(socketFrames{fr, conn}, q, timeout)
	}()
	go func() {
		defer wg.Done()
		c.pingLoop(conn, done)
	}()
	var cause error
	select {
	case <-done:
	case <-ctx.Done():
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	case <-c.reclaim:
		cause = errReclaim
	}
	conn.Close()
	wg.Wait()
	if cause != nil {
		return cause
	}
	return readErr
}

func (c *Client) pingLoop(conn *websocket.Conn, done <-chan struct{}) {
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.cfg.PongTimeout)); err != nil {
				// The read loop sees the broken socket (or its deadline).
				return
			}
		}
	}
}

// frameConn is what the read loop needs of the socket: the next message
// (valid until the next call) and the read deadline.
type frameConn interface {
	next() (messageType int, p []byte, err error)
	SetReadDeadline(t time.Time) error
}

// socketFrames is the frameConn of a connection: frames from fr, the
// deadline on conn.
type socketFrames struct {
	fr   *frameReader
	conn *websocket.Conn
}

func (s socketFrames) next() (int, []byte, error)        { return s.fr.next() }
func (s socketFrames) SetReadDeadline(t time.Time) error { return s.conn.SetReadDeadline(t) }

// readLoop reads, decodes and queues frames until the socket fails. It
// never blocks on the queue: a full queue drops the event (counted, logged
// at most once a second), since stalling here would make Asterisk drop the
// socket after 100 ms and lose events for every channel.
func (c *Client) readLoop(conn frameConn, q chan<- item, timeout time.Duration) error {
	var (
		frames     uint64
		lastPush   = time.Now()
		dropLog    rateLog
		decodeLog  rateLog
		dropSince  uint64
		lost       uint64 // dropped, not yet reported to a LossHandler
		decodeErrs uint64
		scratch    Event  // decoded from buf, then compacted
		room       extras // scratch's optional channels and Args
		keep       shared // strings the events of this connection share
	)
	for {
		mt, buf, err := conn.next()
		if err != nil {
			return c.readError(err, timeout)
		}
		// Pongs push the read deadline; frames do too (a pong can sit behind
		// a long burst), checked every 64 frames to keep the clock off the
		// hot path.
		if frames++; frames%64 == 0 {
			if now := time.Now(); now.Sub(lastPush) > time.Second/4 {
				lastPush = now
				_ = conn.SetReadDeadline(now.Add(timeout))
			}
		}
		if mt != websocket.TextMessage {
			continue // Asterisk sends only text; ignore anything else
		}
		// One allocation per event: the frame is decoded from buf (the
		// read buffer, reused) into scratch, then moved with just the
		// bytes of its strings into one object (KindOther too), with
		// KeepRaw with a copy of the whole frame, its Raw, that the
		// strings point into.
		n, err := decode(buf, &scratch, &room)
		if err != nil { // scratch stays the loop's (on its stack, never queued)
			c.stats.decodeErrors.Add(1)
			decodeErrs++
			if decodeLog.ok() {
				c.log.Error("ari: dropping an event frame that does not decode", "err", err,
					"event", scratch.Type, "frame", truncate(buf, 200), "count", decodeErrs)
				decodeErrs = 0
			}
			continue
		}
		ev := compact(&scratch, buf, n, &room, &keep, c.cfg.KeepRaw)
		if ev.Kind == KindApplicationReplaced {
			c.setReplaced(ev.Application) // the Handler logs it
		}
		noteLoss(q, &lost)
		queued := false
		if len(q) < cap(q)-controlSlots {
			c.stats.events.Add(1) // before the send: the Handler may run at once
			select {
			case q <- item{ev: ev}:
				queued = true
			default: // cannot happen (the read loop is the only sender meanwhile)
				c.stats.events.Add(^uint64(0))
			}
		}
		if !queued {
			c.stats.dropped.Add(1)
			lost++
			dropSince++
			if dropLog.ok() {
				c.log.Error("ari: event queue full, dropping events (handler too slow)",
					"dropped", dropSince, "event", ev.Type, "channel", ev.Channel.ID, "queue", cap(q)-controlSlots)
				dropSince = 0
			}
		}
	}
}

func (c *Client) readError(err error, timeout time.Duration) error {
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		c.stats.oversized.Add(1)
		return fmt.Errorf("ari: event frame larger than ReadLimit (%d bytes): %w", c.cfg.ReadLimit, err)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("ari: no frame or pong from Asterisk for %v: %w", timeout, err)
	case errors.Is(err, errProtocol):
		return err
	}
	return fmt.Errorf("ari: event stream: %w", c.redactErr(err))
}

// rateLog allows one log line per second.
type rateLog struct{ last time.Time }

func (l *rateLog) ok() bool {
	now := time.Now()
	if now.Sub(l.last) < time.Second {
		return false
	}
	l.last = now
	return true
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
