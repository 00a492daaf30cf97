package gateway

import (
	"context"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// passthrough is an orderer that delivers at once, in arrival order.
// TODO(gateway): replaced by reorder.Reorderer when it lands.
type passthrough struct{ g *Gateway }

func newOrderer(_ Config, g *Gateway) orderer { return passthrough{g} }

func (p passthrough) Push(_ int, ev *ari.Event) { p.g.deliver(ev) }

func (p passthrough) Run(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}
