package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/transcript"
)

// Errors of Run.
var (
	ErrRedacted = errors.New("replay: the transcript's DTMF is redacted")
	ErrEmpty    = errors.New("replay: the transcript has no argv")
)

// Ends of a session, the last line compared.
const (
	EndExit       = "end: E"
	EndHangupCmd  = "end: H"
	EndExitQuiet  = "end: X"
	EndHangup     = "end: hangup"
	EndClosed     = "end: script closed"
	EndStillAlive = "end: script still running"
)

// anchor names a point of a session: the n-th (from 1) record of a kind.
// Kinds: "command", "event" (not the caller's), "play", "played",
// "caller"; {"start", 0} is the session's start.
type anchor struct {
	kind string
	n    int
}

type action struct {
	tag    byte // the event's tag: a digit, 'H' or 'I'
	after  anchor
	delay  time.Duration // recorded time since the anchor
	record int           // index in the transcript, for messages
}

// model is what a transcript tells about its call.
type model struct {
	argv      []string
	opts      eivr.Options
	known     map[string]bool          // files accepted by S/A
	missing   map[string]bool          // files answered Z
	durations map[string]time.Duration // files played to their end
	callLen   time.Duration
	gValues   map[string][]string // values of recorded G replies, per name, in order
	actions   []action
	commands  []string // recorded commands, normalised; then the end line
	warnings  []string
}

func kindOf(r transcript.Record) string {
	if r.Type == transcript.TypeEvent && r.Caller != "" {
		return "caller"
	}
	return r.Type
}

func newModel(t *transcript.Transcript) (*model, error) {
	if len(t.Header.Argv) == 0 {
		return nil, ErrEmpty
	}
	m := &model{
		argv:      t.Header.Argv,
		known:     map[string]bool{},
		missing:   map[string]bool{},
		durations: map[string]time.Duration{},
		gValues:   map[string][]string{},
	}
	if t.Header.Options != "" {
		if app, err := eivr.ParseAppData("x()," + t.Header.Options); err == nil {
			m.opts = app.Options
		}
	}
	red := t.Header.Redaction.NewRedactor()
	counts := map[string]int{}
	prev := anchor{"start", 0}
	var prevAt time.Duration
	started := map[string]time.Duration{}
	var gPending [][]string
	end := ""
	for i, r := range t.Records {
		k := kindOf(r)
		switch r.Type {
		case transcript.TypeCommand:
			line, ok := normalise(r.Line, red)
			if !ok {
				continue
			}
			m.commands = append(m.commands, line)
			c, _ := eivr.ParseCommand([]byte(r.Line))
			switch c.Letter {
			case eivr.CmdPlay, eivr.CmdAppend:
				m.known[c.File()] = true
			case eivr.CmdGetVars:
				var names []string
				for n := range eivr.GetNames(c.Param) {
					names = append(names, n)
				}
				gPending = append(gPending, names)
			case eivr.CmdExit:
				end = EndExit
			case eivr.CmdHangup:
				end = EndHangupCmd
			case eivr.CmdExitQuiet:
				end = EndExitQuiet
			}
		case transcript.TypeEvent:
			if len(r.Line) < 2 {
				continue
			}
			tag, rest := r.Line[0], r.Line[2:]
			if r.Caller != "" {
				if r.Caller == transcript.CallerDTMF && tag == transcript.RedactedDigit {
					return nil, fmt.Errorf("%w (record %d): the digits are not known", ErrRedacted, i+2)
				}
				m.actions = append(m.actions, action{tag: tag, after: prev, delay: r.At() - prevAt, record: i})
				if r.Caller == transcript.CallerHangup && tag == 'H' {
					end = EndHangup
				}
				break
			}
			_, data, _ := strings.Cut(rest, ",")
			switch tag {
			case 'Z':
				if data != "" {
					m.missing[data] = true
				}
			case 'G':
				if len(gPending) > 0 {
					names := gPending[0]
					gPending = gPending[1:]
					if values, ok := transcript.SplitGetReply(names, data); ok {
						for j, n := range names {
							m.gValues[n] = append(m.gValues[n], values[j])
						}
					}
				}
			}
		case transcript.TypePlay:
			m.known[r.File] = true
			started[r.File] = r.At()
		case transcript.TypePlayed:
			if s, ok := started[r.File]; ok && !r.Interrupted {
				if _, seen := m.durations[r.File]; !seen {
					m.durations[r.File] = r.At() - s
				}
			}
			delete(started, r.File)
		case transcript.TypeEnd:
			m.callLen = time.Duration(r.DurationUS) * time.Microsecond
			if r.Dropped > 0 || r.Truncated {
				m.warnings = append(m.warnings, fmt.Sprintf("the transcript is incomplete (%d records dropped): the replay may differ", r.Dropped))
			}
			continue
		}
		counts[k]++
		prev = anchor{k, counts[k]}
		prevAt = r.At()
	}
	if _, ok := t.End(); !ok {
		m.warnings = append(m.warnings, "the transcript has no end record (cut short)")
	}
	if m.callLen <= 0 {
		m.callLen = prevAt
	}
	for f := range m.missing {
		delete(m.known, f)
	}
	if end == "" {
		end = EndClosed
	}
	m.commands = append(m.commands, end)
	return m, nil
}

// normalise frames a command line as the reader does, applies the
// redaction and makes it what a JSON transcript would hold (invalid UTF-8
// replaced). ok is false for a line the reader ignores.
func normalise(line string, red *transcript.Redactor) (string, bool) {
	c, ok := eivr.ParseCommand([]byte(line))
	if !ok {
		return "", false
	}
	s := red.Line(false, c.String())
	var back string
	if b, err := json.Marshal(s); err == nil && json.Unmarshal(b, &back) == nil {
		s = back
	}
	return s, true
}
