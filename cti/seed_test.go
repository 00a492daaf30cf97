package cti

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// snapshotIDs subscribes with no resume point and returns the channel ids
// of the CTISnapshot a new consumer starts with.
func snapshotIDs(t *testing.T, h *Hub) []string {
	t.Helper()
	sub := h.Subscribe(Filter{}, "", "t")
	defer sub.Close()
	m := drain(t, sub, 1)[0]
	var snap struct {
		Type     string
		Channels []struct{ ID string }
	}
	if err := json.Unmarshal(m.JSON, &snap); err != nil || snap.Type != "CTISnapshot" {
		t.Fatalf("%s (%v), want a CTISnapshot", m.JSON, err)
	}
	var ids []string
	for _, c := range snap.Channels {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestSeed(t *testing.T) {
	h, clock := newHandHub(Config{})
	known, gone := "1764770000.1", "1764770000.2"
	deliver(t, h, ev{typ: "ChannelCreated", ch: known, name: "PJSIP/1000-1", link: known, ms: 1})
	deliver(t, h, ev{typ: "ChannelCreated", ch: gone, name: "PJSIP/1000-2", link: gone, ms: 2})
	clock.Advance(DefaultWindow)
	h.Tick()
	// Asterisk's list after a restart of the gateway: known is still up,
	// gone was destroyed while the socket was down, and two calls began
	// meanwhile, one of a watched endpoint and one of another.
	list := `[{"id":"` + known + `","name":"PJSIP/1000-1","state":"Up"},
		{"id":"1764770000.3","name":"PJSIP/1000-3","state":"Ring","linkedid":"1764770000.3"},
		{"id":"1764770000.4","name":"PJSIP/2000-4","state":"Up"},
		{"name":"no id"}]`
	asked := clock.Now()
	watch := Watches([]string{"endpoint:PJSIP/1000", "channel:1764770000.9"})
	added, removed, err := h.Seed([]byte(list), asked, watch, true)
	if err != nil || added != 1 || removed != 1 {
		t.Fatalf("Seed: added %d, removed %d, %v; want 1, 1", added, removed, err)
	}
	if got, want := snapshotIDs(t, h), []string{known, "1764770000.3"}; !slices.Equal(got, want) {
		t.Errorf("snapshot channels %v, want %v", got, want)
	}
	// A channel the stream told of after the GET was sent is not pruned
	// (it began after Asterisk answered), nor is anything without prune.
	clock.Advance(time.Millisecond)
	asked = clock.Now()
	deliver(t, h, ev{typ: "ChannelCreated", ch: "1764770000.5", name: "PJSIP/1000-5", link: "1764770000.5", ms: 3})
	clock.Advance(DefaultWindow)
	h.Tick()
	if _, removed, _ := h.Seed([]byte(`[]`), asked, watch, true); removed != 2 {
		t.Errorf("prune after asked: removed %d, want 2 (the newer channel kept)", removed)
	}
	if got := snapshotIDs(t, h); !slices.Equal(got, []string{"1764770000.5"}) {
		t.Errorf("snapshot channels %v, want only the channel created after the GET", got)
	}
	if _, removed, _ := h.Seed([]byte(`[]`), clock.Now().Add(time.Hour), watch, false); removed != 0 {
		t.Errorf("without prune: removed %d", removed)
	}
	if _, _, err := h.Seed([]byte(`{"not":"a list"}`), asked, watch, true); err == nil {
		t.Error("a reply that is not a list was taken")
	}
}

func TestWatches(t *testing.T) {
	w := Watches([]string{"endpoint:PJSIP", "endpoint:SIP/100", "channel:c9", "bridge:b1"})
	for _, tt := range []struct {
		id, name string
		want     bool
	}{
		{"c1", "PJSIP/1000-00000001", true},
		{"c2", "SIP/100-00000002", true},
		{"c3", "SIP/1000-00000003", false},
		{"c9", "Local/1@x-00000001;1", true},
		{"c4", "IAX2/x-1", false},
	} {
		if got := w(tt.id, tt.name); got != tt.want {
			t.Errorf("%s %s: %v, want %v", tt.id, tt.name, got, tt.want)
		}
	}
}
