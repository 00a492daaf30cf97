package ari

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitFor = testwait.Long

// fakeARI is just enough of Asterisk for the client's tests: it accepts
// event sockets (handing them to the test) and answers REST calls with
// canned replies. ari/aritest is the faithful fake; this one has no logic.
type fakeARI struct {
	t     testing.TB
	srv   *httptest.Server
	up    websocket.Upgrader
	socks chan *fakeSock

	mu      sync.Mutex
	rest    map[string]func(w http.ResponseWriter, r *http.Request) // "METHOD /path"
	calls   []*http.Request
	wsReply int // non-zero: refuse the upgrade with this status
	conns   int // TCP connections accepted
}

// fakeSock is one accepted event socket, seen from the server.
type fakeSock struct {
	c     *websocket.Conn
	r     *http.Request
	pings chan struct{}
}

func newFake(t testing.TB, tlsServer bool) *fakeARI {
	f := &fakeARI{t: t, socks: make(chan *fakeSock, 16), rest: map[string]func(http.ResponseWriter, *http.Request){}}
	h := http.HandlerFunc(f.serve)
	quiet := log.New(io.Discard, "", 0) // TLS failures are what some tests want
	if tlsServer {
		f.srv = httptest.NewUnstartedServer(h)
		f.srv.Config.ConnState = f.connState
		f.srv.Config.ErrorLog = quiet
		f.srv.StartTLS()
	} else {
		f.srv = httptest.NewUnstartedServer(h)
		f.srv.Config.ConnState = f.connState
		f.srv.Config.ErrorLog = quiet
		f.srv.Start()
	}
	t.Cleanup(f.close)
	return f
}

func (f *fakeARI) connState(_ net.Conn, st http.ConnState) {
	if st == http.StateNew {
		f.mu.Lock()
		f.conns++
		f.mu.Unlock()
	}
}

func (f *fakeARI) connCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

func (f *fakeARI) close() {
	f.srv.CloseClientConnections()
	f.srv.Close()
	for {
		select {
		case s := <-f.socks:
			s.c.Close()
		default:
			return
		}
	}
}

func (f *fakeARI) url() string { return f.srv.URL + "/ari" }

func (f *fakeARI) handle(method, path string, h func(w http.ResponseWriter, r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rest[method+" "+path] = h
}

// reply is a canned REST reply.
func reply(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func (f *fakeARI) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ari/events" {
		f.mu.Lock()
		refuse := f.wsReply
		f.mu.Unlock()
		if refuse != 0 {
			http.Error(w, `{"message":"refused"}`, refuse)
			return
		}
		c, err := f.up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s := &fakeSock{c: c, r: r, pings: make(chan struct{}, 100)}
		c.SetPingHandler(func(data string) error {
			select {
			case s.pings <- struct{}{}:
			default:
			}
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		f.socks <- s
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r)
	h := f.rest[r.Method+" "+strings.TrimPrefix(r.URL.Path, "/ari")]
	f.mu.Unlock()
	if h == nil {
		reply(404, `{"message":"Resource not found"}`)(w, r)
		return
	}
	h(w, r)
}

func (f *fakeARI) lastCall() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return nil
	}
	return f.calls[len(f.calls)-1]
}

// accept waits for the client's next event socket.
func (f *fakeARI) accept() *fakeSock {
	f.t.Helper()
	select {
	case s := <-f.socks:
		return s
	case <-time.After(waitFor):
		f.t.Fatal("no event socket within the deadline")
		return nil
	}
}

// noSocket asserts no socket arrives within d.
func (f *fakeARI) noSocket(d time.Duration) {
	f.t.Helper()
	select {
	case s := <-f.socks:
		f.t.Fatalf("unexpected event socket %s", s.r.URL.RawQuery)
	case <-time.After(d):
	}
}

func (s *fakeSock) send(t testing.TB, frame string) {
	t.Helper()
	s.c.SetWriteDeadline(time.Now().Add(waitFor))
	if err := s.c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatalf("server write: %v", err)
	}
}

// readDiscard keeps reading (so pings get their pongs) until the socket closes.
func (s *fakeSock) readDiscard() {
	go func() {
		for {
			if _, _, err := s.c.ReadMessage(); err != nil {
				return
			}
		}
	}()
}

// recorder is a Handler that records what it sees as strings on a channel.
type recorder struct {
	got   chan string
	evs   chan *Event
	block chan struct{} // if non-nil, Event waits on it
}

func newRecorder() *recorder {
	return &recorder{got: make(chan string, 10000), evs: make(chan *Event, 10000)}
}

func (r *recorder) Connected(info ConnInfo) {
	r.got <- fmt.Sprintf("connected %d %s", info.Seq, strings.Join(info.Apps, ","))
}

func (r *recorder) Event(ev *Event) {
	if r.block != nil {
		<-r.block
	}
	r.evs <- ev
	r.got <- "event " + ev.Type
}

func (r *recorder) Disconnected(err error) { r.got <- "disconnected " + err.Error() }

// next returns the next record, failing after the deadline.
func (r *recorder) next(t testing.TB) string {
	t.Helper()
	select {
	case s := <-r.got:
		return s
	case <-time.After(waitFor):
		t.Fatal("handler not called within the deadline")
		return ""
	}
}

func (r *recorder) expect(t testing.TB, prefix string) string {
	t.Helper()
	s := r.next(t)
	if !strings.HasPrefix(s, prefix) {
		t.Fatalf("handler got %q, want %q...", s, prefix)
	}
	return s
}

// run starts c.Run and returns a stop function that cancels and joins it.
func run(t testing.TB, c *Client, h Handler) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != context.Canceled {
					t.Errorf("Run returned %v, want context.Canceled", err)
				}
			case <-time.After(waitFor):
				t.Error("Run did not return after cancel")
			}
			c.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitLog waits until the log contains s.
func (l *logBuf) wait(t testing.TB, s string) {
	t.Helper()
	if !testwait.For(waitFor, func() bool { return strings.Contains(l.String(), s) }) {
		t.Fatalf("log never contained %q; log:\n%s", s, l.String())
	}
}
