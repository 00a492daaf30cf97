package cti

import (
	"errors"
	"net/url"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"endpoint=PJSIP/1000", "endpoint=PJSIP&type=ChannelCreated,ChannelDestroyed", "channel=a&channel=b", "x=1", "endpoint=/", "endpoint=Local/1@ctx/n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		flt, err := ParseFilter(v)
		if err != nil {
			if !errors.Is(err, ErrFilter) {
				t.Fatalf("error %v does not wrap ErrFilter", err)
			}
			return
		}
		for _, ep := range flt.Endpoints {
			if checkEndpoint(ep) != nil {
				t.Fatalf("accepted endpoint %q", ep)
			}
		}
	})
}

// FuzzDeliver: any frame is sent as a JSON object with a cti_id, or
// dropped as bad; never a crash.
func FuzzDeliver(f *testing.F) {
	for _, e := range trace {
		f.Add(e.frame())
	}
	f.Add([]byte(`{"type":"ChannelEnteredBridge","bridge":{"id":"b","channels":["x"]},"channel":{"id":"x"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"cti_id":"x"}`))
	f.Add([]byte(`{"channel":[]}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, clock := newHandHub(Config{})
		sub := h.Subscribe(Filter{}, "", "f")
		defer sub.Close()
		drain(t, sub, 1)
		var ev ari.Event
		if ari.Decode(frame, &ev) != nil {
			ev = ari.Event{Type: "X", Raw: frame}
		}
		h.Deliver(reorder.Key{ChannelID: ev.Channel.ID}, &ev)
		clock.Advance(2 * DefaultWindow)
		h.Tick()
		s := h.Stats()
		if s.Sent+s.Bad != 1 {
			t.Fatalf("stats %+v: one event neither sent nor bad", s)
		}
		if s.Sent == 1 {
			m := drain(t, sub, 1)[0]
			var v map[string]any
			if err := jsonUnmarshal(m.JSON, &v); err != nil || v["cti_id"] != m.ID {
				t.Fatalf("message %s: %v", m.JSON, err)
			}
		}
		// A snapshot after it is valid JSON.
		s2 := h.Subscribe(Filter{}, "", "f2")
		defer s2.Close()
		var v map[string]any
		if err := jsonUnmarshal(drain(t, s2, 1)[0].JSON, &v); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
	})
}
