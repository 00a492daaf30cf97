package aritest

import (
	"strings"
	"time"
)

// faults holds the fault-injection knobs (under Server.mu).
type faults struct {
	reorder   time.Duration
	delay     time.Duration
	duplicate float64
	latency   time.Duration
	restFail  []restFault
	lose      int // StasisStart events still to lose (LoseStasisStarts)
}

type restFault struct {
	method, prefix string
	status, n      int // n < 0: forever
}

type faultView struct {
	reorder, delay time.Duration
}

func (s *Server) faultSnapshot() faultView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return faultView{reorder: s.faults.reorder, delay: s.faults.delay}
}

func (s *Server) shuffle(n int, swap func(i, j int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rng.Shuffle(n, swap)
}

func (s *Server) duplicateNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.duplicate > 0 && s.rng.Float64() < s.faults.duplicate
}

// ReorderWindow makes every socket collect the events that arrive within d
// of the first one and send them in a random order (0 = off).
func (s *Server) ReorderWindow(d time.Duration) {
	s.mu.Lock()
	s.faults.reorder = d
	s.mu.Unlock()
}

// Duplicate sends each event twice with probability p (0 = off, 1 = every event).
func (s *Server) Duplicate(p float64) {
	s.mu.Lock()
	s.faults.duplicate = p
	s.mu.Unlock()
}

// Delay holds every event for d before writing it (order is kept; 0 = off).
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	s.faults.delay = d
	s.mu.Unlock()
}

// RESTLatency delays every REST response by d (0 = off).
func (s *Server) RESTLatency(d time.Duration) {
	s.mu.Lock()
	s.faults.latency = d
	s.mu.Unlock()
}

// FailREST makes the next n REST requests whose method equals method ("" =
// any) and whose path (below /ari, e.g. "/channels/X/play") starts with
// pathPrefix fail with status and body {"message":"aritest: injected
// failure"}, without any effect. n < 0 fails them forever; FailREST with n
// = 0 removes the rule for that method and prefix.
func (s *Server) FailREST(method, pathPrefix string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.faults.restFail[:0]
	for _, f := range s.faults.restFail {
		if f.method != method || f.prefix != pathPrefix {
			kept = append(kept, f)
		}
	}
	s.faults.restFail = kept
	if n != 0 {
		s.faults.restFail = append(s.faults.restFail, restFault{method: method, prefix: pathPrefix, status: status, n: n})
	}
}

// restFaultLocked returns the injected status for a request, or 0.
func (s *Server) restFaultLocked(method, path string) int {
	for i := range s.faults.restFail {
		f := &s.faults.restFail[i]
		if (f.method == "" || f.method == method) && strings.HasPrefix(path, f.prefix) && f.n != 0 {
			if f.n > 0 {
				f.n--
			}
			return f.status
		}
	}
	return 0
}

// LoseStasisStarts makes the next n channels that enter Stasis do so
// without their StasisStart reaching any socket, as when the frame was
// queued on a socket that then died: the channel is in the app
// (GET /applications/{app} lists it, dialplan.app_data holds the args) but
// its client never heard of it.
func (s *Server) LoseStasisStarts(n int) {
	s.mu.Lock()
	s.faults.lose = n
	s.mu.Unlock()
}

// DropWebSockets closes every events socket at once (no close frame), as
// a network failure would. Channels stay in their apps; events published
// until a client reconnects are lost.
func (s *Server) DropWebSockets() {
	s.mu.Lock()
	cs := make([]*wsClient, 0, len(s.clients))
	for c := range s.clients {
		cs = append(cs, c)
	}
	for _, a := range s.apps {
		a.client, a.subscribeAll = nil, false
		s.ctiForgetLocked(a.name)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.kill()
	}
}

// Restart simulates an Asterisk restart: every socket is dropped, every
// channel and playback vanishes without an event (WaitEnd reports
// End{HungUp: true, Restarted: true}), apps are forgotten until clients
// reconnect, and the startup time changes.
func (s *Server) Restart() {
	s.mu.Lock()
	for _, c := range s.chans {
		s.recordEndLocked(c, End{HungUp: true, Restarted: true})
		s.destroyLocked(c)
	}
	s.playbacks = map[string]*playback{}
	s.apps = map[string]*app{}
	s.started = time.Now()
	s.mu.Unlock()
	s.DropWebSockets()
}

// SendMalformed writes a frame that is not valid JSON to every socket.
func (s *Server) SendMalformed() {
	s.SendRaw([]byte(`{"type":"StasisStart","timestamp":"2026-11-23T18:02:35.545+0000","args":[`))
}

// SendRaw writes one arbitrary text frame to every connected socket, in
// order with the events (unknown event types, oversized frames, ...).
func (s *Server) SendRaw(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		c.enqueueLocked(append([]byte(nil), frame...))
	}
}

// Clients returns the number of connected event sockets.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// AppConnected reports whether app currently has an events socket.
func (s *Server) AppConnected(app string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appActiveLocked(app)
}
