package gateway

import (
	"context"
	"time"
)

// Pending channel operations (V sets, D, T) are bounded per session: a
// client that floods V must not grow the gateway's memory or its REST
// traffic without bound (issue 13 item 1). The control lane holds at most
// maxPending calls (queued plus the running one); when a command reaches
// the bound the reader is not acked, so the client's next write blocks in
// its own pipe (back-pressure, as for every other command) until the lane
// has drained below the bound.
//
// Sets of one name that are still queued are coalesced: the queued call
// takes the newest value (the dialplan sees the last value written, as
// native's synchronous V). A flood of one name thus stays O(1).

// pendingSet is one queued V item. The loop may update value and seq until
// the call starts (start removes it from session.queuedSets); the call's
// goroutine then reads it alone.
type pendingSet struct {
	name, value string
	seq         uint64
}

// ctlPending is the number of control-lane calls queued or running.
func (s *session) ctlPending() int {
	n := len(s.ctl.q)
	if s.ctl.busy {
		n++
	}
	return n
}

// pushCtl queues a call on the control lane and throttles the reader when
// the bound is reached.
func (s *session) pushCtl(op laneOp) {
	s.push(&s.ctl, op)
	s.ctlPeak = max(s.ctlPeak, s.ctlPending())
	if limit := s.env.maxPending; limit > 0 && !s.throttled && s.ctlPending() >= limit {
		s.throttled = true
		s.log.Debug("pending channel operations at the bound; the client is throttled", "pending", s.ctlPending())
	}
}

// ctlDone runs on the loop after a control-lane call completed: below the
// bound the reader may go on.
func (s *session) ctlDone() {
	if s.throttled && s.ctlPending() < s.env.maxPending {
		s.throttled = false
		s.resume()
	}
}

// queueSet queues one V item, coalescing it with a queued set of the same
// name.
func (s *session) queueSet(name, value string, seq uint64) {
	if p := s.queuedSets[name]; p != nil {
		p.value, p.seq = value, seq
		return
	}
	p := &pendingSet{name: name, value: value, seq: seq}
	if s.queuedSets == nil {
		s.queuedSets = make(map[string]*pendingSet)
	}
	s.queuedSets[name] = p
	s.pushCtl(laneOp{
		start: func() {
			if s.queuedSets[p.name] == p {
				delete(s.queuedSets, p.name)
			}
		},
		do: func(ctx context.Context) error { return s.env.ops.SetVariable(ctx, s.ch, p.name, p.value) },
		done: func(err error) {
			if err != nil {
				s.setsFailed++
				s.log.Warn("set variable failed", "variable", p.name, "err", err)
			}
			if v, ok := s.overlay[p.name]; ok && v.seq == p.seq {
				delete(s.overlay, p.name)
			}
		},
	})
}

// flush waits until the control lane is idle so that the dialplan and the
// h extension see every V set before E/H (native V is synchronous). The
// wait is bounded by progress: it gives up when no call completed for
// flushTimeout (Asterisk holds a set behind a playing file, which the end
// sequence has stopped already), and in any case after flushLimit. Sets
// that still did not land, and sets that failed during the session, are
// counted and logged.
func (s *session) flush() {
	defer s.reportLostSets()
	if s.ctl.idle() {
		return
	}
	stall := time.NewTimer(s.env.flushTimeout)
	defer stall.Stop()
	limit := time.NewTimer(s.env.flushLimit())
	defer limit.Stop()
	for !s.ctl.idle() {
		select {
		case f := <-s.results:
			f()
			stall.Reset(s.env.flushTimeout) // Go ≥ 1.23: no stale tick after Reset
		case ev := <-s.events:
			s.noteEnd(ev)
		case <-stall.C:
			s.abandonPending("no progress for " + s.env.flushTimeout.String())
			return
		case <-limit.C:
			s.abandonPending("flush limit " + s.env.flushLimit().String() + " reached")
			return
		}
	}
}

// abandonPending counts the control-lane calls still queued or running.
func (s *session) abandonPending(why string) {
	n := s.ctlPending()
	s.setsLost += n
	s.log.Warn("pending channel operations did not finish in time; the dialplan may miss variables",
		"pending", n, "why", why)
}

// reportLostSets logs (once) how many V sets the dialplan will not see and
// adds them to the gateway's counter.
func (s *session) reportLostSets() {
	n := s.setsFailed + s.setsLost
	if n == 0 {
		return
	}
	if s.env.stats != nil {
		s.env.stats.varsLost.Add(uint64(n))
	}
	s.log.Warn("variable sets the dialplan will not see", "failed", s.setsFailed, "abandoned", s.setsLost)
}

// flushLimit is the hard bound of the end-of-session wait for pending sets.
func (e *sessionEnv) flushLimit() time.Duration {
	if e.flushMax > 0 {
		return e.flushMax
	}
	return 10 * e.flushTimeout
}
