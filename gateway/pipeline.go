package gateway

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// EventSource is one ARI connection's event stream (*ari.Client).
type EventSource interface {
	Run(ctx context.Context, h ari.Handler) error
}

// Pipeline is the event path of one ARI connection, as cmd and the tests
// assemble it:
//
//	EventSource ─Handler.Event─▶ reorder.Reorderer ─Sink─▶ reorder.Fanout(Gateway, extra...)
//	            ─Connected, Disconnected, EventsLost────────▶ Gateway
//
// The Pipeline is the source's ari.Handler (and ari.LossHandler): events
// are pushed into the reorderer, which hands them, in causal order per
// channel and with no lock held, to the gateway and the extra sinks;
// connection changes go to the gateway in order with the events.
type Pipeline struct {
	src   EventSource
	gw    *Gateway
	order *reorder.Reorderer
}

// NewPipeline builds the reorderer of g's event stream from rc and wires
// src → reorderer → fan-out{g, extra...}. The reorderer delivers g.Kinds()
// and the kinds rc.Kinds names (for the extra sinks; every sink gets every
// delivered event). rc.Logger defaults to g's logger.
func NewPipeline(src EventSource, g *Gateway, rc reorder.Config, extra ...reorder.Sink) *Pipeline {
	kinds := g.Kinds()
	for _, k := range rc.Kinds {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	rc.Kinds = kinds
	if rc.Logger == nil {
		rc.Logger = g.log.With("component", "reorder")
	}
	sinks := append([]reorder.Sink{g}, extra...)
	return &Pipeline{src: src, gw: g, order: reorder.New(rc, reorder.Fanout(sinks...))}
}

// Reorderer is the pipeline's reorderer (for its Stats).
func (p *Pipeline) Reorderer() *reorder.Reorderer { return p.order }

// Gateway is the gateway the pipeline feeds.
func (p *Pipeline) Gateway() *Gateway { return p.gw }

// Run runs the gateway, the reorderer's clock and the event source until
// ctx ends (or the source fails), then ends the live sessions as
// Gateway.run does and returns. It may be called once.
func (p *Pipeline) Run(ctx context.Context) error {
	return p.gw.run(ctx, func(ctx context.Context) error {
		octx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := p.order.Run(octx); err != nil {
				p.gw.log.Error("event ordering stopped", "err", err)
			}
		})
		err := p.src.Run(ctx, p)
		stop()
		wg.Wait()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
		return err
	})
}

// Connected implements ari.Handler.
func (p *Pipeline) Connected(info ari.ConnInfo) { p.gw.Connected(info) }

// Event implements ari.Handler: the event goes through the reorderer.
func (p *Pipeline) Event(ev *ari.Event) { p.order.Push(0, ev) }

// Disconnected implements ari.Handler.
func (p *Pipeline) Disconnected(err error) { p.gw.Disconnected(err) }

// EventsLost implements ari.LossHandler.
func (p *Pipeline) EventsLost(n uint64) { p.gw.EventsLost(n) }
