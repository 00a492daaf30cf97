package transcript

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Version is the format version this package writes and reads.
const Version = 1

// Record types.
const (
	TypeHeader  = "header"
	TypeCommand = "command" // a line the script wrote
	TypeEvent   = "event"   // a line sent to the script
	TypePlay    = "play"    // a playback started
	TypePlayed  = "played"  // a playback ended
	TypeEnd     = "end"     // how the session ended; the last record
)

// Caller marks of an event record.
const (
	CallerDTMF   = "dtmf"
	CallerHangup = "hangup"
)

// Errors of Read.
var (
	ErrVersion   = errors.New("transcript: unsupported version")
	ErrNoHeader  = errors.New("transcript: no header line")
	ErrBadRecord = errors.New("transcript: bad record")
)

// Header is the first line of a transcript.
type Header struct {
	V           int       `json:"v"`
	Type        string    `json:"type"`
	App         string    `json:"app"`
	Channel     string    `json:"channel"`
	ChannelName string    `json:"channel_name,omitempty"`
	Session     string    `json:"session"`
	CallerNum   string    `json:"caller_num,omitempty"`
	CallerName  string    `json:"caller_name,omitempty"`
	Argv        []string  `json:"argv"`
	Options     string    `json:"options,omitempty"`
	Started     time.Time `json:"started"`
	Redaction   Redaction `json:"redaction"`
}

// Record is one line after the header.
type Record struct {
	US   int64  `json:"us"` // microseconds since the session started
	Type string `json:"type"`
	// command, event
	Line   string `json:"line,omitempty"`
	Caller string `json:"caller,omitempty"` // event: CallerDTMF, CallerHangup
	// play, played
	File        string `json:"file,omitempty"`
	Interrupted bool   `json:"interrupted,omitempty"`
	// end
	Served     bool   `json:"served,omitempty"`
	Status     string `json:"status,omitempty"`
	Cause      string `json:"cause,omitempty"`
	DurationUS int64  `json:"duration_us,omitempty"`
	Dropped    int64  `json:"dropped,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
}

// At is the record's time since the session started.
func (r Record) At() time.Duration { return time.Duration(r.US) * time.Microsecond }

// Transcript is a parsed file.
type Transcript struct {
	Header  Header
	Records []Record
}

// End returns the end record, if the file has one.
func (t *Transcript) End() (Record, bool) {
	if n := len(t.Records); n > 0 && t.Records[n-1].Type == TypeEnd {
		return t.Records[n-1], true
	}
	return Record{}, false
}

// maxLine bounds one line of a transcript file when reading.
const maxLine = 1 << 20

// Read parses a transcript. Errors wrap ErrNoHeader, ErrVersion or
// ErrBadRecord and name the line.
func Read(r io.Reader) (*Transcript, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	t := &Transcript{}
	n := 0
	for sc.Scan() {
		n++
		b := sc.Bytes()
		if n == 1 {
			if err := json.Unmarshal(b, &t.Header); err != nil || t.Header.Type != TypeHeader {
				return nil, fmt.Errorf("line 1: %w", ErrNoHeader)
			}
			if t.Header.V != Version {
				return nil, fmt.Errorf("line 1: %w: %d (want %d)", ErrVersion, t.Header.V, Version)
			}
			continue
		}
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w: %v", n, ErrBadRecord, err)
		}
		if err := rec.check(); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if len(t.Records) > 0 && t.Records[len(t.Records)-1].Type == TypeEnd {
			return nil, fmt.Errorf("line %d: %w: a record after the end record", n, ErrBadRecord)
		}
		t.Records = append(t.Records, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w: %v", n+1, ErrBadRecord, err)
	}
	if n == 0 {
		return nil, ErrNoHeader
	}
	return t, nil
}

func (r Record) check() error {
	if r.US < 0 {
		return fmt.Errorf("%w: negative time", ErrBadRecord)
	}
	switch r.Type {
	case TypeCommand, TypeEvent:
		if r.Line == "" {
			return fmt.Errorf("%w: %s without a line", ErrBadRecord, r.Type)
		}
	case TypePlay, TypePlayed:
		if r.File == "" {
			return fmt.Errorf("%w: %s without a file", ErrBadRecord, r.Type)
		}
	case TypeEnd:
	default:
		return fmt.Errorf("%w: unknown type %q", ErrBadRecord, r.Type)
	}
	return nil
}

// appendJSON appends v as one JSON line.
func appendJSON(dst []byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // our own types always marshal; never write half a line
		return dst
	}
	return append(append(dst, b...), '\n')
}
