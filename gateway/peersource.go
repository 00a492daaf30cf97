package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// ErrRedialWindow is wrapped by a PeerSource's Run error when its
// Asterisk did not redial the persistent connection within the window.
var ErrRedialWindow = errors.New("gateway: persistent connection not redialled within the window")

// PeerSource is the ARI of one Asterisk's persistent outbound connection
// (ari.Listener, connection_type = persistent) across its redials: a
// Gateway built on it keeps its sessions when the socket drops, as on an
// inbound socket. The socket Asterisk dials again (the same peer and app,
// matched by the caller) is attached to the same source with Attach; the
// Gateway then gets Connected with the next Seq and the app, and
// reconciles its channels (GET /applications/{app}) over the new
// connection. Asterisk 22.10.1 keeps the channels in Stasis while the
// socket is down and delivers the events of the outage on the redialled
// socket (README, Listener mode).
//
// REST calls go to the current connection's client; while the socket is
// down they wait for the redial (bounded by their context and the
// window). When no connection is attached for Window after a drop, Run
// returns ErrRedialWindow and the owner ends the Gateway (its sessions
// end as at shutdown).
type PeerSource struct {
	window time.Duration

	// dmu serialises the handler calls of the attached connections: a
	// redial may be attached while the old socket's dispatch goroutine
	// still delivers its last events.
	dmu sync.Mutex

	mu     sync.Mutex
	h      ari.Handler
	bound  chan struct{} // closed when Run has its handler
	done   chan struct{} // closed when the window expired, or Abort
	err    error
	ended  bool
	cur    *ari.Client // the current (or last) connection's REST client
	gen    uint64      // attachments so far
	up     bool
	upCh   chan struct{} // closed by the next Attach while down
	closer func()        // closes the current connection's socket
	timer  *time.Timer
}

// NewPeerSource returns a source that waits window for a redial after its
// connection drops (at least 1 ms).
func NewPeerSource(window time.Duration) *PeerSource {
	return &PeerSource{window: max(window, time.Millisecond), bound: make(chan struct{}), done: make(chan struct{}), upCh: make(chan struct{})}
}

// Run implements EventSource: it hands the connections' events to h until
// the window after a drop expires (ErrRedialWindow), Abort, or ctx ends.
func (s *PeerSource) Run(ctx context.Context, h ari.Handler) error {
	s.mu.Lock()
	if s.h != nil {
		s.mu.Unlock()
		return errRunTwice
	}
	s.h = h
	close(s.bound)
	s.mu.Unlock()
	defer func() {
		s.dmu.Lock()
		s.mu.Lock()
		s.h = nilHandler{}
		s.mu.Unlock()
		s.dmu.Unlock()
	}()
	select {
	case <-s.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err
	case <-ctx.Done():
		s.Abort(ctx.Err())
		return ctx.Err()
	}
}

// Done is closed when the source has ended (window expired or Abort):
// the owner ends the Gateway's Run context then.
func (s *PeerSource) Done() <-chan struct{} { return s.done }

// Abort ends the source: Run returns err, Attach refuses.
func (s *PeerSource) Abort(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(err)
}

func (s *PeerSource) endLocked(err error) {
	if s.ended {
		return
	}
	s.ended = true
	s.err = err
	if s.timer != nil {
		s.timer.Stop()
	}
	close(s.done)
}

// Attach makes client (the REST client of a newly accepted persistent
// connection of this source's Asterisk and app; close closes its socket)
// the source's connection and returns the ari.Handler for that
// connection's events, which the caller feeds from then on (its Connected
// is not needed: Attach reports the connection to the Gateway). A socket
// still attached (Asterisk redialled before the old one was seen to
// drop) is closed: the newer one wins. It returns nil once the source
// has ended: the caller starts a new source.
func (s *PeerSource) Attach(client *ari.Client, app string, closeConn func()) ari.Handler {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil
	}
	old := s.closer
	wake := s.upCh
	if s.up {
		wake = nil
	} else {
		s.upCh = make(chan struct{})
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.gen++
	gen := s.gen
	s.cur, s.up, s.closer = client, true, closeConn
	s.mu.Unlock()
	if wake != nil { // the REST calls waiting for the redial go on
		close(wake)
	}
	if old != nil {
		old()
	}
	if h := s.handler(); h != nil {
		s.dmu.Lock()
		h.Connected(ari.ConnInfo{Seq: int(gen), Apps: []string{app}})
		s.dmu.Unlock()
	}
	return &peerConn{s: s, gen: gen}
}

// handler waits until Run has bound the Gateway (nil once ended).
func (s *PeerSource) handler() ari.Handler {
	select {
	case <-s.bound:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.h
	case <-s.done:
		return nil
	}
}

// dropped handles the loss of attachment gen's socket: the Gateway is told
// (its sessions carry on) and the window starts.
func (s *PeerSource) dropped(gen uint64, err error) {
	s.mu.Lock()
	if s.ended || gen != s.gen || !s.up {
		s.mu.Unlock()
		return
	}
	s.up, s.closer = false, nil
	s.timer = time.AfterFunc(s.window, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.up {
			s.endLocked(fmt.Errorf("%w (%v): %w", ErrRedialWindow, s.window, err))
		}
	})
	s.mu.Unlock()
	if h := s.handler(); h != nil {
		s.dmu.Lock()
		h.Disconnected(err)
		s.dmu.Unlock()
	}
}

// client returns the REST client to use now: the current connection's,
// waiting for a redial while the socket is down (until ctx ends or the
// source ends; then the last one, whose HTTP route may still work).
func (s *PeerSource) client(ctx context.Context) *ari.Client {
	s.mu.Lock()
	c, up, wait := s.cur, s.up, s.upCh
	s.mu.Unlock()
	if up || c == nil {
		return c
	}
	select {
	case <-wait:
	case <-s.done:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// peerConn is the handler of one attached connection.
type peerConn struct {
	s   *PeerSource
	gen uint64
}

// Connected implements ari.Handler: Attach has reported the connection.
func (p *peerConn) Connected(ari.ConnInfo) {}

// Event implements ari.Handler. Events of a socket a newer one replaced
// are still delivered (Asterisk sent them before the redial).
func (p *peerConn) Event(ev *ari.Event) {
	h := p.s.handler()
	if h == nil {
		return
	}
	p.s.dmu.Lock()
	defer p.s.dmu.Unlock()
	h.Event(ev)
}

// Disconnected implements ari.Handler: the socket is gone; the source
// waits for the redial.
func (p *peerConn) Disconnected(err error) { p.s.dropped(p.gen, err) }

// errNoClient is returned by the REST calls of a source that never had a
// connection.
var errNoClient = errors.New("gateway: persistent source has no connection")

// Ready implements ARI: true while the source has not ended.
func (s *PeerSource) Ready() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// The REST calls of ARI, on the current connection (see client).

// Answer implements ARI on the current connection.
func (s *PeerSource) Answer(ctx context.Context, channelID string) error {
	c := s.client(ctx)
	if c == nil {
		return errNoClient
	}
	return c.Answer(ctx, channelID)
}

// Hangup implements ARI on the current connection.
func (s *PeerSource) Hangup(ctx context.Context, channelID, reason string) error {
	c := s.client(ctx)
	if c == nil {
		return errNoClient
	}
	return c.Hangup(ctx, channelID, reason)
}

// Play implements ARI on the current connection.
func (s *PeerSource) Play(ctx context.Context, channelID, playbackID string, media []string, lang string) (ari.Playback, error) {
	c := s.client(ctx)
	if c == nil {
		return ari.Playback{}, errNoClient
	}
	return c.Play(ctx, channelID, playbackID, media, lang)
}

// StopPlayback implements ARI on the current connection.
func (s *PeerSource) StopPlayback(ctx context.Context, playbackID string) error {
	c := s.client(ctx)
	if c == nil {
		return errNoClient
	}
	return c.StopPlayback(ctx, playbackID)
}

// GetPlayback implements ARI on the current connection.
func (s *PeerSource) GetPlayback(ctx context.Context, playbackID string) (ari.Playback, error) {
	c := s.client(ctx)
	if c == nil {
		return ari.Playback{}, errNoClient
	}
	return c.GetPlayback(ctx, playbackID)
}

// GetVariable implements ARI on the current connection.
func (s *PeerSource) GetVariable(ctx context.Context, channelID, name string) (string, error) {
	c := s.client(ctx)
	if c == nil {
		return "", errNoClient
	}
	return c.GetVariable(ctx, channelID, name)
}

// SetVariable implements ARI on the current connection.
func (s *PeerSource) SetVariable(ctx context.Context, channelID, name, value string) error {
	c := s.client(ctx)
	if c == nil {
		return errNoClient
	}
	return c.SetVariable(ctx, channelID, name, value)
}

// Continue implements ARI on the current connection.
func (s *PeerSource) Continue(ctx context.Context, channelID, context_, exten string, priority int, label string) error {
	c := s.client(ctx)
	if c == nil {
		return errNoClient
	}
	return c.Continue(ctx, channelID, context_, exten, priority, label)
}

// StartSilence implements ARI on the current connection.
func (s *PeerSource) StartSilence(ctx context.Context, channelID string) error {
	c := s.client(ctx)
	if c == nil {
		return errNoClient
	}
	return c.StartSilence(ctx, channelID)
}

// StopSilence implements ARI on the current connection.
func (s *PeerSource) StopSilence(ctx context.Context, channelID string) error {
	c := s.client(ctx)
	if c == nil {
		return errNoClient
	}
	return c.StopSilence(ctx, channelID)
}

// SendDTMF implements ARI on the current connection.
func (s *PeerSource) SendDTMF(ctx context.Context, channelID, dtmf string, opt ari.DTMFOptions) error {
	c := s.client(ctx)
	if c == nil {
		return errNoClient
	}
	return c.SendDTMF(ctx, channelID, dtmf, opt)
}

// GetApplication implements ARI on the current connection.
func (s *PeerSource) GetApplication(ctx context.Context, app string) (ari.Application, error) {
	c := s.client(ctx)
	if c == nil {
		return ari.Application{}, errNoClient
	}
	return c.GetApplication(ctx, app)
}

// GetChannel implements ARI on the current connection.
func (s *PeerSource) GetChannel(ctx context.Context, channelID string) (ari.Channel, error) {
	c := s.client(ctx)
	if c == nil {
		return ari.Channel{}, errNoClient
	}
	return c.GetChannel(ctx, channelID)
}

// Originate implements ARI on the current connection.
func (s *PeerSource) Originate(ctx context.Context, p ari.OriginateParams) (ari.Channel, error) {
	c := s.client(ctx)
	if c == nil {
		return ari.Channel{}, errNoClient
	}
	return c.Originate(ctx, p)
}

// Sounds implements ARI on the current connection.
func (s *PeerSource) Sounds(ctx context.Context, lang string) ([]ari.Sound, error) {
	c := s.client(ctx)
	if c == nil {
		return nil, errNoClient
	}
	return c.Sounds(ctx, lang)
}

var _ ARI = (*PeerSource)(nil)
