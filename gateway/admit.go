package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// Delivery and admission (issue 14 item 1). Deliver runs on the goroutine
// that hands events over (the reorderer's, for the ARI dispatch goroutine
// or its clock) and only routes and enqueues: an event of a channel with a
// session goes to that session's queue; a StasisStart becomes an
// admission, queued for the one admission goroutine Run owns, which
// parses the application string, checks the allow-list and the limits,
// starts the session and writes the log lines. The events of a channel
// whose admission is queued are held with it and handed to its session,
// in order, before any later one (StasisEnd included: the session then
// ends as it does on a hang-up right after its start).

// admitQueue bounds the StasisStarts waiting for admission. When it is
// full (the admission goroutine is stuck, e.g. on a blocked log sink) a
// StasisStart is dropped and the apps are reconciled as after lost
// events: the call is adopted from its dialplan.app_data.
const admitQueue = 1024

// admission is one StasisStart waiting for the admission goroutine, with
// the events of its channel that arrived meanwhile.
type admission struct {
	ev       *ari.Event
	held     []*ari.Event
	overflow bool // more events arrived than a session's queue holds
}

// Kinds returns the event kinds the gateway acts on: the reorderer's
// Config.Kinds for it (NewPipeline sets them).
func (g *Gateway) Kinds() []ari.Kind {
	return []ari.Kind{
		ari.KindStasisStart, ari.KindStasisEnd, ari.KindChannelStateChange,
		ari.KindChannelHangupRequest, ari.KindChannelDtmfReceived,
		ari.KindPlaybackStarted, ari.KindPlaybackFinished,
		ari.KindChannelDestroyed, ari.KindDial, // click-to-call outcomes
		ari.KindApplicationReplaced,
	}
}

// Deliver implements reorder.Sink: it hands an event, in causal order for
// its channel, to the channel's session, or queues the admission of a
// StasisStart. It never blocks and takes no lock across a call into
// another package. ev is not modified.
func (g *Gateway) Deliver(key reorder.Key, ev *ari.Event) {
	if ev.Kind == ari.KindApplicationReplaced {
		// Not a channel's: starts the hang-up polling of that app's
		// sessions (replaced.go) on its own goroutine.
		g.appReplaced(ev.Application)
		return
	}
	ch := key.ChannelID
	if ch == "" {
		ch = ev.Channel.ID
	}
	if t := ev.Playback.PlaybackTarget(); ch == "" && strings.HasPrefix(t, "channel:") {
		ch = strings.TrimPrefix(t, "channel:")
	}
	g.mu.Lock()
	orig := len(g.pending) > 0
	g.mu.Unlock()
	if orig {
		g.originateEvent(ch, ev)
	}
	if ev.Kind == ari.KindStasisStart {
		g.enqueueAdmission(ev)
		return
	}
	g.mu.Lock()
	if a := g.admitting[ch]; a != nil {
		a.hold(ev, g.cfg.EventQueue)
		g.mu.Unlock()
		return
	}
	s := g.sessions[ch]
	if s != nil {
		// Under g.mu (a non-blocking send): a session's removal (serve)
		// then sees every event delivered to it.
		s.deliver(ev)
	}
	g.mu.Unlock()
	if s == nil && g.log.Enabled(context.Background(), slog.LevelDebug) { // the args would allocate
		g.log.Debug("event for no session", "event", ev.Type, "channel", ch)
	}
}

func (a *admission) hold(ev *ari.Event, limit int) {
	if len(a.held) >= limit {
		a.overflow = true
		return
	}
	a.held = append(a.held, ev)
}

// enqueueAdmission queues a StasisStart for the admission goroutine, or
// hands it to the live session of its channel (a masquerade or a copy:
// handled there) or to the admission already queued for it.
func (g *Gateway) enqueueAdmission(ev *ari.Event) {
	ch := ev.Channel.ID
	g.mu.Lock()
	if a := g.admitting[ch]; a != nil && ch != "" {
		a.hold(ev, g.cfg.EventQueue)
		g.mu.Unlock()
		return
	}
	if old := g.sessions[ch]; old != nil && !old.released.Load() {
		g.mu.Unlock()
		old.deliver(ev)
		return
	}
	a := &admission{ev: ev}
	queued := true
	select {
	case g.admitQ <- a:
		if ch != "" {
			g.admitting[ch] = a
		}
	default:
		queued = false
	}
	g.mu.Unlock()
	if !queued {
		g.requestResync(resyncAdmission, 1)
	}
}

// admitLoop is the admission goroutine (owned by run). When done is closed
// (after the event source stopped and run's ctx ended) it admits what is
// still queued (those sessions end at once with SHUTDOWN) and returns.
func (g *Gateway) admitLoop(ctx, base context.Context, done <-chan struct{}) {
	for {
		select {
		case a := <-g.admitQ:
			g.admit(ctx, base, a)
		case <-done:
			for {
				select {
				case a := <-g.admitQ:
					g.admit(ctx, base, a)
				default:
					return
				}
			}
		}
	}
}

// admit starts a session for a channel entering an app: the application
// string is parsed and checked, the session registered (with the events
// held for it, in order) and started; refusals get a session too, which
// sets EIVRGW_STATUS and releases the channel.
func (g *Gateway) admit(ctx, base context.Context, a *admission) {
	ev := a.ev
	ch := ev.Channel
	log := g.log.With("app", ev.Application, "channel", ch.ID)
	if ch.ID == "" {
		log.Error("StasisStart without a channel id; ignored", "args", ev.Args)
		return
	}
	parsed, perr := eivr.ParseStasisArgs(ev.Args)

	g.mu.Lock()
	st := g.apps[ev.Application]
	if st == nil {
		if g.admitting[ch.ID] == a {
			delete(g.admitting, ch.ID)
		}
		g.mu.Unlock()
		log.Warn("StasisStart for an application that is not configured; ignored")
		return
	}
	g.mu.Unlock()
	// Parse and check without the lock (st is immutable: Reload replaces
	// it whole); the lock is taken again only for the limits and the maps.
	var refusal *outcome
	var why string
	spec := appSpec{}
	switch {
	case perr != nil:
		refusal = &outcome{action: endHangup, status: StatusBadArgs, cause: errors.Join(ErrBadArgs, perr)}
	default:
		spec = newAppSpec(parsed)
		var ok bool
		if ok, why = st.allow.allows(parsed); !ok {
			refusal = &outcome{action: endHangup, status: StatusDenied, cause: ErrDenied}
		}
	}
	sid := strconv.FormatUint(g.sSeq.Add(1), 10)
	log = log.With("session", sid)
	if perr == nil {
		log = log.With("target", parsed.Argv[0]) // the program or ivr:// URL
	}
	s := newSession(st.env, log, sid, ch, spec, g.cfg.EventQueue)
	s.appName = ev.Application
	maxSessions := st.cfg.MaxSessions

	g.mu.Lock()
	if g.admitting[ch.ID] == a {
		delete(g.admitting, ch.ID)
	}
	switch {
	case g.draining: // first, as for every call
		refusal = &outcome{action: endContinue, status: StatusDraining, cause: ErrDraining}
		s.app = appSpec{}
	case refusal == nil && maxSessions > 0 && g.live[ev.Application] >= maxSessions:
		refusal = &outcome{action: endContinue, status: StatusLimit, cause: ErrLimit}
	}
	s.refusal = refusal
	if refusal == nil {
		g.live[ev.Application]++
	}
	g.sessions[ch.ID] = s
	// The events that arrived meanwhile go first (the session is not
	// running yet; its queue holds EventQueue), then Deliver finds it.
	for _, e := range a.held {
		s.deliver(e)
	}
	if a.overflow {
		s.overflowed()
	}
	g.wg.Add(1)
	g.mu.Unlock()

	switch {
	case refusal == nil:
		for _, w := range parsed.Warnings {
			log.Warn("application string: " + w)
		}
	case errors.Is(refusal.cause, ErrDraining):
		log.Warn("draining: call sent back to the dialplan")
	case errors.Is(refusal.cause, ErrBadArgs):
		log.Error("bad application string; hanging up as ExternalIVR would", "args", ev.Args, "err", perr)
	case errors.Is(refusal.cause, ErrDenied):
		log.Error("application denied by the allow-list; hanging up", "why", why)
	case errors.Is(refusal.cause, ErrLimit):
		log.Warn("max_sessions reached: call sent back to the dialplan", "max_sessions", maxSessions)
	}
	go g.serve(ctx, base, s, refusal == nil)
}

// overflowed ends s as an overflow of its event queue does (OVERLOAD).
func (s *session) overflowed() {
	select {
	case s.overflow <- struct{}{}:
	default:
	}
}

// admittingNow reports whether ch has an admission queued (the caller
// holds g.mu): such a channel has a session on its way.
func (g *Gateway) admittingNow(ch string) bool { return g.admitting[ch] != nil }

// Resync reasons (LifecycleStats.Resyncs*).
const (
	resyncOverflow  = "overflow"  // the ARI client's queue dropped events
	resyncAdmission = "admission" // the admission queue was full
)

// EventsLost implements ari.LossHandler: the ARI client dropped n events
// because its queue was full (the pipeline lagged). They may be of any
// channel, so the apps are reconciled as after a reconnect, off this
// goroutine.
func (g *Gateway) EventsLost(n uint64) { g.requestResync(resyncOverflow, n) }

// requestResync reconciles every app of the current connection as
// Connected does after a reconnect (sessions whose channel left end,
// the others check their playback, calls whose StasisStart was lost are
// adopted), on a goroutine. Requests that arrive before that goroutine
// has started its GETs are covered by it.
func (g *Gateway) requestResync(reason string, n uint64) {
	switch reason {
	case resyncOverflow:
		g.stats.resyncOverflow.Add(1)
	default:
		g.stats.resyncAdmission.Add(1)
	}
	g.lostEvents.Add(n)
	if !g.resyncWanted.CompareAndSwap(false, true) {
		return
	}
	g.mu.Lock()
	apps, seq := g.connApps, max(g.connSeq, 2)
	g.mu.Unlock()
	accepted := g.onRun(func(ctx context.Context) {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.resyncWanted.Store(false)
			lost := g.lostEvents.Swap(0)
			g.log.Warn("ARI events lost: the event pipeline lagged; reconciling the apps as after a reconnect",
				"reason", reason, "events", lost, "apps", apps)
			var wg sync.WaitGroup
			for _, app := range apps {
				// seq > 1: sessions are judged by the GET, and a call whose
				// StasisStart was lost is adopted (outage 0).
				wg.Go(func() { g.reconcile(ctx, app, seq, 0) })
			}
			wg.Wait()
		}()
	})
	if !accepted {
		g.resyncWanted.Store(false)
	}
}
