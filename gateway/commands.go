package gateway

import (
	"context"
	"strings"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/eivr"
)

// cmdHandler executes one command on the session loop.
type cmdHandler func(s *session, c eivr.Command)

// commandTable is the gateway's one command table, keyed by the eivr
// command letter (eivr.Lookup has the protocol's row of each: Up-guard,
// end of session): what the session does for it. A letter with no row is
// handled by noRoute. Adding a letter: its row in eivr's table and its row
// here. It is never written.
var commandTable = [...]cmdHandler{
	eivr.CmdPlay:      func(s *session, c eivr.Command) { s.cmdPlay(c.File(), true) },
	eivr.CmdAppend:    func(s *session, c eivr.Command) { s.cmdPlay(c.File(), false) },
	eivr.CmdInterrupt: func(s *session, _ eivr.Command) { s.interrupt(); s.kick() },
	eivr.CmdOption:    (*session).cmdOption,
	eivr.CmdAnswer:    func(s *session, _ eivr.Command) { s.cmdAnswer() },
	eivr.CmdSetVars:   func(s *session, c eivr.Command) { s.cmdSet(c.Param) },
	eivr.CmdGetVars:   func(s *session, c eivr.Command) { s.cmdGet(c.Param) },
	eivr.CmdParams:    func(s *session, _ eivr.Command) { s.send(eivr.TagParams, s.app.preply) },
	eivr.CmdLog:       func(s *session, c eivr.Command) { s.log.Info("Log message from EIVR", "text", c.Message()) },
	eivr.CmdExit:      (*session).cmdExit,
	eivr.CmdExitQuiet: (*session).cmdExitQuiet,
	eivr.CmdHangup:    (*session).cmdHangup,
	eivr.CmdSendDTMF:  func(s *session, c eivr.Command) { s.cmdDTMF(c.Param) },
}

// route returns the handler of letter, noRoute when it has none.
func route(letter byte) cmdHandler {
	if int(letter) < len(commandTable) && commandTable[letter] != nil {
		return commandTable[letter]
	}
	return (*session).noRoute
}

// onCommand executes one client command (eivr-protocol.md §6). Framing
// (trim, 3-byte minimum) was done by the reader.
func (s *session) onCommand(c eivr.Command) {
	if s.env.trace {
		s.log.Debug("command", "cmd", string(c.Letter), "param", string(c.Param))
	}
	if o := s.env.obs; o != nil {
		o.SessionLine(WireLine{Channel: s.ch, Session: s.id, Line: c.String(), At: time.Now()})
	}
	if c.UpGuarded() && (!s.up || s.hungUp) {
		// Up-guard (§6): bare Z, nothing else.
		s.log.Warn("command called on unanswered channel", "cmd", string(c.Letter))
		s.send(eivr.TagError, "")
		return
	}
	route(c.Letter)(s, c)
}

// noRoute is every letter Asterisk does not execute: ignored without a
// reply, as native (§4.2, §10 Q7).
func (s *session) noRoute(c eivr.Command) {
	s.log.Debug("unknown command letter ignored, as ExternalIVR does", "cmd", string([]byte{c.Letter}))
}

// cmdOption is O (§6): autoclear on or off; anything else is only logged.
func (s *session) cmdOption(c eivr.Command) {
	if on, ok := eivr.Autoclear(c.Param); ok {
		s.autoclear = on
	} else {
		s.log.Warn("Unknown option requested", "cmd", "O", "option", string(c.Param))
	}
}

// cmdExit is E: E back, the dialplan continues.
func (s *session) cmdExit(c eivr.Command) {
	s.log.Info("Exiting", "text", c.Message())
	s.send(eivr.TagExit, "")
	s.end(outcome{action: endContinue, cause: ErrClientExit})
}

// cmdExitQuiet is X: E without the event (deprecated).
func (s *session) cmdExitQuiet(c eivr.Command) {
	s.log.Info("Exiting", "text", c.Message())
	s.log.Warn("the X command is deprecated; use E")
	s.end(outcome{action: endContinue, cause: ErrClientExit})
}

// cmdHangup is H: H back, the channel is hung up.
func (s *session) cmdHangup(c eivr.Command) {
	s.log.Info("Hanging up", "text", c.Message())
	s.send(eivr.TagHangup, "")
	s.end(outcome{action: endHangup, cause: ErrClientHangup})
}

// cmdPlay is S (replace) and A (append), after the existence check of
// §7.6: a missing file is Z,<ts>,<name> and leaves the playlist alone.
func (s *session) cmdPlay(name string, replace bool) {
	apply := func(ok bool) {
		if !ok {
			s.send('Z', name)
			return
		}
		if !s.up || s.hungUp || s.out != nil {
			return // the channel went away while we looked
		}
		if replace {
			s.interrupt()
		}
		s.pl.add(name)
		s.kick()
	}
	if ok, known := s.env.sounds.cached(name, s.lang); known {
		apply(ok)
		return
	}
	// Cache miss: look it up off the loop; the next command waits.
	s.pause()
	lang := s.lang
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ok := s.env.sounds.check(s.opsCtx, name, lang)
		s.post(func() {
			apply(ok)
			s.unpause()
		})
	}()
}

// cmdAnswer is T (§6, §6.1 of ari-mapping.md).
func (s *session) cmdAnswer() {
	if s.up {
		if s.pl.start() {
			s.kick()
		}
		return
	}
	if s.app.runDead {
		s.send('Z', "ANSWER_FAILURE")
		return
	}
	s.pause()
	s.pushCtl(laneOp{
		do: func(ctx context.Context) error { return s.env.ops.Answer(ctx, s.ch) },
		done: func(err error) {
			defer s.unpause()
			if err != nil {
				s.log.Warn("answer failed", "err", err)
				s.send('Z', "ANSWER_FAILURE")
				return
			}
			s.up = true // the state event may come later (ari-12)
			s.pl.start()
			s.kick()
			s.releaseEarly() // digits held before the answer (early.go)
		},
	})
}

// cmdSet is V (§6.2): every item set in order on the control lane; the
// overlay answers G until Asterisk has confirmed the set.
func (s *session) cmdSet(param []byte) {
	for v, err := range eivr.SetVars(param) {
		if err != nil {
			s.log.Warn("V item ignored", "cmd", "V", "err", err)
			continue
		}
		name, value := v.Name, v.Value
		s.setSeq++
		seq := s.setSeq
		if readable(name) { // G never reads functions or built-ins back (Q13)
			if s.overlay == nil {
				s.overlay = make(map[string]overlayValue)
			}
			s.overlay[name] = overlayValue{value: value, seq: seq}
			s.remember(name, value, true) // G after a hang-up, or of bytes Asterisk cannot encode (known.go)
		}
		if name == "CHANNEL(language)" {
			s.lang = value // the existence check follows the new language
		}
		s.queueSet(name, value, seq)
	}
}

// cmdGet is G (§6.1): plain variables only, the overlay first, then one
// GET per name off the loop; the next command waits for the reply.
func (s *session) cmdGet(param []byte) {
	var names []string
	for n := range eivr.GetNames(param) {
		names = append(names, n)
	}
	values := make([]string, len(names))
	var need []int
	for i, n := range names {
		if v, ok := s.overlay[n]; ok {
			values[i] = v.value
			continue
		}
		if readable(n) {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		s.sendG(names, values)
		return
	}
	s.pause()
	ch := s.ch
	s.wg.Add(1)
	errs := make([]error, len(names))
	go func() {
		defer s.wg.Done()
		for _, i := range need {
			v, err := s.env.ops.GetVariable(s.opsCtx, ch, names[i])
			if err != nil && !isVariableNotSet(err) {
				s.log.Debug("get variable failed", "variable", names[i], "err", err)
			}
			values[i], errs[i] = v, err
		}
		s.post(func() {
			for _, i := range need {
				if errs[i] == nil {
					s.remember(names[i], values[i], false)
				} else if v, ok := s.recall(names[i], errs[i]); ok {
					s.log.Debug("G answered from the session's memory", "variable", names[i], "err", errs[i])
					values[i] = v
				}
			}
			s.sendG(names, values)
			s.unpause()
		})
	}()
}

// sendG sends the reply to G, built as native builds it (eivr.GetReply).
func (s *session) sendG(names, values []string) {
	var g eivr.GetReply
	for i, n := range names {
		g.Add(n, values[i])
	}
	s.send(eivr.TagVars, g.String())
}

// readable reports whether G may ask Asterisk for name. Native G reads
// plain variables only (Q13): functions and the built-in pseudo-variables
// that ARI would evaluate come back empty.
func readable(name string) bool {
	if name == "" || strings.HasSuffix(name, ")") {
		return false
	}
	return !builtin(name)
}

// builtin reports the names Asterisk's pbx_retrieve_variable computes
// instead of reading a channel variable; native G returns them empty.
func builtin(name string) bool {
	switch name {
	case "CALLERID", "CALLERIDNUM", "CALLERIDNAME", "CALLERANI",
		"CALLINGPRES", "CALLINGANI2", "CALLINGTON", "CALLINGTNS",
		"DNID", "HINT", "HINTNAME", "EXTEN", "RDNIS",
		"CONTEXT", "PRIORITY", "CHANNEL", "UNIQUEID",
		"HANGUPCAUSE", "EPOCH", "SYSTEMNAME", "ENTITYID",
		"ASTETCDIR", "ASTMODDIR", "ASTVARLIBDIR", "ASTDBDIR",
		"ASTKEYDIR", "ASTDATADIR", "ASTAGIDIR", "ASTSPOOLDIR",
		"ASTRUNDIR", "ASTLOGDIR", "ASTSBINDIR", "ASTCACHEDIR":
		return true
	}
	return false
}

// cmdDTMF is D (§6.3): send DTMF to the caller. ARI queues it behind the
// playing file (ari-mapping.md §4); an empty digit string sends nothing.
func (s *session) cmdDTMF(param []byte) {
	digits, between, duration := eivr.DTMFArgs(param)
	if digits == "" {
		return
	}
	opt := ari.DTMFOptions{Between: between, Duration: duration}
	s.pushCtl(laneOp{
		do: func(ctx context.Context) error { return s.env.ops.SendDTMF(ctx, s.ch, digits, opt) },
		done: func(err error) {
			if err != nil {
				s.log.Warn("send DTMF failed", "err", err)
			}
		},
	})
}
