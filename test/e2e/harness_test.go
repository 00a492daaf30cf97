package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The transcript replays run in real time and mostly sleep: run them all
	// at once unless -parallel was given.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "32")
	}
	goleak.VerifyTestMain(m)
}

const app = "eivr"

// ivrDir is the absolute path of test/ivr (the bundled legacy programs).
func ivrDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "ivr")
}

// world is one fake Asterisk, one ARI client and one gateway.
type world struct {
	t      testing.TB
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

type worldOpts struct {
	speed  float64
	apps   []gateway.AppConfig
	tweak  func(*gateway.Config)
	sounds map[string]time.Duration
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	if o.speed == 0 {
		o.speed = 20
	}
	srv, err := aritest.NewServer(aritest.Options{Speed: o.speed, Sounds: o.sounds})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := ari.NewClient(ari.Config{
		URL: srv.URL(), Username: "asterisk", Password: "asterisk", Apps: []string{app},
		Logger: log.With("component", "ari"), BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
	})
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	if o.apps == nil {
		o.apps = []gateway.AppConfig{{
			Name:     app,
			Programs: []string{filepath.Join(ivrDir(t), "*")},
			TCPHosts: []string{"127.0.0.1:*"},
			Grace:    time.Second,
		}}
	}
	cfg := gateway.Config{Apps: o.apps, Logger: log.With("component", "gateway"), NoIdleSilence: true, Trace: true}
	if o.tweak != nil {
		o.tweak(&cfg)
	}
	gw, err := gateway.New(cfg, client)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &world{t: t, srv: srv, client: client, gw: gw, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { w.done <- gw.Run(ctx) }()
	t.Cleanup(w.close)
	deadline := time.Now().Add(5 * time.Second)
	for !srv.AppConnected(app) {
		if time.Now().After(deadline) {
			t.Fatal("gateway did not connect to the fake Asterisk")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return w
}

func (w *world) close() { w.once.Do(w.doClose) }

func (w *world) doClose() {
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil {
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

// call starts a call running Stasis(eivr, args...).
func (w *world) call(args []string, opt aritest.CallOptions) string {
	w.t.Helper()
	id, err := w.srv.StartCall(app, args, opt)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) waitEnd(id string) aritest.End {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	end, err := w.srv.WaitEnd(ctx, id)
	if err != nil {
		w.t.Fatalf("call %s did not end: %v", id, err)
	}
	return end
}

// waitSessions waits until the gateway has n live sessions.
func (w *world) waitSessions(n int) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for w.gw.Sessions() != n {
		if time.Now().After(deadline) {
			w.t.Fatalf("gateway has %d sessions, want %d", w.gw.Sessions(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// calls returns the REST requests made for channel id, as "METHOD /path?k=v"
// with the channel id written {ch} and playback ids {pb}.
func (w *world) calls(id string) []string {
	var out []string
	for _, r := range w.srv.Requests() {
		if !strings.Contains(r.Path, id) && !strings.HasPrefix(r.Path, "/playbacks/") {
			continue
		}
		p := strings.ReplaceAll(r.Path, id, "{ch}")
		p = pbRE.ReplaceAllString(p, "{pb}")
		var keys []string
		for k, v := range r.Params {
			if k == "playbackId" {
				v = "{pb}"
			}
			keys = append(keys, k+"="+v)
		}
		sortStrings(keys)
		if len(keys) > 0 {
			p += "?" + strings.Join(keys, "&")
		}
		out = append(out, r.Method+" "+p)
	}
	return out
}

var pbRE = regexp.MustCompile(`eivr-[0-9a-f]+-[0-9]+`)

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// tsRE matches an event's timestamp field.
var tsRE = regexp.MustCompile(`(?m)^(.),[ -]?\d{1,10}(,|$)`)

// mask replaces the timestamps of event lines by "ts".
func mask(lines string) string { return tsRE.ReplaceAllString(lines, "${1},ts${2}") }

// readLog waits until the transcript file at path satisfies done, and
// returns it masked.
func readLog(t testing.TB, path string, done func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		s := mask(string(b))
		if done(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("transcript %s incomplete:\n%s", path, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasLine(prefix string) func(string) bool {
	return func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, prefix) {
				return true
			}
		}
		return false
	}
}

// tcpServer is a scripted ivr:// server: each accepted connection is handed
// to the test.
type tcpServer struct {
	ln    net.Listener
	conns chan net.Conn
	wg    sync.WaitGroup
}

func newTCPServer(t testing.TB) *tcpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tcpServer{ln: ln, conns: make(chan net.Conn, 16)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				close(s.conns)
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

func (s *tcpServer) accept(t testing.TB) net.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not connect")
		return nil
	}
}

func fatalf(t testing.TB, format string, a ...any) {
	t.Helper()
	t.Fatal(fmt.Sprintf(format, a...))
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
