package cti

import (
	"encoding/json"
	"time"
)

// The phases of an EIVRSession event.
const (
	PhaseStarted  = "started"
	PhaseLine     = "line"
	PhasePlayback = "playback"
	PhaseEnded    = "ended"
)

// SessionType is the "type" of the gateway's own events.
const SessionType = "EIVRSession"

// SessionEvent is one thing that happened to an ExternalIVR session of the
// gateway (what gateway.Observer reports; cmd adapts one to the other).
// Which fields are used depends on Phase; see the package documentation
// for the JSON.
type SessionEvent struct {
	Phase       string
	At          time.Time
	App         string
	Session     string
	Channel     string // ARI channel id
	ChannelName string

	// PhaseStarted
	CallerNumber, CallerName string
	Target                   string
	Argv                     []string
	Options                  string
	// PhaseLine
	Sent bool // an event line to the script; false: a command from it
	Line string
	// PhasePlayback
	File                 string
	Started, Interrupted bool
	// PhaseEnded
	Served   bool
	Status   string
	Cause    string
	Duration time.Duration
}

// ariTime is ARI's timestamp layout.
const ariTime = "2006-01-02T15:04:05.000-0700"

type sessChannel struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

type sessCaller struct {
	Number string `json:"number"`
	Name   string `json:"name"`
}

type sessHead struct {
	Type        string      `json:"type"`
	Phase       string      `json:"phase"`
	Timestamp   string      `json:"timestamp"`
	Application string      `json:"application"`
	Session     string      `json:"session"`
	Channel     sessChannel `json:"channel"`
}

// Publish adds an event the gateway made (type EIVRSession) to the stream.
// It never blocks; the events of one session keep the order of the calls.
func (h *Hub) Publish(ev SessionEvent) {
	head := sessHead{
		Type: SessionType, Phase: ev.Phase, Timestamp: ev.At.Format(ariTime),
		Application: ev.App, Session: ev.Session,
		Channel: sessChannel{ID: ev.Channel, Name: ev.ChannelName},
	}
	var v any
	switch ev.Phase {
	case PhaseStarted:
		v = struct {
			sessHead
			Caller  sessCaller `json:"caller"`
			Target  string     `json:"target"`
			Argv    []string   `json:"argv"`
			Options string     `json:"options"`
		}{head, sessCaller{ev.CallerNumber, ev.CallerName}, ev.Target, ev.Argv, ev.Options}
	case PhaseLine:
		v = struct {
			sessHead
			Sent bool   `json:"sent"`
			Line string `json:"line"`
		}{head, ev.Sent, ev.Line}
	case PhasePlayback:
		v = struct {
			sessHead
			File        string `json:"file"`
			Started     bool   `json:"started"`
			Interrupted bool   `json:"interrupted"`
		}{head, ev.File, ev.Started, ev.Interrupted}
	case PhaseEnded:
		v = struct {
			sessHead
			Served     bool   `json:"served"`
			Status     string `json:"status"`
			Cause      string `json:"cause"`
			DurationMs int64  `json:"duration_ms"`
		}{head, ev.Served, ev.Status, ev.Cause, ev.Duration.Milliseconds()}
	default:
		v = head
	}
	obj, err := json.Marshal(v)
	if err != nil { // only strings and bools: cannot happen
		h.log.Error("cti: session event not encodable", "err", err, "session", ev.Session, "channel", ev.Channel)
		return
	}
	it := &item{
		stream:  "eivr:" + ev.Channel,
		ts:      ev.At,
		typ:     SessionType,
		obj:     obj,
		chans:   []string{ev.Channel},
		session: &ev,
	}
	if ev.ChannelName != "" {
		it.names = []string{ev.ChannelName}
	}
	h.mu.Lock()
	h.stats.Published++
	if lc := h.live[ev.Channel]; lc != nil {
		it.call = lc.call
	}
	h.add(it, false)
	h.unlock()
	h.poke()
}
