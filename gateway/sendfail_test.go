package gateway

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// endObserver keeps only the Reports (a flooding client's lines would fill
// any recorder).
type endObserver struct{ ended chan Report }

func (o endObserver) SessionStarted(SessionInfo)   {}
func (o endObserver) SessionLine(WireLine)         {}
func (o endObserver) SessionPlayback(PlaybackNote) {}
func (o endObserver) SessionEnded(r Report)        { o.ended <- r }

// Real programs (eivr.StartProgram): a program that closed its stdin (then
// waits, floods P or exits) is gone once the gateway's event lines meet the
// broken pipe, not a slow client, however many Sends fail; a program that
// floods P without ever reading the replies (its stdin open) is a slow
// client once its pipe and the bounded buffer are full.
func TestSlowClientOrGone(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	tests := []struct {
		name   string
		script string
		status string
		cause  error
	}{
		{"closes stdin and waits: gone", "exec 0<&-; echo P.x; exec sleep 60", "", ErrClientGone},
		{"closes stdin, floods P: gone", "exec 0<&-; while :; do echo P.x; done", "", ErrClientGone},
		{"exits: gone", "exec 0<&-; echo P.x; echo P.x; echo P.x; echo P.x", "", ErrClientGone},
		{"never reads: slow", "while :; do echo P.x; done", StatusSlowClient, ErrSlowClient},
	}
	obs := endObserver{ended: make(chan Report, len(tests))}
	fa := newBenchARI()
	g, err := New(Config{
		Apps:          []AppConfig{{Name: "eivr", Programs: []string{sh}, WriteBuffer: 256, Grace: 100 * time.Millisecond}},
		NoIdleSilence: true,
		Observer:      obs,
	}, fa)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	h := <-fa.handler
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := new(ari.Event)
			if err := ari.Decode(frame("StasisStart", "c"+strconv.Itoa(i), i, `"args":[`+strconv.Quote(sh+"(-c,"+tt.script+")")+`],`), ev); err != nil {
				t.Fatal(err)
			}
			h.Event(ev)
			var r Report
			select {
			case r = <-obs.ended:
			case <-time.After(testwait.Long):
				t.Fatal("the session did not end")
			}
			if !r.Served || r.Status != tt.status || !errors.Is(r.Cause, tt.cause) {
				t.Errorf("report served %v, status %q, cause %v; want status %q, cause %v", r.Served, r.Status, r.Cause, tt.status, tt.cause)
			}
			if tt.cause != ErrSlowClient && errors.Is(r.Cause, ErrSlowClient) {
				t.Errorf("cause %v is a slow client", r.Cause)
			}
		})
	}
}
