package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/reorder"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// ARI is the subset of *ari.Client the gateway uses.
type ARI interface {
	channelOps
	Run(ctx context.Context, h ari.Handler) error
	Ready() bool
	GetApplication(ctx context.Context, app string) (ari.Application, error)
	GetChannel(ctx context.Context, channelID string) (ari.Channel, error)
	Originate(ctx context.Context, p ari.OriginateParams) (ari.Channel, error)
	Sounds(ctx context.Context, lang string) ([]ari.Sound, error)
}

// orderer puts the raw event stream in per-channel causal order and calls
// the gateway's deliver (a *reorder.Reorderer behind an adapter).
type orderer interface {
	Push(source int, ev *ari.Event)
	Run(ctx context.Context) error
}

// sessionKinds are the event kinds sessions (and click-to-call) act on.
func sessionKinds() []ari.Kind {
	return []ari.Kind{
		ari.KindStasisStart, ari.KindStasisEnd, ari.KindChannelStateChange,
		ari.KindChannelHangupRequest, ari.KindChannelDtmfReceived,
		ari.KindPlaybackStarted, ari.KindPlaybackFinished,
		ari.KindChannelDestroyed, ari.KindDial, // click-to-call outcomes
	}
}

// Gateway serves ExternalIVR sessions for the channels entering its Stasis
// apps. See the package documentation.
type Gateway struct {
	cfg    Config
	client ARI
	log    *slog.Logger
	order  orderer
	prefix string // playback id prefix, random per gateway
	pbSeq  atomic.Uint64
	sSeq   atomic.Uint64
	// earlyDropped counts DTMF digits dropped beyond MaxEarlyDTMF.
	earlyDropped atomic.Uint64
	sounds       soundChecker // GET /sounds cache shared by apps without sounds_dir

	mu       sync.Mutex
	apps     map[string]*appState
	live     map[string]int           // live sessions per app name
	pending  map[string]originateWait // click-to-calls by channel id
	sessions map[string]*session      // by channel id
	draining bool
	watches  map[string]*replacedWatch // replaced apps whose channels are polled
	// Lifecycle (lifecycle.go): how ended sessions left their channels,
	// channels another client owns, apps replaced since their last
	// subscription, and when the events socket was last lost.
	ended     *simplelru.LRU[string, endedChannel]
	foreign   *simplelru.LRU[string, struct{}]
	reclaimed map[string]bool
	lostAt    time.Time
	idle      chan struct{}   // closed and replaced when sessions becomes empty
	ctx       context.Context // Run's: sessions run under it (set once by Run)
	base      context.Context // outlives ctx: end sequences
	wg        sync.WaitGroup  // sessions and resyncs
	running   atomic.Bool

	replacedPoll time.Duration // hang-up polling of replaced apps (replaced.go)
	stats        lifeStats     // lifecycle counters (stats.go)
}

// appState is one app's configuration (replaced whole by Reload).
type appState struct {
	cfg   AppConfig
	allow allowList
	env   *sessionEnv
}

// New checks cfg and returns a Gateway using client for ARI.
func New(cfg Config, client ARI) (*Gateway, error) {
	if client == nil {
		return nil, errors.New("gateway: nil ARI client")
	}
	c := cfg.withDefaults()
	allows, err := validateApps(c.Apps)
	if err != nil {
		return nil, err
	}
	var p [4]byte
	_, _ = rand.Read(p[:])
	g := &Gateway{
		cfg:      c,
		client:   client,
		log:      c.Logger,
		prefix:   hex.EncodeToString(p[:]),
		sessions: make(map[string]*session),
		apps:     make(map[string]*appState),
		live:     make(map[string]int),
		pending:  make(map[string]originateWait),
		watches:  make(map[string]*replacedWatch),
		idle:     make(chan struct{}),

		replacedPoll: replacedPoll,
	}
	g.ended, _ = simplelru.NewLRU[string, endedChannel](endedSize, nil)
	g.foreign, _ = simplelru.NewLRU[string, struct{}](endedSize, nil)
	g.reclaimed = make(map[string]bool)
	g.sounds = &ariSounds{lister: soundsAdapter{client}, ttl: c.SoundsTTL, now: c.Now, log: c.Logger}
	for _, a := range c.Apps {
		g.apps[a.Name] = &appState{cfg: a, allow: allows[a.Name], env: g.newEnv(a)}
	}
	g.order = newOrderer(c, g)
	return g, nil
}

func (g *Gateway) newEnv(a AppConfig) *sessionEnv {
	var sounds soundChecker = g.sounds
	if a.SoundsDir != "" {
		sounds = diskSounds{dir: a.SoundsDir}
	}
	return &sessionEnv{
		ops:          g.client,
		sounds:       sounds,
		connect:      connector(a),
		now:          g.cfg.Now,
		newID:        g.newPlaybackID,
		idleSilence:  !g.cfg.NoIdleSilence,
		stopTimeout:  g.cfg.StopTimeout,
		flushTimeout: g.cfg.FlushTimeout,
		callTimeout:  g.cfg.CallTimeout,
		goneGrace:    200 * time.Millisecond,
		closeTimeout: a.Grace*2 + 3*time.Second,
		trace:        g.cfg.Trace,
		maxPending:   g.cfg.MaxPendingOps,
		stats:        &g.stats,
		obs:          g.cfg.Observer,
		earlyDropped: &g.earlyDropped,
	}
}

// EarlyDTMFDropped returns how many caller digits received before the
// answer were dropped because a session already held MaxEarlyDTMF.
func (g *Gateway) EarlyDTMFDropped() uint64 { return g.earlyDropped.Load() }

func (g *Gateway) newPlaybackID() string {
	return "eivr-" + g.prefix + "-" + strconv.FormatUint(g.pbSeq.Add(1), 10)
}

// connector starts a's programs or dials its servers (eivr transports).
func connector(a AppConfig) func(ctx context.Context, app appSpec, log *slog.Logger) (clientConn, commandSource, error) {
	return func(ctx context.Context, app appSpec, log *slog.Logger) (clientConn, commandSource, error) {
		var conn eivr.Conn
		var err error
		if app.tcp {
			conn, err = eivr.DialTCP(ctx, app.host, app.port, eivr.TCPConfig{
				ConnectTimeout: a.ConnectTimeout, QueueBytes: a.WriteBuffer, Logger: log,
			})
		} else {
			conn, err = eivr.StartProgram(ctx, app.argv, eivr.ProgramConfig{
				Dir: a.Dir, Env: a.Env, User: a.User, Grace: a.Grace, QueueBytes: a.WriteBuffer, Logger: log,
			})
		}
		if err != nil {
			return nil, nil, err
		}
		return conn, eivr.NewReader(conn.Commands(), eivr.ReaderLogger(log)), nil
	}
}

// soundsAdapter turns GET /sounds into an index id -> languages, and asks
// Asterisk for its data directory (GET /asterisk/variable ASTDATADIR, when
// the client can) so that absolute paths into the sounds directory can be
// checked too.
type soundsAdapter struct{ c ARI }

// globalVars is GET /asterisk/variable (satisfied by *ari.Client).
type globalVars interface {
	GetGlobalVariable(ctx context.Context, name string) (string, error)
}

func (a soundsAdapter) soundIndex(ctx context.Context) (soundTree, error) {
	list, err := a.c.Sounds(ctx, "")
	if err != nil {
		return soundTree{}, err
	}
	idx := make(map[string][]string, len(list))
	for _, s := range list {
		for _, f := range s.Formats {
			if !contains(idx[s.ID], f.Language) {
				idx[s.ID] = append(idx[s.ID], f.Language)
			}
		}
	}
	tree := soundTree{ids: idx}
	if g, ok := a.c.(globalVars); ok {
		// A failure only leaves absolute paths unchecked.
		if dir, err := g.GetGlobalVariable(ctx, "ASTDATADIR"); err == nil && strings.HasPrefix(dir, "/") {
			tree.root = path.Join(dir, "sounds")
		}
	}
	return tree, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Run connects to ARI and serves sessions until ctx ends. Then it ends the
// live sessions (EIVRGW_STATUS=SHUTDOWN, continue), waits for them (their
// end sequences are bounded) and returns.
func (g *Gateway) Run(ctx context.Context) error {
	if !g.running.CompareAndSwap(false, true) {
		return errors.New("gateway: Run called twice")
	}
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	g.mu.Lock()
	g.ctx, g.base = ctx, base
	g.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := g.order.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			g.log.Error("event ordering stopped", "err", err)
		}
	}()
	err := g.client.Run(ctx, g)
	// The live sessions end now (SHUTDOWN); their end sequences get
	// ShutdownTimeout, then their REST calls are cut short.
	t := time.AfterFunc(g.cfg.ShutdownTimeout, cancelBase)
	defer t.Stop()
	wg.Wait()
	g.wg.Wait()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	return err
}

// Ready reports whether new calls are served: ARI connected, not draining.
func (g *Gateway) Ready() bool {
	g.mu.Lock()
	d := g.draining
	g.mu.Unlock()
	return !d && g.client.Ready()
}

// StopTaking makes the gateway stop taking calls: from its return on, Ready
// is false and a new StasisStart goes straight back to the dialplan with
// EIVRGW_STATUS=DRAINING. Live sessions are untouched; Drain waits for them.
func (g *Gateway) StopTaking() {
	g.mu.Lock()
	g.draining = true
	g.mu.Unlock()
}

// Drain stops taking calls (as StopTaking) and waits until every live
// session has ended or ctx ends. Sessions are not cut short: cancel Run's
// ctx for that.
func (g *Gateway) Drain(ctx context.Context) error {
	for {
		g.mu.Lock()
		g.draining = true
		n, idle := len(g.sessions), g.idle
		g.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("drain: %d sessions still live: %w", n, ctx.Err())
		}
	}
}

// Reload replaces the apps' allow-lists and limits. Live sessions are
// untouched; apps no longer configured take no new calls.
func (g *Gateway) Reload(apps []AppConfig) error {
	allows, err := validateApps(apps)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	next := make(map[string]*appState, len(apps))
	for _, a := range apps {
		next[a.Name] = &appState{cfg: a, allow: allows[a.Name], env: g.newEnv(a)}
	}
	g.apps = next
	return nil
}

// Sessions returns the number of live sessions.
func (g *Gateway) Sessions() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// ---- ari.Handler (one dispatch goroutine) ----

// Connected implements ari.Handler. After a reconnect events of the outage
// are lost: reconcile each app with GET /applications/{app} off the
// dispatch goroutine.
func (g *Gateway) Connected(info ari.ConnInfo) {
	g.log.Info("ARI connected", "seq", info.Seq, "apps", info.Apps)
	g.appsSubscribed(info.Apps)
	g.mu.Lock()
	ctx := g.ctx
	var outage time.Duration
	if !g.lostAt.IsZero() {
		outage = time.Since(g.lostAt)
	}
	g.mu.Unlock()
	if ctx == nil {
		return
	}
	for _, app := range info.Apps {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.reconcile(ctx, app, info.Seq, outage)
		}()
	}
}

// Event implements ari.Handler. ApplicationReplaced starts the hang-up
// polling of that app's sessions (replaced.go) on its own goroutine.
func (g *Gateway) Event(ev *ari.Event) {
	if ev.Kind == ari.KindApplicationReplaced {
		g.appReplaced(ev.Application)
	}
	g.order.Push(0, ev)
}

// Disconnected implements ari.Handler.
func (g *Gateway) Disconnected(err error) {
	g.mu.Lock()
	g.lostAt = time.Now()
	g.mu.Unlock()
	g.log.Warn("ARI events socket lost; sessions carry on", "err", err)
}

// reconcile ends the sessions of app whose channels left the application
// while the socket was down (with the event the client would have got),
// resyncs the others' playbacks, then releases or adopts the channels in
// the app that have no session (lifecycle.go). seq is the connection's
// (1: the first since start), outage how long the socket was down.
func (g *Gateway) reconcile(ctx context.Context, app string, seq int, outage time.Duration) {
	defer g.log.Debug("reconciled the app's channels", "app", app, "seq", seq)
	// Only sessions that exist before the GET can be judged by its reply:
	// a call entering just after it is not in the list but is not gone.
	g.mu.Lock()
	before := make(map[*session]bool)
	for _, s := range g.sessions {
		if s.appName == app {
			before[s] = true
		}
	}
	g.mu.Unlock()
	actx, cancel := context.WithTimeout(ctx, g.cfg.CallTimeout)
	defer cancel()
	a, err := g.client.GetApplication(actx, app)
	if err != nil {
		g.log.Warn("reconcile after reconnect failed", "app", app, "err", err)
		return
	}
	if seq <= 1 {
		// First connection: no session predates it; a call whose
		// StasisStart is on its way must not be taken for gone.
		g.settleOrphans(ctx, app, a.ChannelIDs, seq, outage)
		return
	}
	present := make(map[string]bool, len(a.ChannelIDs))
	for _, id := range a.ChannelIDs {
		present[id] = true
	}
	g.mu.Lock()
	var gone, live []*session
	for id, s := range g.sessions {
		if s.appName != app || !before[s] {
			continue
		}
		if present[id] {
			live = append(live, s)
		} else {
			gone = append(gone, s)
		}
	}
	g.mu.Unlock()
	for _, s := range gone {
		g.log.Info("channel left during the ARI outage; ending its session", "app", app, "channel", s.ch, "session", s.id)
		s.deliver(&ari.Event{Kind: ari.KindStasisEnd, Type: "StasisEnd", Application: app, Channel: ari.Channel{ID: s.ch}})
	}
	for _, s := range live {
		s.deliver(&ari.Event{Kind: ari.KindOther, Type: resyncType, Application: app, Channel: ari.Channel{ID: s.ch}})
	}
	for _, s := range gone {
		if s.app.runDead { // item 12: d sessions ignore StasisEnd; a destroyed channel still ends them
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				g.checkDestroyed(ctx, s)
			}()
		}
	}
	g.settleOrphans(ctx, app, a.ChannelIDs, seq, outage)
}

// resyncType marks the synthetic event asking a session to check its
// outstanding playback after a reconnect.
const resyncType = "eivr-gateway:resync"

// route hands an event, in causal order for its channel, to the channel's
// session (or starts one on StasisStart). It never blocks.
func (g *Gateway) route(ch string, ev *ari.Event) {
	if ch == "" {
		ch = ev.Channel.ID
	}
	if ch == "" && strings.HasPrefix(ev.Playback.TargetURI, "channel:") {
		ch = strings.TrimPrefix(ev.Playback.TargetURI, "channel:")
	}
	g.mu.Lock()
	orig := len(g.pending) > 0
	g.mu.Unlock()
	if orig {
		g.originateEvent(ch, ev)
	}
	if ev.Kind == ari.KindStasisStart {
		g.stasisStart(ev)
		return
	}
	g.mu.Lock()
	s := g.sessions[ch]
	g.mu.Unlock()
	if s == nil {
		if g.log.Enabled(context.Background(), slog.LevelDebug) { // the args would allocate
			g.log.Debug("event for no session", "event", ev.Type, "channel", ch)
		}
		return
	}
	s.deliver(ev)
}

// stasisStart starts a session for a channel entering an app. The checks
// are cheap; everything slow runs on the session goroutine.
func (g *Gateway) stasisStart(ev *ari.Event) {
	ch := ev.Channel
	log := g.log.With("app", ev.Application, "channel", ch.ID)
	if ch.ID == "" {
		log.Error("StasisStart without a channel id; ignored", "args", ev.Args)
		return
	}
	parsed, perr := eivr.ParseStasisArgs(ev.Args)

	g.mu.Lock()
	if old := g.sessions[ch.ID]; old != nil && !old.released.Load() {
		g.mu.Unlock()
		old.deliver(ev) // a masquerade (replace_channel) or a duplicate: logged there
		return
	}
	st := g.apps[ev.Application]
	if st == nil || g.ctx == nil {
		g.mu.Unlock()
		log.Warn("StasisStart for an application that is not configured; ignored")
		return
	}
	// Decide under the lock (draining, live count); log after it.
	var refusal *outcome
	var why string
	spec := appSpec{}
	switch {
	case g.draining:
		refusal = &outcome{action: endContinue, status: StatusDraining, cause: ErrDraining}
	case perr != nil:
		refusal = &outcome{action: endHangup, status: StatusBadArgs, cause: errors.Join(ErrBadArgs, perr)}
	default:
		spec = newAppSpec(parsed)
		var ok bool
		if ok, why = st.allow.allows(parsed); !ok {
			refusal = &outcome{action: endHangup, status: StatusDenied, cause: ErrDenied}
		} else if st.cfg.MaxSessions > 0 && g.live[ev.Application] >= st.cfg.MaxSessions {
			refusal = &outcome{action: endContinue, status: StatusLimit, cause: ErrLimit}
		}
	}
	sid := strconv.FormatUint(g.sSeq.Add(1), 10)
	log = log.With("session", sid)
	if perr == nil {
		log = log.With("target", parsed.Argv[0]) // the program or ivr:// URL
	}
	s := newSession(st.env, log, sid, ch, spec, g.cfg.EventQueue)
	s.appName = ev.Application
	s.refusal = refusal
	if refusal == nil {
		g.live[ev.Application]++
	}
	g.sessions[ch.ID] = s
	g.wg.Add(1)
	ctx, base, maxSessions := g.ctx, g.base, st.cfg.MaxSessions
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

func newAppSpec(a eivr.App) appSpec {
	spec := appSpec{
		argv:         a.Argv,
		noAnswer:     a.Options.NoAnswer,
		ignoreHangup: a.Options.IgnoreHangup,
		runDead:      a.Options.RunDead,
		preply:       a.PReply(),
		tcp:          a.IsTCP(),
	}
	if spec.tcp {
		spec.host, spec.port, _ = a.HostPort()
	}
	return spec
}

// serve runs one session and removes it when it is done. It tells the
// Observer how the session ended once its end sequence is done.
func (g *Gateway) serve(ctx, base context.Context, s *session, counted bool) {
	defer g.wg.Done()
	s.started = time.Now()
	if counted {
		s.log.Info("session started", "argv", s.app.argv)
	}
	out := s.run(ctx, base)
	g.noteEnded(s, out)
	d := time.Since(s.started)
	cause := "?"
	if out.cause != nil {
		cause = out.cause.Error()
	}
	s.log.Info("session ended", "cause", cause, "status", out.status, "duration", d.Round(time.Millisecond))
	if o := s.env.obs; o != nil {
		o.SessionEnded(Report{
			App: s.appName, Channel: s.ch, Session: s.id, Served: s.served,
			Status: out.status, Cause: out.cause, Started: s.started, Duration: d,
		})
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if counted {
		g.live[s.appName]--
	}
	if g.sessions[s.ch] == s {
		delete(g.sessions, s.ch)
	}
	if len(g.sessions) == 0 {
		close(g.idle)
		g.idle = make(chan struct{})
	}
}

// ReorderStats returns the event-ordering counters (reorder.Stats): events
// reordered, held, dropped as duplicates or late.
func (g *Gateway) ReorderStats() reorder.Stats {
	if r, ok := g.order.(*reorder.Reorderer); ok {
		return r.Stats()
	}
	return reorder.Stats{}
}
