package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
)

// Config is one load run.
type Config struct {
	TCP, Stdio int           // concurrent calls of each kind
	Speed      float64       // aritest media speed-up
	StartRate  float64       // calls started per second (0 = all at once)
	Rate       float64       // calls released per second after the barrier (0 = all at once)
	Script     string        // absolute path of load.sh
	Timeout    time.Duration // bound of each phase
	Stderr     io.Writer     // the gateway child's logs
	// Outbound: the fake dials the gateway, one WebSocket per call
	// (Asterisk's connection_type = per_call_config), instead of the
	// gateway holding one inbound socket.
	Outbound bool
	// Open (TCP only): no barrier; every call, started at Rate per second,
	// presses its digits as soon as its script is ready, so the offered
	// load is Rate calls/s (saturation mode). StartRate is ignored.
	Open bool
	// CPUProfile: the gateway child writes its CPU profile there ("" =
	// none).
	CPUProfile string
	// ARIQueue: the gateway's limits.ari_queue (0 = its default, 8192).
	ARIQueue int
}

// Report is what a run measured.
type Report struct {
	Calls, Failed int
	Failures      []string // the first few
	Duration      time.Duration
	CallsPerSec   float64

	DTMFToScript  Percentiles // TCP: ChannelDtmfReceived published -> line read by the script
	DTMFRoundTrip Percentiles // stdio: published -> the script's V reaches ARI
	CmdToARI      Percentiles // TCP, after the barrier: V or E written by the script -> REST request at ARI
	CmdToARIStart Percentiles // TCP, during start-up: V and S -> REST request

	Idle, Live, End gwStats // gateway before the calls, with every call live, after
	HeapPerSession  float64 // bytes
	StackPerSession float64
	GoroutinesPer   float64
	CPU             time.Duration // the gateway process
	LoadCPU         time.Duration // this process: the fake Asterisk and the clients
}

// Percentiles of a latency sample.
type Percentiles struct {
	N                   int
	P50, P99, P999, Max time.Duration
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return Percentiles{N: len(d), P50: at(.5), P99: at(.99), P999: at(.999), Max: d[len(d)-1]}
}

func (p Percentiles) String() string {
	if p.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("p50 %v  p99 %v  p999 %v  max %v  (n=%d)", p.P50, p.P99, p.P999, p.Max, p.N)
}

// call is one simulated call.
type call struct {
	id     string
	tcp    bool
	ready  chan struct{} // the script has played beep and waits for digits
	digits chan time.Time
	sSent  time.Time // TCP: when the script wrote S,beep and V (start-up)
	vSent  time.Time
	v2Sent time.Time // TCP: when it wrote V,LOAD_D1 and E (after the barrier)
	eSent  time.Time
	failed atomic.Pointer[string]
}

func (c *call) fail(format string, a ...any) {
	s := c.id + ": " + fmt.Sprintf(format, a...)
	c.failed.CompareAndSwap(nil, &s)
}

const digits = "159"

// Run runs one load test.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Speed == 0 {
		cfg.Speed = 50
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	var rep Report
	srv, err := aritest.NewServer(aritest.Options{Speed: cfg.Speed})
	if err != nil {
		return rep, err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rep, err
	}
	calls := &sync.Map{}
	var wg sync.WaitGroup
	conns := &connSet{m: map[net.Conn]struct{}{}}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.add(c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conns.remove(c)
				tcpScript(c, calls)
			}()
		}
	}()
	defer func() {
		ln.Close()
		conns.closeAll()
		wg.Wait()
	}()

	if cfg.Open && cfg.Stdio > 0 {
		return rep, errors.New("open mode runs TCP calls only")
	}
	ch, err := startChild(childConfig{
		URL: srv.URL(), Programs: []string{cfg.Script}, TCPHosts: []string{"127.0.0.1:*"}, Listen: cfg.Outbound,
		CPUProfile: cfg.CPUProfile, ARIQueue: cfg.ARIQueue,
	}, cfg.Stderr)
	if err != nil {
		return rep, err
	}
	defer ch.stop()
	if cfg.Outbound {
		if err := srv.AddOutbound(aritest.Outbound{URL: "ws://" + ch.addr + "/ari", Username: "asterisk", Password: "asterisk",
			PerCall: true, App: app}); err != nil {
			return rep, err
		}
	} else if err := waitFor(ctx, 10*time.Second, func() bool { return srv.AppConnected(app) }); err != nil {
		return rep, fmt.Errorf("gateway did not connect: %w", err)
	}
	if rep.Idle, err = ch.stats(); err != nil {
		return rep, err
	}
	loadCPU0 := selfCPU()

	all := make([]*call, 0, cfg.TCP+cfg.Stdio)
	for i := range cfg.TCP + cfg.Stdio {
		c := &call{id: fmt.Sprintf("load-%d", i), tcp: i < cfg.TCP, ready: make(chan struct{}), digits: make(chan time.Time, len(digits))}
		calls.Store(c.id, c)
		all = append(all, c)
	}
	rep.Calls = len(all)

	// Releasing a call: three digits, then E.
	pressed := make([][len(digits)]time.Time, len(all))
	var lat struct {
		sync.Mutex
		dtmf []time.Duration
	}
	release := func(c *call) {
		if c.failed.Load() != nil {
			return
		}
		i := slices.Index(all, c)
		for k, d := range digits {
			if err := srv.PressDTMF(c.id, d, 100*time.Millisecond); err != nil {
				c.fail("PressDTMF: %v", err)
				return
			}
			pressed[i][k] = time.Now()
			if !c.tcp {
				continue
			}
			select {
			case got := <-c.digits:
				lat.Lock()
				lat.dtmf = append(lat.dtmf, max(0, got.Sub(pressed[i][k])))
				lat.Unlock()
			case <-time.After(cfg.Timeout):
				c.fail("digit %d never reached the script", k+1)
				return
			}
		}
		wctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		end, err := srv.WaitEnd(wctx, c.id)
		switch {
		case err != nil:
			c.fail("did not end: %v", err)
		case !end.Continued:
			c.fail("ended %+v, want continued", end)
		case end.Vars["LOAD_IN"] != c.id:
			c.fail("LOAD_IN=%q", end.Vars["LOAD_IN"])
		case !c.tcp && (end.Vars["LOAD_GOK"] != "1" || end.Vars["LOAD_D1"]+end.Vars["LOAD_D2"]+end.Vars["LOAD_D3"] != digits):
			c.fail("variables %v", end.Vars)
		}
	}
	startCall := func(c *call) {
		args := []string{"ivr://" + ln.Addr().String() + "(" + c.id + ")"}
		if !c.tcp {
			args = []string{cfg.Script + "(" + c.id + ")"}
		}
		if _, err := srv.StartCall(app, args, aritest.CallOptions{ID: c.id}); err != nil {
			c.fail("StartCall: %v", err)
		}
	}
	start := time.Now()
	if cfg.Open {
		// Saturation: calls enter at cfg.Rate and run at once; the
		// gateway's memory is sampled when half of them were offered.
		var half sync.Once
		err = parallel(ctx, all, len(all), cfg.Rate, func(c *call) {
			startCall(c)
			if c.failed.Load() == nil {
				select {
				case <-c.ready:
				case <-time.After(cfg.Timeout):
					c.fail("never ready")
				case <-ctx.Done():
					return
				}
			}
			if slices.Index(all, c) >= len(all)/2 {
				half.Do(func() { rep.Live, _ = ch.stats() })
			}
			release(c)
		})
		if err != nil {
			return rep, err
		}
	} else {
		if err := closedLoop(ctx, cfg, all, srv, ch, &rep, startCall); err != nil {
			return rep, err
		}
		err = parallel(ctx, all, len(all), cfg.Rate, release)
		if err != nil {
			return rep, err
		}
	}
	rep.Duration = time.Since(start)
	rep.CallsPerSec = float64(len(all)) / rep.Duration.Seconds()
	if err := waitFor(ctx, cfg.Timeout, func() bool { s, err := ch.stats(); return err != nil || s.Sessions == 0 }); err != nil {
		return rep, fmt.Errorf("sessions left: %w", err)
	}
	if rep.End, err = ch.stats(); err != nil {
		return rep, err
	}

	// Latencies from aritest's request log.
	var cmd, cmdStart, rt []time.Duration
	index := map[string]int{}
	for i, c := range all {
		index[c.id] = i
	}
	for _, r := range srv.Requests() {
		parts := strings.Split(r.Path, "/") // "", "channels", id, op[, playback id]
		if len(parts) < 4 || parts[1] != "channels" || r.Method != "POST" {
			continue
		}
		i, ok := index[parts[2]]
		if !ok {
			continue
		}
		c := all[i]
		switch {
		case c.tcp && parts[3] == "play" && !c.sSent.IsZero():
			cmdStart = append(cmdStart, r.Time.Sub(c.sSent))
		case c.tcp && parts[3] == "variable" && r.Params["variable"] == "LOAD_IN" && !c.vSent.IsZero():
			cmdStart = append(cmdStart, r.Time.Sub(c.vSent))
		case c.tcp && parts[3] == "variable" && r.Params["variable"] == "LOAD_D1" && !c.v2Sent.IsZero():
			cmd = append(cmd, r.Time.Sub(c.v2Sent))
		case c.tcp && parts[3] == "continue" && !c.eSent.IsZero():
			cmd = append(cmd, r.Time.Sub(c.eSent))
		case !c.tcp && parts[3] == "variable" && strings.HasPrefix(r.Params["variable"], "LOAD_D"):
			k := int(r.Params["variable"][len("LOAD_D")] - '1')
			if k >= 0 && k < len(digits) && !pressed[i][k].IsZero() {
				rt = append(rt, max(0, r.Time.Sub(pressed[i][k])))
			}
		}
	}
	rep.DTMFToScript = percentiles(lat.dtmf)
	rep.DTMFRoundTrip = percentiles(rt)
	rep.CmdToARI = percentiles(cmd)
	rep.CmdToARIStart = percentiles(cmdStart)

	for _, c := range all {
		if f := c.failed.Load(); f != nil {
			rep.Failed++
			if len(rep.Failures) < 10 {
				rep.Failures = append(rep.Failures, *f)
			}
		}
	}
	if n := float64(len(all)); n > 0 {
		rep.HeapPerSession = (float64(rep.Live.HeapAlloc) - float64(rep.Idle.HeapAlloc)) / n
		rep.StackPerSession = (float64(rep.Live.StackInuse) - float64(rep.Idle.StackInuse)) / n
		rep.GoroutinesPer = float64(rep.Live.Goroutines-rep.Idle.Goroutines) / n
	}
	rep.CPU = rep.End.CPU - rep.Idle.CPU
	rep.LoadCPU = selfCPU() - loadCPU0
	if cfg.Open && rep.Live.Sessions > 0 {
		rep.HeapPerSession = (float64(rep.Live.HeapAlloc) - float64(rep.Idle.HeapAlloc)) / float64(rep.Live.Sessions)
		rep.StackPerSession = (float64(rep.Live.StackInuse) - float64(rep.Idle.StackInuse)) / float64(rep.Live.Sessions)
		rep.GoroutinesPer = float64(rep.Live.Goroutines-rep.Idle.Goroutines) / float64(rep.Live.Sessions)
	}
	return rep, nil
}

// closedLoop is phase 1 of a closed run: every call enters the app and
// reaches the barrier, then the gateway's memory is sampled.
func closedLoop(ctx context.Context, cfg Config, all []*call, srv *aritest.Server, ch *child, rep *Report, startCall func(*call)) error {
	err := parallel(ctx, all, 8, cfg.StartRate, startCall)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(cfg.Timeout)
	for _, c := range all {
		if c.failed.Load() != nil {
			continue
		}
		if c.tcp {
			select {
			case <-c.ready:
			case <-time.After(time.Until(deadline)):
				c.fail("never ready")
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if err := waitFor(ctx, time.Until(deadline), func() bool {
			v, _ := srv.Vars(c.id)
			return v["LOAD_READY"] == "1"
		}); err != nil {
			c.fail("never ready: %v", err)
		}
	}
	// Let the start-up goroutines (answer, first REST calls) finish: sample
	// until the goroutine count stops falling.
	if rep.Live, err = ch.stats(); err != nil {
		return err
	}
	for range 20 {
		time.Sleep(100 * time.Millisecond)
		s, err := ch.stats()
		if err != nil {
			return err
		}
		settled := s.Goroutines >= rep.Live.Goroutines
		rep.Live = s
		if settled {
			break
		}
	}

	return nil
}

// tcpScript is the legacy script of a TCP call, as an ivr:// server would
// run it for one connection.
func tcpScript(conn net.Conn, calls *sync.Map) {
	br := bufio.NewReader(conn)
	var c *call
	read := func(want string) (string, bool) {
		conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		l, err := br.ReadString('\n')
		if err != nil {
			if c != nil {
				c.fail("want %q: %v", want, err)
			}
			return "", false
		}
		l = strings.TrimSuffix(l, "\n")
		if !matches(l, want) {
			if c != nil {
				c.fail("got %q, want %q", l, want)
			}
			return l, false
		}
		return l, true
	}
	send := func(s string) bool {
		if _, err := io.WriteString(conn, s+"\n"); err != nil {
			if c != nil {
				c.fail("send %q: %v", s, err)
			}
			return false
		}
		return true
	}
	if !send("P,x") {
		return
	}
	l, ok := read("P,*,*")
	if !ok {
		return
	}
	id := l[strings.LastIndexByte(l, ',')+1:]
	v, ok := calls.Load(id)
	if !ok {
		return
	}
	c = v.(*call)
	c.vSent = time.Now()
	if !send("V,LOAD_IN="+id) || !send("G,LOAD_IN") {
		return
	}
	if _, ok := read("G,*,LOAD_IN=" + id); !ok {
		return
	}
	c.sSent = time.Now()
	if !send("S,beep") {
		return
	}
	if _, ok := read("F,*,beep"); !ok {
		return
	}
	close(c.ready)
	for i, d := range digits {
		if _, ok := read(string(d) + ",*"); !ok {
			return
		}
		c.digits <- time.Now()
		if i == 0 {
			c.v2Sent = time.Now()
			if !send("V,LOAD_D1=" + string(d)) {
				return
			}
		}
	}
	c.eSent = time.Now()
	if !send("E,done") {
		return
	}
	if _, ok := read("E,*"); !ok {
		return
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	if l, err := br.ReadString('\n'); err == nil || !errors.Is(err, io.EOF) && !isReset(err) {
		c.fail("after E: %q, %v", l, err)
	}
}

// matches compares an event line with a pattern whose second field (the
// timestamp) is "*"; a trailing "*" field matches anything.
func matches(line, pattern string) bool {
	lf := strings.SplitN(line, ",", 3)
	pf := strings.SplitN(pattern, ",", 3)
	if len(lf) != len(pf) || lf[0] != pf[0] {
		return false
	}
	return len(pf) < 3 || pf[2] == "*" || lf[2] == pf[2]
}

func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

// parallel runs f for every call on up to n goroutines, starting at most
// rate calls per second (0 = no limit).
func parallel(ctx context.Context, all []*call, n int, rate float64, f func(*call)) error {
	work := make(chan *call)
	var wg sync.WaitGroup
	for range min(n, len(all)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				f(c)
			}
		}()
	}
	start := time.Now()
	var err error
	for i, c := range all {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		select {
		case work <- c:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	return err
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	t := time.NewTimer(d)
	defer t.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-t.C:
			return errors.New("timed out")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

type connSet struct {
	mu sync.Mutex
	m  map[net.Conn]struct{}
}

func (s *connSet) add(c net.Conn) {
	s.mu.Lock()
	s.m[c] = struct{}{}
	s.mu.Unlock()
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.m, c)
	s.mu.Unlock()
	c.Close()
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.m {
		c.Close()
	}
}

// scriptPath finds testdata/load.sh next to this package's source or in
// the working directory.
func scriptPath() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	for _, p := range []string{filepath.Join(filepath.Dir(file), "testdata", "load.sh"), "testdata/load.sh", "test/load/testdata/load.sh"} {
		if _, err := os.Stat(p); err == nil {
			return filepath.Abs(p)
		}
	}
	return "", errors.New("testdata/load.sh not found")
}

// Print writes the report for humans.
func (r Report) Print(w io.Writer, cfg Config) {
	fmt.Fprintf(w, "calls        %d (%d TCP, %d stdio), failed %d\n", r.Calls, cfg.TCP, cfg.Stdio, r.Failed)
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  failure    %s\n", f)
	}
	fmt.Fprintf(w, "duration     %v  (%.0f calls/s; speed %gx, start rate %g/s, release rate %g/s)\n", r.Duration.Round(time.Millisecond), r.CallsPerSec, cfg.Speed, cfg.StartRate, cfg.Rate)
	fmt.Fprintf(w, "DTMF->script %v\n", r.DTMFToScript)
	fmt.Fprintf(w, "DTMF->V->ARI %v\n", r.DTMFRoundTrip)
	fmt.Fprintf(w, "cmd->ARI     %v\n", r.CmdToARI)
	fmt.Fprintf(w, "  at start   %v (during start-up)\n", r.CmdToARIStart)
	fmt.Fprintf(w, "per session  heap %.1f KiB + stacks %.1f KiB = %.1f KiB; %.2f goroutines\n",
		r.HeapPerSession/1024, r.StackPerSession/1024, (r.HeapPerSession+r.StackPerSession)/1024, r.GoroutinesPer)
	fmt.Fprintf(w, "gateway      %d goroutines live (%d idle), heap %.1f MiB live, RSS max %.1f MiB, CPU %v (%.0f%% of one core over the run)\n",
		r.Live.Goroutines, r.Idle.Goroutines, float64(r.Live.HeapAlloc)/(1<<20), float64(r.End.MaxRSSKiB)/1024,
		r.CPU.Round(time.Millisecond), 100*r.CPU.Seconds()/r.Duration.Seconds())
	fmt.Fprintf(w, "ARI stream   %d events, %d dropped, %d decode errors, %d reconnects\n",
		r.End.ARI.Events, r.End.ARI.Dropped, r.End.ARI.DecodeErrors, r.End.ARI.Reconnects)
}
