package aritest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
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
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	field := func(k string, v any) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
		enc, err := json.Marshal(v)
		if err != nil { // only our own types are encoded; cannot happen
			enc = []byte("null")
		}
		b.Write(enc)
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
	b.WriteByte('}')
	return b.Bytes()
}
