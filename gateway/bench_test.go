package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/recordings"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// benchARI is a fake ARI client for benchmarks: REST calls return at once,
// Play reports when it was called, Run hands out the Handler.
type benchARI struct {
	handler chan ari.Handler
	played  chan time.Time
}

func newBenchARI() *benchARI {
	return &benchARI{handler: make(chan ari.Handler, 1), played: make(chan time.Time, 1)}
}

func (b *benchARI) Run(ctx context.Context, h ari.Handler) error {
	b.handler <- h
	h.Connected(ari.ConnInfo{Seq: 1, Apps: []string{"eivr"}})
	<-ctx.Done()
	return ctx.Err()
}
func (b *benchARI) Ready() bool { return true }
func (b *benchARI) Originate(ctx context.Context, p ari.OriginateParams) (ari.Channel, error) {
	return ari.Channel{ID: p.ChannelID}, nil
}
func (b *benchARI) GetApplication(ctx context.Context, app string) (ari.Application, error) {
	return ari.Application{Name: app}, nil
}
func (b *benchARI) GetChannel(ctx context.Context, id string) (ari.Channel, error) {
	return ari.Channel{ID: id}, nil
}
func (b *benchARI) Sounds(ctx context.Context, lang string) ([]ari.Sound, error) {
	return []ari.Sound{{ID: "beep", Formats: []ari.FormatLang{{Language: "en", Format: "gsm"}}}}, nil
}
func (b *benchARI) Answer(ctx context.Context, ch string) error                         { return nil }
func (b *benchARI) Hangup(ctx context.Context, ch, reason string) error                 { return nil }
func (b *benchARI) StopPlayback(ctx context.Context, id string) error                   { return nil }
func (b *benchARI) SetVariable(ctx context.Context, ch, n, v string) error              { return nil }
func (b *benchARI) StartSilence(ctx context.Context, ch string) error                   { return nil }
func (b *benchARI) StopSilence(ctx context.Context, ch string) error                    { return nil }
func (b *benchARI) Continue(context.Context, string, string, string, int, string) error { return nil }
func (b *benchARI) GetVariable(ctx context.Context, ch, n string) (string, error) {
	return "", ari.ErrVariableNotSet
}
func (b *benchARI) GetPlayback(ctx context.Context, id string) (ari.Playback, error) {
	return ari.Playback{}, ari.ErrNotFound
}
func (b *benchARI) SendDTMF(context.Context, string, string, ari.DTMFOptions) error { return nil }
func (b *benchARI) Play(ctx context.Context, ch, id string, media []string, lang string) (ari.Playback, error) {
	select {
	case b.played <- time.Now():
	default:
	}
	return ari.Playback{ID: id, State: "queued"}, nil
}

// benchGateway runs a Gateway on benchARI serving ivr:// clients accepted
// on ln by the caller.
func benchGateway(b *testing.B) (*Gateway, *benchARI, ari.Handler, net.Listener, func()) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fa := newBenchARI()
	g, err := New(Config{
		Apps:          []AppConfig{{Name: "eivr", TCPHosts: []string{"127.0.0.1:*"}}},
		NoIdleSilence: true,
	}, fa)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { NewPipeline(fa, g, reorder.Config{}).Run(ctx); close(done) }()
	h := <-fa.handler
	return g, fa, h, ln, func() { cancel(); <-done; ln.Close() }
}

var benchTS = time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)

// frame builds an ARI event frame as Asterisk sends it; seq makes each
// timestamp unique (reorder drops duplicates).
func frame(kind, ch string, seq int, extra string) []byte {
	ts := benchTS.Add(time.Duration(seq) * time.Millisecond).Format("2006-01-02T15:04:05.000-0700")
	return fmt.Appendf(nil, `{"type":%q,"timestamp":%q,"asterisk_id":"02:fc:00:00:00:01","application":"eivr",%s"channel":{"id":%q,"name":"PJSIP/a-0001","state":"Up","protocol_id":"","caller":{"name":"","number":"5551234"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"stasisin","exten":"s","priority":2,"app_name":"Stasis","app_data":"eivr"},"creationtime":"2026-11-23T18:00:00.000+0000","language":"en"}}`,
		kind, ts, extra, ch)
}

func push(b *testing.B, h ari.Handler, f []byte) {
	ev := new(ari.Event)
	if err := ari.Decode(f, ev); err != nil {
		b.Fatal(err)
	}
	h.Event(ev)
}

// startCall makes channel ch enter the app for the server on ln and
// returns the server's side of the connection.
func startCall(b *testing.B, h ari.Handler, ln net.Listener, ch string, seq int) net.Conn {
	push(b, h, frame("StasisStart", ch, seq, `"args":["ivr://`+ln.Addr().String()+`"],`))
	c, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkDTMFToClient: a ChannelDtmfReceived frame (as read from the
// WebSocket) through Decode, reorder and the session to its line read by
// the client on a loopback TCP socket. One digit outstanding at a time.
func BenchmarkDTMFToClient(b *testing.B) {
	_, _, h, ln, stop := benchGateway(b)
	defer stop()
	c := startCall(b, h, ln, "c1", 0)
	br := bufio.NewReader(c)
	defer c.Close()
	digits := "0123456789*#ABCD"
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f := frame("ChannelDtmfReceived", "c1", i+1, `"digit":"`+digits[i%16:i%16+1]+`","duration_ms":100,`)
		t0 := time.Now()
		push(b, h, f)
		line, err := br.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if line[0] != digits[i%16] {
			b.Fatalf("line %q for digit %c", line, digits[i%16])
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkSToPlay: a client's S line on an idle channel, with a warm
// existence cache, to the ARI play request; the PlaybackFinished and the F
// line then bring the channel back to idle (not timed).
func BenchmarkSToPlay(b *testing.B) {
	g, fa, h, ln, stop := benchGateway(b)
	defer stop()
	c := startCall(b, h, ln, "c1", 0)
	br := bufio.NewReader(c)
	defer c.Close()
	warm := func() { // first S fills the GET /sounds cache
		c.Write([]byte("S,beep\n"))
		<-fa.played
	}
	warm()
	seq := 1
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		// End the outstanding playback: PlaybackFinished(done) -> F.
		id := "eivr-" + g.prefix + "-" + strconv.FormatUint(g.pbSeq.Load(), 10)
		seq++
		push(b, h, playbackFrame("PlaybackFinished", "c1", id, seq))
		if _, err := br.ReadSlice('\n'); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := c.Write([]byte("S,beep\n")); err != nil {
			b.Fatal(err)
		}
		at := <-fa.played
		lat = append(lat, at.Sub(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func playbackFrame(kind, ch, id string, seq int) []byte {
	ts := benchTS.Add(time.Duration(seq) * time.Millisecond).Format("2006-01-02T15:04:05.000-0700")
	return fmt.Appendf(nil, `{"type":%q,"timestamp":%q,"asterisk_id":"02:fc:00:00:00:01","application":"eivr","playback":{"id":%q,"media_uri":"sound:beep","target_uri":"channel:%s","language":"en","state":"done"}}`,
		kind, ts, id, ch)
}

// BenchmarkIdleTCPSessions: memory per idle ivr:// session (heap plus
// goroutine stacks, in-use after GC), the client side's sockets included.
func BenchmarkIdleTCPSessions(b *testing.B) {
	for _, n := range []int{1000, 9000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			if n > 1000 && testing.Short() {
				b.Skip("short")
			}
			for range b.N {
				g, _, h, ln, stop := benchGateway(b)
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				conns := make([]net.Conn, 0, n)
				for i := range n {
					c := startCall(b, h, ln, "c"+strconv.Itoa(i), i)
					conns = append(conns, c)
				}
				for g.Sessions() != n {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(100 * time.Millisecond) // let every reader park in Read
				for range 3 {                      // steady state: stacks grown by the start shrink over GCs
					runtime.GC()
				}
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				per := float64((after.HeapInuse+after.StackInuse)-(before.HeapInuse+before.StackInuse)) / float64(n)
				b.ReportMetric(per, "B/session")
				b.ReportMetric(float64(after.StackInuse-before.StackInuse)/float64(n), "stackB/session")
				if n == 1000 {
					f, _ := os.Create(os.TempDir() + "/gw-idle-heap.pprof")
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
				b.ReportMetric(float64(runtime.NumGoroutine())/float64(n), "goroutines/session")
				for _, c := range conns {
					c.Close()
				}
				stop()
			}
		})
	}
}

// BenchmarkGapFinishedToNextPlay: with a file queued, the PlaybackFinished
// frame of the current one to the play request of the next: the silence
// the gateway adds between files (Asterisk adds about 2 ms, ari-24).
func BenchmarkGapFinishedToNextPlay(b *testing.B) {
	g, fa, h, ln, stop := benchGateway(b)
	defer stop()
	c := startCall(b, h, ln, "c1", 0)
	defer c.Close()
	br := bufio.NewReader(c)
	c.Write([]byte("S,beep\n"))
	<-fa.played
	seq := 1
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c.Write([]byte("A,beep\nP,sync\n"))
		if _, err := br.ReadSlice('\n'); err != nil { // the P reply: A was handled
			b.Fatal(err)
		}
		id := "eivr-" + g.prefix + "-" + strconv.FormatUint(g.pbSeq.Load(), 10)
		seq++
		f := playbackFrame("PlaybackFinished", "c1", id, seq)
		b.StartTimer()
		t0 := time.Now()
		push(b, h, f)
		at := <-fa.played
		lat = append(lat, at.Sub(t0))
		b.StopTimer()
		if _, err := br.ReadSlice('\n'); err != nil { // F
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkEventsToSessions: the production event path from the socket.
// Every event frame of the recordings (../shared/testdata/asterisk, 3574
// frames of 17 types) is written by a WebSocket server and read by a real
// ari.Client (read loop, decode, dispatch queue), then goes through reorder
// and routing into 64 sessions' queues. Each recorded channel is mapped to
// one of the 64 sessions, except for the frames that would end a session
// (StasisStart, StasisEnd, ChannelDestroyed, ChannelHangupRequest), which
// go to channels with no session, as do events of other calls. Each pass
// over the set moves every timestamp one year on, so nothing is a
// duplicate. The server writes 256 frames at a time with one write from a
// pre-rendered stream (its cost is one syscall a batch and the year patch
// once a pass), then waits, blocked, until the gateway has handled them,
// and until the sessions drained their queues (their time counts: it is
// their share of the work).
//
// What is counted: ns/op and events/s are wall time per event;
// cpu-ns/event and events/cpu-s the CPU time (user+system, getrusage) of
// the whole process per event: server writes, the client's framing, decode
// and dispatch, reorder, routing, the sessions (their lines written to the
// scripts' sockets) and the scripts reading them, and the GC.
// allocs/event and B/op are the whole process's: the client's one
// allocation an event (ari's read loop, Dial's channels and StasisStart's
// args included), and what the gateway allocates for the StasisStarts of
// channels with no session (the application string parsed, the client
// dialled, the refusal logged: about 0.45 allocations per event of the
// set, which is 4 % StasisStarts); the events routed to sessions allocate
// nothing more.
func BenchmarkEventsToSessions(b *testing.B) {
	frames := replayFrames(b)
	g, _, h, ln, stop := benchGateway(b)
	defer stop()
	const n = 64
	var conns []net.Conn
	var readers sync.WaitGroup
	for i := range n {
		c := startCall(b, h, ln, "c"+strconv.Itoa(i), i)
		conns = append(conns, c)
		readers.Add(1)
		go func() { // the scripts read their events (DTMF lines, ...)
			defer readers.Done()
			io.Copy(io.Discard, c)
		}()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	}()
	for g.Sessions() != n {
		runtime.Gosched()
	}
	srv := newReplayServer(b, frames)
	defer srv.close()
	cl, err := ari.NewClient(ari.Config{URL: srv.url(), Apps: []string{"eivr"}, Username: "u", Password: "p"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := &countingHandler{h: h, reached: make(chan struct{}, 1)}
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		cl.Run(ctx, ch)
	}()
	defer func() { cancel(); <-runDone; cl.Close() }()
	conn := srv.conn(b)
	// drained waits until the gateway has handled every frame sent
	// (blocked, not spinning: a spinning goroutine delays the network
	// poller), then until the sessions have drained their queues: their
	// work counts, and their queues (256 each) never overflow (waiting
	// every 16 batches instead overflowed one at -cpu 2: the recorded
	// channels' events are skewed). Reorder holds some kinds for their
	// window (20 ms), which costs no work: that is not waited for.
	drained := func(sent uint64) {
		ch.target.Store(sent)
		for ch.n.Load() < sent {
			<-ch.reached // may be an earlier target's: check again
		}
		for !queuesEmpty(g) {
			runtime.Gosched()
		}
	}
	// The server writes each batch of 256 frames with one write from its
	// pre-rendered stream, as a busy Asterisk's socket buffer delivers
	// them: the benchmark measures the client, not the server's framing.
	raw := conn.UnderlyingConn()
	sent := uint64(0)
	send := func(count int) {
		for k := 0; k < count; {
			p, j := srv.next(min(256, count-k))
			if _, err := raw.Write(p); err != nil {
				b.Fatal(err)
			}
			k += j
			sent += uint64(j)
			drained(sent)
		}
	}
	send(len(frames)) // warm up: reorder's channel state, session queues
	st0 := cl.Stats()
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	b.ResetTimer()
	send(b.N)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU time of the whole process (server writes, client, reorder,
	// sessions, GC) per event: steadier than wall time on a shared
	// machine, and its inverse is the rate one core would sustain.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	// allocs/op with its fraction (allocs/op is rounded down).
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N), "allocs/event")
	if st := cl.Stats(); st.Dropped != st0.Dropped || st.DecodeErrors != st0.DecodeErrors {
		b.Fatalf("the client dropped %d events, %d did not decode", st.Dropped-st0.Dropped, st.DecodeErrors-st0.DecodeErrors)
	}
	if s := g.Sessions(); s != n {
		b.Fatalf("%d sessions left of %d (queues overflowed)", s, n)
	}
}

// countingHandler counts the events h has handled and signals reached
// when the count gets to target.
type countingHandler struct {
	h         ari.Handler
	n, target atomic.Uint64
	reached   chan struct{}
}

func (c *countingHandler) Connected(info ari.ConnInfo) { c.h.Connected(info) }
func (c *countingHandler) Disconnected(err error)      { c.h.Disconnected(err) }
func (c *countingHandler) Event(ev *ari.Event) {
	c.h.Event(ev)
	if c.n.Add(1) == c.target.Load() {
		select {
		case c.reached <- struct{}{}:
		default:
		}
	}
}

// replayFrames returns every event frame of the recordings, with each
// recorded channel renamed c0..c63 (the benchmark's sessions) or, for the
// kinds that would end a session, x0...
func replayFrames(b *testing.B) [][]byte {
	b.Helper()
	dir, err := recordings.Dir()
	if err != nil {
		b.Skipf("recordings not available: %v", err)
	}
	var files []string
	for _, pat := range []string{"ari/*.jsonl", "eivr/*.ari.jsonl"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, m...)
	}
	ids := map[string]int{}
	var frames [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var rec struct {
				Event json.RawMessage `json:"event"`
			}
			if len(line) == 0 {
				continue
			}
			if err := json.Unmarshal(line, &rec); err != nil {
				b.Fatalf("%s: %v", f, err)
			}
			if len(rec.Event) == 0 {
				continue
			}
			fr := bytes.Clone(rec.Event)
			var ev ari.Event
			if err := ari.Decode(fr, &ev); err != nil {
				b.Fatalf("%s: %v", f, err)
			}
			prefix := "c"
			switch ev.Kind {
			case ari.KindStasisStart, ari.KindStasisEnd, ari.KindChannelDestroyed, ari.KindChannelHangupRequest:
				prefix = "x"
			}
			var chans []string
			for _, id := range []string{ev.Channel.ID, ev.ReplaceChannel.ChannelID(), ev.Peer.ChannelID(), ev.Caller.ChannelID(), strings.TrimPrefix(ev.Playback.PlaybackTarget(), "channel:")} {
				if id != "" && id != ev.Playback.PlaybackTarget() {
					chans = append(chans, id)
				}
			}
			for _, id := range chans {
				k, ok := ids[id]
				if !ok {
					k = len(ids)
					ids[id] = k
				}
				to := prefix + strconv.Itoa(k%64)
				fr = bytes.ReplaceAll(fr, []byte(`"`+id+`"`), []byte(`"`+to+`"`))
				fr = bytes.ReplaceAll(fr, []byte(`"channel:`+id+`"`), []byte(`"channel:`+to+`"`))
			}
			frames = append(frames, fr)
		}
	}
	if len(frames) == 0 {
		b.Fatal("no event frames in the recordings")
	}
	return frames
}

// replayServer is an ARI events endpoint that writes the frames in a loop
// from one pre-rendered stream of WebSocket frames (a pass over the set);
// each pass moves every timestamp's year on by one, patched in place
// (nothing is a duplicate for reorder, and no frame is re-encoded).
type replayServer struct {
	srv    *httptest.Server
	socks  chan *websocket.Conn
	stream []byte // every frame, framed (appendWSFrame), in order
	ends   []int  // offset in stream after each frame
	years  []int  // offset in stream of the year of each frame's timestamp; -1 if none
	i      int    // next frame
	pass   int
}

func newReplayServer(b *testing.B, frames [][]byte) *replayServer {
	rs := &replayServer{socks: make(chan *websocket.Conn, 1)}
	key := []byte(`"timestamp": "`)
	for _, f := range frames {
		rs.stream = appendWSFrame(rs.stream, f)
		at := bytes.Index(f, key)
		if at >= 0 {
			at += len(rs.stream) - len(f) + len(key)
		}
		rs.years = append(rs.years, at)
		rs.ends = append(rs.ends, len(rs.stream))
	}
	up := websocket.Upgrader{}
	rs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		rs.socks <- c
	}))
	return rs
}

func (rs *replayServer) url() string { return rs.srv.URL }

func (rs *replayServer) conn(b *testing.B) *websocket.Conn {
	select {
	case c := <-rs.socks:
		return c
	case <-time.After(10 * time.Second):
		b.Fatal("the client did not connect")
		return nil
	}
}

// next returns the next n frames (at most to the end of the pass) as
// bytes to write, and how many frames that is; a new pass first moves the
// years on.
func (rs *replayServer) next(n int) ([]byte, int) {
	if rs.i == len(rs.ends) {
		rs.i = 0
		rs.pass++
		y := 2026 + rs.pass
		for _, at := range rs.years {
			if at >= 0 {
				f := rs.stream
				f[at], f[at+1], f[at+2], f[at+3] = byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
			}
		}
	}
	from := 0
	if rs.i > 0 {
		from = rs.ends[rs.i-1]
	}
	n = min(n, len(rs.ends)-rs.i)
	rs.i += n
	return rs.stream[from:rs.ends[rs.i-1]], n
}

// appendWSFrame appends f as one unmasked WebSocket text frame (RFC 6455
// §5.2), as a server sends it.
func appendWSFrame(b, f []byte) []byte {
	switch n := len(f); {
	case n < 126:
		b = append(b, 0x81, byte(n))
	case n < 1<<16:
		b = append(b, 0x81, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x81, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, f...)
}

func (rs *replayServer) close() {
	rs.srv.CloseClientConnections()
	rs.srv.Close()
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func queuesEmpty(g *Gateway) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.sessions {
		if len(s.events) > 0 {
			return false
		}
	}
	return true
}

// BenchmarkStasisStartDispatch: the time a StasisStart (decoded already,
// as the read loop hands it over) holds the ARI dispatch goroutine in
// Handler.Event: reorder and queueing the admission (the parse, the
// allow-list and the session's creation run on the admission goroutine,
// spawning or dialing the client on the session's goroutine, not here); the server accepts and closes each connection, so sessions end.
// Calls arrive in bursts of 1000, as when many channels enter at once.
func BenchmarkStasisStartDispatch(b *testing.B) {
	g, _, h, ln, stop := benchGateway(b)
	defer stop()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	args := `"args":["ivr://` + ln.Addr().String() + `"],`
	const burst = 1000
	evs := make([]*ari.Event, burst)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += burst {
		b.StopTimer()
		for !idle(g) {
			runtime.Gosched()
		}
		n := min(burst, b.N-i)
		for j := range n {
			evs[j] = new(ari.Event)
			if err := ari.Decode(frame("StasisStart", "c"+strconv.Itoa(i+j), i+j, args), evs[j]); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for j := range n {
			t := time.Now()
			h.Event(evs[j])
			lat = append(lat, time.Since(t))
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func idle(g *Gateway) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions) == 0 && len(g.admitting) == 0
}
