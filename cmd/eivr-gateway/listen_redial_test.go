package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr/eivrtest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// appRequests counts the GET /applications/{app} requests aritest saw
// (the gateway's reconcile of the app after each connection).
func appRequests(a *aritest.Server, app string) int {
	n := 0
	for _, r := range a.Requests() {
		if r.Method == "GET" && r.Path == "/applications/"+app {
			n++
		}
	}
	return n
}

// TestListenerPersistentRedial: a persistent outbound socket drops (no
// close frame) and the fake Asterisk dials it again; the call's session
// goes on through the drop: its script sees nothing (its next event is the
// DTMF pressed after the redial), and the gateway reconciled the app over
// the new socket. REST over the socket (the new socket must carry the
// calls) and split (HTTP) are both covered.
func TestListenerPersistentRedial(t *testing.T) {
	for _, rest := range []string{"socket", "split"} {
		t.Run(rest, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
			defer cancel()
			scripts := eivrtest.NewServer(t)
			a, err := aritest.NewServer(aritest.Options{Speed: 20})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			peer := config.ListenAsterisk{Name: "pbx1", Username: "pbx1", Password: "pw1", REST: rest}
			if rest == "split" {
				peer.ARIURL = a.URL()
			}
			cfg := listenTestConfig(scripts.Host, peer)
			cfg.ARI.Username, cfg.ARI.Password = "asterisk", "asterisk"
			cfg.Listen.RedialWindow = config.Dur(testwait.Long)
			li := startListenInstance(t, cfg, testLogger(t))
			app := cfg.Apps[0].Name
			if err := a.AddOutbound(aritest.Outbound{URL: "ws://" + li.s.Addr() + "/ari", Username: "pbx1", Password: "pw1", App: app}); err != nil {
				t.Fatal(err)
			}
			id, err := a.StartCall(app, []string{scripts.URL(), ""}, aritest.CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := scripts.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The first connection's reconcile ran (the session is up).
			testwait.Until(t, testwait.Long, "the first reconcile", func() bool { return appRequests(a, app) >= 1 })
			if li.s.Sessions() != 1 {
				t.Fatalf("sessions %d, want 1", li.s.Sessions())
			}
			a.KillOutbound(app)
			// The redialled socket is the same source: the gateway
			// reconciles the app over it.
			testwait.Until(t, testwait.Long, "the reconcile after the redial", func() bool { return appRequests(a, app) >= 2 })
			if err := a.PressDTMF(id, '5', 10*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			ev, err := c.Event(ctx)
			if err != nil || ev.Tag != '5' {
				t.Fatalf("the script's first event after the drop: %+v, %v; want the DTMF 5", ev, err)
			}
			// REST still works: G over the new connection.
			if err := c.Command("G,CALLNO"); err != nil {
				t.Fatal(err)
			}
			if line, err := c.ReadEvent(ctx); err != nil || !strings.HasPrefix(line, "G,") {
				t.Fatalf("G reply %q, %v", line, err)
			}
			if err := c.Command("E,bye"); err != nil {
				t.Fatal(err)
			}
			if line, err := c.ReadEvent(ctx); err != nil || !strings.HasPrefix(line, "E,") {
				t.Fatalf("E reply %q, %v", line, err)
			}
			if err := c.ExpectEOF(ctx); err != nil {
				t.Fatal(err)
			}
			end, err := a.WaitEnd(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			// The session's end sequence is over (the continue's reply read)
			// before the fake goes away.
			testwait.Until(t, testwait.Long, "no session left", func() bool { return li.s.Sessions() == 0 })
			if end.HungUp {
				t.Fatalf("the call was hung up (%+v), want it back in the dialplan", end)
			}
		})
	}
}

// TestListenerPersistentWindow: a persistent socket that is not dialled
// again within listen.redial_window ends its calls as at shutdown (the
// script sees EOF), and the next connection of that Asterisk starts
// afresh.
func TestListenerPersistentWindow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
	defer cancel()
	scripts := eivrtest.NewServer(t)
	a, err := aritest.NewServer(aritest.Options{Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cfg := listenTestConfig(scripts.Host, config.ListenAsterisk{Name: "pbx1", Username: "pbx1", Password: "pw1", REST: "socket"})
	cfg.Listen.RedialWindow = config.Dur(200 * time.Millisecond)
	li := startListenInstance(t, cfg, testLogger(t))
	app := cfg.Apps[0].Name
	// Asterisk redials only long after the window.
	if err := a.AddOutbound(aritest.Outbound{URL: "ws://" + li.s.Addr() + "/ari", Username: "pbx1", Password: "pw1", App: app,
		ReconnectInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.StartCall(app, []string{scripts.URL(), ""}, aritest.CallOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := scripts.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, testwait.Long, "the session", func() bool { return li.s.Sessions() == 1 })
	a.KillOutbound(app)
	if err := c.ExpectEOF(ctx); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, testwait.Long, "the source to be dropped", func() bool {
		li.s.mu.Lock()
		defer li.s.mu.Unlock()
		return len(li.s.persist) == 0 && len(li.s.gws) == 0
	})
}
