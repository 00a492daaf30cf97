package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr/eivrtest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// TestListenerLiveView: in listener mode the admin listener serves the
// live call view at / and the CTI stream of every connection's sessions
// at GET /v1/events: a call on a per-call socket and one on a persistent
// socket both reach a consumer as EIVRSession started, their script lines
// and ended.
func TestListenerLiveView(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
	defer cancel()
	scripts := eivrtest.NewServer(t)
	a, err := aritest.NewServer(aritest.Options{Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cfg := listenTestConfig(scripts.Host, config.ListenAsterisk{Name: "pbx1", Username: "pbx1", Password: "pw1", REST: "socket"})
	cfg.Admin.Listen, cfg.Admin.Token = "127.0.0.1:0", "tok"
	percall := config.App{Name: "eivrpc", TCPHosts: cfg.Apps[0].TCPHosts}
	cfg.Apps = append(cfg.Apps, percall)
	li := startListenInstance(t, cfg, testLogger(t))
	if li.s.admin == nil {
		t.Fatal("no admin listener")
	}
	addr := li.s.admin.Addr()
	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), "live calls") {
		t.Fatalf("GET /: %s %q, want the live view page", res.Status, res.Header.Get("Content-Type"))
	}
	cons := consume(t, addr, "", "")
	url := "ws://" + li.s.Addr() + "/ari"
	if err := a.AddOutbound(aritest.Outbound{URL: url, Username: "pbx1", Password: "pw1", App: cfg.Apps[0].Name}); err != nil {
		t.Fatal(err)
	}
	if err := a.AddOutbound(aritest.Outbound{URL: url, Username: "pbx1", Password: "pw1", App: percall.Name, PerCall: true}); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{cfg.Apps[0].Name, percall.Name} {
		id, err := a.StartCall(app, []string{scripts.URL(), ""}, aritest.CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := scripts.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		line := "E,bye-" + app
		if err := c.Command(line); err != nil {
			t.Fatal(err)
		}
		if ev, err := c.ReadEvent(ctx); err != nil || !strings.HasPrefix(ev, "E,") {
			t.Fatalf("E reply %q, %v", ev, err)
		}
		if err := c.ExpectEOF(ctx); err != nil {
			t.Fatal(err)
		}
		var phases []string
		for len(phases) == 0 || phases[len(phases)-1] != "ended" {
			m := cons.next(t)
			if m.Type != "EIVRSession" || m.Channel.ID != id {
				continue
			}
			p := m.Phase
			if m.Phase == "line" {
				p += ":" + m.Line
			}
			phases = append(phases, p)
		}
		if phases[0] != "started" || !contains(phases, "line:"+line) {
			t.Fatalf("%s: the stream's EIVRSession phases of the call: %q, want started, the line %q, ended", app, phases, line)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
