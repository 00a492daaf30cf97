package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/ivr"
	"github.com/eivr-gateway/eivr-gateway/internal/ivr/tcpivr"
)

// The demo: the gateway on the default configuration, pointed at an
// in-process simulated Asterisk (ari/aritest), serving the bundled legacy
// clients of internal/ivr (menu.pl, embedded in the binary and written to a
// private temporary directory, and the TCP menu, in process); scripted
// callers press digits and hang up. It runs serve(), the code of `run`,
// unchanged, and needs nothing from a clone of the repository.

func cmdDemo(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("demo", e, "[--speed N]")
	speed := fs.Float64("speed", 1, "simulated time runs N times faster (prompts, digits, think time)")
	logLevel := fs.String("log-level", "warn", "level of the gateway's own log lines on stderr (call lines go to the transcript)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *speed <= 0 || *speed > 1000 {
		return fmt.Errorf("%w: --speed %v: want 0 < N <= 1000", errUsage, *speed)
	}
	d, err := newDemo(e, *speed)
	if err != nil {
		return err
	}
	err = d.run(ctx, *logLevel)
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted")
	}
	return err
}

type demo struct {
	e       env
	speed   float64
	perl    bool // perl is installed
	color   bool
	tmp     string // private (0700) directory: the bundled scripts
	start   time.Time
	out     chan line
	printed chan struct{}

	sim *aritest.Server

	mu        sync.Mutex
	outClosed bool                 // out is closed: the transcript ended
	calls     map[string]*demoCall // by channel id
}

type demoCall struct {
	n      int
	title  string
	ch     string
	start  time.Time
	ended  chan struct{} // closed by the observer's SessionEnded
	report gateway.Report
	result string
	ok     bool
}

type line struct {
	call *demoCall
	at   time.Time
	who  string
	text string
}

func newDemo(e env, speed float64) (*demo, error) {
	_, perlErr := exec.LookPath("perl")
	return &demo{
		e: e, speed: speed, perl: perlErr == nil,
		color: isTerminal(e.stdout),
		calls: map[string]*demoCall{},
	}, nil
}

// scaled converts simulated time into real time.
func (d *demo) scaled(t time.Duration) time.Duration {
	return time.Duration(float64(t) / d.speed)
}

func (d *demo) run(ctx context.Context, logLevel string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var err error
	// The bundled scripts, written where only this user can read or run
	// them (MkdirTemp makes the directory 0700), removed at exit.
	d.tmp, err = os.MkdirTemp("", "eivr-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(d.tmp)
	if err := ivr.Install(d.tmp); err != nil {
		return err
	}

	level := new(slog.LevelVar)
	setLevel(level, logLevel)
	// The sessions' own log lines (they carry a session id) stay off
	// stderr: the observer tells the transcript about the sessions.
	base := newLogger(d.e.stderr, level, "auto")
	log := slog.New(sessionless{base.Handler()})

	d.sim, err = aritest.NewServer(aritest.Options{Speed: d.speed})
	if err != nil {
		return err
	}
	defer d.sim.Close()

	// The TCP menu server (ivr://), in process.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	tcpCtx, stopTCP := context.WithCancel(ctx)
	tcpDone := make(chan error, 1)
	go func() {
		tcpDone <- tcpivr.Serve(tcpCtx, ln)
	}()
	defer func() { stopTCP(); <-tcpDone }()

	// The default configuration, pointed at the simulator, allowing the
	// bundled scripts.
	cfg := config.Default()
	cfg.ARI.URLs = []string{d.sim.URL()}
	cfg.ARI.Password = "asterisk"
	cfg.Admin.Listen = "127.0.0.1:0"
	// Interrupted (Ctrl-C), the demo stops at once rather than draining.
	cfg.Limits.DrainTimeout = config.Dur(time.Second)
	cfg.Apps[0].Programs = []string{filepath.Join(d.tmp, "menu.pl")}
	cfg.Apps[0].TCPHosts = []string{ln.Addr().String()}
	if err := cfg.Validate(); err != nil {
		return configError(err)
	}

	d.start = time.Now()
	d.out = make(chan line, 256)
	d.printed = make(chan struct{})
	go d.printer()

	started := make(chan *server, 1)
	srvCtx, stopSrv := context.WithCancel(ctx)
	defer stopSrv()
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- serve(srvCtx, cfg, serveOptions{log: log, level: level, observer: (*demoObserver)(d), started: func(s *server) { started <- s }})
	}()
	var s *server
	select {
	case s = <-started:
	case err := <-serveErr:
		return err
	}
	d.header(cfg)
	calls, err := d.callers(ctx, ln.Addr().String())
	metricsText := d.scrape(s.AdminAddr())
	stopSrv()
	if serr := <-serveErr; err == nil {
		err = serr
	}
	d.mu.Lock()
	d.outClosed = true
	close(d.out)
	d.mu.Unlock()
	<-d.printed
	if err != nil {
		return err
	}
	return d.summary(calls, metricsText)
}

// header explains what runs.
func (d *demo) header(cfg config.Config) {
	fmt.Fprintf(d.e.stdout, "%s\n", d.paint("1", "eivr-gateway demo"))
	fmt.Fprintf(d.e.stdout, "  Asterisk   simulated in process (ari/aritest) at %s, speed %gx\n", cfg.ARI.URLs[0], d.speed)
	fmt.Fprintf(d.e.stdout, "  gateway    the default configuration (config.toml), Stasis app %q, the code of `eivr-gateway run`\n", cfg.Apps[0].Name)
	fmt.Fprintf(d.e.stdout, "  allowed    programs %q, ivr:// hosts %q\n", cfg.Apps[0].Programs, cfg.Apps[0].TCPHosts)
	fmt.Fprintf(d.e.stdout, "  transcript caller = what the caller does, gateway = what it asks Asterisk over ARI,\n")
	fmt.Fprintf(d.e.stdout, "             script ← = each ExternalIVR event line the legacy script reads, script → = each command it writes\n")
	if !d.perl {
		fmt.Fprintf(d.e.stdout, "  (perl is not installed: the calls into menu.pl are skipped)\n")
	}
}

// callers places the demo calls one after another, as callers would.
func (d *demo) callers(ctx context.Context, tcpAddr string) ([]*demoCall, error) {
	deadline := time.Now().Add(5 * time.Second)
	for !d.sim.AppConnected("eivr") {
		if time.Now().After(deadline) {
			return nil, errors.New("the gateway did not connect to the simulator")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	menu := filepath.Join(d.tmp, "menu.pl")
	var calls []*demoCall
	type scenario struct {
		title, data string
		perl        bool
		act         func(c *demoCall) error
		want        func(end aritest.End) (string, bool)
		cause       error // the session's Report.Cause (errors.Is)
	}
	continued := func(end aritest.End) (string, bool) {
		return "the dialplan continues after Stasis()", end.Continued
	}
	hungUp := func(end aritest.End) (string, bool) {
		return fmt.Sprintf("hung up (cause %d)", end.Cause), end.HungUp
	}
	scenarios := []scenario{
		{
			title: "the Perl menu over stdio: press 1 (set and read a variable), 5, then 2 (back to the dialplan)",
			data:  menu + "(hello-world)",
			perl:  true,
			act: func(c *demoCall) error {
				return d.press(ctx, c, []press{{"hello-world", "1", 800 * time.Millisecond}, {"beep", "5", 1200 * time.Millisecond}, {"digits/5", "2", 900 * time.Millisecond}})
			},
			want:  continued,
			cause: gateway.ErrClientExit,
		},
		{
			title: "the TCP menu (ivr://): press 4 during the greeting, then 3 (the script hangs up)",
			data:  fmt.Sprintf("ivr://%s(tt-monkeys)", tcpAddr),
			act: func(c *demoCall) error {
				return d.press(ctx, c, []press{{"tt-monkeys", "4", 1500 * time.Millisecond}, {"digits/4", "3", 1000 * time.Millisecond}})
			},
			want:  hungUp,
			cause: gateway.ErrClientHangup,
		},
		{
			title: "the Perl menu again: the caller hangs up during the greeting",
			data:  menu + "(vm-goodbye)",
			perl:  true,
			act: func(c *demoCall) error {
				if err := d.waitPlay(ctx, c, "vm-goodbye"); err != nil {
					return err
				}
				if err := d.think(ctx, 600*time.Millisecond); err != nil {
					return err
				}
				d.say(c, "caller", "hangs up")
				return d.sim.FarHangup(c.ch, 16)
			},
			want:  hungUp,
			cause: gateway.ErrHangup,
		},
		{
			title: "a program that is not on the allow-list: refused, hung up as a failed ExternalIVR()",
			data:  "/bin/sh(-c,echo pwned)",
			act:   func(c *demoCall) error { return nil },
			want:  hungUp,
			cause: gateway.ErrDenied,
		},
	}
	for i, sc := range scenarios {
		if sc.perl && !d.perl {
			continue
		}
		c := &demoCall{n: i + 1, title: sc.title, ended: make(chan struct{})}
		calls = append(calls, c)
		if err := d.placeCall(c, sc.data); err != nil {
			return calls, err
		}
		stopTail := d.tail(c)
		actErr := sc.act(c)
		wctx, cancel := context.WithTimeout(ctx, d.scaled(20*time.Second)+5*time.Second)
		end, err := d.sim.WaitEnd(wctx, c.ch)
		reported := false
		if err == nil {
			// The session's report comes once its end sequence is done.
			select {
			case <-c.ended:
				reported = true
			case <-wctx.Done():
			}
		}
		cancel()
		stopTail()
		if actErr != nil {
			return calls, fmt.Errorf("call %d: %w", c.n, actErr)
		}
		if err != nil {
			return calls, fmt.Errorf("call %d did not end: %w", c.n, err)
		}
		c.result, c.ok = sc.want(end)
		d.mu.Lock()
		r := c.report
		d.mu.Unlock()
		switch {
		case !c.ok:
			c.result = fmt.Sprintf("unexpected end %+v", end)
		case !reported:
			c.ok, c.result = false, "the gateway did not report the session's end"
		case !errors.Is(r.Cause, sc.cause):
			c.ok, c.result = false, fmt.Sprintf("%s, but the session ended with %v, want %v", c.result, r.Cause, sc.cause)
		}
		d.say(c, "result", c.result)
	}
	return calls, nil
}

// press is a caller's reaction: when the prompt starts playing, listen for
// a while, then press a digit.
type press struct {
	prompt string        // sound whose playback the caller waits for
	digit  string        // then pressed
	after  time.Duration // think time after the prompt started (simulated)
}

func (d *demo) press(ctx context.Context, c *demoCall, ps []press) error {
	for _, p := range ps {
		if err := d.waitPlay(ctx, c, p.prompt); err != nil {
			return err
		}
		if err := d.think(ctx, p.after); err != nil {
			return err
		}
		d.say(c, "caller", "presses "+p.digit)
		if err := d.sim.PressDTMF(c.ch, rune(p.digit[0]), 120*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// waitPlay waits until the gateway has asked to play sound on c's channel.
func (d *demo) waitPlay(ctx context.Context, c *demoCall, sound string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, r := range d.sim.Requests() {
			if r.Method == "POST" && strings.HasPrefix(r.Path, "/channels/"+c.ch+"/play") && r.Params["media"] == "sound:"+sound {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the caller never heard %s: %w", sound, ctx.Err())
		case <-tick.C:
		}
	}
}

func (d *demo) think(ctx context.Context, t time.Duration) error {
	timer := time.NewTimer(d.scaled(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// placeCall makes the call enter Stasis(eivr,<data>) the way the dialplan
// line would: Stasis() splits its data with Asterisk's argument splitter.
// The channel id is chosen here, so that the call is known before the
// gateway's first line about it.
func (d *demo) placeCall(c *demoCall, data string) error {
	line := "Stasis(eivr," + data + ")"
	f := eivr.SplitAppArgs("eivr,"+data, 1+128)
	c.start = time.Now()
	c.ch = fmt.Sprintf("%d.%d", d.start.Unix(), c.n)
	d.mu.Lock()
	d.calls[c.ch] = c
	d.mu.Unlock()
	d.sayAt(c, c.start.Add(-time.Nanosecond), "", fmt.Sprintf("\n%s\n  dialplan  exten => %d,1,%s", d.paint("1;36", fmt.Sprintf("── call %d: %s", c.n, c.title)), 100+c.n, line))
	if _, err := d.sim.StartCall("eivr", f[1:], aritest.CallOptions{ID: c.ch, Exten: fmt.Sprint(100 + c.n)}); err != nil {
		return err
	}
	d.say(c, "asterisk", "channel "+c.ch+" rings and enters Stasis(eivr)")
	return nil
}

// demoObserver is the gateway.Observer of the demo: the session lines of
// the transcript (start, both directions of the script's wire, playbacks,
// the end) and each call's Report for the summary.
type demoObserver demo

func (o *demoObserver) call(ch string) *demoCall {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[ch]
}

func (o *demoObserver) SessionStarted(s gateway.SessionInfo) {
	if c := o.call(s.Channel); c != nil {
		(*demo)(o).sayAt(c, s.Started, "session", fmt.Sprintf("session started argv=%q", s.Argv))
	}
}

// SessionLine: every line between a session and its script, both
// directions.
func (o *demoObserver) SessionLine(l gateway.WireLine) {
	c := o.call(l.Channel)
	if c == nil {
		return
	}
	arrow := "→ " // a command the script wrote
	if l.Sent {
		arrow = "← " // an event line it reads
	}
	(*demo)(o).sayAt(c, l.At, "script", arrow+l.Line)
}

// SessionPlayback shows how each file ended (its start is the gateway's
// play request).
func (o *demoObserver) SessionPlayback(p gateway.PlaybackNote) {
	c := o.call(p.Channel)
	if c == nil || p.Started {
		return
	}
	how := "played to its end"
	if p.Interrupted {
		how = "interrupted"
	}
	(*demo)(o).sayAt(c, p.At, "session", p.File+" "+how)
}

func (o *demoObserver) SessionEnded(r gateway.Report) {
	c := o.call(r.Channel)
	if c == nil {
		return
	}
	(*demo)(o).sayAt(c, r.Started.Add(r.Duration), "session", endText(r))
	o.mu.Lock()
	defer o.mu.Unlock()
	select {
	case <-c.ended:
	default:
		c.report = r
		close(c.ended)
	}
}

// endText describes a session's end for the transcript.
func endText(r gateway.Report) string {
	var text string
	switch {
	case errors.Is(r.Cause, gateway.ErrDenied):
		text = "application denied by the allow-list; hung up as a failed ExternalIVR()"
	case !r.Served:
		text = fmt.Sprintf("call refused: %v", r.Cause)
	default:
		text = fmt.Sprintf("session ended cause=%q", fmt.Sprint(r.Cause))
	}
	if r.Status != "" {
		text += " " + gateway.StatusVariable + "=" + r.Status
	}
	return text
}

// tail follows what the gateway asked Asterisk for this call; it stops
// when the returned func is called.
func (d *demo) tail(c *demoCall) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		seen := len(d.sim.Requests())
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			final := false
			select {
			case <-stop:
				final = true
			case <-tick.C:
			}
			reqs := d.sim.Requests()
			for _, r := range reqs[min(seen, len(reqs)):] {
				if text := describeRequest(r, c.ch); text != "" {
					d.sayAt(c, r.Time, "gateway", text)
				}
			}
			seen = len(reqs)
			if final {
				return
			}
		}
	}()
	return func() { close(stop); <-done }
}

// describeRequest turns one ARI request on channel ch into a transcript
// line ("" if it is not about ch or not worth showing).
func describeRequest(r aritest.Request, ch string) string {
	prefix := "/channels/" + ch
	if !strings.HasPrefix(r.Path, prefix) {
		return ""
	}
	sub := strings.TrimPrefix(r.Path, prefix)
	status := ""
	if r.Status >= 300 {
		status = fmt.Sprintf(" → %d", r.Status)
	}
	switch {
	case r.Method == "POST" && sub == "/answer":
		return "answer" + status
	case r.Method == "POST" && strings.HasPrefix(sub, "/play"):
		return "play " + r.Params["media"] + status
	case r.Method == "POST" && sub == "/variable":
		return fmt.Sprintf("set %s=%s%s", r.Params["variable"], r.Params["value"], status)
	case r.Method == "GET" && sub == "/variable":
		return "get " + r.Params["variable"] + status
	case r.Method == "POST" && sub == "/continue":
		return "continue in the dialplan" + status
	case r.Method == "DELETE" && sub == "":
		return "hang up" + status
	}
	return ""
}

// scrape reads a few of the gateway's metrics from its admin listener.
func (d *demo) scrape(addr string) string {
	if addr == "" {
		return ""
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var keep []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "eivr_sessions_started_total") || strings.HasPrefix(l, "eivr_sessions_ended_total") ||
			strings.HasPrefix(l, "eivr_ari_events_total") || strings.HasPrefix(l, "eivr_script_exits_total") {
			keep = append(keep, "  "+l)
		}
	}
	return strings.Join(keep, "\n")
}

func (d *demo) summary(calls []*demoCall, metricsText string) error {
	failed := 0
	fmt.Fprintf(d.e.stdout, "\n%s\n", d.paint("1", fmt.Sprintf("summary: %d calls in %.1fs", len(calls), time.Since(d.start).Seconds())))
	for _, c := range calls {
		mark := d.paint("32", "✓")
		if !c.ok {
			mark = d.paint("31", "✗")
			failed++
		}
		cause := ""
		if c.report.Cause != nil {
			cause = " — session: " + c.report.Cause.Error()
		}
		fmt.Fprintf(d.e.stdout, "  %s call %d: %s%s\n", mark, c.n, c.result, cause)
	}
	if metricsText != "" {
		fmt.Fprintf(d.e.stdout, "metrics (GET /metrics on the admin listener):\n%s\n", metricsText)
	}
	if failed > 0 {
		return fmt.Errorf("%d call(s) did not end as expected", failed)
	}
	return nil
}

func (d *demo) say(c *demoCall, who, text string) { d.sayAt(c, time.Now(), who, text) }

func (d *demo) sayAt(c *demoCall, at time.Time, who, text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.outClosed {
		return // a late line after the transcript ended
	}
	d.out <- line{call: c, at: at, who: who, text: text}
}

// printWindow is how long the printer holds a line so that lines from the
// different sources (caller, ARI requests, the script's wire) print in time
// order.
const printWindow = 40 * time.Millisecond

func (d *demo) printer() {
	defer close(d.printed)
	var held []line
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	flush := func(all bool) {
		sort.SliceStable(held, func(i, j int) bool { return held[i].at.Before(held[j].at) })
		n := 0
		for n < len(held) && (all || time.Since(held[n].at) >= printWindow) {
			d.print(held[n])
			n++
		}
		held = held[n:]
	}
	for {
		select {
		case l, ok := <-d.out:
			if !ok {
				flush(true)
				return
			}
			held = append(held, l)
		case <-tick.C:
			flush(false)
		}
	}
}

var whoColor = map[string]string{"caller": "33", "gateway": "34", "script": "35", "asterisk": "2", "session": "36", "result": "1;32"}

func (d *demo) print(l line) {
	if l.who == "" {
		fmt.Fprintln(d.e.stdout, l.text)
		return
	}
	// Simulated seconds since the call started, so every speed reads the same.
	sim := max(l.at.Sub(l.call.start), 0).Seconds() * d.speed
	fmt.Fprintf(d.e.stdout, "  %6.2fs  %s  %s\n", sim, d.paint(whoColor[l.who], fmt.Sprintf("%-8s", l.who)), l.text)
}

// paint colours s on a terminal only.
func (d *demo) paint(code, s string) string {
	if !d.color || code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// sessionless drops the log lines about a session (those with a "session"
// attribute) and passes the others on.
type sessionless struct{ slog.Handler }

func (h sessionless) Handle(ctx context.Context, r slog.Record) error {
	about := false
	r.Attrs(func(a slog.Attr) bool {
		about = a.Key == "session"
		return !about
	})
	if about {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h sessionless) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		if a.Key == "session" {
			return slog.DiscardHandler // a logger about one session
		}
	}
	return sessionless{h.Handler.WithAttrs(as)}
}

func (h sessionless) WithGroup(name string) slog.Handler {
	return sessionless{h.Handler.WithGroup(name)}
}
