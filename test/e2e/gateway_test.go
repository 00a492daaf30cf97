package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/test/internal/gwharness"
)

// tcpClient is the test's end of a connection the gateway made.
type tcpClient struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func (w *world) tcpCall(t testing.TB, ts *tcpServer, opts string, co aritest.CallOptions) (string, *tcpClient) {
	t.Helper()
	id := w.call([]string{ts.url() + "(x)", opts}, co)
	c := ts.accept(t)
	return id, &tcpClient{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *tcpClient) send(lines ...string) {
	c.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(c.c, l+"\n"); err != nil {
			c.t.Fatalf("send %q: %v", l, err)
		}
	}
}

// expect reads the next lines and compares them, timestamps masked.
func (c *tcpClient) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading, want %q: %v", w, err)
		}
		if mask(l) != w+"\n" {
			c.t.Fatalf("client received %q, want %q", mask(l), w+"\n")
		}
	}
}

// expectEOF waits for the gateway to close the connection.
func (c *tcpClient) expectEOF() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.br.ReadString('\n')
	// A close with unread input shows as a reset (eivr-protocol.md §8.3).
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("want EOF, got %q, %v", l, err)
	}
}

func TestDeniedProgramHangsUp(t *testing.T) {
	w := newWorld(t, worldOpts{})
	for _, args := range [][]string{
		{"/bin/sh(-c,id)"},
		{ivrDir(t) + "/../ivr/menu.pl"}, // not a clean path
		{"ivr://192.0.2.1:2949"},
	} {
		id := w.call(args, aritest.CallOptions{})
		end := w.waitEnd(id)
		if !end.HungUp || end.Vars["EIVRGW_STATUS"] != "DENIED" {
			t.Errorf("%v: end %+v", args, end)
		}
		for _, c := range w.calls(id) {
			if strings.HasSuffix(c, "/answer") {
				t.Errorf("%v: denied call was answered", args)
			}
		}
	}
	if !strings.Contains(w.Logs.String(), "application denied by the allow-list") {
		t.Error("no log line for the denial")
	}
}

func TestBadArgsHangUp(t *testing.T) {
	w := newWorld(t, worldOpts{})
	for _, args := range [][]string{nil, {"/x/menu.pl(a,b"}, {"", "n"}} {
		id := w.call(args, aritest.CallOptions{})
		end := w.waitEnd(id)
		if !end.HungUp || end.Vars["EIVRGW_STATUS"] != "BADARGS" {
			t.Errorf("%q: end %+v", args, end)
		}
	}
}

func TestStartFailureAnswersThenHangsUp(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	id := w.call([]string{"ivr://" + addr}, aritest.CallOptions{})
	end := w.waitEnd(id)
	if !end.HungUp || end.Vars["EIVRGW_STATUS"] != "START_FAILED" {
		t.Errorf("end %+v", end)
	}
	checkCalls(t, w.calls(id), []string{
		"POST /channels/{ch}/answer", // Q17: native answers before connecting
		"POST /channels/{ch}/variable?value=START_FAILED&variable=EIVRGW_STATUS",
		"DELETE /channels/{ch}?reason=normal",
	})
}

func TestMaxSessionsContinues(t *testing.T) {
	w := newWorld(t, worldOpts{apps: []gateway.AppConfig{{Name: app, TCPHosts: []string{"127.0.0.1:*"}, MaxSessions: 1}}})
	ts := newTCPServer(t)
	id1, c1 := w.tcpCall(t, ts, "", aritest.CallOptions{})
	id2 := w.call([]string{ts.url()}, aritest.CallOptions{})
	end := w.waitEnd(id2)
	if !end.Continued || end.Vars["EIVRGW_STATUS"] != "LIMIT" {
		t.Errorf("second call: end %+v", end)
	}
	c1.send("E,x")
	c1.expect("E,ts")
	if end := w.waitEnd(id1); !end.Continued {
		t.Errorf("first call: end %+v", end)
	}
	w.waitSessions(0)
	id3, c3 := w.tcpCall(t, ts, "", aritest.CallOptions{}) // the slot is free again
	c3.send("H,x")
	c3.expect("H,ts")
	if end := w.waitEnd(id3); !end.HungUp {
		t.Errorf("third call: end %+v", end)
	}
}

func TestDrain(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ts := newTCPServer(t)
	id1, c1 := w.tcpCall(t, ts, "", aritest.CallOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.GW.Drain(ctx); err == nil {
		t.Fatal("Drain returned nil with a live session")
	}
	if w.GW.Ready() {
		t.Error("Ready while draining")
	}
	id2 := w.call([]string{ts.url()}, aritest.CallOptions{})
	if end := w.waitEnd(id2); !end.Continued || end.Vars["EIVRGW_STATUS"] != "DRAINING" {
		t.Errorf("new call while draining: end %+v", end)
	}
	c1.send("P,x") // the live call is untouched
	c1.expect("P,ts," + ts.url() + ",x")
	done := make(chan error, 1)
	go func() { done <- w.GW.Drain(context.Background()) }()
	c1.send("E,x")
	c1.expect("E,ts")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testwait.Long):
		t.Fatal("Drain did not return after the last session ended")
	}
	w.waitEnd(id1)
}

func TestShutdownContinuesLiveCalls(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(t, ts, "", aritest.CallOptions{})
	c.send("S,hello-world")
	w.Cancel() // gateway stops
	c.expectEOF()
	end := w.waitEnd(id)
	if !end.Continued || end.Vars["EIVRGW_STATUS"] != "SHUTDOWN" {
		t.Errorf("end %+v", end)
	}
}

// A far-end hangup while the events socket is down is lost; after the
// reconnect GET /applications finds the channel gone and the client gets H.
// A call that is still there carries on.
func TestReconnectReconciles(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ts := newTCPServer(t)
	idGone, cGone := w.tcpCall(t, ts, "", aritest.CallOptions{})
	idLive, cLive := w.tcpCall(t, ts, "", aritest.CallOptions{})
	cGone.send("P,x")
	cGone.expect("P,ts," + ts.url() + ",x")
	cLive.send("S,hello-world") // 1.42 s / 20: finishes during the outage

	w.Srv.DropWebSockets()
	if err := w.Srv.FarHangup(idGone, 16); err != nil {
		t.Fatal(err)
	}
	cGone.expect("H,ts")
	cGone.expectEOF()
	cLive.expect("F,ts,hello-world") // its PlaybackFinished was lost: resynced
	if err := w.Srv.PressDTMF(idLive, '5', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	cLive.expect("5,ts")
	cLive.send("E,x")
	cLive.expect("E,ts")
	if end := w.waitEnd(idLive); !end.Continued {
		t.Errorf("live call: end %+v", end)
	}
}

// A client that stops reading is ended once its bounded buffer is full
// (Q27); other calls go on.
func TestSlowClientEnded(t *testing.T) {
	w := newWorld(t, worldOpts{apps: []gateway.AppConfig{{Name: app, TCPHosts: []string{"127.0.0.1:*"}, WriteBuffer: 4096}}})
	ts := newTCPServer(t)
	id, c := w.tcpCall(t, ts, "", aritest.CallOptions{})
	idOK, cOK := w.tcpCall(t, ts, "", aritest.CallOptions{})
	big := strings.Repeat("x", 1000)
	go func() { // never reads
		io.WriteString(c.c, "V,big="+big+"\n")
		bw := bufio.NewWriter(c.c)
		for range 5000 {
			if _, err := bw.WriteString("G,big,big\n"); err != nil {
				return
			}
		}
		bw.Flush()
	}()
	end := w.waitEnd(id)
	if !end.HungUp || end.Vars["EIVRGW_STATUS"] != "SLOW_CLIENT" {
		t.Errorf("end %+v", end)
	}
	cOK.send("P,x")
	cOK.expect("P,ts," + ts.url() + ",x")
	cOK.send("E,x")
	cOK.expect("E,ts")
	w.waitEnd(idOK)
}

// A program that ignores EOF and SIGTERM is killed and reaped when its
// session ends; the call is hung up as the channel hangs up.
func TestStubbornProgramReaped(t *testing.T) {
	w := newWorld(t, worldOpts{apps: []gateway.AppConfig{{
		Name: app, Programs: []string{filepath.Join(ivrDir(t), "*")}, Grace: 50 * time.Millisecond,
	}}})
	prog := filepath.Join(ivrDir(t), "stubborn.sh")
	id := w.call([]string{prog}, aritest.CallOptions{})
	w.waitSessions(1)
	if err := w.Srv.FarHangup(id, 16); err != nil {
		t.Fatal(err)
	}
	w.waitSessions(0)
	if n := countProcs(prog); n != 0 {
		t.Errorf("%d stubborn.sh processes left", n)
	}
}

// countProcs counts this process's children running needle (other tests
// on the machine may run the same scripts).
func countProcs(needle string) int {
	n := 0
	me := strconv.Itoa(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), needle) {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		if f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:])); len(f) > 1 && f[1] == me {
			n++
		}
	}
	return n
}

// Many concurrent calls on the Perl menu: every transcript exact, no
// process or descriptor left behind.
func TestConcurrentPerlCalls(t *testing.T) {
	n := 20
	if testing.Short() {
		n = 8
	}
	fdsBefore := gwharness.CountFDs()
	w := newWorld(t, worldOpts{})
	dir := t.TempDir()
	ids := make([]string, n)
	logs := make([]string, n)
	for i := range n {
		logs[i] = filepath.Join(dir, fmt.Sprintf("menu%d.log", i))
		ids[i] = w.call([]string{filepath.Join(ivrDir(t), "menu.pl") + "(beep," + logs[i] + ")"}, aritest.CallOptions{})
	}
	for i := range n {
		readLog(t, logs[i], hasLine("F,ts,beep"))
		go w.Srv.PressDTMF(ids[i], '3', 100*time.Millisecond)
	}
	for i := range n {
		w.waitEnd(ids[i])
		if got := readLog(t, logs[i], hasLine("H,ts")); got != "F,ts,beep\n3,ts\nH,ts\n" {
			t.Errorf("call %d received %q", i, got)
		}
	}
	w.waitSessions(0)
	if c := countProcs(filepath.Join(ivrDir(t), "menu.pl")); c != 0 {
		t.Errorf("%d menu.pl processes left", c)
	}
	w.Close()
	if after := gwharness.CountFDs(); after > fdsBefore+2 {
		t.Errorf("descriptors: %d before, %d after", fdsBefore, after)
	}
}

// Click-to-call: the destination answers and the session runs; busy and
// no-answer destinations are reported; the allow-list applies.
func TestOriginate(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ts := newTCPServer(t)
	w.Srv.SetEndpoint("PJSIP/busy", aritest.Endpoint{Outcome: aritest.Busy})
	w.Srv.SetEndpoint("PJSIP/away", aritest.Endpoint{Outcome: aritest.NoAnswer})
	ctx := context.Background()

	res, err := w.GW.Originate(ctx, gateway.OriginateRequest{Endpoint: "PJSIP/1000", AppData: ts.url() + "(c2c)", Timeout: 5 * time.Second})
	if err != nil || res.Status != gateway.CallAnswered {
		t.Fatalf("answered call: %+v, %v", res, err)
	}
	c := &tcpClient{t: t, c: ts.accept(t)}
	c.br = bufio.NewReader(c.c)
	c.send("P,x")
	c.expect("P,ts," + ts.url() + ",c2c")
	c.send("H,x")
	c.expect("H,ts")
	w.waitEnd(res.ChannelID)

	res, err = w.GW.Originate(ctx, gateway.OriginateRequest{Endpoint: "PJSIP/busy", AppData: ts.url()})
	if err != nil || res.Status != gateway.CallBusy {
		t.Errorf("busy: %+v, %v", res, err)
	}
	res, err = w.GW.Originate(ctx, gateway.OriginateRequest{Endpoint: "PJSIP/away", AppData: ts.url(), Timeout: time.Second})
	if err != nil || res.Status != gateway.CallNoAnswer {
		t.Errorf("no answer: %+v, %v", res, err)
	}
	if _, err := w.GW.Originate(ctx, gateway.OriginateRequest{Endpoint: "PJSIP/1000", AppData: "/bin/sh(-c,id)"}); !errors.Is(err, gateway.ErrDenied) {
		t.Errorf("denied program: %v", err)
	}
}
