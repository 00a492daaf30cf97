package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"golang.org/x/sync/errgroup"
)

// While another ARI client owns one of the gateway's apps
// (ApplicationReplaced), the events of that app's channels, hang-ups
// included, go to the other client. The gateway keeps the app's live
// sessions (their REST calls still work) and watches their channels over
// REST instead: one goroutine per replaced app asks GET /channels/{id} for
// each live session every replacedPoll, at most replacedChecks at a time,
// and ends the session of a channel that is gone as a hangup would (H, or
// I,HANGUP with option i); a session whose channel still exists checks its
// outstanding playback (GET /playbacks/{id}), as after a reconnect, since
// PlaybackFinished is lost as well: F comes and the playlist moves on, late
// by a poll interval at most. DTMF cannot be recovered. The watch stops when the app is subscribed
// again (Connected lists it; reconcile then takes over) or Run ends.

const (
	replacedPoll   = time.Second // interval between two rounds of checks
	replacedChecks = 8           // concurrent GET /channels/{id} per round
)

// replacedWatch is the watch of one replaced app, owned by g.mu.
type replacedWatch struct {
	mu      sync.Mutex
	stopped bool
	stop    context.CancelFunc // the poller's, once it has started
}

func newReplacedWatch() *replacedWatch { return &replacedWatch{} }

// start gives the watch its poller's cancel; false (and cancelled) when
// the watch was cancelled before its poller started.
func (w *replacedWatch) start(cancel context.CancelFunc) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		cancel()
		return false
	}
	w.stop = cancel
	return true
}

// cancel ends the watch: its poller's context is cancelled (now, or as it
// starts).
func (w *replacedWatch) cancel() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.stop != nil {
		w.stop()
	}
}

// appReplaced starts watching app's sessions. It is called on the dispatch
// goroutine and only starts a goroutine (on run's workLoop, which has the
// context).
func (g *Gateway) appReplaced(app string) {
	if !g.running.Load() {
		return
	}
	g.mu.Lock()
	if g.watches[app] != nil {
		g.mu.Unlock()
		return
	}
	w := newReplacedWatch()
	g.watches[app] = w
	g.reclaimed[app] = true // its next reconcile leaves the other client's channels alone
	n := g.live[app]
	g.mu.Unlock()
	g.log.Error("application taken over by another ARI client: its live calls keep running, "+
		"but their DTMF and events cannot be received while it is replaced and new calls go to the other client; "+
		"hang-ups are detected by polling GET /channels/{id}",
		"app", app, "sessions", n, "poll", g.replacedPoll, "err", ari.ErrReplaced)
	g.onRun(func(ctx context.Context) {
		ctx, cancel := context.WithCancel(ctx)
		if !w.start(cancel) {
			return
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer cancel()
			g.watchReplaced(ctx, app)
		}()
	})
}

// appsSubscribed stops the watch of every app in apps (a connection
// subscribed them again). Called on the dispatch goroutine.
func (g *Gateway) appsSubscribed(apps []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, app := range apps {
		if w := g.watches[app]; w != nil {
			w.cancel()
			delete(g.watches, app)
			g.log.Info("application subscribed again; hang-up polling stops", "app", app)
		}
	}
}

// watchReplaced polls app's sessions until ctx ends.
func (g *Gateway) watchReplaced(ctx context.Context, app string) {
	t := time.NewTicker(g.replacedPoll)
	defer t.Stop()
	var mu sync.Mutex
	reported := map[*session]bool{} // ended by the watch (option i keeps the session)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.mu.Lock()
		var check []*session
		for _, s := range g.sessions {
			if s.appName == app && !s.released.Load() {
				check = append(check, s)
			}
		}
		g.mu.Unlock()
		mu.Lock()
		still := make(map[*session]bool, len(reported))
		for _, s := range check {
			if reported[s] {
				still[s] = true
			}
		}
		reported = still
		mu.Unlock()

		var failed int
		var lastErr error
		var eg errgroup.Group
		eg.SetLimit(replacedChecks)
		for _, s := range check {
			if ctx.Err() != nil {
				break
			}
			eg.Go(func() error {
				mu.Lock()
				done := reported[s]
				mu.Unlock()
				if done || ctx.Err() != nil { // Go may have waited for a slot past the stop
					return nil
				}
				gone, err := g.channelGone(ctx, app, s)
				mu.Lock()
				if gone {
					reported[s] = true
				}
				if err != nil {
					failed, lastErr = failed+1, err
				}
				mu.Unlock()
				return nil
			})
		}
		_ = eg.Wait() // every check returns nil: failures are counted above
		if failed > 0 && ctx.Err() == nil {
			g.log.Warn("cannot check the channels of a replaced application", "app", app, "failed", failed, "err", lastErr)
		}
	}
}

// channelGone checks s's channel: when it no longer exists it ends the
// session as on a hangup, else it asks the session to check its playback.
// It reports whether the channel is gone, and the error of a check that
// failed.
func (g *Gateway) channelGone(ctx context.Context, app string, s *session) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.CallTimeout)
	defer cancel()
	_, err := g.client.GetChannel(ctx, s.ch)
	switch {
	case err == nil:
		// Its PlaybackFinished would be lost too: the session checks its
		// outstanding playback (GET /playbacks/{id}) so that F is sent and
		// the playlist moves on, a poll interval late at most.
		s.deliver(&ari.Event{Kind: ari.KindOther, Type: resyncType, Application: app, Channel: ari.Channel{ID: s.ch}})
		return false, nil
	case errors.Is(err, ari.ErrNotFound):
		s.log.Info("channel gone while the application is replaced; ending the session as on a hangup")
		s.deliver(&ari.Event{Kind: ari.KindStasisEnd, Type: "StasisEnd", Application: app, Channel: ari.Channel{ID: s.ch}})
		if s.app.runDead { // option d ignores the hangup, not its channel's end
			s.deliver(&ari.Event{Kind: ari.KindOther, Type: goneType, Channel: ari.Channel{ID: s.ch}})
		}
		return true, nil
	default:
		return false, err
	}
}
