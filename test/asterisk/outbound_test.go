package asterisk

import (
	"net"
	"testing"
)

// TestOutboundRestart: a gateway restart between calls loses nothing. A
// call through the listener-mode gateway on each connection type
// (Asterisk's per-call WebSocket, app lanegwout; its persistent one, app
// lanegwpers), then the gateway binary is stopped (SIGTERM) and started
// again on the same port, and it waits until Asterisk's persistent
// connection is back (redialled every second), then the next calls: the
// per-call connection reaches the new instance, the persistent one is the
// reconnected socket, and every call reads what native ExternalIVR()
// reads and goes on in the dialplan as native does.
func TestOutboundRestart(t *testing.T) {
	l := needOut(t)
	sc := &scenario{name: "restart", tcp: true, steps: steps("S,beep", waitFor("F"), "G,PRESET", waitFor("G"), "E,x", waitFor("E"))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n := runSide(t, l, sc, native, ln)
	if n.Abort != "" || !n.Continued {
		t.Fatalf("native run: abort %q, continued %v\n%s", n.Abort, n.Continued, n.Transcript)
	}
	check := func(when string, g result) {
		t.Helper()
		if d := compare(n, g); len(d) > 0 {
			t.Fatalf("%s: native vs outbound differ: %q\nnative:\n%s\noutbound:\n%s\ngateway log of the call:\n%s",
				when, d, indent(n.Transcript), indent(g.Transcript), l.gwLogFor(g.channelID))
		}
	}
	for _, s := range []side{outbound, persistent} {
		check(s.String()+" before the restart", runSide(t, l, sc, s, ln))
	}
	if err := l.restartOutbound(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []side{outbound, persistent} {
		check(s.String()+" after the restart", runSide(t, l, sc, s, ln))
	}
}
