package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/cti"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/reorder"
	"github.com/prometheus/client_golang/prometheus"
)

// ctiFeed is the process's CTI stream: one hub, fed by the sessions (an
// Observer making EIVRSession events) and, when [cti] watches sources, per
// ARI URL by a client of its own on the CTI app (KeepRaw, subscriptions
// made after every Connected) through a reorderer of its own:
// ari.Client → reorder → cti.Hub. Nothing of it runs on the sessions'
// socket or read loop.
type ctiFeed struct {
	hub   *cti.Hub
	log   *slog.Logger
	conns []*ctiConn
}

// ctiConn is the CTI application on one Asterisk.
type ctiConn struct {
	url     string // as logged (no password)
	app     string
	sources []string
	client  *ari.Client
	ro      *reorder.Reorderer
	hub     *cti.Hub
	prune   bool // the only Asterisk: its GET /channels also prunes the snapshots
	log     *slog.Logger
	timeout time.Duration
}

// ctiKinds get cti.reorder_window in the CTI reorderer: every kind, the
// unmodelled ones (KindOther: bridge events...) too, which reorder keys by
// their "channel" like the others.
func ctiKinds() []ari.Kind {
	return []ari.Kind{
		ari.KindOther, ari.KindStasisStart, ari.KindStasisEnd, ari.KindChannelCreated, ari.KindChannelStateChange,
		ari.KindChannelDestroyed, ari.KindChannelHangupRequest, ari.KindChannelDtmfReceived, ari.KindChannelVarset,
		ari.KindChannelCallerId, ari.KindChannelConnectedLine, ari.KindChannelHold, ari.KindChannelUnhold,
		ari.KindChannelTalkingStarted, ari.KindChannelTalkingFinished, ari.KindPlaybackStarted,
		ari.KindPlaybackContinuing, ari.KindPlaybackFinished, ari.KindApplicationReplaced, ari.KindDial,
	}
}

// subscribeTimeout bounds one subscription call.
const subscribeTimeout = 5 * time.Second

func newCTIFeed(cfg config.Config, log *slog.Logger) (*ctiFeed, error) {
	log = log.With("cti", cfg.CTI.App)
	f := &ctiFeed{
		hub: cti.New(cti.Config{Window: cfg.CTI.Window.Duration, Ring: cfg.CTI.Ring, Queue: cfg.CTI.Queue, Logger: log}),
		log: log,
	}
	if !cfg.CTI.Watching() {
		return f, nil
	}
	windows := map[ari.Kind]time.Duration{}
	for _, k := range ctiKinds() {
		windows[k] = cfg.CTI.ReorderWindow.Duration
	}
	if cfg.Listen.Enabled() {
		// Listener mode: each Asterisk's persistent outbound socket of
		// the CTI app brings the client (listenConn).
		for _, a := range cfg.Listen.Asterisks {
			clog := log.With("asterisk", a.Name)
			f.conns = append(f.conns, &ctiConn{
				url: a.Name, app: cfg.CTI.App, sources: cfg.CTI.Sources(), log: clog,
				ro:      reorder.New(reorder.Config{Windows: windows, HoldLimit: cfg.Reorder.HoldLimit.Duration, Logger: clog}, f.hub),
				timeout: subscribeTimeout,
				hub:     f.hub,
				prune:   len(cfg.Listen.Asterisks) == 1,
			})
		}
		return f, nil
	}
	for _, url := range cfg.ARI.URLs {
		u := config.RedactURL(url)
		clog := log.With("ari", u)
		ac, err := ariConfig(cfg, url, clog)
		if err != nil {
			return nil, err
		}
		ac.Apps = []string{cfg.CTI.App}
		ac.SubscribeAll = false
		ac.KeepRaw = true
		client, err := ari.NewClient(ac)
		if err != nil {
			return nil, fmt.Errorf("CTI ARI %s: %w", u, err)
		}
		f.conns = append(f.conns, &ctiConn{
			url: u, app: cfg.CTI.App, sources: cfg.CTI.Sources(), client: client, log: clog,
			ro:      reorder.New(reorder.Config{Windows: windows, HoldLimit: cfg.Reorder.HoldLimit.Duration, Logger: clog}, f.hub),
			timeout: subscribeTimeout,
			hub:     f.hub,
			prune:   len(cfg.ARI.URLs) == 1,
		})
	}
	return f, nil
}

// run runs the hub and the CTI connections until ctx ends.
func (f *ctiFeed) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { f.hub.Run(ctx) })
	for _, c := range f.conns {
		wg.Go(func() { c.ro.Run(ctx) })
		wg.Go(func() {
			if c.client == nil {
				return // listener mode: Asterisk's persistent outbound socket of the CTI app (listenConn)
			}
			h := ctiHandler{c, func(info ari.ConnInfo) { _ = c.connected(ctx, c.client, info) }}
			if err := c.client.Run(ctx, h); err != nil && ctx.Err() == nil {
				c.log.Error("CTI events socket stopped", "err", err)
			}
		})
	}
	if len(f.conns) > 0 {
		f.log.Info("CTI stream watching", "sources", f.conns[0].sources, "asterisks", len(f.conns))
	}
	wg.Wait()
}

// close releases the CTI clients (after run returned).
func (f *ctiFeed) close() {
	for _, c := range f.conns {
		if c.client != nil {
			c.client.Close()
		}
	}
}

// watching reports whether the feed subscribes to Asterisk sources.
func (f *ctiFeed) watching() bool { return len(f.conns) > 0 }

// listenConn is the handler of one persistent outbound connection of the
// CTI app from Asterisk peer (listener mode): on its Connected the sources
// are subscribed and the snapshots seeded over that connection's client
// (REST per the peer's rest mode), as after an inbound CTI connect; its
// events go through that Asterisk's CTI reorderer into the hub. stop ends
// the subscription calls. Nil: no CTI connection for peer.
func (f *ctiFeed) listenConn(peer string, client *ari.Client, stop <-chan struct{}) ari.Handler {
	for _, c := range f.conns {
		if c.url == peer {
			return &ctiListenConn{ctiConn: c, client: client, stop: stop}
		}
	}
	return nil
}

// ctiListenConn is one outbound connection's ari.Handler (its dispatch
// goroutine). The subscriptions run on a goroutine of its own, so that the
// socket's events flow meanwhile, and are tried again while they fail for
// a passing cause: Asterisk dials its persistent sockets while it boots
// and answers REST with 503 "Asterisk not booted" then (22.10.1, measured),
// and it may not dial again for a long time. Disconnected joins it.
type ctiListenConn struct {
	*ctiConn
	client *ari.Client
	stop   <-chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ctiRetryDelay and ctiRetries bound the subscription retries of a
// listener-mode CTI connection (a minute).
const (
	ctiRetryDelay = 500 * time.Millisecond
	ctiRetries    = 120
)

func (h *ctiListenConn) Connected(info ari.ConnInfo) {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.wg.Go(func() { // the subscriptions end with the process
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	})
	h.wg.Go(func() {
		defer cancel()
		for attempt := 1; h.connected(ctx, h.client, info) && attempt < ctiRetries; attempt++ {
			t := time.NewTimer(ctiRetryDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			h.log.Info("CTI: subscribing again", "attempt", attempt+1)
		}
	})
}

func (h *ctiListenConn) Disconnected(err error) {
	if h.cancel != nil {
		h.cancel()
	}
	h.wg.Wait()
	h.log.Warn("CTI outbound socket lost; Asterisk redials it (reconnect_interval)", "err", err)
}

// handler serves GET /v1/events; token is read at each request.
func (f *ctiFeed) handler(token func() string) http.Handler {
	return &cti.Handler{Hub: f.hub, Token: token, Logger: f.log}
}

// ctiHandler is the ari.Handler of one run of a CTI connection: its
// Connected subscribes with that run's context.
type ctiHandler struct {
	*ctiConn
	onConnected func(ari.ConnInfo)
}

func (h ctiHandler) Connected(info ari.ConnInfo) { h.onConnected(info) }

// connected subscribes the sources again (Asterisk forgets an app's
// subscriptions with its socket), one at a time so that one that does not
// exist (yet) does not stop the others.
// It reports whether it is worth trying again: a subscription or the
// listing failed for a cause that passes (Asterisk still booting: 503, or
// the request did not get through).
func (c *ctiConn) connected(ctx context.Context, client *ari.Client, info ari.ConnInfo) (retry bool) {
	ok := 0
	for _, src := range c.sources {
		sctx, cancel := context.WithTimeout(ctx, c.timeout)
		_, err := client.Subscribe(sctx, c.app, src)
		cancel()
		var ae *ari.Error
		switch {
		case err == nil:
			ok++
		case errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity:
			c.log.Warn("CTI source does not exist (Local channels have no endpoints; a channel or bridge may not exist yet): tried again at the next reconnect", "source", src, "err", err)
		default:
			c.log.Error("CTI subscription failed", "source", src, "err", err)
			retry = retry || !errors.As(err, &ae) || ae.Status == http.StatusServiceUnavailable
		}
	}
	c.log.Info("CTI events socket connected", "connection", info.Seq, "subscribed", ok, "sources", len(c.sources))
	// The snapshots' live calls from Asterisk's own list: calls that began
	// before the gateway started or while the socket was down.
	asked := time.Now()
	sctx, cancel := context.WithTimeout(ctx, c.timeout)
	list, err := client.ListChannelsJSON(sctx)
	cancel()
	if err != nil {
		c.log.Warn("CTI: cannot list the channels for the snapshots; they hold what the stream tells from now on", "err", err)
		return true
	}
	added, removed, err := c.hub.Seed(list, asked, cti.Watches(c.sources), c.prune)
	if err != nil {
		c.log.Warn("CTI: GET /channels reply does not decode; snapshots not seeded", "err", err)
		return retry
	}
	c.log.Info("CTI snapshot seeded from GET /channels", "added", added, "removed", removed)
	return retry
}

// Event hands an event to the CTI reorderer (never blocks).
func (c *ctiConn) Event(ev *ari.Event) { c.ro.Push(0, ev) }

// Disconnected logs; the client reconnects by itself.
func (c *ctiConn) Disconnected(err error) {
	c.log.Warn("CTI events socket lost; reconnecting", "err", err)
}

// ctiObserver turns the sessions' Observer calls into EIVRSession events.
type ctiObserver struct{ hub *cti.Hub }

var _ gateway.Observer = ctiObserver{}

func (o ctiObserver) SessionStarted(v gateway.SessionInfo) {
	o.hub.Publish(cti.SessionEvent{
		Phase: cti.PhaseStarted, At: v.Started, App: v.App, Session: v.Session, Channel: v.Channel, ChannelName: v.ChannelName,
		CallerNumber: v.CallerNum, CallerName: v.CallerName, Target: v.Target, Argv: v.Argv, Options: v.Options,
	})
}

func (o ctiObserver) SessionLine(v gateway.WireLine) {
	o.hub.Publish(cti.SessionEvent{Phase: cti.PhaseLine, At: v.At, Session: v.Session, Channel: v.Channel, Sent: v.Sent, Line: v.Line})
}

func (o ctiObserver) SessionPlayback(v gateway.PlaybackNote) {
	o.hub.Publish(cti.SessionEvent{Phase: cti.PhasePlayback, At: v.At, Session: v.Session, Channel: v.Channel, File: v.File, Started: v.Started, Interrupted: v.Interrupted})
}

func (o ctiObserver) SessionEnded(v gateway.Report) {
	cause := ""
	if v.Cause != nil {
		cause = v.Cause.Error()
	}
	o.hub.Publish(cti.SessionEvent{
		Phase: cti.PhaseEnded, At: v.Started.Add(v.Duration), App: v.App, Session: v.Session, Channel: v.Channel,
		Served: v.Served, Status: v.Status, Cause: cause, Duration: v.Duration,
	})
}

// registerCTI exports the hub's counters.
func registerCTI(reg prometheus.Registerer, h *cti.Hub) error {
	counter := func(name, help string, f func(cti.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f(h.Stats())) })
	}
	var errs []error
	for _, c := range []prometheus.Collector{
		counter("eivr_cti_events_total", "Events sent on the CTI stream (ARI and EIVRSession).", func(s cti.Stats) uint64 { return s.Sent }),
		counter("eivr_cti_events_bad_total", "CTI events dropped: no raw frame or not a JSON object.", func(s cti.Stats) uint64 { return s.Bad }),
		counter("eivr_cti_events_overflow_total", "CTI events released before their merge window (too many waiting).", func(s cti.Stats) uint64 { return s.Overflow }),
		counter("eivr_cti_consumers_cut_off_total", "CTI consumers cut off for not reading fast enough.", func(s cti.Stats) uint64 { return s.CutOff }),
		counter("eivr_cti_resumes_total", "CTI consumers that resumed with Last-Event-ID without a gap.", func(s cti.Stats) uint64 { return s.Resumed }),
		counter("eivr_cti_gaps_total", "CTI consumers told of a gap (restart, evicted or unknown Last-Event-ID).", func(s cti.Stats) uint64 { return s.Gaps }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "eivr_cti_consumers", Help: "Connected CTI consumers."}, func() float64 { return float64(h.Stats().Subscribers) }),
	} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}
