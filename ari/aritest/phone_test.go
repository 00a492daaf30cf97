package aritest

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func subscribe(t *testing.T, s *Server, app, src string, want int) []byte {
	t.Helper()
	return mustCall(t, s, "POST", "/applications/"+app+"/subscription", url.Values{"eventSource": {src}}, want)
}

func TestEndpointSubscriptions(t *testing.T) {
	s := newServer(t, Options{})
	s.AddEndpoints("PJSIP/1000", "PJSIP/1002", "Local/100@ctx")
	tp := dialTap(t, s, "cti")
	waitApp(t, s, "cti")
	tests := []struct {
		src  string
		want int
	}{
		{"endpoint:PJSIP/1000", 200},
		{"endpoint:PJSIP", 200},
		{"endpoint:PJSIP/9999", 422},
		{"endpoint:Local", 422}, // Local has no endpoints (22.10.1)
		{"endpoint:Local/100@ctx", 422},
		{"bridge:nosuch", 422},
	}
	for _, tt := range tests {
		subscribe(t, s, "cti", tt.src, tt.want)
	}
	var app applicationJSON
	json.Unmarshal(mustCall(t, s, "GET", "/applications/cti", nil, 200), &app)
	if !slices.Equal(app.EndpointIDs, []string{"PJSIP", "PJSIP/1000"}) {
		t.Errorf("endpoint_ids %v", app.EndpointIDs)
	}
	var eps []endpointJSON
	json.Unmarshal(mustCall(t, s, "GET", "/endpoints", nil, 200), &eps)
	if len(eps) != 2 || eps[0].Resource != "1000" {
		t.Errorf("GET /endpoints %+v", eps)
	}
	mustCall(t, s, "GET", "/endpoints/Local", nil, 404)
	tp.quiet(s)
	// The subscriptions go with the socket: a client makes them again.
	tp.close()
	testwait.Until(t, testwait.Long, "the socket is gone", func() bool { return !s.AppConnected("cti") })
	app = applicationJSON{}
	json.Unmarshal(mustCall(t, s, "GET", "/applications/cti", nil, 200), &app)
	if len(app.EndpointIDs) != 0 {
		t.Errorf("endpoint_ids after the socket closed: %v", app.EndpointIDs)
	}
}

// TestPhoneCall: a two-party call outside Stasis, a hold, a transfer and
// the hang-up, as an endpoint subscriber sees them, with the published
// trace's out-of-order delivery.
func TestPhoneCall(t *testing.T) {
	s := newServer(t, Options{})
	s.AddEndpoints("PJSIP/1000", "PJSIP/1002", "PJSIP/1003")
	tp := dialTap(t, s, "cti")
	other := dialTap(t, s, "other") // subscribed to nothing: sees nothing
	waitApp(t, s, "cti")
	waitApp(t, s, "other")
	subscribe(t, s, "cti", "endpoint:PJSIP", 200)
	p, err := s.PhoneCall("PJSIP/1000", "PJSIP/1002", PhoneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs := tp.expect("ChannelCreated", "ChannelConnectedLine", "ChannelCreated", "ChannelConnectedLine", "ChannelConnectedLine",
		"ChannelStateChange", "ChannelStateChange", "ChannelStateChange", "ChannelEnteredBridge", "ChannelEnteredBridge")
	chans := []string{p.A, p.A, p.B, p.A, p.B, p.B, p.B, p.A, p.A, p.B}
	for i, e := range evs {
		if e.str("channel", "id") != chans[i] {
			t.Errorf("event %d %s on %s, want %s", i, e.typ(), e.str("channel", "id"), chans[i])
		}
	}
	if !strings.HasPrefix(evs[0].str("channel", "name"), "PJSIP/1000-") || evs[0].str("channel", "state") != "Ring" {
		t.Errorf("A created %v", evs[0])
	}
	if ts3, ts4 := evs[2].str("timestamp"), evs[3].str("timestamp"); ts4 >= ts3 {
		t.Errorf("A's second ConnectedLine stamped %s, B's creation %s: want it stamped before, delivered after", ts4, ts3)
	}
	if evs[1].str("timestamp") != evs[3].str("timestamp") || evs[3].str("channel", "connected", "number") != "1002" {
		t.Errorf("A's ConnectedLines %v / %v: want the same ms, the second with number 1002", evs[1], evs[3])
	}
	if evs[6].str("timestamp") != evs[7].str("timestamp") || evs[7].str("channel", "state") != "Up" {
		t.Errorf("both legs Up in the same ms: %v %v", evs[6], evs[7])
	}
	if m := evs[9]["bridge"].(map[string]any)["channels"]; len(m.([]any)) != 2 {
		t.Errorf("bridge members %v", m)
	}

	if err := s.PhoneHold(p.A, true); err != nil {
		t.Fatal(err)
	}
	if e := tp.expect("ChannelHold")[0]; e.str("musicclass") != "default" || e.str("channel", "id") != p.A {
		t.Errorf("hold %v", e)
	}
	s.PhoneHold(p.A, false)
	tp.expect("ChannelUnhold")

	p2, err := s.PhoneTransfer(p, "PJSIP/1003")
	if err != nil {
		t.Fatal(err)
	}
	evs = tp.expect("ChannelCreated", "ChannelConnectedLine", "ChannelStateChange", "ChannelStateChange",
		"ChannelLeftBridge", "ChannelEnteredBridge", "ChannelDestroyed", "ChannelConnectedLine")
	if evs[4].str("channel", "id") != p.B || evs[6].str("channel", "id") != p.B || evs[6].str("cause") != "16" || evs[5].str("channel", "id") != p2.B {
		t.Errorf("transfer %v", evs)
	}
	if err := s.PhoneHangup(p2); err != nil {
		t.Fatal(err)
	}
	evs = tp.expect("ChannelLeftBridge", "ChannelDestroyed", "ChannelLeftBridge", "ChannelDestroyed")
	if evs[1].str("channel", "id") != p.A || evs[3].str("channel", "id") != p2.B || evs[3].str("cause_txt") != "Normal Clearing" || evs[0].str("timestamp") >= evs[1].str("timestamp") {
		t.Errorf("hang-up %v", evs)
	}
	tp.quiet(s)
	other.quiet(s)
	if err := s.PhoneHold(p.A, true); err == nil {
		t.Error("hold after the hang-up: no error")
	}
}

// TestBridgeREST: two Stasis channels bridged over REST, one removed, the
// bridge destroyed; an app subscribed to the bridge sees its events.
func TestBridgeREST(t *testing.T) {
	s := newServer(t, Options{})
	gw := dialTap(t, s, "gw")
	cti := dialTap(t, s, "cti")
	waitApp(t, s, "gw")
	waitApp(t, s, "cti")
	a, err := s.StartCall("gw", nil, CallOptions{ID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.StartCall("gw", nil, CallOptions{ID: "b1"})
	gw.expect("StasisStart", "StasisStart")
	var br bridgeJSON
	json.Unmarshal(mustCall(t, s, "POST", "/bridges", url.Values{"bridgeId": {"br1"}, "name": {"cti"}}, 200), &br)
	if br.ID != "br1" || br.BridgeType != "mixing" || br.Channels == nil {
		t.Fatalf("bridge %+v", br)
	}
	subscribe(t, s, "cti", "bridge:br1", 200)
	mustCall(t, s, "POST", "/bridges/br1/addChannel", url.Values{"channel": {a + "," + b}}, 204)
	mustCall(t, s, "POST", "/bridges/br1/addChannel", url.Values{"channel": {"nosuch"}}, 400)
	mustCall(t, s, "POST", "/bridges/nosuch/addChannel", url.Values{"channel": {a}}, 404)
	for _, tp := range []*tap{gw, cti} {
		evs := tp.expect("ChannelEnteredBridge", "ChannelEnteredBridge")
		if evs[1].str("channel", "id") != b || len(evs[1]["bridge"].(map[string]any)["channels"].([]any)) != 2 {
			t.Errorf("entered %v", evs[1])
		}
	}
	mustCall(t, s, "POST", "/bridges/br1/removeChannel", url.Values{"channel": {b}}, 204)
	mustCall(t, s, "POST", "/bridges/br1/removeChannel", url.Values{"channel": {b}}, 422)
	gw.expect("ChannelLeftBridge")
	cti.expect("ChannelLeftBridge")
	// A hang-up takes the channel out of its bridge first.
	if err := s.FarHangup(a, 16); err != nil {
		t.Fatal(err)
	}
	gw.expect("ChannelHangupRequest", "ChannelLeftBridge", "StasisEnd")
	cti.expect("ChannelLeftBridge")
	mustCall(t, s, "DELETE", "/bridges/br1", nil, 204)
	gw.expect("BridgeDestroyed")
	cti.expect("BridgeDestroyed")
	mustCall(t, s, "GET", "/bridges/br1", nil, 404)
	cti.quiet(s)
}
