package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/liveview"
	"github.com/eivr-gateway/eivr-gateway/reorder"
	"github.com/eivr-gateway/eivr-gateway/transcript"
	"github.com/prometheus/client_golang/prometheus"
)

func cmdRun(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("run", e, "[--config FILE] [flags]")
	var cf configFlags
	cf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	cfg, name, err := cf.load(fs, e.getenv)
	if err == nil {
		// What check reports as ✗ would fail every call: refuse to start.
		err = hostError(cfg)
	}
	if err != nil {
		return configError(err)
	}
	level := new(slog.LevelVar)
	log := newLogger(e.stderr, level, cfg.Log.Format)
	setLevel(level, cfg.Log.Level)
	if name == "" {
		log.Warn("no configuration file: running on the built-in defaults (config.toml in the repository documents them)")
	}
	reload := func() (config.Config, error) {
		if name == "" {
			return config.Config{}, errors.New("no configuration file to reload")
		}
		c, _, err := cf.load(fs, e.getenv)
		if err == nil {
			err = hostError(c)
		}
		return c, err
	}
	return serve(ctx, cfg, serveOptions{log: log, level: level, signals: e.signals, reload: reload})
}

// serveOptions are what differs between run and demo around the same
// serving code.
type serveOptions struct {
	log     *slog.Logger
	level   *slog.LevelVar // adjusted on reload; may be nil
	signals <-chan os.Signal
	reload  func() (config.Config, error) // SIGHUP
	// observer, if set, is told about every session of every gateway
	// besides the metrics (the demo's transcript).
	observer gateway.Observer
	// started, if set, is called once the gateways run and the admin
	// listener (if any) is bound: addr is its address ("" = none).
	started func(s *server)
	// startedListen is started for listener mode (listen.go).
	startedListen func(s *listenServer)
}

// server is one running gateway process: a gateway per ARI URL sharing the
// metrics and the admin listener.
type server struct {
	mu       sync.Mutex // guards cfg (reload)
	cfg      config.Config
	log      *slog.Logger
	clients  []*ari.Client
	gateways []*gateway.Gateway
	pipes    []*gateway.Pipeline // per gateway: its client → reorderer → gateway
	admin    *adminServer
	calls    *callService
	records  *transcript.Recorder // call transcripts
}

// config returns the running configuration.
func (s *server) config() config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// AdminAddr is the bound admin address, "" if disabled.
func (s *server) AdminAddr() string {
	if s.admin == nil {
		return ""
	}
	return s.admin.Addr()
}

// Sessions is the number of live sessions over all gateways.
func (s *server) Sessions() int {
	n := 0
	for _, g := range s.gateways {
		n += g.Sessions()
	}
	return n
}

func (s *server) ready() (bool, string) {
	for i, g := range s.gateways {
		if !g.Ready() {
			u := config.RedactURL(s.cfg.ARI.URLs[i])
			if r := s.clients[i].Replaced(); len(r) > 0 {
				return false, fmt.Sprintf("%s: app(s) %s taken over by another client", u, strings.Join(r, ", "))
			}
			return false, u + ": not connected or draining"
		}
	}
	return true, ""
}

// serve runs the gateways of cfg until ctx ends or SIGINT/SIGTERM arrives:
// then it drains (no new calls, live sessions finish up to
// limits.drain_timeout), ends what is left and returns nil. SIGHUP reloads
// apps and allow-lists without touching live calls.
func serve(ctx context.Context, cfg config.Config, opt serveOptions) error {
	if cfg.Listen.Enabled() {
		return serveListen(ctx, cfg, opt)
	}
	log := opt.log
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	s := &server{cfg: cfg, log: log}
	rec, stopRec, err := startTranscripts(cfg, log)
	if err != nil {
		return err
	}
	defer stopRec() // after the gateways (deferred later, run first)
	s.records = rec
	if err := registerTranscripts(reg, rec); err != nil {
		return err
	}
	feed, err := newCTIFeed(cfg, log)
	if err != nil {
		return err
	}
	defer feed.close()
	if err := registerCTI(reg, feed.hub); err != nil {
		return err
	}
	// The session lines reach the CTI stream, and so the live call view,
	// with the app's transcript redaction applied.
	ctiSessions := liveview.Redact(ctiObserver{feed.hub}, func(app string) transcript.Redaction {
		c := s.config() // the running [[app]] tables: a reload applies to new sessions
		a, _ := c.App(app)
		return redaction(a)
	})
	shown := make([]string, len(cfg.ARI.URLs)) // URLs as logged: never with a password
	for i, url := range cfg.ARI.URLs {
		shown[i] = config.RedactURL(url)
	}
	for i, url := range cfg.ARI.URLs {
		u := shown[i]
		ac, err := ariConfig(cfg, url, log.With("ari", u))
		if err != nil {
			return err
		}
		ac.OnREST = m.restObserver(u)
		client, err := ari.NewClient(ac)
		if err != nil {
			return fmt.Errorf("ARI %s: %w", u, err)
		}
		defer client.Close()
		if err := registerClient(reg, u, client); err != nil {
			return err
		}
		gc := gatewayConfig(cfg, log, gateway.Observers(m, rec, opt.observer, ctiSessions))
		g, err := gateway.New(gc, client)
		if err != nil {
			return fmt.Errorf("gateway for %s: %w", u, err)
		}
		// The event pipeline: client → reorderer → fan-out{gateway}.
		p := gateway.NewPipeline(client, g, reorderConfig(cfg))
		if err := registerReorder(reg, u, p.Reorderer()); err != nil {
			return err
		}
		if err := registerLifecycle(reg, u, g); err != nil {
			return err
		}
		s.clients = append(s.clients, client)
		s.gateways = append(s.gateways, g)
		s.pipes = append(s.pipes, p)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eivr_gateway_ready", Help: "1 when every ARI connection is up and the gateway takes calls.",
	}, func() float64 {
		if ok, _ := s.ready(); ok {
			return 1
		}
		return 0
	}))
	s.calls = newCallService(s)

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	var wg sync.WaitGroup
	runErr := make(chan error, len(s.gateways)+1)
	for i, p := range s.pipes {
		wg.Go(func() {
			if err := p.Run(runCtx); err != nil && runCtx.Err() == nil {
				runErr <- fmt.Errorf("gateway for %s: %w", shown[i], err)
			}
		})
	}
	defer wg.Wait()
	defer stopRun()
	wg.Go(func() { feed.run(runCtx) })

	if cfg.Admin.Listen != "" {
		a, err := newAdmin(cfg.Admin.Listen, reg, s.ready, s.calls, liveview.Handler(liveview.Options{}), cfg.Admin.Pprof, log)
		if err != nil {
			return err
		}
		s.admin = a
		a.mux.Handle("GET /v1/events", feed.handler(func() string { return s.config().Admin.Token }))
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
		log.Info("admin listener", "addr", a.Addr(), "pprof", cfg.Admin.Pprof, "calls", cfg.Admin.Token != "")
		if host, _, _ := net.SplitHostPort(a.Addr()); !net.ParseIP(host).IsLoopback() {
			log.Warn("the admin listener is not on a loopback address: /metrics, /readyz and /debug/pprof (if on) are open to the network", "addr", a.Addr())
		}
	}
	apps := make([]string, len(cfg.Apps))
	for i, a := range cfg.Apps {
		apps[i] = a.Name
	}
	log.Info("eivr-gateway running", "version", moduleVersion(), "ari", shown, "apps", apps)
	if opt.started != nil {
		opt.started(s)
	}

	return signalLoop(ctx, opt.signals, runErr, func() { s.reload(opt) }, func(why string) error {
		return s.drain(opt.signals, cfg.Limits.DrainTimeout.Duration, why)
	})
}

// drain stops taking calls, waits for live sessions up to timeout (a second
// SIGINT/SIGTERM cuts it short), and returns; serve's deferred calls then
// end what is left.
func (s *server) drain(signals <-chan os.Signal, timeout time.Duration, why string) error {
	// Not ready (and no new call) before anyone can read "draining" in the
	// log or signal again: /readyz answers 503 from here on.
	for _, g := range s.gateways {
		g.StopTaking()
	}
	s.log.Info("draining: new calls go back to the dialplan; waiting for live sessions", "why", why, "sessions", s.Sessions(), "timeout", timeout)
	drainSessions(s.log, signals, timeout, s.gateways, s.Sessions)
	return nil
}

// reload re-reads the configuration and applies the apps' allow-lists and
// limits to every gateway; live calls are untouched. Other changes need a
// restart and are reported.
func (s *server) reload(opt serveOptions) {
	if opt.reload == nil {
		return
	}
	cfg, err := opt.reload()
	if err != nil {
		s.log.Error("reload failed; keeping the running configuration", "err", strings.Join(problemLines(err), "; "))
		return
	}
	old := s.config()
	for _, a := range cfg.Apps {
		if _, ok := old.App(a.Name); !ok {
			s.log.Warn("new app needs a restart to be subscribed on the events socket", "app", a.Name)
		}
	}
	apps := appConfigs(cfg)
	for _, g := range s.gateways {
		if err := g.Reload(apps); err != nil {
			s.log.Error("reload failed", "err", err)
			return
		}
	}
	if err := s.records.Update(transcriptApps(cfg)); err != nil {
		s.log.Error("reload: transcripts keep the running configuration", "err", err)
	}
	if opt.level != nil {
		setLevel(opt.level, cfg.Log.Level)
	}
	// What reload does not apply.
	cmpOld, cmpNew := old, cfg
	cmpOld.Apps, cmpNew.Apps = nil, nil
	cmpOld.Log.Level, cmpNew.Log.Level = "", ""
	cmpOld.Originate, cmpNew.Originate = config.Originate{}, config.Originate{}
	if !reflect.DeepEqual(cmpOld, cmpNew) {
		s.log.Warn("reload: only [[app]], [originate] and log.level changes apply; restart for the others")
	}
	s.mu.Lock()
	s.cfg.Apps = cfg.Apps
	s.cfg.Originate = cfg.Originate
	s.cfg.Log.Level = cfg.Log.Level
	s.mu.Unlock()
	s.log.Info("reloaded", "apps", len(cfg.Apps), "sessions", s.Sessions())
}

func setLevel(v *slog.LevelVar, level string) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err == nil {
		v.Set(l)
	}
}

// appConfigs turns the [[app]] tables into the gateway's AppConfig.
func appConfigs(cfg config.Config) []gateway.AppConfig {
	out := make([]gateway.AppConfig, len(cfg.Apps))
	for i, a := range cfg.Apps {
		out[i] = gateway.AppConfig{
			Name:           a.Name,
			Programs:       slices.Clone(a.Programs),
			TCPHosts:       slices.Clone(a.TCPHosts),
			MaxSessions:    a.MaxSessions,
			Dir:            a.Dir,
			Env:            programEnv(a, os.Environ(), secrets(cfg)),
			User:           a.User,
			Grace:          a.Grace.Duration,
			SoundsDir:      a.SoundsDir,
			ConnectTimeout: a.ConnectTimeout.Duration,
			WriteBuffer:    a.WriteBuffer,
		}
	}
	return out
}

// secrets are the gateway's own secrets as configured (from the file or the
// environment): never handed to a program.
func secrets(cfg config.Config) []string {
	var out []string
	for _, a := range cfg.Listen.Asterisks {
		if a.Password != "" {
			out = append(out, a.Password)
		}
	}
	for _, s := range []string{cfg.ARI.Password, cfg.Admin.Token} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// programEnv is the environment of an app's programs: the gateway's own
// (environ, with inherit_env) or eivr's minimal one, plus the env entries.
// nil lets eivr build the minimal one itself. The gateway's secrets never
// reach a program: every variable config.SecretEnv names, and any variable
// whose value is one of secrets, is left out.
func programEnv(a config.App, environ []string, secrets []string) []string {
	if !a.InheritEnv && len(a.Env) == 0 {
		return nil
	}
	var env []string
	if a.InheritEnv {
		env = slices.Clone(environ)
	} else {
		env = eivr.MinimalEnv(a.User)
	}
	env = append(env, a.Env...)
	return slices.DeleteFunc(env, func(kv string) bool {
		k, v, _ := strings.Cut(kv, "=")
		return slices.Contains(config.SecretEnv, k) || slices.Contains(secrets, v)
	})
}

// reorderConfig turns the [reorder] table into the pipeline's
// reorder.Config (NewPipeline adds the kinds and the logger).
func reorderConfig(cfg config.Config) reorder.Config {
	windows := reorder.DefaultWindows()
	for k, w := range windows {
		if w > 0 {
			windows[k] = cfg.Reorder.Window.Duration
		}
	}
	return reorder.Config{
		Windows:    windows,
		HoldLimit:  cfg.Reorder.HoldLimit.Duration,
		QueueLimit: cfg.Reorder.QueueLimit,
	}
}

// gatewayConfig turns the configuration into a gateway.Config.
func gatewayConfig(cfg config.Config, log *slog.Logger, obs gateway.Observer) gateway.Config {
	return gateway.Config{
		Apps:            appConfigs(cfg),
		EventQueue:      cfg.Limits.EventQueue,
		PendingOps:      cfg.Limits.PendingOps,
		ShutdownTimeout: cfg.Limits.ShutdownTimeout.Duration,
		NoIdleSilence:   !cfg.Session.IdleSilence,
		StopTimeout:     cfg.Session.StopTimeout.Duration,
		FlushTimeout:    cfg.Session.FlushTimeout.Duration,
		CallTimeout:     cfg.Session.CallTimeout.Duration,
		SoundsTTL:       cfg.Session.SoundsTTL.Duration,
		Trace:           cfg.Log.Trace,
		Logger:          log,
		Observer:        obs,
	}
}
