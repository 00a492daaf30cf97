package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

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
		if _, err := a.WaitEnd(ctx, id); err != nil {
			t.Fatal(err)
		}
		testwait.Until(t, testwait.Long, "no session left", func() bool { return li.s.Sessions() == 0 })
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

// TestListenerClickToCall: POST /v1/calls in listener mode originates on
// the app's persistent outbound socket (REST over it): the destination
// answers and the program runs on the call; for an app served only per
// call (no socket before its call exists) the request is refused with
// 503 and why.
func TestListenerClickToCall(t *testing.T) {
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
	calls := "http://" + li.s.admin.Addr() + "/v1/calls"
	body := `{"endpoint":"PJSIP/1000","run":"` + scripts.URL() + `(hello)","app":"%s"}`
	// Before any connection: nothing to originate on.
	if code, res := post(t, calls, "tok", fmt.Sprintf(body, cfg.Apps[0].Name)); code != 503 || res.Status != callRefused || !strings.Contains(res.Error, "persistent") {
		t.Fatalf("no connection yet: %d %+v, want 503 refused", code, res)
	}
	url := "ws://" + li.s.Addr() + "/ari"
	if err := a.AddOutbound(aritest.Outbound{URL: url, Username: "pbx1", Password: "pw1", App: cfg.Apps[0].Name}); err != nil {
		t.Fatal(err)
	}
	if err := a.AddOutbound(aritest.Outbound{URL: url, Username: "pbx1", Password: "pw1", App: percall.Name, PerCall: true}); err != nil {
		t.Fatal(err)
	}
	a.SetEndpoint("PJSIP/1000", aritest.Endpoint{Outcome: aritest.Answer, Ring: 100 * time.Millisecond})
	// The persistent socket is attached once its first event arrived.
	testwait.Until(t, testwait.Long, "the persistent connection's gateway", func() bool {
		li.s.mu.Lock()
		defer li.s.mu.Unlock()
		p := li.s.persist[persistKey{"pbx1", cfg.Apps[0].Name}]
		return p != nil && p.g != nil
	})
	if code, res := post(t, calls, "tok", fmt.Sprintf(body, percall.Name)); code != 503 || res.Status != callRefused || !strings.Contains(res.Error, "persistent") {
		t.Errorf("per-call app: %d %+v, want 503 refused", code, res)
	}
	type answer struct {
		code int
		res  callResponse
	}
	got := make(chan answer, 1)
	go func() {
		code, res := post(t, calls, "tok", fmt.Sprintf(body, cfg.Apps[0].Name))
		got <- answer{code, res}
	}()
	c, err := scripts.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.code != 201 || r.res.Status != callAnswered || r.res.Channel == "" {
		t.Fatalf("originate: %d %+v, want 201 answered", r.code, r.res)
	}
	if err := c.Command("E,bye"); err != nil {
		t.Fatal(err)
	}
	if ev, err := c.ReadEvent(ctx); err != nil || !strings.HasPrefix(ev, "E,") {
		t.Fatalf("E reply %q, %v", ev, err)
	}
	if err := c.ExpectEOF(ctx); err != nil {
		t.Fatal(err)
	}
	if end, err := a.WaitEnd(ctx, r.res.Channel); err != nil || !end.Continued {
		t.Fatalf("the call's end: %+v, %v; want it continued in the dialplan", end, err)
	}
	// The session's end sequence is over (the continue's reply read)
	// before the fake goes away.
	testwait.Until(t, testwait.Long, "no session left", func() bool { return li.s.Sessions() == 0 })
	for _, q := range a.Requests() {
		if q.Method == "POST" && q.Path == "/channels" && q.Params["endpoint"] == "PJSIP/1000" {
			return
		}
	}
	t.Fatal("aritest saw no POST /channels for PJSIP/1000")
}

// TestListenerCTI: with [cti] sources in listener mode, the fake Asterisk's
// persistent outbound socket of the CTI app is not a gateway's: the
// gateway subscribes the endpoints over it (REST over the socket; tried
// again while Asterisk answers 503) and a
// consumer of /v1/events gets the phones' calls in causal order; after the
// socket drops and is redialled the subscription is made again over the
// new socket.
func TestListenerCTI(t *testing.T) {
	scripts := eivrtest.NewServer(t)
	a, err := aritest.NewServer(aritest.Options{Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.AddEndpoints("PJSIP/1000", "PJSIP/1001", "PJSIP/1002")
	cfg := listenTestConfig(scripts.Host, config.ListenAsterisk{Name: "pbx1", Username: "pbx1", Password: "pw1", REST: "socket"})
	cfg.Admin.Listen, cfg.Admin.Token = "127.0.0.1:0", "tok"
	cfg.CTI.Endpoints = []string{"PJSIP"}
	cfg.CTI.ReorderWindow = config.Dur(300 * time.Millisecond)
	cfg.CTI.Window = config.Dur(300 * time.Millisecond)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	li := startListenInstance(t, cfg, testLogger(t))
	cons := consume(t, li.s.admin.Addr(), "", "")
	// Asterisk 22.10.1 dials its persistent sockets while it boots and
	// answers 503 "Asterisk not booted" then: the subscription is tried
	// again.
	a.FailREST("POST", "/applications/"+cfg.CTI.App+"/subscription", 503, 2)
	if err := a.AddOutbound(aritest.Outbound{URL: "ws://" + li.s.Addr() + "/ari", Username: "pbx1", Password: "pw1", App: cfg.CTI.App}); err != nil {
		t.Fatal(err)
	}
	subs := func() int {
		n := 0
		for _, r := range a.Requests() {
			if r.Method == "POST" && r.Path == "/applications/"+cfg.CTI.App+"/subscription" {
				n++
			}
		}
		return n
	}
	waitSubscribed(t, a, cfg.CTI.App, "PJSIP")
	if n := li.s.Sessions(); n != 0 {
		t.Fatalf("the CTI socket started %d sessions", n)
	}
	check := func(round string) {
		t.Helper()
		legs := phoneLife(t, a, "PJSIP/1000", "PJSIP/1001", "PJSIP/1002")
		want := map[string][]string{legs[0]: lifeA, legs[1]: lifeB, legs[2]: lifeC}
		got := map[string][]string{}
		done := func() bool {
			for id, w := range want {
				if len(got[id]) < len(w) {
					return false
				}
			}
			return true
		}
		for !done() {
			m := cons.next(t)
			if _, ok := want[m.Channel.ID]; ok && m.Type != "EIVRSession" {
				got[m.Channel.ID] = append(got[m.Channel.ID], m.Type)
			}
		}
		for id, w := range want {
			if strings.Join(got[id], ",") != strings.Join(w, ",") {
				t.Fatalf("%s: leg %s: %q, want %q", round, id, got[id], w)
			}
		}
	}
	check("first socket")
	before := subs()
	a.KillOutbound(cfg.CTI.App)
	testwait.Until(t, testwait.Long, "the subscription again over the redialled socket", func() bool { return subs() > before })
	waitSubscribed(t, a, cfg.CTI.App, "PJSIP")
	check("redialled socket")
}

// TestListenerSoundsShared: the per-call connections of one Asterisk share
// one GET /sounds index, so three calls that each play a file (checked
// against the index) fetch it once, not once a call.
func TestListenerSoundsShared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
	defer cancel()
	scripts := eivrtest.NewServer(t)
	a, err := aritest.NewServer(aritest.Options{Speed: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cfg := listenTestConfig(scripts.Host, config.ListenAsterisk{Name: "pbx1", Username: "pbx1", Password: "pw1", REST: "socket"})
	li := startListenInstance(t, cfg, testLogger(t))
	url := "ws://" + li.s.Addr() + "/ari"
	if err := a.AddOutbound(aritest.Outbound{URL: url, Username: "pbx1", Password: "pw1", App: cfg.Apps[0].Name, PerCall: true}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		id, err := a.StartCall(cfg.Apps[0].Name, []string{scripts.URL(), ""}, aritest.CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := scripts.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"S,hello-world", "S,no-such-file"} {
			if err := c.Command(cmd); err != nil {
				t.Fatal(err)
			}
		}
		// hello-world plays to its end; the missing file is refused
		// from the index (Z), as natively.
		var got []string
		for len(got) < 2 {
			ev, err := c.ReadEvent(ctx)
			if err != nil {
				t.Fatalf("call %d: %v after %q", i, err, got)
			}
			f := strings.Split(strings.TrimSpace(ev), ",")
			got = append(got, f[0]+","+f[len(f)-1])
		}
		slices.Sort(got)
		if want := []string{"F,hello-world", "Z,no-such-file"}; !slices.Equal(got, want) {
			t.Fatalf("call %d: events %q, want %q", i, got, want)
		}
		if err := c.Command("E,bye"); err != nil {
			t.Fatal(err)
		}
		if ev, err := c.ReadEvent(ctx); err != nil || !strings.HasPrefix(ev, "E,") {
			t.Fatalf("E reply %q, %v", ev, err)
		}
		if err := c.ExpectEOF(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := a.WaitEnd(ctx, id); err != nil {
			t.Fatal(err)
		}
		testwait.Until(t, testwait.Long, "no session left", func() bool { return li.s.Sessions() == 0 })
	}
	n := 0
	for _, q := range a.Requests() {
		if q.Method == "GET" && q.Path == "/sounds" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d GET /sounds for 3 per-call connections of one Asterisk, want 1", n)
	}
}
