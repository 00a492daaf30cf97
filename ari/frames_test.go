package ari

import (
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsFrame builds one server frame: fin, opcode, payload (length encoded in
// the shortest form unless long forces the 64-bit form).
func wsFrame(fin bool, op int, p []byte, long bool) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(p); {
	case long:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	case n < 126:
		out = append(out, byte(n))
	case n < 1<<16:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	return append(out, p...)
}

// ctlRecorder is a controlWriter that records what the reader wrote.
type ctlRecorder struct{ sent []string }

func (c *ctlRecorder) WriteControl(mt int, data []byte, _ time.Time) error {
	kind := map[int]string{websocket.PingMessage: "ping", websocket.PongMessage: "pong", websocket.CloseMessage: "close"}[mt]
	if mt == websocket.CloseMessage && len(data) >= 2 {
		kind += " " + itoa(int(binary.BigEndian.Uint16(data)))
		data = data[2:]
	}
	c.sent = append(c.sent, kind+":"+string(data))
	return nil
}

// TestFrameReader: the messages, replies and errors of a frame sequence.
func TestFrameReader(t *testing.T) {
	text, bin, cont := websocket.TextMessage, websocket.BinaryMessage, 0
	big := bytes.Repeat([]byte("x"), 70<<10) // larger than the read buffer
	cat := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	tests := []struct {
		name  string
		in    []byte
		limit int64
		want  []string // messages read, then "err: ..." for the end
		sent  []string // control frames written
		err   error    // errors.Is of the last error
	}{
		{name: "one text frame", in: wsFrame(true, text, []byte(`{"a":1}`), false),
			want: []string{`text {"a":1}`}, err: io.EOF},
		{name: "lengths 16 and 64 bit", in: cat(wsFrame(true, text, bytes.Repeat([]byte("a"), 300), false), wsFrame(true, bin, []byte("b"), true)),
			want: []string{"text " + strings.Repeat("a", 300), "binary b"}, err: io.EOF},
		{name: "fragments with a ping between", in: cat(wsFrame(false, text, []byte("ab"), false), wsFrame(true, websocket.PingMessage, []byte("hi"), false),
			wsFrame(false, cont, []byte("cd"), false), wsFrame(true, cont, []byte("e"), false), wsFrame(true, text, []byte("next"), false)),
			want: []string{"text abcde", "text next"}, sent: []string{"pong:hi"}, err: io.EOF},
		{name: "message larger than the buffer", in: wsFrame(true, text, big, false),
			want: []string{"text " + string(big)}, err: io.EOF},
		{name: "pong", in: cat(wsFrame(true, websocket.PongMessage, nil, false), wsFrame(true, text, []byte("x"), false)),
			want: []string{"pong()", "text x"}, err: io.EOF},
		{name: "close with a code", in: wsFrame(true, websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), false),
			sent: []string{"close 1001:"}, err: &websocket.CloseError{Code: websocket.CloseGoingAway, Text: "bye"}},
		{name: "close without a code", in: wsFrame(true, websocket.CloseMessage, nil, false),
			sent: []string{"close 1000:"}, err: &websocket.CloseError{Code: websocket.CloseNoStatusReceived}},
		{name: "masked", in: []byte{0x81, 0x81, 1, 2, 3, 4, 'x'},
			sent: []string{"close 1002:masked frame from the server"}, err: errProtocol},
		{name: "reserved bits", in: []byte{0xc1, 1, 'x'},
			sent: []string{"close 1002:reserved bits set (no extension was negotiated)"}, err: errProtocol},
		{name: "continuation first", in: wsFrame(true, cont, []byte("x"), false),
			sent: []string{"close 1002:continuation frame outside a message"}, err: errProtocol},
		{name: "new message inside a fragmented one", in: cat(wsFrame(false, text, []byte("a"), false), wsFrame(true, text, []byte("b"), false)),
			sent: []string{"close 1002:data frame inside a fragmented message"}, err: errProtocol},
		{name: "fragmented ping", in: wsFrame(false, websocket.PingMessage, nil, false),
			sent: []string{"close 1002:fragmented or oversized control frame"}, err: errProtocol},
		{name: "unknown opcode", in: wsFrame(true, 3, nil, false),
			sent: []string{"close 1002:unknown opcode 3"}, err: errProtocol},
		{name: "length high bit", in: []byte{0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 1},
			sent: []string{"close 1002:frame length with the high bit set"}, err: errProtocol},
		{name: "over the limit", in: cat(wsFrame(true, text, []byte("12345"), false), wsFrame(true, text, []byte("123456"), false)), limit: 5,
			want: []string{"text 12345"}, sent: []string{"close 1009:"}, err: websocket.ErrReadLimit},
		{name: "fragments over the limit", in: cat(wsFrame(false, text, []byte("123"), false), wsFrame(true, cont, []byte("456"), false)), limit: 5,
			sent: []string{"close 1009:"}, err: websocket.ErrReadLimit},
		{name: "cut in a header", in: []byte{0x81}, err: io.ErrUnexpectedEOF},
		{name: "cut in a 64-bit length", in: []byte{0x81, 127, 0, 0}, err: io.ErrUnexpectedEOF},
		{name: "cut in a small payload", in: wsFrame(true, text, []byte("abc"), false)[:3], err: io.ErrUnexpectedEOF},
		{name: "cut between fragments", in: wsFrame(false, text, []byte("abc"), false), err: io.ErrUnexpectedEOF},
		{name: "cut in a big payload", in: wsFrame(true, text, big, false)[:1000], err: io.ErrUnexpectedEOF},
		{name: "cut in a fragment", in: wsFrame(false, text, []byte("abc"), false)[:3], err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ctl ctlRecorder
			var got []string
			fr := newFrameReader(bytes.NewReader(tt.in), &ctl, tt.limit, func() { got = append(got, "pong()") })
			var err error
			for {
				var mt int
				var p []byte
				if mt, p, err = fr.next(); err != nil {
					break
				}
				got = append(got, map[int]string{text: "text ", bin: "binary "}[mt]+string(p))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("messages %.200q, want %.200q", got, tt.want)
			}
			if strings.Join(ctl.sent, "|") != strings.Join(tt.sent, "|") {
				t.Errorf("control frames sent %q, want %q", ctl.sent, tt.sent)
			}
			var ce *websocket.CloseError
			if want, ok := tt.err.(*websocket.CloseError); ok {
				if !errors.As(err, &ce) || *ce != *want {
					t.Errorf("err = %v, want %v", err, want)
				}
			} else if !errors.Is(err, tt.err) {
				t.Errorf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

// FuzzFrameReader: any byte stream ends in an error (EOF at the latest),
// never a panic or a loop, and every message is within the limit.
func FuzzFrameReader(f *testing.F) {
	f.Add(wsFrame(true, websocket.TextMessage, []byte(frameDTMF), false))
	f.Add(append(wsFrame(false, websocket.TextMessage, []byte("ab"), false), wsFrame(true, 0, []byte("c"), true)...))
	f.Add(wsFrame(true, websocket.PingMessage, []byte("p"), false))
	f.Add(wsFrame(true, websocket.CloseMessage, websocket.FormatCloseMessage(1000, "x"), false))
	f.Add([]byte{0x81, 127, 0, 0, 0, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 1 << 12
		fr := newFrameReader(bytes.NewReader(in), &ctlRecorder{}, limit, func() {})
		for range len(in) + 1 { // each message uses at least 2 bytes
			_, p, err := fr.next()
			if err != nil {
				return
			}
			if len(p) > limit {
				t.Fatalf("message of %d bytes over the limit %d", len(p), limit)
			}
		}
		t.Fatalf("more messages than bytes in %q", in)
	})
}

// TestFramesRightAfterHandshake: a server that writes its 101 response and
// the first events in one write (as a busy Asterisk may; over TLS in one
// record): no byte is lost to gorilla's handshake reader, every event
// arrives in order.
func TestFramesRightAfterHandshake(t *testing.T) {
	var frames []byte
	for i := range 50 {
		frames = append(frames, wsFrame(true, websocket.TextMessage,
			[]byte(`{"type":"ChannelDtmfReceived","digit":"`+itoa(i%10)+`","channel":{"id":"c`+itoa(i)+`"},"application":"gw"}`), false)...)
	}
	upgrade := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer c.Close()
		h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"
		if _, err := c.Write(append([]byte(resp), frames...)); err != nil {
			t.Errorf("write: %v", err)
			return
		}
		io.Copy(io.Discard, c) // until the client closes
	})
	for _, tlsServer := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[tlsServer], func(t *testing.T) {
			srv := httptest.NewUnstartedServer(upgrade)
			cfg := Config{Apps: []string{"gw"}, Username: "u", Password: "p"}
			if tlsServer {
				srv.StartTLS()
				pool := x509.NewCertPool()
				pool.AddCert(srv.Certificate())
				cfg.TLS = &tls.Config{RootCAs: pool, ServerName: "example.com"}
			} else {
				srv.Start()
			}
			defer srv.Close()
			defer srv.CloseClientConnections()
			cfg.URL = srv.URL + "/ari"
			c := newTestClient(t, cfg)
			rec := newRecorder()
			stop := run(t, c, rec)
			defer stop()
			rec.expect(t, "connected 1 gw")
			for i := range 50 {
				rec.expect(t, "event ChannelDtmfReceived")
				if ev := <-rec.evs; ev.Channel.ID != "c"+itoa(i) || ev.Digit != itoa(i%10) {
					t.Fatalf("event %d: channel %q digit %q, want c%d %d", i, ev.Channel.ID, ev.Digit, i, i%10)
				}
			}
			if st := c.Stats(); st.Events != 50 || st.DecodeErrors != 0 {
				t.Errorf("stats %+v, want 50 events and no decode error", st)
			}
		})
	}
}

// TestFrameReaderAllocs: reading a message that came in one frame makes
// no allocation (it is handed out from the read buffer); neither do
// pings answered between messages.
func TestFrameReaderAllocs(t *testing.T) {
	one := append(wsFrame(true, websocket.TextMessage, []byte(frameDTMF), false),
		wsFrame(true, websocket.PingMessage, []byte("p"), false)...)
	in := bytes.Repeat(one, 200)
	var r bytes.Reader
	var ctl pongCounter
	fr := newFrameReader(&r, &ctl, 1<<20, func() {})
	allocs := testing.AllocsPerRun(10, func() {
		r.Reset(in)
		fr.br.Reset(&r)
		fr.skip = 0
		for range 200 {
			if _, p, err := fr.next(); err != nil || string(p) != frameDTMF {
				t.Fatalf("next: %q, %v", p, err)
			}
		}
	})
	if allocs > 0 {
		t.Errorf("%.2f allocations per 200 messages, want 0", allocs)
	}
	if ctl.pongs < 199*10 {
		t.Errorf("%d pongs sent, want one per ping read", ctl.pongs)
	}
}

// pongCounter is a controlWriter that counts pongs.
type pongCounter struct{ pongs int }

func (c *pongCounter) WriteControl(mt int, _ []byte, _ time.Time) error {
	if mt == websocket.PongMessage {
		c.pongs++
	}
	return nil
}

// loopReader yields wire n times, then io.EOF; each Read yields the
// processor first, as a socket read that waits lets the dispatch
// goroutine run.
type loopReader struct {
	wire []byte
	n    int
	r    bytes.Reader
}

func (l *loopReader) Read(p []byte) (int, error) {
	runtime.Gosched()
	if l.r.Len() == 0 {
		if l.n == 0 {
			return 0, io.EOF
		}
		l.n--
		l.r.Reset(l.wire)
	}
	return l.r.Read(p)
}

// BenchmarkReadLoop: the read loop's own work per event without the
// socket: WebSocket framing (the frame reader over the recorded frames in
// memory), decode, compact and the queue send, with a goroutine taking the
// events off the queue. BenchmarkStream adds the socket and the dispatch
// to a Handler; BenchmarkDecode is the decode alone.
func BenchmarkReadLoop(b *testing.B) {
	var wire []byte
	count := 0
	for _, fr := range recordedFrames(b) {
		if !bytes.Contains(fr, []byte("ApplicationReplaced")) { // would change the client's state
			wire = append(wire, wsFrame(true, websocket.TextMessage, fr, false)...)
			count++
		}
	}
	c := newTestClient(b, Config{URL: "http://127.0.0.1:1/ari", Apps: []string{"gw"}})
	rounds := (b.N + count - 1) / count
	q := make(chan item, 1<<16+controlSlots)
	done := make(chan int)
	go func() {
		n := 0
		for it := range q {
			if it.ev != nil {
				n++
			}
		}
		done <- n
	}()
	fr := newFrameReader(&loopReader{wire: wire, n: rounds}, &pongCounter{}, DefaultReadLimit, func() {})
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	b.ResetTimer()
	err := c.readLoop(memFrames{fr}, q, time.Minute)
	close(q)
	got := <-done
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(got), "allocs/event")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(got), "B/event")
	if !errors.Is(err, io.EOF) || got != rounds*count {
		b.Fatalf("readLoop: %v after %d events of %d (stats %+v)", err, got, rounds*count, c.Stats())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(got), "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(got), "cpu-ns/event")
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "events/s")
}

// memFrames is a frameConn of a frame reader without a socket.
type memFrames struct{ *frameReader }

func (memFrames) SetReadDeadline(time.Time) error { return nil }

// BenchmarkFrameReader: the WebSocket framing stage alone: the recorded
// events as server frames in memory, each message handed out in place.
func BenchmarkFrameReader(b *testing.B) {
	var wire []byte
	count := 0
	for _, fr := range recordedFrames(b) {
		wire = append(wire, wsFrame(true, websocket.TextMessage, fr, false)...)
		count++
	}
	var r bytes.Reader
	fr := newFrameReader(&r, &pongCounter{}, DefaultReadLimit, func() {})
	b.SetBytes(int64(len(wire) / count))
	b.ReportAllocs()
	i := count
	for b.Loop() {
		if i == count {
			r.Reset(wire)
			fr.br.Reset(&r)
			fr.skip, i = 0, 0
		}
		if _, _, err := fr.next(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
