package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

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
