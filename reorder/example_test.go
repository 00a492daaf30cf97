package reorder_test

import (
	"fmt"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

type printSink struct{}

func (printSink) Deliver(key reorder.Key, ev *ari.Event) {
	if ev.Digit != "" {
		fmt.Println(key.ChannelID, ev.Kind, ev.Digit)
		return
	}
	fmt.Println(key.ChannelID, ev.Kind)
}

// A digit that overtook its channel's StasisStart (two sources) is held
// until the StasisStart arrives, then both are delivered inside that Push.
func Example() {
	r := reorder.New(reorder.Config{}, printSink{})
	// In the gateway: go r.Run(ctx), and Push from each ARI connection.
	t := time.Date(2026, 11, 23, 18, 2, 35, 545e6, time.UTC)
	ch := ari.Channel{ID: "1795457104.96", State: "Ring"}
	r.Push(1, &ari.Event{Kind: ari.KindChannelDtmfReceived, Application: "eivr", Channel: ch,
		Timestamp: t.Add(300 * time.Millisecond), Digit: "5", DurationMs: 100})
	fmt.Println("held:", r.Stats().Held)
	r.Push(0, &ari.Event{Kind: ari.KindStasisStart, Application: "eivr", Channel: ch,
		Timestamp: t, Args: []string{"ivr://ivr.example(x)", "n"}})
	// Output:
	// held: 1
	// 1795457104.96 StasisStart
	// 1795457104.96 ChannelDtmfReceived 5
}
