package liveview

import (
	"sync"

	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/transcript"
)

// Redact returns an Observer that tells next everything, with each
// session's lines redacted by the rules of its app (rules returns them;
// the transcripts' redaction, package transcript): the seam in front of
// what feeds the live view (the cmd's adapter to cti.Hub.Publish), so
// the page never shows what a transcript would not. A session whose app
// has no rule passes unchanged. nil next gives nil.
func Redact(next gateway.Observer, rules func(app string) transcript.Redaction) gateway.Observer {
	if next == nil {
		return nil
	}
	return &redacting{next: next, rules: rules, sessions: map[string]*transcript.Redactor{}}
}

type redacting struct {
	next  gateway.Observer
	rules func(app string) transcript.Redaction

	mu       sync.Mutex // guards sessions; not held while calling next
	sessions map[string]*transcript.Redactor
}

func (r *redacting) SessionStarted(s gateway.SessionInfo) {
	if rules := r.rules(s.App); rules.Enabled() {
		r.mu.Lock()
		r.sessions[s.Session] = rules.NewRedactor()
		r.mu.Unlock()
	}
	r.next.SessionStarted(s)
}

func (r *redacting) SessionLine(l gateway.WireLine) {
	r.mu.Lock()
	red := r.sessions[l.Session]
	r.mu.Unlock()
	if red != nil { // used by this session's goroutine only
		l.Line = red.Line(l.Sent, l.Line)
	}
	r.next.SessionLine(l)
}

func (r *redacting) SessionPlayback(p gateway.PlaybackNote) { r.next.SessionPlayback(p) }

func (r *redacting) SessionEnded(rep gateway.Report) {
	r.mu.Lock()
	delete(r.sessions, rep.Session)
	r.mu.Unlock()
	r.next.SessionEnded(rep)
}
