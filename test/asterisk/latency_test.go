package asterisk

import (
	"net"
	"slices"
	"testing"
	"time"
)

// TestDTMFLatency measures, for the same digits on the same Asterisk, the
// time from ARI's ChannelDtmfReceived (published when Asterisk has the
// digit) to the script reading its line, natively and through the gateway,
// and logs the median and maximum of gateway minus native per digit. It
// asserts only that every digit arrived: timings are reported, not tested.
func TestDTMFLatency(t *testing.T) {
	l := need(t)
	t.Parallel()
	var st []step
	for _, d := range "0123456789" {
		st = append(st, dtmf(string(d)))
	}
	sc := &scenario{name: "latency", steps: steps(syncP(), st, "E,x", awaitStep('E'))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n := runSide(t, l, sc, native, ln)
	g := runSide(t, l, sc, gateway, ln)
	if n.Abort != "" || g.Abort != "" || len(n.DTMFLat) != 10 || len(g.DTMFLat) != 10 {
		t.Fatalf("runs did not complete: native %q (%d digits), gateway %q (%d digits)", n.Abort, len(n.DTMFLat), g.Abort, len(g.DTMFLat))
	}
	diff := make([]time.Duration, 10)
	for i := range diff {
		diff[i] = g.DTMFLat[i] - n.DTMFLat[i]
	}
	slices.Sort(diff)
	t.Logf("DTMF→script, ChannelDtmfReceived to line read: native %v, gateway %v", n.DTMFLat, g.DTMFLat)
	t.Logf("gateway − native: median %v, max %v", (diff[4]+diff[5])/2, diff[9])
}
