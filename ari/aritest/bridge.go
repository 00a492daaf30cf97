package aritest

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// bridge is one simulated bridge. Guarded by Server.mu.
type bridge struct {
	id, name, typ string
	created       time.Time
	members       []string // channel ids, in the order they entered
}

func (b *bridge) has(id string) bool { return slices.Contains(b.members, id) }

// bridgeJSON reproduces Asterisk 22.10.1's Bridge object, key for key.
type bridgeJSON struct {
	ID           string   `json:"id"`
	Technology   string   `json:"technology"`
	BridgeType   string   `json:"bridge_type"`
	BridgeClass  string   `json:"bridge_class"`
	Creator      string   `json:"creator"`
	Name         string   `json:"name"`
	Channels     []string `json:"channels"`
	CreationTime string   `json:"creationtime"`
	VideoMode    string   `json:"video_mode"`
}

func (b *bridge) json() bridgeJSON {
	return bridgeJSON{ID: b.id, Technology: "simple_bridge", BridgeType: b.typ, BridgeClass: "stasis", Creator: "Stasis",
		Name: b.name, Channels: append([]string{}, b.members...), CreationTime: formatTS(b.created), VideoMode: "talker"}
}

// bridgeRoutes registers the /bridges resource.
func (s *Server) bridgeRoutes(h func(string, func(http.ResponseWriter, *http.Request, params))) {
	h("GET /ari/bridges", s.listBridges)
	h("POST /ari/bridges", s.createBridge)
	h("POST /ari/bridges/{id}", s.createBridge)
	h("GET /ari/bridges/{id}", s.getBridge)
	h("DELETE /ari/bridges/{id}", s.destroyBridge)
	h("POST /ari/bridges/{id}/addChannel", s.addChannel)
	h("POST /ari/bridges/{id}/removeChannel", s.removeChannel)
	h("GET /ari/endpoints", s.listEndpoints)
	h("GET /ari/endpoints/{tech}", s.listEndpoints)
}

func (s *Server) listBridges(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	out := []bridgeJSON{}
	for _, b := range s.ctiLocked().bridges {
		out = append(out, b.json())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createBridge(w http.ResponseWriter, r *http.Request, p params) {
	id := r.PathValue("id")
	if id == "" {
		id = p.str("bridgeId")
	}
	typ := p.str("type")
	if typ == "" {
		typ = "mixing"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" {
		id = uuid()
	}
	st := s.ctiLocked()
	if b := st.bridges[id]; b != nil {
		writeJSON(w, http.StatusOK, b.json()) // POST /bridges/{id} on an existing one updates it
		return
	}
	b := &bridge{id: id, name: p.str("name"), typ: typ, created: time.Now()}
	st.bridges[id] = b
	writeJSON(w, http.StatusOK, b.json())
}

func (s *Server) getBridge(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	b := s.ctiLocked().bridges[r.PathValue("id")]
	var j bridgeJSON
	if b != nil {
		j = b.json()
	}
	s.mu.Unlock()
	if b == nil {
		writeErr(w, http.StatusNotFound, "Bridge not found")
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) destroyBridge(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.ctiLocked().bridges[r.PathValue("id")]
	if b == nil {
		writeErr(w, http.StatusNotFound, "Bridge not found")
		return
	}
	s.dropBridgeLocked(b, time.Now())
	noContent(w)
}

// dropBridgeLocked empties and destroys b: ChannelLeftBridge for each
// member, then BridgeDestroyed to the apps subscribed to it.
func (s *Server) dropBridgeLocked(b *bridge, ts time.Time) {
	st := s.ctiLocked()
	for len(b.members) > 0 {
		if c := s.chans[b.members[0]]; c != nil {
			s.leaveBridgeLocked(b, c, ts)
		} else {
			b.members = b.members[1:]
		}
	}
	for app, ids := range st.brSubs {
		if ids[b.id] {
			s.publishLocked(app, encodeEvent("BridgeDestroyed", ts, s.opts.AsteriskID, app, nil, []kv{{"bridge", b.json()}}))
			delete(ids, b.id)
		}
	}
	delete(st.bridges, b.id)
}

// bridgeChannels resolves ?channel=a,b of addChannel/removeChannel.
func (s *Server) bridgeChannelsLocked(w http.ResponseWriter, r *http.Request, p params) (*bridge, []*channel, bool) {
	b := s.ctiLocked().bridges[r.PathValue("id")]
	if b == nil {
		writeErr(w, http.StatusNotFound, "Bridge not found")
		return nil, nil, false
	}
	var out []*channel
	for _, id := range strings.Split(p.str("channel"), ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		c := s.chans[id]
		if c == nil {
			writeErr(w, http.StatusBadRequest, "Channel not found")
			return nil, nil, false
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		writeErr(w, http.StatusBadRequest, "Missing parameter channel")
		return nil, nil, false
	}
	return b, out, true
}

func (s *Server) addChannel(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, chans, ok := s.bridgeChannelsLocked(w, r, p)
	if !ok {
		return
	}
	for _, c := range chans {
		if !c.inStasis {
			writeErr(w, http.StatusUnprocessableEntity, "Channel not in Stasis application")
			return
		}
	}
	now := time.Now()
	st := s.ctiLocked()
	for _, c := range chans {
		// The app that puts its channel in a bridge is subscribed to the
		// bridge (it gets BridgeDestroyed: seen on 22.10.1).
		if st.brSubs[c.app] == nil {
			st.brSubs[c.app] = map[string]bool{}
		}
		st.brSubs[c.app][b.id] = true
		s.enterBridgeLocked(b, c, now)
	}
	noContent(w)
}

func (s *Server) removeChannel(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, chans, ok := s.bridgeChannelsLocked(w, r, p)
	if !ok {
		return
	}
	for _, c := range chans {
		if !b.has(c.id) {
			writeErr(w, http.StatusUnprocessableEntity, "Channel not in this bridge")
			return
		}
	}
	now := time.Now()
	for _, c := range chans {
		s.leaveBridgeLocked(b, c, now)
	}
	noContent(w)
}

// enterBridgeLocked adds c to b: ChannelEnteredBridge (the bridge with its
// new member list) to every app that sees c or b.
func (s *Server) enterBridgeLocked(b *bridge, c *channel, ts time.Time) {
	if b.has(c.id) {
		return
	}
	for _, ob := range s.ctiLocked().bridges { // a channel is in one bridge at a time
		if ob != b && ob.has(c.id) {
			s.leaveBridgeLocked(ob, c, ts)
		}
	}
	b.members = append(b.members, c.id)
	for _, a := range s.bridgeAppsLocked(b, c) {
		s.publishLocked(a, encodeEvent("ChannelEnteredBridge", ts, s.opts.AsteriskID, a, nil, []kv{{"bridge", b.json()}, {"channel", c.json()}}))
	}
}

// bridgeAppsLocked lists the apps that get an event of c in b: those that
// see c and those subscribed to b.
func (s *Server) bridgeAppsLocked(b *bridge, c *channel) []string {
	apps := s.chanAppsLocked(c)
	for app, ids := range s.ctiLocked().brSubs {
		if ids[b.id] && !slices.Contains(apps, app) {
			apps = append(apps, app)
		}
	}
	sort.Strings(apps)
	return apps
}

// leaveBridgeLocked removes c from b: ChannelLeftBridge to every app that
// saw c or b before it left.
func (s *Server) leaveBridgeLocked(b *bridge, c *channel, ts time.Time) {
	i := slices.Index(b.members, c.id)
	if i < 0 {
		return
	}
	apps := s.bridgeAppsLocked(b, c)
	b.members = slices.Delete(b.members, i, i+1)
	for _, a := range apps {
		s.publishLocked(a, encodeEvent("ChannelLeftBridge", ts, s.opts.AsteriskID, a, nil, []kv{{"bridge", b.json()}, {"channel", c.json()}}))
	}
}

// emitAtLocked is emitLocked with a given timestamp.
func (s *Server) emitAtLocked(c *channel, typ string, ts time.Time, pre, post []kv) {
	post = append(post, kv{"channel", c.json()})
	for _, a := range s.chanAppsLocked(c) {
		s.publishLocked(a, encodeEvent(typ, ts, s.opts.AsteriskID, a, pre, post))
	}
}

// leaveAllBridgesLocked takes a channel that goes away out of its bridge.
func (s *Server) leaveAllBridgesLocked(c *channel, ts time.Time) {
	for _, b := range s.ctiLocked().bridges {
		if b.has(c.id) {
			s.leaveBridgeLocked(b, c, ts)
		}
	}
}
