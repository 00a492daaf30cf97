package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// ARI is the subset of *ari.Client the gateway uses.
type ARI interface {
	channelOps
	Ready() bool
	GetApplication(ctx context.Context, app string) (ari.Application, error)
	GetChannel(ctx context.Context, channelID string) (ari.Channel, error)
	Originate(ctx context.Context, p ari.OriginateParams) (ari.Channel, error)
	Sounds(ctx context.Context, lang string) ([]ari.Sound, error)
}

// Gateway serves ExternalIVR sessions for the channels entering its Stasis
// apps. See the package documentation.
type Gateway struct {
	cfg    Config
	client ARI
	log    *slog.Logger
	prefix string // playback id prefix, random per gateway
	pbSeq  atomic.Uint64
	sSeq   atomic.Uint64
	// earlyDropped counts DTMF digits dropped beyond MaxEarlyDTMF.
	earlyDropped atomic.Uint64
	sounds       *ariSounds   // GET /sounds cache shared by apps without sounds_dir
	shared       *SoundsIndex // Config.Sounds: sounds is its cache (not ours to close)

	mu       sync.Mutex
	apps     map[string]*appState
	live     map[string]int           // live sessions per app name
	pending  map[string]originateWait // click-to-calls by channel id
	sessions map[string]*session      // by channel id
	// Admission (admit.go): StasisStarts queued for the admission
	// goroutine, and the ones queued by channel id with their held events.
	admitQ    chan *admission
	admitting map[string]*admission
	// The current connection (for resyncs after lost events).
	connSeq      int
	connApps     []string
	resyncWanted atomic.Bool   // a resync goroutine is starting
	lostEvents   atomic.Uint64 // events lost since the last resync started
	draining     bool
	watches      map[string]*replacedWatch // replaced apps whose channels are polled
	// Lifecycle (lifecycle.go): how ended sessions left their channels,
	// channels another client owns, apps replaced since their last
	// subscription, and when the events socket was last lost.
	ended     *simplelru.LRU[string, endedChannel]
	foreign   *simplelru.LRU[string, struct{}]
	reclaimed map[string]bool
	lostAt    time.Time
	// Channels whose release failed, tried again by retryLoop (retry.go).
	retry     map[string]*retryEntry
	retryKick chan struct{} // cap 1
	idle      chan struct{} // closed and replaced when sessions becomes empty
	// work takes what a callback without a context of its own
	// (Connected, EventsLost, an ApplicationReplaced) starts: run's
	// workLoop runs it with run's context (onRun); workDone is closed when
	// that loop stops taking work.
	work     chan func(ctx context.Context)
	workDone chan struct{}
	wg       sync.WaitGroup // sessions and resyncs
	running  atomic.Bool

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
		cfg:       c,
		client:    client,
		log:       c.Logger,
		prefix:    hex.EncodeToString(p[:]),
		sessions:  make(map[string]*session),
		admitQ:    make(chan *admission, admitQueue),
		admitting: make(map[string]*admission),
		retry:     make(map[string]*retryEntry),
		retryKick: make(chan struct{}, 1),
		apps:      make(map[string]*appState),
		live:      make(map[string]int),
		pending:   make(map[string]originateWait),
		watches:   make(map[string]*replacedWatch),
		work:      make(chan func(context.Context), 16),
		workDone:  make(chan struct{}),
		idle:      make(chan struct{}),

		replacedPoll: replacedPoll,
	}
	g.ended, _ = simplelru.NewLRU[string, endedChannel](endedSize, nil)
	g.foreign, _ = simplelru.NewLRU[string, struct{}](endedSize, nil)
	g.reclaimed = make(map[string]bool)
	if c.Sounds != nil {
		g.sounds, g.shared = c.Sounds.a, c.Sounds
	} else {
		g.sounds = &ariSounds{lister: soundsAdapter{client}, ttl: c.SoundsTTL, now: c.Now, log: c.Logger,
			fetchTimeout: soundsFetchTimeout, failTTL: soundsFailTTL}
	}
	for _, a := range c.Apps {
		g.apps[a.Name] = &appState{cfg: a, allow: allows[a.Name], env: g.newEnv(a)}
	}
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
		maxPending:   g.cfg.PendingOps,
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

// run serves sessions fed by events (the Pipeline's event source and
// reorderer, which return when ctx ends) until ctx ends or events fails.
// Then it admits the StasisStarts still queued, ends the live sessions
// (EIVRGW_STATUS=SHUTDOWN, continue), waits for them (their end sequences
// are bounded) and returns events' error.
func (g *Gateway) run(ctx context.Context, events func(context.Context) error) error {
	if !g.running.CompareAndSwap(false, true) {
		return errors.New("gateway: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	if g.shared != nil {
		defer g.shared.lend(g.client)()
	}
	stopAdmit, stopWork := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { g.admitLoop(ctx, base, stopAdmit) })
	wg.Go(func() { g.workLoop(ctx, stopWork) })
	wg.Go(func() { g.retryLoop(ctx, stopWork) })
	err := events(ctx)
	// Nothing is delivered any more. The live sessions end now
	// (SHUTDOWN); their end sequences get ShutdownTimeout, then their
	// REST calls are cut short.
	cancel()
	t := time.AfterFunc(g.cfg.ShutdownTimeout, cancelBase)
	defer t.Stop()
	close(stopAdmit)
	close(stopWork)
	wg.Wait()
	g.wg.Wait()
	if g.shared == nil {
		g.sounds.close()
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
		n, idle := len(g.sessions)+len(g.admitting), g.idle
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

// ---- connection events (the Pipeline's ari.Handler: one dispatch goroutine) ----

// Connected is called after every (re)connect, in order with the events.
// After a reconnect events of the outage are lost: reconcile each app with
// GET /applications/{app} off the dispatch goroutine.
func (g *Gateway) Connected(info ari.ConnInfo) {
	g.log.Info("ARI connected", "seq", info.Seq, "apps", info.Apps)
	g.appsSubscribed(info.Apps)
	if info.Seq > 1 {
		g.stats.resyncReconnect.Add(1)
	}
	g.mu.Lock()
	g.connSeq, g.connApps = info.Seq, slices.Clone(info.Apps)
	var outage time.Duration
	if !g.lostAt.IsZero() {
		outage = time.Since(g.lostAt)
	}
	g.mu.Unlock()
	g.onRun(func(ctx context.Context) {
		for _, app := range info.Apps {
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				g.reconcile(ctx, app, info.Seq, outage)
			}()
		}
	})
}

// onRun hands f to run's workLoop, which calls it with run's context: the
// pipeline's callbacks carry no context of their own, so what they start
// (f must only start goroutines, counted in g.wg) starts there. Before run
// and once run stops taking work, f is dropped (false): nothing is started.
func (g *Gateway) onRun(f func(ctx context.Context)) bool {
	if !g.running.Load() {
		return false
	}
	select {
	case g.work <- f:
		return true
	case <-g.workDone:
		return false
	}
}

// workLoop runs the work of onRun until done is closed.
func (g *Gateway) workLoop(ctx context.Context, done <-chan struct{}) {
	defer close(g.workDone)
	for {
		select {
		case f := <-g.work:
			f(ctx)
		case <-done:
			return
		}
	}
}

// Disconnected is called when the events socket is lost.
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
	// Deliver enqueues under g.mu: nothing reaches s.events from now on.
	// Digits still queued came after the session's end (a hang-up or
	// StasisEnd delivered before them): the client never sees them.
	var late []string
	for len(s.events) > 0 {
		if ev := <-s.events; ev.Kind == ari.KindChannelDtmfReceived {
			late = append(late, ev.Digit)
		}
	}
	g.mu.Unlock()
	for _, d := range late {
		s.digitNotSent(d, "the session had ended")
	}
}
