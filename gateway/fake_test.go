package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

const testTS = 1795457185

var errTestREST = errors.New("fake REST failure")

// fakeOps is an in-package fake of the ARI REST subset: it records every
// call as a short string and lets tests make calls block or fail.
type fakeOps struct {
	calls chan string

	mu       sync.Mutex
	vars     map[string]string
	setGate  chan struct{} // non-nil: SetVariable/Answer wait for it (blocked behind a playback)
	getGate  chan struct{} // non-nil: GetVariable waits for it
	failPlay bool
	failAns  bool
	stopErr  error
	stopErrs []error // consumed one per StopPlayback before stopErr
	gone     bool    // the channel is destroyed: variable calls get 404

	parked atomic.Int32 // goroutines waiting at setGate or getGate, their call recorded
}

func newFakeOps() *fakeOps {
	return &fakeOps{calls: make(chan string, 1000), vars: map[string]string{}}
}

func (f *fakeOps) rec(format string, a ...any) { f.calls <- fmt.Sprintf(format, a...) }

func (f *fakeOps) gate(ctx context.Context) error {
	f.mu.Lock()
	g := f.setGate
	f.mu.Unlock()
	if g == nil {
		return nil
	}
	f.parked.Add(1)
	defer f.parked.Add(-1)
	select {
	case <-g:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeOps) Answer(ctx context.Context, ch string) error {
	f.rec("answer")
	if err := f.gate(ctx); err != nil {
		return err
	}
	if f.failAns {
		return errTestREST
	}
	return nil
}
func (f *fakeOps) Hangup(ctx context.Context, ch, reason string) error {
	f.rec("hangup")
	return nil
}
func (f *fakeOps) Play(ctx context.Context, ch, id string, media []string, lang string) (ari.Playback, error) {
	f.rec("play %s %s", strings.Join(media, "|"), id)
	if f.failPlay {
		return ari.Playback{}, errTestREST
	}
	return ari.Playback{ID: id, State: "queued"}, nil
}
func (f *fakeOps) StopPlayback(ctx context.Context, id string) error {
	f.rec("stop %s", id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.stopErrs) > 0 {
		err := f.stopErrs[0]
		f.stopErrs = f.stopErrs[1:]
		return err
	}
	return f.stopErr
}
func (f *fakeOps) GetPlayback(ctx context.Context, id string) (ari.Playback, error) {
	f.rec("getplayback %s", id)
	return ari.Playback{}, ari.ErrNotFound
}
func (f *fakeOps) GetVariable(ctx context.Context, ch, name string) (string, error) {
	f.rec("get %s", name)
	if f.getGate != nil {
		f.parked.Add(1)
		defer f.parked.Add(-1)
		select {
		case <-f.getGate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return "", ari.ErrNotFound
	}
	v, ok := f.vars[name]
	if !ok {
		return "", ari.ErrVariableNotSet
	}
	if !utf8.ValidString(v) { // as Asterisk 22.10.1: its JSON cannot hold it
		return "", &ari.Error{Method: "GET", Path: "/variable", Status: 500, Message: "Allocation failed"}
	}
	return v, nil
}
func (f *fakeOps) SetVariable(ctx context.Context, ch, name, value string) error {
	f.rec("set %s=%s", name, value)
	if err := f.gate(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return ari.ErrNotFound
	}
	f.vars[name] = value
	return nil
}
func (f *fakeOps) Continue(ctx context.Context, ch, c, e string, p int, l string) error {
	f.rec("continue")
	return nil
}
func (f *fakeOps) StartSilence(ctx context.Context, ch string) error { f.rec("silence"); return nil }
func (f *fakeOps) StopSilence(ctx context.Context, ch string) error  { f.rec("unsilence"); return nil }
func (f *fakeOps) SendDTMF(ctx context.Context, ch, digits string, opt ari.DTMFOptions) error {
	f.rec("dtmf %s %v %v", digits, opt.Between, opt.Duration)
	return nil
}

// fakeConn is a client connection made of a pipe (commands) and a channel
// of event lines.
type fakeConn struct {
	cmdR  *io.PipeReader
	cmdW  *io.PipeWriter
	lines chan string
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	sendErr error // non-nil: Send fails with it, and the conn is done with it as cause (as eivr's)
	cause   error
}

func newFakeConn() *fakeConn {
	r, w := io.Pipe()
	return &fakeConn{cmdR: r, cmdW: w, lines: make(chan string, 1000), done: make(chan struct{})}
}

func (c *fakeConn) Commands() io.Reader { return c.cmdR }
func (c *fakeConn) Send(line []byte) error {
	c.mu.Lock()
	err := c.sendErr
	c.mu.Unlock()
	if err != nil {
		c.end(err)
		return err
	}
	c.lines <- string(line)
	return nil
}
func (c *fakeConn) Done() <-chan struct{} { return c.done }
func (c *fakeConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// end closes done with cause (the first one wins).
func (c *fakeConn) end(cause error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.cause = cause
		c.mu.Unlock()
		close(c.done)
	})
}

func (c *fakeConn) Close(ctx context.Context) error {
	c.end(errors.New("closed"))
	c.cmdR.CloseWithError(errors.New("closed"))
	return nil
}

// lineSource frames commands like eivr.Reader for the tests: trailing
// blanks trimmed, lines under 3 bytes and leading blanks ignored.
type lineSource struct{ br *bufio.Reader }

func (l *lineSource) Next() (eivr.Command, error) {
	for {
		line, err := l.br.ReadBytes('\n')
		if err != nil && len(line) == 0 {
			return eivr.Command{}, err
		}
		if c, ok := eivr.ParseCommand(line); ok {
			return c, nil
		}
	}
}

type harness struct {
	t     *testing.T
	ops   *fakeOps
	conn  *fakeConn
	s     *session
	out   chan outcome
	n     int
	ctx   context.Context
	stop  context.CancelFunc
	seqID int
}

func testEnv(ops *fakeOps, conn *fakeConn, sounds soundChecker) *sessionEnv {
	var mu sync.Mutex
	n := 0
	return &sessionEnv{
		ops:    ops,
		sounds: sounds,
		connect: func(ctx context.Context, app appSpec, log *slog.Logger) (clientConn, commandSource, error) {
			if conn == nil {
				return nil, nil, errTestREST
			}
			return conn, &lineSource{br: bufio.NewReader(conn.Commands())}, nil
		},
		now: func() time.Time { return time.Unix(testTS, 0) },
		newID: func() string {
			mu.Lock()
			defer mu.Unlock()
			n++
			return fmt.Sprintf("pb%d", n)
		},
		idleSilence:  false,
		stopTimeout:  2 * time.Second,
		flushTimeout: time.Second,
		callTimeout:  time.Second,
		goneGrace:    50 * time.Millisecond,
		closeTimeout: time.Second,
	}
}

// allSounds accepts every name except those starting with "no-".
type allSounds struct{}

func (allSounds) cached(name, lang string) (bool, bool) {
	return !strings.HasPrefix(name, "no-"), true
}
func (allSounds) check(ctx context.Context, name, lang string) bool {
	return !strings.HasPrefix(name, "no-")
}

func startHarness(t *testing.T, app appSpec, state string, tweak func(*sessionEnv, *fakeOps, *fakeConn)) *harness {
	t.Helper()
	ops := newFakeOps()
	conn := newFakeConn()
	env := testEnv(ops, conn, allSounds{})
	if tweak != nil {
		tweak(env, ops, conn)
	}
	if app.preply == "" {
		app.preply = "/usr/bin/ivr,a,b"
	}
	s := newSession(env, slog.New(slog.DiscardHandler), "s1", ari.Channel{ID: "c1", State: state, Language: "en"}, app, 64)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, ops: ops, conn: conn, s: s, out: make(chan outcome, 1), ctx: ctx, stop: cancel}
	go func() { h.out <- s.run(ctx, context.Background()) }()
	t.Cleanup(func() {
		cancel()
		conn.cmdW.Close()
		select {
		case <-h.out:
		case <-time.After(testwait.Long):
			t.Error("session did not end")
		}
	})
	return h
}

func (h *harness) cmd(lines ...string) {
	h.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(h.conn.cmdW, l+"\n"); err != nil {
			h.t.Fatalf("write %q: %v", l, err)
		}
	}
}

// line waits for the next event line, with its timestamp replaced by "ts".
func (h *harness) line() string {
	h.t.Helper()
	select {
	case l := <-h.conn.lines:
		return maskTS(l)
	case <-time.After(testwait.Long):
		h.t.Fatal("no event line within 3s")
		return ""
	}
}

func (h *harness) expectLines(want ...string) {
	h.t.Helper()
	for _, w := range want {
		if got := h.line(); got != w+"\n" {
			h.t.Fatalf("event line: got %q, want %q", got, w+"\n")
		}
	}
}

// noLine asserts that the session sent no event line for what the test
// handed it so far: after the barrier, nothing but its P reply was sent.
func (h *harness) noLine() {
	h.t.Helper()
	h.barrier()
	select {
	case l := <-h.conn.lines:
		h.t.Fatalf("unexpected event line %q", l)
	default:
	}
}

// barrier returns once the session has handled everything the test handed
// it before: the commands (a P round trip; the next line must be its
// reply), the events, and the REST calls they started (settle). Once the
// session loop has ended, the barrier is run's return: it waits for every
// goroutine the session started.
func (h *harness) barrier() {
	h.t.Helper()
	select {
	case <-h.s.quit:
		select {
		case <-h.s.done:
		case <-time.After(testwait.Long):
			h.t.Fatal("session did not end")
		}
		return
	default:
	}
	h.cmd("P,barrier")
	if got, want := h.line(), "P,ts,"+h.s.app.preply+"\n"; got != want {
		h.t.Fatalf("event line before the barrier's P reply: got %q, want %q", got, want)
	}
	h.settle()
}

// settle waits until the session loop reports settled (settledForTest).
func (h *harness) settle() {
	h.t.Helper()
	testwait.Until(h.t, testwait.Long, "the session settled", func() bool {
		r := make(chan bool, 1)
		select {
		case h.s.results <- func() { r <- h.s.settledForTest(h.ops) }:
		case <-h.s.quit:
			return true
		}
		select {
		case ok := <-r:
			return ok
		case <-h.s.quit:
			return true
		}
	})
}

// settledForTest runs on the session loop. It reports whether no event and
// no result are queued and every goroutine the session runs for a call (one
// per busy lane, one for a paused command) waits at a gate of ops, its call
// recorded. (T pauses and uses the control lane: while its answer is gated
// this never holds, a test that needs it fails at the wait; it cannot pass
// too early.)
func (s *session) settledForTest(ops *fakeOps) bool {
	inFlight := int32(0)
	for _, busy := range []bool{s.ctl.busy, s.media.busy, s.paused} {
		if busy {
			inFlight++
		}
	}
	return len(s.events) == 0 && len(s.results) == 0 && inFlight == ops.parked.Load()
}

func maskTS(l string) string {
	if len(l) >= 12 && l[1] == ',' {
		return l[:2] + "ts" + l[12:]
	}
	return l
}

// call waits for the next REST call.
func (h *harness) call() string {
	h.t.Helper()
	select {
	case c := <-h.ops.calls:
		return c
	case <-time.After(testwait.Long):
		h.t.Fatal("no REST call within 3s")
		return ""
	}
}

func (h *harness) expectCalls(want ...string) {
	h.t.Helper()
	for _, w := range want {
		if got := h.call(); got != w {
			h.t.Fatalf("REST call: got %q, want %q", got, w)
		}
	}
}

// noCall asserts that the session made no REST call for what the test
// handed it so far: after the barrier (which also asserts that no event
// line came before its P reply), no call was recorded.
func (h *harness) noCall() {
	h.t.Helper()
	h.barrier()
	select {
	case c := <-h.ops.calls:
		h.t.Fatalf("unexpected REST call %q", c)
	default:
	}
}

func (h *harness) event(ev *ari.Event) {
	if ev.Channel.ID == "" && ev.Kind != ari.KindPlaybackFinished && ev.Kind != ari.KindPlaybackStarted {
		ev.Channel.ID = "c1"
	}
	if !h.s.deliver(ev) {
		h.t.Fatal("event queue full")
	}
}

func (h *harness) finished(id, state string) {
	h.event(&ari.Event{Kind: ari.KindPlaybackFinished, Playback: &ari.Playback{ID: id, State: state}})
}

func (h *harness) dtmf(d string) {
	h.event(&ari.Event{Kind: ari.KindChannelDtmfReceived, Digit: d})
}

func (h *harness) outcome() outcome {
	h.t.Helper()
	select {
	case o := <-h.out:
		h.out <- o
		return o
	case <-time.After(testwait.Long):
		h.t.Fatal("session did not end")
		return outcome{}
	}
}

func nopLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
