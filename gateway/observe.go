package gateway

import "time"

// Observer is told about every session: the metrics, the demo's
// transcript, call transcripts and the live call view are observers; the
// cmd assembles them (Observers). Every method is called on the session's
// own goroutine, in the order things happened to that session, and must
// return quickly without blocking (hand the value to a bounded queue of
// your own): a slow observer delays that call only. Values are copies the
// observer may keep.
type Observer interface {
	// SessionStarted: a session got its client (program started or TCP
	// server connected). Refused calls are reported by SessionEnded only
	// (Report.Served false).
	SessionStarted(SessionInfo)
	// SessionLine: a line exchanged with the client (a command as the
	// reader framed it, an event line once written).
	SessionLine(WireLine)
	// SessionPlayback: a file of the playlist started or ended on the
	// channel.
	SessionPlayback(PlaybackNote)
	// SessionEnded: the session is over (its end sequence done).
	SessionEnded(Report)
}

// SessionInfo names a session and its call.
type SessionInfo struct {
	App         string // the Stasis application
	Channel     string // ARI channel id
	ChannelName string // e.g. PJSIP/1000-00000001
	Session     string // the gateway's session id (log field "session")
	CallerNum   string
	CallerName  string
	Target      string   // argv[0]: program path or ivr:// URL (credentials redacted)
	Argv        []string // the parsed application string (credentials redacted)
	Options     string   // the options argument as given
	Started     time.Time
}

// WireLine is one line between a session and its client, without its
// '\n'.
type WireLine struct {
	Channel string
	Session string
	Sent    bool // an event line sent to the client; false: a command read from it
	Line    string
	At      time.Time
}

// PlaybackNote is one file of a session's playlist starting or ending.
type PlaybackNote struct {
	Channel string
	Session string
	File    string // the sound as the client named it
	Started bool   // true: the playback started; false: it ended
	// Interrupted: it ended early (stopped by a command, or the caller
	// hung up); false with Started false: it played to its end.
	Interrupted bool
	At          time.Time
}

// Report is how a session ended. Cause is one of this package's Err*
// (wrapped, with detail): test it with errors.Is, never by its text.
type Report struct {
	App      string
	Channel  string
	Session  string
	Served   bool   // the session got a client (SessionStarted was called)
	Status   string // EIVRGW_STATUS set on the channel ("" for none)
	Cause    error
	Started  time.Time
	Duration time.Duration
}

// Observers returns an Observer that tells each of obs in turn (nil
// entries skipped); nil when none is left.
func Observers(obs ...Observer) Observer {
	var list multiObserver
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return list
}

type multiObserver []Observer

func (m multiObserver) SessionStarted(v SessionInfo) {
	for _, o := range m {
		o.SessionStarted(v)
	}
}

func (m multiObserver) SessionLine(v WireLine) {
	for _, o := range m {
		o.SessionLine(v)
	}
}

func (m multiObserver) SessionPlayback(v PlaybackNote) {
	for _, o := range m {
		o.SessionPlayback(v)
	}
}

func (m multiObserver) SessionEnded(v Report) {
	for _, o := range m {
		o.SessionEnded(v)
	}
}
