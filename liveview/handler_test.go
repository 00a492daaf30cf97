package liveview

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/gateway"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestHandlerStatic(t *testing.T) {
	srv := httptest.NewServer(Handler(New(Options{}), func() string { return "tok" }, nil))
	defer srv.Close()
	tests := []struct {
		path, ctype, contains string
		code                  int
	}{
		{"/", "text/html; charset=utf-8", `<script src="live.js"`, 200},
		{"/live.js", "text/javascript; charset=utf-8", "'Authorization': 'Bearer ' + token", 200},
		{"/live.css", "text/css; charset=utf-8", ".call", 200},
		{"/nothing", "text/plain; charset=utf-8", "404", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.code || res.Header.Get("Content-Type") != tt.ctype || !strings.Contains(string(body), tt.contains) {
				t.Fatalf("%d %q, want %d %q containing %q:\n%s", res.StatusCode, res.Header.Get("Content-Type"), tt.code, tt.ctype, tt.contains, body)
			}
			if tt.code == 200 && !strings.Contains(res.Header.Get("Content-Security-Policy"), "form-action 'none'") {
				t.Errorf("CSP %q", res.Header.Get("Content-Security-Policy"))
			}
		})
	}
}

func TestHandlerAuth(t *testing.T) {
	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	tests := []struct {
		name, token, auth string
		code              int
	}{
		{"no token configured", "", "Bearer x", http.StatusForbidden},
		{"no header", "s3cret", "", http.StatusUnauthorized},
		{"wrong token", "s3cret", "Bearer s3cre", http.StatusUnauthorized},
		{"basic", "s3cret", "Basic s3cret", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(Handler(New(Options{}), func() string { return tt.token }, log))
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+EventsPath, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.code {
				t.Errorf("status %d, want %d", res.StatusCode, tt.code)
			}
		})
	}
	if strings.Contains(logs.String(), "s3cre") {
		t.Errorf("a token reached the log:\n%s", logs)
	}
}

func TestHandlerStream(t *testing.T) {
	v := New(Options{})
	srv := httptest.NewServer(Handler(v, func() string { return "tok" }, nil))
	defer srv.Close()
	v.SessionStarted(info(1))
	req, _ := http.NewRequest("GET", srv.URL+EventsPath, nil)
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	read := func() Event {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("stream ended: %v", sc.Err())
		}
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		return ev
	}
	if ev := read(); ev.Type != "hello" || len(ev.Calls) != 1 || ev.Calls[0].ChannelName != "PJSIP/1001-00000001" {
		t.Fatalf("hello %+v", ev)
	}
	// Written after the hello was read: the stream carries it live.
	v.SessionLine(gateway.WireLine{Session: "s1", Sent: true, Line: "7,1764763200"})
	if ev := read(); ev.Type != "line" || ev.Session != "s1" || ev.Line.Text != "7,1764763200" {
		t.Fatalf("line %+v", ev)
	}
	v.Close()
	if ev := read(); ev.Type != "bye" || ev.Reason != "shutdown" {
		t.Fatalf("bye %+v", ev)
	}
	if sc.Scan() {
		t.Errorf("after bye: %q", sc.Text())
	}
}
