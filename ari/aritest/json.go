package aritest

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// tsLayout is Asterisk's ARI timestamp format: milliseconds and a numeric
// zone without a colon ("2026-11-23T18:02:35.545+0000").
const tsLayout = "2006-01-02T15:04:05.000-0700"

func formatTS(t time.Time) string { return t.UTC().Format(tsLayout) }

// callerJSON, dialplanJSON and channelJSON reproduce Asterisk's Channel
// object field for field and in the same order.
type callerJSON struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

type dialplanJSON struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int64  `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

type channelJSON struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	State        string       `json:"state"`
	ProtocolID   string       `json:"protocol_id"`
	Caller       callerJSON   `json:"caller"`
	Connected    callerJSON   `json:"connected"`
	AccountCode  string       `json:"accountcode"`
	Dialplan     dialplanJSON `json:"dialplan"`
	CreationTime string       `json:"creationtime"`
	Language     string       `json:"language"`
}

type playbackJSON struct {
	ID           string `json:"id"`
	MediaURI     string `json:"media_uri"`
	NextMediaURI string `json:"next_media_uri,omitempty"`
	TargetURI    string `json:"target_uri"`
	Language     string `json:"language"`
	State        string `json:"state"`
}

type applicationJSON struct {
	Name             string   `json:"name"`
	ChannelIDs       []string `json:"channel_ids"`
	BridgeIDs        []string `json:"bridge_ids"`
	EndpointIDs      []string `json:"endpoint_ids"`
	DeviceNames      []string `json:"device_names"`
	EventsAllowed    []any    `json:"events_allowed"`
	EventsDisallowed []any    `json:"events_disallowed"`
}

type formatLangJSON struct {
	Language string `json:"language"`
	Format   string `json:"format"`
}

type soundJSON struct {
	ID      string           `json:"id"`
	Formats []formatLangJSON `json:"formats"`
}

// kv is one field of an event object; events are written field by field so
// that their key order matches Asterisk's.
type kv struct {
	k string
	v any
}

// encodeEvent writes an ARI event the way Asterisk 22.10.1 does: the
// type-specific fields that Asterisk adds before "type" (pre), then "type"
// and "timestamp", the remaining fields (post), and finally "asterisk_id"
// and "application" (ApplicationReplaced has them the other way round).
func encodeEvent(typ string, ts time.Time, asteriskID, app string, pre, post []kv) []byte {
	b := make([]byte, 0, 768)
	b = append(b, '{')
	first := true
	field := func(k string, v any) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendValue(b, v)
	}
	for _, f := range pre {
		field(f.k, f.v)
	}
	field("type", typ)
	field("timestamp", formatTS(ts))
	for _, f := range post {
		field(f.k, f.v)
	}
	if typ == "ApplicationReplaced" {
		field("application", app)
		field("asterisk_id", asteriskID)
	} else {
		field("asterisk_id", asteriskID)
		field("application", app)
	}
	return append(b, '}')
}

// appendValue writes the values events carry without reflection; anything
// else goes through encoding/json.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendString(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case bool:
		return strconv.AppendBool(b, v)
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case callerJSON:
		b = append(b, `{"name":`...)
		b = appendString(b, v.Name)
		b = append(b, `,"number":`...)
		b = appendString(b, v.Number)
		return append(b, '}')
	case channelJSON:
		b = append(b, `{"id":`...)
		b = appendString(b, v.ID)
		b = append(b, `,"name":`...)
		b = appendString(b, v.Name)
		b = append(b, `,"state":`...)
		b = appendString(b, v.State)
		b = append(b, `,"protocol_id":`...)
		b = appendString(b, v.ProtocolID)
		b = append(b, `,"caller":`...)
		b = appendValue(b, v.Caller)
		b = append(b, `,"connected":`...)
		b = appendValue(b, v.Connected)
		b = append(b, `,"accountcode":`...)
		b = appendString(b, v.AccountCode)
		b = append(b, `,"dialplan":{"context":`...)
		b = appendString(b, v.Dialplan.Context)
		b = append(b, `,"exten":`...)
		b = appendString(b, v.Dialplan.Exten)
		b = append(b, `,"priority":`...)
		b = strconv.AppendInt(b, v.Dialplan.Priority, 10)
		b = append(b, `,"app_name":`...)
		b = appendString(b, v.Dialplan.AppName)
		b = append(b, `,"app_data":`...)
		b = appendString(b, v.Dialplan.AppData)
		b = append(b, `},"creationtime":`...)
		b = appendString(b, v.CreationTime)
		b = append(b, `,"language":`...)
		b = appendString(b, v.Language)
		return append(b, '}')
	case playbackJSON:
		b = append(b, `{"id":`...)
		b = appendString(b, v.ID)
		b = append(b, `,"media_uri":`...)
		b = appendString(b, v.MediaURI)
		if v.NextMediaURI != "" {
			b = append(b, `,"next_media_uri":`...)
			b = appendString(b, v.NextMediaURI)
		}
		b = append(b, `,"target_uri":`...)
		b = appendString(b, v.TargetURI)
		b = append(b, `,"language":`...)
		b = appendString(b, v.Language)
		b = append(b, `,"state":`...)
		b = appendString(b, v.State)
		return append(b, '}')
	}
	enc, err := json.Marshal(v)
	if err != nil { // only our own types are encoded; cannot happen
		return append(b, "null"...)
	}
	return append(b, enc...)
}

// appendString writes s as a JSON string (valid UTF-8 passes through;
// quotes, backslashes and control characters are escaped).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 { // invalid UTF-8: U+FFFD, like encoding/json
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				start = i + 1
			} else {
				i += size - 1
			}
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
