package gateway

import (
	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// newOrderer puts the gateway's event stream through reorder: per-channel
// causal order, duplicates and late events dropped, only the kinds sessions
// use delivered.
func newOrderer(c Config, g *Gateway) orderer {
	rc := c.Reorder
	rc.Kinds = sessionKinds()
	if rc.Logger == nil {
		rc.Logger = c.Logger.With("component", "reorder")
	}
	return reorder.New(rc, sink{g})
}

// sink is the reorder.Sink of a Gateway.
type sink struct{ g *Gateway }

// Deliver implements reorder.Sink: it must not block.
func (s sink) Deliver(key reorder.Key, ev *ari.Event) { s.g.route(key.ChannelID, ev) }
