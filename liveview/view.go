package liveview

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/eivr-gateway/eivr-gateway/gateway"
)

// Defaults of Options.
const (
	DefaultLinger   = 30 * time.Second
	DefaultMaxCalls = 200
	DefaultMaxLines = 300
	DefaultBuffer   = 512
)

// ErrClosed: the view is closed (the admin listener is shutting down).
var ErrClosed = errors.New("live view closed")

// ErrSlow: a subscriber did not keep up and was cut off.
var ErrSlow = errors.New("live view subscriber too slow")

// Options configure a View. Zero values take the defaults.
type Options struct {
	// Linger is how long an ended call stays in the view. Default 30 s.
	Linger time.Duration
	// MaxCalls bounds the calls kept (live and ended): past it the
	// oldest ended call goes first, then the oldest live one. Default 200.
	MaxCalls int
	// MaxLines bounds the exchange kept per call (the last ones are
	// kept; Call.Dropped counts the others). Default 300.
	MaxLines int
	// Buffer is each subscriber's queue of events: one that falls this
	// far behind is cut off (it reconnects and gets a fresh snapshot).
	// Default 512.
	Buffer int
	// Redact, if set, rewrites every line before the view keeps it: the
	// seam for the transcripts' redaction rules (DTMF, named
	// variables), so the live view never shows what a transcript would
	// not. It is called on the session's goroutine and must be quick.
	Redact func(gateway.WireLine) gateway.WireLine
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Logger receives the view's own lines; nil discards.
	Logger *slog.Logger
}

// Call is one call as the view shows it.
type Call struct {
	Session     string    `json:"session"`
	Channel     string    `json:"channel"`
	ChannelName string    `json:"channelName"`
	App         string    `json:"app"`
	CallerNum   string    `json:"callerNum"`
	CallerName  string    `json:"callerName"`
	Target      string    `json:"target"`
	Args        []string  `json:"args,omitempty"`
	Options     string    `json:"options,omitempty"`
	Started     time.Time `json:"started"`
	// State: "in script", "playing <file>", "ended" or "refused".
	State string `json:"state"`
	// Playing is the file playing now ("" for none).
	Playing string `json:"playing,omitempty"`
	// Set once the call ended.
	Ended  *time.Time `json:"ended,omitempty"`
	Status string     `json:"status,omitempty"` // EIVRGW_STATUS
	Cause  string     `json:"cause,omitempty"`  // how the session ended
	// Lines: in a snapshot only, the exchange so far (at most
	// Options.MaxLines, Dropped before them).
	Lines   []Line `json:"lines,omitempty"`
	Dropped int    `json:"dropped,omitempty"`
}

// Line is one line of a call's exchange.
type Line struct {
	// Dir: "to" (an event line sent to the script), "from" (a command
	// read from it) or "note" (a playback starting or ending).
	Dir  string    `json:"dir"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// Event is one message of the stream, in the order things happened.
type Event struct {
	Seq  uint64 `json:"seq"`
	Type string `json:"type"` // "hello", "call", "line", "gone", "bye"
	// hello: the snapshot of every call kept, and Linger in ms.
	Calls  []Call `json:"calls,omitempty"`
	Linger int64  `json:"linger,omitempty"`
	// call: a call started, changed state or ended (without Lines).
	Call *Call `json:"call,omitempty"`
	// line and gone: the session it is about.
	Session string `json:"session,omitempty"`
	Line    *Line  `json:"line,omitempty"`
	// bye: why the stream ends.
	Reason string `json:"reason,omitempty"`
}

// View is the model of the live call view: the calls kept and the
// subscribers their changes are sent to. It is a gateway.Observer; every
// method returns at once (a subscriber that does not keep up is cut off,
// never waited for). Safe for concurrent use.
type View struct {
	opt Options

	mu     sync.Mutex // guards everything below; never held across a call out of the package
	calls  map[string]*entry
	order  []string // sessions, oldest first
	seq    uint64
	subs   map[*Sub]struct{}
	closed bool
}

type entry struct {
	call  Call
	lines []Line // ring of at most MaxLines: the last ones
	ended time.Time
}

// New returns an empty View.
func New(opt Options) *View {
	if opt.Linger <= 0 {
		opt.Linger = DefaultLinger
	}
	if opt.MaxCalls <= 0 {
		opt.MaxCalls = DefaultMaxCalls
	}
	if opt.MaxLines <= 0 {
		opt.MaxLines = DefaultMaxLines
	}
	if opt.Buffer <= 0 {
		opt.Buffer = DefaultBuffer
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &View{opt: opt, calls: map[string]*entry{}, subs: map[*Sub]struct{}{}}
}

var _ gateway.Observer = (*View)(nil)

// SessionStarted implements gateway.Observer.
func (v *View) SessionStarted(s gateway.SessionInfo) {
	c := Call{
		Session: s.Session, Channel: s.Channel, ChannelName: s.ChannelName, App: s.App,
		CallerNum: s.CallerNum, CallerName: s.CallerName, Target: s.Target, Options: s.Options,
		Started: s.Started, State: "in script",
	}
	if len(s.Argv) > 1 {
		c.Args = append([]string(nil), s.Argv[1:]...)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.prune()
	if e, ok := v.calls[s.Session]; ok { // a repeated start: update it
		c.Lines, c.Dropped = nil, e.call.Dropped
		e.call = c
	} else {
		v.add(&entry{call: c})
	}
	cc := c
	v.publish(Event{Type: "call", Call: &cc})
}

// SessionLine implements gateway.Observer.
func (v *View) SessionLine(w gateway.WireLine) {
	if v.opt.Redact != nil {
		w = v.opt.Redact(w)
	}
	dir := "from"
	if w.Sent {
		dir = "to"
	}
	v.line(w.Session, Line{Dir: dir, Text: w.Line, At: w.At})
}

// SessionPlayback implements gateway.Observer.
func (v *View) SessionPlayback(p gateway.PlaybackNote) {
	text := "playing " + p.File
	switch {
	case p.Started:
	case p.Interrupted:
		text = "stopped " + p.File
	default:
		text = "played " + p.File
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.calls[p.Session]
	if !ok {
		return
	}
	v.appendLine(e, Line{Dir: "note", Text: text, At: p.At})
	if e.ended.IsZero() {
		if p.Started {
			e.call.Playing, e.call.State = p.File, "playing "+p.File
		} else if e.call.Playing == p.File {
			e.call.Playing, e.call.State = "", "in script"
		}
		cc := e.call
		v.publish(Event{Type: "call", Call: &cc})
	}
}

// SessionEnded implements gateway.Observer. A refused call (no
// SessionStarted) shows too, as "refused".
func (v *View) SessionEnded(r gateway.Report) {
	now := v.opt.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.prune()
	e, ok := v.calls[r.Session]
	if !ok {
		e = &entry{call: Call{Session: r.Session, Channel: r.Channel, App: r.App, Started: r.Started}}
		v.add(e)
	}
	e.ended = now
	end := r.Started.Add(r.Duration)
	if r.Started.IsZero() {
		end = now
	}
	e.call.Ended = &end
	e.call.State = "ended"
	if !r.Served {
		e.call.State = "refused"
	}
	e.call.Playing = ""
	e.call.Status = r.Status
	if r.Cause != nil {
		e.call.Cause = r.Cause.Error()
	}
	cc := e.call
	v.publish(Event{Type: "call", Call: &cc})
}

func (v *View) line(session string, l Line) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.calls[session]
	if !ok {
		return // a line of a call the view no longer keeps
	}
	v.appendLine(e, l)
}

// appendLine keeps l in e and publishes it. v.mu held.
func (v *View) appendLine(e *entry, l Line) {
	if len(e.lines) >= v.opt.MaxLines {
		copy(e.lines, e.lines[1:])
		e.lines = e.lines[:len(e.lines)-1]
		e.call.Dropped++
	}
	e.lines = append(e.lines, l)
	ll := l
	v.publish(Event{Type: "line", Session: e.call.Session, Line: &ll})
}

// add keeps e, making room under MaxCalls. v.mu held.
func (v *View) add(e *entry) {
	for len(v.order) >= v.opt.MaxCalls {
		victim := 0
		for i, s := range v.order {
			if !v.calls[s].ended.IsZero() {
				victim = i
				break
			}
		}
		v.drop(victim)
	}
	v.calls[e.call.Session] = e
	v.order = append(v.order, e.call.Session)
}

// prune drops the ended calls older than Linger. v.mu held.
func (v *View) prune() {
	now := v.opt.Now()
	for i := 0; i < len(v.order); {
		e := v.calls[v.order[i]]
		if !e.ended.IsZero() && now.Sub(e.ended) >= v.opt.Linger {
			v.drop(i)
			continue
		}
		i++
	}
}

// drop forgets the call at order[i] and tells the subscribers. v.mu held.
func (v *View) drop(i int) {
	s := v.order[i]
	delete(v.calls, s)
	v.order = append(v.order[:i], v.order[i+1:]...)
	v.publish(Event{Type: "gone", Session: s})
}

// publish numbers ev and queues it to every subscriber, cutting off one
// whose queue is full. v.mu held.
func (v *View) publish(ev Event) {
	v.seq++
	ev.Seq = v.seq
	for s := range v.subs {
		select {
		case s.ch <- ev:
		default:
			delete(v.subs, s)
			s.err = ErrSlow
			close(s.ch)
			v.opt.Logger.Warn("live view: a subscriber fell behind; cut off (its page reconnects)", "buffer", v.opt.Buffer)
		}
	}
}

// Snapshot returns the calls kept, oldest first, each with its lines.
func (v *View) Snapshot() []Call {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.prune()
	return v.snapshot()
}

func (v *View) snapshot() []Call {
	out := make([]Call, 0, len(v.order))
	for _, s := range v.order {
		e := v.calls[s]
		c := e.call
		c.Lines = append([]Line(nil), e.lines...)
		out = append(out, c)
	}
	return out
}

// Sub is one subscriber of the view's stream.
type Sub struct {
	v   *View
	ch  chan Event
	err error // why ch was closed; written under v.mu before close(ch)
}

// Subscribe returns a subscriber whose first event is the hello with the
// snapshot, then every change in order. Close it when done.
func (v *View) Subscribe() (*Sub, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	v.prune()
	s := &Sub{v: v, ch: make(chan Event, v.opt.Buffer+1)}
	s.ch <- Event{Seq: v.seq, Type: "hello", Calls: v.snapshot(), Linger: v.opt.Linger.Milliseconds()}
	v.subs[s] = struct{}{}
	return s, nil
}

// Events is the subscriber's stream; it is closed when the subscriber is
// cut off (Err says why) or closed.
func (s *Sub) Events() <-chan Event { return s.ch }

// Err says why Events was closed: ErrSlow, ErrClosed, or nil after Close.
func (s *Sub) Err() error {
	s.v.mu.Lock()
	defer s.v.mu.Unlock()
	return s.err
}

// Close ends the subscription. Calling it again does nothing.
func (s *Sub) Close() {
	s.v.mu.Lock()
	defer s.v.mu.Unlock()
	if _, ok := s.v.subs[s]; ok {
		delete(s.v.subs, s)
		close(s.ch)
	}
}

// Close ends every subscription (ErrClosed) and refuses new ones; the
// view still takes calls (the sessions may outlive the admin listener).
func (v *View) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	for s := range v.subs {
		delete(v.subs, s)
		s.err = ErrClosed
		close(s.ch)
	}
}
