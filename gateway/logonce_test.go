package gateway

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// A program that cannot be started is logged once with its error, at
// Error; the end record says why the session ended (the cause, without
// the error again).
func TestStartFailureLoggedOnce(t *testing.T) {
	logs := newCapture()
	fa := newBenchARI()
	g, err := New(Config{
		Apps:          []AppConfig{{Name: "eivr", Programs: []string{"/nonexistent-eivr/*"}}},
		NoIdleSilence: true,
		Logger:        slog.New(logs),
	}, fa)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { NewPipeline(fa, g, reorder.Config{}).Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	h := <-fa.handler
	ev := new(ari.Event)
	if err := ari.Decode(frame("StasisStart", "c1", 0, `"args":["/nonexistent-eivr/prog(x)"],`), ev); err != nil {
		t.Fatal(err)
	}
	h.Event(ev)
	recs := logs.wait(t, "the session's end record", func(r captured) bool { return r.msg == "session ended" })

	var withErr []captured
	for _, r := range recs {
		if r.attrs["channel"].String() != "c1" {
			continue
		}
		if e, ok := r.attrs["err"].Any().(error); ok && errors.Is(e, fs.ErrNotExist) {
			withErr = append(withErr, r)
			continue
		}
		for k, v := range r.attrs {
			if strings.Contains(v.String(), "/nonexistent-eivr/prog") && k != "target" && k != "argv" {
				withErr = append(withErr, r)
				break
			}
		}
	}
	if len(withErr) != 1 || withErr[0].level != slog.LevelError {
		t.Errorf("records with the start error: %+v, want exactly one, at Error", withErr)
	}
	for _, r := range recs {
		if r.msg == "session ended" && r.attrs["cause"].String() != ErrStartFailed.Error() {
			t.Errorf("end record's cause %q, want %q", r.attrs["cause"], ErrStartFailed)
		}
	}
}

// idleHandler is an ARI client's Handler that ignores everything.
type idleHandler struct{}

func (idleHandler) Connected(ari.ConnInfo) {}
func (idleHandler) Event(*ari.Event)       {}
func (idleHandler) Disconnected(error)     {}

// ApplicationReplaced is logged once, by the gateway (with its sessions
// and the polling it starts), not also by the ARI client it came through:
// both log to one handler here, as in eivr-gateway run.
func TestApplicationReplacedLoggedOnce(t *testing.T) {
	srv, err := aritest.NewServer(aritest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	logs := newCapture()
	log := slog.New(logs)
	newClient := func(log *slog.Logger) *ari.Client {
		c, err := ari.NewClient(ari.Config{URL: srv.URL(), Username: "asterisk", Password: "asterisk", Apps: []string{"eivr"}, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cl := newClient(log.With("ari", srv.URL()))
	defer cl.Close()
	g, err := New(Config{Apps: []AppConfig{{Name: "eivr"}}, NoIdleSilence: true, Logger: log}, cl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { NewPipeline(cl, g, reorder.Config{}).Run(ctx) })
	testwait.Until(t, testwait.Long, "the gateway is connected", g.Ready)

	other := newClient(slog.New(slog.DiscardHandler))
	defer other.Close()
	wg.Go(func() { other.Run(ctx, idleHandler{}) })
	replaced := func(r captured) bool {
		e, ok := r.attrs["err"].Any().(error)
		return ok && errors.Is(e, ari.ErrReplaced)
	}
	// The client handles the event (and would log it) before the gateway
	// sees it: once the gateway's record is in, every record is.
	recs := logs.wait(t, "the gateway's record of the takeover", func(r captured) bool {
		_, gw := r.attrs["sessions"] // the gateway's record names them
		return replaced(r) && gw
	})
	var got []captured
	for _, r := range recs {
		if replaced(r) || strings.Contains(strings.ToLower(r.msg), "replaced") || strings.Contains(r.msg, "taken over") {
			got = append(got, r)
		}
	}
	if len(got) != 1 || got[0].level != slog.LevelError || got[0].attrs["app"].String() != "eivr" {
		t.Errorf("records of the takeover:\n%v\nwant exactly one, at Error, with app=eivr", got)
	}
}
