package cti

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// Defaults used when the matching Config field is zero.
const (
	DefaultWindow      = 50 * time.Millisecond
	DefaultMaxPending  = 10000
	DefaultRing        = 10000
	DefaultQueue       = 1024
	DefaultMaxLive     = 100000
	DefaultLiveTimeout = 4 * time.Hour
)

// ErrCutOff is returned by [Subscription.Next] once the subscriber has been
// cut off for not reading fast enough.
var ErrCutOff = errors.New("cti: subscriber cut off: queue full")

// Config configures a Hub. The zero value is usable.
type Config struct {
	// Window is how long an event waits so that events of other streams
	// stamped earlier can be put before it (default 50 ms).
	Window time.Duration
	// MaxPending bounds the events waiting in the window; beyond it the
	// oldest leaves at once (Stats.Overflow). Default 10 000.
	MaxPending int
	// Ring is how many sent events are kept for Last-Event-ID resumes
	// (default 10 000).
	Ring int
	// Queue bounds each subscriber's queue (default 1024 messages).
	Queue int
	// MaxLive bounds the channels tracked for snapshots (default 100 000);
	// LiveTimeout forgets a channel without events for that long (default
	// 4 h).
	MaxLive     int
	LiveTimeout time.Duration
	// Epoch is the first part of every id; "" = from the clock at New
	// (base 36 of the Unix time in ms), different for every process.
	Epoch string
	// Clock is the time source (default: the system clock).
	Clock  reorder.Clock
	Logger *slog.Logger // nil discards
}

// Stats are the hub's counters.
type Stats struct {
	Received    uint64 // events given to Deliver
	Published   uint64 // events given to Publish
	Sent        uint64 // events that left the merge with an id
	Bad         uint64 // dropped: no raw frame, not a JSON object
	Overflow    uint64 // released before their window: MaxPending reached
	Subscribers int    // live subscriptions
	Subscribed  uint64 // subscriptions ever made
	CutOff      uint64 // subscribers cut off for a full queue
	Resumed     uint64 // resumes without a gap
	Gaps        uint64 // resumes (or ids) that got a CTIGap
	LiveFull    uint64 // channels not tracked for snapshots: MaxLive reached
}

// Message is one message of the stream, shared by every subscriber and
// read-only.
type Message struct {
	ID   string // "<epoch>-<seq>"; for CTIGap/CTISnapshot/CTICutOff the id they refer to
	Seq  uint64 // 0 for the hub's own messages
	Type string
	JSON []byte // the object, one line, without the trailing "\n"

	chans []string // channel ids it concerns (filters)
	names []string // channel names it concerns (endpoint filters)
	sse   []byte
}

// SSE returns the message as one Server-Sent Event, blank line included.
func (m *Message) SSE() []byte { return m.sse }

// Filter selects messages: every non-empty list must match.
type Filter struct {
	Endpoints []string // "PJSIP/1000" (that endpoint's channels) or "PJSIP" (a technology)
	Channels  []string // channel ids
	Types     []string // event types
}

func (f *Filter) matchChan(ids, names []string) bool {
	if len(f.Channels) > 0 {
		ok := false
		for _, c := range f.Channels {
			for _, id := range ids {
				if c == id {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.Endpoints) > 0 {
		ok := false
		for _, ep := range f.Endpoints {
			for _, n := range names {
				if endpointOf(n, ep) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (f *Filter) match(m *Message) bool {
	if len(f.Types) > 0 {
		ok := false
		for _, t := range f.Types {
			if t == m.Type {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return f.matchChan(m.chans, m.names)
}

// endpointOf reports whether the channel named name belongs to ep: a
// resource "Tech/res" (name "Tech/res-0000001"), or a technology "Tech".
func endpointOf(name, ep string) bool {
	if !strings.Contains(ep, "/") {
		return len(name) > len(ep) && name[len(ep)] == '/' && strings.EqualFold(name[:len(ep)], ep)
	}
	return len(name) > len(ep) && name[len(ep)] == '-' && strings.EqualFold(name[:len(ep)], ep)
}

// item is an event waiting in the merge window.
type item struct {
	stream  string
	ts      time.Time
	call    string
	arrived time.Time
	n       uint64
	typ     string
	obj     []byte // compacted object
	chans   []string
	names   []string
	chanObj json.RawMessage // the channel snapshot, for live tracking
	bridge  string
	members []string // bridge.channels when present
	session *SessionEvent
	passed  bool // reorder passed it through unordered (an unmodelled kind)
}

type liveChan struct {
	obj  json.RawMessage
	name string
	call string
	last time.Time
}

// Hub merges, numbers, keeps and fans out the CTI stream.
type Hub struct {
	cfg   Config
	clock reorder.Clock
	log   *slog.Logger
	wake  chan struct{}

	mu       sync.Mutex
	streams  map[string][]*item // pending, per stream, in stream order
	pending  int
	arrivals uint64
	lastTS   time.Time
	seq      uint64
	ring     []*Message // ring[(seq-1)%len]
	subs     map[*Subscription]struct{}
	live     map[string]*liveChan
	bridges  map[string]map[string]struct{}
	sessions map[string]*Message // channel id -> its EIVRSession "started"
	swept    time.Time
	stats    Stats
	badLog   time.Time
	cutNotes []cutNote // logged once h.mu is released
}

type cutNote struct{ name, last string }

// unlock releases h.mu and logs what happened under it.
func (h *Hub) unlock() {
	notes := h.cutNotes
	h.cutNotes = nil
	h.mu.Unlock()
	for _, n := range notes {
		h.log.Warn("cti: slow consumer cut off", "subscriber", n.name, "queue", h.cfg.Queue, "last_queued", n.last)
	}
}

// New returns a Hub; call Run for the merge window to be released.
func New(cfg Config) *Hub {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.Ring <= 0 {
		cfg.Ring = DefaultRing
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.MaxLive <= 0 {
		cfg.MaxLive = DefaultMaxLive
	}
	if cfg.LiveTimeout <= 0 {
		cfg.LiveTimeout = DefaultLiveTimeout
	}
	h := &Hub{
		cfg:      cfg,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		wake:     make(chan struct{}, 1),
		streams:  make(map[string][]*item),
		ring:     make([]*Message, cfg.Ring),
		subs:     make(map[*Subscription]struct{}),
		live:     make(map[string]*liveChan),
		bridges:  make(map[string]map[string]struct{}),
		sessions: make(map[string]*Message),
	}
	if h.clock == nil {
		h.clock = sysClock{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.Epoch == "" {
		h.cfg.Epoch = strconv.FormatInt(h.clock.Now().UnixMilli(), 36)
	}
	h.swept = h.clock.Now()
	return h
}

type sysClock struct{}

func (sysClock) Now() time.Time { return time.Now() }
func (sysClock) NewTimer(d time.Duration) reorder.Timer {
	return sysTimer{time.NewTimer(d)}
}

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time   { return t.t.C }
func (t sysTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t sysTimer) Stop() bool            { return t.t.Stop() }

// Epoch is the first part of this hub's ids.
func (h *Hub) Epoch() string { return h.cfg.Epoch }

// Stats returns a copy of the counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stats
	s.Subscribers = len(h.subs)
	return s
}

// rawEvent is the part of an ARI frame the hub reads.
type rawEvent struct {
	Type    string          `json:"type"`
	Channel json.RawMessage `json:"channel"`
	Peer    json.RawMessage `json:"peer"`
	Caller  json.RawMessage `json:"caller"`
	// Members the hub adds: a frame that has them is refused.
	CtiID   json.RawMessage `json:"cti_id"`
	CtiCall json.RawMessage `json:"cti_call"`
	Bridge  *struct {
		ID       string   `json:"id"`
		Channels []string `json:"channels"`
	} `json:"bridge"`
}

type rawChannel struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Linkedid string `json:"linkedid"`
}

// Deliver takes one event of the CTI application's ordered stream (it is a
// reorder.Sink). It needs ev.Raw (ari.Config.KeepRaw). It never blocks.
func (h *Hub) Deliver(key reorder.Key, ev *ari.Event) {
	it, err := parseEvent(key, ev)
	h.mu.Lock()
	h.stats.Received++
	if err != nil {
		h.stats.Bad++
		now := h.clock.Now()
		logIt := now.Sub(h.badLog) >= time.Second
		if logIt {
			h.badLog = now
		}
		h.mu.Unlock()
		if logIt {
			h.log.Warn("cti: event dropped", "type", ev.Type, "channel", ev.Channel.ID, "err", err)
		}
		return
	}
	h.add(it, ev.Kind == ari.KindOther && key.ChannelID == "")
	h.unlock()
	h.poke()
}

func (h *Hub) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

var (
	errNotObject = errors.New("frame is not a JSON object")
	errReserved  = errors.New("frame has a cti_id or cti_call member")
)

func parseEvent(key reorder.Key, ev *ari.Event) (*item, error) {
	if len(ev.Raw) == 0 {
		return nil, errors.New("no raw frame (ari.Config.KeepRaw off?)")
	}
	var buf bytes.Buffer
	buf.Grow(len(ev.Raw))
	if err := json.Compact(&buf, ev.Raw); err != nil {
		return nil, errors.Join(errNotObject, err)
	}
	obj := buf.Bytes()
	if len(obj) < 2 || obj[0] != '{' {
		return nil, errNotObject
	}
	var r rawEvent
	if err := json.Unmarshal(obj, &r); err != nil {
		return nil, errors.Join(errNotObject, err)
	}
	if r.CtiID != nil || r.CtiCall != nil {
		return nil, errReserved
	}
	it := &item{typ: r.Type, obj: obj, ts: ev.Timestamp}
	if it.typ == "" {
		it.typ = ev.Type
	}
	add := func(raw json.RawMessage, primary bool) {
		if len(raw) == 0 || raw[0] != '{' {
			return
		}
		var c rawChannel
		if json.Unmarshal(raw, &c) != nil || c.ID == "" {
			return
		}
		it.chans = append(it.chans, c.ID)
		if c.Name != "" {
			it.names = append(it.names, c.Name)
		}
		if it.call == "" {
			it.call = c.Linkedid
		}
		if primary {
			it.chanObj = raw
		}
	}
	add(r.Channel, true)
	add(r.Peer, false)
	add(r.Caller, false)
	if r.Bridge != nil && r.Bridge.ID != "" {
		it.bridge = r.Bridge.ID
		it.members = r.Bridge.Channels
		for _, c := range r.Bridge.Channels {
			if !contains(it.chans, c) {
				it.chans = append(it.chans, c)
			}
		}
	}
	switch {
	case key.ChannelID != "":
		it.stream = key.ChannelID
	case len(it.chans) > 0:
		it.stream = it.chans[0]
	case it.bridge != "":
		it.stream = "bridge:" + it.bridge
	}
	if it.call == "" && it.bridge != "" {
		it.call = "bridge:" + it.bridge
	}
	return it, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// add queues it in the merge (h.mu held). byTime: an event reorder passed
// through unordered (an unmodelled kind that reorder could not key by a
// channel: it names one only inside another object): it goes before the
// waiting events of its stream stamped later. An ordered event keeps its
// place after the stream's ordered events (reorder's causal order) but
// goes before passed-through ones stamped later: reorder may have held it
// (its window) while they overtook it.
func (h *Hub) add(it *item, byTime bool) {
	it.passed = byTime
	it.arrived = h.clock.Now()
	h.arrivals++
	it.n = h.arrivals
	if it.ts.IsZero() {
		it.ts = h.lastTS
	} else if it.ts.After(h.lastTS) {
		h.lastTS = it.ts
	}
	if it.call == "" {
		if lc := h.live[it.stream]; lc != nil {
			it.call = lc.call
		}
	}
	q := h.streams[it.stream]
	i := len(q)
	for i > 0 && q[i-1].ts.After(it.ts) && (byTime || q[i-1].passed) {
		i--
	}
	q = append(q, nil)
	copy(q[i+1:], q[i:])
	q[i] = it
	h.streams[it.stream] = q
	h.pending++
	if h.pending > h.cfg.MaxPending {
		h.stats.Overflow++
		h.releaseOne()
	}
}

// Run releases the merge window until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	t := h.clock.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := h.Tick()
		d := time.Hour
		if !next.IsZero() {
			d = max(next.Sub(h.clock.Now()), time.Millisecond)
		}
		t.Stop()
		t.Reset(d)
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-t.C():
		}
	}
}

// Tick releases every event whose window has passed and returns when the
// next one is due (zero when nothing waits). Run calls it; tests may too.
func (h *Hub) Tick() time.Time {
	h.mu.Lock()
	defer h.unlock()
	now := h.clock.Now()
	for {
		best, oldest := h.heads()
		if best == nil {
			h.sweep(now)
			return time.Time{}
		}
		due := best.arrived.Add(h.cfg.Window)
		if late := oldest.arrived.Add(2 * h.cfg.Window); late.Before(due) {
			due = late
		}
		if now.Before(due) {
			return due
		}
		h.pop(best)
	}
}

// heads returns the head with the smallest merge key and the head that
// arrived first.
func (h *Hub) heads() (best, oldest *item) {
	for _, q := range h.streams {
		it := q[0]
		if best == nil || less(it, best) {
			best = it
		}
		if oldest == nil || it.n < oldest.n {
			oldest = it
		}
	}
	return best, oldest
}

func (h *Hub) releaseOne() {
	_, oldest := h.heads()
	if oldest != nil {
		h.pop(oldest)
	}
}

func (h *Hub) pop(it *item) {
	q := h.streams[it.stream]
	q[0] = nil
	q = q[1:]
	if len(q) == 0 {
		delete(h.streams, it.stream)
	} else {
		h.streams[it.stream] = q
	}
	h.pending--
	h.emit(it)
}

// less is the merge order of two heads: timestamp, call, stream (numeric
// aware), arrival.
func less(a, b *item) bool {
	if !a.ts.Equal(b.ts) {
		return a.ts.Before(b.ts)
	}
	if a.call != b.call {
		return idLess(a.call, b.call)
	}
	if a.stream != b.stream {
		return idLess(a.stream, b.stream)
	}
	return a.n < b.n
}

// idLess orders Asterisk ids ("1764770000.30" < "1764770000.100") with
// runs of digits compared by value.
func idLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// emit numbers it, keeps it, tracks live calls and fans out (h.mu held).
func (h *Hub) emit(it *item) {
	h.seq++
	id := h.id(h.seq)
	var b bytes.Buffer
	b.Grow(len(it.obj) + len(id) + len(it.call) + 32)
	b.WriteString(`{"cti_id":`)
	writeString(&b, id)
	if it.call != "" {
		b.WriteString(`,"cti_call":`)
		writeString(&b, it.call)
	}
	if rest := it.obj[1:]; len(bytes.TrimSpace(rest)) > 1 {
		b.WriteByte(',')
		b.Write(rest)
	} else {
		b.WriteByte('}')
	}
	m := newMessage(id, h.seq, it.typ, b.Bytes())
	m.chans, m.names = it.chans, it.names
	h.ring[(h.seq-1)%uint64(len(h.ring))] = m
	h.stats.Sent++
	h.track(it, m)
	for s := range h.subs {
		if s.cut || !s.f.match(m) {
			continue
		}
		select {
		case s.ch <- m:
		default:
			s.cut = true
			close(s.ch)
			delete(h.subs, s)
			h.stats.CutOff++
			h.cutNotes = append(h.cutNotes, cutNote{s.name, s.lastQueued})
		}
		if !s.cut {
			s.lastQueued = m.ID
		}
	}
}

func (h *Hub) id(seq uint64) string {
	return h.cfg.Epoch + "-" + strconv.FormatUint(seq, 10)
}

func writeString(b *bytes.Buffer, s string) {
	j, _ := json.Marshal(s)
	b.Write(j)
}

func newMessage(id string, seq uint64, typ string, obj []byte) *Message {
	m := &Message{ID: id, Seq: seq, Type: typ, JSON: obj}
	sse := make([]byte, 0, len(obj)+len(id)+len(typ)+24)
	if id != "" && seq != 0 {
		sse = append(sse, "id: "...)
		sse = append(sse, id...)
		sse = append(sse, '\n')
	}
	sse = append(sse, "event: "...)
	sse = append(sse, typ...)
	sse = append(sse, "\ndata: "...)
	sse = append(sse, obj...)
	sse = append(sse, "\n\n"...)
	m.sse = sse
	return m
}

// track updates the live calls for snapshots (h.mu held).
func (h *Hub) track(it *item, m *Message) {
	now := it.arrived
	if it.session != nil {
		switch it.session.Phase {
		case PhaseStarted:
			h.sessions[it.session.Channel] = m
		case PhaseEnded:
			delete(h.sessions, it.session.Channel)
		}
		return
	}
	if it.typ == "Dial" && it.chanObj == nil && len(it.chans) >= 2 {
		// peer, caller: without a linkedid the dialled leg joins the
		// caller's call.
		peer, caller := h.live[it.chans[0]], h.live[it.chans[1]]
		if caller != nil && caller.call == "" {
			caller.call = it.chans[1]
		}
		if peer != nil && peer.call == "" {
			peer.call = it.chans[1]
			if caller != nil {
				peer.call = caller.call
			}
		}
	}
	if len(it.chans) > 0 && it.chanObj != nil {
		id := it.chans[0]
		if it.typ == "ChannelDestroyed" {
			delete(h.live, id)
			for _, mem := range h.bridges {
				delete(mem, id)
			}
		} else if lc := h.live[id]; lc != nil {
			lc.obj, lc.last = it.chanObj, now
			if it.call != "" {
				lc.call = it.call
			}
		} else if len(h.live) < h.cfg.MaxLive {
			name := ""
			if len(it.names) > 0 {
				name = it.names[0]
			}
			h.live[id] = &liveChan{obj: it.chanObj, name: name, call: it.call, last: now}
		} else {
			h.stats.LiveFull++
		}
	}
	if it.bridge != "" {
		switch it.typ {
		case "BridgeDestroyed":
			delete(h.bridges, it.bridge)
		default:
			mem := h.bridges[it.bridge]
			if mem == nil {
				mem = make(map[string]struct{})
				h.bridges[it.bridge] = mem
			}
			if it.members != nil {
				clear(mem)
				for _, c := range it.members {
					mem[c] = struct{}{}
				}
			}
			if len(it.chans) > 0 && it.chanObj != nil {
				switch it.typ {
				case "ChannelEnteredBridge":
					mem[it.chans[0]] = struct{}{}
				case "ChannelLeftBridge":
					delete(mem, it.chans[0])
				}
			}
		}
	}
}

// sweep forgets channels silent for LiveTimeout, once a minute at most.
func (h *Hub) sweep(now time.Time) {
	if now.Sub(h.swept) < time.Minute {
		return
	}
	h.swept = now
	for id, lc := range h.live {
		if now.Sub(lc.last) > h.cfg.LiveTimeout {
			delete(h.live, id)
			delete(h.sessions, id)
		}
	}
}
