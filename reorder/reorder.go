package reorder

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// Key names one channel stream: a channel as one Stasis application of one
// Asterisk sees it. Events that name no channel (and playbacks on bridges)
// are delivered under a Key with an empty ChannelID.
type Key struct{ AsteriskID, App, ChannelID string }

// Sink receives the reordered streams. Deliver is called in causal order
// per Key, never concurrently for one Key, possibly concurrently for
// different Keys, from inside Push or Tick with no lock of the Reorderer
// held (so it may call Push or Stats). It should return quickly: while it
// runs, the other events of its shard wait (hand the event to a bounded
// queue and return). ev is read-only from then on and may be kept.
type Sink interface {
	Deliver(key Key, ev *ari.Event)
}

// Stats counts what the Reorderer did since New. Every pushed event ends up
// in exactly one of Delivered, Filtered, Stale, Duplicate and LateDropped,
// or is still waiting (Pending); the other counters say what happened on
// the way.
type Stats struct {
	Delivered    uint64 // handed to the Sink (Passthrough included)
	Passthrough  uint64 // delivered at once: no channel, or a bridge playback
	Filtered     uint64 // of a kind the consumer did not ask for
	Reordered    uint64 // overtook an event that arrived before it
	Held         uint64 // waited for a missing causal predecessor
	HoldReleased uint64 // held, then released when HoldLimit expired
	Stale        uint64 // ChannelStateChange that would go backwards
	Duplicate    uint64 // the same event again (another source)
	LateDropped  uint64 // after its channel's StasisEnd/ChannelDestroyed, or its playback's Finished
	Overflow     uint64 // released early because the channel queue was full
	Expired      uint64 // channels forgotten after IdleTimeout without an event
	NoTimestamp  uint64 // events without a usable timestamp (ordered by arrival)
	Channels     int    // channel streams tracked now
	Pending      int    // events waiting now
}

// Reorderer turns events pushed by one or more sources into per-channel
// streams in causal order. See the package documentation.
type Reorderer struct {
	sink       Sink
	clock      Clock
	log        *slog.Logger
	seed       maphash.Seed
	epoch      time.Time
	windows    [256]int64
	want       [256]bool
	track      [256]bool
	holdLimit  int64
	queueLimit int
	idle       int64
	resolution time.Duration
	shards     []shard
	mask       uint64

	coarse     atomic.Int64 // clock at the last Tick (ns since epoch), for idle bookkeeping
	sleepUntil atomic.Int64 // when Run wakes next; MaxInt64 while it is ticking
	wake       chan struct{}
	running    atomic.Bool
	filtered   atomic.Uint64
}

// ErrRunning is returned by Run when another Run is active.
var ErrRunning = errors.New("reorder: Run is already running")

type shard struct {
	mu sync.Mutex
	// outbox collects, in release order, what leaves the shard under mu
	// (events for the Sink, log lines); the one goroutine holding the
	// delivery token (token) hands it over with mu released. spare is
	// the other buffer of the pair, so that the steady state allocates
	// nothing; only the token holder touches it.
	outbox []outItem
	spare  []outItem
	token  atomic.Int32 // tokenFree, tokenHeld or tokenMore
	// chans finds a channel stream by the hash of its channel id (the one
	// that picked the shard, so a Push hashes one string): the streams of
	// one channel id in several applications or Asterisks are chained by
	// chanState.next.
	chans     map[uint64]*chanState
	nchans    int // streams in chans
	ended     *simplelru.LRU[Key, endMark]
	pending   []*chanState
	free      []*chanState
	queues    []*queue // empty queues for the channels that need one
	lastSweep int64
	st        counters
	_         [64]byte // keep shards on separate cache lines
}

// outItem is one entry of a shard's outbox: an event for the Sink, or
// (note != 0) a log line about key with its fields.
type outItem struct {
	key  Key
	ev   *ari.Event
	note note
	kind ari.Kind
	typ  string
	n    int64
}

// note says which log line an outItem is.
type note uint8

const (
	noteNone      note = iota
	noteNoTS           // n = source, typ = ev.Type
	noteOverflow       // n = queue limit, kind
	noteHoldLimit      // kind (Debug)
	noteExpired        // n = idle ns
)

// endMark is what is remembered of an ended channel.
type endMark struct {
	endTS   int64  // timestamp of its StasisEnd/ChannelDestroyed
	endFP   uint64 // and its fingerprint: a copy of it must not end a later stay
	startFP uint64 // fingerprint of its last StasisStart, to tell a duplicate from a re-entry
}

type counters struct {
	delivered, passthrough, filtered, reordered, held, holdReleased,
	stale, duplicate, late, overflow, expired, noTS uint64
}

const (
	maxFree      = 64  // recycled channel states per shard
	maxQueues    = 16  // recycled empty queues per shard
	maxQueueKeep = 128 // entries a recycled queue may hold (QueueLimit 64 grows it to 128)
)

// takeQueue returns an empty queue for a channel that needs one.
func (sh *shard) takeQueue() *queue {
	if n := len(sh.queues); n > 0 {
		q := sh.queues[n-1]
		sh.queues[n-1] = nil
		sh.queues = sh.queues[:n-1]
		return q
	}
	return &queue{}
}

// putQueue takes c's queue, if it has one, back into the pool: an idle
// channel keeps none. Waiting entries are dropped (forget).
func (sh *shard) putQueue(c *chanState) {
	q := c.q
	if q == nil {
		return
	}
	c.q = nil
	if len(sh.queues) >= maxQueues || cap(q.buf) > maxQueueKeep {
		return
	}
	clear(q.buf)
	q.buf, q.head = q.buf[:0], 0
	sh.queues = append(sh.queues, q)
}

// New returns a Reorderer delivering to sink. Windows, hold limits and idle
// expiry need Run (or calls to Tick); with every window 0 and nothing held,
// Push delivers by itself.
func New(cfg Config, sink Sink) *Reorderer {
	r := &Reorderer{
		sink:       sink,
		clock:      cfg.Clock,
		log:        cfg.Logger,
		seed:       maphash.MakeSeed(),
		holdLimit:  int64(cfg.HoldLimit),
		queueLimit: cfg.QueueLimit,
		idle:       int64(cfg.IdleTimeout),
		resolution: cfg.Resolution,
		wake:       make(chan struct{}, 1),
	}
	if r.sink == nil {
		r.sink = discard{}
	}
	if r.clock == nil {
		r.clock = systemClock{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.holdLimit <= 0 {
		r.holdLimit = int64(DefaultHoldLimit)
	}
	if r.queueLimit <= 0 {
		r.queueLimit = DefaultQueueLimit
	}
	if r.idle <= 0 {
		r.idle = int64(DefaultIdleTimeout)
	}
	if r.resolution <= 0 {
		r.resolution = DefaultResolution
	}
	windows := cfg.Windows
	if windows == nil {
		windows = DefaultWindows()
	}
	for k, w := range windows {
		if w > 0 {
			r.windows[k] = int64(w)
		}
	}
	if cfg.Kinds == nil {
		for k := range r.want {
			r.want[k] = true
		}
	}
	for _, k := range cfg.Kinds {
		r.want[k] = true
	}
	for k := range r.track {
		r.track[k] = r.want[k]
	}
	r.track[ari.KindStasisStart] = true
	r.track[ari.KindStasisEnd] = true
	r.track[ari.KindChannelDestroyed] = true
	if r.want[ari.KindPlaybackStarted] || r.want[ari.KindPlaybackContinuing] || r.want[ari.KindPlaybackFinished] {
		r.track[ari.KindPlaybackStarted] = true
		r.track[ari.KindPlaybackContinuing] = true
		r.track[ari.KindPlaybackFinished] = true
	}
	n := 1
	for n < cfg.Shards || cfg.Shards <= 0 && n < DefaultShards {
		n <<= 1
	}
	endedSize := cfg.EndedSize
	if endedSize <= 0 {
		endedSize = DefaultEndedSize
	}
	r.shards = make([]shard, n)
	r.mask = uint64(n - 1)
	for i := range r.shards {
		sh := &r.shards[i]
		sh.chans = make(map[uint64]*chanState)
		sh.ended, _ = simplelru.NewLRU[Key, endMark](max(1, endedSize/n), nil)
	}
	r.epoch = r.clock.Now()
	r.sleepUntil.Store(math.MaxInt64)
	return r
}

type discard struct{}

func (discard) Deliver(Key, *ari.Event) {}

func (r *Reorderer) now() int64 { return int64(r.clock.Now().Sub(r.epoch)) }

// route returns the stream an event belongs to; false for events that name
// no channel, which pass through.
func route(ev *ari.Event) (Key, bool) {
	key := Key{AsteriskID: ev.AsteriskID, App: ev.Application}
	switch ev.Kind {
	case ari.KindPlaybackStarted, ari.KindPlaybackContinuing, ari.KindPlaybackFinished:
		id, ok := strings.CutPrefix(ev.Playback.PlaybackTarget(), "channel:")
		if !ok {
			return key, false // bridge:<id>, or none
		}
		key.ChannelID = id
	case ari.KindDial:
		key.ChannelID = ev.Peer.ChannelID()
	default:
		key.ChannelID = ev.Channel.ID
	}
	return key, key.ChannelID != ""
}

func (r *Reorderer) playbackID(ev *ari.Event) uint64 {
	switch ev.Kind {
	case ari.KindPlaybackStarted, ari.KindPlaybackContinuing, ari.KindPlaybackFinished:
		return maphash.String(r.seed, ev.Playback.PlaybackID()) | 1
	}
	return 0
}

// Push hands the Reorderer one event from source (a number that only
// appears in logs). It is safe for concurrent use by several sources.
// Events of one channel from one source must be pushed in the order that
// source received them. With a window of 0 for ev's kind, nothing queued on
// its channel and its predecessors delivered, Deliver runs inside Push (or
// inside the Push or Tick delivering on its shard at that moment).
// The Reorderer owns ev from now on; ev == nil is ignored.
func (r *Reorderer) Push(source int, ev *ari.Event) {
	if ev == nil {
		return
	}
	k := ev.Kind
	if !r.track[k] {
		r.filtered.Add(1)
		return
	}
	key, ok := route(ev)
	h := maphash.String(r.seed, key.ChannelID)
	sh := &r.shards[h&r.mask]
	sh.mu.Lock()
	r.push(sh, source, key, h, ok, ev)
	r.flush(sh)
}

// lookup returns the stream of key, whose channel id hashes to h, or nil.
func (sh *shard) lookup(key Key, h uint64) *chanState {
	for c := sh.chans[h]; c != nil; c = c.next {
		if c.key == key {
			return c
		}
	}
	return nil
}

// push is Push on sh, locked; h is the hash of key.ChannelID.
func (r *Reorderer) push(sh *shard, source int, key Key, h uint64, ok bool, ev *ari.Event) {
	k := ev.Kind
	if !ok {
		if r.want[k] {
			sh.st.passthrough++
		}
		r.deliver(sh, key, ev)
		return
	}
	c := sh.lookup(key, h)
	fp := fingerprint(r.seed, ev) | 1
	if c == nil {
		if c = r.open(sh, key, h, ev, fp); c == nil {
			return
		}
	}
	if c.seen(fp) || c.queued(fp) {
		sh.st.duplicate++
		return
	}
	if ev.Timestamp.IsZero() {
		r.noTimestamp(sh, c, source, ev)
	}
	eff := c.effective(ev)
	pbID := r.playbackID(ev)
	c.lastSeen = r.coarse.Load()
	w := r.windows[k]
	if w == 0 && c.q == nil {
		// The fast path: nothing to wait for.
		switch v := c.verdict(ev, eff, fp, c.slot(pbID)); v {
		case vDeliver:
			r.release(sh, c, ev, eff, fp, pbID)
			if c.phase == phaseEnded {
				r.close(sh, c)
			}
			return
		case vBlock:
		default:
			sh.count(v)
			return
		}
	}
	now := r.now()
	if c.q == nil {
		c.q = sh.takeQueue()
	}
	if i := c.insert(entry{ev: ev, fp: fp, pbID: pbID, eff: eff, ord: eff, arr: now, due: now + w}); i < c.qlen()-1 {
		sh.st.reordered++
	}
	for c.qlen() > r.queueLimit {
		sh.st.overflow++
		if c.warned&warnedOverflow == 0 {
			c.warned |= warnedOverflow
			sh.outbox = append(sh.outbox, outItem{key: c.key, note: noteOverflow, kind: ev.Kind, n: int64(r.queueLimit)})
		}
		r.step(sh, c, now, true)
	}
	r.drain(sh, c, now)
	r.settle(sh, c, now)
}

// open starts tracking key, unless it ended and ev is not a new entry.
func (r *Reorderer) open(sh *shard, key Key, h uint64, ev *ari.Event, fp uint64) *chanState {
	var prev endMark // of the channel's previous stay, if it had one
	if m, ok := sh.ended.Peek(key); ok {
		prev = m
		if ev.Kind == ari.KindStasisStart && fp == m.startFP {
			sh.st.duplicate++
			return nil
		}
		if ev.Kind != ari.KindStasisStart || !ev.Timestamp.IsZero() && ev.Timestamp.UnixNano() < m.endTS {
			sh.st.late++
			return nil
		}
		sh.ended.Remove(key)
	}
	var c *chanState
	if n := len(sh.free); n > 0 {
		c = sh.free[n-1]
		sh.free = sh.free[:n-1]
	} else {
		c = &chanState{pendIdx: -1}
	}
	c.key = cloneKey(key)
	// A re-entry: what had no timestamp of its own goes behind the
	// previous stay's end, and a copy of that end is a duplicate.
	c.lastEff, c.prevEndFP = prev.endTS, prev.endFP
	c.hash, c.next = h, sh.chans[h]
	sh.chans[h] = c
	sh.nchans++
	return c
}

// cloneKey copies key into one allocation, so that a tracked channel does
// not keep the frame its first event was decoded from.
func cloneKey(k Key) Key {
	var b strings.Builder
	b.Grow(len(k.AsteriskID) + len(k.App) + len(k.ChannelID))
	b.WriteString(k.AsteriskID)
	b.WriteString(k.App)
	b.WriteString(k.ChannelID)
	s := b.String()
	a, p := len(k.AsteriskID), len(k.AsteriskID)+len(k.App)
	return Key{AsteriskID: s[:a], App: s[a:p], ChannelID: s[p:]}
}

func (r *Reorderer) noTimestamp(sh *shard, c *chanState, source int, ev *ari.Event) {
	sh.st.noTS++
	if c.warned&warnedNoTimestamp == 0 {
		c.warned |= warnedNoTimestamp
		sh.outbox = append(sh.outbox, outItem{key: c.key, note: noteNoTS, typ: ev.Type, n: int64(source)})
	}
}

func (sh *shard) count(v verdict) {
	switch v {
	case vStale:
		sh.st.stale++
	case vLate:
		sh.st.late++
	case vDup:
		sh.st.duplicate++
	}
}

func (r *Reorderer) deliver(sh *shard, key Key, ev *ari.Event) {
	if !r.want[ev.Kind] {
		sh.st.filtered++
		return
	}
	sh.st.delivered++
	sh.outbox = append(sh.outbox, outItem{key: key, ev: ev})
}

// The states of shard.token.
const (
	tokenFree int32 = iota
	tokenHeld       // a goroutine is handing a batch over
	tokenMore       // and more items were put in the outbox meanwhile
)

// flush is called with sh.mu held and returns with it released. The
// caller that finds the delivery token free takes it and hands the outbox
// over (to the Sink, to the log) with the lock released, batch after
// batch, until the outbox stays empty; a caller that finds it taken marks
// that more is waiting (tokenMore) and leaves its items to the holder. So
// items leave the shard in the order they were released under the lock,
// one goroutine at a time, and the Sink never runs under a lock. A holder
// that finds nothing more after a batch gives the token back without
// locking again (the common case: one Push, one event).
func (r *Reorderer) flush(sh *shard) {
	if len(sh.outbox) == 0 {
		sh.mu.Unlock()
		return
	}
	for {
		switch sh.token.Load() {
		case tokenFree:
			if !sh.token.CompareAndSwap(tokenFree, tokenHeld) {
				continue
			}
		case tokenHeld:
			if !sh.token.CompareAndSwap(tokenHeld, tokenMore) {
				continue
			}
			sh.mu.Unlock()
			return
		default: // tokenMore: the holder will look again
			sh.mu.Unlock()
			return
		}
		break
	}
	for {
		batch := sh.outbox
		sh.outbox = sh.spare[:0]
		sh.mu.Unlock()
		for i := range batch {
			r.emit(&batch[i])
		}
		clear(batch) // drop the references to delivered events
		sh.spare = batch[:0]
		if sh.token.CompareAndSwap(tokenHeld, tokenFree) {
			return // nobody put anything in the outbox meanwhile
		}
		sh.mu.Lock()
		sh.token.Store(tokenHeld)
	}
}

// emit hands one outbox item over; no lock is held.
func (r *Reorderer) emit(o *outItem) {
	switch o.note {
	case noteNone:
		r.sink.Deliver(o.key, o.ev)
	case noteNoTS:
		r.log.Warn("reorder: event without a usable timestamp, ordered by arrival",
			"app", o.key.App, "channel", o.key.ChannelID, "event", o.typ, "source", o.n)
	case noteOverflow:
		r.log.Warn("reorder: channel queue full, releasing its oldest events early",
			"app", o.key.App, "channel", o.key.ChannelID, "event", o.kind.String(), "limit", o.n)
	case noteHoldLimit:
		if r.log.Enabled(context.Background(), slog.LevelDebug) { // the args would allocate
			r.log.Debug("reorder: predecessor missing, released at the hold limit",
				"app", o.key.App, "channel", o.key.ChannelID, "event", o.kind.String())
		}
	case noteExpired:
		r.log.Warn("reorder: forgetting a channel without events (it never ended)",
			"app", o.key.App, "channel", o.key.ChannelID, "idle", time.Duration(o.n))
	}
}

// release delivers ev and records its effect on the channel.
func (r *Reorderer) release(sh *shard, c *chanState, ev *ari.Event, eff int64, fp, pbID uint64) {
	c.remember(fp)
	c.apply(ev, eff, fp, pbID)
	r.deliver(sh, c.key, ev)
}

// drain releases the head of c's queue for as long as it may go.
func (r *Reorderer) drain(sh *shard, c *chanState, now int64) {
	for c.qlen() > 0 && c.q.buf[c.q.head].due <= now {
		if !r.step(sh, c, now, false) {
			return
		}
	}
}

// step judges the head of c's queue: releases or drops it, or brings its
// predecessor to the front (true), or leaves it held (false). force
// releases a held head regardless of its hold limit.
func (r *Reorderer) step(sh *shard, c *chanState, now int64, force bool) bool {
	h := &c.q.buf[c.q.head]
	v := c.verdict(h.ev, h.eff, h.fp, c.slot(h.pbID))
	if v == vBlock {
		if j := c.findPred(); j > 0 {
			c.moveFront(j)
			sh.st.reordered++
			return true
		}
		if !h.held {
			h.held = true
			sh.st.held++
		}
		if !force {
			if now < h.arr+r.holdLimit {
				return false
			}
			sh.st.holdReleased++
			sh.outbox = append(sh.outbox, outItem{key: c.key, note: noteHoldLimit, kind: h.ev.Kind})
		}
		v = vDeliver
	}
	e := c.pop()
	if v == vDeliver {
		r.release(sh, c, e.ev, e.eff, e.fp, e.pbID)
	} else {
		sh.count(v)
	}
	return true
}

// settle files c after its queue changed: pending or not, ended or not.
func (r *Reorderer) settle(sh *shard, c *chanState, now int64) {
	if c.qlen() == 0 {
		sh.putQueue(c)
		sh.unpend(c)
		if c.phase == phaseEnded {
			r.close(sh, c)
		}
		return
	}
	if c.pendIdx < 0 {
		c.pendIdx = int32(len(sh.pending))
		sh.pending = append(sh.pending, c)
	}
	if d := c.deadline(now, r.holdLimit); d < r.sleepUntil.Load() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

func (sh *shard) unpend(c *chanState) {
	i := c.pendIdx
	if i < 0 {
		return
	}
	last := len(sh.pending) - 1
	sh.pending[i] = sh.pending[last]
	sh.pending[i].pendIdx = i
	sh.pending[last] = nil
	sh.pending = sh.pending[:last]
	c.pendIdx = -1
}

// close forgets an ended channel with an empty queue, remembering that it
// ended.
func (r *Reorderer) close(sh *shard, c *chanState) {
	sh.ended.Add(c.key, endMark{endTS: c.endTS, endFP: c.endFP, startFP: c.startFP})
	r.forget(sh, c)
}

// unlink removes c from sh.chans.
func (sh *shard) unlink(c *chanState) {
	p := sh.chans[c.hash]
	switch {
	case p == c && c.next == nil:
		delete(sh.chans, c.hash)
	case p == c:
		sh.chans[c.hash] = c.next
	default:
		for p.next != c {
			p = p.next
		}
		p.next = c.next
	}
	c.next = nil
	sh.nchans--
}

func (r *Reorderer) forget(sh *shard, c *chanState) {
	sh.unlink(c)
	sh.putQueue(c)
	c.reset()
	if len(sh.free) < maxFree {
		sh.free = append(sh.free, c)
	}
}

// Tick releases every event whose window or hold limit has passed at
// Clock.Now(), forgets channels idle for IdleTimeout, and returns when the
// next window or hold limit expires (zero if nothing waits). Run calls it;
// a caller driving its own clock (tests) may call it instead of Run.
func (r *Reorderer) Tick() time.Time {
	now := r.now()
	r.coarse.Store(now)
	next := int64(math.MaxInt64)
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for j := 0; j < len(sh.pending); {
			c := sh.pending[j]
			r.drain(sh, c, now)
			if c.qlen() == 0 {
				r.settle(sh, c, now) // unpends: pending[j] is now another channel
				continue
			}
			next = min(next, c.deadline(now, r.holdLimit))
			j++
		}
		if now-sh.lastSweep >= r.idle/8 {
			sh.lastSweep = now
			r.sweep(sh, now)
		}
		r.flush(sh)
	}
	if next == math.MaxInt64 {
		return time.Time{}
	}
	return r.epoch.Add(time.Duration(next))
}

// sweep forgets channels without an event for IdleTimeout.
func (r *Reorderer) sweep(sh *shard, now int64) {
	for _, head := range sh.chans {
		for c := head; c != nil; {
			next := c.next // forget clears it
			if c.qlen() == 0 && now-c.lastSeen > r.idle {
				sh.st.expired++
				sh.outbox = append(sh.outbox, outItem{key: c.key, note: noteExpired, n: now - c.lastSeen})
				r.forget(sh, c)
			}
			c = next
		}
	}
}

// Run drives windows, hold limits and idle expiry off the Clock until ctx
// ends, then returns nil. Only one Run may be active at a time (another
// returns ErrRunning at once); it may be started after events were pushed.
func (r *Reorderer) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer r.running.Store(false)
	maxSleep := time.Duration(r.idle / 8)
	t := r.clock.NewTimer(maxSleep)
	defer t.Stop()
	for {
		r.sleepUntil.Store(math.MaxInt64)
		next := r.Tick()
		now := r.clock.Now()
		d := maxSleep
		if !next.IsZero() {
			d = min(d, next.Sub(now))
		}
		d = max(d, r.resolution)
		r.sleepUntil.Store(int64(now.Sub(r.epoch) + d))
		t.Reset(d)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		case <-r.wake:
		}
	}
}

// Stats returns the counters and the current sizes.
func (r *Reorderer) Stats() Stats {
	s := Stats{Filtered: r.filtered.Load()}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		c := sh.st
		s.Delivered += c.delivered
		s.Passthrough += c.passthrough
		s.Filtered += c.filtered
		s.Reordered += c.reordered
		s.Held += c.held
		s.HoldReleased += c.holdReleased
		s.Stale += c.stale
		s.Duplicate += c.duplicate
		s.LateDropped += c.late
		s.Overflow += c.overflow
		s.Expired += c.expired
		s.NoTimestamp += c.noTS
		s.Channels += sh.nchans
		for _, p := range sh.pending {
			s.Pending += p.qlen()
		}
		sh.mu.Unlock()
	}
	return s
}
