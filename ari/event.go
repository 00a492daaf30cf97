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
// Event read by [Client.Run] is one allocation holding the Event and a copy
// of its frame, which its strings and Raw reference (see newEvent).
// Consumers wanting more than the modelled fields (a CTI feed: bridge
// fields, any event type) parse Raw, the frame exactly as received; only
// they pay for it.
type Event struct {
	Kind           Kind
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
	Soft           bool      // ChannelHangupRequest
	Peer           *Channel  // Dial (nil if absent)
	Caller         *Channel  // Dial (nil if absent)
	DialStatus     string    // Dial
	DialString     string    // Dial
	Forward        string    // Dial
	MusicClass     string    // ChannelHold
	Raw            []byte    // the whole frame as received (for KindOther, a CTI feed and debugging)
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

// eventBox is an Event and the copy of its frame in one allocation. Its
// sizes are chosen so that each fits a size class of the Go allocator
// exactly (no rounding waste).
type eventBox[B any] struct {
	ev  Event
	buf B // a byte array
}

const eventSize = unsafe.Sizeof(Event{})

// newEvent returns a zero Event whose Raw is a copy of frame, both in one
// allocation for frames up to about 7.5 KB (two above). Decoding Raw into
// it makes the event's strings alias its own copy: it then lives as long
// as anything references the event or one of its strings, exactly as a
// separately allocated frame would.
func newEvent(frame []byte) *Event {
	switch n := uintptr(len(frame)); {
	case n <= 1024-eventSize:
		return boxed[[1024 - eventSize]byte](frame)
	case n <= 1280-eventSize:
		return boxed[[1280 - eventSize]byte](frame)
	case n <= 1536-eventSize:
		return boxed[[1536 - eventSize]byte](frame)
	case n <= 2048-eventSize:
		return boxed[[2048 - eventSize]byte](frame)
	case n <= 3072-eventSize:
		return boxed[[3072 - eventSize]byte](frame)
	case n <= 4096-eventSize:
		return boxed[[4096 - eventSize]byte](frame)
	case n <= 8192-eventSize:
		return boxed[[8192 - eventSize]byte](frame)
	}
	return &Event{Raw: append([]byte(nil), frame...)}
}

func boxed[B any](frame []byte) *Event {
	b := new(eventBox[B])
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&b.buf)), unsafe.Sizeof(b.buf))
	n := copy(buf, frame)
	b.ev.Raw = buf[:n:n]
	return &b.ev
}

// Channel is ARI's Channel object (channels.json).
type Channel struct {
	ID, Name, State, ProtocolID, AccountCode, Language string
	Caller, Connected                                  CallerID
	Dialplan                                           DialplanCEP
	CreationTime                                       time.Time
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
