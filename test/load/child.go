package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// childEnv names the environment variable that turns this binary (the
// program or the test binary) into the gateway child; its value is the
// JSON of childConfig.
const childEnv = "EIVR_LOAD_GATEWAY"

const app = "eivr"

type childConfig struct {
	URL      string
	Programs []string
	TCPHosts []string
	// User and Password are the ARI credentials (default asterisk /
	// asterisk, aritest's); App is the ARI app (default "eivr").
	User, Password, App string
	// Listen: instead of dialling URL, accept Asterisk's outbound
	// WebSockets on 127.0.0.1 (an ari.Listener, one gateway per
	// connection, as eivr-gateway's listener mode builds them); URL is the
	// peer's HTTP route and User/Password its credentials. The child
	// answers "ready" with the listener's address.
	Listen bool
	// CPUProfile, when set, is the file the child writes its CPU profile
	// to (runtime/pprof), from start until stdin closes.
	CPUProfile string
	// CallTimeout is the gateway's call_timeout (0 = its default).
	CallTimeout time.Duration
	// ARIQueue is limits.ari_queue: the events buffered per ARI socket
	// (0 = ari's default).
	ARIQueue int
}

func (c *childConfig) defaults() {
	if c.User == "" {
		c.User, c.Password = "asterisk", "asterisk"
	}
	if c.App == "" {
		c.App = app
	}
}

// gwStats is what the child reports on "stats" (after a GC).
type gwStats struct {
	HeapAlloc  uint64 // live heap after GC
	StackInuse uint64
	Sys        uint64
	Goroutines int
	Sessions   int
	CPU        time.Duration // user+sys of the gateway process since start
	MaxRSSKiB  int64
	ARI        ari.Stats
}

// isChild reports whether this process was started as the gateway child.
func isChild() bool { return os.Getenv(childEnv) != "" }

// runChild runs the gateway until stdin closes, answering "stats" lines on
// stdout. Logs (warnings and worse) go to stderr.
func runChild() int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		return 2
	}
	cfg.defaults()
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load child:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "load child: cpu profile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gw gatewayStats
	var err error
	if cfg.Listen {
		gw, err = startListener(ctx, cfg, log)
	} else {
		gw, err = startInbound(ctx, cfg, log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "ready":
			for !gw.Ready() {
				time.Sleep(5 * time.Millisecond)
			}
			out.Encode(gw.Addr())
		case "stats":
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			out.Encode(gwStats{
				HeapAlloc: ms.HeapAlloc, StackInuse: ms.StackInuse, Sys: ms.Sys,
				Goroutines: runtime.NumGoroutine(), Sessions: gw.Sessions(),
				CPU:       time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
				MaxRSSKiB: ru.Maxrss, ARI: gw.ARIStats(),
			})
		}
	}
	cancel()
	if err := gw.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "load child: gateway:", err)
		return 1
	}
	return 0
}

// gatewayStats is the child's gateway, inbound or listening.
type gatewayStats interface {
	Ready() bool
	Addr() string // the listener's address ("" inbound)
	Sessions() int
	ARIStats() ari.Stats
	Wait() error // after the context given to start ended
}

func appConfig(cfg childConfig) gateway.AppConfig {
	return gateway.AppConfig{Name: cfg.App, Programs: cfg.Programs, TCPHosts: cfg.TCPHosts, Grace: time.Second}
}

// inbound is one ari.Client and one gateway.Gateway, as eivr-gateway run
// builds them.
type inbound struct {
	client *ari.Client
	gw     *gateway.Gateway
	done   chan error
}

func startInbound(ctx context.Context, cfg childConfig, log *slog.Logger) (*inbound, error) {
	client, err := ari.NewClient(ari.Config{
		URL: cfg.URL, Username: cfg.User, Password: cfg.Password, Apps: []string{cfg.App},
		Logger: log, QueueSize: cfg.ARIQueue, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(gateway.Config{Apps: []gateway.AppConfig{appConfig(cfg)}, Logger: log, CallTimeout: cfg.CallTimeout}, client)
	if err != nil {
		client.Close()
		return nil, err
	}
	g := &inbound{client: client, gw: gw, done: make(chan error, 1)}
	go func() { g.done <- gateway.NewPipeline(client, gw, reorder.Config{}).Run(ctx) }()
	return g, nil
}

func (g *inbound) Ready() bool         { return g.gw.Ready() }
func (g *inbound) Addr() string        { return "" }
func (g *inbound) Sessions() int       { return g.gw.Sessions() }
func (g *inbound) ARIStats() ari.Stats { return g.client.Stats() }
func (g *inbound) Wait() error {
	err := <-g.done
	g.client.Close()
	return err
}

// listening accepts outbound WebSockets: one gateway per connection, on
// the same pipeline as an inbound socket's (cmd/eivr-gateway/listen.go).
type listening struct {
	ctx context.Context
	log *slog.Logger
	app gateway.AppConfig
	l   *ari.Listener
	ln  net.Listener
	hs  *http.Server
	wg  sync.WaitGroup
	mu  sync.Mutex
	gws map[*gateway.Gateway]struct{}
}

func startListener(ctx context.Context, cfg childConfig, log *slog.Logger) (*listening, error) {
	g := &listening{ctx: ctx, log: log, app: appConfig(cfg), gws: map[*gateway.Gateway]struct{}{}}
	var err error
	g.l, err = ari.NewListener(ari.ListenerConfig{
		Peers: []ari.Peer{{Name: "asterisk", Username: cfg.User, Password: cfg.Password,
			HTTP: ari.Config{URL: cfg.URL, Username: cfg.User, Password: cfg.Password}}},
		Accept: g.accept, Logger: log, QueueSize: cfg.ARIQueue,
	})
	if err != nil {
		return nil, err
	}
	if g.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	g.hs = &http.Server{Handler: g.l, ReadHeaderTimeout: 10 * time.Second}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.hs.Serve(g.ln)
	}()
	return g, nil
}

func (g *listening) accept(c *ari.Conn) ari.Handler {
	src := gateway.NewConnSource(c.Client())
	gw, err := gateway.New(gateway.Config{Apps: []gateway.AppConfig{g.app}, Logger: g.log.With("conn", c.Seq())}, src)
	if err != nil {
		g.log.Error("listener: cannot serve the connection", "err", err)
		src.Abort(err)
		return nil
	}
	g.mu.Lock()
	g.gws[gw] = struct{}{}
	g.mu.Unlock()
	gctx, cancel := context.WithCancel(g.ctx)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			select {
			case <-src.Done():
				cancel()
			case <-gctx.Done():
			}
		}()
		gateway.NewPipeline(src, gw, reorder.Config{}).Run(gctx)
		cancel()
		<-done
		g.mu.Lock()
		delete(g.gws, gw)
		g.mu.Unlock()
	}()
	return src
}

func (g *listening) Ready() bool  { return true }
func (g *listening) Addr() string { return g.ln.Addr().String() }
func (g *listening) Sessions() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for gw := range g.gws {
		n += gw.Sessions()
	}
	return n
}
func (g *listening) ARIStats() ari.Stats {
	var st ari.Stats
	for _, p := range g.l.Stats().Peers {
		st.Events += uint64(p.Events)
		st.Dropped += uint64(p.Dropped)
		st.DecodeErrors += uint64(p.DecodeErrors)
		st.Connects += uint64(p.Accepted)
	}
	return st
}
func (g *listening) Wait() error {
	<-g.ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g.l.Close(sctx)
	g.hs.Shutdown(sctx)
	g.wg.Wait()
	return g.ctx.Err()
}

// child is the parent's handle on the gateway process.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
	mu  sync.Mutex
	// addr is the listener's address of a Listen child.
	addr string
}

func startChild(cfg childConfig, stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	js, _ := json.Marshal(cfg)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: in, out: json.NewDecoder(out)}
	if err := c.ask("ready", &c.addr); err != nil {
		c.stop()
		return nil, fmt.Errorf("gateway child: %w", err)
	}
	return c, nil
}

func (c *child) ask(q string, v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.in, q+"\n"); err != nil {
		return err
	}
	return c.out.Decode(v)
}

func (c *child) stats() (gwStats, error) {
	var s gwStats
	err := c.ask("stats", &s)
	return s, err
}

// stop closes the child's stdin (it drains and exits) and waits for it,
// killing it after 30 s.
func (c *child) stop() error {
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		return fmt.Errorf("gateway child did not exit: %w", <-done)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
