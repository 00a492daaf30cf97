package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr/eivrtest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// ctiGateway runs serve in-process against sim with the CTI stream on
// (endpoint:PJSIP, token "tok"), margins for a busy machine in the
// windows; it returns the admin address.
func ctiGateway(t testing.TB, sim *aritest.Server, change func(*config.Config)) string {
	t.Helper()
	cfg := config.Default()
	cfg.ARI.URLs = []string{sim.URL()}
	cfg.ARI.Password = "asterisk"
	cfg.Apps[0].TCPHosts = []string{"127.0.0.1:*"}
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Admin.Token = "tok"
	cfg.Limits.DrainTimeout = config.Dur(time.Second)
	cfg.CTI.Endpoints = []string{"PJSIP"}
	// Far above the displacement of the test's ReorderWindow, so that a
	// starved scheduler cannot push an event out of its window.
	cfg.CTI.ReorderWindow = config.Dur(300 * time.Millisecond)
	cfg.CTI.Window = config.Dur(300 * time.Millisecond)
	if change != nil {
		change(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *server, 1)
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	go func() {
		done <- serve(ctx, cfg, serveOptions{log: log, started: func(s *server) { started <- s }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case s := <-started:
		waitSubscribed(t, sim, cfg.CTI.App, "PJSIP")
		return s.AdminAddr()
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(testwait.Long):
		t.Fatal("serve did not start")
	}
	return ""
}

// lockedBuffer is a log sink for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitSubscribed waits until the fake Asterisk lists the CTI app's
// endpoint subscription (made after its Connected).
func waitSubscribed(t testing.TB, sim *aritest.Server, app, ep string) {
	t.Helper()
	testwait.Until(t, testwait.Long, "the CTI app subscribed endpoint:"+ep, func() bool {
		req, _ := http.NewRequest("GET", sim.URL()+"/applications/"+app, nil)
		req.SetBasicAuth("asterisk", "asterisk")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var a struct {
			EndpointIDs []string `json:"endpoint_ids"`
		}
		json.NewDecoder(res.Body).Decode(&a)
		return slices.Contains(a.EndpointIDs, ep)
	})
}

// ctiMsg is one line of /v1/events as a consumer reads it.
type ctiMsg struct {
	ID      string `json:"cti_id"`
	Type    string `json:"type"`
	Phase   string `json:"phase"`
	Line    string `json:"line"`
	Sent    bool   `json:"sent"`
	Channel struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"channel"`
	Channels []struct {
		ID string `json:"id"`
	} `json:"channels"` // CTISnapshot
}

// consumer reads NDJSON from GET /v1/events until closed.
type consumer struct {
	res  *http.Response
	msgs chan ctiMsg
	done chan struct{}
}

func consume(t *testing.T, addr, query, lastID string) *consumer {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/events"+query, nil)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Accept", "application/x-ndjson")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("GET /v1/events: %s", res.Status)
	}
	c := &consumer{res: res, msgs: make(chan ctiMsg, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m ctiMsg
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				m.Type = "unparsable: " + sc.Text()
			}
			c.msgs <- m
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *consumer) close() {
	c.res.Body.Close()
	<-c.done
}

func (c *consumer) next(t *testing.T) ctiMsg {
	t.Helper()
	m, ok := c.tryNext()
	if !ok {
		t.Fatal("no CTI message within testwait.Long")
	}
	return m
}

// tryNext is next without failing: false after testwait.Long.
func (c *consumer) tryNext() (ctiMsg, bool) {
	select {
	case m := <-c.msgs:
		return m, true
	case <-time.After(testwait.Long):
		return ctiMsg{}, false
	}
}

// phoneLife runs one call of a, b transferred to c with a hold, as the
// fake's phones do it, and returns the legs.
func phoneLife(t *testing.T, sim *aritest.Server, a, b, c string) [3]string {
	p, err := sim.PhoneCall(a, b, aritest.PhoneOptions{})
	if err != nil {
		t.Error(err)
		return [3]string{}
	}
	legs := [3]string{p.A, p.B}
	sim.PhoneHold(p.A, true)
	sim.PhoneHold(p.A, false)
	p, err = sim.PhoneTransfer(p, c)
	if err != nil {
		t.Error(err)
	}
	legs[2] = p.B
	sim.PhoneHangup(p)
	return legs
}

// The event types each leg of phoneLife goes through, in causal order.
var (
	lifeA = []string{"ChannelCreated", "ChannelConnectedLine", "ChannelConnectedLine", "ChannelStateChange", "ChannelEnteredBridge",
		"ChannelHold", "ChannelUnhold", "ChannelConnectedLine", "ChannelLeftBridge", "ChannelDestroyed"}
	lifeB = []string{"ChannelCreated", "ChannelConnectedLine", "ChannelStateChange", "ChannelStateChange", "ChannelEnteredBridge", "ChannelLeftBridge", "ChannelDestroyed"}
	lifeC = []string{"ChannelCreated", "ChannelConnectedLine", "ChannelStateChange", "ChannelStateChange", "ChannelEnteredBridge", "ChannelLeftBridge", "ChannelDestroyed"}
)

// TestCTIStreamOrderAndResume (issue 16 item 6): calls delivered shuffled
// reach a consumer of /v1/events with every channel's events in causal
// order; a consumer that drops and resumes with Last-Event-ID loses
// nothing, and the CTI app subscribes again after its socket is dropped.
func TestCTIStreamOrderAndResume(t *testing.T) {
	// Never drop a socket for a slow read (a starved machine): the test
	// drops them itself, once.
	sim, err := aritest.NewServer(aritest.Options{Speed: 20, WriteTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	n := 20
	if testing.Short() {
		n = 6
	}
	for i := range 2 * n {
		sim.AddEndpoints(fmt.Sprintf("PJSIP/1%03d", i), fmt.Sprintf("PJSIP/2%03d", i), fmt.Sprintf("PJSIP/3%03d", i))
	}
	sim.ReorderWindow(10 * time.Millisecond)
	addr := ctiGateway(t, sim, nil)

	c1 := consume(t, addr, "", "")
	if m := c1.next(t); m.Type != "CTISnapshot" {
		t.Fatalf("first message %+v, want a CTISnapshot", m)
	}
	var mu sync.Mutex
	var legs [][3]string
	calls := func(from, to int) {
		var wg sync.WaitGroup
		for i := from; i < to; i++ {
			wg.Go(func() {
				l := phoneLife(t, sim, fmt.Sprintf("PJSIP/1%03d", i), fmt.Sprintf("PJSIP/2%03d", i), fmt.Sprintf("PJSIP/3%03d", i))
				mu.Lock()
				legs = append(legs, l)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	perCall := len(lifeA) + len(lifeB) + len(lifeC)
	calls(0, n)

	seen := map[string][]string{} // channel -> types
	ids := map[string]bool{}
	record := func(m ctiMsg) {
		if m.ID == "" || ids[m.ID] {
			t.Fatalf("message %+v: no id or seen twice", m)
		}
		ids[m.ID] = true
		seen[m.Channel.ID] = append(seen[m.Channel.ID], m.Type)
	}
	var last string
	for range n * perCall / 2 {
		m := c1.next(t)
		record(m)
		last = m.ID
	}
	c1.close()

	// The CTI app's socket drops: it subscribes again, then more calls.
	sim.DropWebSockets()
	testwait.Until(t, testwait.Long, "the subscription is gone with the socket", func() bool { return !sim.AppConnected("eivr-cti") })
	waitSubscribed(t, sim, "eivr-cti", "PJSIP")
	c2 := consume(t, addr, "", last)
	calls(n, 2*n)
	for len(ids) < 2*n*perCall {
		m, ok := c2.tryNext()
		if !ok {
			t.Errorf("%d events of %d within testwait.Long", len(ids), 2*n*perCall)
			break
		}
		if strings.HasPrefix(m.Type, "CTI") {
			t.Fatalf("resume after %s: %+v, want no gap", last, m)
		}
		record(m)
	}
	for _, l := range legs {
		for i, want := range [][]string{lifeA, lifeB, lifeC} {
			if got := seen[l[i]]; !slices.Equal(got, want) {
				t.Errorf("leg %d %s: %v\nwant causal order %v", i, l[i], got, want)
			}
		}
	}
}

// TestCTIStalledConsumerCutOff (issue 16 item 6): a consumer that never
// reads is cut off with a final message (counted), while a session's DTMF
// still reaches its script and the session's lines reach another consumer
// as EIVRSession events.
func TestCTIStalledConsumerCutOff(t *testing.T) {
	sim, err := aritest.NewServer(aritest.Options{Speed: 20, WriteTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.AddEndpoints("PJSIP/1000", "PJSIP/1002")
	addr := ctiGateway(t, sim, func(c *config.Config) { c.CTI.Queue = 16 })
	ivr := eivrtest.NewServer(t)

	live := consume(t, addr, "?type=EIVRSession", "")
	if m := live.next(t); m.Type != "CTISnapshot" {
		t.Fatalf("first message %+v", m)
	}
	ch, err := sim.StartCall("eivr", []string{ivr.URL()}, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	script := acceptIVR(t, ivr)

	// The stalled consumer: sends its request and never reads (a small
	// receive buffer; HTTP/1.0: the body is not chunked).
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(stalled, "GET /v1/events HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n")
	testwait.Until(t, testwait.Long, "two consumers", func() bool { return metric(t, addr, "eivr_cti_consumers") == "2" })

	pressed := 0
	for i := 0; metric(t, addr, "eivr_cti_consumers_cut_off_total") != "1"; i++ {
		if i > 20000 {
			t.Fatal("the stalled consumer was not cut off after 20000 calls")
		}
		for range 20 {
			p, err := sim.PhoneCall("PJSIP/1000", "PJSIP/1002", aritest.PhoneOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sim.PhoneHangup(p)
		}
		if i == 0 { // a digit while the stalled consumer's queue fills
			if err := sim.PressDTMF(ch, '1', 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			pressed++
		}
	}
	if err := sim.PressDTMF(ch, '2', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	pressed++
	var digits []string
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
	defer cancel()
	for len(digits) < pressed {
		ev, err := script.Event(ctx)
		if err != nil {
			t.Fatalf("the script's events: %v (digits so far %v)", err, digits)
		}
		if ev.Tag >= '0' && ev.Tag <= '9' { // a DTMF event line is "<digit>,<timestamp>"
			digits = append(digits, string(ev.Tag))
		}
	}
	if !slices.Equal(digits, []string{"1", "2"}) {
		t.Errorf("the script got digits %v, want [1 2]", digits)
	}
	// The live consumer saw the session and its digit lines.
	for sawStart, sawDigit := false, false; !sawStart || !sawDigit; {
		m := live.next(t)
		sawStart = sawStart || m.Phase == "started" && m.Channel.ID == ch
		sawDigit = sawDigit || m.Phase == "line" && m.Sent && strings.HasPrefix(m.Line, "2,")
	}
	// The stalled stream ends with the cut-off message.
	stalled.SetReadDeadline(time.Now().Add(testwait.Long))
	br := bufio.NewReaderSize(stalled, 1<<16)
	var lastLine string
	for {
		line, err := br.ReadString('\n')
		if strings.HasPrefix(line, "{") {
			lastLine = line
		}
		if err != nil {
			break
		}
	}
	if !strings.Contains(lastLine, `"type":"CTICutOff"`) {
		t.Errorf("the stalled stream ends with %.200q, want a CTICutOff", lastLine)
	}
}

func acceptIVR(t testing.TB, s *eivrtest.Server) *eivrtest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
	defer cancel()
	c, err := s.Accept(ctx)
	if err != nil {
		t.Fatalf("the gateway did not connect to the script: %v", err)
	}
	return c
}

// metric returns the value of an unlabelled metric on /metrics ("" if absent).
func metric(t *testing.T, addr, name string) string {
	t.Helper()
	_, body := get(t, addr, "/metrics")
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}

// TestCTISnapshotSeeded: a call that was up before the gateway started is
// in the snapshot a consumer starts with (read from GET /channels after the
// CTI app connected), though the stream never told of it.
func TestCTISnapshotSeeded(t *testing.T) {
	sim, err := aritest.NewServer(aritest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.AddEndpoints("PJSIP/1000", "PJSIP/1002")
	p, err := sim.PhoneCall("PJSIP/1000", "PJSIP/1002", aritest.PhoneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := ctiGateway(t, sim, nil)
	var last ctiMsg
	testwait.Until(t, testwait.Long, "a consumer's first snapshot holds the call begun before the start", func() bool {
		c := consume(t, addr, "", "")
		defer c.close()
		last = c.next(t)
		var ids []string
		for _, ch := range last.Channels {
			ids = append(ids, ch.ID)
		}
		return last.Type == "CTISnapshot" && slices.Contains(ids, p.A) && slices.Contains(ids, p.B)
	})
	sim.PhoneHangup(p)
}
