package aritest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// evt is one received event, decoded with encoding/json.
type evt map[string]any

func (e evt) typ() string { s, _ := e["type"].(string); return s }

func (e evt) str(path ...string) string {
	var v any = map[string]any(e)
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strings.TrimSuffix(strings.TrimSuffix(json.Number(jsonNum(v)).String(), ".0"), ".")
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	return ""
}

func jsonNum(f float64) string { b, _ := json.Marshal(f); return string(b) }

// tap is a test WebSocket client collecting events.
type tap struct {
	t    testing.TB
	conn *websocket.Conn
	ch   chan evt
	raw  chan []byte
	done chan struct{}
	bars int // barriers sent by quiet
}

// barrierType is the type of quiet's marker frames; next skips them.
const barrierType = "AritestBarrier"

func dialTap(t testing.TB, s *Server, apps string) *tap {
	t.Helper()
	u := s.WebSocketURL(apps) + "&api_key=" + url.QueryEscape(s.opts.Username+":"+s.opts.Password)
	conn, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	resp.Body.Close()
	tp := &tap{t: t, conn: conn, ch: make(chan evt, 10000), raw: make(chan []byte, 10000), done: make(chan struct{})}
	go func() {
		defer close(tp.done)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			tp.raw <- b
			var e evt
			if json.Unmarshal(b, &e) == nil {
				tp.ch <- e
			}
		}
	}()
	t.Cleanup(tp.close)
	return tp
}

func (tp *tap) close() {
	_ = tp.conn.Close()
	<-tp.done
}

// next returns the next event (barrier frames skipped) or fails after d.
func (tp *tap) next(d time.Duration) evt {
	tp.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-tp.ch:
			if e.typ() == barrierType {
				continue // another tap's quiet (SendRaw goes to every socket)
			}
			return e
		case <-timeout:
			tp.t.Fatalf("no event within %v", d)
			return nil
		}
	}
}

// expect reads events and checks their types in order.
func (tp *tap) expect(types ...string) []evt {
	tp.t.Helper()
	out := make([]evt, 0, len(types))
	for _, want := range types {
		e := tp.next(5 * time.Second)
		if e.typ() != want {
			tp.t.Fatalf("event %d: got %s %v, want %s", len(out), e.typ(), e, want)
		}
		out = append(out, e)
	}
	return out
}

// quiet asserts that no event reaches the tap before a barrier frame that
// s sends now: the socket's writer is FIFO (without a reorder window), so
// every event queued before this call arrives before the barrier.
func (tp *tap) quiet(s *Server) {
	tp.t.Helper()
	tp.bars++
	id := fmt.Sprintf("%p-%d", tp, tp.bars)
	s.SendRaw([]byte(`{"type":"` + barrierType + `","id":"` + id + `"}`))
	timeout := time.After(testwait.Long)
	for {
		select {
		case e := <-tp.ch:
			switch {
			case e.typ() == barrierType && e.str("id") == id:
				return
			case e.typ() == barrierType: // another tap's
			default:
				tp.t.Fatalf("unexpected event %s %v before the barrier", e.typ(), e)
			}
		case <-timeout:
			tp.t.Fatalf("barrier %s not received within %v", id, testwait.Long)
		}
	}
}

// call makes one REST call and returns status and body.
func call(t testing.TB, s *Server, method, path string, q url.Values, body string) (int, []byte) {
	t.Helper()
	u := s.URL() + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(s.opts.Username, s.opts.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func mustCall(t testing.TB, s *Server, method, path string, q url.Values, want int) []byte {
	t.Helper()
	st, b := call(t, s, method, path, q, "")
	if st != want {
		t.Fatalf("%s %s %v: status %d %s, want %d", method, path, q, st, b, want)
	}
	return b
}

func newServer(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitApp waits until the app has a socket (the upgrade races the dial).
func waitApp(t testing.TB, s *Server, app string) {
	t.Helper()
	testwait.Until(t, testwait.Long, "app "+app+" connects", func() bool { return s.AppConnected(app) })
}
