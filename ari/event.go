package ari

import "time"

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
type Event struct {
	Kind           Kind
	Type           string    // "type" as received (useful for KindOther)
	Application    string    // "application"
	AsteriskID     string    // "asterisk_id"
	Timestamp      time.Time // parsed "2026-11-23T18:02:35.545+0000"; zero if absent/unparsable
	Channel        Channel   // the event's channel; ID=="" when the event names none (Dial: see Peer)
	ReplaceChannel Channel   // StasisStart replace_channel (ID=="" if absent)
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
	Peer           Channel   // Dial
	Caller         Channel   // Dial (ID=="" if absent)
	DialStatus     string    // Dial
	DialString     string    // Dial
	Forward        string    // Dial
	MusicClass     string    // ChannelHold
	Raw            []byte    // the whole frame as received (kept for KindOther and debugging)
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
