package asterisk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// side is where a scenario runs: native ExternalIVR(), the gateway on its
// inbound socket, or the gateway in listener mode on Asterisk's per-call
// outbound WebSocket (the same [gateway-test] context, app lanegwout).
type side int

const (
	native side = iota
	gateway
	outbound
	persistent // the listener-mode gateway on Asterisk's persistent connection (app lanegwpers)
)

func (s side) String() string { return [...]string{"native", "gateway", "outbound", "persistent"}[s] }

func (s side) context() string {
	return [...]string{"native-test", "gateway-test", "gateway-test", "gateway-test"}[s]
}

// app is the Stasis app of the gateway sides.
func (s side) app() string { return [...]string{"", gwApp, outApp, persApp}[s] }

// Bounds of the waits of a run: generous, since the lane runs on a busy
// 2-core machine; a scenario that works never comes near them.
const (
	awaitTimeout = 15 * time.Second
	endTimeout   = 30 * time.Second
	nudgeEvery   = 200 * time.Millisecond
)

// callEvents collects the ARI events of one run's channels (all named
// Local/<exten>@…), in arrival order.
type callEvents struct {
	mu     sync.Mutex
	events []event
	notify chan struct{} // closed and replaced on every add
}

func newCallEvents() *callEvents { return &callEvents{notify: make(chan struct{})} }

func (c *callEvents) add(e event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
}

// wait returns the first event at or after index from that satisfies
// match, and its index.
func (c *callEvents) wait(ctx context.Context, from int, match func(event) bool) (event, int, error) {
	for {
		c.mu.Lock()
		for i := from; i < len(c.events); i++ {
			if match(c.events[i]) {
				e := c.events[i]
				c.mu.Unlock()
				return e, i, nil
			}
		}
		from = len(c.events)
		n := c.notify
		c.mu.Unlock()
		select {
		case <-n:
		case <-ctx.Done():
			return event{}, 0, ctx.Err()
		}
	}
}

func (c *callEvents) snapshot() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// client is the legacy client's end: the bytes the script read, line by
// line, and a way to write commands.
type client struct {
	conn    net.Conn
	mu      sync.Mutex
	buf     []byte
	lines   [][]byte
	times   []time.Time // when each line was read
	eof     bool
	notify  chan struct{}
	readers sync.WaitGroup
}

func newClient(c net.Conn) *client {
	cl := &client{conn: c, notify: make(chan struct{})}
	cl.readers.Add(1)
	go cl.read()
	return cl
}

func (c *client) read() {
	defer c.readers.Done()
	b := make([]byte, 4096)
	for {
		n, err := c.conn.Read(b)
		now := time.Now()
		c.mu.Lock()
		c.buf = append(c.buf, b[:n]...)
		for {
			i := bytes.IndexByte(c.buf[c.consumed():], '\n')
			if i < 0 {
				break
			}
			start := c.consumed()
			c.lines = append(c.lines, c.buf[start:start+i+1])
			c.times = append(c.times, now)
		}
		if err != nil {
			c.eof = true
		}
		close(c.notify)
		c.notify = make(chan struct{})
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// consumed is the length of the complete lines in buf (mu held).
func (c *client) consumed() int {
	n := 0
	for _, l := range c.lines {
		n += len(l)
	}
	return n
}

func (c *client) lineTime(i int) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.times[i]
}

func (c *client) transcript() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.buf)
}

// waitLine waits for the first line at or after index from whose tag (first
// byte) is tag, or for EOF when tag is 0. nudge, if set, is called every
// nudgeEvery while waiting.
func (c *client) waitLine(ctx context.Context, from int, tag byte, nudge func()) (int, error) {
	tick := time.NewTicker(nudgeEvery)
	defer tick.Stop()
	for {
		c.mu.Lock()
		for i := from; i < len(c.lines) && tag != 0; i++ {
			if c.lines[i][0] == tag {
				c.mu.Unlock()
				return i, nil
			}
		}
		eof, n := c.eof, c.notify
		c.mu.Unlock()
		if eof {
			if tag == 0 {
				return 0, nil
			}
			return 0, fmt.Errorf("EOF before a %q line", tag)
		}
		select {
		case <-n:
		case <-tick.C:
			if nudge != nil && tag != 0 {
				nudge()
			}
		case <-ctx.Done():
			if tag == 0 {
				return 0, fmt.Errorf("no EOF: %w", ctx.Err())
			}
			return 0, fmt.Errorf("no %q line: %w", tag, ctx.Err())
		}
	}
}

func (c *client) close() {
	c.conn.Close()
	c.readers.Wait()
}

// result is what one side of a scenario produced.
type result struct {
	Transcript []byte            // what the script read, timestamps masked
	Continued  bool              // the dialplan went on after Stasis()/ExternalIVR()
	HangupH    string            // HANGUPCAUSE printed by the h extension
	Cause      int               // ChannelDestroyed cause of the IVR channel
	Vars       map[string]string // the variables the script set with V (last ChannelVarset)
	Abort      string            // the step that could not complete, if any
	DTMFLat    []time.Duration   // per awaited digit: ChannelDtmfReceived on the far end's POST → line read
	channelID  string
}

// run is one side of a scenario in progress.
type run struct {
	l      *Lane
	t      testing.TB
	sc     *scenario
	side   side
	exten  string
	far    string // the channel we hang up and send DTMF from (;1 of the originate)
	ev     *callEvents
	cl     *client
	cursor int
	nudge  bool
	dtmfAt time.Time
	res    result
}

// ivrName reports whether a channel name is this run's IVR channel.
func (r *run) ivrName(name string) bool {
	m := extenOf.FindStringSubmatch(name)
	return m != nil && m[1] == r.exten && m[2] == r.side.context() && m[3] == "2"
}

func (r *run) ivr(e event) bool { return e.Channel != nil && r.ivrName(e.Channel.Name) }

// runSide runs sc on one side with the listener ln (shared by both sides,
// so that P replies naming its address are the same).
func runSide(t testing.TB, l *Lane, sc *scenario, s side, ln net.Listener) result {
	r := &run{l: l, t: t, sc: sc, side: s, exten: strconv.FormatInt(l.exten.Add(1), 10), ev: newCallEvents(), nudge: !sc.noNudge}
	l.mu.Lock()
	l.runs[r.exten] = r.ev
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.runs, r.exten)
		l.mu.Unlock()
	}()
	r.far = "lane-" + r.exten + "-1"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.originate(ctx, ln.Addr().String()); err != nil {
		t.Fatalf("%s: originate: %v", s, err)
	}
	if sc.noClient {
		r.end(ctx)
		return r.res
	}
	conns := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(conns)
			return
		}
		conns <- c
	}()
	var err error
	select {
	case c, ok := <-conns:
		if ok {
			r.cl = newClient(c)
		}
	case <-time.After(awaitTimeout):
		err = errors.New("the client was never started")
	}
	if r.cl == nil {
		ln.(*net.TCPListener).SetDeadline(time.Now()) // release the Accept
		for c := range conns {
			c.Close()
		}
		ln.(*net.TCPListener).SetDeadline(time.Time{})
	}
	if err == nil && r.cl != nil {
		for i, st := range sc.steps {
			if err = st.do(ctx, r); err != nil {
				err = fmt.Errorf("step %d (%s): %w", i+1, st, err)
				break
			}
		}
	}
	if err != nil {
		r.res.Abort = err.Error()
	}
	// The end: the script sees EOF (or we close it, as a script that gives
	// up), and the IVR channel is destroyed.
	if r.cl != nil && r.res.Abort != "" {
		r.cl.conn.Close() // a script that gives up: the session ends now
	}
	if r.cl != nil {
		ectx, ecancel := context.WithTimeout(ctx, endTimeout)
		if _, err := r.cl.waitLine(ectx, 0, 0, nil); err != nil && r.res.Abort == "" {
			r.res.Abort = "end: " + err.Error()
		}
		ecancel()
		r.cl.close()
		r.res.Transcript = MaskTimestamps(r.cl.transcript())
	}
	r.end(ctx)
	return r.res
}

// end waits for the IVR channel's end and reads the outcome.
func (r *run) end(ctx context.Context) {
	dctx, dcancel := context.WithTimeout(ctx, endTimeout)
	defer dcancel()
	if _, _, err := r.ev.wait(dctx, 0, func(e event) bool { return e.Type == "ChannelDestroyed" && r.ivr(e) }); err != nil {
		// Never leave a call behind.
		r.l.rest(context.Background(), "DELETE", "/channels/"+r.far, nil, nil)
		r.t.Errorf("%s: the IVR channel of exten %s was not destroyed within %v", r.side, r.exten, endTimeout)
	}
	r.outcome()
}

func (r *run) originate(ctx context.Context, addr string) error {
	target := fmt.Sprintf("%s(%s,%s%s)", r.l.relay, relayArg, addr, r.sc.args)
	if r.sc.tcp {
		target = fmt.Sprintf("ivr://%s(%s)", addr, strings.TrimPrefix(r.sc.args, ","))
	}
	vars := map[string]string{"__GW_APP": r.side.app(), "__GW_TARGET": target, "__GW_OPTS": r.sc.opts}
	ctxName := r.side.context()
	endpointCtx := ctxName
	if r.sc.early != "" {
		vars["__GW_CTX"], vars["__GW_EARLY_DTMF"], vars["__GW_PROGRESS"] = ctxName, r.sc.early, "1"
		endpointCtx = "caller-test"
	}
	for k, v := range r.sc.vars {
		vars[k] = v
	}
	q := url.Values{
		"endpoint": {"Local/" + r.exten + "@" + endpointCtx + "/n"}, "app": {helperApp},
		"channelId": {r.far}, "otherChannelId": {"lane-" + r.exten + "-2"}, "timeout": {"60"},
	}
	_, err := r.l.rest(ctx, "POST", "/channels", q, map[string]any{"variables": vars})
	return err
}

// outcome reads the dialplan's fate of the IVR channel from its events.
func (r *run) outcome() {
	r.res.Vars = map[string]string{}
	for _, e := range r.ev.snapshot() {
		if !r.ivr(e) {
			continue
		}
		r.res.channelID = e.Channel.ID
		switch e.Type {
		case "ChannelDialplan":
			if e.App != "Verbose" {
				continue
			}
			if strings.HasPrefix(e.AppData, "0,AFTER ") {
				r.res.Continued = true
			}
			if v, ok := strings.CutPrefix(e.AppData, "0,H h HANGUPCAUSE="); ok {
				r.res.HangupH = v
			}
		case "ChannelVarset":
			if slices.Contains(r.sc.setVars, e.Variable) {
				r.res.Vars[e.Variable] = e.Value
			}
		case "ChannelDestroyed":
			r.res.Cause = e.Cause
		}
	}
}

// send writes one command line (one write).
func (r *run) write(b []byte) {
	r.cl.conn.SetWriteDeadline(time.Now().Add(awaitTimeout))
	r.cl.conn.Write(b) // a closed session is seen by the next wait
}

// await waits for the next line with tag after the cursor.
func (r *run) await(ctx context.Context, tag byte) error {
	ctx, cancel := context.WithTimeout(ctx, awaitTimeout)
	defer cancel()
	var nudge func()
	if r.nudge {
		// Native reads one buffered line per wake-up (Q1): a harmless L
		// line releases a reply held behind an earlier command.
		nudge = func() { r.write([]byte("L,nudge\n")) }
	}
	i, err := r.cl.waitLine(ctx, r.cursor, tag, nudge)
	if err != nil {
		return err
	}
	r.cursor = i + 1
	return nil
}

// awaitEvent waits for an ARI event of this run.
func (r *run) awaitEvent(ctx context.Context, what string, match func(event) bool) (event, error) {
	ctx, cancel := context.WithTimeout(ctx, awaitTimeout)
	defer cancel()
	e, _, err := r.ev.wait(ctx, 0, match)
	if err != nil {
		return e, fmt.Errorf("no %s: %w", what, err)
	}
	return e, nil
}

// farInStasis waits until the far end is in our helper app (it enters when
// the IVR channel answers), so it takes DTMF and hang-up requests.
func (r *run) farInStasis(ctx context.Context) error {
	_, err := r.awaitEvent(ctx, "StasisStart of "+r.far, func(e event) bool {
		return e.Type == "StasisStart" && e.Channel != nil && e.Channel.ID == r.far
	})
	return err
}
