package ari

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/recordings"
)

// The reference decoder: encoding/json into shadow structs with the ARI
// field names, converted to Event. It is what Decode must agree with.

type refCallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

type refDialplan struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int64  `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

type refChannel struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	State       string            `json:"state"`
	Language    string            `json:"language"`
	Caller      refCallerID       `json:"caller"`
	Connected   refCallerID       `json:"connected"`
	Dialplan    refDialplan       `json:"dialplan"`
	ChannelVars map[string]string `json:"channelvars"`
}

type refPlayback struct {
	ID           string `json:"id"`
	MediaURI     string `json:"media_uri"`
	NextMediaURI string `json:"next_media_uri"`
	TargetURI    string `json:"target_uri"`
	Language     string `json:"language"`
	State        string `json:"state"`
}

type refEvent struct {
	Type           string       `json:"type"`
	Application    string       `json:"application"`
	AsteriskID     string       `json:"asterisk_id"`
	Timestamp      string       `json:"timestamp"`
	Channel        refChannel   `json:"channel"`
	ReplaceChannel *refChannel  `json:"replace_channel"`
	Args           []string     `json:"args"`
	Playback       *refPlayback `json:"playback"`
	Digit          string       `json:"digit"`
	DurationMs     *int         `json:"duration_ms"`
	Duration       *int         `json:"duration"`
	Variable       string       `json:"variable"`
	Value          string       `json:"value"`
	Cause          int          `json:"cause"`
	CauseTxt       string       `json:"cause_txt"`
	TechCause      int          `json:"tech_cause"`
	Soft           bool         `json:"soft"`
	Peer           *refChannel  `json:"peer"`
	Caller         *refChannel  `json:"caller"`
	DialStatus     string       `json:"dialstatus"`
	DialString     string       `json:"dialstring"`
	Forward        string       `json:"forward"`
	MusicClass     string       `json:"musicclass"`
}

func refTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return time.Time{}
		}
	}
	return t.UTC()
}

func (c refChannel) event() Channel {
	return Channel{
		ID: c.ID, Name: c.Name, State: c.State, Language: c.Language,
		Caller:      CallerID(c.Caller),
		Connected:   CallerID(c.Connected),
		Dialplan:    DialplanCEP(c.Dialplan),
		ChannelVars: c.ChannelVars,
	}
}

func (c *refChannel) ptr() *Channel {
	if c == nil {
		return nil
	}
	ch := c.event()
	return &ch
}

func (r *refEvent) event(frame []byte) Event {
	ev := Event{
		Kind: kindOf(r.Type), Type: r.Type, Application: r.Application, AsteriskID: r.AsteriskID,
		Timestamp: refTime(r.Timestamp), Channel: r.Channel.event(), ReplaceChannel: r.ReplaceChannel.ptr(),
		Args: r.Args, Playback: (*Playback)(r.Playback), Digit: r.Digit, Variable: r.Variable, Value: r.Value,
		Cause: r.Cause, CauseTxt: r.CauseTxt, TechCause: r.TechCause, Soft: r.Soft,
		Peer: r.Peer.ptr(), Caller: r.Caller.ptr(), DialStatus: r.DialStatus, DialString: r.DialString,
		Forward: r.Forward, MusicClass: r.MusicClass, Raw: frame,
	}
	if r.Duration != nil {
		ev.DurationMs = *r.Duration
	}
	if r.DurationMs != nil {
		ev.DurationMs = *r.DurationMs
	}
	return ev
}

// decodeStd is the encoding/json reference (also the baseline benchmark).
func decodeStd(frame []byte, ev *Event) error {
	var r refEvent
	if err := json.Unmarshal(frame, &r); err != nil {
		return err
	}
	*ev = r.event(frame)
	return nil
}

// sameEvent compares field by field (times with Equal, Args nil == empty).
func sameEvent(t testing.TB, name string, got, want *Event) {
	t.Helper()
	g, w := *got, *want
	if !g.Timestamp.Equal(w.Timestamp) {
		t.Errorf("%s: Timestamp = %v, want %v", name, g.Timestamp, w.Timestamp)
	}
	// The optional channels are compared by value (copies: g and w are
	// copies of the events, the channels they point to are not).
	opt := func(what string, g, w **Channel) {
		if (*g == nil) != (*w == nil) {
			t.Errorf("%s: %s = %v, want %v", name, what, *g, *w)
			*g, *w = nil, nil
			return
		}
		if *g != nil {
			gc, wc := **g, **w
			*g, *w = &gc, &wc
		}
	}
	opt("ReplaceChannel", &g.ReplaceChannel, &w.ReplaceChannel)
	opt("Peer", &g.Peer, &w.Peer)
	opt("Caller", &g.Caller, &w.Caller)
	g.Timestamp, w.Timestamp = time.Time{}, time.Time{}
	if len(g.Args) == 0 && len(w.Args) == 0 {
		g.Args, w.Args = nil, nil
	}
	gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
	for i := range gv.NumField() {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			t.Errorf("%s: %s = %#v, want %#v", name, gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
		}
	}
}

// recordedFrames returns every event frame of the recordings (ari/*.jsonl
// and eivr/*.ari.jsonl), re-encoded as Asterisk sent it.
func recordedFrames(t testing.TB) [][]byte {
	t.Helper()
	dir, err := recordings.Dir()
	if err != nil {
		t.Skipf("recordings not available: %v", err)
	}
	var files []string
	for _, pat := range []string{"ari/*.jsonl", "eivr/*.ari.jsonl"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	var frames [][]byte
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var line struct {
				Event json.RawMessage `json:"event"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(line.Event) > 0 {
				frames = append(frames, bytes.Clone(line.Event))
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(frames) == 0 {
		t.Fatal("no event frames in the recordings")
	}
	return frames
}

func TestDecodeRecordings(t *testing.T) {
	frames := recordedFrames(t)
	kinds := map[Kind]int{}
	for i, f := range frames {
		var got, want Event
		if err := decodeStd(f, &want); err != nil {
			t.Fatalf("frame %d: encoding/json: %v", i, err)
		}
		if err := Decode(f, &got); err != nil {
			t.Fatalf("frame %d: Decode: %v\n%s", i, err, f)
		}
		sameEvent(t, "frame "+itoa(i), &got, &want)
		if got.Timestamp.IsZero() || got.Application == "" || got.AsteriskID == "" {
			t.Errorf("frame %d: base fields missing: %+v", i, got)
		}
		kinds[got.Kind]++
		if t.Failed() {
			t.Fatalf("frame: %s", f)
		}
	}
	t.Logf("%d frames; by kind: %v", len(frames), kinds)
	// The recordings exercise most modelled kinds; make sure we decode them
	// as such (a broken kindOf would turn them all into KindOther).
	for _, k := range []Kind{KindStasisStart, KindStasisEnd, KindChannelDtmfReceived, KindPlaybackStarted, KindPlaybackFinished, KindChannelHangupRequest, KindChannelVarset, KindApplicationReplaced, KindDial} {
		if kinds[k] == 0 {
			t.Errorf("no %v event decoded from the recordings", k)
		}
	}
}

func TestKindString(t *testing.T) {
	for k := KindOther; k < numKinds; k++ {
		s := k.String()
		if k != KindOther && kindOf(s) != k {
			t.Errorf("kindOf(%q) = %v, want %v", s, kindOf(s), k)
		}
	}
	if got := KindOther.String(); got != "Other" {
		t.Errorf("KindOther.String() = %q", got)
	}
	if got := Kind(200).String(); got != "Kind(200)" {
		t.Errorf("Kind(200).String() = %q", got)
	}
}

func TestDecodeTable(t *testing.T) {
	ts := time.Date(2026, 11, 23, 18, 2, 35, 545e6, time.UTC)
	tests := []struct {
		name  string
		frame string
		check func(t *testing.T, ev *Event)
		err   string // substring of the error; "" = no error
	}{
		{name: "dtmf", frame: `{"type":"ChannelDtmfReceived","timestamp":"2026-11-23T18:02:35.545+0000","digit":"#","duration_ms":120,"channel":{"id":"c1"},"application":"gw"}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != KindChannelDtmfReceived || ev.Digit != "#" || ev.DurationMs != 120 || ev.Channel.ID != "c1" || !ev.Timestamp.Equal(ts) || ev.Application != "gw" {
					t.Errorf("got %+v", ev)
				}
			}},
		{name: "channelvars", frame: `{"type":"ChannelHangupRequest","channel":{"id":"c","channelvars":{"PRESET":"preset-value","EMPTY":"","N":null}}}`,
			check: func(t *testing.T, ev *Event) {
				want := map[string]string{"PRESET": "preset-value", "EMPTY": "", "N": ""}
				if !reflect.DeepEqual(ev.Channel.ChannelVars, want) {
					t.Errorf("got %#v", ev.Channel.ChannelVars)
				}
			}},
		{name: "channelvars wrong type", frame: `{"type":"StasisStart","channel":{"channelvars":{"A":1}}}`, err: "channelvars"},
		{name: "escapes", frame: `{"type":"ChannelVarset","variable":"a\"b\\c\/d","value":"\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00"}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Variable != `a"b\c/d` || ev.Value != "\b\f\n\r\tAé€😀" {
					t.Errorf("got %q %q", ev.Variable, ev.Value)
				}
			}},
		{name: "lone surrogates", frame: `{"type":"X","value":"\ud83dx\ude00\ud83d\u0041"}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Value != "\uFFFDx\uFFFD\uFFFDA" {
					t.Errorf("got %q", ev.Value)
				}
			}},
		{name: "raw utf8 and invalid utf8", frame: "{\"type\":\"X\",\"value\":\"é\xff€\"}",
			check: func(t *testing.T, ev *Event) {
				if ev.Value != "é\uFFFD€" {
					t.Errorf("got %q", ev.Value)
				}
			}},
		{name: "unknown type", frame: `{"type":"ChannelUserevent","eventname":"x","userevent":{"a":[1,2,{"b":null}]},"application":"gw","timestamp":"2026-11-23T18:02:35.545+0000"}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != KindOther || ev.Type != "ChannelUserevent" || ev.Application != "gw" || !ev.Timestamp.Equal(ts) || len(ev.Raw) == 0 {
					t.Errorf("got %+v", ev)
				}
			}},
		{name: "missing fields", frame: `{"type":"StasisStart"}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != KindStasisStart || ev.Channel.ID != "" || ev.Args != nil || !ev.Timestamp.IsZero() {
					t.Errorf("got %+v", ev)
				}
			}},
		{name: "nulls", frame: `{"type":"StasisStart","channel":null,"args":null,"cause":null,"soft":null,"value":null}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != KindStasisStart {
					t.Errorf("got %+v", ev)
				}
			}},
		{name: "args and whitespace", frame: " {\n\t\"args\" : [ \"a\" , \"\" , \"c,d\" ] ,\r\n\"type\":\"StasisStart\" } \n",
			check: func(t *testing.T, ev *Event) {
				if !reflect.DeepEqual(ev.Args, []string{"a", "", "c,d"}) {
					t.Errorf("got %q", ev.Args)
				}
			}},
		{name: "hangup", frame: `{"type":"ChannelHangupRequest","cause":32,"soft":true,"tech_cause":-5,"channel":{"id":"c","dialplan":{"priority":-9223372036854775808}}}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Cause != 32 || !ev.Soft || ev.TechCause != -5 || ev.Channel.Dialplan.Priority != -9223372036854775808 {
					t.Errorf("got %+v", ev)
				}
			}},
		{name: "timestamp with offset", frame: `{"type":"X","timestamp":"2026-06-25T17:17:12.345+0200"}`,
			check: func(t *testing.T, ev *Event) {
				if want := time.Date(2026, 6, 25, 15, 17, 12, 345e6, time.UTC); !ev.Timestamp.Equal(want) {
					t.Errorf("got %v", ev.Timestamp)
				}
			}},
		{name: "unparsable timestamp", frame: `{"type":"X","timestamp":"2026-02-30T17:17:12.345+0200"}`,
			check: func(t *testing.T, ev *Event) {
				if !ev.Timestamp.IsZero() {
					t.Errorf("got %v", ev.Timestamp)
				}
			}},
		{name: "wrong type keeps decoding", frame: `{"type":"ChannelDestroyed","cause":"16","cause_txt":"Normal","channel":{"id":"c"}}`,
			err: `field "cause": want number, got string`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != KindChannelDestroyed || ev.CauseTxt != "Normal" || ev.Channel.ID != "c" {
					t.Errorf("got %+v", ev)
				}
			}},
		{name: "float into int", frame: `{"type":"X","cause":1.5}`, err: `field "cause": want an integer, got 1.5`},
		{name: "int overflow", frame: `{"type":"X","cause":99999999999999999999}`, err: "out of range"},
		{name: "channel not an object", frame: `{"type":"X","channel":"c1"}`, err: `field "channel": want object, got string`},
		{name: "args not strings", frame: `{"type":"X","args":[1]}`, err: `field "args": want string, got number`},
		{name: "soft not bool", frame: `{"type":"X","soft":1}`, err: `want boolean`},
		{name: "no type", frame: `{"application":"gw"}`, err: "no type"},
		{name: "empty", frame: ``, err: "unexpected end of JSON input"},
		{name: "not an object", frame: `["type"]`, err: "not a JSON object"},
		{name: "truncated", frame: `{"type":"StasisStart","channel":{"id":"c`, err: "unexpected end"},
		{name: "trailing garbage", frame: `{"type":"X"}x`, err: "after the event object"},
		{name: "trailing comma", frame: `{"type":"X",}`, err: "want an object key"},
		{name: "missing colon", frame: `{"type" "X"}`, err: "want ':'"},
		{name: "control char", frame: "{\"type\":\"X\ny\"}", err: "control character"},
		{name: "bad escape", frame: `{"type":"\x"}`, err: "invalid escape"},
		{name: "bad unicode escape", frame: `{"type":"\u12g4"}`, err: `invalid \u escape`},
		{name: "bad literal", frame: `{"type":"X","soft":tru}`, err: "invalid literal"},
		{name: "bad number", frame: `{"type":"X","cause":01}`, err: "want ',' or '}'"},
		{name: "bad skipped value", frame: `{"type":"X","other":[1,]}`, err: "invalid character"},
		{name: "deep nesting", frame: `{"type":"X","o":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`, err: "nesting too deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev Event
			err := Decode([]byte(tt.frame), &ev)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("Decode error = %v, want one containing %q", err, tt.err)
			}
			if tt.check != nil {
				tt.check(t, &ev)
			}
			if tt.err == "" {
				var want Event
				if err := decodeStd([]byte(tt.frame), &want); err != nil {
					t.Fatalf("encoding/json: %v", err)
				}
				sameEvent(t, tt.name, &ev, &want)
			}
		})
	}
}

func TestDecodeErrorTypes(t *testing.T) {
	var ev Event
	err := Decode([]byte(`{"type":1}`), &ev)
	var de *DecodeError
	if !errors.As(err, &de) || de.Field != "type" {
		t.Fatalf("err = %v, want a *DecodeError for field type", err)
	}
	if err := Decode([]byte(`{}`), &ev); !errors.Is(err, ErrNoType) {
		t.Fatalf("err = %v, want ErrNoType", err)
	}
}

func TestDecodeAliasesFrame(t *testing.T) {
	// Plain strings alias the frame: decoding them allocates nothing beyond
	// the optional parts (a Playback, StasisStart's args slice, ...): one
	// each (the read loop decodes those into its own room: none).
	for _, tt := range []struct {
		frame string
		want  float64
	}{
		{frameDTMF, 0},
		{`{"type":"PlaybackFinished","playback":{"id":"p1","media_uri":"sound:beep","target_uri":"channel:c1","language":"en","state":"done"},"asterisk_id":"02:fc:00:00:00:01","application":"gw","timestamp":"2026-11-23T18:02:35.545+0000"}`, 1},
	} {
		frame := []byte(tt.frame)
		var ev Event
		allocs := testing.AllocsPerRun(100, func() {
			if err := Decode(frame, &ev); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != tt.want {
			t.Errorf("Decode allocated %v times for %.40s..., want %v", allocs, frame, tt.want)
		}
		var room extras
		allocs = testing.AllocsPerRun(100, func() {
			if _, err := decode(frame, &ev, &room); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("decode with room allocated %v times for %.40s..., want 0", allocs, frame)
		}
	}
}

// knownKeys are the field names Decode models, at any level.
var knownKeys = []string{"type", "application", "asterisk_id", "timestamp", "channel", "replace_channel", "args",
	"playback", "digit", "duration_ms", "duration", "variable", "value", "cause", "cause_txt", "tech_cause", "soft",
	"peer", "caller", "dialstatus", "dialstring", "forward", "musicclass", "id", "name", "state", "protocol_id",
	"accountcode", "language", "connected", "dialplan", "creationtime", "number", "context", "exten", "priority",
	"app_name", "app_data", "media_uri", "next_media_uri", "target_uri"}

// comparable reports whether encoding/json's extra leniency (keys matched
// regardless of case; duration and duration_ms both mapping to DurationMs)
// could make it disagree with Decode on frame.
func comparable(frame []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(frame))
	type ctx struct{ obj, key bool }
	var stack []ctx
	dur := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return dur < 2
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top >= 0 && stack[top].obj {
					stack[top].key = true
				}
				stack = append(stack, ctx{obj: d == '{', key: true})
			default:
				stack = stack[:top]
			}
			continue
		}
		if top < 0 {
			continue
		}
		if !stack[top].obj {
			continue
		}
		if stack[top].key {
			k, _ := tok.(string)
			for _, kk := range knownKeys {
				if strings.EqualFold(k, kk) && k != kk {
					return false
				}
			}
			if top == 0 && (k == "duration" || k == "duration_ms") {
				dur++
			}
		}
		stack[top].key = !stack[top].key
	}
}

func FuzzDecode(f *testing.F) {
	for _, fr := range recordedFrames(f)[:50] {
		f.Add(fr)
	}
	f.Add([]byte(`{"type":"X","value":"\ud83d\ude00\u00e9\\"}`))
	f.Add([]byte(`{"type":"StasisStart","args":["a",null],"channel":{"dialplan":{"priority":1e3}}}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		var got, want Event
		err := Decode(frame, &got)
		valid := json.Valid(frame)
		var de *DecodeError
		if err != nil && errors.As(err, &de) && de.Field == "" && valid && bytes.HasPrefix(bytes.TrimLeft(frame, " \t\r\n"), []byte("{")) {
			if de.Msg != "nesting too deep" {
				t.Fatalf("Decode: %v on valid JSON %q", err, frame)
			}
		}
		if err == nil && !valid {
			t.Fatalf("Decode accepted invalid JSON %q", frame)
		}
		stdErr := decodeStd(frame, &want)
		if !comparable(frame) {
			return
		}
		if err == nil && stdErr == nil {
			sameEvent(t, "fuzz", &got, &want)
		}
		if err == nil {
			// What the read loop queues: compact's copy owns its strings
			// (the frame's buffer is reused for the next frame).
			// Twice with the same shared strings: the second shares
			// what repeats.
			var ref Event
			_ = Decode(frame, &ref)
			ref.Raw = nil
			// Without and with the read loop's room for the optional
			// channels and Args: the copies are checked once the room
			// was used again (a copy referring to it would show).
			// Last, as with KeepRaw: Raw is a copy of the frame.
			var keep shared
			var room extras
			var cs []*Event
			for i, k := range []*shared{nil, &keep, &keep, nil} {
				var scratch Event
				buf := bytes.Clone(frame)
				x := &room
				if i == 0 {
					x = nil
				}
				n, _ := decode(buf, &scratch, x)
				cs = append(cs, compact(&scratch, buf, n, x, k, i == 3))
				clear(buf)
			}
			room = extras{}
			for i, c := range cs {
				if i == 3 {
					if !bytes.Equal(c.Raw, frame) {
						t.Fatalf("compact with raw: Raw %q, want %q", c.Raw, frame)
					}
					c.Raw = nil
				}
				sameEvent(t, "compact", c, &ref)
			}
		}
		if err == nil && stdErr != nil {
			t.Fatalf("Decode accepted %q, encoding/json: %v", frame, stdErr)
		}
	})
}

// BenchmarkDecode: decode as the read loop runs it (the optional parts
// into its room: no allocation); Decode on its own allocates a Playback,
// a channel or args when the frame has them.
func BenchmarkDecode(b *testing.B) {
	var room extras
	benchDecode(b, func(f []byte, ev *Event) error {
		_, err := decode(f, ev, &room)
		return err
	})
}

func BenchmarkDecodeStdlib(b *testing.B) {
	benchDecode(b, decodeStd)
}

func benchDecode(b *testing.B, decode func([]byte, *Event) error) {
	frames := recordedFrames(b)
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	b.SetBytes(int64(size / len(frames)))
	b.ReportAllocs()
	var ev Event
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		if err := decode(frames[i], &ev); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(frames) {
			i = 0
		}
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU time of the process per event: steadier than wall time on a
	// shared machine (the loop is the only busy goroutine).
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
}

func TestSpecial(t *testing.T) {
	for pos := range 8 {
		for v := range 256 {
			var b [8]byte
			for i := range b {
				b[i] = 'a' + byte(i)
			}
			b[pos] = byte(v)
			want := v == '"' || v == '\\' || v < 0x20 || v >= 0x80
			if got := special(binary.LittleEndian.Uint64(b[:])); got != want {
				t.Errorf("special(%q) = %v, want %v", b, got, want)
			}
		}
	}
}

// TestParseTimeFast: the arithmetic fast path of parseTime gives the
// instant time.Parse gives, over every day of 400 years (a whole
// Gregorian cycle, leap days included), offsets on both sides of UTC and
// the edges of the accepted range.
func TestParseTimeFast(t *testing.T) {
	check := func(v string) {
		t.Helper()
		want, err := time.Parse(TimeLayout, v)
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", v, err)
		}
		if got := parseTime(v); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v (%v), want %v", v, got, got.Location(), want.UTC())
		}
	}
	offsets := []string{"+0000", "-0000", "+0530", "-1200", "+1400", "-2359"}
	day := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; day.Year() < 2300; i++ {
		check(day.Format("2006-01-02") + "T23:59:59.999" + offsets[i%len(offsets)])
		check(day.Format("2006-01-02") + "T00:00:00.000" + offsets[(i+3)%len(offsets)])
		day = day.AddDate(0, 0, 1)
	}
	for _, v := range []string{
		"0000-01-01T00:00:00.000+0000", "0000-03-01T12:00:00.000-0100", "0001-01-01T00:00:00.000+0000",
		"0001-02-28T00:00:00.000+0100", "9999-12-31T23:59:59.999-2359", "2026-11-23T18:02:35.545+0000",
	} {
		check(v)
	}
	for _, v := range []string{"2026-02-29T00:00:00.000+0000", "2026-13-01T00:00:00.000+0000", "2026-11-23T24:00:00.000+0000"} {
		if got := parseTime(v); !got.IsZero() {
			t.Errorf("parseTime(%q) = %v, want zero (invalid date)", v, got)
		}
	}
}

// TestSpecialMask: the first flagged byte of a word is its first special
// byte, wherever it is and whatever follows it.
func TestSpecialMask(t *testing.T) {
	specials := []byte{'"', '\\', 0, 0x1f, 0x80, 0xff}
	for pos := range 8 {
		for _, c := range specials {
			for _, after := range []byte{'a', 0, '"', 0xff, 0x21} {
				var b [8]byte
				for i := range b {
					b[i] = 'a' + byte(i)
					if i > pos {
						b[i] = after
					}
				}
				b[pos] = c
				m := specialMask(binary.LittleEndian.Uint64(b[:]))
				if got := bits.TrailingZeros64(m) >> 3; m == 0 || got != pos {
					t.Errorf("specialMask(%q): first special at %d, want %d", b, got, pos)
				}
			}
		}
	}
}
