package aritest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// defaultWriteTimeout is Asterisk's default websocket_write_timeout: a
// client that cannot take a frame within it is dropped.
const defaultWriteTimeout = 100 * time.Millisecond

// maxQueue bounds the frames waiting for one client. Like Asterisk, a
// client is dropped when a write blocks for writeTimeout; the bound only
// stops a client that reads, but too slowly, from growing memory forever.
const maxQueue = 1 << 20

// app is a registered Stasis application. It outlives its sockets: the
// channels stay in it while no client is connected (events are then lost).
type app struct {
	name         string
	client       *wsClient // the socket receiving its events; nil = none
	subscribeAll bool      // the current socket asked for every channel's events
}

type frame struct {
	data  []byte
	at    time.Time
	close bool // write a close frame (1000) after the frames before, then drop the socket
}

// wsClient is one events WebSocket. Frames are queued by publish (under
// Server.mu, so the queue order is the event order) and written by its own
// writer goroutine; its reader goroutine (the HTTP handler) notices the
// close.
type wsClient struct {
	s    *Server
	conn *websocket.Conn
	done chan struct{}
	once sync.Once

	qmu sync.Mutex
	q   []frame
	sig chan struct{} // cap 1: frames were queued

	outApp string // the Outbound app of a connection the fake dialled ("" = inbound)
	// Per-call outbound sockets (Server.mu): REST requests being served,
	// and whether to close once none is.
	inFlight      int
	closeWhenIdle bool
}

func newClient(s *Server) *wsClient {
	return &wsClient{s: s, done: make(chan struct{}), sig: make(chan struct{}, 1)}
}

// take returns and clears the queued frames.
func (c *wsClient) take() []frame {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	q := c.q
	c.q = nil
	return q
}

var errClientGone = errors.New("client gone")

// kill closes the socket; safe to call any number of times, with or
// without Server.mu.
func (c *wsClient) kill() {
	c.once.Do(func() { close(c.done) })
	c.s.connMu.Lock()
	conn := c.conn
	c.s.connMu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}

func (s *Server) unregister(c *wsClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, c)
	for _, a := range s.apps {
		if a.client == c {
			a.client, a.subscribeAll = nil, false
			s.ctiForgetLocked(a.name)
		}
	}
}

// enqueueLocked queues one frame; an overlong queue drops the client.
// s.mu held (or any lock order: it takes only qmu).
func (c *wsClient) enqueueLocked(data []byte) {
	select {
	case <-c.done:
		return
	default:
	}
	c.qmu.Lock()
	if len(c.q) >= maxQueue {
		c.qmu.Unlock()
		c.s.log.Warn("aritest: client queue full, dropping it")
		c.kill()
		return
	}
	c.q = append(c.q, frame{data: data, at: time.Now()})
	c.qmu.Unlock()
	select {
	case c.sig <- struct{}{}:
	default:
	}
}

var upgrader = websocket.Upgrader{
	CheckOrigin:     func(*http.Request) bool { return true },
	Subprotocols:    []string{"ari"}, // echoed when a client asks for it, as Asterisk does
	ReadBufferSize:  4096,
	WriteBufferSize: 16384,
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var names []string
	for _, a := range strings.Split(q.Get("app"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			names = append(names, a)
		}
	}
	if len(names) == 0 {
		writeErr(w, http.StatusBadRequest, "Missing param app")
		return
	}
	subscribeAll, _ := strconv.ParseBool(q.Get("subscribeAll"))
	// Register before the upgrade completes, so that a client whose dial
	// returned is already subscribed (as on Asterisk).
	c := newClient(s)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeErr(w, http.StatusServiceUnavailable, "Shutting down")
		return
	}
	s.clients[c] = struct{}{}
	for _, n := range names {
		a := s.apps[n]
		if a == nil {
			a = &app{name: n}
			s.apps[n] = a
		}
		if a.client != nil && a.client != c {
			// The old socket is told and then hears nothing more for
			// this app; Asterisk does not close it.
			a.client.enqueueLocked(encodeEvent("ApplicationReplaced", time.Now(), s.opts.AsteriskID, n, nil, nil))
		}
		a.client = c
		a.subscribeAll = subscribeAll // does not stick across reconnects (ari-16d)
	}
	s.mu.Unlock()
	conn, err := upgrader.Upgrade(w, r, nil)
	if err == nil {
		s.connMu.Lock()
		c.conn = conn
		s.connMu.Unlock()
		select {
		case <-c.done: // killed (Close, DropWebSockets) during the upgrade
			_ = conn.Close()
			err = errClientGone
		default:
		}
	}
	if err != nil {
		c.kill()
		s.unregister(c)
		return
	}
	s.log.Debug("aritest: websocket connected", "app", strings.Join(names, ","))

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	conn.SetReadLimit(1 << 20)
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	c.kill()
	s.unregister(c)
	s.log.Debug("aritest: websocket gone", "app", strings.Join(names, ","))
}

func (c *wsClient) write(data []byte) bool {
	var deadline time.Time // zero: none
	if d := c.s.opts.WriteTimeout; d > 0 {
		deadline = time.Now().Add(d)
	}
	_ = c.conn.SetWriteDeadline(deadline)
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		c.s.log.Warn("aritest: dropping websocket client", "peer", c.conn.RemoteAddr().String(), "err", err)
		c.kill()
		return false
	}
	return true
}

// writeLoop writes queued frames in order, applying the fault knobs
// (delay, reorder window, duplicates).
func (c *wsClient) writeLoop() {
	for {
		batch := c.take()
		if len(batch) == 0 {
			select {
			case <-c.sig:
				continue
			case <-c.done:
				return
			}
		}
		fl := c.s.faultSnapshot()
		if fl.reorder > 0 {
			// Collect what arrives within the window, then shuffle.
			if !c.waitUntil(batch[0].at.Add(fl.reorder)) {
				return
			}
			batch = append(batch, c.take()...)
			c.s.shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		}
		for _, f := range batch {
			if fl.delay > 0 && !c.waitUntil(f.at.Add(fl.delay)) {
				return
			}
			if f.close {
				c.closeNormal()
				return
			}
			dup := c.s.duplicateNow() // decided before the first copy goes out
			if !c.write(f.data) {
				return
			}
			if dup && !c.write(f.data) {
				return
			}
		}
	}
}

func (c *wsClient) waitUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-c.done:
		return false
	}
}

// publishLocked sends one event frame to an app's current socket; with no
// socket the event is lost, as on Asterisk. s.mu held.
func (s *Server) publishLocked(appName string, data []byte) {
	a := s.apps[appName]
	if a == nil || a.client == nil {
		return
	}
	a.client.enqueueLocked(data)
}

// appActiveLocked reports whether an app has a connected socket.
func (s *Server) appActiveLocked(name string) bool {
	a := s.apps[name]
	return a != nil && a.client != nil
}
