package gateway

import "github.com/eivr-gateway/eivr-gateway/ari"

// What G can answer when Asterisk cannot (issue 12 gaps 2 and 4).
// Measured on Asterisk 22.10.1:
//
//   - After the far end hangs up, a channel with no h extension (or one
//     that ends at once) is destroyed before the session can ask: GET
//     variable gets 404 already at ChannelHangupRequest, and POST
//     variable (V) gets 404 or 409. Native keeps the channel until
//     ExternalIVR returns, so its G still reads PRESET (set by the
//     dialplan) and AFTER (set by V after the hang-up).
//   - POST variable stores a value that is not UTF-8 byte for byte (the
//     gateway sends it %-encoded in the query), but GET variable answers
//     it with 500 "Allocation failed" (Asterisk's JSON refuses it), and
//     the channelvars of the snapshots leave it out.
//
// So a session remembers, per variable name, the last value it wrote with
// V (mine: it is what the script set, and native sets a plain variable
// without fail), the last value G read, and the channelvars (ari.conf) of
// every snapshot of its channel. G asks Asterisk first; when Asterisk
// cannot answer (channel gone, value it cannot encode) the remembered
// value is the reply, and so is a value of the script's own when Asterisk
// says the variable is not set (its set failed).

// maxKnown bounds the names a session remembers; later names are not
// remembered (G then answers them as Asterisk does).
const maxKnown = 256

type knownValue struct {
	value string
	mine  bool // written by the session's V
}

// remember records a value of name. A value of the script's own is only
// replaced by another of its own.
func (s *session) remember(name, value string, mine bool) {
	if cur, ok := s.known[name]; ok {
		if cur.mine && !mine {
			return
		}
	} else if len(s.known) >= maxKnown {
		return
	}
	if s.known == nil {
		s.known = make(map[string]knownValue)
	}
	s.known[name] = knownValue{value: value, mine: mine}
}

// noteSnapshot takes the channelvars of a snapshot of the session's channel.
func (s *session) noteSnapshot(ch *ari.Channel) {
	if ch.ID != s.ch {
		return
	}
	for k, v := range ch.ChannelVars {
		s.remember(k, v, false)
	}
}

// recall is the reply for name when GET failed with err: the remembered
// value if Asterisk could not answer, or the script's own value if
// Asterisk says it is not set.
func (s *session) recall(name string, err error) (string, bool) {
	k, ok := s.known[name]
	if !ok || (isVariableNotSet(err) && !k.mine) {
		return "", false
	}
	return k.value, true
}
