package gateway

import (
	"context"
	"time"
)

// Channels whose continue or hangup kept failing (a starved Asterisk
// answering nothing within CallTimeout, 5xx) are not left in Stasis: the
// gateway tries them again, one request at a time per channel and a few at
// once in all, with a growing pause (releaseRetryFirst doubling up to
// releaseRetryMax), until Asterisk releases them, says they are gone, or
// Config.ReleaseRetry has passed. A reconnect's reconcile may release them
// first; a session that starts for the channel meanwhile owns it.

const (
	releaseRetryFirst = 2 * time.Second
	releaseRetryMax   = 30 * time.Second
	releaseRetryConc  = 4 // retries in flight at once
)

// retryEntry is one channel waiting for another release attempt.
type retryEntry struct {
	action endAction
	status string
	since  time.Time
	next   time.Time
	wait   time.Duration
	busy   bool   // an attempt is in flight
	ended  string // id of the session that left ch unreleased ("": an orphan)
}

// queueReleaseLocked hands ch to the retry loop. g.mu held. ended is the
// id of the session that left ch unreleased, still registered in g.sessions until
// its serve goroutine finishes ("" for an orphan): only another session
// takes the channel back from the retries.
func (g *Gateway) queueReleaseLocked(ch, ended string, action endAction, status string) {
	if g.cfg.ReleaseRetry < 0 || g.retry == nil {
		return
	}
	if _, ok := g.retry[ch]; ok {
		return
	}
	if len(g.retry) >= endedSize {
		g.log.Error("too many channels waiting for a release retry; this one is left to a reconcile", "channel", ch)
		return
	}
	if action == endNone {
		action = endHangup
	}
	now := time.Now()
	g.retry[ch] = &retryEntry{action: action, status: status, since: now, next: now.Add(releaseRetryFirst), wait: releaseRetryFirst, ended: ended}
	select {
	case g.retryKick <- struct{}{}:
	default:
	}
}

// retryLoop runs the release retries until done is closed or ctx ends.
func (g *Gateway) retryLoop(ctx context.Context, done <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	slots := make(chan struct{}, releaseRetryConc)
	for {
		next := g.startDueRetries(ctx, slots)
		d := time.Hour
		if !next.IsZero() {
			d = max(time.Until(next), 10*time.Millisecond)
		}
		t.Reset(d)
		select {
		case <-t.C:
		case <-g.retryKick: // queued, or an attempt finished (a slot is free)
		case <-done:
			return
		case <-ctx.Done():
			return
		}
	}
}

// startDueRetries starts the attempts that are due, as far as slots allow,
// and returns when the next one is due (zero: none waiting).
func (g *Gateway) startDueRetries(ctx context.Context, slots chan struct{}) time.Time {
	now := time.Now()
	var next time.Time
	var start []string
	g.mu.Lock()
	for ch, e := range g.retry {
		switch {
		case e.busy:
			continue
		case g.ownedAgain(ch, e):
			delete(g.retry, ch) // a session owns the channel again
			continue
		case now.Sub(e.since) > g.cfg.ReleaseRetry:
			delete(g.retry, ch)
			g.log.Error("gave up releasing the channel: it stays in Stasis until a reconcile releases it or it hangs up",
				"channel", ch, "tried_for", now.Sub(e.since).Round(time.Second))
			continue
		case e.next.After(now):
			if next.IsZero() || e.next.Before(next) {
				next = e.next
			}
			continue
		}
		select {
		case slots <- struct{}{}:
			e.busy = true
			start = append(start, ch)
		default:
			if next.IsZero() || now.Before(next) {
				next = now.Add(100 * time.Millisecond)
			}
		}
	}
	g.mu.Unlock()
	for _, ch := range start {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.retryRelease(ctx, ch)
			<-slots
			select {
			case g.retryKick <- struct{}{}:
			default:
			}
		}()
	}
	return next
}

// ownedAgain reports whether a session other than the one that queued e
// has ch, or is on its way (g.mu held).
func (g *Gateway) ownedAgain(ch string, e *retryEntry) bool {
	s := g.sessions[ch]
	return (s != nil && s.id != e.ended) || g.admittingNow(ch)
}

// retryRelease makes one attempt to release ch.
func (g *Gateway) retryRelease(ctx context.Context, ch string) {
	g.mu.Lock()
	e := g.retry[ch]
	var action endAction
	if e != nil {
		action = e.action
	}
	g.mu.Unlock()
	if e == nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, g.cfg.CallTimeout)
	var err error
	if action == endContinue {
		err = g.client.Continue(cctx, ch, "", "", 0, "")
		if !releasedBy(err) && !retryable(err) {
			action = endHangup // as releaseChannel: a refused continue falls back to a hangup
		}
	}
	if action == endHangup {
		err = g.client.Hangup(cctx, ch, "normal")
	}
	cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	e.busy, e.action = false, action
	if releasedBy(err) {
		delete(g.retry, ch)
		g.ended.Add(ch, endedChannel{action: e.action, status: e.status, released: true})
		g.stats.retried.Add(1)
		g.log.Info("channel released on retry", "channel", ch, "after", time.Since(e.since).Round(time.Millisecond))
		return
	}
	e.wait = min(2*e.wait, releaseRetryMax)
	e.next = time.Now().Add(e.wait)
	g.log.Debug("release retry failed", "channel", ch, "err", err, "next_in", e.wait)
}
