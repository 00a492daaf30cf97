package gateway

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// ConnSource is the ARI of one connection Asterisk opened to the gateway
// (ari.Listener, Asterisk's outbound WebSockets): a Gateway built on it
// serves exactly the channels of that connection, and its REST calls go
// back to the Asterisk the connection came from (the embedded client).
// It is the ari.Handler the listener's Accept returns for the connection,
// and the EventSource of that Gateway's Pipeline.
//
// Run delivers the connection's events to the Pipeline and returns when
// the socket closes (or ctx ends): the Gateway then ends its live sessions
// as at shutdown, so a per-call connection's session ends with its socket.
// Per-call application names "<app>:<channel name>" are delivered as
// "<app>", so that the [[app]] configuration applies unchanged.
type ConnSource struct {
	*ari.Client

	mu     sync.Mutex
	h      ari.Handler
	bound  chan struct{} // closed when Run has its handler
	done   chan struct{} // closed by Disconnected or Abort
	once   sync.Once
	err    error
	closed atomic.Bool
}

var errRunTwice = errors.New("gateway: ConnSource.Run called twice")

// NewConnSource returns the source of one connection whose REST client is
// client (ari.Conn.Client).
func NewConnSource(client *ari.Client) *ConnSource {
	return &ConnSource{Client: client, bound: make(chan struct{}), done: make(chan struct{})}
}

// Run implements EventSource: it hands the connection's events to h until the
// socket closes (returning its error) or ctx ends. It runs once.
func (s *ConnSource) Run(ctx context.Context, h ari.Handler) error {
	s.mu.Lock()
	if s.h != nil {
		s.mu.Unlock()
		return errRunTwice
	}
	s.h = h
	close(s.bound)
	s.mu.Unlock()
	// Once Run has returned, the Pipeline no longer runs: what the
	// connection still delivers is dropped.
	defer func() {
		s.mu.Lock()
		s.h = nilHandler{}
		s.mu.Unlock()
	}()
	select {
	case <-s.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the socket is gone (or Abort): the owner ends the
// Gateway's Run context then, so that its sessions end with the socket.
func (s *ConnSource) Done() <-chan struct{} { return s.done }

// Ready implements ARI: true while the socket is open.
func (s *ConnSource) Ready() bool { return !s.closed.Load() }

// Abort ends Run (and unblocks the handler methods) without a socket
// loss, for a Gateway that could not be started.
func (s *ConnSource) Abort(err error) { s.finish(err) }

func (s *ConnSource) finish(err error) {
	s.once.Do(func() {
		s.closed.Store(true)
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	})
}

// handler waits until Run has bound the Gateway (nil after Abort).
func (s *ConnSource) handler() ari.Handler {
	select {
	case <-s.bound:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.h
	case <-s.done:
		return nil
	}
}

// Connected implements ari.Handler (the listener's dispatch goroutine). A
// new connection has no outage to reconcile: Apps stay empty.
func (s *ConnSource) Connected(info ari.ConnInfo) {
	if h := s.handler(); h != nil {
		h.Connected(ari.ConnInfo{Seq: 1})
	}
}

// Event implements ari.Handler.
func (s *ConnSource) Event(ev *ari.Event) {
	if app, _, ok := ari.SplitPerCallApp(ev.Application); ok {
		ev.Application = app
	}
	if h := s.handler(); h != nil {
		h.Event(ev)
	}
}

// Disconnected implements ari.Handler: the socket is gone, Run returns.
// A normal close (1000: Asterisk is done with the socket, its channel
// left) is not reported to the Gateway, which would log every per-call
// socket's end as a lost connection at WARN; the listener logs the close
// (INFO). An abnormal close is reported (WARN).
func (s *ConnSource) Disconnected(err error) {
	s.closed.Store(true)
	select {
	case <-s.bound:
		s.mu.Lock()
		h := s.h
		s.mu.Unlock()
		if !ari.IsNormalClose(err) {
			h.Disconnected(err)
		}
	default:
	}
	s.finish(err)
}

// nilHandler drops what a connection delivers after Run returned.
type nilHandler struct{}

func (nilHandler) Connected(ari.ConnInfo) {}
func (nilHandler) Event(*ari.Event)       {}
func (nilHandler) Disconnected(error)     {}
