package aritest

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// ctiState is what the fake keeps for CTI consumers: endpoints, bridges and
// the apps subscribed to them. Guarded by Server.mu.
type ctiState struct {
	endpoints map[string]bool            // "PJSIP/1000" -> exists
	epSubs    map[string]map[string]bool // app -> endpoint sources ("PJSIP", "PJSIP/1000")
	bridges   map[string]*bridge         // by id
	brSubs    map[string]map[string]bool // app -> bridge ids
	phones    map[string]*channel        // channels made by PhoneCall (outside Stasis)
	last      time.Time                  // the latest phone event stamp (stamps never go back)
}

func (s *Server) ctiLocked() *ctiState {
	if s.cti.endpoints == nil {
		s.cti = ctiState{
			endpoints: map[string]bool{}, epSubs: map[string]map[string]bool{},
			bridges: map[string]*bridge{}, brSubs: map[string]map[string]bool{},
			phones: map[string]*channel{},
		}
	}
	return &s.cti
}

// stamp is the first timestamp of a phone operation: now, or just after
// the latest stamp given (PhoneCall stamps a few ms ahead), so that the
// phones' events are causal in their timestamps.
func (st *ctiState) stamp(now time.Time, span int) time.Time {
	if floor := st.last.Add(time.Millisecond); now.Before(floor) {
		now = floor
	}
	st.last = now.Add(time.Duration(span) * time.Millisecond)
	return now
}

// ctiForgetLocked drops an app's endpoint and bridge subscriptions when its
// socket goes: Asterisk forgets them with the app's registration, so a
// client subscribes again after every reconnect.
func (s *Server) ctiForgetLocked(app string) {
	st := s.ctiLocked()
	delete(st.epSubs, app)
	delete(st.brSubs, app)
}

// AddEndpoints registers endpoints ("PJSIP/1000"): they are listed by GET
// /endpoints and can be subscribed to (eventSource=endpoint:PJSIP/1000, or
// endpoint:PJSIP for the technology). Local has no endpoints, as on
// Asterisk 22.10.1: endpoint:Local is refused with 422 "Event source does
// not exist".
func (s *Server) AddEndpoints(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.ctiLocked()
	for _, n := range names {
		if !strings.HasPrefix(strings.ToLower(n), "local/") {
			st.endpoints[n] = true
		}
	}
}

// endpointOfName is the endpoint of a channel name: "PJSIP/1000-00000001"
// -> "PJSIP/1000".
func endpointOfName(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}

// endpointExistsLocked: "PJSIP/1000" registered, or "PJSIP" with one
// registered endpoint of that technology.
func (st *ctiState) endpointExists(src string) bool {
	if st.endpoints[src] {
		return true
	}
	if strings.Contains(src, "/") {
		return false
	}
	for ep := range st.endpoints {
		if tech, _, _ := strings.Cut(ep, "/"); strings.EqualFold(tech, src) {
			return true
		}
	}
	return false
}

// ctiAppsLocked adds the apps that see c through an endpoint subscription
// (called from chanAppsLocked). A bridge subscription does not show its
// members' channel events, only the bridge's own (ChannelEnteredBridge,
// ChannelLeftBridge, BridgeDestroyed): seen on 22.10.1.
func (s *Server) ctiAppsLocked(c *channel, add func(string)) {
	st := s.ctiLocked()
	ep := endpointOfName(c.name)
	tech, _, _ := strings.Cut(ep, "/")
	for app, subs := range st.epSubs {
		if subs[ep] || subs[tech] {
			add(app)
		}
	}
}

// subscribeCTILocked handles the eventSources other than channel: for
// POST /applications/{app}/subscription; false: the source does not
// exist (422).
func (s *Server) subscribeCTILocked(app, src string) bool {
	st := s.ctiLocked()
	kind, id, _ := strings.Cut(src, ":")
	switch kind {
	case "endpoint":
		if !st.endpointExists(id) {
			return false
		}
		if st.epSubs[app] == nil {
			st.epSubs[app] = map[string]bool{}
		}
		st.epSubs[app][id] = true
	case "bridge":
		if st.bridges[id] == nil {
			return false
		}
		if st.brSubs[app] == nil {
			st.brSubs[app] = map[string]bool{}
		}
		st.brSubs[app][id] = true
	default:
		return true // deviceState etc.: accepted and ignored
	}
	return true
}

// ctiAppJSONLocked fills an application's bridge_ids and endpoint_ids.
func (s *Server) ctiAppJSONLocked(name string, a *applicationJSON) {
	st := s.ctiLocked()
	for id := range st.brSubs[name] {
		a.BridgeIDs = append(a.BridgeIDs, id)
	}
	for ep := range st.epSubs[name] {
		a.EndpointIDs = append(a.EndpointIDs, ep)
	}
	sort.Strings(a.BridgeIDs)
	sort.Strings(a.EndpointIDs)
}

type endpointJSON struct {
	Technology string   `json:"technology"`
	Resource   string   `json:"resource"`
	State      string   `json:"state"`
	ChannelIDs []string `json:"channel_ids"`
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request, p params) {
	tech := r.PathValue("tech")
	s.mu.Lock()
	st := s.ctiLocked()
	out := []endpointJSON{}
	for ep := range st.endpoints {
		t, res, _ := strings.Cut(ep, "/")
		if tech != "" && !strings.EqualFold(t, tech) {
			continue
		}
		e := endpointJSON{Technology: t, Resource: res, State: "online", ChannelIDs: []string{}}
		for id, c := range s.chans {
			if endpointOfName(c.name) == ep {
				e.ChannelIDs = append(e.ChannelIDs, id)
			}
		}
		sort.Strings(e.ChannelIDs)
		out = append(out, e)
	}
	s.mu.Unlock()
	if tech != "" && len(out) == 0 {
		writeErr(w, http.StatusNotFound, "No Endpoints found - invalid tech "+tech)
		return
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Technology+"/"+out[i].Resource < out[j].Technology+"/"+out[j].Resource
	})
	writeJSON(w, http.StatusOK, out)
}
