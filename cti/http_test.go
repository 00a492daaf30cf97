package cti

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// server runs a Hub (with Run) behind a Handler with token "tok".
func server(t *testing.T, cfg Config) (*Hub, *httptest.Server) {
	t.Helper()
	if cfg.Epoch == "" {
		cfg.Epoch = "e1"
	}
	h := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	srv := httptest.NewUnstartedServer(&Handler{Hub: h, Token: func() string { return "tok" }})
	// Small socket buffers, so that a client that never reads fills them
	// after a few kB instead of megabytes.
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetWriteBuffer(4096)
		}
		return ctx
	}
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		<-done
	})
	return h, srv
}

func get(t *testing.T, srv *httptest.Server, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestHandlerRefuses(t *testing.T) {
	_, srv := server(t, Config{})
	tests := []struct {
		name string
		path string
		hdr  map[string]string
		code int
	}{
		{"no token", "/v1/events", nil, http.StatusUnauthorized},
		{"wrong token", "/v1/events", map[string]string{"Authorization": "Bearer nope"}, http.StatusUnauthorized},
		{"basic", "/v1/events", map[string]string{"Authorization": "Basic dG9rOg=="}, http.StatusUnauthorized},
		{"bad filter", "/v1/events?bogus=1", map[string]string{"Authorization": "Bearer tok"}, http.StatusBadRequest},
		{"bad endpoint", "/v1/events?endpoint=/1000", map[string]string{"Authorization": "Bearer tok"}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := get(t, srv, tt.path, tt.hdr); res.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.code)
			}
		})
	}
	h := New(Config{})
	rec := httptest.NewRecorder()
	(&Handler{Hub: h, Token: func() string { return "" }}).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/events", nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("no token configured: %d, want 403", rec.Code)
	}
}

// sseReader reads Server-Sent Events.
type sseReader struct{ r *bufio.Reader }

type sseEvent struct{ id, event, data string }

func (s *sseReader) next(t *testing.T) sseEvent {
	t.Helper()
	var e sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("SSE stream: %v (event so far %+v)", err, e)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if e.event != "" {
				return e
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			e.data = line[6:]
		default:
			t.Fatalf("SSE line %q", line)
		}
	}
}

// TestSSEResume: a consumer reads part of two calls delivered shuffled,
// drops the connection, comes back with Last-Event-ID and gets the rest:
// per channel in causal order, nothing lost, nothing twice.
func TestSSEResume(t *testing.T) {
	h, srv := server(t, Config{})
	auth := map[string]string{"Authorization": "Bearer tok", "Accept": "text/event-stream"}
	res := get(t, srv, "/v1/events", auth)
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	r := &sseReader{bufio.NewReader(res.Body)}
	if e := r.next(t); e.event != "CTISnapshot" || e.id != "" {
		t.Fatalf("first event %+v, want a CTISnapshot without an id", e)
	}
	legs := calls(4, randFor(3))
	evs := shuffle(legs, randFor(4))
	total := len(evs)
	for _, e := range evs {
		deliver(t, h, e)
	}
	seen := map[string][]string{}
	ids := map[string]bool{}
	record := func(e sseEvent) {
		var v struct {
			ID      string `json:"cti_id"`
			Type    string `json:"type"`
			Channel struct{ ID string }
		}
		if err := json.Unmarshal([]byte(e.data), &v); err != nil {
			t.Fatalf("data %q: %v", e.data, err)
		}
		if v.ID != e.id || v.Type != e.event {
			t.Fatalf("event %+v: data disagrees", e)
		}
		if ids[e.id] {
			t.Fatalf("%s twice", e.id)
		}
		ids[e.id] = true
		seen[v.Channel.ID] = append(seen[v.Channel.ID], v.Type)
	}
	var last string
	for range total / 2 {
		e := r.next(t)
		record(e)
		last = e.id
	}
	res.Body.Close()
	testwait.Until(t, testwait.Long, "the first subscriber is gone", func() bool { return h.Stats().Subscribers == 0 })
	auth["Last-Event-ID"] = last
	r = &sseReader{bufio.NewReader(get(t, srv, "/v1/events", auth).Body)}
	for range total - total/2 {
		record(r.next(t))
	}
	for _, l := range legs {
		var want []string
		for _, e := range l {
			want = append(want, e.typ)
		}
		if got := strings.Join(seen[l[0].ch], " "); got != strings.Join(want, " ") {
			t.Errorf("channel %s: %s, want %s", l[0].ch, got, strings.Join(want, " "))
		}
	}
	if s := h.Stats(); s.Resumed != 1 || s.Gaps != 0 {
		t.Errorf("stats %+v, want one gapless resume", s)
	}
}

func TestNDJSONFilter(t *testing.T) {
	h, srv := server(t, Config{})
	res := get(t, srv, "/v1/events?endpoint=PJSIP/1002&type=ChannelCreated,ChannelDestroyed", map[string]string{"Authorization": "Bearer tok", "Accept": "application/x-ndjson"})
	if ct := res.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	for _, e := range trace {
		deliver(t, h, e)
	}
	var got []string
	for len(got) < 3 && sc.Scan() {
		var v struct {
			Type    string
			Channel struct{ Name string }
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, v.Type+" "+v.Channel.Name)
	}
	want := "CTISnapshot |ChannelCreated PJSIP/1002-00000002|ChannelDestroyed PJSIP/1002-00000002"
	if strings.Join(got, "|") != want {
		t.Fatalf("got %q, want %q (scan: %v)", strings.Join(got, "|"), want, sc.Err())
	}
}

// TestHTTPCutOff: a client that never reads is cut off with a final
// message (counted), while a reading one gets everything.
func TestHTTPCutOff(t *testing.T) {
	h, srv := server(t, Config{Queue: 8})
	auth := map[string]string{"Authorization": "Bearer tok"}
	// The stalled client: a raw connection with a small receive buffer
	// that sends its request and reads nothing (HTTP/1.0: the body is not
	// chunked and the connection closes at its end).
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := conn.Write([]byte("GET /v1/events HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, testwait.Long, "the stalled client subscribed", func() bool { return h.Stats().Subscribers == 1 })
	reader := bufio.NewScanner(get(t, srv, "/v1/events", auth).Body)
	reader.Buffer(nil, 1<<20)
	testwait.Until(t, testwait.Long, "the reader subscribed", func() bool { return h.Stats().Subscribers == 2 })
	pad := strings.Repeat("x", 2000)
	n := 0
	for h.Stats().CutOff == 0 {
		if n > 100000 {
			t.Fatal("no cut-off after 100 000 events")
		}
		n++
		deliver(t, h, ev{typ: "ChannelVarset", ch: "1764770000.5", name: "PJSIP/1-5", link: "1764770000.5", ms: n, extra: `"variable":"PAD","value":"` + pad + `"`})
		if n%8 == 0 { // let the reader keep up
			for range 8 {
				if !reader.Scan() {
					t.Fatalf("reader: %v", reader.Err())
				}
			}
		}
	}
	// The stalled client's stream ends with CTICutOff.
	conn.SetReadDeadline(time.Now().Add(testwait.Long))
	br := bufio.NewReaderSize(conn, 1<<16)
	var lastLine string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		if strings.HasPrefix(line, "{") {
			lastLine = line
		}
	}
	if !strings.Contains(lastLine, `"type":"CTICutOff"`) {
		t.Errorf("last line of the stalled stream %.200q, want a CTICutOff", lastLine)
	}
	if s := h.Stats(); s.CutOff != 1 {
		t.Errorf("stats %+v, want one cut-off", s)
	}
}
