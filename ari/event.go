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
// The channels only some events carry (ReplaceChannel, Peer, Caller) are
// pointers, nil when absent, so that the common event stays small: an
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
	Playback       Playback  // Playback* events
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
// short count costs one more allocation, never a wrong string). ev's
// strings are moved in place first, then ev is copied into the new object
// in one go (ev is the caller's scratch, on its stack).
// The optional channels and Args, allocated by Decode, are shared with ev
// and have their strings moved too. Strings not in frame (unescaped ones)
// are kept as they are. With keep, the fields that repeat from event to
// event (see shared) share the previous event's string when equal instead
// of taking room in the box.
func compact(ev *Event, frame []byte, n int, keep *shared) *Event {
	m := mover{lo: uintptr(unsafe.Pointer(unsafe.SliceData(frame)))}
	m.hi = m.lo + uintptr(len(frame))
	if ev.Kind != KindOther {
		if m.in(ev.Type) {
			n -= len(ev.Type) // counted by decode, not moved
		}
		ev.Type = kindNames[ev.Kind] // equal by kindOf: no copy needed
	}
	var f [numShared]*string
	if keep != nil {
		f = sharedFields(ev)
		for i, p := range f {
			if *p != "" && *p == keep[i] && m.in(*p) {
				n -= len(*p)
				*p = keep[i]
			}
		}
	}
	out, buf := newBox(n)
	m.buf = buf
	ev.eachString(&m)
	ev.Raw = nil
	*out = *ev
	if keep != nil {
		for i, p := range f {
			keep[i] = *p // now in the box (or shared already): immutable
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
func sharedFields(ev *Event) [numShared]*string {
	c := &ev.Channel
	return [numShared]*string{&ev.AsteriskID, &ev.Application, &c.State, &c.Language,
		&c.Dialplan.Context, &c.Dialplan.AppName, &ev.Playback.State, &ev.Playback.Language}
}

// mover copies the strings in [lo, hi) to buf (whose capacity decode's
// count gave) and points them there.
type mover struct {
	lo, hi uintptr
	buf    []byte
}

func (m *mover) str(s *string) { *s = m.val(*s) }

// in reports whether s aliases [lo, hi).
func (m *mover) in(s string) bool {
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return len(s) > 0 && p >= m.lo && p < m.hi
}

// eachString moves every string field of ev with m, those of its channels
// and Args included.
func (ev *Event) eachString(m *mover) {
	m.str(&ev.Type)
	m.str(&ev.Application)
	m.str(&ev.AsteriskID)
	ev.Channel.eachString(m)
	if ev.ReplaceChannel != nil {
		ev.ReplaceChannel.eachString(m)
	}
	for i := range ev.Args {
		m.str(&ev.Args[i])
	}
	p := &ev.Playback
	m.str(&p.ID)
	m.str(&p.MediaURI)
	m.str(&p.NextMediaURI)
	m.str(&p.TargetURI)
	m.str(&p.Language)
	m.str(&p.State)
	m.str(&ev.Digit)
	m.str(&ev.Variable)
	m.str(&ev.Value)
	m.str(&ev.CauseTxt)
	if ev.Peer != nil {
		ev.Peer.eachString(m)
	}
	if ev.Caller != nil {
		ev.Caller.eachString(m)
	}
	m.str(&ev.DialStatus)
	m.str(&ev.DialString)
	m.str(&ev.Forward)
	m.str(&ev.MusicClass)
}

func (c *Channel) eachString(m *mover) {
	m.str(&c.ID)
	m.str(&c.Name)
	m.str(&c.State)
	m.str(&c.ProtocolID)
	m.str(&c.AccountCode)
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
	at := len(m.buf)
	m.buf = append(m.buf, s...) // within capacity: counted before
	return unsafe.String(&m.buf[at], len(s))
}

// Channel is ARI's Channel object (channels.json).
type Channel struct {
	ID, Name, State, ProtocolID, AccountCode, Language string
	Caller, Connected                                  CallerID
	Dialplan                                           DialplanCEP
	CreationTime                                       time.Time
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
