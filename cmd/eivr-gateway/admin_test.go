package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/liveview"
	"github.com/prometheus/client_golang/prometheus"
)

// The live call view is the admin listener's catch-all: its page at /,
// every other route unchanged, anything else 404.
func TestAdminLiveView(t *testing.T) {
	a, err := newAdmin("127.0.0.1:0", prometheus.NewRegistry(), func() (bool, string) { return true, "" }, nil,
		liveview.Handler(liveview.Options{}), false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	tests := []struct {
		path     string
		code     int
		contains string
	}{
		{"/", 200, `<meta name="eivr-live" data-events="v1/events"`},
		{"/live.js", 200, "sessionStorage"},
		{"/live.css", 200, ".call"},
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/metrics", 200, ""},
		{"/debug/pprof/", 404, ""},
		{"/index.html", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, a.Addr(), tt.path)
			if code != tt.code || !strings.Contains(body, tt.contains) {
				t.Errorf("GET %s: %d, want %d containing %q:\n%.300s", tt.path, code, tt.code, tt.contains, body)
			}
		})
	}
}

// The live view's stream as `run` serves it: the page at /, and on
// GET /v1/events (admin token) the session's lines, with the app's
// redact_vars applied; the token in no log line up to the stream's own.
func TestRunLiveViewStream(t *testing.T) {
	sim := newSim(t, 20)
	menu := menuPath(t)
	dir := t.TempDir()
	const token = "adm-live-tok"
	p := writeFile(t, dir, "gw.toml", runConfig(sim, menu, "redact_vars = [\"MENU_CHOICE\"]\n"))
	g := startGateway(t, dir, p, "EIVR_ADMIN_TOKEN="+token)
	admin := fmt.Sprint(g.waitLog("admin listener", nil)["addr"])
	g.waitLog("ARI connected", nil)

	if code, body := get(t, admin, "/"); code != 200 || !strings.Contains(body, `data-events="v1/events"`) {
		t.Fatalf("GET /: %d\n%.300s", code, body)
	}
	req, err := http.NewRequest("GET", "http://"+admin+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /v1/events: %d", res.StatusCode)
	}
	msgs := make(chan map[string]any, 256)
	go func() { // ends when the body is closed or the gateway exits
		defer close(msgs)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				msgs <- m
			}
		}
	}()
	var lines []string
	next := func(what string, ok func(map[string]any) bool) {
		t.Helper()
		timer := time.NewTimer(testwait.Long)
		defer timer.Stop()
		for {
			select {
			case m, open := <-msgs:
				if !open {
					t.Fatalf("the stream ended before %s", what)
				}
				if m["type"] == "EIVRSession" && m["phase"] == "line" {
					lines = append(lines, fmt.Sprint(m["line"]))
				}
				if ok(m) {
					return
				}
			case <-timer.C:
				t.Fatalf("no %s on the stream within %v; lines: %q", what, testwait.Long, lines)
			}
		}
	}
	next("CTISnapshot", func(m map[string]any) bool { return m["type"] == "CTISnapshot" })

	ch, err := sim.StartCall("eivr", []string{menu + "(beep)"}, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next("the session's start", func(m map[string]any) bool { return m["type"] == "EIVRSession" && m["phase"] == "started" })
	next("the greeting played", func(m map[string]any) bool {
		return m["phase"] == "line" && strings.HasSuffix(fmt.Sprint(m["line"]), ",beep") && strings.HasPrefix(fmt.Sprint(m["line"]), "F,")
	})
	if err := sim.PressDTMF(ch, '1', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	next("the redacted V command", func(m map[string]any) bool { return m["phase"] == "line" && m["line"] == "V,MENU_CHOICE=[redacted]" })
	next("the redacted G reply", func(m map[string]any) bool {
		return m["phase"] == "line" && strings.HasSuffix(fmt.Sprint(m["line"]), ",MENU_CHOICE=[redacted]")
	})
	if err := sim.PressDTMF(ch, '2', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	next("the session's end", func(m map[string]any) bool { return m["type"] == "EIVRSession" && m["phase"] == "ended" })
	for _, l := range lines {
		if strings.Contains(l, "MENU_CHOICE=1") {
			t.Errorf("a redacted value on the stream: %q", l)
		}
	}
	g.waitLog("cti: subscriber", nil) // the stream's own log line: read by now
	for _, rec := range g.seen {
		if strings.Contains(fmt.Sprint(rec), token) {
			t.Errorf("the token in a log line: %v", rec)
		}
	}
	res.Body.Close()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := g.exit(testwait.Long); code != 0 {
		t.Errorf("exit %d", code)
	}
}
