package gwharness

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// Options says how to start a World.
type Options struct {
	App     string // the Stasis app the client subscribes to
	Server  aritest.Options
	Srv     *aritest.Server // if set, the World runs on it (Server is ignored) and closes it
	ARI     ari.Config      // URL, credentials, Apps and Logger are filled in
	Gateway gateway.Config  // Logger is filled in
	Reorder reorder.Config  // the pipeline's event ordering
	Sinks   []reorder.Sink  // more sinks of the pipeline, after the gateway
	// Connect bounds the wait for the gateway's subscription; Ready also
	// waits for gateway.Ready.
	Connect time.Duration
	Ready   bool
}

// World is one fake Asterisk, one ARI client and one gateway, logging at
// debug level into Logs (printed if the test failed).
type World struct {
	T      testing.TB
	Srv    *aritest.Server
	Client *ari.Client
	GW     *gateway.Gateway
	Pipe   *gateway.Pipeline // Client → reorderer → GW
	Logs   *SyncBuffer

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// Start starts a World, registers its Close with t.Cleanup and waits until
// the gateway has subscribed to o.App.
func Start(t testing.TB, o Options) *World {
	t.Helper()
	srv := o.Srv
	if srv == nil {
		var err error
		if srv, err = aritest.NewServer(o.Server); err != nil {
			t.Fatal(err)
		}
	}
	logs := &SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	acfg := o.ARI
	acfg.URL, acfg.Username, acfg.Password, acfg.Apps = srv.URL(), "asterisk", "asterisk", []string{o.App}
	acfg.Logger = log.With("component", "ari")
	client, err := ari.NewClient(acfg)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	gcfg := o.Gateway
	gcfg.Logger = log.With("component", "gateway")
	gw, err := gateway.New(gcfg, client)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pipe := gateway.NewPipeline(client, gw, o.Reorder, o.Sinks...)
	w := &World{T: t, Srv: srv, Client: client, GW: gw, Pipe: pipe, Logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- pipe.Run(ctx) }()
	t.Cleanup(w.Close)
	w.Until("the gateway connects to the fake Asterisk", o.Connect, func() bool {
		return srv.AppConnected(o.App) && (!o.Ready || gw.Ready())
	})
	return w
}

// Cancel ends the gateway's context, so it shuts down, without waiting for
// it; Close still does.
func (w *World) Cancel() { w.cancel() }

// Close stops the gateway (it must return, without error, within 15 s),
// then the client and the fake Asterisk; it prints the logs if the test
// failed. Calling it again does nothing.
func (w *World) Close() { w.once.Do(w.close) }

func (w *World) close() {
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil {
			w.T.Errorf("gateway Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		w.T.Error("gateway Run did not return")
	}
	w.Client.Close()
	w.Srv.Close()
	if w.T.Failed() {
		w.T.Logf("logs:\n%s", w.Logs.String())
	}
}

// Until polls cond until it holds; the test fails if it does not within d.
func (w *World) Until(what string, d time.Duration, cond func() bool) {
	w.T.Helper()
	testwait.Until(w.T, d, what, cond)
}

// WaitEnd waits up to d for call id to leave the app.
func (w *World) WaitEnd(id string, d time.Duration) aritest.End {
	w.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	end, err := w.Srv.WaitEnd(ctx, id)
	if err != nil {
		w.T.Fatalf("call %s did not end: %v", id, err)
	}
	// aritest logs a request when its handler returns, so the request
	// that ended the call may show in Requests just after the end: wait
	// for it, so that a test reading the log right after sees it.
	var method, path string
	switch {
	case end.Continued:
		method, path = "POST", "/channels/"+id+"/continue"
	case end.Moved:
		method, path = "POST", "/channels/"+id+"/move"
	case end.Soft:
		method, path = "DELETE", "/channels/"+id
	}
	if method != "" {
		testwait.Until(w.T, d, "the request that ended "+id+" is logged", func() bool {
			for _, r := range w.Srv.Requests() {
				if r.Method == method && r.Path == path {
					return true
				}
			}
			return false
		})
	}
	return end
}

// SyncBuffer is a bytes.Buffer that goroutines may write concurrently.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
