package gateway

import (
	"context"
	"sync"
)

// eachLimited runs fn for every item on its own goroutine, at most n at a
// time, and returns when every fn it started has returned. Once ctx is
// done it starts no more. The replaced-app poller and the reconcile of
// orphaned channels bound their REST checks with it.
func eachLimited[T any](ctx context.Context, n int, items []T, fn func(T)) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(it)
		})
	}
}
