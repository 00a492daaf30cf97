package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// logLines collects JSON log lines; changed is signalled after each write.
type logLines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

// wait returns the raw lines once one has msg, or fails at the deadline.
func (l *logLines) wait(t *testing.T, msg string) []string {
	t.Helper()
	deadline := time.After(testwait.Long)
	for {
		l.mu.Lock()
		lines := strings.Split(strings.TrimSpace(l.buf.String()), "\n")
		l.mu.Unlock()
		for _, line := range lines {
			if strings.Contains(line, `"msg":"`+msg) {
				return lines
			}
		}
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("no log line %q in:\n%s", msg, strings.Join(lines, "\n"))
		}
	}
}

func TestSessionLogCarriesTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	logs := &logLines{changed: make(chan struct{}, 1)}
	fa := newBenchARI()
	g, err := New(Config{
		Apps:          []AppConfig{{Name: "eivr", TCPHosts: []string{"127.0.0.1:*"}}},
		NoIdleSilence: true,
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, fa)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { NewPipeline(fa, g, reorder.Config{}).Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	h := <-fa.handler
	event := func(f []byte) {
		ev := new(ari.Event)
		if err := ari.Decode(f, ev); err != nil {
			t.Fatal(err)
		}
		h.Event(ev)
	}

	target := "ivr://" + ln.Addr().String()
	event(frame("StasisStart", "c1", 0, `"args":["`+target+`(x)"],`))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("E,bye\n")); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "session ended")
	// A refused call (not on the allow-list) names its target too, once.
	event(frame("StasisStart", "c2", 1, `"args":["ivr://192.0.2.1:1"],`))
	lines := logs.wait(t, "application denied")

	sessions := map[string]int{}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if rec["session"] == nil {
			continue
		}
		want := target
		if rec["channel"] == "c2" {
			want = "ivr://192.0.2.1:1"
		}
		if rec["target"] != want || rec["app"] != "eivr" || strings.Count(line, `"target":`) != 1 {
			t.Errorf("session log line without its target %q (once), app: %s", want, line)
		}
		sessions[rec["channel"].(string)]++
	}
	if sessions["c1"] < 2 || sessions["c2"] < 1 {
		t.Errorf("session log lines per channel: %v, want start and end of c1 and c2's refusal", sessions)
	}
}
