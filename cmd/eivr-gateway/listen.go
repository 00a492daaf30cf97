package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/liveview"
	"github.com/eivr-gateway/eivr-gateway/transcript"
	"github.com/prometheus/client_golang/prometheus"
)

// listenServer is the gateway process in listener mode: Asterisk opens the
// ARI WebSockets (persistent or per call) and every accepted connection is
// served by a Gateway of its own on a gateway.ConnSource, through the same
// gateway.Pipeline as an inbound socket (events → reorderer → gateway), so
// sessions run the same gateway code, and a connection's sessions end with
// it.
type listenServer struct {
	log  *slog.Logger
	m    *metrics
	obs  gateway.Observer // every session's observers (metrics and serveOptions.observer)
	l    *ari.Listener
	hs   *http.Server
	ln   net.Listener
	cert *certStore // nil without TLS
	// feed is the CTI stream of every connection's sessions (EIVRSession
	// events), served at GET /v1/events and read by the live view.
	feed *ctiFeed
	// ctiApp is the CTI app when [cti] watches sources ("" otherwise):
	// its persistent connections feed the CTI stream, not a gateway.
	ctiApp string
	// admin is the admin listener (nil without one), set before
	// serveOptions.startedListen is called.
	admin *adminServer

	mu      sync.Mutex
	cfg     config.Config
	apps    []gateway.AppConfig
	gws     map[*gateway.Gateway]struct{}
	persist map[persistKey]*persistent // persistent connections' sources, across redials
	// sounds is each Asterisk's GET /sounds index, shared by its
	// connections' gateways (a per-call one would fetch it per call).
	sounds   map[string]*gateway.SoundsIndex
	draining bool
	// stop is made by run and closed when it returns: it ends every
	// connection's gateway (nil: not running yet). A channel, not a
	// context: contexts are passed, never kept (issue 14).
	stop chan struct{}
	wg   sync.WaitGroup // the connections' gateways
}

// certStore holds the TLS certificate, swapped on SIGHUP.
type certStore struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

func (c *certStore) load() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("listen.cert_file: %w", err)
	}
	c.cur.Store(&cert)
	return nil
}

func (c *certStore) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }

// listenPeers turns [[listen.asterisk]] into the listener's peers.
func listenPeers(cfg config.Config, log *slog.Logger, m *metrics) ([]ari.Peer, error) {
	var peers []ari.Peer
	for _, a := range cfg.Listen.Asterisks {
		mode, err := ari.ParseRESTMode(a.REST)
		if err != nil {
			return nil, fmt.Errorf("listen.asterisk %q: %w", a.Name, err)
		}
		p := ari.Peer{Name: a.Name, Username: a.Username, Password: a.Password, REST: mode}
		if a.ARIURL != "" {
			hc, err := ariConfig(cfg, a.ARIURL, log.With("asterisk", a.Name))
			if err != nil {
				return nil, err
			}
			p.HTTP = hc
		}
		if m != nil {
			p.HTTP.OnREST = m.restObserver(a.Name)
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// newListenServer builds the listener, binds its address and registers
// its metrics; ServeListen runs it.
func newListenServer(cfg config.Config, log *slog.Logger, reg *prometheus.Registry, m *metrics, obs gateway.Observer) (*listenServer, error) {
	s := &listenServer{log: log, m: m, cfg: cfg, apps: appConfigs(cfg), gws: map[*gateway.Gateway]struct{}{},
		persist: map[persistKey]*persistent{}}
	feed, err := newCTIFeed(cfg, log) // sessions only: [cti] sources are refused with [listen]
	if err != nil {
		return nil, err
	}
	if err := registerCTI(reg, feed.hub); err != nil {
		return nil, err
	}
	s.feed = feed
	if feed.watching() {
		s.ctiApp = cfg.CTI.App
	}
	// The session lines of every connection's gateway reach the CTI
	// stream, and so the live call view, with the app's transcript
	// redaction applied.
	ctiSessions := liveview.Redact(ctiObserver{feed.hub}, func(app string) transcript.Redaction {
		s.mu.Lock()
		c := s.cfg // the running [[app]] tables: a reload applies to new sessions
		s.mu.Unlock()
		a, _ := c.App(app)
		return redaction(a)
	})
	s.obs = gateway.Observers(obs, ctiSessions)
	peers, err := listenPeers(cfg, log, m)
	if err != nil {
		return nil, err
	}
	s.l, err = ari.NewListener(ari.ListenerConfig{
		Peers:           peers,
		Accept:          s.accept,
		Logger:          log,
		QueueSize:       cfg.Limits.ARIQueue,
		PingInterval:    cfg.ARI.PingInterval.Duration,
		RESTTimeout:     cfg.ARI.RESTTimeout.Duration,
		RESTLongTimeout: cfg.ARI.RESTLongTimeout.Duration,
	})
	if err != nil {
		return nil, err
	}
	if cfg.Listen.CertFile != "" {
		s.cert = &certStore{certFile: cfg.Listen.CertFile, keyFile: cfg.Listen.KeyFile}
		if err := s.cert.load(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen.Address)
	if err != nil {
		return nil, fmt.Errorf("listen.address: %w", err)
	}
	if s.cert != nil {
		ln = tls.NewListener(ln, &tls.Config{GetCertificate: s.cert.get, MinVersion: tls.VersionTLS12})
	}
	s.ln = ln
	mux := http.NewServeMux()
	mux.Handle(cfg.Listen.Path, s.l)
	s.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if err := registerListener(reg, s.l); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr is the bound listener address.
func (s *listenServer) Addr() string { return s.ln.Addr().String() }

// accept routes one accepted connection: its first event tells a
// per-call connection (app "<app>:<channel>": a Gateway of its own, ended
// with the socket) from a persistent one (a plain app name: the Gateway of
// that Asterisk's app, kept across redials, see gateway.PeerSource).
func (s *listenServer) accept(c *ari.Conn) ari.Handler {
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	if stop == nil || closed(stop) {
		return nil
	}
	return &connRouter{s: s, c: c}
}

// connRouter is the ari.Handler of one accepted connection until its first
// event with an application (Asterisk sends ApplicationRegistered first
// on a new per-call socket; a redialled persistent one first delivers the
// events of the outage, then ApplicationRegistered), then forwards to the
// handler it picked. All its methods run on the connection's dispatch
// goroutine.
type connRouter struct {
	s    *listenServer
	c    *ari.Conn
	info ari.ConnInfo
	h    ari.Handler // nil until routed
	dead bool        // routing failed: the connection is closed
}

func (r *connRouter) Connected(info ari.ConnInfo) { r.info = info }

func (r *connRouter) Event(ev *ari.Event) {
	if r.h == nil && !r.dead {
		if ev.Application == "" {
			r.s.log.Debug("listener: an event before the connection's app is known; dropped", "asterisk", r.c.Peer(), "conn", r.c.Seq(), "event", ev.Type)
			return
		}
		r.h = r.route(ev.Application)
		if r.h == nil {
			r.dead = true
			r.c.Close()
			return
		}
	}
	if r.h != nil {
		r.h.Event(ev)
	}
}

func (r *connRouter) Disconnected(err error) {
	if r.h != nil {
		r.h.Disconnected(err)
	}
}

// route returns the handler of the connection of app (nil: not served).
func (r *connRouter) route(app string) ari.Handler {
	base, _, perCall := ari.SplitPerCallApp(app)
	if base == r.s.ctiApp {
		if perCall {
			r.s.log.Error("listener: the CTI app's connection is per call; the CTI stream needs connection_type = persistent for it", "asterisk", r.c.Peer(), "app", app)
			return nil
		}
		r.s.mu.Lock()
		stop := r.s.stop
		r.s.mu.Unlock()
		h := r.s.feed.listenConn(r.c.Peer(), r.c.Client(), stop)
		if h != nil {
			h.Connected(r.info)
		}
		return h
	}
	if perCall {
		src := gateway.NewConnSource(r.c.Client())
		if r.s.startGateway(src, r.c.Peer(), src.Done(), r.s.log.With("asterisk", r.c.Peer(), "conn", r.c.Seq()), nil) == nil {
			return nil
		}
		src.Connected(r.info)
		return src
	}
	return r.s.attachPersistent(r.c, app)
}

// persistKey identifies a persistent connection across redials: the
// Asterisk (its credentials) and the app it registers.
type persistKey struct{ peer, app string }

// persistent is the source of a persistent connection and its gateway.
type persistent struct {
	src *gateway.PeerSource
	g   *gateway.Gateway
}

// attachPersistent attaches c to the source of its Asterisk's app, started
// on the first connection (or after the previous one's window expired).
func (s *listenServer) attachPersistent(c *ari.Conn, app string) ari.Handler {
	key := persistKey{c.Peer(), app}
	forget := func(p *persistent) {
		s.mu.Lock()
		if s.persist[key] == p {
			delete(s.persist, key)
		}
		s.mu.Unlock()
	}
	for range 2 { // a source that ends meanwhile is replaced once
		s.mu.Lock()
		p := s.persist[key]
		window := s.cfg.Listen.RedialWindow.Duration
		if p == nil {
			p = &persistent{src: gateway.NewPeerSource(window)}
			s.persist[key] = p
			s.mu.Unlock()
			// Its sessions outlive the socket: logged by Asterisk and app,
			// not by connection.
			g := s.startGateway(p.src, c.Peer(), p.src.Done(), s.log.With("asterisk", c.Peer(), "persistent", app), func() { forget(p) })
			if g == nil {
				forget(p)
				return nil
			}
			s.mu.Lock()
			p.g = g
			s.mu.Unlock()
		} else {
			s.mu.Unlock()
			s.log.Info("listener: persistent connection redialled; its calls go on", "asterisk", c.Peer(), "conn", c.Seq(), "app", app)
		}
		if h := p.src.Attach(c.Client(), app, c.Close); h != nil {
			return h
		}
		forget(p)
	}
	return nil
}

// config returns the running configuration.
func (s *listenServer) config() config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// originate is click-to-call in listener mode: the call is placed on a
// persistent connection of the app (the first [[listen.asterisk]] that has
// one up), whose gateway then gets its StasisStart. A per-call app has no
// socket before its call exists: nothing to originate on.
func (s *listenServer) originate(ctx context.Context, r gateway.OriginateRequest) (gateway.OriginateResult, error) {
	s.mu.Lock()
	var gws []*gateway.Gateway
	for _, a := range s.cfg.Listen.Asterisks {
		if p := s.persist[persistKey{a.Name, r.App}]; p != nil && p.g != nil {
			gws = append(gws, p.g)
		}
	}
	s.mu.Unlock()
	var g *gateway.Gateway
	for _, c := range gws {
		if c.Ready() {
			g = c
			break
		}
	}
	if g == nil {
		return gateway.OriginateResult{}, fmt.Errorf("%w: no persistent outbound connection of an Asterisk for this app is up (click-to-call in listener mode needs connection_type = persistent for the app)", errNoRoute)
	}
	return g.Originate(ctx, r)
}

// abortable is a Gateway's source as startGateway needs it.
type abortable interface {
	gateway.EventSource
	gateway.ARI
	Abort(err error)
}

// startGateway starts the Gateway and pipeline of src, running until done
// is closed (the source ended) or run returns; ended (optional) runs after
// the gateway ended. Nil: not started (not running, or no gateway).
func (s *listenServer) startGateway(src abortable, peer string, done <-chan struct{}, log *slog.Logger, ended func()) *gateway.Gateway {
	s.mu.Lock()
	stop := s.stop
	gc := gatewayConfig(s.cfg, log, s.obs)
	gc.Apps = s.apps
	if stop != nil && !closed(stop) { // run closes the indexes after stop, under mu
		if s.sounds == nil {
			s.sounds = make(map[string]*gateway.SoundsIndex)
		}
		if s.sounds[peer] == nil {
			s.sounds[peer] = gateway.NewSoundsIndex(gc.SoundsTTL, s.log.With("asterisk", peer))
		}
		gc.Sounds = s.sounds[peer]
	}
	s.mu.Unlock()
	if stop == nil || closed(stop) {
		src.Abort(errors.New("not running"))
		return nil
	}
	g, err := gateway.New(gc, src)
	if err != nil {
		log.Error("listener: cannot serve the connection", "err", err)
		src.Abort(err)
		return nil
	}
	// The same pipeline as an inbound socket's: the connection's events →
	// reorderer → this gateway.
	p := gateway.NewPipeline(src, g, reorderConfig(s.cfg))
	s.mu.Lock()
	if closed(stop) { // run returned meanwhile (it closes stop under mu)
		s.mu.Unlock()
		src.Abort(errors.New("not running"))
		return nil
	}
	s.gws[g] = struct{}{}
	if s.draining {
		g.StopTaking()
	}
	s.wg.Add(1)
	s.mu.Unlock()
	// The sessions end with the source: Run's context ends when the
	// source is done, or when run returns (stop).
	gctx, gcancel := context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-done:
			gcancel()
		case <-stop:
			gcancel()
		case <-gctx.Done():
		}
	}()
	go func() {
		defer s.wg.Done()
		defer gcancel()
		err := p.Run(gctx)
		log.Debug("listener: the connection's gateway ended", "err", err)
		s.mu.Lock()
		delete(s.gws, g)
		s.mu.Unlock()
		if ended != nil {
			ended()
		}
	}()
	return g
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// gateways returns the live connections' gateways.
func (s *listenServer) gateways() []*gateway.Gateway {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*gateway.Gateway, 0, len(s.gws))
	for g := range s.gws {
		out = append(out, g)
	}
	return out
}

// Sessions is the number of live sessions.
func (s *listenServer) Sessions() int {
	n := 0
	for _, g := range s.gateways() {
		n += g.Sessions()
	}
	return n
}

// ready is /readyz: accepting calls.
func (s *listenServer) ready() (bool, string) {
	s.mu.Lock()
	d := s.draining
	s.mu.Unlock()
	if d || !s.l.Accepting() {
		return false, "draining: new connections are refused"
	}
	return true, ""
}

// serveListen is serve for listener mode.
func serveListen(ctx context.Context, cfg config.Config, opt serveOptions) error {
	log := opt.log
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	// Transcripts as in serve: one recorder for every connection's
	// gateway, closed after them (s.run waits for every gateway).
	rec, stopRec, err := startTranscripts(cfg, log)
	if err != nil {
		return err
	}
	defer stopRec()
	if err := registerTranscripts(reg, rec); err != nil {
		return err
	}
	s, err := newListenServer(cfg, log, reg, m, gateway.Observers(m, rec, opt.observer))
	if err != nil {
		return err
	}
	return s.run(ctx, reg, opt)
}

func (s *listenServer) run(ctx context.Context, reg *prometheus.Registry, opt serveOptions) error {
	cfg := s.cfg
	log := s.log
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eivr_gateway_ready", Help: "1 when the gateway takes calls (listener mode: accepting connections).",
	}, func() float64 {
		if ok, _ := s.ready(); ok {
			return 1
		}
		return 0
	}))
	stop := make(chan struct{})
	s.mu.Lock()
	s.stop = stop
	s.mu.Unlock()
	runErr := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.hs.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			runErr <- fmt.Errorf("listener: %w", err)
		}
	})
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	wg.Go(func() { s.feed.run(feedCtx) })
	// Exit: the gateways end their live sessions (SHUTDOWN, back to the
	// dialplan over their still open sockets), then the sockets close,
	// then the CTI stream (after the sessions' last events).
	defer func() {
		s.mu.Lock()
		close(stop)
		s.mu.Unlock()
		s.wg.Wait()
		s.mu.Lock()
		sounds := s.sounds
		s.sounds = nil
		s.mu.Unlock()
		for _, x := range sounds { // after every gateway using them
			x.Close()
		}
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.l.Close(cctx)
		_ = s.hs.Shutdown(cctx)
		stopFeed()
		wg.Wait()
		s.feed.close()
	}()
	if cfg.Admin.Listen != "" {
		calls := &callService{s: s, originate: s.originate, inFlight: map[string]bool{}}
		a, err := newAdmin(cfg.Admin.Listen, reg, s.ready, calls, liveview.Handler(liveview.Options{}), cfg.Admin.Pprof, log)
		if err != nil {
			return err
		}
		a.mux.Handle("GET /v1/events", s.feed.handler(func() string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.cfg.Admin.Token
		}))
		wg.Go(func() {
			if err := a.Serve(); err != nil {
				runErr <- err
			}
		})
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			a.Shutdown(sctx)
		}()
		s.admin = a
		log.Info("admin listener", "addr", a.Addr(), "pprof", cfg.Admin.Pprof, "cti", cfg.Admin.Token != "")
	}
	names := make([]string, len(cfg.Listen.Asterisks))
	for i, a := range cfg.Listen.Asterisks {
		names[i] = a.Name
	}
	log.Info("eivr-gateway running in listener mode", "version", moduleVersion(), "listen", s.Addr(),
		"path", cfg.Listen.Path, "tls", s.cert != nil, "asterisks", names)
	if opt.startedListen != nil {
		opt.startedListen(s)
	}
	return signalLoop(ctx, opt.signals, runErr, func() { s.reload(opt) }, func(why string) error {
		return s.drain(opt.signals, cfg.Limits.DrainTimeout.Duration, why)
	})
}

// drain refuses new connections (503: a load balancer moves on; Asterisk's
// per-call connect fails and the channel goes on in the dialplan), sends
// new channels of open persistent connections back to the dialplan, and
// waits for the live sessions up to timeout (a second signal cuts it
// short).
func (s *listenServer) drain(signals <-chan os.Signal, timeout time.Duration, why string) error {
	s.l.Refuse()
	s.mu.Lock()
	s.draining = true
	for g := range s.gws {
		g.StopTaking()
	}
	s.mu.Unlock()
	s.log.Info("draining: new connections are refused; waiting for live sessions", "why", why, "sessions", s.Sessions(), "timeout", timeout)
	drainSessions(s.log, signals, timeout, s.gateways(), s.Sessions)
	return nil
}

// reload re-reads the TLS certificate and the apps (for live connections'
// gateways and the next ones); other changes need a restart.
func (s *listenServer) reload(opt serveOptions) {
	if s.cert != nil {
		if err := s.cert.load(); err != nil {
			s.log.Error("reload: keeping the old TLS certificate", "err", err)
		} else {
			s.log.Info("reload: TLS certificate re-read", "cert_file", s.cert.certFile)
		}
	}
	if opt.reload == nil {
		return
	}
	cfg, err := opt.reload()
	if err != nil {
		s.log.Error("reload failed; keeping the running configuration", "err", err)
		return
	}
	apps := appConfigs(cfg)
	for _, g := range s.gateways() {
		if err := g.Reload(apps); err != nil {
			s.log.Error("reload failed", "err", err)
			return
		}
	}
	s.mu.Lock()
	s.apps = apps
	s.cfg.Apps = cfg.Apps
	s.cfg.Originate = cfg.Originate
	s.mu.Unlock()
	if opt.level != nil {
		setLevel(opt.level, cfg.Log.Level)
	}
	s.log.Info("reloaded", "apps", len(cfg.Apps), "sessions", s.Sessions())
}

// registerListener exports the listener's counters per Asterisk.
func registerListener(reg prometheus.Registerer, l *ari.Listener) error {
	var errs []error
	errs = append(errs, reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "eivr_listener_unknown_total", Help: "Outbound WebSocket upgrades refused for missing or unknown credentials.",
	}, func() float64 { return float64(l.Stats().Unknown) })))
	for i, p := range l.Stats().Peers {
		labels := prometheus.Labels{"asterisk": p.Name}
		stat := func(f func(ari.PeerStats) int64) func() float64 {
			return func() float64 { return float64(f(l.Stats().Peers[i])) }
		}
		for _, c := range []struct {
			name, help string
			gauge      bool
			f          func(ari.PeerStats) int64
		}{
			{"eivr_listener_connections_total", "Outbound WebSockets accepted from this Asterisk.", false, func(s ari.PeerStats) int64 { return s.Accepted }},
			{"eivr_listener_connections_active", "Outbound WebSockets open now.", true, func(s ari.PeerStats) int64 { return s.Active }},
			{"eivr_listener_refused_total", "Upgrades refused while draining.", false, func(s ari.PeerStats) int64 { return s.Refused }},
			{"eivr_listener_events_total", "Events received on its connections.", false, func(s ari.PeerStats) int64 { return s.Events }},
			{"eivr_listener_events_dropped_total", "Events dropped on a full queue.", false, func(s ari.PeerStats) int64 { return s.Dropped }},
			{"eivr_listener_decode_errors_total", "Frames that did not decode.", false, func(s ari.PeerStats) int64 { return s.DecodeErrors }},
		} {
			var col prometheus.Collector
			if c.gauge {
				col = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: c.name, Help: c.help, ConstLabels: labels}, stat(c.f))
			} else {
				col = prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help, ConstLabels: labels}, stat(c.f))
			}
			errs = append(errs, reg.Register(col))
		}
	}
	return errors.Join(errs...)
}

// checkListen is `eivr-gateway check` for listener mode: the TLS pair
// loads, the address can be bound, and each Asterisk's HTTP route (if
// any) answers with the ARI credentials.
func checkListen(ctx context.Context, c *checker, cfg config.Config, timeout time.Duration) {
	l := cfg.Listen
	if l.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile); err != nil {
			c.fail("listen.cert_file: %v", err)
		} else {
			c.ok("listen.cert_file: %s and its key load (wss)", l.CertFile)
		}
	}
	if ln, err := net.Listen("tcp", l.Address); err != nil {
		c.fail("listen.address %s: %v (a gateway already running?)", l.Address, err)
	} else {
		ln.Close()
		c.ok("listen.address %s: free; websocket_client.conf uri = %s://HOST:PORT%s", l.Address, map[bool]string{false: "ws", true: "wss"}[l.CertFile != ""], l.Path)
	}
	for _, a := range l.Asterisks {
		mode, _ := ari.ParseRESTMode(a.REST)
		if a.ARIURL == "" {
			c.ok("asterisk %s: user %q; REST over the socket (%s): sound only with per-call connections (connection_type = per_call_config)", a.Name, a.Username, mode)
			continue
		}
		u := config.RedactURL(a.ARIURL)
		ac, err := ariConfig(cfg, a.ARIURL, slog.New(slog.DiscardHandler))
		if err == nil {
			var client *ari.Client
			if client, err = ari.NewClient(ac); err == nil {
				pctx, cancel := context.WithTimeout(ctx, timeout)
				var info ari.AsteriskInfo
				info, err = client.AsteriskInfo(pctx)
				cancel()
				client.Close()
				if err == nil {
					rest := mode.String()
					if mode == ari.RESTAuto {
						rest = "auto = split"
					}
					c.ok("asterisk %s: user %q; HTTP route %s: Asterisk %s, user %q accepted (rest %s)", a.Name, a.Username, u, info.System.Version, cfg.ARI.Username, rest)
					continue
				}
			}
		}
		c.fail("asterisk %s: HTTP route %s: %v", a.Name, u, err)
	}
}
