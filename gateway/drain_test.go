package gateway

import (
	"context"
	"testing"
	"time"
)

// StopTaking makes the gateway not ready at once, before Drain's wait:
// the admin's /readyz depends on it (cmd/eivr-gateway TestRunSignals).
func TestStopTakingNotReady(t *testing.T) {
	g, err := New(Config{Apps: []AppConfig{{Name: "eivr"}}, NoIdleSilence: true}, newBenchARI())
	if err != nil {
		t.Fatal(err)
	}
	if !g.Ready() {
		t.Fatal("not ready before StopTaking")
	}
	g.StopTaking()
	if g.Ready() {
		t.Error("still ready after StopTaking")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := g.Drain(ctx); err != nil { // no session: returns at once
		t.Errorf("Drain = %v", err)
	}
	if g.Ready() {
		t.Error("ready again after Drain")
	}
}
