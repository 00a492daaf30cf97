package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func testClient(t *testing.T) *ari.Client {
	t.Helper()
	c, err := ari.NewClient(ari.Config{URL: "http://127.0.0.1:1/ari", Username: "u", Password: "p", Apps: []string{"eivr"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestPeerSource: a persistent connection's source across redials. The
// redial is reported as the next connection with the app (the gateway
// reconciles it); a REST call made while the socket is down goes to the
// redialled connection's client; a late Disconnected of a replaced socket
// changes nothing; without a redial within the window Run ends with
// ErrRedialWindow and the source takes no connection any more.
func TestPeerSource(t *testing.T) {
	src := NewPeerSource(100 * time.Millisecond)
	rec := &streamRec{conn: make(chan ari.ConnInfo, 4), events: make(chan *ari.Event, 4), disc: make(chan error, 4)}
	ran := make(chan error, 1)
	go func() { ran <- src.Run(context.Background(), rec) }()
	c1, c2, c3 := testClient(t), testClient(t), testClient(t)
	closed := make(chan int, 4)

	h1 := src.Attach(c1, "eivr", func() { closed <- 1 })
	if info := <-rec.conn; info.Seq != 1 || len(info.Apps) != 1 || info.Apps[0] != "eivr" {
		t.Fatalf("first Connected %+v, want seq 1 with the app", info)
	}
	h1.Event(&ari.Event{Type: "StasisStart"})
	if ev := <-rec.events; ev.Type != "StasisStart" {
		t.Fatalf("event %q", ev.Type)
	}
	if got := src.client(context.Background()); got != c1 {
		t.Fatal("REST not on the connection's client")
	}

	// The socket drops: the gateway is told, REST waits for the redial.
	lost := errors.New("socket gone")
	h1.Disconnected(lost)
	if err := <-rec.disc; err != lost {
		t.Fatalf("Disconnected %v", err)
	}
	if !src.Ready() {
		t.Fatal("not ready within the window")
	}
	waited := make(chan *ari.Client, 1)
	go func() { waited <- src.client(context.Background()) }()
	h2 := src.Attach(c2, "eivr", func() { closed <- 2 })
	if info := <-rec.conn; info.Seq != 2 || len(info.Apps) != 1 {
		t.Fatalf("Connected after the redial %+v, want seq 2 with the app to reconcile", info)
	}
	if got := <-waited; got != c2 {
		t.Fatal("a REST call during the outage did not go to the redialled connection")
	}

	// Asterisk redials before the old socket is seen to drop: the newer
	// wins, the older is closed, and its late Disconnected is ignored.
	h3 := src.Attach(c3, "eivr", func() { closed <- 3 })
	if n := <-closed; n != 2 {
		t.Fatalf("closed socket %d, want the replaced 2", n)
	}
	<-rec.conn
	h2.Disconnected(errors.New("late"))
	if got := src.client(context.Background()); got != c3 {
		t.Fatal("a replaced socket's Disconnected took the source down")
	}
	select {
	case err := <-rec.disc:
		t.Fatalf("a replaced socket's Disconnected reached the gateway: %v", err)
	default:
	}

	// No redial within the window.
	h3.Disconnected(lost)
	<-rec.disc
	select {
	case err := <-ran:
		if !errors.Is(err, ErrRedialWindow) || !errors.Is(err, lost) {
			t.Fatalf("Run returned %v, want ErrRedialWindow wrapping the loss", err)
		}
	case <-time.After(testwait.Long):
		t.Fatal("Run did not end after the window")
	}
	if src.Ready() {
		t.Fatal("ready after the window")
	}
	if src.Attach(c1, "eivr", func() {}) != nil {
		t.Fatal("an ended source took a connection")
	}
	// A REST call after the end uses the last client at once (its HTTP
	// route may still work) instead of waiting.
	if got := src.client(context.Background()); got != c3 {
		t.Fatal("REST after the end not on the last client")
	}
}
