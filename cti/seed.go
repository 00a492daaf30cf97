package cti

import (
	"encoding/json"
	"strings"
	"time"
)

// Seed brings the live calls of snapshots up to date with Asterisk's own
// list (GET /channels, as sent), read after every (re)connect of the CTI
// application: channels the stream has not seen (they began before the
// gateway started, or while its socket was down) are added when watch
// accepts them, and tracked channels Asterisk no longer has (destroyed
// while the socket was down) are forgotten, their sessions too, unless the
// stream told of them at or after asked, the time the GET was sent (a
// channel created since). Channels already tracked keep what the stream
// told. Only with prune (the hub is fed by this one Asterisk: another's
// channels are not in its list) are channels forgotten. It returns how many channels
// were added and removed; a reply that does not decode changes nothing.
func (h *Hub) Seed(list []byte, asked time.Time, watch func(id, name string) bool, prune bool) (added, removed int, err error) {
	var objs []json.RawMessage
	if err := json.Unmarshal(list, &objs); err != nil {
		return 0, 0, err
	}
	type seeded struct {
		c   rawChannel
		obj json.RawMessage
	}
	all := make([]seeded, 0, len(objs))
	present := make(map[string]bool, len(objs))
	for _, o := range objs {
		var c rawChannel
		if json.Unmarshal(o, &c) != nil || c.ID == "" {
			continue
		}
		present[c.ID] = true
		all = append(all, seeded{c, o})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	for id, lc := range h.live {
		if prune && !present[id] && lc.last.Before(asked) {
			delete(h.live, id)
			delete(h.sessions, id)
			for _, mem := range h.bridges {
				delete(mem, id)
			}
			removed++
		}
	}
	for _, s := range all {
		if h.live[s.c.ID] != nil || (watch != nil && !watch(s.c.ID, s.c.Name)) {
			continue
		}
		if len(h.live) >= h.cfg.MaxLive {
			h.stats.LiveFull++
			continue
		}
		h.live[s.c.ID] = &liveChan{obj: s.obj, name: s.c.Name, call: s.c.Linkedid, last: now}
		added++
	}
	return added, removed, nil
}

// Watches returns the test of Seed for the sources of a CTI subscription
// ("endpoint:TECH[/RES]", "channel:ID", "bridge:ID"): a channel is watched
// when its name is of a watched endpoint (PJSIP/1000-00000001 is of
// endpoint PJSIP/1000 and of technology PJSIP) or its id is a watched
// channel. Bridge members are not known from GET /channels and are left to
// the stream.
func Watches(sources []string) func(id, name string) bool {
	var techs, endpoints []string
	ids := map[string]bool{}
	for _, s := range sources {
		kind, v, _ := strings.Cut(s, ":")
		switch kind {
		case "endpoint":
			if strings.Contains(v, "/") {
				endpoints = append(endpoints, v+"-")
			} else {
				techs = append(techs, v+"/")
			}
		case "channel":
			ids[v] = true
		}
	}
	return func(id, name string) bool {
		if ids[id] {
			return true
		}
		for _, t := range techs {
			if strings.HasPrefix(name, t) {
				return true
			}
		}
		for _, e := range endpoints {
			if strings.HasPrefix(name, e) {
				return true
			}
		}
		return false
	}
}
