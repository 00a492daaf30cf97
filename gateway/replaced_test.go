package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// replacedARI is benchARI with channels that exist until gone, and a
// GET /channels/{id} that waits for a gate and counts its concurrency.
type replacedARI struct {
	*benchARI
	gate chan struct{} // closed: GetChannel answers

	mu       sync.Mutex
	gone     map[string]bool
	inFlight int
	max      int
	gets     int
}

func (f *replacedARI) GetChannel(ctx context.Context, id string) (ari.Channel, error) {
	f.mu.Lock()
	f.inFlight++
	f.gets++
	f.max = max(f.max, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	select {
	case <-f.gate:
	case <-ctx.Done():
		return ari.Channel{}, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone[id] {
		return ari.Channel{}, fmt.Errorf("GET /channels/%s: %w", id, ari.ErrNotFound)
	}
	return ari.Channel{ID: id}, nil
}

func (f *replacedARI) GetApplication(ctx context.Context, app string) (ari.Application, error) {
	return ari.Application{Name: app}, nil // Reclaim: reconcile ends every session
}

func (f *replacedARI) stats() (max, gets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.max, f.gets
}

// While the app is replaced, the gateway polls its sessions' channels at
// most replacedChecks at a time, ends the sessions of the gone ones with H
// and stops polling once the app is subscribed again.
func TestReplacedAppPolling(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fa := &replacedARI{benchARI: newBenchARI(), gate: make(chan struct{}), gone: map[string]bool{}}
	g, err := New(Config{Apps: []AppConfig{{Name: "eivr", TCPHosts: []string{"127.0.0.1:*"}}}, NoIdleSilence: true}, fa)
	if err != nil {
		t.Fatal(err)
	}
	g.replacedPoll = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { NewPipeline(fa, g, reorder.Config{}).Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	h := <-fa.handler

	const calls = 3 * replacedChecks
	clients := make([]*bufio.Reader, calls)
	for i := range calls {
		ev := new(ari.Event)
		if err := ari.Decode(frame("StasisStart", "c"+strconv.Itoa(i), i, `"args":["ivr://`+ln.Addr().String()+`"],`), ev); err != nil {
			t.Fatal(err)
		}
		h.Event(ev)
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		clients[i] = bufio.NewReader(c)
	}
	testwait.Until(t, testwait.Long, "every session is live", func() bool { return g.Sessions() == calls })

	h.Event(&ari.Event{Kind: ari.KindApplicationReplaced, Type: "ApplicationReplaced", Application: "eivr"})
	testwait.Until(t, testwait.Long, "the checks fill their bound", func() bool { m, _ := fa.stats(); return m >= replacedChecks })
	// The bound must hold: fa.max is the peak, checked once every session's
	// channel was polled (below), so a GET beyond the bound made at any
	// time before fails the test.

	// Half the callers hang up: their scripts get H, the others nothing.
	fa.mu.Lock()
	for i := 0; i < calls; i += 2 {
		fa.gone["c"+strconv.Itoa(i)] = true
	}
	fa.mu.Unlock()
	close(fa.gate)
	for i := 0; i < calls; i += 2 {
		l, err := clients[i].ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "H,") {
			t.Fatalf("c%d: script got %q, %v, want H", i, l, err)
		}
	}
	testwait.Until(t, testwait.Long, "the hung-up sessions end", func() bool { return g.Sessions() == calls/2 })
	testwait.Until(t, testwait.Long, "every session's channel was polled", func() bool { _, gets := fa.stats(); return gets >= calls })
	if m, _ := fa.stats(); m != replacedChecks {
		t.Errorf("%d GET /channels/{id} at once, want at most %d", m, replacedChecks)
	}

	// The app is subscribed again: the polling stops.
	h.Connected(ari.ConnInfo{Seq: 2, Apps: []string{"eivr"}})
	testwait.Until(t, testwait.Long, "the watch stops", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.watches) == 0
	})
	_, before := fa.stats()
	// The poller's goroutine ends (it waits for its checks first): after
	// that nothing can poll, and at most the pass it was in added GETs.
	testwait.Until(t, testwait.Long, "the poller's goroutine ends", func() bool { return !goroutineIn("gateway.(*Gateway).watchReplaced") })
	if _, after := fa.stats(); after > before+replacedChecks {
		t.Errorf("still polling after the app was subscribed again: %d gets, then %d", before, after)
	}
}

// goroutineIn reports whether a goroutine's stack holds fn (a function
// name as runtime stacks print it).
func goroutineIn(fn string) bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Contains(buf[:n], []byte(fn+"("))
		}
		buf = make([]byte, 2*len(buf))
	}
}
