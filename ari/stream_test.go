package ari

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/gorilla/websocket"
)

const (
	frameDTMF  = `{"type":"ChannelDtmfReceived","timestamp":"2026-11-23T18:02:35.545+0000","digit":"5","duration_ms":120,"channel":{"id":"c1"},"asterisk_id":"02:fc:00:00:00:01","application":"gw"}`
	frameOther = `{"type":"ChannelUserevent","eventname":"x","application":"gw"}`
)

func frameReplaced(app string) string {
	return `{"type":"ApplicationReplaced","timestamp":"2026-11-23T18:02:35.545+0000","application":"` + app + `"}`
}

func testConfig(f *fakeARI) Config {
	return Config{
		URL: f.url(), Username: "gw", Password: "gwsecret", Apps: []string{"gw"},
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		PingInterval: time.Second, PongTimeout: time.Second,
	}
}

func newTestClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func TestRunDeliversInOrder(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.Apps = []string{"gw", "gw2"}
	cfg.SubscribeAll = true
	c := newTestClient(t, cfg)
	rec := newRecorder()
	run(t, c, rec)

	s := f.accept()
	if got, want := s.r.URL.RawQuery, "app=gw,gw2&subscribeAll=true"; got != want {
		t.Errorf("query = %q, want %q", got, want)
	}
	if u, p, ok := s.r.BasicAuth(); !ok || u != "gw" || p != "gwsecret" {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
	rec.expect(t, "connected 1 gw,gw2")
	s.send(t, frameDTMF)
	s.send(t, `{"type":"StasisStart",`)          // malformed: logged, skipped
	s.send(t, `{"application":"gw"}`)            // no type: logged, skipped
	s.send(t, frameOther)                        // unknown type: KindOther
	s.send(t, strings.Repeat(" ", 10)+frameDTMF) // still fine
	rec.expect(t, "event ChannelDtmfReceived")
	ev := <-rec.evs
	if ev.Kind != KindChannelDtmfReceived || ev.Digit != "5" || ev.Channel.ID != "c1" || ev.Raw != nil {
		t.Errorf("event = %+v (Raw is kept only with KeepRaw)", ev)
	}
	rec.expect(t, "event ChannelUserevent")
	if ev := <-rec.evs; ev.Kind != KindOther || ev.Type != "ChannelUserevent" || ev.Application != "gw" || ev.Raw != nil {
		t.Errorf("unknown type decoded as %v %q %q, Raw %q (kept only with KeepRaw)", ev.Kind, ev.Type, ev.Application, ev.Raw)
	}
	rec.expect(t, "event ChannelDtmfReceived")
	if !c.Ready() {
		t.Error("Ready() = false while connected")
	}
	st := c.Stats()
	if st.Events != 3 || st.DecodeErrors != 2 || st.Connects != 1 || st.Reconnects != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRunReconnectsAfterLoss(t *testing.T) {
	f := newFake(t, false)
	c := newTestClient(t, testConfig(f))
	rec := newRecorder()
	run(t, c, rec)

	for seq := 1; seq <= 3; seq++ {
		s := f.accept()
		rec.expect(t, fmt.Sprintf("connected %d gw", seq))
		s.send(t, frameDTMF)
		rec.expect(t, "event ChannelDtmfReceived")
		s.c.Close() // the socket is lost
		rec.expect(t, "disconnected ari: event stream")
	}
	f.accept()
	rec.expect(t, "connected 4 gw")
	if st := c.Stats(); st.Reconnects != 3 || st.Connects != 4 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRunRetriesRefusedHandshake(t *testing.T) {
	f := newFake(t, false)
	f.wsReply = http.StatusUnauthorized
	var logs logBuf
	cfg := testConfig(f)
	cfg.Logger = logs.logger()
	c := newTestClient(t, cfg)
	rec := newRecorder()
	run(t, c, rec)
	logs.wait(t, "credentials rejected")
	if c.Ready() {
		t.Error("Ready() while refused")
	}
	f.mu.Lock()
	f.wsReply = 0
	f.mu.Unlock()
	f.accept()
	rec.expect(t, "connected 1 gw")
	if c.Stats().DialErrors == 0 {
		t.Error("DialErrors = 0 after refused handshakes")
	}
}

func TestApplicationReplacedDoesNotFightBack(t *testing.T) {
	f := newFake(t, false)
	var logs logBuf
	cfg := testConfig(f)
	cfg.Logger = logs.logger()
	cfg.Apps = []string{"gw", "gw2"}
	c := newTestClient(t, cfg)
	rec := newRecorder()
	run(t, c, rec)

	s := f.accept()
	rec.expect(t, "connected 1 gw,gw2")
	s.send(t, frameReplaced("gw"))
	rec.expect(t, "event ApplicationReplaced")
	if c.Ready() {
		t.Error("Ready() after ApplicationReplaced")
	}
	if got := c.Replaced(); len(got) != 1 || got[0] != "gw" {
		t.Errorf("Replaced() = %q", got)
	}
	// The socket stays up for gw2. When it is lost, the client comes back
	// for gw2 only.
	s.c.Close()
	rec.expect(t, "disconnected")
	s = f.accept()
	if s.r.URL.Query().Get("app") != "gw2" {
		t.Errorf("reconnected with app=%q, want gw2 only", s.r.URL.Query().Get("app"))
	}
	rec.expect(t, "connected 2 gw2")
	s.send(t, frameReplaced("gw2"))
	rec.expect(t, "event ApplicationReplaced")
	s.c.Close()
	rec.expect(t, "disconnected")
	// Nothing left: no reconnect loop (backoff is 10-50 ms here).
	f.noSocket(300 * time.Millisecond)
	logs.wait(t, "waiting for Reclaim")

	c.Reclaim()
	s = f.accept()
	if s.r.URL.Query().Get("app") != "gw,gw2" {
		t.Errorf("Reclaim reconnected with app=%q", s.r.URL.Query().Get("app"))
	}
	rec.expect(t, "connected 3 gw,gw2")
	if !c.Ready() {
		t.Error("not Ready() after Reclaim")
	}
}

func TestPingKeepsAliveAndDeadServerIsDetected(t *testing.T) {
	f := newFake(t, false)
	cfg := testConfig(f)
	cfg.PingInterval, cfg.PongTimeout = 30*time.Millisecond, 400*time.Millisecond
	c := newTestClient(t, cfg)
	rec := newRecorder()
	run(t, c, rec)

	// A server that reads answers pings: the connection survives many
	// read-deadline periods.
	s := f.accept()
	s.readDiscard()
	rec.expect(t, "connected 1")
	for range 10 {
		select {
		case <-s.pings:
		case <-time.After(waitFor):
			t.Fatal("client does not ping")
		}
	}
	select {
	case got := <-rec.got:
		t.Fatalf("healthy socket: handler got %q", got)
	default:
	}
	// Same, but the server stops reading (no pongs, no frames): the client
	// gives up after PingInterval+PongTimeout and reconnects.
	s.c.Close()
	rec.expect(t, "disconnected")
	s = f.accept()
	rec.expect(t, "connected 2")
	got := rec.expect(t, "disconnected")
	if !strings.Contains(got, "no frame or pong") {
		t.Errorf("dead server: %q", got)
	}
	f.accept()
	rec.expect(t, "connected 3")
	// The dead server's socket must stay open until the client gave up on
	// it: once unreachable, its fd's finalizer closes it and the client
	// sees EOF instead of the pong timeout (`_ = s` keeps nothing alive).
	runtime.KeepAlive(s)
}

func TestOversizedFrame(t *testing.T) {
	f := newFake(t, false)
	var logs logBuf
	cfg := testConfig(f)
	cfg.ReadLimit = 1024
	cfg.Logger = logs.logger()
	c := newTestClient(t, cfg)
	rec := newRecorder()
	run(t, c, rec)

	s := f.accept()
	rec.expect(t, "connected 1")
	s.readDiscard()
	s.send(t, `{"type":"X","pad":"`+strings.Repeat("x", 2000)+`"}`)
	got := rec.expect(t, "disconnected")
	if !strings.Contains(got, "larger than ReadLimit (1024 bytes)") {
		t.Errorf("oversized frame: %q", got)
	}
	s = f.accept()
	rec.expect(t, "connected 2")
	s.send(t, frameDTMF)
	rec.expect(t, "event ChannelDtmfReceived")
	if c.Stats().Oversized != 1 {
		t.Errorf("stats = %+v", c.Stats())
	}
	logs.wait(t, "larger than ReadLimit")
}

func TestSlowHandlerNeverStallsTheReadLoop(t *testing.T) {
	f := newFake(t, false)
	var logs logBuf
	cfg := testConfig(f)
	cfg.QueueSize = 8
	cfg.Logger = logs.logger()
	c := newTestClient(t, cfg)
	rec := newRecorder()
	rec.block = make(chan struct{})
	run(t, c, rec)

	s := f.accept()
	rec.expect(t, "connected 1")
	const n = 200
	// The handler is stuck; the server's writes must still all go through
	// promptly (Asterisk gives a client 100 ms).
	for i := range n {
		s.c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		if err := s.c.WriteMessage(1, []byte(frameDTMF)); err != nil {
			t.Fatalf("write %d stalled: %v", i, err)
		}
	}
	// Wait until the read loop has handled every frame.
	testwait.Until(t, waitFor, "the read loop handled every frame", func() bool {
		st := c.Stats()
		return st.Events+st.Dropped >= n
	})
	close(rec.block)
	st := c.Stats()
	if st.Dropped == 0 || st.Events > uint64(cfg.QueueSize)+1 || st.Events < uint64(cfg.QueueSize) {
		t.Errorf("stats = %+v, want drops with a queue of %d", st, cfg.QueueSize)
	}
	for range st.Events {
		rec.expect(t, "event ChannelDtmfReceived")
	}
	logs.wait(t, "event queue full")
	if !c.Ready() {
		t.Error("dropping events must not drop the connection")
	}
}

func TestCredentialsNeverInLogsOrErrors(t *testing.T) {
	const pw, key = "pw-S3cret-1", "gw:k3y-S3cret-2"
	f := newFake(t, false)
	f.wsReply = http.StatusUnauthorized
	f.handle("GET", "/channels/c1", reply(401, `{"message":"Authentication required"}`))
	for _, cfg := range []Config{
		{URL: f.url(), Username: "gw", Password: pw, Apps: []string{"gw"}},
		{URL: f.url(), APIKey: key, Apps: []string{"gw"}},
		{URL: "http://127.0.0.1:1/ari", APIKey: key, Apps: []string{"gw"}}, // refused
	} {
		var logs logBuf
		cfg.Logger = logs.logger()
		cfg.BackoffMin, cfg.BackoffMax = 5*time.Millisecond, 10*time.Millisecond
		c := newTestClient(t, cfg)
		stop := run(t, c, newRecorder())
		_, err := c.GetChannel(t.Context(), "c1")
		if err == nil {
			t.Fatal("GetChannel succeeded")
		}
		if cfg.URL == f.url() && !errors.Is(err, ErrUnauthorized) {
			t.Errorf("GetChannel: %v, want ErrUnauthorized", err)
		}
		testwait.For(waitFor, func() bool { return c.Stats().DialErrors >= 3 })
		stop()
		out := logs.String() + err.Error()
		if !strings.Contains(out, "connect") {
			t.Errorf("no connect failure logged:\n%s", out)
		}
		for _, secret := range []string{"S3cret", "k3y"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q in logs or errors:\n%s", secret, out)
			}
		}
	}
}

func TestAPIKeyInQuery(t *testing.T) {
	f := newFake(t, false)
	c := newTestClient(t, Config{URL: f.url(), APIKey: "gw:a&b", Apps: []string{"gw"}})
	rec := newRecorder()
	run(t, c, rec)
	s := f.accept()
	if got := s.r.URL.Query().Get("api_key"); got != "gw:a&b" {
		t.Errorf("api_key = %q", got)
	}
	if _, _, ok := s.r.BasicAuth(); ok {
		t.Error("basic auth header sent with APIKey on the socket")
	}
	// REST uses the same credentials in a header, never in the URL.
	f.handle("GET", "/asterisk/info", reply(200, `{"system":{"version":"22.10.1","entity_id":"02:fc:00:00:00:01"}}`))
	info, err := c.AsteriskInfo(t.Context())
	if err != nil || info.System.EntityID != "02:fc:00:00:00:01" || info.System.Version != "22.10.1" {
		t.Fatalf("AsteriskInfo = %+v, %v", info, err)
	}
	r := f.lastCall()
	if u, p, ok := r.BasicAuth(); !ok || u != "gw" || p != "a&b" || strings.Contains(r.URL.RawQuery, "api_key") {
		t.Errorf("REST auth: %q %q %v, query %q", u, p, ok, r.URL.RawQuery)
	}
}

func TestTLS(t *testing.T) {
	f := newFake(t, true)
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())

	t.Run("custom CA", func(t *testing.T) {
		cfg := testConfig(f)
		cfg.TLS = &tls.Config{RootCAs: pool, ServerName: "example.com"} // httptest's cert names example.com
		c := newTestClient(t, cfg)
		rec := newRecorder()
		run(t, c, rec)
		s := f.accept()
		rec.expect(t, "connected 1")
		s.send(t, frameDTMF)
		rec.expect(t, "event ChannelDtmfReceived")
		f.handle("GET", "/channels/c1", reply(200, `{"id":"c1","state":"Up"}`))
		if ch, err := c.GetChannel(t.Context(), "c1"); err != nil || ch.State != "Up" {
			t.Errorf("GetChannel over TLS = %+v, %v", ch, err)
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		var logs logBuf
		cfg := testConfig(f)
		cfg.Logger = logs.logger()
		c := newTestClient(t, cfg)
		run(t, c, newRecorder())
		logs.wait(t, "certificate")
		if c.Ready() {
			t.Error("Ready() with a TLS failure")
		}
		_, err := c.GetChannel(t.Context(), "c1")
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("GetChannel = %v, want ErrUnavailable naming the certificate problem", err)
		}
	})
}

func TestRunOnce(t *testing.T) {
	f := newFake(t, false)
	c := newTestClient(t, testConfig(f))
	rec := newRecorder()
	run(t, c, rec)
	f.accept()
	rec.expect(t, "connected 1")
	if err := c.Run(t.Context(), rec); !errors.Is(err, errRunning) {
		t.Errorf("second Run = %v", err)
	}
	c2 := newTestClient(t, Config{URL: f.url()})
	if err := c2.Run(t.Context(), rec); !errors.Is(err, ErrConfig) {
		t.Errorf("Run without apps = %v", err)
	}
}

func TestNewClientConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		err  string
		rest string
		ws   string
	}{
		{cfg: Config{URL: "http://h:8088/ari/"}, rest: "http://h:8088/ari", ws: "ws://h:8088/ari/events"},
		{cfg: Config{URL: "wss://h/x/ari"}, rest: "https://h/x/ari", ws: "wss://h/x/ari/events"},
		{cfg: Config{URL: "ftp://h/ari"}, err: "scheme"},
		{cfg: Config{URL: "http://u:secretpw@h/ari"}, err: "not in URL"},
		{cfg: Config{URL: "http:///ari"}, err: "no host"},
		{cfg: Config{URL: "http://h/ari", APIKey: "nocolon"}, err: "user:password"},
		{cfg: Config{URL: "http://h/ari", Apps: []string{"a,b"}}, err: "app name"},
	} {
		c, err := NewClient(tt.cfg)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "secretpw") {
				t.Errorf("NewClient(%q) = %v, want ErrConfig with %q", tt.cfg.URL, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("NewClient(%q): %v", tt.cfg.URL, err)
		}
		if c.rest.String() != tt.rest || c.ws.String() != tt.ws {
			t.Errorf("NewClient(%q): rest %s ws %s", tt.cfg.URL, c.rest, c.ws)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	prev := time.Duration(0)
	for i := range 20 {
		d := b.next()
		lo, hi := b.cur/2, b.cur
		if d < lo || d > hi {
			t.Fatalf("attempt %d: %v outside [%v, %v]", i, d, lo, hi)
		}
		if b.cur < prev || b.cur > time.Second {
			t.Fatalf("attempt %d: ceiling %v after %v", i, b.cur, prev)
		}
		prev = b.cur
	}
	if b.cur != time.Second {
		t.Errorf("ceiling = %v, want max", b.cur)
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
}

// countHandler counts events and signals when it has seen want of them.
type countHandler struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (h *countHandler) Connected(ConnInfo) {}
func (h *countHandler) Disconnected(error) {}
func (h *countHandler) Event(*Event) {
	if h.n.Add(1) == h.want {
		close(h.done)
	}
}

// BenchmarkStream measures frame (from the socket) -> Handler.Event over a
// loopback WebSocket with the recorded frames: read, copy, decode, queue,
// dispatch. The server writes pre-built frames in bulk so that the number
// is the client's cost.
func BenchmarkStream(b *testing.B) {
	var frames [][]byte
	for _, fr := range recordedFrames(b) {
		if !bytes.Contains(fr, []byte("ApplicationReplaced")) { // would change the client's state
			frames = append(frames, fr)
		}
	}
	f := newFake(b, false)
	cfg := testConfig(f)
	cfg.QueueSize = 1 << 16
	cfg.PingInterval = time.Hour // no pongs to interleave with the raw writes below
	c := newTestClient(b, cfg)
	h := &countHandler{want: int64(b.N), done: make(chan struct{})}
	run(b, c, h)
	s := f.accept()
	size := 0
	for _, fr := range frames {
		size += len(fr)
	}
	// One unmasked server->client text frame per event, as Asterisk sends.
	wire := make([][]byte, len(frames))
	for i, fr := range frames {
		hdr := []byte{0x81, 126, byte(len(fr) >> 8), byte(len(fr))}
		if len(fr) < 126 {
			hdr = []byte{0x81, byte(len(fr))}
		}
		wire[i] = append(hdr, fr...)
	}
	raw := s.c.UnderlyingConn()
	b.SetBytes(int64(size / len(frames)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	go func() {
		var buf []byte
		for i := range b.N {
			buf = append(buf, wire[i%len(wire)]...)
			if len(buf) >= 256<<10 || i == b.N-1 {
				if _, err := raw.Write(buf); err != nil {
					return
				}
				buf = buf[:0]
			}
		}
	}()
	select {
	case <-h.done:
	case <-time.After(time.Minute):
		b.Fatalf("handler saw %d of %d events; stats %+v", h.n.Load(), b.N, c.Stats())
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU time of the whole process (client, the fake's bulk writes, GC)
	// per event: steadier than wall time on a shared machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	if d := c.Stats().Dropped; d > 0 {
		b.Fatalf("%d events dropped", d)
	}
	runtime.KeepAlive(s)
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestReclaimWhileConnected(t *testing.T) {
	f := newFake(t, false)
	c := newTestClient(t, testConfig(f))
	rec := newRecorder()
	run(t, c, rec)
	s := f.accept()
	rec.expect(t, "connected 1 gw")
	s.send(t, frameReplaced("gw"))
	rec.expect(t, "event ApplicationReplaced")
	// Asterisk leaves the old socket open and silent; the client keeps it
	// and does not dial again on its own.
	f.noSocket(200 * time.Millisecond)
	if c.Ready() {
		t.Error("Ready() after ApplicationReplaced")
	}
	c.Reclaim()
	rec.expect(t, "disconnected "+errReclaim.Error())
	s = f.accept()
	if got := s.r.URL.Query().Get("app"); got != "gw" {
		t.Errorf("Reclaim subscribed app=%q", got)
	}
	rec.expect(t, "connected 2 gw")
	if !c.Ready() {
		t.Error("not Ready() after Reclaim")
	}
}

func TestServerNeverAnswersHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- conn // hold it open, never answer
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for conn := range accepted {
			conn.Close()
		}
	})
	var logs logBuf
	c := newTestClient(t, Config{URL: "http://" + ln.Addr().String() + "/ari", Apps: []string{"gw"}, Logger: logs.logger(),
		DialTimeout: 100 * time.Millisecond, BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		RESTTimeout: 100 * time.Millisecond})
	stop := run(t, c, newRecorder())
	logs.wait(t, "event stream connect failed")
	testwait.Until(t, waitFor, "two dial errors", func() bool { return c.Stats().DialErrors >= 2 })
	if _, err := c.GetChannel(t.Context(), "c1"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetChannel on a silent server: %v", err)
	}
	stop()
	if !strings.Contains(logs.String(), "timeout") && !strings.Contains(logs.String(), "deadline") {
		t.Errorf("log does not say it timed out:\n%s", logs.String())
	}
}

// A frame over the old 1 MiB limit (a channel snapshot with large
// channelvars) is accepted by default: the socket stays up.
func TestLargeFrameWithinDefaultLimit(t *testing.T) {
	f := newFake(t, false)
	c := newTestClient(t, testConfig(f))
	rec := newRecorder()
	run(t, c, rec)
	s := f.accept()
	rec.expect(t, "connected 1")
	s.readDiscard()
	s.send(t, `{"type":"X","pad":"`+strings.Repeat("x", 3<<20)+`"}`)
	s.send(t, frameDTMF)
	rec.expect(t, "event X")
	rec.expect(t, "event ChannelDtmfReceived")
	if st := c.Stats(); st.Oversized != 0 || st.Reconnects != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// memConn is a frameConn serving frames from memory, one message each,
// then io.EOF (which ends the read loop). Its readers are reused: it
// allocates nothing per frame, so what AllocsPerRun counts is the loop's.
type memConn struct {
	frames [][]byte
	i      int
	buf    []byte
}

var _ frameConn = socketFrames{}

// next hands out each frame from one reused buffer, as the frame reader
// does from its read buffer.
func (m *memConn) next() (int, []byte, error) {
	if m.i == len(m.frames) {
		return 0, nil, io.EOF
	}
	m.buf = append(m.buf[:0], m.frames[m.i]...)
	m.i++
	return websocket.TextMessage, m.buf, nil
}

func (m *memConn) SetReadDeadline(time.Time) error { return nil }

// TestReadLoopAllocs: the read loop makes one allocation per event (the
// Event and its copy of the frame, see newEvent), and the events it queues
// decode as Decode does on their own. Events with optional channels (Dial's
// peer and caller, a replace_channel) and StasisStart's args have them in
// the same allocation (up to 3 channels and 8 args); escaped strings make
// one more per such value; the recorded set stays within 1.01 per event
// (1.2 with KeepRaw, whose Decode allocates the optional parts). (The
// frame reader makes none: TestFrameReaderAllocs.)
func TestReadLoopAllocs(t *testing.T) {
	plain := [][]byte{
		[]byte(frameDTMF),
		[]byte(`{"type":"PlaybackFinished","playback":{"id":"p1","media_uri":"sound:beep","target_uri":"channel:c1","language":"en","state":"done"},"asterisk_id":"02:fc:00:00:00:01","application":"gw","timestamp":"2026-11-23T18:02:35.545+0000"}`),
		[]byte(`{"type":"ChannelStateChange","timestamp":"2026-11-23T18:02:57.458+0000","channel":{"id":"s01-chan-56977437","name":"Local/s@stasisin-00000001;2","state":"Up","protocol_id":"","caller":{"name":"Test Caller","number":"5551234"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"stasisin","exten":"s","priority":2,"app_name":"Stasis","app_data":"gw,arg1,arg2"},"creationtime":"2026-11-23T18:02:57.439+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"gw"}`),
		[]byte(strings.Repeat(" ", 5000) + frameDTMF), // a large frame: a larger box
	}
	recorded := recordedFrames(t)
	// Snapshots with ari.conf channelvars: the map's keys and values must
	// be moved out of the loop's buffer too (each frame overwrites it).
	vars := [][]byte{
		[]byte(`{"type":"ChannelVarset","variable":"A","value":"1","channel":{"id":"c1","name":"Local/a;2","state":"Up","channelvars":{"PRESET":"preset-value","CHOICE":"one"}},"application":"gw","timestamp":"2026-11-23T18:02:35.545+0000"}`),
		[]byte(`{"type":"ChannelVarset","variable":"B","value":"2","channel":{"id":"c2","name":"Local/b;2","state":"Up","channelvars":{"PRESET":"other-value-xx","CHOICE":"two"}},"application":"gw","timestamp":"2026-11-23T18:02:35.546+0000"}`),
	}
	tests := []struct {
		name   string
		frames [][]byte
		rounds int // rounds of frames measured (-short: short)
		short  int
		keep   bool    // Config.KeepRaw
		max    float64 // allocations per event
	}{
		// 1.01: room for a stray allocation of another goroutine of the
		// test binary (AllocsPerRun counts the whole process).
		{"plain events", plain, 1000, 1000, false, 1.01},
		{"plain events, KeepRaw", plain, 1000, 1000, true, 1.01},
		{"channelvars", vars, 1000, 1000, false, 5.05}, // + the maps (Decode's and the moved copy)
		{"recorded", recorded, 20, 2, false, 1.01},
		{"recorded, KeepRaw", recorded, 20, 2, true, 1.2},
	}
	for _, tt := range tests {
		rounds := tt.rounds
		if testing.Short() {
			rounds = tt.short
		}
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, Config{URL: "http://127.0.0.1:1/ari", Apps: []string{"gw"}, KeepRaw: tt.keep})
			// allocs runs the loop over n rounds of the frames.
			allocs := func(n int) (float64, []*Event) {
				var frames [][]byte
				for range n {
					frames = append(frames, tt.frames...)
				}
				q := make(chan item, len(frames)+controlSlots)
				var loopErr error
				total := testing.AllocsPerRun(1, func() {
					for len(q) > 0 {
						<-q
					}
					loopErr = c.readLoop(&memConn{frames: frames}, q, time.Minute)
				})
				if !errors.Is(loopErr, io.EOF) {
					t.Fatalf("readLoop: %v, want io.EOF at the end of the frames", loopErr)
				}
				if len(q) != len(frames) {
					t.Fatalf("%d events queued of %d frames (stats %+v)", len(q), len(frames), c.Stats())
				}
				evs := make([]*Event, 0, len(frames))
				for range frames {
					evs = append(evs, (<-q).ev)
				}
				return total, evs
			}
			// The loop's set-up (its read buffer's growth) is what one
			// round costs beyond its frames: subtract it.
			one, evs := allocs(1)
			many, _ := allocs(1 + rounds)
			for i, got := range evs {
				var want Event
				if err := Decode(tt.frames[i], &want); err != nil {
					t.Fatal(err)
				}
				if !tt.keep {
					want.Raw = nil
				}
				// Every event is checked after the loop has read them all:
				// a string aliasing the loop's reused buffer would show.
				sameEvent(t, "frame "+itoa(i), got, &want)
				if len(got.Raw) > 0 && &got.Raw[0] == &tt.frames[i][0] {
					t.Fatalf("frame %d: Raw aliases the frame it was read from, not a copy", i)
				}
			}
			per := (many - one) / float64(rounds*len(tt.frames))
			t.Logf("%.3f allocations per event over %d frames", per, rounds*len(tt.frames))
			if per > tt.max {
				t.Errorf("readLoop made %.3f allocations per event, want at most %v", per, tt.max)
			}
		})
	}
}

// TestEachStringVisitsAll: compact moves every string field of an Event
// (a string it missed would alias the read loop's reused buffer): each
// field is set to its own string in a frame buffer, which is overwritten
// after compact; the copy must still hold every value.
// With the read loop's room, the optional channels and Args are the
// room's (copied into the box, then the room is cleared too).
// With raw (KeepRaw), they point into the box's copy of the frame.
func TestEachStringVisitsAll(t *testing.T) {
	for _, tt := range []struct {
		name        string
		inRoom, raw bool
	}{{"heap", false, false}, {"room", true, false}, {"room,raw", true, true}} {
		t.Run(tt.name, func(t *testing.T) { testEachStringVisitsAll(t, tt.inRoom, tt.raw) })
	}
}

func testEachStringVisitsAll(t *testing.T, inRoom, raw bool) {
	var ev Event
	var room *extras
	if inRoom {
		room = new(extras)
		room.nch = 3
		ev.ReplaceChannel, ev.Peer, ev.Caller = &room.ch[0], &room.ch[1], &room.ch[2]
		ev.Args = room.args[:2:len(room.args)]
		ev.Playback = &room.pb
	} else {
		ev.ReplaceChannel, ev.Peer, ev.Caller = new(Channel), new(Channel), new(Channel)
		ev.Args = make([]string, 2)
		ev.Playback = new(Playback)
	}
	for _, c := range []*Channel{&ev.Channel, ev.ReplaceChannel, ev.Peer, ev.Caller} {
		c.ChannelVars = map[string]string{"": ""} // replaced below: one key, one value
	}
	frame := make([]byte, 0, 1<<12)
	n := 0
	inFrame := func() string { // the next distinct value, aliasing frame
		n++
		v := "s" + itoa(n)
		at := len(frame)
		frame = append(frame, v...) // within capacity: never moves
		return unsafe.String(&frame[at], len(v))
	}
	setMaps := true
	var walk func(v reflect.Value, f func(v reflect.Value))
	walk = func(v reflect.Value, f func(v reflect.Value)) {
		switch v.Kind() {
		case reflect.String:
			f(v)
		case reflect.Struct:
			if v.Type() == reflect.TypeOf(time.Time{}) {
				return
			}
			for i := range v.NumField() {
				walk(v.Field(i), f)
			}
		case reflect.Pointer:
			walk(v.Elem(), f)
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.String {
				for i := range v.Len() {
					walk(v.Index(i), f)
				}
			}
		case reflect.Map:
			if setMaps && v.Len() > 0 {
				k, e := inFrame(), inFrame()
				v.Set(reflect.ValueOf(map[string]string{k: e}))
			}
		}
	}
	walk(reflect.ValueOf(&ev).Elem(), func(v reflect.Value) { v.SetString(inFrame()) })
	setMaps = false
	var want []string
	collect := func(ev *Event) []string {
		var got []string
		walk(reflect.ValueOf(ev).Elem(), func(v reflect.Value) { got = append(got, strings.Clone(v.String())) })
		for _, c := range []*Channel{&ev.Channel, ev.ReplaceChannel, ev.Peer, ev.Caller} {
			for k, v := range c.ChannelVars {
				got = append(got, strings.Clone(k), strings.Clone(v))
			}
		}
		return got
	}
	want = collect(&ev)
	if len(want) != n {
		t.Fatalf("set %d strings, collected %d", n, len(want))
	}
	out := compact(&ev, frame, len(frame), room, nil, raw)
	clear(frame[:cap(frame)])
	if room != nil {
		*room = extras{}
		if out.Peer == &room.ch[1] || unsafe.SliceData(out.Args) == &room.args[0] || out.Playback == &room.pb {
			t.Fatal("the copy refers to the read loop's room")
		}
	}
	if got := collect(out); !slices.Equal(got, want) {
		t.Errorf("after compact and overwriting the frame:\n got %q\nwant %q", got, want)
	}
}

// TestCompactShares: the fields that repeat from event to event share the
// previous event's string (no room in the box), the others are copies.
func TestCompactShares(t *testing.T) {
	var keep shared
	var evs []*Event
	for _, digit := range []string{"1", "2"} {
		buf := []byte(strings.Replace(frameDTMF, `"digit":"5"`, `"digit":"`+digit+`"`, 1))
		var scratch Event
		n, err := decode(buf, &scratch, nil)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, compact(&scratch, buf, n, nil, &keep, false))
		clear(buf)
	}
	a, b := evs[0], evs[1]
	if a.AsteriskID != "02:fc:00:00:00:01" || b.AsteriskID != a.AsteriskID || b.Digit != "2" || a.Digit != "1" {
		t.Fatalf("events %+v, %+v", a, b)
	}
	if unsafe.StringData(b.AsteriskID) != unsafe.StringData(a.AsteriskID) || unsafe.StringData(b.Application) != unsafe.StringData(a.Application) {
		t.Error("the second event does not share the first one's AsteriskID and Application")
	}
	if unsafe.StringData(b.Channel.ID) == unsafe.StringData(a.Channel.ID) {
		t.Error("the channel id is shared; only the fields of sharedFields may be")
	}
}
