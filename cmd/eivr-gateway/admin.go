package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminServer is the admin HTTP listener: /metrics, /healthz, /readyz,
// POST /v1/calls, the live call view (GET /, /live.js, /live.css: package
// liveview, reading the CTI stream GET /v1/events) and, when enabled,
// /debug/pprof/.
type adminServer struct {
	srv *http.Server
	ln  net.Listener
	mux *http.ServeMux // more routes (GET /v1/events) are added before Serve
}

// readiness reports whether the gateway serves calls, and why not.
type readiness func() (bool, string)

// newAdmin binds the listener. live, if set, is the live call view's page,
// served under / (the catch-all: what no other route takes is its 404).
func newAdmin(addr string, reg *prometheus.Registry, ready readiness, calls, live http.Handler, pprofOn bool, log *slog.Logger) (*adminServer, error) {
	mux := http.NewServeMux()
	if live != nil {
		mux.Handle("/", live)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := ready()
		if !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if calls != nil {
		mux.Handle("POST /v1/calls", calls)
	}
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	return &adminServer{
		ln:  ln,
		mux: mux,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}, nil
}

// Addr is the address the listener is bound to.
func (a *adminServer) Addr() string { return a.ln.Addr().String() }

// Serve serves until Shutdown; it returns nil after a Shutdown.
func (a *adminServer) Serve() error {
	if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the listener, waiting for requests in flight until ctx ends.
func (a *adminServer) Shutdown(ctx context.Context) error {
	return a.srv.Shutdown(ctx)
}
