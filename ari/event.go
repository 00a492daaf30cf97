package ari

import (
	"time"
	"unsafe"
)

// Kind identifies an event type; KindOther for every type we do not model.
type Kind uint8

// The modelled event types. KindOther covers every other type.
const (
	KindOther Kind = iota
	KindStasisStart
	KindStasisEnd
	KindChannelCreated
	KindChannelStateChange
	KindChannelDestroyed
	KindChannelHangupRequest
	KindChannelDtmfReceived
	KindChannelVarset
	KindChannelCallerId
	KindChannelConnectedLine
	KindChannelHold
	KindChannelUnhold
	KindChannelTalkingStarted
	KindChannelTalkingFinished
	KindPlaybackStarted
	KindPlaybackContinuing
	KindPlaybackFinished
	KindApplicationReplaced
	KindDial
	numKinds // keep last
)

var kindNames = [numKinds]string{
	KindOther:                  "Other",
	KindStasisStart:            "StasisStart",
	KindStasisEnd:              "StasisEnd",
	KindChannelCreated:         "ChannelCreated",
	KindChannelStateChange:     "ChannelStateChange",
	KindChannelDestroyed:       "ChannelDestroyed",
	KindChannelHangupRequest:   "ChannelHangupRequest",
	KindChannelDtmfReceived:    "ChannelDtmfReceived",
	KindChannelVarset:          "ChannelVarset",
	KindChannelCallerId:        "ChannelCallerId",
	KindChannelConnectedLine:   "ChannelConnectedLine",
	KindChannelHold:            "ChannelHold",
	KindChannelUnhold:          "ChannelUnhold",
	KindChannelTalkingStarted:  "ChannelTalkingStarted",
	KindChannelTalkingFinished: "ChannelTalkingFinished",
	KindPlaybackStarted:        "PlaybackStarted",
	KindPlaybackContinuing:     "PlaybackContinuing",
	KindPlaybackFinished:       "PlaybackFinished",
	KindApplicationReplaced:    "ApplicationReplaced",
	KindDial:                   "Dial",
}

// String returns the ARI type name ("StasisStart", ...), "Other" for
// KindOther and "Kind(N)" for values out of range.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "Kind(" + itoa(int(k)) + ")"
}

// kindOf maps an ARI "type" to its Kind (KindOther when not modelled).
func kindOf(typ string) Kind {
	// A switch on string compiles to a binary search on length + content:
	// no map lookup, no allocation.
	switch typ {
	case "StasisStart":
		return KindStasisStart
	case "StasisEnd":
		return KindStasisEnd
	case "ChannelCreated":
		return KindChannelCreated
	case "ChannelStateChange":
		return KindChannelStateChange
	case "ChannelDestroyed":
		return KindChannelDestroyed
	case "ChannelHangupRequest":
		return KindChannelHangupRequest
	case "ChannelDtmfReceived":
		return KindChannelDtmfReceived
	case "ChannelVarset":
		return KindChannelVarset
	case "ChannelCallerId":
		return KindChannelCallerId
	case "ChannelConnectedLine":
		return KindChannelConnectedLine
	case "ChannelHold":
		return KindChannelHold
	case "ChannelUnhold":
		return KindChannelUnhold
	case "ChannelTalkingStarted":
		return KindChannelTalkingStarted
	case "ChannelTalkingFinished":
		return KindChannelTalkingFinished
	case "PlaybackStarted":
		return KindPlaybackStarted
	case "PlaybackContinuing":
		return KindPlaybackContinuing
	case "PlaybackFinished":
		return KindPlaybackFinished
	case "ApplicationReplaced":
		return KindApplicationReplaced
	case "Dial":
		return KindDial
	}
	return KindOther
}

// Event is one decoded ARI event. Flat: the fields an event type does not
// carry are zero. The receiver of an *Event owns it (it may be retained,
// e.g. by reorder).
//
// The parts only some events carry (ReplaceChannel, Peer, Caller,
// Playback) are pointers, nil when absent, so that the common event stays
// small: an
// Event read by [Client.Run] is one allocation holding the Event and the
// bytes of its strings (see compact). Consumers wanting more than the
// modelled fields (a CTI feed: bridge fields, any event type) set
// Config.KeepRaw and parse Raw, the frame exactly as received; only they
// pay for it.
type Event struct {
	Kind           Kind
	Soft           bool      // ChannelHangupRequest (next to Kind: no padding)
	Type           string    // "type" as received (useful for KindOther)
	Application    string    // "application"
	AsteriskID     string    // "asterisk_id"
	Timestamp      time.Time // parsed "2026-11-23T18:02:35.545+0000"; zero if absent/unparsable
	Channel        Channel   // the event's channel; ID=="" when the event names none (Dial: see Peer)
	ReplaceChannel *Channel  // StasisStart replace_channel (nil if absent)
	Args           []string  // StasisStart args
	Playback       *Playback // Playback* events (nil if absent)
	Digit          string    // ChannelDtmfReceived
	DurationMs     int       // ChannelDtmfReceived duration_ms; ChannelTalkingFinished duration
	Variable       string    // ChannelVarset
	Value          string    // ChannelVarset
	Cause          int       // ChannelHangupRequest / ChannelDestroyed
	CauseTxt       string    // ChannelDestroyed
	TechCause      int       // ChannelHangupRequest / ChannelDestroyed tech_cause (0 if absent)
	Peer           *Channel  // Dial (nil if absent)
	Caller         *Channel  // Dial (nil if absent)
	DialStatus     string    // Dial
	DialString     string    // Dial
	Forward        string    // Dial
	MusicClass     string    // ChannelHold
	Raw            []byte    // the whole frame as received (Decode sets it; from Client.Run only with Config.KeepRaw)
}

// ChannelID returns c.ID, or "" when c is nil (an optional channel of an
// Event that is absent).
func (c *Channel) ChannelID() string {
	if c == nil {
		return ""
	}
	return c.ID
}

// ChannelState returns c.State, or "" when c is nil.
func (c *Channel) ChannelState() string {
	if c == nil {
		return ""
	}
	return c.State
}

// eventBox is an Event and the bytes its strings reference in one
// allocation. Its sizes are chosen so that each fits a size class of the Go
// allocator exactly (no rounding waste).
type eventBox[B any] struct {
	ev  Event
	buf B // a byte array
}

const eventSize = unsafe.Sizeof(Event{})

// newBox returns a zero Event and an empty buffer of capacity at least n,
// in one allocation when n is below about 7.5 KB (two above).
func newBox(n int) (*Event, []byte) {
	switch u := uintptr(n); {
	case u <= 576-eventSize:
		return boxed[[576 - eventSize]byte]()
	case u <= 640-eventSize:
		return boxed[[640 - eventSize]byte]()
	case u <= 704-eventSize:
		return boxed[[704 - eventSize]byte]()
	case u <= 768-eventSize:
		return boxed[[768 - eventSize]byte]()
	case u <= 896-eventSize:
		return boxed[[896 - eventSize]byte]()
	case u <= 1024-eventSize:
		return boxed[[1024 - eventSize]byte]()
	case u <= 1280-eventSize:
		return boxed[[1280 - eventSize]byte]()
	case u <= 1536-eventSize:
		return boxed[[1536 - eventSize]byte]()
	case u <= 2048-eventSize:
		return boxed[[2048 - eventSize]byte]()
	case u <= 4096-eventSize:
		return boxed[[4096 - eventSize]byte]()
	case u <= 8192-eventSize:
		return boxed[[8192 - eventSize]byte]()
	}
	return new(Event), make([]byte, 0, n)
}

func boxed[B any]() (*Event, []byte) {
	b := new(eventBox[B])
	return &b.ev, unsafe.Slice((*byte)(unsafe.Pointer(&b.buf)), unsafe.Sizeof(b.buf))[:0]
}

const playbackSize = unsafe.Sizeof(Playback{})

// playbackBox is an Event with its Playback and the bytes of its strings.
type playbackBox[B any] struct {
	ev  Event
	pb  Playback
	buf B
}

// newPlaybackBox is newBox for an event with a Playback.
func newPlaybackBox(n int) (*Event, *Playback, []byte) {
	const h = eventSize + playbackSize
	switch u := uintptr(n); {
	case u <= 640-h:
		return playbackBoxed[[640 - h]byte]()
	case u <= 704-h:
		return playbackBoxed[[704 - h]byte]()
	case u <= 768-h:
		return playbackBoxed[[768 - h]byte]()
	case u <= 896-h:
		return playbackBoxed[[896 - h]byte]()
	case u <= 1024-h:
		return playbackBoxed[[1024 - h]byte]()
	case u <= 1280-h:
		return playbackBoxed[[1280 - h]byte]()
	case u <= 2048-h:
		return playbackBoxed[[2048 - h]byte]()
	case u <= 4096-h:
		return playbackBoxed[[4096 - h]byte]()
	case u <= 8192-h:
		return playbackBoxed[[8192 - h]byte]()
	}
	b := new(playbackBox[[0]byte])
	return &b.ev, &b.pb, make([]byte, 0, n)
}

func playbackBoxed[B any]() (*Event, *Playback, []byte) {
	b := new(playbackBox[B])
	return &b.ev, &b.pb, unsafe.Slice((*byte)(unsafe.Pointer(&b.buf)), unsafe.Sizeof(b.buf))[:0]
}

// Room in a box for the parts only some events carry (see extras): a
// StasisStart's Args, a Dial's channels, a StasisStart's replace_channel.
type (
	room0a2 struct{ args [2]string }
	room0a8 struct{ args [8]string }
	room1a8 struct {
		ch   [1]Channel
		args [8]string
	}
	room1a0 struct{ ch [1]Channel }
	room2a0 struct{ ch [2]Channel }
	room3a8 struct {
		ch   [3]Channel
		args [8]string
	}
)

func (r *room0a2) parts() ([]Channel, []string) { return nil, r.args[:] }
func (r *room0a8) parts() ([]Channel, []string) { return nil, r.args[:] }
func (r *room1a8) parts() ([]Channel, []string) { return r.ch[:], r.args[:] }
func (r *room1a0) parts() ([]Channel, []string) { return r.ch[:], nil }
func (r *room2a0) parts() ([]Channel, []string) { return r.ch[:], nil }
func (r *room3a8) parts() ([]Channel, []string) { return r.ch[:], r.args[:] }

// newRareBox is newBox for an event with nch optional channels and nargs
// Args (-1: none) to copy from the read loop's room: one allocation holding
// the Event, room for them and an empty buffer of capacity at least n
// (two above about 7.5 KB of strings).
func newRareBox(n, nch, nargs int) (*Event, []Channel, []string, []byte) {
	switch {
	case nch == 0 && nargs <= 2:
		return rareBox[room0a2](n)
	case nch == 0:
		return rareBox[room0a8](n)
	case nch == 1 && nargs < 0:
		return rareBox[room1a0](n)
	case nch == 1:
		return rareBox[room1a8](n)
	case nch == 2 && nargs < 0:
		return rareBox[room2a0](n)
	}
	return rareBox[room3a8](n)
}

func rareBox[R any, PR interface {
	*R
	parts() ([]Channel, []string)
}](n int) (*Event, []Channel, []string, []byte) {
	switch u := uintptr(n); {
	case u <= 256:
		return rareBoxed[R, PR, [256]byte]()
	case u <= 512:
		return rareBoxed[R, PR, [512]byte]()
	case u <= 1024:
		return rareBoxed[R, PR, [1024]byte]()
	case u <= 2048:
		return rareBoxed[R, PR, [2048]byte]()
	case u <= 8192-eventSize-unsafe.Sizeof(room3a8{}):
		return rareBoxed[R, PR, [8192 - eventSize - unsafe.Sizeof(room3a8{})]byte]()
	}
	ev, chs, args, _ := rareBoxed[R, PR, [0]byte]()
	return ev, chs, args, make([]byte, 0, n)
}

func rareBoxed[R any, PR interface {
	*R
	parts() ([]Channel, []string)
}, B any]() (*Event, []Channel, []string, []byte) {
	b := new(struct {
		ev   Event
		room R
		buf  B
	})
	chs, args := PR(&b.room).parts()
	return &b.ev, chs, args, unsafe.Slice((*byte)(unsafe.Pointer(&b.buf)), unsafe.Sizeof(b.buf))[:0]
}

// newEvent returns a zero Event whose Raw is a copy of frame, in one
// allocation (see newBox). Decoding Raw into it makes the event's strings
// alias its own copy of the frame.
func newEvent(frame []byte) *Event {
	ev, buf := newBox(len(frame))
	buf = append(buf, frame...)
	ev.Raw = buf[:len(frame):len(frame)]
	return ev
}

// compact returns a copy of ev, which was decoded from frame (a buffer the
// caller reuses), in one allocation with a copy of the strings that alias
// frame (the Type of a modelled kind is its constant name); Raw is dropped.
// n is decode's count of the aliased bytes (the room the copy needs; a
// short count costs one more allocation, never a wrong string). ev is the
// caller's scratch (on its stack): each field is written into the new
// object once, moved as it goes (copyTo), and only the fields that are set:
// no copy of the whole pointerful Event (which would run the GC's bulk
// write barrier over every pointer slot of it) and no second pass.
// The optional channels and Args, allocated by Decode, are shared with ev
// and have their strings moved in place. Strings not in frame (unescaped
// ones) are kept as they are. With keep, the fields that repeat from event
// to event (see shared) share the previous event's string when equal
// instead of taking room in the box.
//
// With raw (Config.KeepRaw), the box holds a copy of the whole frame as
// the event's Raw instead, and the strings alias that copy (no sharing).
func compact(ev *Event, frame []byte, n int, x *extras, keep *shared, raw bool) *Event {
	m := mover{lo: uintptr(unsafe.Pointer(unsafe.SliceData(frame))), x: x}
	m.hi = m.lo + uintptr(len(frame))
	if ev.Kind != KindOther {
		if m.in(ev.Type) {
			n -= len(ev.Type) // counted by decode, not moved
		}
		ev.Type = kindNames[ev.Kind] // equal by kindOf: no copy needed
	}
	if raw {
		n, keep = len(frame), nil // the copy of the frame, nothing more
	}
	var none Playback
	if keep != nil {
		f := sharedFields(ev, &none)
		for i, p := range f {
			if *p != "" && *p == keep[i] && m.in(*p) {
				n -= len(*p)
				*p = keep[i]
			}
		}
	}
	var (
		out  *Event
		chs  []Channel // room in out's box for the optional channels in x
		args []string  // and for Args, when in x
	)
	nch, nargs := 0, -1
	if x != nil {
		nch = x.nch
		if ev.Args != nil && unsafe.SliceData(ev.Args) == &x.args[0] {
			nargs = len(ev.Args)
		}
	}
	var pb *Playback // room in out's box for the Playback
	switch {
	case nch == 0 && nargs < 0 && ev.Playback == nil:
		out, m.buf = newBox(n)
	case nch == 0 && nargs < 0:
		out, pb, m.buf = newPlaybackBox(n)
	default:
		out, chs, args, m.buf = newRareBox(n, nch, nargs)
	}
	if pb == nil && ev.Playback != nil { // with channels or args: rare
		pb = new(Playback)
	}
	if raw {
		m.buf = append(m.buf, frame...)
		m.raw = m.buf[:len(frame):len(frame)]
		out.Raw = m.raw
	}
	ev.copyTo(out, pb, &m)
	if nch > 0 {
		for _, p := range [...]**Channel{&out.ReplaceChannel, &out.Peer, &out.Caller} {
			if c := *p; c != nil && inRoom(c, x) {
				c.copyTo(&chs[0], &m)
				*p, chs = &chs[0], chs[1:]
			}
		}
	}
	if nargs == 0 {
		out.Args = []string{} // [] as encoding/json has it: not nil, no allocation
	} else if nargs > 0 {
		for i, a := range ev.Args {
			args[i] = m.val(a)
		}
		out.Args = args[:nargs:nargs]
	}
	if keep != nil {
		for i, p := range sharedFields(out, &none) {
			if *p != "" {
				keep[i] = *p // now in the box (or shared already): immutable
			}
		}
	}
	return out
}

// shared holds, for the fields of an event that repeat from event to
// event (sharedFields), the value of the last event compacted: a string in
// an earlier event's box, which is never written again, so events may
// share it. It keeps at most numShared earlier boxes alive.
type shared [numShared]string

const numShared = 8

// sharedFields are the fields compact shares: the same for every event of
// a connection (AsteriskID, Application) or from a small set of values.
// (Sharing a channel's id, name, caller and dialplan with its previous
// event too saved 40 B an event but cost about 250 ns of CPU in
// BenchmarkReadLoop.) pb stands in for an absent Playback (its fields
// stay empty: not shared).
func sharedFields(ev *Event, pb *Playback) [numShared]*string {
	c := &ev.Channel
	if ev.Playback != nil {
		pb = ev.Playback
	}
	return [numShared]*string{&ev.AsteriskID, &ev.Application, &c.State, &c.Language,
		&c.Dialplan.Context, &c.Dialplan.AppName, &pb.State, &pb.Language}
}

// mover copies the strings in [lo, hi) to buf (whose capacity decode's
// count gave) and points them there.
type mover struct {
	lo, hi uintptr
	buf    []byte
	x      *extras // the room the event was decoded with (nil: none)
	raw    []byte  // a copy of [lo, hi): strings are pointed there, not copied
}

func (m *mover) str(s *string) { *s = m.val(*s) }

// set stores v, moved, in *dst when v is not empty (an empty one leaves
// the zero *dst as it is: no store).
func (m *mover) set(dst *string, v string) {
	if v != "" {
		*dst = m.val(v)
	}
}

// in reports whether s aliases [lo, hi).
func (m *mover) in(s string) bool {
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return len(s) > 0 && p >= m.lo && p < m.hi
}

// copyTo writes ev's fields that are set into out (zero), moving their
// strings with m; Raw is not copied. ev's Playback, if any, is copied
// into pb (zero). TestEachStringVisitsAll and the
// decode equivalence tests (compact against Decode on every recorded
// frame and the fuzz corpus) check that no field is missed.
func (ev *Event) copyTo(out *Event, pb *Playback, m *mover) {
	out.Kind, out.Soft = ev.Kind, ev.Soft
	m.set(&out.Type, ev.Type)
	m.set(&out.Application, ev.Application)
	m.set(&out.AsteriskID, ev.AsteriskID)
	if !ev.Timestamp.IsZero() {
		out.Timestamp = ev.Timestamp
	}
	ev.Channel.copyTo(&out.Channel, m)
	m.optChannel(&out.ReplaceChannel, ev.ReplaceChannel)
	if ev.Args != nil && !m.inRoom(ev.Args) {
		for i := range ev.Args {
			m.str(&ev.Args[i])
		}
		out.Args = ev.Args
	}
	if p := ev.Playback; p != nil {
		q := pb // zero, for out
		out.Playback = q
		m.set(&q.ID, p.ID)
		m.set(&q.MediaURI, p.MediaURI)
		m.set(&q.NextMediaURI, p.NextMediaURI)
		m.set(&q.TargetURI, p.TargetURI)
		m.set(&q.Language, p.Language)
		m.set(&q.State, p.State)
	}
	m.set(&out.Digit, ev.Digit)
	out.DurationMs = ev.DurationMs
	m.set(&out.Variable, ev.Variable)
	m.set(&out.Value, ev.Value)
	out.Cause = ev.Cause
	m.set(&out.CauseTxt, ev.CauseTxt)
	out.TechCause = ev.TechCause
	m.optChannel(&out.Peer, ev.Peer)
	m.optChannel(&out.Caller, ev.Caller)
	m.set(&out.DialStatus, ev.DialStatus)
	m.set(&out.DialString, ev.DialString)
	m.set(&out.Forward, ev.Forward)
	m.set(&out.MusicClass, ev.MusicClass)
}

// optChannel sets *dst to c: a channel Decode allocated on the heap is
// shared, its strings moved in place; one in the read loop's room (m.x) is
// only pointed to here, compact copies it into the box afterwards.
func (m *mover) optChannel(dst **Channel, c *Channel) {
	if c == nil {
		return
	}
	if m.x == nil || !inRoom(c, m.x) {
		c.eachString(m)
	}
	*dst = c
}

// inRoom reports whether c is one of x's channels.
func inRoom(c *Channel, x *extras) bool {
	for i := range x.nch {
		if c == &x.ch[i] {
			return true
		}
	}
	return false
}

// inRoom reports whether args is backed by the read loop's room.
func (m *mover) inRoom(args []string) bool {
	return m.x != nil && unsafe.SliceData(args) == &m.x.args[0]
}

// copyTo is Event.copyTo for a channel (out zero).
func (c *Channel) copyTo(out *Channel, m *mover) {
	m.set(&out.ID, c.ID)
	m.set(&out.Name, c.Name)
	m.set(&out.State, c.State)
	m.set(&out.Language, c.Language)
	m.set(&out.Caller.Name, c.Caller.Name)
	m.set(&out.Caller.Number, c.Caller.Number)
	m.set(&out.Connected.Name, c.Connected.Name)
	m.set(&out.Connected.Number, c.Connected.Number)
	d, o := &c.Dialplan, &out.Dialplan
	m.set(&o.Context, d.Context)
	m.set(&o.Exten, d.Exten)
	o.Priority = d.Priority
	m.set(&o.AppName, d.AppName)
	m.set(&o.AppData, d.AppData)
	if c.ChannelVars != nil {
		m.strMap(&c.ChannelVars)
		out.ChannelVars = c.ChannelVars
	}
}

// eachString moves every string field of c in place (the optional
// channels, which Decode allocated on the heap: they are shared, not
// copied).
func (c *Channel) eachString(m *mover) {
	m.str(&c.ID)
	m.str(&c.Name)
	m.str(&c.State)
	m.str(&c.Language)
	m.str(&c.Caller.Name)
	m.str(&c.Caller.Number)
	m.str(&c.Connected.Name)
	m.str(&c.Connected.Number)
	d := &c.Dialplan
	m.str(&d.Context)
	m.str(&d.Exten)
	m.str(&d.AppName)
	m.str(&d.AppData)
	m.strMap(&c.ChannelVars)
}

// strMap moves the keys and values of a map of strings into a new map
// (map keys cannot be changed in place), one more allocation only for
// events that carry ari.conf channelvars.
func (m *mover) strMap(p *map[string]string) {
	if len(*p) == 0 {
		return
	}
	out := make(map[string]string, len(*p))
	for k, v := range *p {
		out[m.val(k)] = m.val(v)
	}
	*p = out
}

// val is str for a value (a map's key or element): it returns the string,
// moved when it aliases the frame. No pointer, so nothing escapes.
func (m *mover) val(s string) string {
	if !m.in(s) {
		return s
	}
	if m.raw != nil {
		return unsafe.String(&m.raw[uintptr(unsafe.Pointer(unsafe.StringData(s)))-m.lo], len(s))
	}
	at := len(m.buf)
	m.buf = append(m.buf, s...) // within capacity: counted before
	return unsafe.String(&m.buf[at], len(s))
}

// PlaybackID returns p.ID, or "" when p is nil (an Event without a
// Playback).
func (p *Playback) PlaybackID() string {
	if p == nil {
		return ""
	}
	return p.ID
}

// PlaybackState returns p.State, or "" when p is nil.
func (p *Playback) PlaybackState() string {
	if p == nil {
		return ""
	}
	return p.State
}

// PlaybackTarget returns p.TargetURI, or "" when p is nil.
func (p *Playback) PlaybackTarget() string {
	if p == nil {
		return ""
	}
	return p.TargetURI
}

// Channel is ARI's Channel object (channels.json), without the fields
// nothing here reads (protocol_id, accountcode, creationtime): each
// decoded channel (up to three an event) would carry them at 56 bytes and
// a timestamp parse. A consumer that wants them (a CTI feed) sets
// Config.KeepRaw and parses them from the Event's Raw.
type Channel struct {
	ID, Name, State, Language string
	Caller, Connected         CallerID
	Dialplan                  DialplanCEP
	// ChannelVars are the variables ari.conf's channelvars names, as of
	// this snapshot (nil when none are configured). Asterisk leaves out a
	// variable whose value is not valid UTF-8.
	ChannelVars map[string]string
}

// CallerID is ARI's CallerID object.
type CallerID struct{ Name, Number string }

// DialplanCEP is ARI's DialplanCEP object (context, extension, priority).
type DialplanCEP struct {
	Context, Exten   string
	Priority         int64
	AppName, AppData string
}

// Playback is ARI's Playback object (playbacks.json).
type Playback struct{ ID, MediaURI, NextMediaURI, TargetURI, Language, State string }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
