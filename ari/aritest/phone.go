package aritest

import (
	"fmt"
	"strings"
	"time"
)

// Phone is a call between two endpoints that never enters Stasis, as a
// PBX's Dial() makes it: what a CTI application sees through endpoint
// (or channel, bridge) subscriptions. A is the calling leg, B the called
// one; Bridge is the bridge they talk in once answered.
type Phone struct {
	A, B, Bridge string
}

// PhoneOptions tunes PhoneCall.
type PhoneOptions struct {
	// CallerName is the calling party's name (default "Ping", as in the
	// published trace of ../shared/docs/cti.md).
	CallerName string
	// NoAnswer leaves B ringing: Answer later with PhoneAnswer.
	NoAnswer bool
}

// PhoneCall simulates a call from endpoint from ("PJSIP/1000") to
// endpoint to ("PJSIP/1002") outside Stasis, publishing the events of the
// published Asterisk trace (../shared/docs/cti.md) to the apps that see
// the channels (endpoint, channel and bridge subscriptions, subscribeAll):
//
//	A ChannelCreated (Ring)
//	A ChannelConnectedLine (name CallerName, number "")
//	B ChannelCreated (Down)                    stamped 2 ms after the next one...
//	A ChannelConnectedLine (number of B)       ...which is delivered after it
//	B ChannelConnectedLine
//	B ChannelStateChange Ringing
//	B Up, A Up                                 (the same millisecond)
//	A, B ChannelEnteredBridge
//
// so that delivery order is not timestamp order across channels and two
// events of one channel share a millisecond. Endpoints need not be
// registered (AddEndpoints) for the call, only for endpoint
// subscriptions.
func (s *Server) PhoneCall(from, to string, opt PhoneOptions) (Phone, error) {
	if opt.CallerName == "" {
		opt.CallerName = "Ping"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Phone{}, ErrClosed
	}
	t0 := s.ctiLocked().stamp(time.Now(), 7)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	a := s.phoneChannelLocked(from, "Ring", callerJSON{Name: opt.CallerName, Number: resource(from)})
	a.created = t0
	s.emitAtLocked(a, "ChannelCreated", ms(0), nil, nil)
	a.connected = callerJSON{Name: opt.CallerName}
	s.emitAtLocked(a, "ChannelConnectedLine", ms(1), nil, nil)
	b := s.phoneChannelLocked(to, "Down", callerJSON{Name: opt.CallerName, Number: resource(from)})
	b.created = ms(3)
	s.emitAtLocked(b, "ChannelCreated", ms(3), nil, nil)
	a.connected = callerJSON{Number: resource(to)}
	s.emitAtLocked(a, "ChannelConnectedLine", ms(1), nil, nil) // stamped before B's creation, delivered after it
	b.connected = callerJSON{Name: opt.CallerName, Number: resource(from)}
	s.emitAtLocked(b, "ChannelConnectedLine", ms(4), nil, nil)
	b.state = "Ringing"
	s.emitAtLocked(b, "ChannelStateChange", ms(5), nil, nil)
	p := Phone{A: a.id, B: b.id, Bridge: "phone-" + a.id}
	if !opt.NoAnswer {
		s.phoneAnswerLocked(p, ms(6))
	}
	return p, nil
}

// PhoneAnswer answers a call made with PhoneOptions.NoAnswer.
func (s *Server) PhoneAnswer(p Phone) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctiLocked().phones[p.A] == nil || s.ctiLocked().phones[p.B] == nil {
		return fmt.Errorf("%w: %s/%s", ErrNoChannel, p.A, p.B)
	}
	s.phoneAnswerLocked(p, s.ctiLocked().stamp(time.Now(), 1))
	return nil
}

func (s *Server) phoneAnswerLocked(p Phone, ts time.Time) {
	st := s.ctiLocked()
	a, b := st.phones[p.A], st.phones[p.B]
	b.state, a.state = "Up", "Up"
	s.emitAtLocked(b, "ChannelStateChange", ts, nil, nil)
	s.emitAtLocked(a, "ChannelStateChange", ts, nil, nil)
	br := st.bridges[p.Bridge]
	if br == nil {
		br = &bridge{id: p.Bridge, typ: "mixing", created: ts}
		st.bridges[br.id] = br
	}
	s.enterBridgeLocked(br, a, ts.Add(time.Millisecond))
	s.enterBridgeLocked(br, b, ts.Add(time.Millisecond))
}

// PhoneHold puts leg id on hold (the phone's hold key: ChannelHold with
// music class "default") or takes it off (ChannelUnhold).
func (s *Server) PhoneHold(id string, hold bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.ctiLocked().phones[id]
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNoChannel, id)
	}
	ts := s.ctiLocked().stamp(time.Now(), 0)
	if hold {
		s.emitAtLocked(c, "ChannelHold", ts, nil, []kv{{"musicclass", "default"}})
	} else {
		s.emitAtLocked(c, "ChannelUnhold", ts, nil, nil)
	}
	return nil
}

// PhoneTransfer: leg B of p transfers A (blind) to endpoint to. A new leg
// C rings and answers, B leaves the bridge, C enters it, B hangs up (cause
// 16). It returns the call as it is now (B = C).
func (s *Server) PhoneTransfer(p Phone, to string) (Phone, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.ctiLocked()
	a, b := st.phones[p.A], st.phones[p.B]
	if a == nil || b == nil {
		return p, fmt.Errorf("%w: %s/%s", ErrNoChannel, p.A, p.B)
	}
	t0 := st.stamp(time.Now(), 6)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	c := s.phoneChannelLocked(to, "Down", a.caller)
	c.created = t0
	s.emitAtLocked(c, "ChannelCreated", ms(0), nil, nil)
	c.connected = a.caller
	s.emitAtLocked(c, "ChannelConnectedLine", ms(1), nil, nil)
	c.state = "Ringing"
	s.emitAtLocked(c, "ChannelStateChange", ms(2), nil, nil)
	c.state = "Up"
	s.emitAtLocked(c, "ChannelStateChange", ms(3), nil, nil)
	if br := st.bridges[p.Bridge]; br != nil {
		s.leaveBridgeLocked(br, b, ms(4))
		s.enterBridgeLocked(br, c, ms(5))
	}
	s.phoneDestroyLocked(b, 16, ms(5))
	a.connected = callerJSON{Number: resource(to)}
	s.emitAtLocked(a, "ChannelConnectedLine", ms(6), nil, nil)
	p.B = c.id
	return p, nil
}

// PhoneHangup hangs up both legs of p (cause 16, Normal Clearing): each
// leaves the bridge, A then B, then each is destroyed, A then B, 1 ms
// apart (events of one channel in the same millisecond can only be told
// apart by their arrival, which a shuffled delivery loses).
func (s *Server) PhoneHangup(p Phone) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.ctiLocked()
	a, b := st.phones[p.A], st.phones[p.B]
	if a == nil && b == nil {
		return fmt.Errorf("%w: %s/%s", ErrNoChannel, p.A, p.B)
	}
	now := st.stamp(time.Now(), 3)
	for i, c := range []*channel{a, b} {
		if c != nil {
			s.leaveAllBridgesLocked(c, now.Add(time.Duration(i)*time.Millisecond))
			s.phoneDestroyLocked(c, 16, now.Add(time.Duration(2+i)*time.Millisecond))
		}
	}
	if br := st.bridges[p.Bridge]; br != nil && len(br.members) == 0 {
		delete(st.bridges, br.id)
	}
	return nil
}

func (s *Server) phoneChannelLocked(endpoint, state string, caller callerJSON) *channel {
	id := s.nextIDLocked()
	n := s.nameSeq
	s.nameSeq++
	c := s.newChannelLocked(id, fmt.Sprintf("%s-%08x", endpoint, n))
	c.state, c.caller, c.endpoint = state, caller, endpoint
	c.dp = dialplanJSON{Context: "from-internal", Exten: resource(endpoint), Priority: 1}
	s.ctiLocked().phones[id] = c
	return c
}

func (s *Server) phoneDestroyLocked(c *channel, cause int, ts time.Time) {
	s.emitAtLocked(c, "ChannelDestroyed", ts, nil, []kv{{"cause", cause}, {"cause_txt", causeText(cause)}})
	c.subApp = "" // told above; destroyLocked must not tell it again
	c.hangup = &hangupReq{cause: cause, eventCause: cause}
	delete(s.ctiLocked().phones, c.id)
	s.destroyLocked(c)
}

func resource(endpoint string) string {
	_, r, _ := strings.Cut(endpoint, "/")
	return r
}
