package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Create the runtime's netpoller descriptors before any test counts
	// descriptors.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	goleak.VerifyTestMain(m)
}

const app = "eivr"

// repoDir is the module root.
func repoDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// script returns the path of a bundled legacy program.
func script(rel string) string { return filepath.Join(repoDir(), "test", rel) }

// noLeaks records descriptors, goroutines and children now and checks, when
// the test ends (after every other cleanup), that none is left over.
func noLeaks(t *testing.T) {
	t.Helper()
	fds := countFDs()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if err := goleak.Find(ignore); err != nil {
			t.Errorf("goroutine leak: %v", err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for countFDs() > fds || len(children()) > 0 {
			if time.Now().After(deadline) {
				if n := countFDs(); n > fds {
					t.Errorf("descriptors: %d before, %d after: %s", fds, n, listFDs())
				}
				if c := children(); len(c) > 0 {
					t.Errorf("child processes left: %v", c)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func countFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

func listFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"->"+l)
	}
	return strings.Join(out, " ")
}

// children lists the processes whose parent is this one (zombies included).
func children() []string {
	me := strconv.Itoa(os.Getpid())
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid ...
		if len(f) > 1 && f[1] == me {
			out = append(out, e.Name()+" "+s[:i+1]+" "+f[0])
		}
	}
	return out
}

// world is one fake Asterisk, one ARI client and one gateway.
type world struct {
	t      *testing.T
	srv    *aritest.Server
	client *ari.Client
	gw     *gateway.Gateway
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
	once   sync.Once
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type opts struct {
	apps  []gateway.AppConfig
	ariCf func(*ari.Config)
}

func defaultApp() gateway.AppConfig {
	return gateway.AppConfig{
		Name:        app,
		Programs:    []string{script("scripts/transport/*"), script("ivr/*"), script("faults/testdata/*")},
		TCPHosts:    []string{"127.0.0.1:*"},
		Grace:       200 * time.Millisecond,
		WriteBuffer: 4096,
	}
}

// newWorld starts a world; the leak check is registered first so that it
// runs after the world is closed.
func newWorld(t *testing.T, o opts) *world {
	t.Helper()
	noLeaks(t)
	srv, err := aritest.NewServer(aritest.Options{Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	acfg := ari.Config{
		URL: srv.URL(), Username: "asterisk", Password: "asterisk", Apps: []string{app},
		Logger:     log.With("component", "ari"),
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		RESTTimeout: 300 * time.Millisecond, RESTLongTimeout: 2 * time.Second,
	}
	if o.ariCf != nil {
		o.ariCf(&acfg)
	}
	client, err := ari.NewClient(acfg)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	if o.apps == nil {
		o.apps = []gateway.AppConfig{defaultApp()}
	}
	gw, err := gateway.New(gateway.Config{
		Apps: o.apps, Logger: log.With("component", "gateway"), NoIdleSilence: true,
		CallTimeout: time.Second, DrainTimeout: 2 * time.Second,
		StopTimeout: 200 * time.Millisecond, FlushTimeout: 500 * time.Millisecond,
	}, client)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &world{t: t, srv: srv, client: client, gw: gw, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { w.done <- gw.Run(ctx) }()
	t.Cleanup(w.close)
	w.waitConnected()
	return w
}

func (w *world) waitConnected() {
	w.t.Helper()
	w.until("the gateway connects to the fake Asterisk", func() bool { return w.srv.AppConnected(app) && w.gw.Ready() })
}

func (w *world) close() { w.once.Do(w.doClose) }

func (w *world) doClose() {
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			w.t.Errorf("gateway Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		w.t.Error("gateway Run did not return")
	}
	w.client.Close()
	w.srv.Close()
	if w.t.Failed() {
		w.t.Logf("logs:\n%s", w.logs.String())
	}
}

// until polls cond for up to 10 s.
func (w *world) until(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *world) call(args ...string) string {
	w.t.Helper()
	id, err := w.srv.StartCall(app, args, aritest.CallOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) waitEnd(id string) aritest.End {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	end, err := w.srv.WaitEnd(ctx, id)
	if err != nil {
		w.t.Fatalf("call %s did not end: %v", id, err)
	}
	return end
}

func (w *world) press(id string, digit rune) {
	w.t.Helper()
	if err := w.srv.PressDTMF(id, digit, 100*time.Millisecond); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) farHangup(id string) {
	w.t.Helper()
	if err := w.srv.FarHangup(id, 16); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) waitSessions(n int) {
	w.t.Helper()
	w.until(fmt.Sprintf("%d sessions are live", n), func() bool { return w.gw.Sessions() == n })
}

// wantHungUp checks that the channel was hung up with status ("" = the
// gateway set no EIVRGW_STATUS).
func wantHungUp(t *testing.T, end aritest.End, status string) {
	t.Helper()
	if !end.HungUp || end.Vars[gateway.StatusVariable] != status {
		t.Errorf("end %+v, want hung up with %s=%q", end, gateway.StatusVariable, status)
	}
}

func wantContinued(t *testing.T, end aritest.End, status string) {
	t.Helper()
	if !end.Continued || end.Vars[gateway.StatusVariable] != status {
		t.Errorf("end %+v, want continued with %s=%q", end, gateway.StatusVariable, status)
	}
}

// ---- ivr:// servers ----

type tcpServer struct {
	ln    net.Listener
	conns chan net.Conn
	wg    sync.WaitGroup
}

func newTCPServer(t *testing.T) *tcpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tcpServer{ln: ln, conns: make(chan net.Conn, 16)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.conns)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
		for c := range s.conns {
			c.Close()
		}
	})
	return s
}

func (s *tcpServer) url() string { return "ivr://" + s.ln.Addr().String() }

// client is the script's end of one connection the gateway made.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (s *tcpServer) accept(t *testing.T) *client {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.Close() })
		return &client{t: t, c: c, br: bufio.NewReader(c)}
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not connect")
		return nil
	}
}

// noConnection checks that the gateway makes no connection within d.
func (s *tcpServer) noConnection(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case c := <-s.conns:
		c.Close()
		t.Error("the gateway connected, want no session")
	case <-time.After(d):
	}
}

func (w *world) tcpCall(s *tcpServer, opts string) (string, *client) {
	w.t.Helper()
	id := w.call(s.url()+"(x)", opts)
	return id, s.accept(w.t)
}

func (c *client) send(lines ...string) {
	c.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(c.c, l+"\n"); err != nil {
			c.t.Fatalf("send %q: %v", l, err)
		}
	}
}

var tsRE = regexp.MustCompile(`^(.),[ -]?\d{1,10}(,|$)`)

// next reads one line, timestamp masked ("F,ts,beep").
func (c *client) next() (string, error) {
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.br.ReadString('\n')
	return tsRE.ReplaceAllString(strings.TrimSuffix(l, "\n"), "${1},ts${2}"), err
}

func (c *client) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		l, err := c.next()
		if err != nil {
			c.t.Fatalf("reading, want %q: %v", w, err)
		}
		if l != w {
			c.t.Fatalf("script received %q, want %q", l, w)
		}
	}
}

// expectEOF waits for the gateway to close the connection.
func (c *client) expectEOF() {
	c.t.Helper()
	l, err := c.next()
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("want EOF, got %q, %v", l, err)
	}
}

// round runs a short exchange that proves a call works: P, a digit, E.
func (w *world) round(id string, c *client, url string) {
	w.t.Helper()
	c.send("P,x")
	c.expect("P,ts," + url + ",x")
	w.press(id, '7')
	c.expect("7,ts")
	c.send("E,done")
	c.expect("E,ts")
	c.expectEOF()
	wantContinued(w.t, w.waitEnd(id), "")
}
