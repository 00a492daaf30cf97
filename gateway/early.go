package gateway

// DTMF before the answer (option n, issue 12 gap 1). Real ARI sends
// ChannelDtmfReceived for a channel in Stasis that is not Up (early media:
// the caller's Dial D(::digits), an early-media IVR). Native ExternalIVR
// reads frames only while the channel is Up, so those digits wait in the
// channel's read queue and reach the script, in order, right after T has
// answered (measured on Asterisk 22.10.1, Local channels). The session
// holds them the same way and releases them when the channel becomes Up
// (T answered, or a ChannelStateChange to Up); a hang-up discards them.

// MaxEarlyDTMF is how many digits a session holds before the answer; a
// digit beyond it is dropped with a warning and counted
// (Gateway.EarlyDTMFDropped).
const MaxEarlyDTMF = 64

// holdDigit keeps a digit that arrived while the channel is not Up.
func (s *session) holdDigit(d byte) {
	limit := s.env.earlyLimit
	if limit <= 0 {
		limit = MaxEarlyDTMF
	}
	if len(s.early) >= limit {
		if s.env.earlyDropped != nil {
			s.env.earlyDropped.Add(1)
		}
		s.log.Warn("DTMF before the answer: too many digits held; digit dropped",
			"digit", string(d), "held", len(s.early), "limit", limit)
		s.digitNotSent(string(d), "too many held before the answer")
		return
	}
	s.early = append(s.early, d)
}

// releaseEarly delivers the held digits once the channel is Up, each as a
// digit from the caller would be (autoclear included).
func (s *session) releaseEarly() {
	held := s.early
	s.early = nil
	for i, d := range held {
		if !s.up || s.hungUp || s.out != nil {
			for _, d := range held[i:] {
				s.digitNotSent(string(d), "held before the answer; the session is ending")
			}
			return
		}
		s.deliverDigit(d)
	}
}

// discardEarly forgets the held digits (hang-up: native never reads them).
func (s *session) discardEarly() {
	for _, d := range s.early {
		s.digitNotSent(string(d), "held before the answer; hang-up")
	}
	s.early = nil
}

// digitNotSent logs, at Debug, a caller digit the client never gets (the
// soak test accounts every digit by these lines).
func (s *session) digitNotSent(digit, why string) {
	s.log.Debug("digit not sent", "digit", digit, "why", why, "up", s.up, "hung_up", s.hungUp)
}

// deliverDigit sends one caller digit to the client (§5) and applies
// autoclear after it (§7.3).
func (s *session) deliverDigit(d byte) {
	s.send(d, "")
	if s.autoclear {
		s.interrupt()
		s.kick()
	}
}
