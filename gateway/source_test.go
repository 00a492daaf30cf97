package gateway

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/gorilla/websocket"
)

// streamRec records what a ConnSource hands on.
type streamRec struct {
	conn   chan ari.ConnInfo
	events chan *ari.Event
	disc   chan error
}

func (r *streamRec) Connected(i ari.ConnInfo) { r.conn <- i }
func (r *streamRec) Event(ev *ari.Event)      { r.events <- ev }
func (r *streamRec) Disconnected(err error)   { r.disc <- err }

func TestConnSource(t *testing.T) {
	src := NewConnSource(nil)
	rec := &streamRec{conn: make(chan ari.ConnInfo, 1), events: make(chan *ari.Event, 4), disc: make(chan error, 1)}
	ran := make(chan error, 1)
	// The listener may deliver before Run binds the handler: the calls
	// wait for it.
	delivered := make(chan struct{})
	go func() {
		src.Connected(ari.ConnInfo{Seq: 9, Apps: []string{"x"}})
		src.Event(&ari.Event{Type: "StasisStart", Application: "eivr:Local/1@ctx-00000001;2"})
		src.Event(&ari.Event{Type: "StasisStart", Application: "plain"})
		close(delivered)
	}()
	go func() { ran <- src.Run(context.Background(), rec) }()
	<-delivered
	if info := <-rec.conn; info.Seq != 1 || len(info.Apps) != 0 {
		t.Fatalf("Connected %+v: want a first connection with nothing to reconcile", info)
	}
	for _, want := range []string{"eivr", "plain"} {
		if ev := <-rec.events; ev.Application != want {
			t.Fatalf("application %q, want %q", ev.Application, want)
		}
	}
	if !src.Ready() {
		t.Fatal("not ready with the socket open")
	}
	cause := errors.New("socket gone")
	src.Disconnected(cause)
	if err := <-rec.disc; err != cause {
		t.Fatalf("Disconnected %v", err)
	}
	select {
	case err := <-ran:
		if err != cause {
			t.Fatalf("Run returned %v, want the socket's error", err)
		}
	case <-time.After(testwait.Long):
		t.Fatal("Run did not return after Disconnected")
	}
	if src.Ready() {
		t.Fatal("ready after the socket closed")
	}
	if err := src.Run(context.Background(), rec); err == nil {
		t.Fatal("second Run accepted")
	}
	// After Run returned, late events are dropped, not handed to a
	// pipeline that no longer runs.
	src.Event(&ari.Event{Type: "ChannelDestroyed"})
	if len(rec.events) != 0 {
		t.Fatal("an event after Run reached the handler")
	}
}

// TestConnSourceNormalClose: Asterisk's normal close (1000) of a per-call
// socket ends Run with it but is not reported to the Gateway as a lost
// socket (no WARN per call); an abnormal one is (TestConnSource).
func TestConnSourceNormalClose(t *testing.T) {
	src := NewConnSource(nil)
	rec := &streamRec{conn: make(chan ari.ConnInfo, 1), events: make(chan *ari.Event, 1), disc: make(chan error, 1)}
	ran := make(chan error, 1)
	go func() { ran <- src.Run(context.Background(), rec) }()
	src.Connected(ari.ConnInfo{})
	<-rec.conn
	normal := fmt.Errorf("ari listener: %w", &websocket.CloseError{Code: websocket.CloseNormalClosure})
	src.Disconnected(normal)
	if err := <-ran; !errors.Is(err, normal) {
		t.Fatalf("Run returned %v, want the close", err)
	}
	// Run has returned: a Disconnected it forwarded would be in rec.disc.
	select {
	case err := <-rec.disc:
		t.Fatalf("normal close reported as a lost socket: %v", err)
	default:
	}
}

func TestConnSourceAbort(t *testing.T) {
	src := NewConnSource(nil)
	src.Abort(errors.New("no gateway"))
	done := make(chan struct{})
	go func() { // never bound: the handler methods must not wait forever
		src.Connected(ari.ConnInfo{})
		src.Event(&ari.Event{})
		src.Disconnected(nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(testwait.Long):
		t.Fatal("handler methods blocked after Abort")
	}
	select {
	case <-src.Done():
	default:
		t.Fatal("Done not closed after Abort")
	}
}
