package reorder

import "github.com/eivr-gateway/eivr-gateway/ari"

// Fanout returns a Sink that hands every event to each of sinks in turn,
// in the order given (one stream for a gateway, a CTI hub, ...). The
// events are shared: every sink gets the same read-only *ari.Event. Each
// sink sees what [Sink] promises (causal order per Key, no lock held);
// a slow sink delays the ones after it, so each should only enqueue.
func Fanout(sinks ...Sink) Sink {
	if len(sinks) == 1 {
		return sinks[0]
	}
	return fanout(append([]Sink(nil), sinks...))
}

type fanout []Sink

func (f fanout) Deliver(key Key, ev *ari.Event) {
	for _, s := range f {
		s.Deliver(key, ev)
	}
}
