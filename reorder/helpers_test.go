package reorder

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// base is the timestamp of ms 0 in the tests.
var base = time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	made   chan struct{} // if not nil, signalled by NewTimer
}

func newFakeClock() *fakeClock { return &fakeClock{now: base} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t and fires the timers due by then.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	for _, tm := range c.timers {
		if tm.active && !tm.when.After(t) {
			tm.active = false
			select {
			case tm.ch <- t:
			default:
			}
		}
	}
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), when: c.now.Add(d), active: true}
	c.timers = append(c.timers, t)
	if c.made != nil {
		c.made <- struct{}{}
	}
	return t
}

type fakeTimer struct {
	c      *fakeClock
	ch     chan time.Time
	when   time.Time
	active bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	select { // Go 1.23 semantics: no stale value after Reset
	case <-t.ch:
	default:
	}
	t.when, t.active = t.c.now.Add(d), true
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

// recSink records deliveries and signals each one on got (if not nil).
type recSink struct {
	mu  sync.Mutex
	out []delivery
	got chan struct{}
}

type delivery struct {
	key Key
	ev  *ari.Event
}

func (s *recSink) Deliver(key Key, ev *ari.Event) {
	s.mu.Lock()
	s.out = append(s.out, delivery{key, ev})
	s.mu.Unlock()
	if s.got != nil {
		select {
		case s.got <- struct{}{}:
		default:
		}
	}
}

func (s *recSink) take() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.out
	s.out = nil
	return out
}

// names renders deliveries as "chan:Kind[detail]" for comparisons.
func names(ds []delivery) string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(label(d.key.ChannelID, d.ev))
	}
	return b.String()
}

func label(ch string, e *ari.Event) string {
	s := ch + ":" + e.Kind.String()
	switch e.Kind {
	case ari.KindChannelDtmfReceived:
		s += "(" + e.Digit + ")"
	case ari.KindChannelStateChange:
		s += "(" + e.Channel.State + ")"
	case ari.KindPlaybackStarted, ari.KindPlaybackContinuing, ari.KindPlaybackFinished:
		s += "(" + e.Playback.PlaybackID() + ")"
	case ari.KindChannelVarset:
		s += "(" + e.Variable + ")"
	}
	return s
}

// Event builders: channel ch of app "gw" on "ast1", timestamp base+ms.
func mk(kind ari.Kind, ch string, ms int) *ari.Event {
	return &ari.Event{
		Kind:        kind,
		Type:        kind.String(),
		Application: "gw",
		AsteriskID:  "ast1",
		Timestamp:   base.Add(time.Duration(ms) * time.Millisecond),
		Channel:     ari.Channel{ID: ch, State: "Up"},
	}
}

func start(ch string, ms int, state string) *ari.Event {
	e := mk(ari.KindStasisStart, ch, ms)
	e.Channel.State = state
	e.Args = []string{"a"}
	return e
}

func end(ch string, ms int) *ari.Event { return mk(ari.KindStasisEnd, ch, ms) }

func dtmf(ch string, ms int, digit string) *ari.Event {
	e := mk(ari.KindChannelDtmfReceived, ch, ms)
	e.Digit, e.DurationMs = digit, 100
	return e
}

func sc(ch string, ms int, state string) *ari.Event {
	e := mk(ari.KindChannelStateChange, ch, ms)
	e.Channel.State = state
	return e
}

func varset(ch string, ms int, name string) *ari.Event {
	e := mk(ari.KindChannelVarset, ch, ms)
	e.Variable, e.Value = name, "v"
	return e
}

func pb(kind ari.Kind, ch string, ms int, id string) *ari.Event {
	e := mk(kind, ch, ms)
	e.Channel = ari.Channel{}
	e.Playback = &ari.Playback{ID: id, MediaURI: "sound:beep", TargetURI: "channel:" + ch, State: "playing"}
	if kind == ari.KindPlaybackFinished {
		e.Playback.State = "done"
	}
	return e
}

func clone(e *ari.Event) *ari.Event {
	c := *e
	if c.Playback != nil { // a copy the test may change
		p := *c.Playback
		c.Playback = &p
	}
	return &c
}

// noWindows is a Config with every window 0.
func noWindows(clk Clock) Config {
	return Config{Windows: map[ari.Kind]time.Duration{}, Clock: clk}
}

func expect(t *testing.T, s *recSink, want string) {
	t.Helper()
	if got := names(s.take()); got != want {
		t.Fatalf("delivered\n got: %s\nwant: %s", got, want)
	}
}

func must(t *testing.T, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Fatalf(format, args...)
	}
}

var _ = fmt.Sprint
