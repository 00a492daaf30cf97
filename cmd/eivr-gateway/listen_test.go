package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr/eivrtest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// rrProxy is a round-robin TCP load balancer: every accepted connection
// goes to the next live backend. kill severs a backend's connections and
// takes it out of the rotation, as a dead instance behind a balancer.
type rrProxy struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []string
	dead     []bool
	conns    [][]net.Conn
	next     int
	wg       sync.WaitGroup
}

func newRRProxy(t *testing.T, backends []string) *rrProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rrProxy{ln: ln, backends: backends, dead: make([]bool, len(backends)), conns: make([][]net.Conn, len(backends))}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

func (p *rrProxy) addr() string { return p.ln.Addr().String() }

func (p *rrProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		i := -1
		for range p.backends {
			j := p.next % len(p.backends)
			p.next++
			if !p.dead[j] {
				i = j
				break
			}
		}
		p.mu.Unlock()
		if i < 0 {
			c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.backends[i])
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.dead[i] {
			p.mu.Unlock()
			c.Close()
			b.Close()
			continue
		}
		p.conns[i] = append(p.conns[i], c, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, b)
		go p.pipe(b, c)
	}
}

func (p *rrProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *rrProxy) kill(i int) {
	p.mu.Lock()
	p.dead[i] = true
	cs := p.conns[i]
	p.conns[i] = nil
	p.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

func (p *rrProxy) close() {
	p.ln.Close()
	for i := range p.backends {
		p.kill(i)
	}
	p.wg.Wait()
}

// listenInstance is one gateway process in listener mode, in-process.
type listenInstance struct {
	s    *listenServer
	stop context.CancelFunc
	done chan error
}

func startListenInstance(t *testing.T, cfg config.Config, log *slog.Logger) *listenInstance {
	return startListenInstanceSig(t, cfg, log, nil)
}

func startListenInstanceSig(t *testing.T, cfg config.Config, log *slog.Logger, signals <-chan os.Signal) *listenInstance {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	s, err := newListenServer(cfg, log, reg, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	li := &listenInstance{s: s, stop: cancel, done: make(chan error, 1)}
	started := make(chan struct{})
	go func() {
		li.done <- s.run(ctx, reg, serveOptions{log: log, signals: signals, startedListen: func(*listenServer) { close(started) }})
	}()
	<-started
	t.Cleanup(li.shutdown)
	return li
}

func (li *listenInstance) shutdown() {
	li.stop()
	if err := <-li.done; err != nil {
		panic(err)
	}
	li.done <- nil
}

func listenTestConfig(scriptHost string, peers ...config.ListenAsterisk) config.Config {
	cfg := config.Default()
	cfg.Admin.Listen = ""
	cfg.ARI.URLs = nil
	cfg.Listen.Address = "127.0.0.1:0"
	cfg.Listen.Asterisks = peers
	cfg.Apps[0].TCPHosts = []string{scriptHost + ":*"}
	cfg.Limits.DrainTimeout = config.Dur(testwait.Long)
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("EIVR_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// scriptCall is one legacy script connection, identified by the CALLNO
// variable of its channel.
type scriptCall struct {
	c      *eivrtest.Client
	callNo int
}

// identify asks the channel's CALLNO (G) and returns it.
func identify(ctx context.Context, c *eivrtest.Client) (int, error) {
	if err := c.Command("G,CALLNO"); err != nil {
		return 0, err
	}
	line, err := c.ReadEvent(ctx)
	if err != nil {
		return 0, err
	}
	_, val, ok := strings.Cut(strings.TrimSpace(line), "CALLNO=")
	if !ok || !strings.HasPrefix(line, "G,") {
		return 0, fmt.Errorf("G reply %q", line)
	}
	return strconv.Atoi(val)
}

// TestListenerScaleOut: three gateway instances in listener mode behind a
// round-robin TCP balancer, two fake Asterisks opening one connection per
// call (one sending REST over the socket, one splitting it with HTTP).
// Every call is served exactly once by the same legacy script flow;
// killing one instance ends exactly its own calls (their scripts see EOF)
// while the other calls' scripts see nothing but their own replies and
// their calls go back to the dialplan as usual.
func TestListenerScaleOut(t *testing.T) {
	calls := 1000
	if testing.Short() {
		calls = 100
	}
	if n, err := strconv.Atoi(os.Getenv("EIVR_LISTEN_CALLS")); err == nil && n > 0 {
		calls = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*testwait.Long)
	defer cancel()
	scripts := eivrtest.NewServer(t)
	var asts []*aritest.Server
	for range 2 {
		// A fake Asterisk drops a socket it cannot write to within
		// WriteTimeout (100 ms, as Asterisk): this test is about which
		// instance serves what, not about a starved -race run of 1000
		// sockets, so it allows 2 s.
		a, err := aritest.NewServer(aritest.Options{Speed: 20, WriteTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		asts = append(asts, a)
	}
	peers := []config.ListenAsterisk{
		{Name: "pbx1", Username: "pbx1", Password: "pw1", REST: "socket"},
		{Name: "pbx2", Username: "pbx2", Password: "pw2", REST: "split", ARIURL: asts[1].URL()},
	}
	cfg := listenTestConfig(scripts.Host, peers...)
	cfg.ARI.Username, cfg.ARI.Password = "asterisk", "asterisk" // aritest's ARI user, for pbx2's HTTP route
	log := testLogger(t)
	var insts []*listenInstance
	var addrs []string
	for range 3 {
		li := startListenInstance(t, cfg, log)
		insts = append(insts, li)
		addrs = append(addrs, li.s.Addr())
	}
	proxy := newRRProxy(t, addrs)
	for i, a := range asts {
		if err := a.AddOutbound(aritest.Outbound{URL: "ws://" + proxy.addr() + "/ari", Username: peers[i].Username,
			Password: peers[i].Password, App: "eivr", PerCall: true}); err != nil {
			t.Fatal(err)
		}
	}

	// Start every call, alternating Asterisks; each script identifies its
	// call.
	type started struct {
		ast int
		id  string
	}
	chans := make([]started, calls)
	errc := make(chan error, calls)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	wg.Add(1)
	go func() { // while the scripts are accepted below
		defer wg.Done()
		for n := range calls {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ai := n % 2
				id, err := asts[ai].StartCall("eivr", []string{scripts.URL(), ""}, aritest.CallOptions{
					Vars: map[string]string{"CALLNO": strconv.Itoa(n)}})
				if err != nil {
					errc <- fmt.Errorf("call %d: %w", n, err)
					return
				}
				chans[n] = started{ai, id}
			}()
		}
	}()
	type ident struct {
		c   *eivrtest.Client
		n   int
		err error
	}
	idents := make(chan ident, calls)
	for range calls { // accept at once: the script server refuses a backlog of 64
		c, err := scripts.Accept(ctx)
		if err != nil {
			t.Fatalf("script connections: %v", err)
		}
		go func() {
			n, err := identify(ctx, c)
			idents <- ident{c, n, err}
		}()
	}
	byCall := make(map[int]*eivrtest.Client, calls)
	for range calls {
		id := <-idents
		if id.err != nil {
			t.Fatal(id.err)
		}
		if byCall[id.n] != nil {
			t.Fatalf("call %d served twice", id.n)
		}
		byCall[id.n] = id.c
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	// Every instance got calls; the sessions add up.
	total := 0
	for i, li := range insts {
		n := li.s.Sessions()
		if n == 0 {
			t.Fatalf("instance %d serves no call", i)
		}
		total += n
	}
	if total != calls {
		t.Fatalf("%d sessions over the instances, want %d", total, calls)
	}

	// Kill instance 0 (its sockets die, the process ends): exactly its
	// sessions' scripts see their connection close.
	victim := insts[0].s.Sessions()
	proxy.kill(0)
	insts[0].shutdown()
	type outcome struct {
		n    int
		dead bool
		err  error
	}
	out := make(chan outcome, calls)
	for n, c := range byCall {
		go func() {
			got, err := identify(ctx, c)
			switch {
			case errors.Is(err, io.EOF):
				out <- outcome{n: n, dead: true}
			case err != nil:
				out <- outcome{n: n, err: err}
			case got != n:
				out <- outcome{n: n, err: fmt.Errorf("call %d's script got call %d's reply", n, got)}
			default:
				// A survivor: E sends the call back to the dialplan.
				if err := c.Command("E,bye"); err != nil {
					out <- outcome{n: n, err: err}
					return
				}
				if line, err := c.ReadEvent(ctx); err != nil || !strings.HasPrefix(line, "E,") {
					out <- outcome{n: n, err: fmt.Errorf("E reply %q, %v", line, err)}
					return
				}
				out <- outcome{n: n, err: c.ExpectEOF(ctx)}
			}
		}()
	}
	dead := 0
	for range calls {
		o := <-out
		if o.err != nil {
			t.Fatalf("call %d: %v", o.n, o.err)
		}
		if !o.dead {
			end, err := asts[chans[o.n].ast].WaitEnd(ctx, chans[o.n].id)
			if err != nil || !end.Continued {
				t.Fatalf("call %d: end %+v, %v; want back in the dialplan", o.n, end, err)
			}
			continue
		}
		dead++
	}
	if dead != victim {
		t.Fatalf("%d scripts lost their call, want the killed instance's %d", dead, victim)
	}
	t.Logf("%d calls over 3 instances; killing one ended its %d calls, the %d others finished normally", calls, victim, calls-dead)
}

// TestListenerTranscripts: serve in listener mode records an app's call
// transcripts as inbound mode does (the recorder of serve), written when
// the call ends and closed when the gateway stops.
func TestListenerTranscripts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
	defer cancel()
	scripts := eivrtest.NewServer(t)
	a, err := aritest.NewServer(aritest.Options{Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cfg := listenTestConfig(scripts.Host, config.ListenAsterisk{Name: "pbx1", Username: "pbx1", Password: "pw1", REST: "socket"})
	dir := t.TempDir()
	cfg.Apps[0].Transcripts = dir
	sctx, stop := context.WithCancel(context.Background())
	started := make(chan *listenServer, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(sctx, cfg, serveOptions{log: testLogger(t), startedListen: func(s *listenServer) { started <- s }})
	}()
	var s *listenServer
	select {
	case s = <-started:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	if err := a.AddOutbound(aritest.Outbound{URL: "ws://" + s.Addr() + "/ari", Username: "pbx1", Password: "pw1",
		App: cfg.Apps[0].Name, PerCall: true}); err != nil {
		t.Fatal(err)
	}
	id, err := a.StartCall(cfg.Apps[0].Name, []string{scripts.URL(), ""}, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := scripts.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Command("E,bye"); err != nil {
		t.Fatal(err)
	}
	if line, err := c.ReadEvent(ctx); err != nil || !strings.HasPrefix(line, "E,") {
		t.Fatalf("E reply %q, %v", line, err)
	}
	if err := c.ExpectEOF(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WaitEnd(ctx, id); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) != 1 {
		t.Fatalf("transcripts in %s: %v %v, want one", dir, files, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "E,bye") {
		t.Fatalf("transcript %s lacks the script's E line:\n%s", files[0], b)
	}
}
