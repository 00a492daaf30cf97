package main

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
)

// signalLoop is the main loop of serve and serveListen: it returns the
// first error of runErr, or drain's when ctx ends ("stopping") or
// SIGINT/SIGTERM arrives (the signal's name); SIGHUP calls reload.
func signalLoop(ctx context.Context, signals <-chan os.Signal, runErr <-chan error, reload func(), drain func(why string) error) error {
	for {
		select {
		case err := <-runErr:
			return err
		case <-ctx.Done():
			return drain("stopping")
		case sig := <-signals:
			switch sig {
			case syscall.SIGHUP:
				reload()
			default:
				return drain(sig.String())
			}
		}
	}
}

// drainer is what drainSessions drains: the live gateways.
type drainer interface {
	Drain(ctx context.Context) error
}

// drainSessions waits up to timeout until every gateway of gws has no live
// session; a second SIGINT/SIGTERM cuts the wait short (SIGHUP is ignored
// meanwhile). sessions counts what is left, for the log.
func drainSessions[D drainer](log *slog.Logger, signals <-chan os.Signal, timeout time.Duration, gws []D, sessions func() int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, g := range gws {
			wg.Go(func() { _ = g.Drain(ctx) })
		}
		wg.Wait()
	}()
	for {
		select {
		case <-done:
			if n := sessions(); n > 0 {
				log.Warn("drain timeout: ending the sessions left", "sessions", n)
			} else {
				log.Info("drained: no session left")
			}
			return
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				continue
			}
			log.Warn("second signal: ending the sessions left now", "signal", sig.String(), "sessions", sessions())
			cancel()
		}
	}
}
