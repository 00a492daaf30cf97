package gateway

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/eivr"
	"golang.org/x/sync/errgroup"
)

// Lifecycle of channels the gateway must hand back (issue 13 items 3, 9,
// 10, 12, 17, 18):
//
//   - A session's continue or hangup is retried with backoff on errors
//     that may pass (5xx, no reply); a continue that still fails, or that
//     Asterisk refuses (412 on a ringing channel), falls back to a hangup.
//     A channel that can be neither is counted (LifecycleStats.Unreleased)
//     and remembered, so that the next reconcile releases it.
//   - After every (re)connect, GET /applications/{app} lists the channels
//     in the app. One with no session is an orphan: a channel the gateway
//     failed to release (released now as it should have been), one a
//     killed predecessor left (first connection: continued with
//     EIVRGW_STATUS=RESTARTED, hung up if that fails), or a call whose
//     StasisStart was lost with the socket (later connections: adopted
//     from its dialplan.app_data, or continued with EIVRGW_STATUS=LATE
//     when the outage lasted longer than Config.AdoptWindow).
//   - Channels in an app that another client took over (ApplicationReplaced)
//     are that client's: the reconcile after the app is reclaimed marks
//     them foreign and never touches them.
//   - A StasisStart for a channel that does not exist ends its session at
//     once: the client is not started when the answer says 404 "Channel
//     not found"; on an Up channel (no answer) the first REST call of the
//     session that gets that 404 ends it (H to the client).

// isChannelNotFound: Asterisk says the channel itself does not exist (404
// on a /channels/{id} route; not an unset variable, not a playback).
func isChannelNotFound(err error) bool {
	var e *ari.Error
	return errors.As(err, &e) && e.Status == 404 && strings.HasPrefix(e.Path, "/channels/") && errors.Is(err, ari.ErrNotFound)
}

// channelMissing handles a "Channel not found" on a live session (a
// StasisStart for a channel that does not exist, or a hangup whose events
// have not reached us yet) as a hangup: H and the end, or I,HANGUP once
// with option i (the client then ends the session, as native); with
// option d the session ends silently. Nothing is sent back to Asterisk.
func (s *session) channelMissing(err error) {
	if s.out != nil || s.hungUp || !isChannelNotFound(err) {
		return
	}
	s.log.Error("channel not found: handled as a hangup", "err", err)
	s.inStasis = false
	s.onHangup()
	if s.out == nil && !s.app.ignoreHangup {
		s.end(outcome{action: endNone, cause: errors.Join(ErrNoChannel, err)})
	}
}

// releaseBackoff are the waits before each attempt of a continue or hangup.
var releaseBackoff = []time.Duration{0, 100 * time.Millisecond, 400 * time.Millisecond, time.Second}

// releaseOps is what releasing a channel needs (a subset of channelOps).
type releaseOps interface {
	Hangup(ctx context.Context, channelID, reason string) error
	SetVariable(ctx context.Context, channelID, name, value string) error
	Continue(ctx context.Context, channelID, context_, exten string, priority int, label string) error
}

// released: the channel is back in the dialplan, gone, or not in Stasis.
func releasedBy(err error) bool {
	return err == nil || isNotFound(err) || errors.Is(err, ari.ErrConflict)
}

// retryable: the failure may pass (5xx, no reply in time).
func retryable(err error) bool { return errors.Is(err, ari.ErrUnavailable) }

// attempt runs f per releaseBackoff until it releases the channel or fails
// for good; it returns the last error.
func attempt(ctx context.Context, timeout time.Duration, f func(ctx context.Context) error) error {
	var err error
	for _, wait := range releaseBackoff {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return errors.Join(err, ctx.Err())
			}
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err = f(cctx)
		cancel()
		if releasedBy(err) || !retryable(err) {
			return err
		}
	}
	return err
}

// releaseChannel continues (action endContinue) or hangs up ch, with
// retries; a continue that fails falls back to a hangup. It reports
// whether the channel is released.
func releaseChannel(ctx context.Context, ops releaseOps, ch string, action endAction, timeout time.Duration, log logger) bool {
	if action == endContinue {
		err := attempt(ctx, timeout, func(ctx context.Context) error { return ops.Continue(ctx, ch, "", "", 0, "") })
		if releasedBy(err) {
			return true
		}
		log.Warn("continue failed; hanging the channel up instead", "channel", ch, "err", err)
	}
	err := attempt(ctx, timeout, func(ctx context.Context) error { return ops.Hangup(ctx, ch, "normal") })
	if releasedBy(err) {
		return true
	}
	log.Error("cannot release the channel: it is tried again in the background (limits: gateway ReleaseRetry), and a reconcile may release it",
		"channel", ch, "err", err)
	return false
}

// logger is the slog subset used here.
type logger interface {
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// release is the last step of a session's end sequence.
func (s *session) release(ctx context.Context, action endAction) {
	s.releasedOK = releaseChannel(ctx, s.env.ops, s.ch, action, s.env.callTimeout, s.log)
	if !s.releasedOK && s.env.stats != nil {
		s.env.stats.unreleased.Add(1)
	}
}

// endedChannel is what the gateway remembers of a channel whose session
// ended (bounded LRU), for the reconcile.
type endedChannel struct {
	action   endAction
	status   string
	released bool // continue/hangup accepted (or not needed)
}

// endedSize bounds the memory of ended channels and of foreign ones.
const endedSize = 8192

// noteEnded records how s left its channel.
func (g *Gateway) noteEnded(s *session, out outcome) {
	e := endedChannel{action: out.action, status: out.status, released: s.releasedOK || out.action == endNone || !s.inStasis || s.hungUp}
	g.mu.Lock()
	g.ended.Add(s.ch, e)
	if !e.released {
		g.queueReleaseLocked(s.ch, s.id, out.action, out.status)
	}
	g.mu.Unlock()
}

// orphanWork is one channel in an app with no session.
type orphanWork struct {
	id    string
	ended *endedChannel
}

// orphans handles the channels of app that have no session after a
// connection (seq 1: first connection since start). It runs on its own
// goroutine (reconcile's).
func (g *Gateway) orphans(ctx context.Context, app string, ids []string, seq int, outage time.Duration) {
	g.mu.Lock()
	if g.reclaimed[app] {
		// The other client's calls entered the app while it was replaced:
		// they are never ours.
		delete(g.reclaimed, app)
		n := 0
		for _, id := range ids {
			if g.sessions[id] == nil && !g.admittingNow(id) {
				g.foreign.Add(id, struct{}{})
				n++
			}
		}
		g.mu.Unlock()
		if n > 0 {
			g.log.Warn("channels another ARI client started in the app are left alone", "app", app, "channels", n)
		}
		return
	}
	var work []orphanWork
	for _, id := range ids {
		if g.sessions[id] != nil || g.admittingNow(id) || g.foreign.Contains(id) {
			continue
		}
		if _, orig := g.pending[id]; orig {
			continue
		}
		w := orphanWork{id: id}
		if e, ok := g.ended.Get(id); ok {
			if e.released {
				continue // on its way out of the app
			}
			w.ended = &e
		}
		work = append(work, w)
	}
	g.mu.Unlock()
	if len(work) == 0 {
		return
	}
	var eg errgroup.Group
	eg.SetLimit(replacedChecks)
	for _, w := range work {
		if ctx.Err() != nil {
			break
		}
		eg.Go(func() error {
			if ctx.Err() == nil { // Go may have waited for a slot past the stop
				g.orphan(ctx, app, w, seq, outage)
			}
			return nil
		})
	}
	_ = eg.Wait() // orphan logs its own failures
}

// orphan releases or adopts one channel with no session.
func (g *Gateway) orphan(ctx context.Context, app string, w orphanWork, seq int, outage time.Duration) {
	log := g.log.With("app", app, "channel", w.id)
	switch {
	case w.ended != nil:
		log.Warn("releasing a channel the gateway failed to release", "status", w.ended.status)
		g.releaseOrphan(ctx, w.id, w.ended.action, w.ended.status, log)
		return
	case seq <= 1:
		log.Warn("channel left in the app by a previous gateway run; sending it back to the dialplan", "status", StatusRestarted)
		g.releaseOrphan(ctx, w.id, endContinue, StatusRestarted, log)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, g.cfg.CallTimeout)
	ch, err := g.client.GetChannel(cctx, w.id)
	cancel()
	switch {
	case isNotFound(err):
		return // gone meanwhile
	case err != nil:
		log.Warn("cannot read a channel whose StasisStart was missed", "err", err)
		return
	}
	args, ok := stasisArgs(ch.Dialplan, app)
	switch {
	case !ok:
		log.Warn("channel in the app with no StasisStart and no Stasis() arguments; sending it back to the dialplan",
			"dialplan_app", ch.Dialplan.AppName, "status", StatusLate)
		g.releaseOrphan(ctx, w.id, endContinue, StatusLate, log)
	case outage > g.cfg.AdoptWindow:
		log.Warn("StasisStart missed during an ARI outage longer than the adopt window; sending the call back to the dialplan",
			"outage", outage.Round(time.Millisecond), "adopt_window", g.cfg.AdoptWindow, "status", StatusLate)
		g.releaseOrphan(ctx, w.id, endContinue, StatusLate, log)
	default:
		log.Warn("StasisStart missed during an ARI outage; adopting the call late", "outage", outage.Round(time.Millisecond))
		g.stats.adopted.Add(1)
		g.enqueueAdmission(&ari.Event{Kind: ari.KindStasisStart, Type: "StasisStart", Application: app, Args: args, Channel: ch})
	}
}

// releaseOrphan sets status (if any) and continues or hangs up ch, unless
// a session has started for it meanwhile.
func (g *Gateway) releaseOrphan(ctx context.Context, ch string, action endAction, status string, log logger) {
	g.mu.Lock()
	started := g.sessions[ch] != nil || g.admittingNow(ch)
	g.mu.Unlock()
	if started {
		return
	}
	g.stats.orphans.Add(1)
	if status != "" {
		// Asterisk queues the set (and the continue) behind a file the
		// previous run left playing: the client's long REST timeout
		// applies, not CallTimeout (checked on 22.10.1).
		err := g.client.SetVariable(ctx, ch, StatusVariable, status)
		if err != nil && !isNotFound(err) {
			log.Warn("set "+StatusVariable+" failed", "channel", ch, "err", err)
		}
	}
	if action == endNone {
		action = endHangup
	}
	ok := releaseChannel(ctx, g.client, ch, action, g.cfg.CallTimeout, log)
	g.mu.Lock()
	if ok {
		g.ended.Add(ch, endedChannel{action: action, status: status, released: true})
	} else {
		g.queueReleaseLocked(ch, "", action, status)
	}
	g.mu.Unlock()
	if !ok {
		g.stats.unreleased.Add(1)
	}
}

// stasisArgs recovers the StasisStart args from a channel's dialplan
// location: Stasis(app,args...) splits its data as every application does.
func stasisArgs(dp ari.DialplanCEP, app string) ([]string, bool) {
	if !strings.EqualFold(dp.AppName, "Stasis") {
		return nil, false
	}
	f := eivr.SplitAppArgs(dp.AppData, stasisMaxArgs+1)
	if len(f) == 0 || f[0] != app {
		return nil, false
	}
	return f[1:], true
}

// stasisMaxArgs is app_stasis.c's MAX_ARGS.
const stasisMaxArgs = 128

// orphanSettle is how long the reconcile lets StasisStarts already in the
// event queue reach their sessions before it treats a channel with no
// session as an orphan.
const orphanSettle = 250 * time.Millisecond

// goneType marks the synthetic event that ends a session whose channel
// no longer exists, whatever its options (item 12: option d).
const goneType = "eivr-gateway:gone"

// checkDestroyed ends an option-d session whose channel is destroyed: the
// hang-up is never reported to the client, but a session must not outlive
// its channel (its program gets EOF, grace, SIGTERM).
func (g *Gateway) checkDestroyed(ctx context.Context, s *session) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.CallTimeout)
	defer cancel()
	if _, err := g.client.GetChannel(ctx, s.ch); isNotFound(err) {
		s.deliver(&ari.Event{Kind: ari.KindOther, Type: goneType, Channel: ari.Channel{ID: s.ch}})
	}
}

// onGone handles goneType on the session loop.
func (s *session) onGone() {
	s.log.Info("channel destroyed; ending the session")
	s.hungUp, s.inStasis = true, false
	s.end(outcome{action: endNone, cause: ErrChannelGone})
}

// settleOrphans lets StasisStarts already in the event queue and the
// reorderer reach their sessions (a call that entered just now), then
// handles the channels that still have no session.
func (g *Gateway) settleOrphans(ctx context.Context, app string, ids []string, seq int, outage time.Duration) {
	if len(ids) == 0 {
		return
	}
	t := time.NewTimer(orphanSettle)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return
	}
	g.orphans(ctx, app, ids, seq, outage)
}
