package eivr

import (
	"bytes"
	"strconv"
	"time"
)

// Event tags (eivr-protocol.md §5). DTMF digits are their own tag: see IsDTMF.
const (
	TagHangup      byte = 'H' // hangup detected, or echo of H; always last
	TagExit        byte = 'E' // echo of E; always last
	TagInform      byte = 'I' // I,<ts>,HANGUP with option i, at most once
	TagError       byte = 'Z' // a command failed: file name, *_FAILURE or no data
	TagInterrupted byte = 'T' // T,<ts>,<file>: the playing file was interrupted
	TagDropped     byte = 'D' // D,<ts>,<file>: a queued file was dropped (D,<ts> is the digit D)
	TagFinished    byte = 'F' // F,<ts>,<file>: a file played to its end
	TagParams      byte = 'P' // reply to P: App.PReply
	TagVars        byte = 'G' // reply to G: GetReply
)

// Event data with a fixed text (§5, §6; §10 Q8: not "…_FAILED" as documented).
const (
	DataHangup           = "HANGUP"            // I,<ts>,HANGUP
	DataAnswerFailure    = "ANSWER_FAILURE"    // Z,<ts>,ANSWER_FAILURE
	DataGeneratorFailure = "GENERATOR_FAILURE" // Z,<ts>,GENERATOR_FAILURE
)

// MaxGReply is the length cap of the G reply's data (§6.1, §10 Q13).
const MaxGReply = 2047

// MaxEventLine bounds the length of an event line we produce from our own
// data: tag, comma, an 11-byte timestamp at most, comma, data, '\n'.
// (Variable values in G replies are capped; file names are capped by
// MaxParam; so every event fits in MaxGReply+16 bytes.)
const MaxEventLine = MaxGReply + 16

// IsDTMF reports whether tag is a DTMF digit event: 0-9, *, #, A-D (§5).
func IsDTMF(tag byte) bool {
	return '0' <= tag && tag <= '9' || tag == '*' || tag == '#' || 'A' <= tag && tag <= 'D'
}

// AppendEvent appends one event line to dst and returns the extended
// buffer: "<tag>,<ts>\n", or "<tag>,<ts>,<data>\n" when data is not empty
// (§4.1). The timestamp is ts in whole Unix seconds, cut to a signed 32-bit
// value (negative after January 2038, as Asterisk's (int)time(NULL)) and
// right-aligned with spaces in 10 columns, exactly printf's "%10d". data is
// copied raw: no escaping, as Asterisk (§10 Q15). It does not allocate when
// dst has room.
func AppendEvent(dst []byte, tag byte, ts time.Time, data string) []byte {
	return appendEvent(dst, tag, int32(ts.Unix()), data)
}

func appendEvent(dst []byte, tag byte, sec int32, data string) []byte {
	var num [16]byte
	digits := strconv.AppendInt(num[:0], int64(sec), 10)
	dst = append(dst, tag, ',')
	for i := len(digits); i < 10; i++ {
		dst = append(dst, ' ')
	}
	dst = append(dst, digits...)
	if data != "" {
		dst = append(dst, ',')
		dst = append(dst, data...)
	}
	return append(dst, '\n')
}

// Event is a parsed event line, as a client reads it.
type Event struct {
	Tag  byte
	Unix int32  // the timestamp field, seconds since 1970 as a signed 32-bit value
	Data string // the third field, "" when the line has only two
}

// Time is the event's timestamp.
func (e Event) Time() time.Time { return time.Unix(int64(e.Unix), 0) }

// Append appends the event's line to dst, as AppendEvent.
func (e Event) Append(dst []byte) []byte { return appendEvent(dst, e.Tag, e.Unix, e.Data) }

// ParseEvent parses one event line as Asterisk writes it (a final '\n' is
// optional): one tag byte, ',', the timestamp in exactly the form of
// printf "%10d" of a 32-bit value, and optionally ',' and non-empty data
// (which may contain anything, commas included: clients split on the first
// two commas only). Anything else is an error wrapping ErrBadEvent. For a
// line it accepts, Event.Append gives back the same bytes.
func ParseEvent(line []byte) (Event, error) {
	s := bytes.TrimSuffix(line, []byte{'\n'})
	bad := func(reason string) (Event, error) {
		return Event{}, parseError(string(line), ErrBadEvent, reason)
	}
	if len(s) < 2 || s[1] != ',' {
		return bad("want <tag>,<timestamp>")
	}
	ev := Event{Tag: s[0]}
	rest := s[2:]
	ts, data, hasData := bytes.Cut(rest, []byte{','})
	v, err := strconv.ParseInt(string(bytes.TrimLeft(ts, " ")), 10, 32)
	if err != nil {
		return bad("timestamp is not a 32-bit decimal number")
	}
	ev.Unix = int32(v)
	var want [16]byte
	if canon := appendEvent(want[:0], 0, ev.Unix, ""); !bytes.Equal(canon[2:len(canon)-1], ts) {
		return bad(`timestamp is not printf "%10d"`)
	}
	if hasData {
		if len(data) == 0 {
			return bad("empty data field")
		}
		ev.Data = string(data)
	}
	return ev, nil
}

// GetReply builds the data of the reply to G exactly as Asterisk does
// (§6.1): "name=value" items joined by ',', the whole cut to MaxGReply
// bytes (possibly in the middle of a value), then one trailing ',' removed.
// Values are copied raw, commas and newlines included. The zero value is
// empty and ready to use.
type GetReply struct{ b []byte }

// Add appends the item name=value.
func (g *GetReply) Add(name, value string) {
	for _, s := range [...]string{name, "=", value, ","} {
		room := MaxGReply - len(g.b)
		if room <= 0 {
			return
		}
		g.b = append(g.b, s[:min(len(s), room)]...)
	}
}

// String is the reply's data.
func (g *GetReply) String() string {
	b := g.b
	if n := len(b); n > 0 && b[n-1] == ',' {
		b = b[:n-1]
	}
	return string(b)
}

// Reset empties the reply, keeping its buffer.
func (g *GetReply) Reset() { g.b = g.b[:0] }
