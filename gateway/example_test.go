package gateway_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// Serving Stasis(eivr,/usr/lib/ivr/menu.pl(en)) and Stasis(eivr,ivr://ivr.example(x))
// calls from one Asterisk, draining on SIGINT.
func Example() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	client, err := ari.NewClient(ari.Config{
		URL: "http://127.0.0.1:8088/ari", Username: "asterisk", Password: "secret",
		Apps: []string{"eivr"}, Logger: log,
	})
	if err != nil {
		log.Error("ari", "err", err)
		return
	}
	g, err := gateway.New(gateway.Config{
		Apps: []gateway.AppConfig{{
			Name:        "eivr",
			Programs:    []string{"/usr/lib/ivr/*"},
			TCPHosts:    []string{"ivr.example"}, // port 2949
			MaxSessions: 500,
			Grace:       2 * time.Second,
			SoundsDir:   "/var/lib/asterisk/sounds", // shared with Asterisk; else GET /sounds
		}},
		Logger: log,
	}, client)
	if err != nil {
		log.Error("gateway", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// ari.Client → reorder.Reorderer → the gateway (and more sinks, if any).
	p := gateway.NewPipeline(client, g, reorder.Config{})
	go func() { done <- p.Run(ctx) }()

	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-sig.Done()
	drain, cancelDrain := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelDrain()
	_ = g.Drain(drain) // new calls go back to the dialplan; live ones finish
	cancel()           // the rest continue in the dialplan (EIVRGW_STATUS=SHUTDOWN)
	<-done
}
