package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// SoundsIndex is a GET /sounds cache shared by the Gateways of one
// Asterisk (listener mode runs one Gateway per connection: without it each
// per-call connection would fetch the index for its one call). Each
// Gateway given it in Config.Sounds lends its ARI client for the fetches
// while it runs; a fetch uses the newest client and, if that one fails
// (its socket closed meanwhile), the others. Close it after the Gateways
// using it have returned.
type SoundsIndex struct {
	a *ariSounds

	mu      sync.Mutex
	clients []ARI // of the running Gateways, oldest first
}

// ErrNoSoundsClient: a shared index had no running Gateway to fetch with.
var ErrNoSoundsClient = errors.New("gateway: no running gateway of this Asterisk to fetch GET /sounds with")

// NewSoundsIndex returns an index kept ttl (0: 5 min) between fetches.
func NewSoundsIndex(ttl time.Duration, log *slog.Logger) *SoundsIndex {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	x := &SoundsIndex{}
	x.a = &ariSounds{lister: x, ttl: ttl, now: time.Now, log: log,
		fetchTimeout: soundsFetchTimeout, failTTL: soundsFailTTL}
	return x
}

// Close cuts a running fetch short and waits for it.
func (x *SoundsIndex) Close() { x.a.close() }

// lend adds c to the clients fetches may use until the returned func runs.
func (x *SoundsIndex) lend(c ARI) func() {
	x.mu.Lock()
	x.clients = append(x.clients, c)
	x.mu.Unlock()
	return func() {
		x.mu.Lock()
		defer x.mu.Unlock()
		if i := slices.Index(x.clients, c); i >= 0 {
			x.clients = slices.Delete(x.clients, i, i+1)
		}
	}
}

// soundIndex implements soundLister with the newest client that answers.
func (x *SoundsIndex) soundIndex(ctx context.Context) (soundTree, error) {
	x.mu.Lock()
	cs := slices.Clone(x.clients)
	x.mu.Unlock()
	err := ErrNoSoundsClient
	for i := len(cs) - 1; i >= 0 && ctx.Err() == nil; i-- {
		t, e := (soundsAdapter{cs[i]}).soundIndex(ctx)
		if e == nil {
			return t, nil
		}
		err = fmt.Errorf("gateway: GET /sounds: %w", e)
	}
	return soundTree{}, err
}
