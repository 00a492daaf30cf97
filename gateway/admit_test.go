package gateway

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// gateHandler is a slog.Handler that, once closed, blocks every Handle
// until opened again, and reports each record it blocks.
type gateHandler struct {
	mu      sync.Mutex
	closed  bool
	open    chan struct{} // closed by release
	blocked chan string   // messages of the records being held
}

func newGateHandler() *gateHandler {
	return &gateHandler{open: make(chan struct{}), blocked: make(chan string, 64)}
}

func (h *gateHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *gateHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *gateHandler) WithGroup(string) slog.Handler            { return h }
func (h *gateHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		select {
		case h.blocked <- r.Message:
		default:
		}
		<-h.open
	}
	return nil
}

func (h *gateHandler) shut() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
}

func (h *gateHandler) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		h.closed = false
		close(h.open)
	}
}

// dispatcher calls h in order on one goroutine, as the ARI client's
// dispatch goroutine does; stop waits for it.
func dispatcher(h ari.Handler) (events chan<- *ari.Event, stop func()) {
	ch := make(chan *ari.Event, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			h.Event(ev)
		}
	}()
	return ch, func() { close(ch); <-done }
}

func decodeFrame(t *testing.T, f []byte) *ari.Event {
	t.Helper()
	ev := new(ari.Event)
	if err := ari.Decode(f, ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// gatedGateway runs a gateway on benchARI whose log sink is gate, fed by a
// dispatcher goroutine, serving ivr:// clients accepted on ln; all is
// stopped at the end of the test (the gate opened first).
func gatedGateway(t *testing.T) (*Gateway, *gateHandler, chan<- *ari.Event, net.Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	gate := newGateHandler()
	fa := newBenchARI()
	g, err := New(Config{
		Apps:          []AppConfig{{Name: "eivr", TCPHosts: []string{"127.0.0.1:*"}}},
		NoIdleSilence: true,
		Logger:        slog.New(gate),
	}, fa)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { NewPipeline(fa, g, reorder.Config{}).Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	events, stop := dispatcher(<-fa.handler)
	t.Cleanup(stop)
	t.Cleanup(gate.release) // first: a failed test must not leave the dispatcher stuck
	return g, gate, events, ln
}

// A log sink that blocks while a StasisStart is being admitted (here a
// refusal: its log line is written by the admission) does not delay
// another, running channel's DTMF on its way to its script: the admission
// runs off the dispatch goroutine.
func TestBlockedLogDoesNotDelayDTMF(t *testing.T) {
	g, gate, events, ln := gatedGateway(t)
	// c1 runs: its script has the connection.
	events <- decodeFrame(t, frame("StasisStart", "c1", 0, `"args":["ivr://`+ln.Addr().String()+`(x)"],`))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	digit := func(seq int, d string) {
		t.Helper()
		events <- decodeFrame(t, frame("ChannelDtmfReceived", "c1", seq, `"digit":"`+d+`","duration_ms":100,`))
		c.SetReadDeadline(time.Now().Add(testwait.Long))
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("c1's script got no %s: %v", d, err)
			}
			if strings.HasPrefix(line, d+",") {
				return
			}
		}
	}
	digit(1, "1") // c1's session has started: its loop forwards digits

	// The log sink blocks; c2 enters with a target the allow-list denies,
	// and its admission gets stuck writing that.
	gate.shut()
	events <- decodeFrame(t, frame("StasisStart", "c2", 2, `"args":["ivr://192.0.2.1:1"],`))
	select {
	case msg := <-gate.blocked:
		if !strings.Contains(msg, "denied") {
			t.Fatalf("blocked on %q, want the admission's refusal", msg)
		}
	case <-time.After(testwait.Long):
		t.Fatal("c2's admission never logged")
	}

	// c1's digit reaches its script meanwhile.
	digit(3, "5")
	gate.release()
	testwait.Until(t, testwait.Long, "c2's refusal is over", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		_, ended := g.ended.Peek("c2")
		return ended && g.sessions["c2"] == nil
	})
}

// The events of a channel that arrive while its admission waits (here
// behind another call's admission stuck on the log sink) reach its
// session in order once it starts: the digit, then the hang-up.
func TestEventsHeldDuringAdmission(t *testing.T) {
	g, gate, events, ln := gatedGateway(t)
	gate.shut()
	events <- decodeFrame(t, frame("StasisStart", "c0", 0, `"args":["ivr://192.0.2.1:1"],`)) // denied: logged
	select {
	case <-gate.blocked:
	case <-time.After(testwait.Long):
		t.Fatal("c0's admission never logged")
	}
	events <- decodeFrame(t, frame("StasisStart", "c1", 1, `"args":["ivr://`+ln.Addr().String()+`(x)"],`))
	events <- decodeFrame(t, frame("ChannelDtmfReceived", "c1", 2, `"digit":"4","duration_ms":100,`))
	events <- decodeFrame(t, frame("ChannelHangupRequest", "c1", 3, `"cause":16,`))
	testwait.Until(t, testwait.Long, "c1's events are held with its admission", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		a := g.admitting["c1"]
		return a != nil && len(a.held) == 2 && g.sessions["c1"] == nil
	})
	gate.release()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(testwait.Long))
	br := bufio.NewReader(c)
	var got []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		if line[0] == '4' || line[0] == 'H' {
			got = append(got, line[:1])
		}
	}
	if strings.Join(got, "") != "4H" {
		t.Errorf("c1's script got %q, want the digit, then H", got)
	}
}
