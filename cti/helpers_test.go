package cti

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// base is ms 0 of the tests' ARI timestamps.
var base = time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)

// handClock is a clock the test moves by hand; its timers are real (the
// tests that use it call Tick instead of Run).
type handClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *handClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *handClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *handClock) NewTimer(d time.Duration) reorder.Timer { return sysClock{}.NewTimer(d) }

// ev is one ARI event of a test call.
type ev struct {
	typ   string
	ch    string // channel id ("" for none)
	name  string // channel name
	link  string // linkedid
	ms    int    // timestamp, ms after base
	extra string // more members, `"bridge":{...}` etc., without braces
}

func (e ev) frame() []byte {
	ts := base.Add(time.Duration(e.ms) * time.Millisecond).Format(ariTime)
	s := fmt.Sprintf(`{"type":%q,"timestamp":%q,"application":"cti","asterisk_id":"aa:bb"`, e.typ, ts)
	if e.ch != "" {
		s += fmt.Sprintf(`,"channel":{"id":%q,"name":%q,"state":"Up","linkedid":%q}`, e.ch, e.name, e.link)
	}
	if e.extra != "" {
		s += "," + e.extra
	}
	return []byte(s + "}")
}

// deliver decodes e as the ari client would (KeepRaw) and gives it to h
// under the key reorder would use.
func deliver(tb testing.TB, h *Hub, e ev) {
	tb.Helper()
	var a ari.Event
	if err := ari.Decode(e.frame(), &a); err != nil {
		tb.Fatalf("decode %s: %v", e.frame(), err)
	}
	key := reorder.Key{AsteriskID: a.AsteriskID, App: a.Application}
	if a.Kind != ari.KindOther {
		key.ChannelID = a.Channel.ID
	}
	h.Deliver(key, &a)
}

// got is a message as a test reads it back.
type got struct {
	ID, Type, Channel, Call string
	Timestamp               string
}

func parse(tb testing.TB, m *Message) got {
	tb.Helper()
	var v struct {
		ID        string `json:"cti_id"`
		Call      string `json:"cti_call"`
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Channel   struct {
			ID string `json:"id"`
		} `json:"channel"`
	}
	if err := json.Unmarshal(m.JSON, &v); err != nil {
		tb.Fatalf("message %s: %v", m.JSON, err)
	}
	if v.ID != m.ID {
		tb.Fatalf("message %s: cti_id %q, Message.ID %q", m.JSON, v.ID, m.ID)
	}
	return got{v.ID, v.Type, v.Channel.ID, v.Call, v.Timestamp}
}

// drain reads n messages from s (failing after testwait-like bound).
func drain(tb testing.TB, s *Subscription, n int) []*Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*Message
	for len(out) < n {
		m, err := s.Next(ctx)
		if err != nil {
			tb.Fatalf("after %d of %d messages: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func newHandHub(cfg Config) (*Hub, *handClock) {
	c := &handClock{now: base}
	cfg.Clock = c
	if cfg.Epoch == "" {
		cfg.Epoch = "e1"
	}
	return New(cfg), c
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
