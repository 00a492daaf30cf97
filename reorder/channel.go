package reorder

import "github.com/eivr-gateway/eivr-gateway/ari"

// phase is where a channel stream is in its Stasis life.
type phase uint8

const (
	phasePre   phase = iota // no StasisStart yet: only kinds legal outside Stasis pass
	phaseIn                 // StasisStart delivered
	phaseEnded              // StasisEnd or ChannelDestroyed delivered: nothing more but a new StasisStart
)

// stage is how far a playback has got.
type stage uint8

const (
	stageNone stage = iota
	stageStarted
	stageContinuing
	stageFinished
)

const (
	dedupDepth    = 16 // fingerprints remembered per channel
	playbackSlots = 6  // playbacks remembered per channel
)

// warned flags: what was already logged for a channel.
const (
	warnedNoTimestamp uint8 = 1 << iota
	warnedOverflow
)

// verdict is what the rules say about an event at the head of its channel.
type verdict uint8

const (
	vDeliver verdict = iota
	vBlock           // a causal predecessor is missing: hold
	vStale           // ChannelStateChange older than the state already delivered
	vLate            // after the end of its channel or playback
	vDup             // the same event again
)

// entry is one event waiting in a channel queue. arr and due are clock
// times in nanoseconds since the Reorderer's epoch, eff and ord event
// timestamps in Unix nanoseconds.
type entry struct {
	ev   *ari.Event
	fp   uint64
	pbID uint64 // hash of the playback id, 0 for other kinds
	eff  int64  // the event's timestamp (or stand-in)
	ord  int64  // its place in the queue: eff, or less once moved ahead of its successor
	arr  int64
	due  int64
	held bool
}

type pbSlot struct {
	id     uint64 // hash of the playback id; 0 = free
	stage  stage
	newest int64  // timestamp of its newest event delivered
	lastFP uint64 // and that event's fingerprint
}

// chanState is everything remembered about one channel stream. Guarded by
// its shard's mutex.
type chanState struct {
	key       Key
	hash      uint64     // of key.ChannelID: its place in shard.chans
	next      *chanState // the next stream whose channel id has the same hash
	phase     phase
	warned    uint8
	fpNext    uint8
	hasState  bool
	stateRank int8
	pendIdx   int32 // index in shard.pending, -1 when the queue is empty
	stateTS   int64 // timestamp of the state last delivered (StasisStart or ChannelStateChange)
	lastEff   int64 // greatest ordering timestamp seen: stands in for a missing timestamp
	endTS     int64
	startFP   uint64
	startTS   int64
	endFP     uint64 // of the StasisEnd/ChannelDestroyed that ended the stay
	prevEndFP uint64 // of the previous stay's end (a re-entry), 0 if none
	pbFloor   int64  // newest event of any playback pushed out of pbs
	pbFloorFP uint64
	lastSeen  int64              // coarse clock at the last event, for idle expiry
	hwm       [numOrdered]int64  // newest timestamp delivered per single-thread kind
	hwmFP     [numOrdered]uint64 // and the fingerprint of that event
	fps       [dedupDepth]uint64
	pbs       *[playbackSlots]pbSlot // allocated at the channel's first playback
	q         *queue                 // the events waiting; nil while none does (taken from the shard's pool)
}

// queue holds the events waiting on one channel: buf[head:], sorted by
// ord, ties in arrival order (but rule 4's). Releasing the head moves head
// instead of shifting the entries behind it (they hold pointers: shifting
// them costs write barriers); an empty queue goes back to its shard's pool,
// so an idle channel keeps no queue.
type queue struct {
	buf  []entry
	head int
}

// live returns the waiting entries, head first; nil for no queue.
func (c *chanState) live() []entry {
	if c.q == nil {
		return nil
	}
	return c.q.buf[c.q.head:]
}

// qlen is the number of waiting events.
func (c *chanState) qlen() int {
	if c.q == nil {
		return 0
	}
	return len(c.q.buf) - c.q.head
}

// reset makes c a fresh state for recycling, keeping its playback slots
// allocation (cleared).
func (c *chanState) reset() {
	pbs := c.pbs
	if pbs != nil {
		*pbs = [playbackSlots]pbSlot{}
	}
	*c = chanState{pendIdx: -1, pbs: pbs}
}

func (c *chanState) seen(fp uint64) bool {
	for _, f := range c.fps {
		if f == fp {
			return true
		}
	}
	return false
}

// queued reports whether an event with fingerprint fp is waiting.
func (c *chanState) queued(fp uint64) bool {
	q := c.live()
	for i := range q {
		if q[i].fp == fp {
			return true
		}
	}
	return false
}

// remember records the fingerprint of a delivered event. Only delivered
// events go in: a stream of dropped copies must not push out the events
// they copy, and waiting ones are found in the queue.
func (c *chanState) remember(fp uint64) {
	c.fps[c.fpNext%dedupDepth] = fp
	c.fpNext++
}

// effective returns the ordering timestamp of ev: its own, or for an event
// without one the greatest seen so far, which puts it behind everything
// already queued (arrival order).
func (c *chanState) effective(ev *ari.Event) int64 {
	if ev.Timestamp.IsZero() {
		return c.lastEff
	}
	t := ev.Timestamp.UnixNano()
	if t > c.lastEff {
		c.lastEff = t
	}
	return t
}

// ordered maps the kinds that one Asterisk thread publishes (the channel's
// Stasis thread: DTMF, talk detection) to a slot of chanState.hwm; -1 for
// the others. One thread publishes them in timestamp order, so one older
// than the newest already delivered is a copy from a lagging source or a
// straggler that can no longer be put in its place. Playback events are
// ordered the same way, per playback (pbSlot.newest).
func ordered(k ari.Kind) int {
	switch k {
	case ari.KindChannelDtmfReceived:
		return 0
	case ari.KindChannelTalkingStarted:
		return 1
	case ari.KindChannelTalkingFinished:
		return 2
	}
	return -1
}

const numOrdered = 3

// needsStasis reports the kinds that exist only inside a Stasis
// application, so cannot legally come before StasisStart.
func needsStasis(k ari.Kind) bool {
	switch k {
	case ari.KindStasisEnd, ari.KindChannelDtmfReceived,
		ari.KindPlaybackStarted, ari.KindPlaybackContinuing, ari.KindPlaybackFinished,
		ari.KindChannelTalkingStarted, ari.KindChannelTalkingFinished:
		return true
	}
	return false
}

// stateRank orders channel states along a call's life; -1 for states
// without a place (Unknown, anything new).
func stateRank(s string) int8 {
	switch s {
	case "Down":
		return 0
	case "Rsrved":
		return 1
	case "OffHook":
		return 2
	case "Dialing", "Dialing Offhook":
		return 3
	case "Pre-ring":
		return 4
	case "Ring", "Ringing":
		return 5
	case "Busy":
		return 6
	case "Up":
		return 7
	}
	return -1
}

// stale reports a ChannelStateChange that would take the channel back: older
// than the state already delivered, or of the same millisecond and not
// further along (the same state again included). Without a timestamp only
// the rank can tell.
func (c *chanState) stale(ev *ari.Event, eff int64) bool {
	if !c.hasState {
		return false
	}
	r := stateRank(ev.Channel.State)
	known := r >= 0 && c.stateRank >= 0
	if ev.Timestamp.IsZero() {
		return known && r < c.stateRank
	}
	if eff != c.stateTS {
		return eff < c.stateTS
	}
	return known && r <= c.stateRank
}

func (c *chanState) setState(s string, eff int64) {
	c.hasState = true
	c.stateTS = eff
	c.stateRank = stateRank(s)
}

// slot returns the remembered playback with hashed id, or nil.
func (c *chanState) slot(id uint64) *pbSlot {
	if id == 0 || c.pbs == nil {
		return nil
	}
	for i := range c.pbs {
		if c.pbs[i].id == id {
			return &c.pbs[i]
		}
	}
	return nil
}

// freeSlot returns the slot to reuse for a new playback: an empty one,
// else the finished one with the oldest event, else the oldest. Playbacks
// on a channel run one at a time, so live ones are never pushed out by the
// Finished events of cancelled queued ones.
func (c *chanState) freeSlot() *pbSlot {
	if c.pbs == nil {
		c.pbs = new([playbackSlots]pbSlot)
		return &c.pbs[0]
	}
	var best *pbSlot
	for i := range c.pbs {
		p := &c.pbs[i]
		switch {
		case p.id == 0:
			return p
		case best == nil,
			(p.stage == stageFinished) != (best.stage == stageFinished) && p.stage == stageFinished,
			(p.stage == stageFinished) == (best.stage == stageFinished) && p.newest < best.newest:
			best = p
		}
	}
	if best.newest >= c.pbFloor {
		c.pbFloor, c.pbFloorFP = best.newest, best.lastFP
	}
	return best
}

// verdict applies the causal rules to ev, the head of the channel queue
// (or an event that would be, on the fast path). pb is ev's playback slot
// (nil if none or unknown).
func (c *chanState) verdict(ev *ari.Event, eff int64, fp uint64, pb *pbSlot) verdict {
	k := ev.Kind
	switch c.phase {
	case phaseEnded:
		if k == ari.KindStasisStart && eff >= c.endTS {
			if fp == c.startFP {
				return vDup
			}
			return vDeliver
		}
		return vLate
	case phasePre:
		if needsStasis(k) {
			return vBlock
		}
	}
	if i := ordered(k); i >= 0 && !ev.Timestamp.IsZero() {
		if eff < c.hwm[i] {
			return vLate
		}
		if eff == c.hwm[i] && fp == c.hwmFP[i] {
			return vDup
		}
	}
	st := stageNone
	if pb == nil && ev.Playback.PlaybackID() != "" && !ev.Timestamp.IsZero() &&
		(eff < c.pbFloor || eff == c.pbFloor && fp == c.pbFloorFP) {
		return vLate // older than playbacks already forgotten
	}
	if pb != nil {
		st = pb.stage
		if !ev.Timestamp.IsZero() {
			if eff < pb.newest {
				return vLate
			}
			if eff == pb.newest && fp == pb.lastFP {
				return vDup
			}
		}
	}
	switch k {
	case ari.KindStasisStart:
		if c.phase == phaseIn {
			if fp == c.startFP {
				return vDup // a copy that left the fingerprint ring
			}
			if !ev.Timestamp.IsZero() && eff < c.startTS {
				return vLate
			}
		}
	case ari.KindStasisEnd:
		if fp == c.prevEndFP {
			return vDup // a copy of the previous stay's end
		}
		if c.phase == phaseIn && !ev.Timestamp.IsZero() && eff < c.startTS {
			// Older than the StasisStart of this stay in the app: a
			// straggler (or a late copy) of an earlier stay's end, not
			// the end of this one.
			return vLate
		}
	case ari.KindChannelDestroyed:
		if c.phase == phaseIn {
			return vBlock // StasisEnd first (ari-14, ari-15a2)
		}
	case ari.KindChannelStateChange:
		if c.stale(ev, eff) {
			return vStale
		}
	case ari.KindPlaybackStarted, ari.KindPlaybackFinished:
		if st == stageFinished {
			return vLate
		}
	case ari.KindPlaybackContinuing:
		switch st {
		case stageNone:
			return vBlock
		case stageFinished:
			return vLate
		}
	}
	return vDeliver
}

// apply records the effect of delivering ev (or releasing it on a limit).
func (c *chanState) apply(ev *ari.Event, eff int64, fp uint64, pbID uint64) {
	if i := ordered(ev.Kind); i >= 0 && eff >= c.hwm[i] {
		c.hwm[i], c.hwmFP[i] = eff, fp
	}
	switch ev.Kind {
	case ari.KindStasisStart:
		c.phase = phaseIn
		c.startFP = fp
		c.startTS = eff
		if c.pbs != nil {
			*c.pbs = [playbackSlots]pbSlot{}
		}
		c.pbFloor, c.pbFloorFP = 0, 0
		if ev.Channel.State != "" && (!c.hasState || eff >= c.stateTS) {
			c.setState(ev.Channel.State, eff)
		}
	case ari.KindStasisEnd, ari.KindChannelDestroyed:
		c.phase = phaseEnded
		c.endTS, c.endFP = eff, fp
	case ari.KindChannelStateChange:
		if ev.Timestamp.IsZero() {
			eff = max(eff, c.stateTS)
		}
		c.setState(ev.Channel.State, eff)
	case ari.KindPlaybackStarted:
		c.setStage(pbID, stageStarted, eff, fp)
	case ari.KindPlaybackContinuing:
		c.setStage(pbID, stageContinuing, eff, fp)
	case ari.KindPlaybackFinished:
		c.setStage(pbID, stageFinished, eff, fp)
	}
}

func (c *chanState) setStage(id uint64, s stage, eff int64, fp uint64) {
	p := c.slot(id)
	if p == nil {
		p = c.freeSlot()
		*p = pbSlot{id: id}
	}
	if s > p.stage || s == stageStarted && p.stage != stageFinished {
		p.stage = s
	}
	if eff >= p.newest {
		p.newest, p.lastFP = eff, fp
	}
}

// insert queues e in timestamp order, after every entry with the same
// timestamp except the PlaybackFinished of its own playback (a Finished is
// the last event of its playback), and returns its index. c.q is not nil.
func (c *chanState) insert(e entry) int {
	qu := c.q
	if len(qu.buf) == cap(qu.buf) && qu.head > 0 {
		// Reuse the room the released entries left rather than grow.
		n := copy(qu.buf, qu.buf[qu.head:])
		clear(qu.buf[n:])
		qu.buf, qu.head = qu.buf[:n], 0
	}
	q := qu.buf[qu.head:]
	i := len(q)
	for i > 0 && q[i-1].ord > e.ord {
		i--
	}
	for k := i - 1; k >= 0 && q[k].ord == e.ord; k-- {
		if finishes(q[k], e) {
			i = k
		}
	}
	qu.buf = append(qu.buf, entry{})
	q = qu.buf[qu.head:]
	if i < len(q)-1 {
		copy(q[i+1:], q[i:])
	}
	q[i] = e
	return i
}

// finishes reports whether a is the Finished of b's playback (b not).
func finishes(a, b entry) bool {
	return a.pbID != 0 && a.pbID == b.pbID &&
		a.ev.Kind == ari.KindPlaybackFinished && b.ev.Kind != ari.KindPlaybackFinished
}

// pop removes the head of a non-empty queue and returns it.
func (c *chanState) pop() entry {
	qu := c.q
	e := qu.buf[qu.head]
	qu.buf[qu.head] = entry{}
	if qu.head++; qu.head == len(qu.buf) {
		qu.buf, qu.head = qu.buf[:0], 0
	}
	return e
}

// findPred returns the index (> 0) of a queued event the blocked head
// waits for, or -1.
func (c *chanState) findPred() int {
	q := c.live()
	head := q[0].ev
	var want ari.Kind
	switch {
	case c.phase == phasePre && needsStasis(head.Kind):
		want = ari.KindStasisStart
	case head.Kind == ari.KindChannelDestroyed:
		want = ari.KindStasisEnd
	case head.Kind == ari.KindPlaybackContinuing:
		want = ari.KindPlaybackStarted
	default:
		return -1
	}
	for j := 1; j < len(q); j++ {
		e := &q[j]
		if e.ev.Kind != want {
			continue
		}
		// A Started only helps a Continuing of its playback it precedes:
		// a later one (the next item of a media list) is no predecessor.
		if want != ari.KindPlaybackStarted || e.pbID == q[0].pbID && e.eff <= q[0].eff {
			return j
		}
	}
	return -1
}

// moveFront makes entry j the head. It takes the head's place in the
// order if that is earlier, so the queue stays sorted.
func (c *chanState) moveFront(j int) {
	q := c.live()
	e := q[j]
	copy(q[1:j+1], q[:j])
	e.ord = min(e.ord, q[1].ord)
	q[0] = e
}

// deadline is when the head of a non-empty queue may next move.
func (c *chanState) deadline(now, holdLimit int64) int64 {
	h := &c.q.buf[c.q.head]
	if h.due > now {
		return h.due
	}
	if h.held {
		return h.arr + holdLimit
	}
	return now
}
