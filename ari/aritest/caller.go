package aritest

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"
)

// CallerID is a caller's name and number.
type CallerID struct{ Name, Number string }

// CallOptions describe an inbound call made with StartCall. Zero values get
// the defaults of the recordings: a Local channel in context "stasisin",
// exten "s", priority 2, caller "Test Caller" <5551234>, language "en".
type CallOptions struct {
	ID       string    // channel id (unique); default generated ("1795457104.96" style)
	Name     string    // channel name; default "Local/s@stasisin-0000000N;2"
	Caller   *CallerID // nil = {"Test Caller", "5551234"}; &CallerID{} = none
	Context  string
	Exten    string
	Priority int64
	Language string
	Answered bool              // enter Stasis in state Up instead of Ring
	Vars     map[string]string // channel variables set before Stasis (no events)
	// Dead makes the call enter Stasis() from the h extension of a channel
	// that has already hung up (ari-26): StasisStart (state Up, exten "h")
	// and StasisEnd at once, nothing else; GET variable/channel keep
	// working (HANGUPCAUSE = HangupCause, default 16) while control calls
	// get 409, until FarHangup or DELETE removes the channel.
	Dead        bool
	HangupCause int
	// HExten is how long the dialplan's h extension runs after the call
	// hangs up in Stasis (far end or DELETE): until it ends the channel
	// stays readable (GET variable, variables and channel; HANGUPCAUSE
	// set) while control calls get 409, then it is destroyed. 0: no h
	// extension, the channel is destroyed right after StasisEnd. Measured
	// on Asterisk 22.10.1 (issue 12): an h extension that blocks (System)
	// keeps GET working; one that ends at once (Verbose; Wait() returns at
	// once on a hung-up channel) leaves no time to read.
	HExten time.Duration
}

// StartCall makes an inbound call enter Stasis(app,args...) as the dialplan
// would: the app gets StasisStart with args and the channel in state Ring
// (Up with opt.Answered). It fails with ErrNoApp when app has no events
// socket (the dialplan would go on with STASISSTATUS=FAILED).
//
// With a per-call Outbound for app (AddOutbound), the fake first dials the
// call's own connection (ErrDial when that fails) and the channel enters
// the app "<app>:<channel name>" on it.
func (s *Server) StartCall(app string, args []string, opt CallOptions) (string, error) {
	s.mu.Lock()
	ob := s.perCallLocked(app)
	s.mu.Unlock()
	if ob != nil {
		return s.startPerCall(ob, args, opt)
	}
	return s.startCall(app, args, opt)
}

func (s *Server) startCall(app string, args []string, opt CallOptions) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	if !s.appActiveLocked(app) {
		return "", fmt.Errorf("%w: %q", ErrNoApp, app)
	}
	if opt.Context == "" {
		opt.Context = "stasisin"
	}
	nameExten := opt.Exten
	if nameExten == "" || opt.Dead {
		nameExten = "s" // a dead call runs in h, but was dialled to s
	}
	if opt.Exten == "" {
		opt.Exten = "s"
		if opt.Dead {
			opt.Exten = "h"
		}
	}
	if opt.Priority == 0 {
		opt.Priority = 2
	}
	if opt.Caller == nil {
		opt.Caller = &CallerID{"Test Caller", "5551234"}
	}
	if opt.ID == "" {
		opt.ID = s.nextIDLocked()
	}
	if _, dup := s.chans[opt.ID]; dup {
		return "", fmt.Errorf("%w: %q", ErrChannelID, opt.ID)
	}
	if opt.Name == "" {
		opt.Name = s.localNameLocked(opt.Context, nameExten) + ";2"
	}
	c := s.newChannelLocked(opt.ID, opt.Name)
	c.state = "Ring"
	c.fromDialplan = true
	if opt.Answered || opt.Dead {
		c.state = "Up"
	}
	if opt.Language != "" {
		c.lang = opt.Language
	}
	c.hExten = opt.HExten
	c.caller = callerJSON{Name: opt.Caller.Name, Number: opt.Caller.Number}
	c.connected = c.caller
	c.dp = dialplanJSON{Context: opt.Context, Exten: opt.Exten, Priority: opt.Priority}
	for k, v := range opt.Vars {
		c.vars[k] = v
	}
	if opt.Dead {
		cause := opt.HangupCause
		if cause == 0 {
			cause = 16
		}
		c.vars["HANGUPCAUSE"] = strconv.Itoa(cause)
		c.dp.AppName, c.dp.AppData = "Stasis", strings.Join(append([]string{app}, args...), ",")
		c.vars["STASISSTATUS"] = ""
		now := time.Now()
		j := c.json()
		s.publishLocked(app, encodeEvent("StasisStart", now, s.opts.AsteriskID, app, nil, []kv{{"args", nonNil(args)}, {"channel", j}}))
		s.publishLocked(app, encodeEvent("StasisEnd", now, s.opts.AsteriskID, app, nil, []kv{{"channel", j}}))
		c.vars["STASISSTATUS"] = "SUCCESS"
		s.recordEndLocked(c, End{HungUp: true, Cause: cause})
		return c.id, nil
	}
	s.enterStasisLocked(c, app, args)
	return c.id, nil
}

func (s *Server) stasisChanLocked(id string) (*channel, error) {
	c := s.chans[id]
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoChannel, id)
	}
	if !c.inStasis || c.hangup != nil {
		return nil, fmt.Errorf("%w: %q", ErrNotInStasis, id)
	}
	return c, nil
}

// PressDTMF has the caller press one digit for d (use >= 100 ms to match
// what Asterisk reports for ARI-sent digits). It returns when the digit
// ends, which is when the app gets ChannelDtmfReceived{digit, duration_ms}.
// Digits pressed concurrently on one channel are played one after another.
// DTMF does not touch the channel's command queue: playbacks go on.
// A channel not yet Up gets its digits too (early media), as on Asterisk.
func (s *Server) PressDTMF(channelID string, digit rune, d time.Duration) error {
	s.mu.Lock()
	c, err := s.stasisChanLocked(channelID)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case c.dtmfBusy <- struct{}{}:
	case <-c.dead:
		return fmt.Errorf("%w: %q", ErrNoChannel, channelID)
	case <-s.done:
		return ErrClosed
	}
	defer func() { <-c.dtmfBusy }()
	t := time.NewTimer(s.speedDur(d))
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.dead:
		return fmt.Errorf("%w: %q", ErrNoChannel, channelID)
	case <-s.done:
		return ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.inStasis || c.hangup != nil {
		return fmt.Errorf("%w: %q", ErrNotInStasis, channelID)
	}
	s.emitLocked(c, "ChannelDtmfReceived", nil, []kv{{"digit", string(digit)}, {"duration_ms", d.Milliseconds()}})
	return nil
}

// PressDTMFs presses each digit for duration with gap between digits (the
// recordings: ~100 ms duration, 50-100 ms between). It returns after the
// last digit or when ctx ends.
func (s *Server) PressDTMFs(ctx context.Context, channelID, digits string, duration, gap time.Duration) error {
	for i, r := range digits {
		if i > 0 && gap > 0 {
			t := time.NewTimer(s.speedDur(gap))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-s.done:
				t.Stop()
				return ErrClosed
			}
		}
		if err := s.PressDTMF(channelID, r, duration); err != nil {
			return err
		}
	}
	return nil
}

// FarHangup hangs the call up from the caller's side with a real cause
// (16 normal, 17 busy, ...): the app gets ChannelHangupRequest{cause} (no
// "soft"), PlaybackFinished failed for the playing playback, Started +
// Finished failed for each queued one, then StasisEnd. A channel that has
// left Stasis (continue) just disappears.
func (s *Server) FarHangup(channelID string, cause int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chans[channelID]
	if c == nil {
		return fmt.Errorf("%w: %q", ErrNoChannel, channelID)
	}
	s.requestHangupLocked(c, cause, false)
	return nil
}

// WaitEnd waits until the channel has left its Stasis app (or ctx ends) and
// says how: continued (where to), moved, or hung up (with cause). After
// Close it still reports ends recorded before; otherwise ErrClosed.
func (s *Server) WaitEnd(ctx context.Context, channelID string) (End, error) {
	s.mu.Lock()
	r := s.ends[channelID]
	s.mu.Unlock()
	if r == nil {
		return End{}, fmt.Errorf("%w: %q", ErrNoChannel, channelID)
	}
	result := func() (End, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		e := r.end
		e.Vars = maps.Clone(e.Vars)
		return e, nil
	}
	select { // an end recorded before Close is still reported after it
	case <-r.done:
		return result()
	default:
	}
	select {
	case <-r.done:
		return result()
	case <-ctx.Done():
		return End{}, ctx.Err()
	case <-s.done:
		select {
		case <-r.done:
			return result()
		default:
			return End{}, ErrClosed
		}
	}
}

// Ended reports how a channel left Stasis, without waiting; ok=false while
// it is still in Stasis or unknown.
func (s *Server) Ended(channelID string) (End, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.ends[channelID]
	if r == nil || !r.set {
		return End{}, false
	}
	e := r.end
	e.Vars = maps.Clone(e.Vars)
	return e, true
}

// Vars returns a copy of a live channel's variables.
func (s *Server) Vars(channelID string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chans[channelID]
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoChannel, channelID)
	}
	return maps.Clone(c.vars), nil
}

// State returns a live channel's state ("Ring", "Up", ...).
func (s *Server) State(channelID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chans[channelID]
	if c == nil {
		return "", fmt.Errorf("%w: %q", ErrNoChannel, channelID)
	}
	return c.state, nil
}

// Outcome is how a dialled endpoint responds.
type Outcome int

const (
	Answer   Outcome = iota // rings for Endpoint.Ring, then answers
	Busy                    // busy at once
	NoAnswer                // rings until the dial timeout
)

// Endpoint configures what originate and dial see for one endpoint.
type Endpoint struct {
	Outcome Outcome
	Ring    time.Duration // ringing time before answer (default 1 s, scaled by Speed)
}

// SetEndpoint sets how an endpoint (e.g. "Local/s@answerer/n",
// "PJSIP/alice") responds; unknown endpoints answer after 1 s.
func (s *Server) SetEndpoint(endpoint string, e Endpoint) {
	s.mu.Lock()
	s.endpoints[endpoint] = e
	s.mu.Unlock()
}

func (s *Server) endpointLocked(ep string) Endpoint {
	e, ok := s.endpoints[ep]
	if !ok {
		e = Endpoint{Outcome: Answer}
	}
	if e.Ring == 0 {
		e.Ring = time.Second
	}
	return e
}

// dialResource is the dial string Asterisk reports: the endpoint without its technology.
func dialResource(ep string) string {
	_, r, ok := strings.Cut(ep, "/")
	if !ok {
		return ep
	}
	return r
}

// dialLocked runs the outbound leg of originate/dial in its own goroutine.
// Events (to the apps seeing c): Dial "", StateChange Ringing, Dial RINGING,
// then Up + Dial ANSWER (and enter, if non-nil), or BUSY / no answer.
func (s *Server) dialLocked(c *channel, timeout time.Duration, originate bool, enter func()) {
	ep := s.endpointLocked(c.endpoint)
	ds := dialResource(c.endpoint)
	dial := func(status, dialstring string) {
		s.emitDialLocked(c, status, dialstring)
	}
	dial("", ds)
	if ep.Outcome == Busy {
		dial("BUSY", ds)
		if originate {
			c.hangup = &hangupReq{cause: 0}
			s.destroyLocked(c)
		} else {
			s.requestHangupLocked(c, 17, false)
		}
		return
	}
	c.state = "Ringing"
	s.emitLocked(c, "ChannelStateChange", nil, nil)
	rs := ds
	if !originate {
		rs = ""
	}
	dial("RINGING", rs)
	wait := ep.Ring
	if ep.Outcome == NoAnswer || (timeout > 0 && timeout < ep.Ring) {
		wait = timeout
	}
	answered := ep.Outcome == Answer && (timeout <= 0 || ep.Ring <= timeout)
	s.afterLocked(c, s.speedDur(wait), func() {
		if c.destroyed || c.hangup != nil {
			return
		}
		if !answered {
			if originate {
				c.hangup = &hangupReq{cause: 19}
				s.destroyLocked(c)
			} else {
				dial("NOANSWER", "")
				s.requestHangupLocked(c, 19, false)
			}
			return
		}
		c.state = "Up"
		s.emitLocked(c, "ChannelStateChange", nil, nil)
		dial("ANSWER", rs)
		if enter != nil {
			enter()
		}
	})
}

func (s *Server) emitDialLocked(c *channel, status, dialstring string) {
	now := time.Now()
	post := []kv{{"dialstatus", status}, {"forward", ""}, {"dialstring", dialstring}, {"peer", c.json()}}
	for _, a := range s.chanAppsLocked(c) {
		s.publishLocked(a, encodeEvent("Dial", now, s.opts.AsteriskID, a, nil, post))
	}
}
