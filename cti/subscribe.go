package cti

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
)

// Subscription is one consumer of the stream. Next is for one goroutine.
type Subscription struct {
	h       *Hub
	f       Filter
	name    string
	backlog []*Message
	ch      chan *Message

	// guarded by h.mu
	cut        bool
	lastQueued string
}

// Gap reasons (CTIGap "reason").
const (
	GapRestart = "restart" // Last-Event-ID of another epoch: the gateway restarted
	GapEvicted = "evicted" // the ring has moved past Last-Event-ID
	GapUnknown = "unknown" // an id that does not parse or is ahead of this hub
)

// Subscribe registers a consumer. lastID is the Last-Event-ID it resumes
// after ("" for a new consumer: it starts with a CTISnapshot). name is for
// the logs. The subscription must be closed.
func (h *Hub) Subscribe(f Filter, lastID, name string) *Subscription {
	s := &Subscription{h: h, f: f, name: name, ch: make(chan *Message, h.cfg.Queue)}
	h.mu.Lock()
	defer h.unlock()
	h.stats.Subscribed++
	switch reason, after := h.resumable(lastID); {
	case lastID == "":
		s.backlog = append(s.backlog, h.snapshot(&f))
	case reason == "":
		h.stats.Resumed++
		for seq := after + 1; seq <= h.seq; seq++ {
			if m := h.ring[(seq-1)%uint64(len(h.ring))]; f.match(m) {
				s.backlog = append(s.backlog, m)
			}
		}
	default:
		h.stats.Gaps++
		s.backlog = append(s.backlog, h.gap(reason, lastID, after), h.snapshot(&f))
	}
	h.subs[s] = struct{}{}
	return s
}

// resumable tells whether lastID can be resumed from the ring ("" reason)
// and the seq the missing events start after.
func (h *Hub) resumable(lastID string) (reason string, after uint64) {
	if lastID == "" {
		return "", h.seq
	}
	epoch, num, ok := strings.Cut(lastID, "-")
	seq, err := strconv.ParseUint(num, 10, 64)
	switch {
	case !ok || err != nil:
		return GapUnknown, 0
	case epoch != h.cfg.Epoch:
		return GapRestart, 0
	case seq > h.seq:
		return GapUnknown, 0
	}
	oldest := uint64(1)
	if h.seq > uint64(len(h.ring)) {
		oldest = h.seq - uint64(len(h.ring)) + 1
	}
	if seq+1 < oldest {
		return GapEvicted, seq
	}
	return "", seq
}

func (h *Hub) gap(reason, lastID string, after uint64) *Message {
	g := struct {
		Type        string `json:"type"`
		ID          string `json:"cti_id"`
		Reason      string `json:"reason"`
		LastEventID string `json:"last_event_id"`
		Missed      uint64 `json:"missed"`
		From        string `json:"missed_from,omitempty"`
		To          string `json:"missed_to,omitempty"`
	}{Type: "CTIGap", ID: h.id(h.seq), Reason: reason, LastEventID: lastID, Missed: h.seq - after}
	if h.seq > after {
		g.From, g.To = h.id(after+1), h.id(h.seq)
	}
	b, _ := json.Marshal(g)
	return newMessage(g.ID, 0, g.Type, b)
}

type snapBridge struct {
	ID       string   `json:"id"`
	Channels []string `json:"channels"`
}

// snapshot is the live calls as of h.seq, filtered by f's endpoints and
// channels (h.mu held).
func (h *Hub) snapshot(f *Filter) *Message {
	snap := struct {
		Type     string            `json:"type"`
		ID       string            `json:"cti_id"`
		Channels []json.RawMessage `json:"channels"`
		Bridges  []snapBridge      `json:"bridges"`
		Sessions []json.RawMessage `json:"sessions"`
	}{Type: "CTISnapshot", ID: h.id(h.seq), Channels: []json.RawMessage{}, Bridges: []snapBridge{}, Sessions: []json.RawMessage{}}
	ids := make([]string, 0, len(h.live))
	for id, lc := range h.live {
		if f.matchChan([]string{id}, []string{lc.name}) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return idLess(ids[i], ids[j]) })
	for _, id := range ids {
		snap.Channels = append(snap.Channels, h.live[id].obj)
	}
	for bid, mem := range h.bridges {
		b := snapBridge{ID: bid, Channels: []string{}}
		for c := range mem {
			b.Channels = append(b.Channels, c)
		}
		sort.Slice(b.Channels, func(i, j int) bool { return idLess(b.Channels[i], b.Channels[j]) })
		if len(f.Channels) > 0 || len(f.Endpoints) > 0 {
			var names []string
			for _, c := range b.Channels {
				if lc := h.live[c]; lc != nil {
					names = append(names, lc.name)
				}
			}
			if !f.matchChan(b.Channels, names) {
				continue
			}
		}
		snap.Bridges = append(snap.Bridges, b)
	}
	sort.Slice(snap.Bridges, func(i, j int) bool { return idLess(snap.Bridges[i].ID, snap.Bridges[j].ID) })
	for _, m := range h.sessions {
		if f.matchChan(m.chans, m.names) {
			snap.Sessions = append(snap.Sessions, m.JSON)
		}
	}
	sort.Slice(snap.Sessions, func(i, j int) bool { return string(snap.Sessions[i]) < string(snap.Sessions[j]) })
	b, _ := json.Marshal(snap)
	return newMessage(snap.ID, 0, snap.Type, b)
}

// Next returns the next message: the backlog (gap, snapshot or replay)
// first, then the live stream. It returns ErrCutOff once the subscriber
// was cut off (what was queued before is delivered first), or ctx.Err().
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	if len(s.backlog) > 0 {
		m := s.backlog[0]
		s.backlog[0] = nil
		s.backlog = s.backlog[1:]
		return m, nil
	}
	select {
	case m, ok := <-s.ch:
		if !ok {
			return nil, ErrCutOff
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// CutOffMessage is the last message of a stream cut off after lastID
// (the id of the last message the subscriber got).
func CutOffMessage(lastID string, queue int) *Message {
	c := struct {
		Type   string `json:"type"`
		ID     string `json:"cti_id"`
		Reason string `json:"reason"`
	}{"CTICutOff", lastID, "slow consumer: " + strconv.Itoa(queue) + " events queued"}
	b, _ := json.Marshal(c)
	return newMessage(lastID, 0, c.Type, b)
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
}
