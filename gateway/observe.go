package gateway

import (
	"net/url"
	"strings"
	"time"
)

// Observer is told about every session: the metrics, the demo's
// transcript, call transcripts and the live call view are observers; the
// cmd assembles them (Observers). Every method is called on the session's
// own goroutine, in the order things happened to that session, and must
// return quickly without blocking (hand the value to a bounded queue of
// your own): a slow observer delays that call only. Values are copies the
// observer may keep.
type Observer interface {
	// SessionStarted: a session got its client (program started or TCP
	// server connected). Refused calls (DENIED, BADARGS, LIMIT, DRAINING)
	// and sessions whose client could not be reached (START_FAILED,
	// BADOPTION, a channel gone before the answer, a shutdown while
	// connecting) are reported by SessionEnded only (Report.Served false).
	SessionStarted(SessionInfo)
	// SessionLine: a line exchanged with the client (a command as the
	// reader framed it, unknown letters included; an event line once
	// handed to the client's queue).
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
	Target      string    // argv[0]: program path or ivr:// URL (credentials redacted)
	Argv        []string  // the parsed application string (credentials redacted)
	Options     string    // the options in effect, in the order "nid" (e.g. "n", "id"; "" for none)
	Started     time.Time // when the gateway took the call (Report.Started)
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
// (wrapped, with detail), or the shutdown's context cause: test it with
// errors.Is, never by its text.
type Report struct {
	App      string
	Channel  string
	Session  string
	Served   bool   // the session got a client (SessionStarted was called)
	Status   string // EIVRGW_STATUS set on the channel ("" for none)
	Cause    error
	Started  time.Time     // when the gateway took the call
	Duration time.Duration // until the end sequence was done
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

// info is the SessionInfo of s (on the session goroutine, once it has its
// client).
func (s *session) info() SessionInfo {
	argv := redactArgv(s.app.argv)
	target := ""
	if len(argv) > 0 {
		target = argv[0]
	}
	return SessionInfo{
		App: s.appName, Channel: s.ch, ChannelName: s.first.Name, Session: s.id,
		CallerNum: s.first.Caller.Number, CallerName: s.first.Caller.Name,
		Target: target, Argv: argv, Options: s.app.options(), Started: s.started,
	}
}

// options renders the option letters in effect.
func (a appSpec) options() string {
	var b []byte
	if a.noAnswer {
		b = append(b, 'n')
	}
	if a.ignoreHangup {
		b = append(b, 'i')
	}
	if a.runDead {
		b = append(b, 'd')
	}
	return string(b)
}

// redactedSecret replaces a password in an argument.
const redactedSecret = "xxxxx"

// redactArgv returns a copy of argv with the password of every URL
// argument ("scheme://user:secret@host...") replaced: observers keep and
// show these values.
func redactArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = redactURL(a)
	}
	return out
}

func redactURL(a string) string {
	if !strings.Contains(a, "://") || !strings.Contains(a, "@") {
		return a
	}
	u, err := url.Parse(a)
	if err != nil || u.User == nil {
		return a
	}
	if _, has := u.User.Password(); !has {
		return a
	}
	u.User = url.UserPassword(u.User.Username(), redactedSecret)
	return u.String()
}

// notePlayback tells the observer that file started or ended.
func (s *session) notePlayback(file string, started, interrupted bool) {
	if o := s.env.obs; o != nil {
		o.SessionPlayback(PlaybackNote{Channel: s.ch, Session: s.id, File: file, Started: started, Interrupted: interrupted, At: time.Now()})
	}
}

// haltPlaylist stops the generator for good (playlist.halt) and notes the
// outstanding playback, if any, as interrupted; it returns its id.
func (s *session) haltPlaylist() string {
	file := s.pl.cur.file
	id := s.pl.halt()
	if id != "" {
		s.notePlayback(file, false, true)
	}
	return id
}
